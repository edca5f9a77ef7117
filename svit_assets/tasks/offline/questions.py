"""Single-fact questions in the manner of GQA's engine: existence, counts, attributes, relations, positions.

Each generator reads :class:`Scene` facts and returns :class:`QA` candidates; templates are picked with the
task's seeded RNG so phrasings vary across images but never between runs. The same generators serve the
conversation task (plain text) and the referring task (a grounded :class:`Writer`), which is why every
mention goes through the writer and a plain-text question is skipped when its subject is ambiguous.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from itertools import permutations

from . import lexicon as lx
from .english import (
    PLURALIA_TANTUM,
    article,
    be,
    capitalize,
    caption_head_needs_article,
    caption_is_clause,
    count_phrase,
    join_and,
    number_word,
    pluralize,
    sentence,
    singularize,
)
from .phrasing import Writer, color_phrase
from .scene import Entity, Relation, Scene

LOCATIONS = ("in the picture", "in this image", "in the photo", "here", "in this scene")
BASIC_COLORS = ("red", "blue", "green", "white", "black", "yellow", "brown", "gray", "pink", "orange")
# Participles that read naturally in "Where is the car parked?" / "What is the man sitting on?"
WHERE_PARTICIPLES = frozenset(
    {
        "parked",
        "sitting",
        "standing",
        "lying",
        "hanging",
        "mounted",
        "placed",
        "resting",
        "leaning",
        "perched",
        "walking",
        "growing",
        "floating",
        "stacked",
    }
)
WHAT_PREPOSITIONS = frozenset({"on", "in", "at", "next to", "near", "by", "under", "behind"})
CONTACT = frozenset(
    {
        "on",
        "in",
        "on top of",
        "inside",
        "sitting on",
        "lying on",
        "parked on",
        "standing on",
        "hanging on",
        "resting on",
        "sitting in",
        "parked in",
    }
)
# Verbs whose objects make a sensible open question even for a non-living subject.
OPEN_VERBS_INANIMATE = frozenset({"wearing", "holding", "carrying", "covering", "showing"})


@dataclass
class QA:
    kind: str
    question: str
    answer: str
    focus: tuple[int, ...] = ()
    topic: str = "details"  # scene | subject | details
    fact: tuple = ()  # questions about the same fact in other words share this key
    reveals: frozenset = frozenset()  # relation facts the answer states
    about: frozenset = frozenset()  # further (family, entity) topics the answer covers, beyond its own kind

    @property
    def key(self) -> tuple:
        return self.fact or (self.kind, self.focus)

    @property
    def topics(self) -> frozenset:
        """(family, entity) pairs: "Is the car parked?" and "Where is the car parked?" share ('state', car)."""
        family = KIND_FAMILY.get(self.kind)
        own = {(family, self.focus[0])} if family and self.focus else set()
        return frozenset(own) | self.about


# How a few lexicon nouns are written in a sentence.
DISPLAY = {"tv": "television", "tvs": "televisions"}
# Question kinds that ask the same thing about one entity in different words.
KIND_FAMILY = {
    "color": "color",
    "color_yn": "color",
    "material": "material",
    "state": "state",
    "where": "where",
    "where_yn": "where",
    "zone": "zone",
    "doing": "doing",
    "describe": "describe",
}
# Participles that also answer "is it standing / parked / sitting?".
STATE_PARTICIPLES = frozenset({"parked", "sitting", "standing", "lying", "walking", "running", "sleeping"})


def loc(rng: random.Random, *nouns: str) -> str:
    """A place phrase that does not clash with the noun ("a picture in the picture")."""
    words = {w for n in nouns for w in n.split()} | {singularize(w) for n in nouns for w in n.split()}
    options = [p for p in LOCATIONS if not words & set(p.split())]
    return rng.choice(options or ["here"])


def who(w: Writer, e: Entity, definite: str, rng: random.Random) -> str:
    """The subject of an answer: the mention again or, for variety, a pronoun (grounded answers keep the mention)."""
    return definite if w.grounded else rng.choice([definite, e.pronoun])


def owner_possessive(w: Writer, e: Entity) -> str | None:
    """'the man's shirt' for a thing worn or had by a single identifiable person or animal."""
    if w.grounded:
        return None
    for rel in w.scene.relations_to(e):
        if (
            rel.predicate.text in {"wearing", "has", "holding"}
            and rel.subject.animate
            and not rel.subject.plural
        ):
            owner = w.the(rel.subject)
            if owner != f"the {rel.subject.noun}":
                continue  # "the man on the right's bag" is no way to say it
            if owner and len([r for r in w.scene.relations_of(rel.subject) if r.object.noun == e.noun]) == 1:
                return f"{owner}'s {e.noun}"
    return None


# --- scene level --------------------------------------------------------------------------------------

_NP_START = re.compile(r"^(a|an|the|two|three|four|five|six|several|some|many|this|these|people|an?other)\b")
_PREFIXES = re.compile(
    r"^(this is |it is |here is )?(an? )?(close up |closeup )?(image|picture|photo|photograph|view|shot|pic) of (an? )?",
)


def caption_parts(caption: str) -> tuple[str, str] | None:
    """(text, form) for a usable caption, None otherwise; form is 'clause' or 'np'.

    A clause has a finite verb ("a woman slices carrots at the counter") and is said as a sentence; a noun
    phrase ("a woman slicing carrots", "a kitchen with a stove") is the object of "shows". The text comes
    back trimmed, without its final stop and with an article when a bare singular noun opens it.
    """
    text = re.sub(r"\s+", " ", caption).strip().rstrip(".!?;:, ").strip()
    match = _PREFIXES.match(text.lower())
    if match:
        text = text[match.end() :]
    if not text:
        return None
    lowered = text.lower()
    if lowered.split()[0].endswith("ing"):
        return None  # "sitting on a bench": no subject to build a sentence on
    clause = caption_is_clause(lowered)
    if (
        not _NP_START.match(lowered)
        and not lowered.startswith("there ")
        and caption_head_needs_article(lowered)
    ):
        text = f"{article(text)} {text}"
    first = text.split()[0]
    if not (len(first) > 1 and first.isupper()):
        text = text[0].lower() + text[1:]
    return text, "clause" if clause else "np"


def best_caption(scene: Scene) -> tuple[str, str] | None:
    """The caption that names the most annotated things, at a comfortable length."""
    nouns = {e.noun for e in scene.entities} | {pluralize(e.noun) for e in scene.entities}
    best: tuple[float, int, tuple[str, str]] | None = None
    for i, caption in enumerate(scene.captions):
        parts = caption_parts(caption)
        if parts is None:
            continue
        words = parts[0].lower().split()
        score = sum(1 for word in words if word in nouns) + (1 if 6 <= len(words) <= 16 else 0)
        if best is None or score > best[0]:
            best = (score, i, parts)
    return best[2] if best else None


def caption_sentence(parts: tuple[str, str], rng: random.Random, *, answer: bool = False) -> str:
    """A caption as one sentence: a clause stands on its own, a noun phrase is what the picture shows."""
    text, form = parts
    if form == "clause":
        frames = ["{t}", "In this picture, {t}", "In this image, {t}", "Here, {t}"]
    else:
        frames = ["This picture shows {t}", "The image shows {t}", "The photo captures {t}", "We can see {t}"]
        if answer:
            frames.append("It shows {t}")
    return sentence(rng.choice(frames).format(t=text))


def scene_questions(s: Scene, w: Writer, rng: random.Random) -> list[QA]:
    out: list[QA] = []
    parts = best_caption(s)
    if parts:
        q = rng.choice(
            [
                "What is happening in this picture?",
                "What does this image show?",
                "Can you describe what is going on here?",
                "What is going on in this scene?",
            ]
        )
        out.append(QA("happening", q, caption_sentence(parts, rng, answer=True), topic="scene"))
    if s.place:
        place = s.place[0]
        evidence = [e for e in s.evidence_for(s.place[1]) if not e.part and e.noun not in place.split()][:2]
        q = rng.choice(
            [
                "Where was this picture taken?",
                "What kind of place is this?",
                "Where does this scene take place?",
            ]
        )
        a = rng.choice(["It looks like {p}", "This appears to be {p}", "The setting seems to be {p}"]).format(
            p=f"{article(place)} {place}"
        )
        if evidence:
            seen = [pluralize(e.noun) if len(s.same_noun(e)) > 1 else w.a(e, 0) for e in evidence]
            a += rng.choice([", with {e} in view", "; you can see {e}"]).format(e=join_and(seen))
        out.append(QA("place", q, sentence(a), topic="scene"))
    if s.setting:
        where, evidence = s.setting
        mentions = [w.mention(e) for e in evidence[:2]]
        q = rng.choice(
            [
                "Was this picture taken indoors or outdoors?",
                "Is this scene indoors or outdoors?",
                "Is this an indoor or an outdoor scene?",
            ]
        )
        verb = "are" if len(mentions) > 1 or evidence[0].plural else "is"
        a = rng.choice(
            ["It was taken {w}, since {m} {v} visible", "It is an {adj} scene: {m} {v} visible"]
        ).format(w=where, m=join_and(mentions), v=verb, adj="indoor" if where == "indoors" else "outdoor")
        out.append(QA("setting", q, sentence(a), topic="scene"))
    if s.sky:
        sky, weather = s.sky
        looks = [
            *sky.colors,
            *[o for o in sky.other if o in {"clear", "cloudy", "overcast"}],
            *[t for t in sky.states if t in {"clear", "cloudy"}],
        ]
        q = rng.choice(
            ["What is the weather like?", "How does the sky look?", "What can you tell about the weather?"]
        )
        conclusion = {
            "clear": "so it looks like a fine, sunny day",
            "cloudy": "so the day looks overcast",
            "dark": "so it may be late in the day or about to rain",
        }[weather]
        out.append(
            QA(
                "weather",
                q,
                sentence(f"The sky is {join_and(list(dict.fromkeys(looks)))}, {conclusion}"),
                (sky.index,),
                "scene",
            )
        )
    main = []
    for e in s.ranked():
        if not (e.stuff or e.part) and all(m.concept != e.concept for m in main):
            main.append(e)
    if len(main) >= 2:
        main = main[:3]
        q = rng.choice(
            [
                "What are the main things in this picture?",
                "What stands out in this image?",
                "What can you see in this scene?",
            ]
        )
        a = rng.choice(
            ["The picture mainly shows {x}", "The main things in view are {x}", "I can see {x}"]
        ).format(x=join_and([w.a(e, 1) for e in main]))
        out.append(QA("overview", q, sentence(a), tuple(e.index for e in main), "scene"))
    return out


# --- existence and counts ----------------------------------------------------------------------------


def _detail(w: Writer, e: Entity) -> str:
    """A short trailing fact for 'there is a …' answers: a location or action, else the part of the picture."""
    for rel in w.actions(e):
        if rel.predicate.kind in {"be", "verb"} and (rel.predicate.spatial or rel.predicate.kind == "verb"):
            return f" {rel.predicate.text} {w.object_np(rel)}"
    zone = w.scene.horizontal_zone(e)
    if zone:
        return " in the middle of the picture" if zone == "middle" else f" on the {zone} side of the picture"
    return ""


def existence_questions(s: Scene, w: Writer, rng: random.Random) -> list[QA]:
    out: list[QA] = []
    seen: set[str] = set()
    for e in s.ranked():
        if e.concept in seen or e.stuff or e.part or e.noun in PLURALIA_TANTUM:
            continue
        seen.add(e.concept)
        group = [x for x in s.entities if x.concept == e.concept]
        where = loc(rng, e.noun)
        if e.plural or e.mass:
            q = rng.choice(["{v} there any {n} {l}?", "Can you see any {n} {l}?"]).format(
                v=be(e.plural).capitalize(), n=e.noun, l=where
            )
        else:
            q = rng.choice(
                ["Is there {a} {n} {l}?", "Can you see {a} {n} {l}?", "Is {a} {n} visible {l}?"]
            ).format(a=article(e.noun), n=e.noun, l=where)
        holder = next(
            (
                r
                for r in s.relations_to(e)
                if r.predicate.kind == "verb" and r.subject.animate and w.the(r.subject)
            ),
            None,
        )
        reveals = facts_of([holder]) if len(group) == 1 and holder else frozenset()
        if reveals:
            a = f"Yes, {w.the(holder.subject)} {be(holder.subject.plural)} {holder.predicate.text} {w.a(e, 1)}"
        elif len(group) == 1:
            a = f"Yes, there {be(e.plural)} {w.a(e, 1)}{_detail(w, e)}"
        else:
            n = s.count(e.concept)
            if n is not None:
                a = f"Yes, there are {count_phrase(n, singularize(e.noun))} {where}"
            else:
                a = f"Yes, there is more than one {singularize(e.noun)} {where}"
        out.append(QA("exist", q, sentence(a), (e.index,), "scene", reveals=reveals))
    kind = s.scene_kind
    pool = list(dict.fromkeys([*lx.ABSENT_CANDIDATES.get(kind, ()), *lx.ABSENT_CANDIDATES[""]]))
    absent = [c for c in pool if s.absent(c)][:4]
    rng.shuffle(absent)
    for noun in absent[:2]:
        where = loc(rng, noun)
        plural = pluralize(noun)
        noun, plural = DISPLAY.get(noun, noun), DISPLAY.get(plural, plural)
        q, a = rng.choice(
            [
                (f"Is there {article(noun)} {noun} {where}?", f"No, there is no {noun} {where}."),
                (f"Are there any {plural} {where}?", f"No, there are no {plural} {where}."),
                (f"Can you see {article(noun)} {noun} {where}?", f"No, I can't see any {plural} {where}."),
            ]
        )
        out.append(QA("absent", q, sentence(a), (), "scene"))
    return out


def _lively(s: Scene, concept: str) -> bool:
    return concept == "person" or any(
        e.concept == concept and (e.animate or e.concept in lx.VEHICLES) for e in s.entities
    )


def count_questions(s: Scene, w: Writer, rng: random.Random) -> list[QA]:
    out: list[QA] = []
    for concept, n in s.countable_concepts():
        if concept in lx.WEARABLES:
            continue  # "how many shirts" counts people, not a thing worth asking
        if n == 1 and not _lively(s, concept):
            continue  # "there is a single refrigerator" is a dull question
        if concept == "person":
            singular, plural, members = "person", "people", [e for e in s.entities if e.person]
        else:
            members = [e for e in s.entities if e.concept == concept]
            singular = singularize(members[0].noun)
            plural = pluralize(singular)
        where = loc(rng, singular)
        q = rng.choice(
            [
                "How many {p} are there {l}?",
                "How many {p} can you see {l}?",
                "Can you count the {p} {l}?",
                "What is the number of {p} {l}?",
            ]
        ).format(p=plural, l=where)
        if n == 1:
            a = rng.choice(
                ["There is only one {s} {l}", "I can see just one {s} {l}", "There is a single {s} {l}"]
            ).format(s=singular, l=where)
        else:
            a = rng.choice(["There are {c} {l}", "I can see {c} {l}"]).format(
                c=count_phrase(n, singular), l=where
            )
            kinds = [e.noun for e in members]
            if concept == "person" and len(set(kinds)) > 1 and n <= 4:
                a += ": " + join_and([w.a(e, 0) for e in members])
        out.append(QA("count", q, sentence(a), tuple(e.index for e in members), "scene"))
    return out


# --- attributes ---------------------------------------------------------------------------------------


def names_color(mention: str, e: Entity) -> bool:
    """'the red car' already answers 'what color is it'."""
    return any(word in mention.split() for c in e.colors for word in c.split())


def _names(w: Writer, e: Entity, rng: random.Random) -> str | None:
    """The definite way to name an entity in a question (possessive when that reads better)."""
    own = owner_possessive(w, e)
    the = w.the(e)
    if own and (the is None or rng.random() < 0.5):
        return own
    return the


def attribute_questions(s: Scene, w: Writer, rng: random.Random) -> list[QA]:
    out: list[QA] = []
    for e in s.ranked():
        if e.part and not owner_possessive(w, e) and not w.grounded:
            continue
        name = _names(w, e, rng)
        if name is None:
            continue
        skip = set(e.name_adjs) if w.grounded else set()
        plural = e.plural
        is_ = be(plural)
        subj = who(w, e, name, rng)
        colors = [c for c in e.colors if c not in skip and not e.person]
        if colors and not names_color(name, e):
            cp = color_phrase(colors)
            q = rng.choice(
                ["What color {v} {n}?", "What is the color of {n}?", "Which color {v} {n}?"]
            ).format(v=is_, n=name)
            out.append(QA("color", capitalize(q), sentence(f"{subj} {is_} {cp}"), (e.index,)))
            taken = {word for c in e.colors for word in c.split()}
            wrong = [c for c in BASIC_COLORS if c not in taken]
            if rng.random() < 0.5 and wrong:
                asked = rng.choice(wrong)
                out.append(
                    QA(
                        "color_yn",
                        sentence(f"{is_} {name} {asked}?"),
                        sentence(f"No, {subj} {is_} {cp}"),
                        (e.index,),
                        fact=("color", e.index),
                    )
                )
            else:
                asked = rng.choice(colors)
                out.append(
                    QA(
                        "color_yn",
                        sentence(f"{is_} {name} {asked}?"),
                        sentence(f"Yes, {subj} {is_} {asked}"),
                        (e.index,),
                        fact=("color", e.index),
                    )
                )
        materials = [m for m in e.materials if m not in skip]
        if materials:
            noun = lx.MATERIALS[materials[0]][1]
            q = rng.choice(["What {v} {n} made of?", "What material {v} {n} made of?"]).format(v=is_, n=name)
            a = f"{subj} {is_} made of {noun}"
            out.append(QA("material", capitalize(q), sentence(a), (e.index,)))
        for state in e.states:
            anti = lx.STATES.get(state)
            if anti and (state not in lx.ANIMATE_STATES or e.animate):
                pair = [state, anti]
                rng.shuffle(pair)
                q = f"{is_} {name} {pair[0]} or {pair[1]}?"
                out.append(QA("state", sentence(q), sentence(f"{subj} {is_} {state}"), (e.index,)))
                break
            if anti is None and state not in lx.ANIMATE_STATES:
                out.append(
                    QA(
                        "state",
                        sentence(f"{is_} {name} {state}?"),
                        sentence(f"Yes, {subj} {is_} {state}"),
                        (e.index,),
                    )
                )
                break
    return out


# --- relations ------------------------------------------------------------------------------------------


def _group_by_predicate(rels: list[Relation]) -> dict[str, list[Relation]]:
    groups: dict[str, list[Relation]] = {}
    for r in rels:
        groups.setdefault(r.predicate.text, []).append(r)
    return groups


def facts_of(rels: list[Relation]) -> frozenset:
    """The relation facts an answer states, so another question does not state them again."""
    return frozenset((r.subject.index, r.predicate.text, r.object.index) for r in rels)


def relation_questions(s: Scene, w: Writer, rng: random.Random) -> list[QA]:
    out: list[QA] = []
    for subject in s.ranked():
        the_s = w.the(subject)
        rels = s.relations_of(subject)
        if the_s is None or not rels:
            continue
        subj = who(w, subject, the_s, rng)
        doing = [
            r
            for r in w.actions(subject)
            if subject.animate and (r.predicate.kind == "verb" or r.predicate.participle in WHERE_PARTICIPLES)
        ][:2]
        state = w.state_vp(subject, doing) if subject.animate else None
        if doing or state:
            vps = [w.vp(r) for r in doing] or [state]
            if subject.plural:
                q = f"What are {the_s} doing?"
            else:
                q = rng.choice(["What is {n} doing?", "What is {n} up to?"]).format(n=the_s)
            a = f"{subj} {w.join_vps(vps)}"
            about = {("state", subject.index)} if state and not doing else set()
            about |= {("state", subject.index) for r in doing if r.predicate.participle in STATE_PARTICIPLES}
            out.append(
                QA(
                    "doing",
                    sentence(q),
                    sentence(a),
                    (subject.index,),
                    "subject",
                    reveals=facts_of(doing),
                    about=frozenset(about),
                )
            )
        for text, group in _group_by_predicate(rels).items():
            out.extend(_about_subject(s, w, rng, subject, the_s, subj, text, group))
    out.extend(_inverse_questions(s, w, rng))
    return out


def _about_subject(
    s: Scene,
    w: Writer,
    rng: random.Random,
    subject: Entity,
    the_s: str,
    subj: str,
    text: str,
    group: list[Relation],
) -> list[QA]:
    """Questions about one subject and one predicate: 'What is the man wearing?', 'Where is the cup?'."""
    out: list[QA] = []
    pred = group[0].predicate
    is_ = be(subject.plural)
    objects = [r.object for r in group]
    focus = (subject.index, *(o.index for o in objects))
    fact = ("rel", subject.index, text)
    if pred.kind == "verb" and (subject.animate or text in OPEN_VERBS_INANIMATE):
        a = f"{subj} {is_} {text} {join_and([w.object_np(r) for r in group])}"
        out.append(
            QA(
                "relation",
                sentence(f"What {is_} {the_s} {text}?"),
                sentence(a),
                focus,
                "subject",
                fact,
                facts_of(group),
            )
        )
        rel = group[0]
        q = f"{is_} {the_s} {text} {w.a(rel.object, 0)}?"
        a = f"Yes, {subj} {is_} {text} {w.object_np(rel)}"
        out.append(QA("relation_yn", sentence(q), sentence(a), focus[:2], "subject", fact, facts_of([rel])))
        out.extend(_negative_verb(s, w, rng, subject, text, group))
    elif pred.kind == "be" and pred.spatial and not subject.stuff:
        shown = group[:2]
        if pred.participle in WHERE_PARTICIPLES and subject.animate and pred.preposition in WHAT_PREPOSITIONS:
            q = f"What {is_} {the_s} {text}?"
        elif pred.participle in WHERE_PARTICIPLES:
            q = f"Where {is_} {the_s} {pred.participle}?"
        else:
            q = f"Where {is_} {the_s}?"
        a = f"{subj} {w.join_vps([w.vp(r) for r in shown])}"
        states = {("state", subject.index) for r in shown if r.predicate.participle in STATE_PARTICIPLES}
        out.append(
            QA(
                "where",
                sentence(q),
                sentence(a),
                focus,
                "subject",
                ("where", subject.index),
                facts_of(shown),
                frozenset(states),
            )
        )
        if pred.text in CONTACT:
            out.extend(_negative_place(s, w, rng, group[0]))
    elif pred.kind == "have" and not group[0].object.part:
        rel = group[0]
        q = f"{'Do' if subject.plural else 'Does'} {the_s} have {w.a(rel.object, 0)}?"
        out.append(
            QA(
                "relation_yn",
                sentence(q),
                sentence(f"Yes, {the_s} {w.vp(rel)}"),
                focus[:2],
                "subject",
                fact,
                facts_of([rel]),
            )
        )
    elif pred.kind == "contain":
        q = f"What {'do' if subject.plural else 'does'} {the_s} contain?"
        a = f"{subj} {w.vp(group[0], join_and([w.object_np(r) for r in group]))}"
        out.append(QA("relation", sentence(q), sentence(a), focus, "subject", fact, facts_of(group)))
    return out


def _negative_verb(
    s: Scene, w: Writer, rng: random.Random, subject: Entity, verb: str, group: list[Relation]
) -> list[QA]:
    """'Is the man wearing a helmet?' when a helmet is worn by someone else, well apart from him."""
    own = {r.object.concept for r in group}
    for rel in s.relations:
        other = rel.object
        if (
            rel.predicate.text == verb
            and rel.subject is not subject
            and other.concept not in own
            and not s.overlaps(subject, other)
        ):
            is_ = be(subject.plural)
            the_s = w.the(subject)
            q = f"{is_} {the_s} {verb} {w.a(other, 0)}?"
            a = f"No, {who(w, subject, the_s, rng)} {is_} {verb} {join_and([w.object_np(r) for r in group])}"
            return [
                QA(
                    "relation_yn",
                    sentence(q),
                    sentence(a),
                    (subject.index,),
                    "subject",
                    ("rel", subject.index, verb),
                    facts_of(group),
                )
            ]
    return []


def _negative_place(s: Scene, w: Writer, rng: random.Random, rel: Relation) -> list[QA]:
    """'Is the cup on the chair?' — no: it is on the table, and its box does not even touch the chair."""
    subject = rel.subject
    if len([r for r in s.relations_of(subject) if r.predicate.text == rel.predicate.text]) != 1:
        return []
    kind = next((k for k in lx.SUPPORT_KINDS if rel.object.concept in k or rel.object.noun in k), None)
    if kind is None:
        return []
    candidates = [
        e
        for e in s.ranked()
        if (e.concept in kind or e.noun in kind)
        and e is not subject
        and e.concept != rel.object.concept
        and not s.overlaps(subject, e)
        and w.the(e)
    ]
    if not candidates:
        return []
    is_ = be(subject.plural)
    the_s = w.the(subject)
    q = f"{is_} {the_s} {rel.predicate.text} {w.the(candidates[0])}?"
    a = f"No, {who(w, subject, the_s, rng)} {is_} {rel.predicate.text} {w.object_np(rel)}"
    return [
        QA(
            "where_yn",
            sentence(q),
            sentence(a),
            (subject.index, rel.object.index),
            "subject",
            ("where", subject.index),
            facts_of([rel]),
        )
    ]


def _inverse_questions(s: Scene, w: Writer, rng: random.Random) -> list[QA]:
    """'What is on the table?' / 'Who is holding the umbrella?' — every annotated answer is listed."""
    out: list[QA] = []
    groups: dict[tuple[int, str], list[Relation]] = {}
    for r in s.relations:
        if r.subject.stuff or r.predicate.kind == "verb" and not r.subject.person:
            continue
        if r.predicate.kind == "verb":
            groups.setdefault((r.object.index, r.predicate.text), []).append(r)
        elif r.predicate.kind == "be" and r.predicate.spatial:
            # "parked on" and "on" both answer "what is on"
            groups.setdefault((r.object.index, r.predicate.preposition), []).append(r)
    for (_, text), group in groups.items():
        obj = group[0].object
        the_o = w.the(obj)
        if the_o is None or obj.person and group[0].predicate.kind == "be":
            continue
        subjects = [s.entities[i] for i in dict.fromkeys(r.subject.index for r in group)]
        people = all(x.person for x in subjects)
        plural = len(subjects) > 1 or subjects[0].plural
        # grounded answers name each thing definitely, so a sentence never opens on a bare <st> tag
        listed = join_and(
            [(w.the(x, 1) or w.a(x, 1)) if people or w.grounded else w.a(x, 1) for x in subjects]
        )
        q = f"{'Who' if people else 'What'} is {text} {the_o}?"
        a = f"{listed} {be(plural)} {text} {the_o}"
        focus = (obj.index, *(x.index for x in subjects))
        out.append(
            QA(
                "relation_inv",
                sentence(q),
                sentence(capitalize(a)),
                focus,
                "details",
                reveals=facts_of(group),
            )
        )
    return out


# --- positions and comparisons ------------------------------------------------------------------------------


def _pairs(s: Scene, w: Writer, limit: int = 8) -> list[tuple[Entity, Entity, str, str]]:
    """Ordered pairs of well-separated, nameable things with their definite mentions."""
    pool = []
    for e in s.ranked():
        if s.groundable(e) and not e.part:
            the = w.the(e)
            if the:
                pool.append((e, the))
        if len(pool) >= limit:
            break
    return [
        (a, b, ta, tb) for (a, ta), (b, tb) in permutations(pool, 2) if a.noun != b.noun and s.separate(a, b)
    ]


def position_questions(s: Scene, w: Writer, rng: random.Random) -> list[QA]:
    out: list[QA] = []
    for a, b, ta, tb in _pairs(s, w):
        is_ = be(a.plural)
        if s.left_of(a, b) or s.left_of(b, a):
            side = "left" if s.left_of(a, b) else "right"
            if a.index < b.index:
                q, ans = rng.choice(
                    [
                        (
                            f"Is {ta} to the left or to the right of {tb}?",
                            f"{who(w, a, ta, rng)} {is_} to the {side} of {tb}",
                        ),
                        (
                            f"Which side of {tb} is {ta} on?",
                            f"{who(w, a, ta, rng)} {is_} on the {side} side of {tb}",
                        )
                        if " on the " not in f"{ta} {tb}"  # "which side of the man on the left is …"
                        else (
                            f"Is {ta} to the left or to the right of {tb}?",
                            f"{who(w, a, ta, rng)} {is_} to the {side} of {tb}",
                        ),
                        (
                            f"Is {ta} to the left of {tb}?",
                            f"{'Yes' if side == 'left' else 'No'}, {who(w, a, ta, rng)} {is_} to the {side} of {tb}",
                        ),
                        (
                            f"Is {ta} to the right of {tb}?",
                            f"{'Yes' if side == 'right' else 'No'}, {who(w, a, ta, rng)} {is_} to the {side} of {tb}",
                        ),
                    ]
                )
                out.append(
                    QA(
                        "position",
                        sentence(q),
                        sentence(ans),
                        (a.index, b.index),
                        fact=("lr", *sorted((a.index, b.index))),
                    )
                )
            if side == "left":
                first, second = (ta, tb) if rng.random() < 0.5 else (tb, ta)
                q = f"Which is closer to the left side of the picture, {first} or {second}?"
                out.append(
                    QA(
                        "compare_left",
                        q,
                        sentence(f"{ta} is closer to the left side of the picture"),
                        (a.index, b.index),
                        fact=("lr", a.index, b.index),
                    )
                )
        if s.above(a, b):
            q, ans = rng.choice(
                [
                    (f"Is {ta} above or below {tb}?", f"{who(w, a, ta, rng)} {is_} above {tb}"),
                    (f"Is {tb} above or below {ta}?", f"{tb} {be(b.plural)} below {ta}"),
                    (
                        f"Which is higher up in the picture, {ta} or {tb}?",
                        f"{ta} {is_} higher up in the picture than {tb}",
                    ),
                ]
            )
            out.append(
                QA(
                    "position_v",
                    sentence(q),
                    sentence(ans),
                    (a.index, b.index),
                    fact=("ud", a.index, b.index),
                )
            )
    for e in s.ranked()[:10]:
        zone = s.horizontal_zone(e)
        the = w.the(e)
        if zone and the and s.groundable(e) and not e.part:
            where = (
                "in the middle of the picture" if zone == "middle" else f"on the {zone} side of the picture"
            )
            q = rng.choice([f"Where in the picture is {the}?", f"In which part of the picture is {the}?"])
            out.append(
                QA("zone", sentence(q), sentence(f"{who(w, e, the, rng)} {be(e.plural)} {where}"), (e.index,))
            )
    return out


def comparison_questions(s: Scene, w: Writer, rng: random.Random) -> list[QA]:
    out: list[QA] = []
    for a, b, ta, tb in _pairs(s, w):
        if a.index > b.index:
            continue
        big, small, tbig, tsmall = (a, b, ta, tb) if a.box.area >= b.box.area else (b, a, tb, ta)
        if big.box.area >= 2 * small.box.area:
            q, ans = rng.choice(
                [
                    (
                        f"Which looks bigger in the picture, {ta} or {tb}?",
                        f"{tbig} looks bigger than {tsmall} in the picture",
                    ),
                    (
                        f"Which takes up more space in the picture, {ta} or {tb}?",
                        f"{tbig} takes up more space in the picture than {tsmall}",
                    ),
                    (
                        f"Does {ta} look larger than {tb} in the picture?",
                        f"{'Yes' if big is a else 'No'}, {tbig} looks larger than {tsmall}",
                    ),
                ]
            )
            out.append(QA("compare_size", sentence(q), sentence(ans), (a.index, b.index)))
        if a.colors and b.colors and not names_color(ta, a) and not names_color(tb, b):
            ca, cb = set(a.colors), set(b.colors)
            q = rng.choice([f"Are {ta} and {tb} the same color?", f"Do {ta} and {tb} have the same color?"])
            if ca == cb:
                out.append(
                    QA(
                        "compare_color",
                        sentence(q),
                        sentence(f"Yes, both are {color_phrase(a.colors)}"),
                        (a.index, b.index),
                        about=frozenset({("color", a.index), ("color", b.index)}),
                    )
                )
            elif not ca & cb:
                ans = f"No, {ta} {be(a.plural)} {color_phrase(a.colors)}, while {tb} {be(b.plural)} {color_phrase(b.colors)}"
                about = frozenset({("color", a.index), ("color", b.index)})
                out.append(QA("compare_color", sentence(q), sentence(ans), (a.index, b.index), about=about))
    return out


def describe_questions(s: Scene, w: Writer, rng: random.Random) -> list[QA]:
    """'What can you tell me about the car?' answered with two or more facts about it."""
    out: list[QA] = []
    for e in s.ranked():
        the = w.the(e)
        if the is None or e.part:
            continue
        vps: list[str] = []
        skip = set(e.name_adjs) if w.grounded else set()
        colors = [c for c in e.colors if c not in skip]
        if colors and not e.person and not names_color(the, e):
            vps.append(f"{be(e.plural)} {color_phrase(colors)}")
        actions = w.actions(e)[:2]
        state = w.state_vp(e, actions)
        if state:
            vps.append(state)
        looks = len(vps)
        worn = w.worn(e)[:1]
        vps.extend(w.vp(r) for r in worn + actions)
        if len(vps) < 2:
            continue
        templates = [f"What can you tell me about {the}?", f"Can you describe {the}?"]
        if looks >= 2:
            templates.append(f"What {'do' if e.plural else 'does'} {the} look like?")
        q = rng.choice(templates)
        answer = sentence(f"{the} {w.join_vps(vps[:3])}")
        shown = (worn + actions)[: 3 - looks]
        about = {("color", e.index)} if vps[0].endswith(color_phrase(colors)) and colors else set()
        if state:
            about.add(("state", e.index))
        for r in shown:
            if r.predicate.kind == "be" and r.predicate.spatial:
                about.add(("where", e.index))
            if r.predicate.participle in STATE_PARTICIPLES:
                about.add(("state", e.index))
        out.append(
            QA(
                "describe",
                sentence(q),
                answer,
                (e.index,),
                "subject",
                reveals=facts_of(shown),
                about=frozenset(about),
            )
        )
    return out


def only_one_questions(s: Scene, w: Writer, rng: random.Random) -> list[QA]:
    """'Is the <st>car<ed> […] the only car here?' — grounded only, about reliably counted things."""
    out: list[QA] = []
    for concept, n in s.countable_concepts():
        if concept == "person" or concept in lx.WEARABLES:
            continue
        members = [e for e in s.entities if e.concept == concept]
        e = members[0]
        the = w.the(e)
        if the is None:
            continue
        noun = singularize(e.noun)
        q = f"Is {the} the only {noun} {loc(rng, noun)}?"
        if n == 1:
            a = f"Yes, {the} is the only {noun} in the picture"
        elif n == 2:
            other = members[1]
            a = f"No, there is also another {noun}, {w.the(other)}"
        else:
            others = [w.the(o) for o in members[1:3]]
            a = f"No, there are {number_word(n)} {pluralize(noun)} in total, including {join_and(others)}"
        out.append(QA("only_one", sentence(q), sentence(a), tuple(m.index for m in members)))
    return out
