"""The detail description: one paragraph that reads like a person describing the picture, not an inventory.

The order is the gist (a caption, the place, the sky), the main subject in two sentences (the second through
a pronoun), the other people and animals, then everything else grouped by what holds it ("On the counter
sit a blue bowl and a black stove"), the look of the surfaces and whatever is left. Every sentence restates
annotated facts; the variety is only in the frames (there-is, inversion, participial phrases, the simple
present), picked with the task's seeded RNG so that no two sentences in a row open with the same words.
Every entity and relation is said at most once; region phrases are added only when they say something new.
"""

from __future__ import annotations

import random
import re
from functools import cached_property

from . import lexicon as lx
from .english import PREPOSITIONS, article, be, join_and, pluralize, sentence, singularize
from .phrasing import FINITE, Writer, color_phrase, join_phrases
from .questions import best_caption, caption_parts, caption_sentence
from .scene import Entity, Relation, Scene

MAX_WORDS = 200
MIN_WORDS = 80  # below this, more leftovers and region phrases are added (when the image has them)
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
_FUNCTION_WORDS = _STOP | frozenset(
    [
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
    if parts[1] == "clause":
        return phrase
    return rng.choice(["You can also see {p}", "The picture also shows {p}"]).format(p=phrase)


# Supports that things "sit" on and that "hold" what is on them ("The desk holds a lamp and a mug").
_FURNITURE = lx.SUPPORT_KINDS[1] | lx.SUPPORT_KINDS[2]
# Things fixed to something bigger: "a wheel is on the bus" is not worth a sentence of a description.
_ATTACHED = lx.PARTS | {"headlight", "taillight", "tail light", "windshield", "license plate", "bumper"}
_PRONOUNS = frozenset({"he", "she", "it", "they"})
_ZONES = {"left": "on the left", "right": "on the right", "middle": "in the middle"}
_GROUP_LIMIT = 4


def opening(text: str) -> tuple[str, ...]:
    """The first two words of a sentence, lower-cased: two sentences in a row should not share them."""
    return tuple(re.findall(r"[a-z]+", text.lower())[:2])


class Paragraph:
    def __init__(self) -> None:
        self.sentences: list[str] = []

    @property
    def words(self) -> int:
        return sum(len(s.split()) for s in self.sentences)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    def fits(self, text: str) -> bool:
        return self.words + len(text.split()) <= MAX_WORDS

    def choose(self, options: list[str]) -> str | None:
        """The first option that fits the word budget and does not open like the sentence before it."""
        options = [sentence(o) for o in options if o]
        fitting = [o for o in options if self.fits(o)]
        if not fitting:
            return None
        last = opening(self.sentences[-1]) if self.sentences else ()
        chosen = next((o for o in fitting if opening(o) != last), None)
        if chosen is None:  # every frame opens alike: lead in with a connective instead
            lead = "In addition" if last != ("in", "addition") else "Also"
            chosen = sentence(f"{lead}, {_lower_first(fitting[0])}")
            if not self.fits(chosen):
                return None
        return chosen

    def covers(self, phrase: str) -> bool:
        """Whether most content words of a phrase were already said."""
        said = set(re.findall(r"[a-z]+", self.text.lower()))
        content = [w for w in re.findall(r"[a-z]+", phrase.lower()) if w not in _STOP]
        return not content or sum(w in said for w in content) >= 0.5 * len(content)


def _lower_first(text: str) -> str:
    """'A man …' → 'a man …' for use mid-sentence (not for 'I' or an acronym)."""
    first = text.split(" ", 1)[0]
    if len(first) > 1 and first.isupper() or first == "I":
        return text
    return text[:1].lower() + text[1:]


# How often each sentence frame is preferred: plain statements most, inversions and there-is for variety.
_FRAME_WEIGHT = {"plain": 3.0, "present": 2.0, "lead": 1.5, "there": 1.0, "inverted": 1.0, "holds": 1.0}


Option = tuple[str, str]  # (frame, text)


class Describer:
    def __init__(self, scene: Scene, rng: random.Random) -> None:
        self.s = scene
        self.rng = rng
        self.w = Writer(scene)
        self.p = Paragraph()
        self.said_entities: set[int] = set()
        self.said_relations: set[tuple[int, str, int]] = set()
        self.described: set[int] = set()  # entities whose look was said
        self.main: Entity | None = None
        self.last: frozenset[int] = frozenset()  # entities the previous sentence was about
        self.last_frame = ""

    @staticmethod
    def key(rel: Relation) -> tuple[int, str, int]:
        return (rel.subject.index, rel.predicate.text, rel.object.index)

    # --- saying -------------------------------------------------------------------------------------------

    def ordered(self, options: list[Option]) -> list[Option]:
        """Options in a weighted random order, a frame different from the previous sentence's first."""
        keyed = []
        for frame, text in options:
            if text:
                weight = _FRAME_WEIGHT.get(frame, 1.0)
                keyed.append((frame == self.last_frame, -(self.rng.random() ** (1 / weight)), frame, text))
        keyed.sort()
        return [(frame, text) for _, _, frame, text in keyed]

    def pick(self, options: list[Option]) -> Option | None:
        ordered = self.ordered(options)
        chosen = self.p.choose([text for _, text in ordered])
        if chosen is None:
            return None
        frame = next((f for f, t in ordered if sentence(t) == chosen), "other")
        return frame, chosen

    def say(self, options: str | list[Option], topics=()) -> bool:
        if isinstance(options, str):
            options = [("plain", options)]
        picked = self.pick(options)
        if picked is None:
            return False
        self.p.sentences.append(picked[1])
        self.last_frame = picked[0]
        self.last = frozenset(topics)
        return True

    def snapshot(self) -> tuple[set, set]:
        return set(self.said_entities), set(self.said_relations)

    def restore(self, snapshot: tuple[set, set]) -> None:
        self.said_entities, self.said_relations = snapshot

    # --- mentions ---------------------------------------------------------------------------------------

    def pronoun(self, e: Entity) -> str | None:
        return e.pronoun if e.pronoun in _PRONOUNS else self.w.the(e)

    def ref(self, e: Entity, *, as_object: bool = False) -> str | None:
        """A later mention: a pronoun for the main subject just talked about, else a definite name."""
        if e is self.main and e.index in self.last and e.pronoun in _PRONOUNS:
            rivals = [i for i in self.last if i != e.index and self.s.entities[i].pronoun == e.pronoun]
            if not rivals:  # "it" after a sentence about the sofa and the cat could be either
                return e.object_pronoun if as_object else e.pronoun
        the = self.w.the(e)
        if the:
            return the
        if not (e.plural or e.mass):
            return f"one of the {pluralize(e.noun)}"
        return None

    def intro(self, e: Entity, *, worn_limit: int = 2, hair: bool = True) -> str:
        """The first mention: 'a young woman in a red apron', 'another cabinet', 'an orange cat with a tail'."""
        adjectives = self.w.adjectives(e, 2)
        earlier = [x for x in self.s.same_noun(e) if x is not e and x.index in self.said_entities]
        if earlier and not (e.plural or e.mass):
            # "another white pillow" only when the pillow said before is white as well
            shared = adjectives and all(set(adjectives) <= set(self.w.adjectives(x, 2)) for x in earlier)
            if shared or not adjectives:
                np = " ".join(["another", *(adjectives if shared else []), e.noun])
            else:
                np = self.w.a(e, 2)
        else:
            np = self.w.a(e, 2)
        worn = [r for r in self.w.worn(e) if self.key(r) not in self.said_relations][:worn_limit]
        if worn:
            np += " " + self.w.worn_phrase(worn)
        elif hair and e.animate:
            have = next((r for r in self.haves(e) if r.object.part), None)
            if have is not None:
                np += f" with {self.w.a(have.object, 2)}"
                worn = [have]
        for rel in worn:
            self.said_relations.add(self.key(rel))
            self.said_entities.add(rel.object.index)
        self.said_entities.add(e.index)
        return np

    def subject(self, e: Entity) -> str | None:
        """How to start a sentence about e: its first mention, or a later one when already introduced."""
        return self.ref(e) if e.index in self.said_entities else self.intro(e)

    def obj(self, rel: Relation) -> str:
        """The object of a relation: 'another tomato', a later mention, or a first one."""
        o = rel.object
        if o.noun != rel.subject.noun and o.index in self.said_entities:
            text = self.ref(o, as_object=True) or self.w.object_np(rel)
        else:
            text = self.w.object_np(rel)
        self.said_entities.add(o.index)
        return text

    # --- relations --------------------------------------------------------------------------------------

    def describable(self, rel: Relation) -> bool:
        subject, o = rel.subject, rel.object
        return not (
            self.key(rel) in self.said_relations
            or rel.predicate.text == "part of"
            or subject.noun in _ATTACHED
            and not subject.animate
            or o.part
            and not (rel.predicate.kind == "have" and subject.animate)
            or rel.predicate.kind == "have"
            and not subject.animate
        )

    def fresh_relations(self, e: Entity) -> list[Relation]:
        return [r for r in self.w.actions(e) if self.describable(r)]

    def haves(self, e: Entity) -> list[Relation]:
        """'has long brown hair', 'has small horns' — but not 'has a head': a bare body part says nothing."""
        return [
            r
            for r in self.fresh_relations(e)
            if r.predicate.kind == "have" and (not r.object.part or self.w.adjectives(r.object, 1))
        ]

    def take(self, e: Entity, limit: int) -> list[Relation]:
        """Up to ``limit`` unsaid actions and locations of e, now marked said ('has' is left for later)."""
        rels = [r for r in self.fresh_relations(e) if r.predicate.kind != "have"][:limit]
        for r in rels:
            self.said_relations.add(self.key(r))
        return rels

    def objects(self, rels: list[Relation]) -> list[str]:
        return [self.obj(r) for r in rels]

    # --- the gist -------------------------------------------------------------------------------------------

    def opener(self) -> None:
        parts = best_caption(self.s)
        if parts:
            self.say(caption_sentence(parts, self.rng))
        place = self.s.place[0] if self.s.place else None
        if place and place in self.p.text.lower():
            place = None
        setting = self.s.setting[0] if self.s.setting else None
        kind = "indoor" if setting == "indoors" else "outdoor"
        a_place = f"{article(place)} {place}" if place else ""
        if place and setting and not parts:
            self.say(
                [
                    ("plain", f"This {kind} scene appears to be {a_place}"),
                    ("there", f"The picture shows {a_place}"),
                ]
            )
        elif place:
            self.say(
                [("plain", f"The setting looks like {a_place}"), ("there", f"It appears to be {a_place}")]
            )
        elif setting and not parts:
            self.say([("plain", f"This is an {kind} scene"), ("there", f"The picture was taken {setting}")])
        if self.s.sky:
            sky, weather = self.s.sky
            looks = color_phrase(sky.colors) or weather
            extra = {"clear": "a fine day", "cloudy": "an overcast day", "dark": "a gloomy moment"}[weather]
            if looks != weather and weather != "dark":
                self.say(
                    [
                        ("lead", f"Overhead, the sky is {looks}, suggesting {extra}"),
                        ("plain", f"The sky is {looks}, suggesting {extra}"),
                    ]
                )
            else:
                self.say(f"The sky is {looks}")
            self.said_entities.add(sky.index)
            self.described.add(sky.index)

    # --- people, animals and the main subject ----------------------------------------------------------------

    def lead(self, e: Entity) -> str:
        return _ZONES.get(self.s.horizontal_zone(e) or "", "")

    def main_subject(self) -> None:
        """The most salient thing, in two sentences: what it is and does, then more about it by pronoun."""
        ranked = [e for e in self.s.ranked() if not (e.stuff or e.part) and e.index not in self.said_entities]
        if not ranked:
            return
        e = next((x for x in ranked[:4] if x.animate), ranked[0])  # a person or an animal is the subject
        if not e.animate and not any(r.predicate.kind != "have" for r in self.fresh_relations(e)):
            return  # "There is a large bed." says little; the things on it will introduce it
        self.main = e
        snapshot = self.snapshot()
        np = self.intro(e)
        everything = self.fresh_relations(e)

        rels = self.take(e, 2)
        # "standing" is left to "standing on the platform" when that is said, now or in the next sentence
        state = self.w.state_vp(e, everything) if e.animate or not rels else None
        form = "progressive" if state or e.plural else self.rng.choice(["progressive", "present"])
        vps = ([state] if state else []) + [
            self.w.vp(r, o, form=form) for r, o in zip(rels, self.objects(rels), strict=True)
        ]
        topics = {e.index, *(r.object.index for r in rels)}
        lead = self.lead(e)
        if vps:
            vp = self.w.join_vps(vps)
            options = [("plain", f"{np} {vp}")] + ([("lead", f"{lead}, {np} {vp}")] if lead else [])
        elif lead:
            where = (
                "in the middle of the picture" if lead == "in the middle" else f"{lead} side of the picture"
            )
            options = [("plain", f"{np} {be(e.plural)} {where}")]
        else:  # "There is a man." says nothing: leave him to the sentences that have something to say
            self.main = None
            self.restore(snapshot)
            return
        self.say(options, topics)
        self.more_about(e)

    def more_about(self, e: Entity) -> None:
        """'She has long brown hair and is also wearing a white shirt.' — the rest about the main subject."""
        who = self.pronoun(e)
        if who is None:
            return
        form = "progressive" if e.plural else self.rng.choice(["progressive", "present"])
        parts: list[str] = []
        worn = [r for r in self.w.worn(e) if self.key(r) not in self.said_relations][:3]
        if worn:
            items = join_and([self.w.a(r.object, 1) for r in worn])
            parts.append(
                f"also wears {items}" if form == "present" else f"{be(e.plural)} also wearing {items}"
            )
        haves = self.haves(e)[:2]
        if haves:  # "has long brown hair": the look of a part is the point of saying it
            self.said_entities |= {r.object.index for r in haves}
            parts.append(self.w.vp(haves[0], join_and([self.w.a(r.object, 2) for r in haves])))

        rels = self.take(e, 2)
        parts += [self.w.vp(r, o, form=form) for r, o in zip(rels, self.objects(rels), strict=True)]
        for r in worn + haves:
            self.said_relations.add(self.key(r))
            self.said_entities.add(r.object.index)
        if parts:
            self.say(f"{who} {self.w.join_vps(parts)}", {e.index, *(r.object.index for r in rels)})

    def other_subjects(self, limit: int = 3) -> None:
        """The other people and animals, each in one sentence whose frame varies."""
        others = [
            e
            for e in self.s.ranked()
            if e.animate and not e.part and e.index not in self.said_entities and e is not self.main
        ]
        for e in others[:limit]:
            snapshot = self.snapshot()
            np = self.intro(e)
            everything = self.fresh_relations(e)
            rels = self.take(e, 2)
            state = self.w.state_vp(e, everything)
            topics = {e.index, *(r.object.index for r in rels)}
            lead = self.lead(e)
            objects = self.objects(rels)
            if not rels and not state:
                where = {
                    "on the left": "on the left side of the picture",
                    "on the right": "on the right side of the picture",
                    "in the middle": "in the middle of the picture",
                }.get(lead)
                options = [("there", f"There {be(e.plural)} also {np}")]
                if where:
                    options.append(("plain", f"{np} {be(e.plural)} {where}"))
            else:
                progressive = [self.w.vp(r, o) for r, o in zip(rels, objects, strict=True)]
                vp = self.w.join_vps(([state] if state else []) + progressive)
                options = [("plain", f"{np} {vp}")]
                if lead:
                    options.append(("lead", f"{lead}, {np} {vp}"))
                if rels and not state and not e.plural:
                    present = [self.w.vp(r, o, form="present") for r, o in zip(rels, objects, strict=True)]
                    options.append(("present", f"{np} {join_phrases(present)}"))
                if rels:
                    participles = [
                        self.w.vp(r, o, form="participle") for r, o in zip(rels, objects, strict=True)
                    ]
                    options.append(("there", f"There {be(e.plural)} also {np} {join_phrases(participles)}"))
            if not self.say(options, topics):
                self.restore(snapshot)

    # --- everything else, grouped by what holds it ------------------------------------------------------

    def units(self) -> list[list[Relation]]:
        """Remaining relations: those sharing a predicate and object are one unit, the rest one each."""
        groups: dict[tuple, list[Relation]] = {}
        pairs: set[tuple[int, int]] = set()
        for rel in self.s.relations:
            if not self.describable(rel) or rel.predicate.kind == "have":
                continue
            if (rel.object.index, rel.subject.index) in pairs or (
                rel.subject.index,
                rel.object.index,
            ) in pairs:
                continue  # "the computer is on the floor" already says "the floor is under the computer"
            if rel.subject.index in self.said_entities and self.ref(rel.subject) is None:
                continue
            pairs.add((rel.subject.index, rel.object.index))
            groupable = rel.predicate.kind == "be" and rel.object.noun != rel.subject.noun
            key = (rel.predicate.text, rel.object.index) if groupable else ("single", self.key(rel))
            groups.setdefault(key, []).append(rel)
        units = list(groups.values())
        units.sort(key=lambda u: -min(len(u), 2))  # groups first: they carry the most
        return units

    @staticmethod
    def _entities(unit: list[Relation]) -> frozenset[int]:
        return frozenset(i for r in unit for i in (r.subject.index, r.object.index))

    def layout(self) -> None:
        pending = self.units()
        while pending:
            # the next unit shares no entity with the sentence before, when there is such a unit
            unit = next((u for u in pending if len(u) > 1 or not self._entities(u) & self.last), pending[0])
            pending.remove(unit)
            unit = [r for r in unit if self.key(r) not in self.said_relations]
            if not unit:
                continue
            if len(unit) > 1:
                self.group_sentence(unit)
                continue
            snapshot = self.snapshot()
            first = self.single_options(unit[0])
            picked = self.pick(first) if first else None
            if picked is None:
                self.restore(snapshot)
                continue
            partner = self._partner(pending, unit[0], picked)
            if partner is not None:
                before_partner = self.snapshot()
                frames = {"plain", "present"} if picked[0] == "there" else {"plain", "present", "there"}
                second = [(f, t) for f, t in self.single_options(partner[0]) or [] if f in frames]
                second = [(f, t) for f, t in self.ordered(second) if len(t.split()) <= 10]
                merged = f"{picked[1].rstrip('.')}, and {_lower_first(second[0][1])}" if second else ""
                if merged and self.p.fits(sentence(merged)):
                    pending.remove(partner)
                    self.p.sentences.append(sentence(merged))
                    self.last_frame = "merged"
                    self.last = self._entities(unit) | self._entities(partner)
                    continue
                self.restore(before_partner)
            self.p.sentences.append(picked[1])
            self.last_frame = picked[0]
            self.last = self._entities(unit)

    def _partner(self, pending: list[list[Relation]], rel: Relation, picked: Option) -> list[Relation] | None:
        """A short single relation to join to this one with ', and', now and then."""
        if picked[0] not in {"plain", "present", "there"} or len(picked[1].split()) > 9:
            return None
        if self.rng.random() < 0.5:
            return None
        mine = self._entities([rel])
        return next((u for u in pending if len(u) == 1 and not self._entities(u) & mine), None)

    def group_nps(self, entities: list[Entity]) -> list[str]:
        """Mentions for a list; new look-alikes said once in the plural ('white pillows'), never counted."""
        alike: dict[tuple, list[Entity]] = {}
        for e in entities:
            if e.index not in self.said_entities and not (e.plural or e.mass) and not self.w.worn(e):
                alike.setdefault((e.noun, tuple(self.w.adjectives(e, 2))), []).append(e)
        nps: list[str] = []
        done: set[int] = set()
        for e in entities:
            if e.index in done:
                continue
            twins = next((g for g in alike.values() if e in g and len(g) > 1), None)
            if twins:
                nps.append(pluralize(" ".join([*self.w.adjectives(e, 2), e.noun])))
                done |= {t.index for t in twins}
                self.said_entities |= done
                continue
            np = self.subject(e)
            done.add(e.index)
            if np and np not in nps:
                nps.append(np)
        return nps

    def group_sentence(self, unit: list[Relation]) -> None:
        """'On the desk sit a notebook, a black keyboard and a silver laptop.' (one predicate, one object)."""
        shown, rest = unit[:_GROUP_LIMIT], unit[_GROUP_LIMIT:]
        snapshot = self.snapshot()
        nps = self.group_nps([r.subject for r in shown])
        if not nps:
            self.restore(snapshot)
            return
        rel = shown[0]
        text, support = rel.predicate.text, rel.object
        o = self.obj(rel)
        plural = (
            len(nps) > 1 or rel.subject.plural or not nps[0].startswith(("a ", "an ", "another ", "one "))
        )
        listed = join_and(nps)
        many = ", among other things" if rest else ""
        options: list[Option] = []
        if not rest:
            options.append(("plain", f"{listed} {be(plural)} {text} {o}"))
        if rel.predicate.spatial:
            verb = be(plural)
            if text in {"on", "on top of"} and (support.concept in _FURNITURE or support.noun in _FURNITURE):
                if not any(r.subject.animate for r in shown) and self.rng.random() < 0.5:
                    verb = "sit" if plural else "sits"
                if o.startswith("the ") and not support.plural:
                    options.append(("holds", f"{o} holds {listed}{many}"))
            options.append(("inverted", f"{text} {o} {verb} {listed}{many}"))
        if not options:
            options.append(("plain", f"{listed} {be(plural)} {text} {o}{many}"))
        if self.say(options, self._entities(unit)):
            self.said_relations |= {self.key(r) for r in unit}
        else:
            self.restore(snapshot)

    def single_options(self, rel: Relation) -> list[Option] | None:
        """The frames one relation can be said in; marks what it mentions as said (callers may restore)."""
        subject, text, kind = rel.subject, rel.predicate.text, rel.predicate.kind
        new = subject.index not in self.said_entities
        self.said_relations.add(self.key(rel))
        if rel.object.noun == subject.noun and new and not (subject.plural or subject.mass):
            # "One tomato is next to another." rather than "A red tomato is next to a tomato."
            self.said_entities.update({subject.index, rel.object.index})
            return [("plain", f"one {subject.noun} {self.w.vp(rel, 'another')}")]
        np = self.subject(subject)
        if np is None:
            return None
        o = self.obj(rel)
        plural = subject.plural
        options: list[Option] = [("plain", f"{np} {self.w.vp(rel, o)}")]
        if not plural and text.split()[0] in FINITE:
            options.append(("present", f"{np} {self.w.vp(rel, o, form='present')}"))
        if new and kind == "be" and rel.predicate.spatial:
            options.append(
                ("inverted", f"{text} {o} {be(plural)} {np}")
            )  # "Next to the sofa is a tall lamp."
        if new and not subject.mass:
            options.append(("there", f"there {be(plural)} {np} {self.w.vp(rel, o, form='participle')}"))
        return options

    # --- looks and leftovers ----------------------------------------------------------------------------------

    def surfaces(self) -> None:
        """'The sand is tan and wet, and the ocean is blue.' — the look of the ground, sky and walls."""
        clauses = []
        for e in self.s.ranked():
            the = self.w.the(e)
            if not (e.stuff and the and e.index not in self.described):
                continue
            named = set(the.split())
            looks = [x for x in (*e.colors[:2], *e.material_adjs[:1], *e.states[:1]) if x not in named]
            if looks:
                self.described.add(e.index)
                clauses.append(f"{the} {be(e.plural)} {join_and(looks)}")
        if clauses:
            self.say(join_and(clauses[:3]))

    def conditions(self) -> None:
        """'The monitor is off, and the chair is empty.' — states of things already named, not yet said."""
        by_state: dict[str, list[Entity]] = {}
        for e in self.s.ranked():
            if e.index not in self.said_entities or e.index in self.described or e.animate or e.stuff:
                continue
            said = {r.predicate.participle for r in self.s.relations_of(e)}
            # adjectives only: "the coat is hanging" says less than the relation it comes from
            states = [x for x in e.states if not x.endswith("ing") and x not in said][:2]
            if states and self.w.the(e):
                by_state.setdefault(join_and(states), []).append(e)
        clauses = []
        for state, group in list(by_state.items())[:3]:
            group = group[:3]
            self.described |= {e.index for e in group}
            plural = len(group) > 1 or group[0].plural
            clauses.append(f"{join_and([self.w.the(e) for e in group])} {be(plural)} {state}")
        if clauses:
            self.say(join_and(clauses))

    def leftovers(self, *, again: bool = False) -> None:
        """Things with nothing to say but their look: 'Also in view are a white onion and another cabinet.'"""
        rest = [
            e
            for e in self.s.ranked()
            if e.index not in self.said_entities
            and e.index not in self.described
            and not e.part
            and not e.stuff
        ][:3]
        if not rest:
            return
        snapshot = self.snapshot()
        nps = self.group_nps(rest)
        listed = join_and(nps)
        plural = (
            len(nps) > 1
            or rest[0].plural
            or not (rest[0].mass or nps[0].startswith(("a ", "an ", "another ")))
        )
        options = [
            ("plain", f"The scene also includes {listed}"),
            ("present", f"{listed} can also be seen"),
            ("inverted", f"Also in view {be(plural)} {listed}"),
        ]
        if again:  # a second round reads as more of the same, not as a repeat of the first
            options = [
                ("there", f"There {be(plural)} also {listed}"),
                ("plain", f"{listed} {be(plural)} there too"),
            ]
        if not self.say(options, {e.index for e in rest}):
            self.restore(snapshot)

    @cached_property
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
        said_nouns = {self.s.entities[i].noun for i in self.said_entities | self.described}
        said_nouns |= {pluralize(n) for n in said_nouns}
        added = 0
        for phrase in self.s.phrases:
            if added >= limit:
                break
            text = _region_sentence(phrase, self.known, self.rng)
            if not text or self.p.covers(phrase):
                continue
            if text != phrase and _head_noun(phrase) in said_nouns:
                continue  # "You can also see a large mirror" after "a mirror is above the sink": a second mirror?
            if self.say(text):
                added += 1

    def run(self) -> str:
        self.opener()
        if not self.s.entities:
            return self.p.text
        self.main_subject()
        self.other_subjects()
        self.layout()
        self.conditions()
        self.surfaces()
        self.leftovers()
        if self.p.words < MIN_WORDS:
            self.leftovers(again=True)
        self.regions(3 if self.p.words >= MIN_WORDS else 5)
        return self.p.text


def _head_noun(phrase: str) -> str:
    """The noun a noun-phrase region is about: the last word before a preposition or participle."""
    head = ""
    for word in phrase.split():
        if word in PREPOSITIONS or word.endswith("ing") and head:
            break
        head = word
    return head


def describe(scene: Scene, rng: random.Random) -> str:
    return Describer(scene, rng).run()
