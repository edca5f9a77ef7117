"""Complex-reasoning questions: each answer walks through two or more annotated facts to a conclusion.

The facts are always annotated (a relation, an attribute, a reliable count, a box position, a place word);
only the conclusion goes beyond them, and then it is hedged ("probably", "most likely"). World knowledge
used in conclusions (what an umbrella is for) never names an object the annotations do not contain.
"""

from __future__ import annotations

import math
import random

from . import lexicon as lx
from .assemble import Picker
from .english import article, be, capitalize, count_phrase, join_and, pluralize, sentence, singularize
from .phrasing import Writer, color_phrase
from .questions import QA, names_color
from .scene import Entity, Relation, Scene, center

_STYLES = (
    ("First, {0}.", "Second, {0}.", "Third, {0}.", "Therefore, {0}."),
    ("To begin with, {0}.", "In addition, {0}.", "Also, {0}.", "So {0}."),
    ("One clue is that {0}.", "Another is that {0}.", "On top of that, {0}.", "Taken together, {0}."),
    ("{0}.", "Moreover, {0}.", "Besides, {0}.", "Putting this together, {0}."),
)


def walk(facts: list[str], conclusion: str, rng: random.Random) -> str:
    """'First, … Second, … Therefore, …' in one of several wordings, capitalised and punctuated."""
    style = rng.choice(_STYLES)
    parts = [sentence(style[min(i, 2)].format(fact)) for i, fact in enumerate(facts[:3])]
    parts.append(sentence(style[3].format(conclusion)))
    return " ".join(capitalize(p) for p in parts)


class Reasoner:
    def __init__(self, scene: Scene, rng: random.Random) -> None:
        self.s = scene
        self.w = Writer(scene)
        self.rng = rng

    # --- fact clauses ---------------------------------------------------------------------------------

    def name(self, e: Entity, adjs: int = 0) -> str:
        return self.w.the(e, adjs) or self.w.a(e, max(adjs, 1))

    def rel_fact(self, rel: Relation, subject: str | None = None) -> str:
        return f"{subject or self.name(rel.subject)} {self.w.vp(rel)}"

    def there_is(self, e: Entity) -> str:
        return f"there {be(e.plural)} {self.w.a(e, 1)}"

    def spatial(self, e: Entity) -> Relation | None:
        return next(
            (r for r in self.s.relations_of(e) if r.predicate.kind == "be" and r.predicate.spatial), None
        )

    def holders(self, e: Entity) -> list[Relation]:
        return [r for r in self.s.relations_to(e) if r.predicate.kind == "verb" and r.subject.animate]

    # --- generators -------------------------------------------------------------------------------------

    def candidates(self) -> list[QA]:
        out: list[QA] = []
        for gen in (
            self.activities,
            self.purposes,
            self.safety,
            self.place,
            self.setting,
            self.weather,
            self.clothing,
            self.parked,
            self.containers,
            self.devices,
            self.attribute_through_relation,
            self.relation_through_attribute,
            self.compare_counts,
            self.in_common,
            self.outfit,
            self.proximity,
            self.layout,
        ):
            out.extend(gen())
        return out

    def activities(self) -> list[QA]:
        out = []
        for person in self.s.ranked():
            the = self.w.the(person)
            if not person.animate or the is None:
                continue
            rels = self.s.relations_of(person)
            for concept, activity, predicates in lx.ACTIVITIES:
                key = next(
                    (
                        r
                        for r in rels
                        if concept in (r.object.concept, r.object.noun)
                        and (not predicates or r.predicate.text in predicates)
                    ),
                    None,
                )
                if key is None:
                    continue
                support = sorted(
                    (
                        r
                        for r in rels
                        if r is not key and r.predicate.kind in {"verb", "be"} and not r.object.part
                    ),
                    key=lambda r: (r.predicate.text == "wearing", not r.predicate.spatial),
                )
                facts = [self.rel_fact(key, the)]
                if concept == "umbrella":
                    purpose = self._purpose(key.object)
                    weather = self._weather_fact()
                    if weather is None or purpose not in self.UMBRELLA_ACTIVITY:
                        continue
                    facts.append(weather)
                    activity = self.UMBRELLA_ACTIVITY[purpose]
                elif support:
                    facts.append(self.rel_fact(support[0], person.pronoun))
                elif self.s.place:
                    facts.append(f"the setting looks like {article(self.s.place[0])} {self.s.place[0]}")
                if len(facts) < 2:
                    continue
                q = self.rng.choice(
                    [
                        f"What is {the} probably doing, and how can you tell?",
                        f"What activity is {the} most likely engaged in?",
                        f"What does {the} seem to be doing, and what gives it away?",
                    ]
                )
                conclusion = f"{person.pronoun} {be(person.plural)} most likely {activity}"
                out.append(QA("activity", sentence(q), walk(facts, conclusion, self.rng), (person.index,)))
                break
        return out

    UMBRELLA_ACTIVITY = {
        "to keep the rain off": "keeping dry in wet weather",
        "to give shade on a bright day": "staying in the shade",
    }

    def _weather_fact(self) -> str | None:
        wet = next((e for e in self.s.ranked() if "wet" in e.states and self.w.the(e)), None)
        if wet:
            return f"{self.w.the(wet)} {be(wet.plural)} wet"
        if self.s.sky:
            return f"the sky is {color_phrase(self.s.sky[0].colors) or self.s.sky[1]}"
        return None

    def _purpose(self, e: Entity) -> str | None:
        if e.concept == "umbrella" or e.noun == "umbrella":
            wet = any("wet" in x.states for x in self.s.entities)
            if wet or self.s.sky and self.s.sky[1] == "cloudy":
                return "to keep the rain off"
            if self.s.sky and self.s.sky[1] == "clear" or self.s.scene_kind == "beach":
                return "to give shade on a bright day"
        return lx.PURPOSES.get(e.noun) or lx.PURPOSES.get(e.concept)

    def purposes(self) -> list[QA]:
        out = []
        for e in self.s.ranked():
            purpose = self._purpose(e)
            the = self.w.the(e)
            if purpose is None or the is None or e.part:
                continue
            facts = []
            held = self.holders(e)
            where = self.spatial(e)
            if held:
                facts.append(self.rel_fact(held[0]))
            if where:
                facts.append(self.rel_fact(where, the if not facts else e.pronoun))
            state = self.w.state_vp(e, [where] if where else [])
            if state and len(facts) < 2:
                facts.append(f"{the if not facts else e.pronoun} {state}")
            if len(facts) < 2 and self.s.sky and e.concept == "umbrella":
                facts.append(f"the sky is {color_phrase(self.s.sky[0].colors) or self.s.sky[1]}")
            if len(facts) < 2 and self.s.place:
                facts.append(f"the setting looks like {article(self.s.place[0])} {self.s.place[0]}")
            if len(facts) < 2:
                continue
            used = "there" if purpose.startswith("to ") else "used"
            q = self.rng.choice(
                [
                    f"What is {the} probably for in this scene?",
                    f"Why might there be {article(e.noun)} {e.noun} here?"
                    if not e.plural
                    else f"Why might there be {e.noun} here?",
                    f"What purpose does {the} most likely serve here?",
                ]
            )
            conclusion = f"{the} {be(e.plural)} most likely {used} {purpose}"
            out.append(QA("purpose", sentence(q), walk(facts, conclusion, self.rng), (e.index,)))
        return out

    def safety(self) -> list[QA]:
        out = []
        people = [e for e in self.s.ranked() if e.person and self.w.the(e)]
        vehicles = [e for e in self.s.ranked() if e.concept in lx.VEHICLES or e.noun in lx.VEHICLES]
        for person in people:
            the = self.w.the(person)
            on_road = next(
                (
                    r
                    for r in self.s.relations_of(person)
                    if r.predicate.spatial
                    and (
                        r.object.concept in lx.ROADS
                        or r.object.noun in lx.ROADS
                        or r.object.noun == "sidewalk"
                    )
                ),
                None,
            )
            if on_road and vehicles:
                v = vehicles[0]
                where = self.spatial(v)
                vehicle_fact = self.rel_fact(where) if where else self.there_is(v) + " nearby"
                q = self.rng.choice(
                    [f"What should {the} be careful about here?", f"Is there any safety concern for {the}?"]
                )
                conclusion = (
                    f"{person.pronoun} should probably stay alert to traffic, especially when crossing"
                )
                out.append(
                    QA(
                        "safety",
                        sentence(q),
                        walk([self.rel_fact(on_road, the), vehicle_fact], conclusion, self.rng),
                        (person.index, v.index),
                    )
                )
            ride = next(
                (
                    r
                    for r in self.s.relations_of(person)
                    if r.object.concept in lx.RIDEABLES
                    and r.predicate.text in {"riding", "on", "standing on", "sitting on"}
                ),
                None,
            )
            if ride:
                helmet = next(
                    (
                        r
                        for r in self.s.relations_of(person)
                        if r.predicate.text == "wearing" and r.object.noun == "helmet"
                    ),
                    None,
                )
                second = (
                    self.rel_fact(helmet, person.pronoun)
                    if helmet
                    else next(
                        (
                            self.rel_fact(r, person.pronoun)
                            for r in self.s.relations_of(person)
                            if r is not ride and r.predicate.spatial
                        ),
                        None,
                    )
                )
                if second:
                    fall = "fall" if person.plural else "falls"
                    conclusion = (
                        f"a fall is the main risk, and the helmet should protect {person.object_pronoun} from a head injury if {person.pronoun} {fall}"
                        if helmet
                        else f"a fall is the main risk, so {person.pronoun} should ride carefully"
                    )
                    q = self.rng.choice(
                        [f"What risks does {the} face right now?", f"What could go wrong for {the}?"]
                    )
                    out.append(
                        QA(
                            "safety",
                            sentence(q),
                            walk([self.rel_fact(ride, the), second], conclusion, self.rng),
                            (person.index,),
                        )
                    )
        wet = [
            e
            for e in self.s.ranked()
            if "wet" in e.states
            and (e.stuff or e.concept in {"floor", "sidewalk", "street", "road"})
            and self.w.the(e)
        ]
        for surface in wet[:1]:
            walker = next((r for r in self.s.relations_to(surface) if r.subject.person), None)
            if walker:
                facts = [f"{self.w.the(surface)} {be(surface.plural)} wet", self.rel_fact(walker)]
                conclusion = f"{self.w.the(surface)} could be slippery, and anyone walking there should watch their step"
                out.append(
                    QA(
                        "safety",
                        "What could be a safety concern in this scene?",
                        walk(facts, conclusion, self.rng),
                        (surface.index,),
                    )
                )
        for e in self.s.ranked():
            the = self.w.the(e)
            if the is None:
                continue
            where = self.spatial(e)
            if e.concept in {"knife", "scissors"}:
                facts = [self.rel_fact(r) for r in self.holders(e)[:1]]
                if where:
                    facts.append(self.rel_fact(where, e.pronoun if facts else the))
                if e.material_nouns:
                    facts.append(
                        f"{e.pronoun if facts else the} {be(e.plural)} made of {e.material_nouns[0]}"
                    )
                if len(facts) >= 2:
                    conclusion = (
                        f"{the} {be(e.plural)} probably sharp, so {e.pronoun} should be handled with care"
                    )
                    out.append(
                        QA(
                            "safety",
                            sentence(f"Why should someone be careful with {the}?"),
                            walk(facts[:2], conclusion, self.rng),
                            (e.index,),
                        )
                    )
            if e.concept in {"stove", "oven"}:
                on_it = next(
                    (
                        r
                        for r in self.s.relations_to(e)
                        if r.predicate.preposition in {"on", "on top of", "in"}
                    ),
                    None,
                )
                if on_it:
                    second = (
                        f"the setting looks like {article(self.s.place[0])} {self.s.place[0]}"
                        if self.s.place
                        else f"{the} {be(e.plural)} {color_phrase(e.colors)}"
                        if e.colors
                        else ""
                    )
                    if not second:
                        continue
                    facts = [self.rel_fact(on_it), second]
                    conclusion = f"{the} and anything on it may be hot enough to burn someone who touches them carelessly"
                    out.append(
                        QA(
                            "safety",
                            sentence(f"What should people keep in mind around {the}?"),
                            walk(facts, conclusion, self.rng),
                            (e.index,),
                        )
                    )
            if (
                e.concept in {"cord", "cable", "wire"}
                and where
                and where.object.noun in {"floor", "ground", "carpet", "rug"}
            ):
                person = next((p for p in self.s.ranked() if p.person), None)
                if person:
                    second = self.there_is(person) + " in the room"
                    conclusion = f"{the} could be a tripping hazard for anyone walking by"
                    out.append(
                        QA(
                            "safety",
                            "Is there anything someone could trip over here?",
                            walk([self.rel_fact(where, the), second], conclusion, self.rng),
                            (e.index,),
                        )
                    )
        return out

    def place(self) -> list[QA]:
        if not self.s.place:
            return []
        phrase, kind = self.s.place
        evidence = [e for e in self.s.evidence_for(kind) if not e.part][:3]
        if len(evidence) < 2:
            return []
        facts = [
            self.there_is(e) if len(self.s.same_noun(e)) == 1 else f"there are {pluralize(e.noun)}"
            for e in evidence
        ]
        q = self.rng.choice(
            [
                "What kind of place is this, and what makes you think so?",
                "How can you tell where this picture was taken?",
            ]
        )
        conclusion = f"this is most likely {article(phrase)} {phrase}"
        return [QA("place", q, walk(facts, conclusion, self.rng), tuple(e.index for e in evidence))]

    def setting(self) -> list[QA]:
        if not self.s.setting or len(self.s.setting[1]) < 2:
            return []
        where, evidence = self.s.setting
        facts = [
            f"{self.w.mention(e)} {be(e.plural)} visible" if e.stuff or e.mass else self.there_is(e)
            for e in evidence[:2]
        ]
        q = self.rng.choice(
            [
                "Was this picture taken indoors or outdoors, and how do you know?",
                "Is this an indoor or an outdoor scene? Explain.",
            ]
        )
        return [
            QA(
                "setting",
                q,
                walk(facts, f"the picture was most likely taken {where}", self.rng),
                tuple(e.index for e in evidence[:2]),
            )
        ]

    def weather(self) -> list[QA]:
        if not self.s.sky:
            return []
        sky, kind = self.s.sky
        looks = color_phrase(sky.colors) or kind
        facts = [f"the sky is {looks}"]
        wet = next((e for e in self.s.ranked() if "wet" in e.states and self.w.the(e)), None)
        umbrella = next(
            (r for r in self.s.relations if r.object.concept == "umbrella" and r.predicate.kind == "verb"),
            None,
        )
        if kind == "cloudy" and (wet or umbrella):
            if wet:
                facts.append(f"{self.w.the(wet)} {be(wet.plural)} wet")
            if umbrella:
                facts.append(self.rel_fact(umbrella))
            conclusion = "it has probably been raining, or rain may be on the way"
        elif kind == "clear" and self.s.shadows:
            facts.append(
                "things are casting shadows on the ground"
                if any(e.concept == "ground" for e in self.s.entities)
                else "there are shadows"
            )
            conclusion = "it is most likely a sunny day"
        else:
            return []
        q = self.rng.choice(
            ["What can you infer about the weather?", "What does the scene suggest about the weather?"]
        )
        return [QA("weather", q, walk(facts, conclusion, self.rng), (sky.index,))]

    def clothing(self) -> list[QA]:
        out = []
        for person in self.s.ranked():
            the = self.w.the(person)
            if not person.person or the is None:
                continue
            worn = [r for r in self.s.relations_of(person) if r.predicate.text == "wearing"]
            cold = [
                r for r in worn if r.object.noun in lx.COLD_CLOTHES or r.object.concept in lx.COLD_CLOTHES
            ]
            warm = [
                r for r in worn if r.object.noun in lx.WARM_CLOTHES or r.object.concept in lx.WARM_CLOTHES
            ]
            chosen, conclusion = (
                (cold, "the weather is probably cool")
                if cold and not warm
                else (warm, "the weather is probably warm")
                if warm and not cold
                else ([], "")
            )
            if not chosen:
                continue
            facts = [self.rel_fact(chosen[0], the)]
            if len(chosen) > 1:
                facts.append(self.rel_fact(chosen[1], person.pronoun))
            elif self.s.sky:
                facts.append(f"the sky is {color_phrase(self.s.sky[0].colors) or self.s.sky[1]}")
            elif self.s.setting and self.s.setting[0] == "outdoors":
                facts.append(f"{person.pronoun} {be(person.plural)} outdoors")
            if len(facts) < 2:
                continue
            q = self.rng.choice(
                [
                    f"What does the clothing of {the} suggest about the weather?",
                    f"Judging by what {the} is wearing, what might the weather be like?",
                ]
            )
            out.append(QA("clothing", sentence(q), walk(facts, conclusion, self.rng), (person.index,)))
        return out

    def parked(self) -> list[QA]:
        out = []
        for e in self.s.ranked():
            the = self.w.the(e)
            if the is None or not (e.concept in lx.VEHICLES or e.noun in lx.VEHICLES):
                continue
            places = [r for r in self.s.relations_of(e) if r.predicate.kind == "be" and r.predicate.spatial]
            if not ("parked" in e.states or any(r.predicate.participle == "parked" for r in places)):
                continue
            facts = [self.rel_fact(r, the if i == 0 else e.pronoun) for i, r in enumerate(places[:2])]
            if "parked" in e.states and not any(r.predicate.participle == "parked" for r in places[:2]):
                facts.append(f"{e.pronoun if facts else the} {be(e.plural)} parked")
            if len(facts) < 2:
                continue
            q = self.rng.choice(
                [f"Is {the} likely to be moving right now?", f"Is {the} going anywhere at the moment?"]
            )
            conclusion = f"{e.pronoun} {be(e.plural)} most likely standing still rather than moving"
            out.append(QA("state", sentence(q), walk(facts, conclusion, self.rng), (e.index,)))
        return out

    def containers(self) -> list[QA]:
        out = []
        for e in self.s.ranked():
            the = self.w.the(e)
            where = self.spatial(e)
            if the is None or where is None:
                continue
            if "empty" in e.states and e.concept in {"glass", "cup", "mug", "bottle", "plate", "bowl"}:
                conclusion = "whoever used it has probably already finished with it"
            elif "dirty" in e.states and e.concept in {"plate", "bowl", "dish", "cup", "glass"}:
                conclusion = "a meal has probably just been eaten"
            else:
                continue
            facts = [
                f"{the} {be(e.plural)} {'empty' if 'empty' in e.states else 'dirty'}",
                self.rel_fact(where, e.pronoun),
            ]
            out.append(
                QA(
                    "state",
                    sentence(f"What does the state of {the} suggest?"),
                    walk(facts, conclusion, self.rng),
                    (e.index,),
                )
            )
        return out

    def devices(self) -> list[QA]:
        out = []
        for e in self.s.ranked():
            the = self.w.the(e)
            if the is None or "on" not in e.states:
                continue
            user = next((r for r in self.s.relations_to(e) if r.subject.person), None)
            if user is None:
                continue
            facts = [f"{the} {be(e.plural)} on", self.rel_fact(user)]
            out.append(
                QA(
                    "state",
                    sentence(f"Is {the} in use?"),
                    walk(facts, f"{e.pronoun} {be(e.plural)} probably being used right now", self.rng),
                    (e.index,),
                )
            )
        return out

    def attribute_through_relation(self) -> list[QA]:
        """'What color is the shirt the man is wearing?' — the relation picks the thing, the attribute answers."""
        out = []
        for rel in self.s.relations:
            o, subj = rel.object, rel.subject
            the_s = self.w.the(subj)
            if not o.colors or the_s is None or o.stuff:
                continue
            same = [
                r
                for r in self.s.relations_of(subj)
                if r.predicate.text == rel.predicate.text and r.object.noun == o.noun
            ]
            if len(same) != 1 or rel.predicate.kind not in {"verb", "have"}:
                continue
            if rel.predicate.kind == "verb":
                q = f"What color {be(o.plural)} the {o.noun} that {the_s} {be(subj.plural)} {rel.predicate.text}?"
                conclusion = f"the {o.noun} {the_s} {be(subj.plural)} {rel.predicate.text} {be(o.plural)} {color_phrase(o.colors)}"
            elif the_s == f"the {subj.noun}":
                q = f"What color {be(o.plural)} {the_s}'s {o.noun}?"
                conclusion = f"{the_s}'s {o.noun} {be(o.plural)} {color_phrase(o.colors)}"
            else:
                continue
            facts = [
                f"{the_s} {self.w.vp(rel, self.w.a(o, 0))}",
                f"{o.pronoun} {be(o.plural)} {color_phrase(o.colors)}",
            ]
            out.append(
                QA("compose_attr", sentence(q), walk(facts, conclusion, self.rng), (subj.index, o.index))
            )
        for e in self.s.ranked():
            where = self.spatial(e)
            if where is None or not e.colors or e.stuff or self.w.the(where.object) is None:
                continue
            matching = [
                r
                for r in self.s.relations
                if r.subject.noun == e.noun
                and r.predicate.text == where.predicate.text
                and r.object is where.object
            ]
            if len(matching) != 1:
                continue
            obj = self.w.the(where.object)
            q = f"What color {be(e.plural)} the {e.noun} that {be(e.plural)} {where.predicate.text} {obj}?"
            facts = [
                f"{self.w.a(e, 0)} {be(e.plural)} {where.predicate.text} {obj}",
                f"{e.pronoun} {be(e.plural)} {color_phrase(e.colors)}",
            ]
            conclusion = f"the {e.noun} {where.predicate.text} {obj} {be(e.plural)} {color_phrase(e.colors)}"
            out.append(
                QA(
                    "compose_attr",
                    sentence(q),
                    walk(facts, conclusion, self.rng),
                    (e.index, where.object.index),
                )
            )
        return out

    def relation_through_attribute(self) -> list[QA]:
        """'What is the man in the blue shirt holding?' — clothing picks the person, a relation answers."""
        out = []
        for person in self.s.ranked():
            if not person.person:
                continue
            worn = [
                r for r in self.s.relations_of(person) if r.predicate.text == "wearing" and r.object.colors
            ]
            acts = [
                r
                for r in self.s.relations_of(person)
                if r.predicate.kind == "verb"
                and r.predicate.text != "wearing"
                and all(r.object is not w.object for w in worn[:1])  # not "carrying the backpack he wears"
            ]
            if not worn or not acts:
                continue
            item = worn[0].object
            color = item.colors[0]
            rivals = [
                r
                for r in self.s.relations
                if r.predicate.text == "wearing"
                and r.subject.noun == person.noun
                and r.subject is not person
                and r.object.noun == item.noun
                and color in r.object.colors
            ]
            if rivals:
                continue
            act = acts[0]
            carried = item.noun in lx.CARRIED or item.concept in lx.CARRIED
            who = f"the {person.noun} {'with' if carried else 'in'} the {color} {item.noun}"
            q = f"What {be(person.plural)} {who} {act.predicate.text}?"
            facts = [
                f"the {person.noun} {be(person.plural)} wearing {self.w.a(item, 1)}",
                f"{person.pronoun} {be(person.plural)} also {act.predicate.text} {self.w.object_np(act)}",
            ]
            conclusion = f"{who} {be(person.plural)} {act.predicate.text} {self.w.object_np(act)}"
            out.append(
                QA(
                    "compose_rel",
                    sentence(q),
                    walk(facts, conclusion, self.rng),
                    (person.index, act.object.index),
                )
            )
        return out

    def compare_counts(self) -> list[QA]:
        counts = [
            (c, n)
            for c, n in self.s.countable_concepts()
            if c not in lx.WEARABLES and (c == "person" or c not in lx.FAMILIES["person"])
        ]
        out = []
        for i, (ca, na) in enumerate(counts):
            for cb, nb in counts[i + 1 :]:
                if na == nb == 1:
                    continue
                sa, sb = self._singular(ca), self._singular(cb)
                pa, pb = pluralize(sa), pluralize(sb)
                facts = [self._count_fact(na, sa), self._count_fact(nb, sb)]
                if na == nb:
                    conclusion = f"there are exactly as many {pa} as {pb}"
                else:
                    more, fewer = (pa, pb) if na > nb else (pb, pa)
                    conclusion = f"there are more {more} than {fewer}"
                q = self.rng.choice(
                    [f"Are there more {pa} or more {pb} here?", f"Which are there more of, {pa} or {pb}?"]
                )
                out.append(
                    QA("compare_count", q, walk(facts, conclusion, self.rng), (), fact=("count", ca, cb))
                )
        return out

    def _singular(self, concept: str) -> str:
        if concept == "person":
            return "person"
        return singularize(next(e.noun for e in self.s.entities if e.concept == concept))

    @staticmethod
    def _count_fact(n: int, noun: str) -> str:
        return f"there {'is' if n == 1 else 'are'} {count_phrase(n, noun)}"

    def in_common(self) -> list[QA]:
        out = []
        pool = [
            e for e in self.s.ranked() if not (e.part or e.person or e.noun in lx.WEARABLES) and self.w.the(e)
        ]
        for i, a in enumerate(pool[:10]):
            for b in pool[i + 1 : 10]:
                if a.noun == b.noun:
                    continue
                ta, tb = self.w.the(a), self.w.the(b)
                shared_color = [c for c in a.colors if c in b.colors]
                shared_material = [m for m in a.material_nouns if m in b.material_nouns]
                if shared_color and not names_color(ta, a) and not names_color(tb, b):
                    facts = [
                        f"{ta} {be(a.plural)} {shared_color[0]}",
                        f"{tb} {be(b.plural)} {shared_color[0]} as well",
                    ]
                    conclusion = f"both are {shared_color[0]}"
                elif shared_material:
                    facts = [
                        f"{ta} {be(a.plural)} made of {shared_material[0]}",
                        f"{tb} {be(b.plural)} also made of {shared_material[0]}",
                    ]
                    conclusion = f"both are made of {shared_material[0]}"
                else:
                    continue
                q = self.rng.choice(
                    [f"What do {ta} and {tb} have in common?", f"Is there anything {ta} and {tb} share?"]
                )
                out.append(QA("common", sentence(q), walk(facts, conclusion, self.rng), (a.index, b.index)))
        return out

    def outfit(self) -> list[QA]:
        out = []
        for person in self.s.ranked():
            the = self.w.the(person)
            worn = [
                r for r in self.s.relations_of(person) if r.predicate.text == "wearing" and r.object.colors
            ]
            if the is None or len(worn) < 2:
                continue
            facts = [self.rel_fact(worn[0], the)] + [self.rel_fact(r, person.pronoun) for r in worn[1:3]]
            colors = list(dict.fromkeys(r.object.colors[0] for r in worn[:3]))
            conclusion = f"{person.pronoun} {be(person.plural)} dressed mainly in {join_and(colors)}"
            q = self.rng.choice(
                [
                    f"What colors is {the} dressed in?",
                    f"How would you sum up the colors of the outfit of {the}?",
                ]
            )
            out.append(QA("outfit", sentence(q), walk(facts, conclusion, self.rng), (person.index,)))
        return out

    def _direction(self, a: Entity, b: Entity) -> str | None:
        """Where a is relative to b, when clear."""
        if self.s.left_of(a, b):
            return "to the left of"
        if self.s.left_of(b, a):
            return "to the right of"
        if self.s.above(a, b):
            return "above"
        if self.s.above(b, a):
            return "below"
        return None

    def proximity(self) -> list[QA]:
        """'Which is closer to the man, the dog or the car?' from box centres, with a clear margin."""
        out = []
        pool = [e for e in self.s.ranked() if self.s.groundable(e) and not e.part and self.w.the(e)][:6]
        diag = math.hypot(self.s.width, self.s.height)
        for x in pool:
            others = [e for e in pool if e is not x and e.noun != x.noun and self.s.separate(e, x)]
            dist = {e.index: math.dist(center(e.box), center(x.box)) / diag for e in others}
            ranked = sorted(others, key=lambda e: dist[e.index])
            if len(ranked) < 2:
                continue
            near, far = ranked[0], ranked[-1]
            if dist[far.index] < 1.8 * dist[near.index] or dist[near.index] > 0.25:
                continue
            d_near, d_far = self._direction(near, x), self._direction(far, x)
            if not d_near or not d_far:
                continue
            tx, tn, tf = self.w.the(x), self.w.the(near), self.w.the(far)
            facts = [
                f"{tn} {be(near.plural)} just {d_near} {tx}",
                f"{tf} {be(far.plural)} much farther away, {d_far} {x.object_pronoun}",
            ]
            pair = [tn, tf]
            self.rng.shuffle(pair)
            q = f"Which is closer to {tx}, {pair[0]} or {pair[1]}?"
            out.append(
                QA(
                    "proximity",
                    sentence(q),
                    walk(facts, f"{tn} {be(near.plural)} closer to {tx}", self.rng),
                    (x.index, near.index, far.index),
                )
            )
        return out

    def layout(self) -> list[QA]:
        out = []
        zoned = [
            (e, self.s.horizontal_zone(e))
            for e in self.s.ranked()
            if self.s.groundable(e) and not e.part and self.w.the(e)
        ]
        zoned = [(e, z) for e, z in zoned if z in {"left", "right"}]
        for a, za in zoned[:4]:
            for b, zb in zoned[:4]:
                if za == "left" and zb == "right" and a.noun != b.noun:
                    ta, tb = self.w.the(a), self.w.the(b)
                    facts = [
                        f"{ta} {be(a.plural)} on the left side of the picture",
                        f"{tb} {be(b.plural)} on the right side",
                    ]
                    q = f"Starting from {ta}, which way would you go to reach {tb}?"
                    out.append(
                        QA(
                            "layout",
                            sentence(q),
                            walk(facts, "you would head to the right", self.rng),
                            (a.index, b.index),
                        )
                    )
        return out[:2]


def reasoning_qa(scene: Scene, rng: random.Random, *, n: int = 15) -> list[dict]:
    if not scene.entities:
        return []
    picker = Picker(rng)
    candidates = Reasoner(scene, rng).candidates()
    chosen = picker.pick(candidates, n, per_focus=3, per_kind=3)
    if len(chosen) < n:  # a scene rich in one kind of fact still deserves its full count
        chosen += picker.pick(candidates, n - len(chosen), per_focus=3, per_kind=5)
    return [{"question": qa.question, "answer": qa.answer} for qa in chosen]
