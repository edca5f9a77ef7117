"""Noun phrases and verb phrases for scene facts, in plain text or with inline grounded references.

One :class:`Writer` renders every mention, so the same question code yields "the man" for conversations
and "the <st>man<ed> [0.1, 0.2, 0.3, 0.9]" for the referring task, and a plain-text mention is only ever
definite when it picks out one thing ("the red car", "the man on the left").
"""

from __future__ import annotations

from . import lexicon as lx
from .english import article, be, join_and, third_person
from .scene import Entity, Relation, Scene


def color_phrase(colors: list[str]) -> str:
    colors = colors[:3]
    if set(colors) == {"black", "white"}:
        colors = ["black", "white"]  # the idiomatic order
    return join_and(colors)


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
        o = rel.object
        if rel.predicate.kind in {"verb", "have", "contain"} and not o.stuff:
            return self.a(o, 1)
        return self.mention(o, 0)

    def vp(self, rel: Relation, obj: str | None = None, *, plural: bool | None = None) -> str:
        """The verb phrase of a relation with agreement: 'is sitting on the bench', 'has brown hair'.

        ``plural`` overrides the subject's number, for compound subjects ("the chair and a towel are").
        """
        plural = rel.subject.plural if plural is None else plural
        obj = obj if obj is not None else self.object_np(rel)
        kind = rel.predicate.kind
        if kind == "have":
            return f"{third_person('has', plural)} {obj}"
        if kind == "contain":
            return f"{third_person('contains', plural)} {obj}"
        return f"{be(plural)} {rel.predicate.text} {obj}"

    def join_vps(self, vps: list[str]) -> str:
        """'is walking on the street' + 'is carrying a bag' → 'is walking on the street and carrying a bag'."""
        if not vps:
            return ""
        out = [vps[0]]
        aux = vps[0].split()[0]
        for vp in vps[1:]:
            out.append(vp[len(aux) + 1 :] if vp.split()[0] == aux and aux in {"is", "are"} else vp)
        return join_and(out)

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
