"""Scene facts: the deduplicated, normalised view of one image that every offline task is written from.

An ``ImageAnnotations`` row is noisy — the same man boxed three times, "ON" and "on top if" as predicates,
"grey" next to "gray". :class:`Scene` reduces it to entities (objects merged by name and IoU ≥ 0.9, with
typed attributes), relations whose predicates the generator knows how to say, and derived facts (reliable
counts, unambiguous left/right, place, indoor/outdoor, sky). Questions are only ever asked about these.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

from svit_assets.annotations import Box, ImageAnnotations

from . import lexicon as lx
from .english import NUMBER_WORDS, PLURALIA_TANTUM, clean_text, is_plural, number_word, pluralize, singularize

MERGE_IOU = 0.9
# Two same-name boxes overlapping this much but not merged are probably one thing boxed twice.
AMBIGUOUS_IOU = 0.5


def normalize_name(raw: str) -> str | None:
    """A VG object name as it can appear in a sentence, or None for junk ("see grey desk.", "red")."""
    name = clean_text(raw)
    name = lx.SPELLING.get(name, name)
    if not name or not re.fullmatch(r"[a-z]+(?:[ -][a-z]+){0,2}", name):
        return None
    words = name.split()
    if (
        any(w in lx.NAME_STOPWORDS or w in NUMBER_WORDS for w in words)
        or name in lx.JUNK_NAMES
        or name in lx.COLORS
        or name in lx.COLOR_ALIASES
        or singularize(name) in lx.JUNK_NAMES
    ):
        return None
    return name


def split_leading_adjectives(name: str) -> tuple[str, tuple[str, ...]]:
    """'red shirt' → ('shirt', ('red',)): VG names sometimes carry a color or material."""
    words = name.split()
    adjs: list[str] = []
    while len(words) > 1 and (words[0] in lx.COLORS or words[0] in lx.MATERIALS or words[0] in lx.SIZES):
        adjs.append(words.pop(0))
    return " ".join(words), tuple(adjs)


def concept_of(noun: str) -> str:
    """The counting key of a noun: singular, with synonyms folded (bikes → bicycle, sofa → couch)."""
    noun = lx.SPELLING.get(noun, noun)
    if noun in lx.SYNONYMS:
        return lx.SYNONYMS[noun]
    single = singularize(noun)
    return lx.SYNONYMS.get(single, single)


def families_of(concept: str) -> list[frozenset[str]]:
    return [members for members in lx.FAMILIES.values() if concept in members]


@dataclass(frozen=True)
class Attribute:
    kind: str  # color | material | state | size | age | shape | pattern | other
    value: str


def normalize_attribute(raw: str) -> Attribute | None:
    text = clean_text(raw)
    text = re.sub(r"\b(colou?red|colou?r)\b", "", text).strip() or text
    text = lx.COLOR_ALIASES.get(text, text)
    if text in lx.COLORS:
        return Attribute("color", text)
    if text in lx.MATERIALS:
        return Attribute("material", text)
    text = lx.STATE_ALIASES.get(text, text)
    if text in lx.STATES:
        return Attribute("state", text)
    if text in lx.SIZES:
        return Attribute("size", text)
    if text in lx.AGES:
        return Attribute("age", text)
    if text in lx.SHAPES:
        return Attribute("shape", lx.SHAPES[text])
    if text in lx.PATTERNS:
        return Attribute("pattern", text)
    if text in {
        "indoors",
        "indoor",
        "outdoors",
        "outdoor",
        "sunny",
        "cloudy",
        "overcast",
        "clear",
        "daytime",
    }:
        return Attribute("other", text)
    return None


@dataclass(frozen=True)
class Predicate:
    """A predicate the generator can say. ``kind``: be (after is/are), verb (progressive), have, contain, made_of."""

    text: str
    kind: str
    spatial: bool = False

    @property
    def participle(self) -> str:
        """'sitting on' → 'sitting'; bare prepositions give ''."""
        first = self.text.split()[0]
        return first if self.kind == "be" and first in lx.PARTICIPLES else ""

    @property
    def preposition(self) -> str:
        return self.text[len(self.participle) :].strip() if self.kind == "be" else ""


def _prep(text: str) -> str | None:
    text = lx.PREP_ALIASES.get(text, text)
    return text if text in lx.SPATIAL_PREPS else None


def normalize_predicate(raw: str) -> Predicate | None:
    """'ON' → on, 'WEARING' → wearing, 'are sitting on' → sitting on, 'has a' → has; unknown → None."""
    text = clean_text(raw)
    text = re.sub(r"^(is|are|was|were|be)\s+", "", text)
    text = re.sub(r"\s+(a|an|the|some)$", "", text)
    if not text:
        return None
    if text in lx.MADE_OF:
        return Predicate("made of", "made_of")
    if text in lx.HAVE:
        return Predicate("has", "have")
    if text in {"contains", "contain", "containing"}:
        return Predicate("contains", "contain")
    if text in {"full of", "filled with"}:
        return Predicate("filled with", "be")
    if text == "part of":
        return Predicate("part of", "be")
    for verb, forms in lx.VERBS.items():
        if text == verb or text in forms:
            return Predicate(verb, "verb")
    prep = _prep(text)
    if prep:
        return Predicate(prep, "be", spatial=prep not in {"from", "through", "down"})
    first, _, rest = text.partition(" ")
    participle = next((p for p, forms in lx.PARTICIPLES.items() if first == p or first in forms), None)
    if participle is None or not rest:
        return None
    participle = lx.PARTICIPLE_ALIASES.get(participle, participle)
    if rest in {"with", "by", "in"} and participle in {"covered", "filled", "surrounded", "lined"}:
        joined = f"{participle} {'in' if participle == 'covered' else rest}"
        return Predicate(joined, "be")
    prep = _prep(rest)
    if prep is None:
        return None
    if participle == "plugged":
        prep = "into"
    joined = f"{participle} {prep}"
    return Predicate(joined, "be", spatial=joined not in lx.NON_SPATIAL)


@dataclass
class Entity:
    """One physical thing: annotated objects with the same concept and IoU ≥ 0.9 merged."""

    index: int
    name: str  # the annotated name, used verbatim inside <st>…<ed>
    noun: str  # the name without leading adjectives, used in plain sentences
    name_adjs: tuple[str, ...]
    concept: str
    object_ids: list[int]
    box: Box
    colors: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    sizes: list[str] = field(default_factory=list)
    ages: list[str] = field(default_factory=list)
    shapes: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)

    @property
    def plural(self) -> bool:
        return is_plural(self.noun)

    @property
    def mass(self) -> bool:
        return self.noun in lx.MASS or self.concept in lx.MASS

    @property
    def stuff(self) -> bool:
        return self.noun in lx.STUFF or self.concept in lx.STUFF

    @property
    def part(self) -> bool:
        return self.concept in lx.PARTS or self.noun in lx.PARTS

    @property
    def person(self) -> bool:
        return self.concept in lx.FAMILIES["person"] or self.concept == "person"

    @property
    def animal(self) -> bool:
        return self.concept in lx.ANIMALS

    @property
    def animate(self) -> bool:
        return self.person or self.animal

    @property
    def pronoun(self) -> str:
        if self.plural:
            return "they"
        if self.concept in lx.MALE:
            return "he"
        if self.concept in lx.FEMALE:
            return "she"
        if self.person:  # "it" is wrong for a surfer and "they is" worse: name them again
            return f"the {self.noun}"
        return "it"

    @property
    def object_pronoun(self) -> str:
        return {"he": "him", "she": "her", "they": "them", "it": "it"}.get(self.pronoun, self.pronoun)

    @property
    def material_nouns(self) -> list[str]:
        return [lx.MATERIALS[m][1] for m in self.materials]

    @property
    def material_adjs(self) -> list[str]:
        return list(dict.fromkeys(lx.MATERIALS[m][0] for m in self.materials))

    def add_attribute(self, attr: Attribute) -> None:
        target = {
            "color": self.colors,
            "material": self.materials,
            "state": self.states,
            "size": self.sizes,
            "age": self.ages,
            "shape": self.shapes,
            "pattern": self.patterns,
            "other": self.other,
        }[attr.kind]
        if attr.kind == "material" and any(lx.MATERIALS[m][1] == lx.MATERIALS[attr.value][1] for m in target):
            return
        if attr.value not in target:
            target.append(attr.value)

    def tidy(self) -> None:
        """Drop contradictory or misapplied attributes (open+closed, 'on' on a shirt, 'walking' lamp)."""
        self.states = [
            s
            for s in self.states
            if not (lx.STATES.get(s) and lx.STATES[s] in self.states)
            and (s not in {"on", "off"} or self.concept in lx.SWITCHABLE or self.noun in lx.SWITCHABLE)
            and (s not in lx.ANIMATE_STATES or self.animate)
        ]
        if any(len(conflict & set(self.sizes)) > 1 for conflict in lx.SIZE_CONFLICTS):
            self.sizes = []
        if len(self.ages) > 1:
            self.ages = []
        if len(set(self.material_nouns)) > 1:
            self.materials = []
        self.colors = [] if self.person else self.colors[:3]  # "white man" is not a color fact


@dataclass(frozen=True)
class Relation:
    subject: Entity
    predicate: Predicate
    object: Entity


def center(box: Box) -> tuple[float, float]:
    return box.x + box.w / 2, box.y + box.h / 2


def _overlap(a1: float, a2: float, b1: float, b2: float) -> float:
    return max(0.0, min(a2, b2) - max(a1, b1))


class Scene:
    """Facts about one image, in the generator's vocabulary."""

    def __init__(self, image: ImageAnnotations) -> None:
        self.image = image
        self.width = float(image.width or 1)
        self.height = float(image.height or 1)
        self.captions = [c for c in (_clean_caption(c) for c in image.captions) if c]
        self.caption_text = " | ".join(self.captions).lower()
        self.phrases = [clean_text(r.phrase) for r in image.regions if clean_text(r.phrase)]
        self.entities: list[Entity] = []
        self._by_object: dict[int, Entity] = {}
        self._counts: dict[str, int | None] = {}

        self._build_entities()
        self.relations = self._build_relations()

    # --- construction ------------------------------------------------------------------------------

    def _build_entities(self) -> None:
        for obj in self.image.objects:
            name = next((n for n in (normalize_name(c) for c in (obj.name, *obj.names)) if n), None)
            if name is None or obj.box.w <= 0 or obj.box.h <= 0:
                continue
            noun, name_adjs = split_leading_adjectives(name)
            concept = concept_of(noun)
            entity = next(
                (e for e in self.entities if e.concept == concept and e.box.iou(obj.box) >= MERGE_IOU), None
            )
            if entity is None:
                entity = Entity(len(self.entities), name, noun, name_adjs, concept, [], obj.box)
                self.entities.append(entity)
                for adj in name_adjs:
                    attr = normalize_attribute(adj)
                    if attr:
                        entity.add_attribute(attr)
            entity.object_ids.append(obj.object_id)
            self._by_object[obj.object_id] = entity
            for raw in obj.attributes:
                attr = normalize_attribute(raw)
                if attr:
                    entity.add_attribute(attr)
        for entity in self.entities:
            entity.tidy()

    def _resolve(self, object_id: int, name: str) -> Entity | None:
        """The entity of a relationship end: by object id, else the only entity carrying that name."""
        if object_id in self._by_object:
            return self._by_object[object_id]
        clean = normalize_name(name)
        if clean is None:
            return None
        matches = [e for e in self.entities if e.name == clean]
        return matches[0] if len(matches) == 1 else None

    def _build_relations(self) -> list[Relation]:
        seen: set[tuple[int, str, int]] = set()
        relations: list[Relation] = []
        for rel in self.image.relationships:
            predicate = normalize_predicate(rel.predicate)
            subject = self._resolve(rel.subject_id, rel.subject_name)
            obj = self._resolve(rel.object_id, rel.object_name)
            if predicate is None or subject is None or obj is None or subject is obj:
                continue
            if subject.noun == obj.noun and predicate.text in {"on", "in", "on top of", "inside"}:
                continue  # "counter on counter": a mislabelled box, not a fact
            worn = obj.noun in lx.WEARABLES or obj.concept in lx.WEARABLES
            if subject.person and worn and predicate.text in {"in", "has"}:
                predicate = Predicate("wearing", "verb")
            if predicate.kind == "made_of":  # "table made of wood" is a material, not a relation
                attr = normalize_attribute(obj.noun)
                if attr and attr.kind == "material":
                    subject.add_attribute(attr)
                    subject.tidy()
                continue
            key = (subject.index, predicate.text, obj.index)
            if key in seen:
                continue
            seen.add(key)
            relations.append(Relation(subject, predicate, obj))
        for rel in relations:  # "sitting on the street" overrules a "standing" attribute
            subject = rel.subject
            subject.states = [s for s in subject.states if lx.STATES.get(s) != rel.predicate.participle]
        return relations

    # --- lookups -------------------------------------------------------------------------------------

    def relations_of(self, entity: Entity) -> list[Relation]:
        return [r for r in self.relations if r.subject is entity]

    def relations_to(self, entity: Entity) -> list[Relation]:
        return [r for r in self.relations if r.object is entity]

    def same_noun(self, entity: Entity) -> list[Entity]:
        return [e for e in self.entities if e.noun == entity.noun]

    def frac_area(self, entity: Entity) -> float:
        return entity.box.area / (self.width * self.height)

    def huge(self, entity: Entity) -> bool:
        return self.frac_area(entity) > 0.4 or entity.box.w > 0.8 * self.width

    def worn(self, entity: Entity) -> bool:
        return any(r.predicate.text == "wearing" for r in self.relations_to(entity))

    def groundable(self, entity: Entity) -> bool:
        """Suitable for position and size comparisons: a compact, countable thing that is not being worn."""
        return not (
            entity.stuff
            or entity.mass
            or entity.part
            or self.huge(entity)
            or entity.plural
            or self.worn(entity)
        )

    @cached_property
    def salience(self) -> dict[int, float]:
        """How central each entity is: people and animals first, then well-connected and sizeable things."""
        scores = {}
        for e in self.entities:
            links = sum(
                1 for r in self.relations if e in (r.subject, r.object) and r.predicate.kind != "have"
            )
            attrs = len(e.colors) + len(e.materials) + len(e.states)
            score = (3.0 if e.person else 2.0 if e.animal else 0.0) + links + 0.5 * attrs
            score += 2.0 * min(self.frac_area(e), 0.25) ** 0.5
            if e.stuff or e.part:
                score -= 3.0
            scores[e.index] = score
        return scores

    def ranked(self) -> list[Entity]:
        return sorted(self.entities, key=lambda e: (-self.salience[e.index], e.index))

    # --- text evidence -------------------------------------------------------------------------------

    @cached_property
    def corpus(self) -> str:
        """Every word written about the image, for deciding what is certainly *not* mentioned."""
        texts = [self.caption_text, *self.phrases]
        for obj in self.image.objects:
            texts.extend(clean_text(n) for n in (obj.name, *obj.names))
            texts.extend(clean_text(a) for a in obj.attributes)
        for rel in self.image.relationships:
            texts.extend((clean_text(rel.subject_name), clean_text(rel.object_name)))
        texts.extend(clean_text(i.category) for i in self.image.instances)
        return " | ".join(t for t in texts if t)

    def mentions(self, noun: str) -> bool:
        forms = {noun, pluralize(noun), singularize(noun)}
        return any(re.search(rf"\b{re.escape(f)}\b", self.corpus) for f in forms)

    def absent(self, concept: str) -> bool:
        """True only when nothing written about the image could refer to the concept or a look-alike."""
        related = {concept}
        for members in families_of(concept):
            related |= members
        related |= {k for k, v in lx.SYNONYMS.items() if v in related}
        if any(e.concept in related for e in self.entities):
            return False
        return not any(self.mentions(noun) for noun in related)

    # --- derived facts ------------------------------------------------------------------------------

    @cached_property
    def place(self) -> tuple[str, str] | None:
        """(place phrase, scene kind) when a place word is written about the image (captions first)."""
        for source in (
            self.caption_text,
            " | ".join(self.phrases),
            " | ".join(e.name for e in self.entities),
        ):
            counts = Counter()
            for phrase, kind in lx.PLACES:
                hits = len(re.findall(rf"\b{phrase}s?\b", source))
                if hits and not any(phrase in longer and longer in source for longer, _ in counts):
                    counts[(phrase, kind)] = hits
            if counts:
                return max(counts.items(), key=lambda kv: (kv[1], len(kv[0][0])))[0]
        return None

    @cached_property
    def scene_kind(self) -> str:
        """The kind of scene, from a place word or else from typical objects (used for plausible negatives)."""
        if self.place:
            return self.place[1]
        present = {e.concept for e in self.entities} | {e.noun for e in self.entities}
        best = max(lx.SCENE_EVIDENCE.items(), key=lambda kv: (len(kv[1] & present), kv[0]))
        return best[0] if len(best[1] & present) >= 2 else ""

    def evidence_for(self, kind: str) -> list[Entity]:
        typical = lx.SCENE_EVIDENCE.get(kind, set())
        found: dict[str, Entity] = {}
        for e in self.ranked():
            if (e.noun in typical or e.concept in typical) and e.concept not in found:
                found[e.concept] = e
        return list(found.values())

    @cached_property
    def setting(self) -> tuple[str, list[Entity]] | None:
        """('indoors' | 'outdoors', evidence entities) when the evidence points one way only."""

        def evidence(words: tuple[str, ...]) -> list[Entity]:
            rank = {w: i for i, w in enumerate(words)}
            found = [e for e in self.entities if e.noun in rank or e.concept in rank]
            return sorted(found, key=lambda e: min(rank.get(e.noun, 99), rank.get(e.concept, 99)))

        indoor, outdoor = evidence(lx.INDOOR_EVIDENCE), evidence(lx.OUTDOOR_EVIDENCE)
        tags = {t for e in self.entities for t in e.other}
        if (indoor or tags & {"indoors", "indoor"}) and not (outdoor or tags & {"outdoors", "outdoor"}):
            return ("indoors", _distinct(indoor)) if indoor else None
        if (outdoor or tags & {"outdoors", "outdoor"}) and not (indoor or tags & {"indoors", "indoor"}):
            return ("outdoors", _distinct(outdoor)) if outdoor else None
        return None

    @cached_property
    def sky(self) -> tuple[Entity, str] | None:
        """The sky and the weather its attributes suggest: clear, cloudy or dark."""
        for e in self.entities:
            if e.concept == "sky":
                kinds = {lx.SKY_WEATHER[v] for v in (*e.colors, *e.other, *e.states) if v in lx.SKY_WEATHER}
                if len(kinds) == 1:
                    return e, kinds.pop()
        return None

    @cached_property
    def shadows(self) -> bool:
        return any(clean_text(o.name) in {"shadow", "shadows"} for o in self.image.objects)

    # --- counting ----------------------------------------------------------------------------------

    def count(self, concept: str) -> int | None:
        """Distinct annotated things of a concept, or None when the annotations cannot be trusted to say."""
        if concept not in self._counts:
            self._counts[concept] = self._count(concept)
        return self._counts[concept]

    def _count(self, concept: str) -> int | None:
        if concept == "person":
            members = [e for e in self.entities if e.person]
        else:
            members = [e for e in self.entities if e.concept == concept]
        if not members or concept in lx.NO_COUNT or concept in lx.MASS or concept in PLURALIA_TANTUM:
            return None
        if any(
            e.plural or e.noun in {"crowd", "group", "couple", "family", "team", "audience"} for e in members
        ):
            return None
        if concept == "person":
            distinct: list[Entity] = []
            for e in members:
                if not any(e.box.iou(d.box) >= MERGE_IOU for d in distinct):
                    distinct.append(e)
            members = distinct
        elif members[0].person:
            # a "player" may be one of the men; a "woman" boxed apart from them is not
            specific = {"man", "woman", "boy", "girl", "child", "baby"}
            for other in self.entities:
                clash = other.concept not in specific or any(
                    other.box.iou(m.box) >= AMBIGUOUS_IOU for m in members
                )
                if other.person and other.concept != concept and clash:
                    return None
        elif any(
            e.concept != concept and e.concept in fam for fam in families_of(concept) for e in self.entities
        ):
            return None  # a "taxi" next to the "cars" might be one of them
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                inter = _overlap(a.box.x, a.box.x2, b.box.x, b.box.x2) * _overlap(
                    a.box.y, a.box.y2, b.box.y, b.box.y2
                )
                if a.box.iou(b.box) >= AMBIGUOUS_IOU or inter >= 0.8 * min(a.box.area, b.box.area):
                    return None
        n = len(members)
        if (
            n > 10
            or not self._captions_agree(concept, members[0].noun, n)
            or not self._coco_agrees(concept, n)
        ):
            return None
        if concept != "person" and members[0].person and self.count("person") is None:
            return None
        return n

    def _captions_agree(self, concept: str, noun: str, n: int) -> bool:
        nouns = {noun, concept} | ({"person", "people"} if concept == "person" else set())
        for caption in [c.lower() for c in self.captions] + self.phrases:
            for form in nouns:
                plural = pluralize(form)
                for m in re.finditer(rf"\b(\w+)(?: \w+)? ({re.escape(form)}|{re.escape(plural)})\b", caption):
                    word = m.group(1)
                    if word in NUMBER_WORDS[2:11] and word != number_word(n):
                        return False
                    if (
                        word
                        in {
                            "several",
                            "many",
                            "some",
                            "few",
                            "group",
                            "couple",
                            "lots",
                            "bunch",
                            "crowd",
                            "pair",
                        }
                        and n < 2
                    ):
                        return False
                if n == 1 and plural != form and re.search(rf"\b{re.escape(plural)}\b", caption):
                    return False
        return True

    def _coco_agrees(self, concept: str, n: int) -> bool:
        if not self.image.instances:
            return True
        target = "person" if concept in lx.FAMILIES["person"] else concept
        if target not in lx.COCO_CONCEPTS:
            return True
        found = [i for i in self.image.instances if concept_of(clean_text(i.category)) == target]
        if any(i.iscrowd for i in found):
            return False
        if target == "person" and concept != "person":
            return True  # the person total is checked against COCO separately
        return len(found) == n

    def countable_concepts(self) -> list[tuple[str, int]]:
        concepts = list(dict.fromkeys(e.concept for e in self.ranked()))
        if any(e.person for e in self.entities):
            concepts.insert(0, "person")
        out = []
        for c in concepts:
            n = self.count(c)
            if n is not None and pluralize(c) not in PLURALIA_TANTUM:  # "two glasses" may mean spectacles
                out.append((c, n))
        return out

    # --- geometry -------------------------------------------------------------------------------------

    def left_of(self, a: Entity, b: Entity) -> bool:
        """a is clearly left of b: centres apart by 5% of the width and boxes barely overlapping."""
        (ax, _), (bx, _) = center(a.box), center(b.box)
        overlap = _overlap(a.box.x, a.box.x2, b.box.x, b.box.x2)
        return ax + 0.05 * self.width < bx and overlap <= 0.3 * min(a.box.w, b.box.w)

    def above(self, a: Entity, b: Entity) -> bool:
        """a is clearly above b and roughly in the same column (so "above" means what it says)."""
        (_, ay), (_, by) = center(a.box), center(b.box)
        v_overlap = _overlap(a.box.y, a.box.y2, b.box.y, b.box.y2)
        h_overlap = _overlap(a.box.x, a.box.x2, b.box.x, b.box.x2)
        return ay + 0.05 * self.height < by and v_overlap <= 0.15 * min(a.box.h, b.box.h) and h_overlap > 0

    def horizontal_zone(self, entity: Entity) -> str | None:
        """'left' / 'middle' / 'right' third of the picture by the box centre, for boxes narrower than half."""
        if entity.box.w > 0.5 * self.width:
            return None
        cx, _ = center(entity.box)
        third = self.width / 3
        return "left" if cx < third else "right" if cx > 2 * third else "middle"

    def overlaps(self, a: Entity, b: Entity) -> bool:
        return (
            _overlap(a.box.x, a.box.x2, b.box.x, b.box.x2) * _overlap(a.box.y, a.box.y2, b.box.y, b.box.y2)
            > 0
        )

    def separate(self, a: Entity, b: Entity) -> bool:
        """Neither box mostly contains the other (a shirt is not compared with the man wearing it)."""
        inter = _overlap(a.box.x, a.box.x2, b.box.x, b.box.x2) * _overlap(
            a.box.y, a.box.y2, b.box.y, b.box.y2
        )
        return inter < 0.3 * min(a.box.area, b.box.area)


def _distinct(entities: list[Entity]) -> list[Entity]:
    seen: dict[str, Entity] = {}
    for e in entities:
        seen.setdefault(e.concept, e)
    return list(seen.values())


def _clean_caption(caption: str) -> str:
    """A caption as a lower-case phrase without the final full stop; '' when it is not plain prose."""
    text = re.sub(r"\s+", " ", str(caption or "")).strip().rstrip(".! ").strip()
    if not text or not re.fullmatch(r"[A-Za-z][A-Za-z ,'-]*", text):
        return ""
    words = text.split()
    if not 3 <= len(words) <= 25:
        return ""
    return text[0].lower() + text[1:] if not (len(words[0]) > 1 and words[0].isupper()) else text
