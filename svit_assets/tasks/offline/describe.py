"""The detail description: one paragraph, scene first, then the main subjects, their relations, the rest.

Sentences are added in that order until the paragraph would pass the word budget; every entity and relation
is said at most once, and region phrases are only added when they say something not already said.
"""

from __future__ import annotations

import random
import re

from . import lexicon as lx
from .english import article, be, join_and, pluralize, sentence, singularize
from .phrasing import Writer, color_phrase
from .questions import best_caption, caption_parts, caption_sentence
from .scene import Entity, Relation, Scene

MAX_WORDS = 200
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "of",
        "on",
        "in",
        "at",
        "with",
        "and",
        "to",
        "near",
        "by",
        "next",
        "its",
        "it",
        "this",
        "that",
        "there",
        "some",
        "his",
        "her",
        "their",
    ]
)
_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "of",
        "on",
        "in",
        "at",
        "with",
        "and",
        "to",
        "near",
        "by",
        "next",
        "its",
        "it",
        "this",
        "that",
        "there",
        "some",
        "his",
        "her",
        "their",
        "behind",
        "under",
        "above",
        "over",
        "beside",
        "front",
        "top",
        "side",
        "left",
        "right",
        "middle",
        "background",
        "foreground",
        "back",
        "into",
        "onto",
        "from",
        "for",
        "up",
        "down",
        "along",
        "across",
        "against",
        "around",
        "inside",
        "outside",
        "has",
        "have",
        "other",
    ]
)
_NUMBERS = re.compile(r"\b(two|three|four|five|six|seven|eight|nine|ten|several|many|few|one)\b")


class Paragraph:
    def __init__(self) -> None:
        self.sentences: list[str] = []

    @property
    def words(self) -> int:
        return sum(len(s.split()) for s in self.sentences)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    def add(self, text: str) -> bool:
        text = sentence(text)
        if not text or self.words + len(text.split()) > MAX_WORDS:
            return False
        self.sentences.append(text)
        return True

    def covers(self, phrase: str) -> bool:
        """Whether most content words of a phrase were already said."""
        said = set(re.findall(r"[a-z]+", self.text.lower()))
        content = [w for w in re.findall(r"[a-z]+", phrase.lower()) if w not in _STOP]
        return not content or sum(w in said for w in content) >= 0.5 * len(content)


def _fix_articles(text: str) -> str:
    return re.sub(r"\b(a|an) ([a-z]+)", lambda m: f"{article(m.group(2))} {m.group(2)}", text)


def _region_sentence(phrase: str, known: set[str], rng: random.Random) -> str | None:
    """A region phrase as a sentence, only when it is plainly grammatical and uses known words only.

    Crowd phrases carry typos ("next to were the men are"); a phrase whose every word is a function word
    or a word annotated on this image is far less likely to be one.
    """
    words = phrase.split()
    if not re.fullmatch(r"[a-z ]+", phrase) or not 4 <= len(words) <= 12 or _NUMBERS.search(phrase):
        return None
    if not phrase.startswith(("a ", "an ", "the ")) or not set(words) <= known | _FUNCTION_WORDS:
        return None
    phrase = _fix_articles(phrase)
    parts = caption_parts(phrase)
    if parts is None:
        return None
    if parts[1] in {"clause", "verb"}:
        return phrase
    return rng.choice(["You can also see {p}", "The picture also shows {p}"]).format(p=phrase)


class Describer:
    def __init__(self, scene: Scene, rng: random.Random) -> None:
        self.s = scene
        self.rng = rng
        self.w = Writer(scene)
        self.p = Paragraph()
        self.said_entities: set[int] = set()
        self.said_relations: set[tuple[int, str, int]] = set()
        self.described: set[int] = set()  # entities whose look was said
        self.leads: set[str] = set()

    @staticmethod
    def key(rel: Relation) -> tuple[int, str, int]:
        return (rel.subject.index, rel.predicate.text, rel.object.index)

    def noun_phrase(self, e: Entity) -> str:
        """'a man in a blue shirt', 'another car', 'a tall brick building'."""
        earlier = any(i in self.said_entities for i in (x.index for x in self.s.same_noun(e) if x is not e))
        if earlier and not e.plural and not e.mass and not self.w.adjectives(e, 1):
            np = f"another {e.noun}"
        else:
            np = self.w.a(e, 2)
        worn = [r for r in self.w.worn(e) if self.key(r) not in self.said_relations][:2]
        if worn:
            np += " in " + join_and([self.w.a(r.object, 1) for r in worn])
        for rel in worn:
            self.said_relations.add(self.key(rel))
            self.said_entities.add(rel.object.index)
        return np

    def verb_phrases(self, e: Entity, limit: int) -> list[str]:
        rels = [r for r in self.w.actions(e) if self.key(r) not in self.said_relations][:limit]
        vps = [self.w.vp(r) for r in rels]
        for r in rels:
            self.said_relations.add(self.key(r))
            self.said_entities.add(r.object.index)
        state = self.w.state_vp(e, rels) if e.animate or not vps else None
        return ([state] if state else []) + vps

    def opener(self) -> None:
        parts = best_caption(self.s)
        if parts:
            self.p.add(caption_sentence(parts, self.rng))
        elif self.s.setting:
            self.p.add(f"This is an {'indoor' if self.s.setting[0] == 'indoors' else 'outdoor'} scene")
        if self.s.place and self.s.place[0] not in self.p.text.lower():
            self.p.add(
                self.rng.choice(["The setting looks like {p}", "It appears to be {p}"]).format(
                    p=f"{article(self.s.place[0])} {self.s.place[0]}"
                )
            )
        if self.s.sky:
            sky, kind = self.s.sky
            looks = color_phrase(sky.colors) or kind
            extra = {"clear": "a fine day", "cloudy": "an overcast day", "dark": "a gloomy moment"}[kind]
            if looks != kind and kind != "dark":
                self.p.add(f"Overhead, the sky is {looks}, suggesting {extra}")
            else:
                self.p.add(f"The sky is {looks}")
            self.said_entities.add(sky.index)
            self.described.add(sky.index)

    def subjects(self, limit: int = 4) -> None:
        main = [e for e in self.s.ranked() if not (e.stuff or e.part) and e.index not in self.said_entities]
        for e in main[:limit]:
            if e.index in self.said_entities and not e.animate:
                continue
            np = self.noun_phrase(e)
            vps = self.verb_phrases(e, 2)
            self.said_entities.add(e.index)
            zone = self.s.horizontal_zone(e)
            where = {
                "left": "on the left side of the picture",
                "right": "on the right side of the picture",
                "middle": "in the middle of the picture",
            }.get(zone or "")
            if vps:
                lead = where.split(" of the picture")[0] if where and self.rng.random() < 0.5 else ""
                if lead in self.leads:
                    lead = ""
                self.leads.add(lead)
                lead = f"{lead}, " if lead else ""
                self.p.add(f"{lead}{np} {self.w.join_vps(vps)}")
            else:
                also = " also" if self.p.sentences else ""
                self.p.add(f"{np} {be(e.plural)} {where}" if where else f"There {be(e.plural)}{also} {np}")

    def remaining_relations(self) -> None:
        """Relations not yet said; subjects sharing a predicate and object are said together."""
        groups: dict[tuple[str, int], list[Relation]] = {}
        pairs = set()
        for rel in self.s.relations:
            if self.key(rel) in self.said_relations or rel.object.part or rel.predicate.kind == "have":
                continue
            if (rel.object.index, rel.subject.index) in pairs:
                continue  # "the computer is on the floor" already says "the floor is under the computer"
            pairs.add((rel.subject.index, rel.object.index))
            if (
                rel.predicate.kind == "be"
                and rel.subject.index in self.said_entities
                and not self.w.the(rel.subject)
            ):
                continue
            group = groups.setdefault((rel.predicate.text, rel.object.index), [])
            if len(group) < 3:  # a list of seven things "on a counter" is an inventory, not a description
                group.append(rel)
        clauses = []
        for group in groups.values():
            nps = []
            for rel in group:
                subject = rel.subject
                np = self.w.the(subject) if subject.index in self.said_entities else self.noun_phrase(subject)
                if self.key(rel) in self.said_relations:  # a worn item already folded into "a man in a …"
                    clauses.append(f"there {be(subject.plural)} {np}")
                    continue
                self.said_relations.add(self.key(rel))
                if np and np not in nps:
                    nps.append(np)
                    self.said_entities.update({subject.index, rel.object.index})
            if nps:
                plural = len(nps) > 1 or group[0].subject.plural
                clauses.append(f"{join_and(nps)} {self.w.vp(group[0], plural=plural)}")
        while clauses:
            first = clauses.pop(0)
            if clauses and len(first.split()) + len(clauses[0].split()) <= 16:
                first = f"{first}, and {clauses.pop(0)}"
            self.p.add(first)

    def surfaces(self) -> None:
        """'The sand is tan and wet, and the ocean is blue.' — the look of the ground, sky and walls."""
        clauses = []
        for e in self.s.ranked():
            the = self.w.the(e)
            looks = [*e.colors[:2], *e.material_adjs[:1], *e.states[:1]]
            if e.stuff and the and looks and e.index not in self.described:
                self.described.add(e.index)
                clauses.append(f"{the} {be(e.plural)} {join_and(looks)}")
        if clauses:
            self.p.add(join_and(clauses[:3]))

    def leftovers(self) -> None:
        """Things with nothing to say but their look: 'The scene also includes a tall brick building …'."""
        rest = [
            e
            for e in self.s.ranked()
            if e.index not in self.said_entities
            and e.index not in self.described
            and not e.part
            and not e.stuff
        ]
        chunk = rest[:3]
        if chunk and self.p.add(f"The scene also includes {join_and([self.w.a(e, 2) for e in chunk])}"):
            self.said_entities.update(e.index for e in chunk)

    @property
    def known(self) -> set[str]:
        """Words annotated on this image outside the region phrases, in both numbers, plus the lexicon's."""
        image = self.s.image
        texts = [self.s.caption_text, *(r.predicate for r in image.relationships)]
        for obj in image.objects:
            texts += [obj.name, *obj.names, *obj.attributes]
        words = {w for t in texts for w in re.findall(r"[a-z]+", t.lower())}
        words |= {pluralize(w) for w in words} | {singularize(w) for w in words}
        return words | lx.COLORS | set(lx.MATERIALS) | set(lx.STATES) | lx.SIZES | set(lx.PARTICIPLES)

    def regions(self, limit: int) -> None:
        added = 0
        for phrase in self.s.phrases:
            if added >= limit:
                break
            text = _region_sentence(phrase, self.known, self.rng)
            if text and not self.p.covers(phrase) and self.p.add(text):
                added += 1

    def run(self) -> str:
        self.opener()
        if not self.s.entities:
            return self.p.text
        self.subjects()
        self.remaining_relations()
        self.surfaces()
        self.leftovers()
        self.regions(3)
        return self.p.text


def describe(scene: Scene, rng: random.Random) -> str:
    return Describer(scene, rng).run()
