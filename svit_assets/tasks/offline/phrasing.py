"""Noun phrases and verb phrases for scene facts, in plain text or with inline grounded references.

One :class:`Writer` renders every mention, so the same question code yields "the man" for conversations
and "the <st>man<ed> [0.1, 0.2, 0.3, 0.9]" for the referring task, and a plain-text mention is only ever
definite when it picks out one thing ("the red car", "the man on the left").
"""

from __future__ import annotations

from . import lexicon as lx
from .english import PREPOSITIONS, article, be, join_and, third_person
from .scene import Entity, Relation, Scene


def _finite_forms() -> dict[str, str]:
    """'sitting on' → 'sits on', 'looking at' → 'looks at': the -s form of each -ing predicate the lexicon knows.

    Only -ing participles: "is parked on" is a passive and has no active twin.
    """
    out: dict[str, str] = {}
    for participle, forms in (*lx.PARTICIPLES.items(), *lx.VERBS.items()):
        head = participle.split()[0]
        if not head.endswith("ing"):
            continue
        rest = participle[len(head) :]
        for form in forms:
            word = form.split()[0]
            fits = word.endswith("s") and word[:2] == head[:2] and form[len(word) :] in {"", rest}
            if fits and len(word) > len(out.get(head, "")):
                out[head] = word
    out["lying"] = "lies"
    return out


FINITE = _finite_forms()


def color_phrase(colors: list[str]) -> str:
    colors = colors[:3]
    if set(colors) == {"black", "white"}:
        colors = ["black", "white"]  # the idiomatic order
    return join_and(colors)


_LOCATIVE = PREPOSITIONS - {
    "and",
    "or",
    "as",
    "while",
    "than",
    "like",
    "with",
    "of",
    "for",
    "to",
    "up",
    "off",
    "out",
}


def _head(phrase: str) -> str:
    """The verb of a verb phrase, past a leading 'is'/'are'/'also'."""
    words = [w for w in phrase.split() if w not in {"is", "are", "also"}]
    return words[0] if words else ""


def join_phrases(items: list[str]) -> str:
    """Verb phrases joined the way people say them.

    A participle said twice is said once ("standing next to the car and on the street"); bare locations go
    before actions, after a comma ("is behind the plate, holding a bat", never "holding a bat behind the
    plate", which would say where the bat is); two phrases of which the first has its own "and" get a comma.
    """
    out: list[str] = []
    for item in filter(None, items):
        if out:
            prev_head, head = _head(out[-1]), item.split()[0]
            if head == prev_head and head.endswith(("ing", "ed")) and len(item.split()) > 1:
                out[-1] = f"{out[-1]} and {item[len(head) + 1 :]}"
                continue
        out.append(item)
    if len(out) > 1:
        aux = out[0].split()[0] if out[0].split()[0] in {"is", "are"} else ""
        bodies = [out[0][len(aux) + 1 :] if aux else out[0], *out[1:]]
        places = [b for b in bodies if b.split()[0] in _LOCATIVE and len(b.split()) > 1]  # not "is on" (lit)
        actions = [b for b in bodies if b not in places]
        if places and actions and all(a.split()[0].endswith("ing") for a in actions):
            return " ".join(filter(None, [aux, f"{join_and(places)}, {join_and(actions)}"]))
    if len(out) == 2 and " and " in out[0]:
        return f"{out[0]}, and {out[1]}"
    return join_and(out)


class Writer:
    def __init__(self, scene: Scene, *, grounded: bool = False) -> None:
        self.scene = scene
        self.grounded = grounded

    # --- nouns ----------------------------------------------------------------------------------------

    def ref(self, e: Entity) -> str:
        """The bare noun of a mention; in grounded mode the annotated name with its normalised box."""
        if not self.grounded:
            return e.noun
        x1, y1, x2, y2 = e.box.normalized(self.scene.width, self.scene.height)
        return f"<st>{e.name}<ed> [{x1:.3f}, {y1:.3f}, {x2:.3f}, {y2:.3f}]"

    def adjectives(self, e: Entity, limit: int) -> list[str]:
        """Up to ``limit`` adjectives, picked color > material > size > pattern, said in English order."""
        if limit <= 0:
            return []
        skip = set(e.name_adjs) if self.grounded else set()
        colors = [c for c in e.colors if c not in skip]
        materials = [m for m in e.material_adjs if m not in skip]
        sizes = [s for s in (*e.sizes, *e.ages) if s not in skip]
        ranked = [  # (position in the phrase, word), in order of preference
            (3, color_phrase(colors[:2]) if colors else ""),
            (4, materials[0] if materials else ""),
            (0, sizes[0] if sizes else ""),
            (3.5, e.patterns[0] if e.patterns else ""),
        ]
        chosen = [(pos, word) for pos, word in ranked if word][:limit]
        return [word for _, word in sorted(chosen)]

    def _unique_plain(self, e: Entity) -> str | None:
        same = self.scene.same_noun(e)
        if len(same) == 1:
            return f"the {e.noun}"
        if e.colors and sum(1 for o in same if e.colors[0] in o.colors) == 1:
            return f"the {e.colors[0]} {e.noun}"
        if len(same) == 2:
            other = same[0] if same[1] is e else same[1]
            if self.scene.left_of(e, other):
                return f"the {e.noun} on the left"
            if self.scene.left_of(other, e):
                return f"the {e.noun} on the right"
        return None

    def the(self, e: Entity, adjs: int = 0) -> str | None:
        """A definite mention, or None in plain text when it would not single the thing out."""
        if self.grounded:
            return " ".join(["the", *self.adjectives(e, adjs), self.ref(e)])
        base = self._unique_plain(e)
        if base is None:
            return None
        if adjs and base == f"the {e.noun}":
            return " ".join(["the", *self.adjectives(e, adjs), e.noun])
        return base

    def a(self, e: Entity, adjs: int = 1) -> str:
        """An indefinite mention: 'a red car', 'an umbrella', 'black shoes', 'brown hair'."""
        adjectives = self.adjectives(e, adjs)
        words = [*adjectives, self.ref(e)]
        if e.plural or e.mass:
            return " ".join(words)
        first = adjectives[0] if adjectives else e.name if self.grounded else e.noun
        return f"{article(first)} {' '.join(words)}"

    def mention(self, e: Entity, adjs: int = 0) -> str:
        """Definite when that identifies it (or for scene surfaces), indefinite otherwise."""
        return self.the(e, adjs) or (f"the {e.noun}" if e.stuff and not self.grounded else self.a(e, adjs))

    # --- verbs ------------------------------------------------------------------------------------------

    def object_np(self, rel: Relation) -> str:
        """The object of a relation; one of two same-named things is 'another tomato', never 'a tomato'."""
        o = rel.object
        if not self.grounded and o.noun == rel.subject.noun:
            return f"{'other' if o.plural or o.mass else 'another'} {o.noun}"
        if rel.predicate.kind in {"verb", "have", "contain"} and not o.stuff:
            return self.a(o, 1)
        return self.mention(o, 0)

    def vp(
        self, rel: Relation, obj: str | None = None, *, plural: bool | None = None, form: str = "progressive"
    ) -> str:
        """The verb phrase of a relation with agreement: 'is sitting on the bench', 'has brown hair'.

        ``plural`` overrides the subject's number, for compound subjects ("the chair and a towel are").
        ``form``: 'progressive' ("is holding a cup"), 'present' ("holds a cup", singular subjects and -ing
        predicates only, else progressive) or 'participle' ("holding a cup", "on the table", "with brown
        hair"), for "there is a man holding a cup".
        """
        plural = rel.subject.plural if plural is None else plural
        obj = obj if obj is not None else self.object_np(rel)
        kind, text = rel.predicate.kind, rel.predicate.text
        if kind == "have":
            return f"with {obj}" if form == "participle" else f"{third_person('has', plural)} {obj}"
        if kind == "contain":
            return (
                f"containing {obj}" if form == "participle" else f"{third_person('contains', plural)} {obj}"
            )
        if form == "participle":
            return f"{text} {obj}"
        head, _, rest = text.partition(" ")
        if form == "present" and not plural and head in FINITE:
            return " ".join(w for w in (FINITE[head], rest, obj) if w)
        return f"{be(plural)} {text} {obj}"

    def worn_phrase(self, rels: list[Relation]) -> str:
        """'in a red apron and a white shirt', 'with a blue backpack', 'in a cap, with a leash'."""
        worn = [r for r in rels if r.object.noun not in lx.CARRIED and r.object.concept not in lx.CARRIED]
        carried = [r for r in rels if r not in worn]
        parts = []
        if worn:
            parts.append("in " + join_and([self.a(r.object, 1) for r in worn]))
        if carried:
            parts.append("with " + join_and([self.a(r.object, 1) for r in carried]))
        return " ".join(parts)

    def join_vps(self, vps: list[str]) -> str:
        """'is walking on the street' + 'is carrying a bag' → 'is walking on the street and carrying a bag'."""
        if not vps:
            return ""
        out = [vps[0]]
        aux = vps[0].split()[0]
        for vp in vps[1:]:
            out.append(vp[len(aux) + 1 :] if vp.split()[0] == aux and aux in {"is", "are"} else vp)
        return join_phrases(out)

    def worn(self, e: Entity) -> list[Relation]:
        return [r for r in self.scene.relations_of(e) if r.predicate.text == "wearing"]

    def actions(self, e: Entity, *, exclude_wearing: bool = True) -> list[Relation]:
        """Relations worth saying about a subject, actions before locations before possessions."""
        order = {"verb": 0, "be": 1, "contain": 2, "made_of": 3, "have": 4}
        rels = []
        for r in self.scene.relations_of(e):
            if exclude_wearing and r.predicate.text == "wearing":
                continue
            if r.object.part and not (r.predicate.kind == "have" and e.animate):
                continue  # "the car has a wheel" says little; "the man has brown hair" is worth saying
            if any(x.object is r.object for x in rels):
                continue  # "on the beach and on top of the beach"
            rels.append(r)
        return sorted(rels, key=lambda r: (order[r.predicate.kind], -int(r.predicate.spatial)))

    def state_vp(self, e: Entity, relations: list[Relation] = ()) -> str | None:
        """'is parked' — unless a relation already says it ('is parked on the street')."""
        said = {r.predicate.participle for r in relations}
        # "standing" next to "sitting on the bench" contradicts itself: the relation wins
        states = [s for s in e.states if s not in said and lx.STATES.get(s) not in said]
        return f"{be(e.plural)} {join_and(states[:2])}" if states else None
