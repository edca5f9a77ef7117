"""The English and normalisation helpers the offline generator's templates rely on."""

from __future__ import annotations

import random

import pytest

from svit_assets.tasks.offline.english import (
    article,
    caption_head_needs_article,
    caption_is_clause,
    count_phrase,
    is_plural,
    pluralize,
    sentence,
    singularize,
    third_singular,
)
from svit_assets.tasks.offline.phrasing import FINITE, join_phrases
from svit_assets.tasks.offline.questions import caption_parts, caption_sentence
from svit_assets.tasks.offline.scene import normalize_attribute, normalize_name, normalize_predicate


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("apple", "an"),
        ("umbrella", "an"),
        ("uniform", "a"),
        ("hour", "an"),
        ("one-way sign", "a"),
        ("car", "a"),
    ],
)
def test_articles_follow_sound(phrase, expected):
    assert article(phrase) == expected


@pytest.mark.parametrize(
    ("singular", "plural"),
    [
        ("man", "men"),
        ("bus", "buses"),
        ("knife", "knives"),
        ("tennis racket", "tennis rackets"),
        ("cherry", "cherries"),
        ("person", "people"),
    ],
)
def test_plurals_round_trip(singular, plural):
    assert pluralize(singular) == plural
    assert singularize(plural) == singular
    assert is_plural(plural) and not is_plural(singular)


def test_plural_only_nouns_and_counts():
    assert is_plural("pants") and pluralize("jeans") == "jeans" and not is_plural("glass")
    assert count_phrase(1, "dog") == "one dog" and count_phrase(3, "dog") == "three dogs"
    assert (
        sentence("the <st>man<ed> [0.1, 0.2, 0.3, 0.4] is here")
        == "The <st>man<ed> [0.1, 0.2, 0.3, 0.4] is here."
    )


@pytest.mark.parametrize(
    ("raw", "text", "kind"),
    [
        ("ON", "on", "be"), ("WEARING", "wearing", "verb"), ("wears", "wearing", "verb"), ("has a", "has", "have"),
        ("are sitting on", "sitting on", "be"), ("on top of", "on top of", "be"), ("parked on", "parked on", "be"),
        ("inside of", "inside", "be"), ("Holding ", "holding", "verb"),
    ],
)  # fmt: skip
def test_predicates_are_normalised(raw, text, kind):
    predicate = normalize_predicate(raw)
    assert (predicate.text, predicate.kind) == (text, kind)


@pytest.mark.parametrize("raw", ["of a", "on top if", "and", "see tail  light", "a"])
def test_unknown_predicates_are_dropped(raw):
    assert normalize_predicate(raw) is None


def test_names_and_attributes_are_cleaned():
    assert normalize_name("  Man ") == "man" and normalize_name("tshirt") == "t-shirt"
    assert (
        normalize_name("see grey desk.") is None
        and normalize_name("color") is None
        and normalize_name("red") is None
    )
    assert normalize_attribute("grey ").value == "gray" and normalize_attribute("Wooden").kind == "material"
    assert normalize_attribute("turned off").value == "off" and normalize_attribute("in photo") is None


@pytest.mark.parametrize(
    "caption",
    [
        "A smiling woman in an apron slices carrots at the counter.",
        "A man carrying a blue surfboard walks along the beach.",
        "People walk on the sidewalk beside a street with buses and a traffic light.",
        "The batter in a white uniform swings as the catcher waits behind the plate.",
        "Passengers wait on the platform as a train arrives.",
        "A man and a dog walk down the road",
        "A cheesy pizza sits on a table next to glasses and a bottle.",
        "There is a cat on the bed",
        "A dog is sleeping on a couch",
    ],
)
def test_captions_with_a_finite_verb_are_clauses(caption):
    assert caption_is_clause(caption)


@pytest.mark.parametrize(
    "caption",
    [
        "A woman cutting vegetables on a wooden board in a kitchen.",
        "Two buses and several cars on a street next to tall buildings.",
        "Surfboards standing in the sand on a sunny beach.",
        "A crowd of people at a train station with a clock overhead.",
        "Fresh bananas, oranges and apples for sale under a striped awning.",
        "A kitchen that has a stove",
        "A table with plates and cups",
        "A tennis match on a hard court with a green fence in the background.",
    ],
)
def test_captions_without_one_are_noun_phrases(caption):
    assert not caption_is_clause(caption)


@pytest.mark.parametrize(
    ("caption", "text", "form"),
    [
        ("A woman chopping vegetables in a kitchen with brown cabinets. ", "a woman chopping vegetables in a kitchen with brown cabinets", "np"),
        ("A Dog jumps high in the air", "a Dog jumps high in the air", "clause"),
        ("kitchen with a stove and a pot", "a kitchen with a stove and a pot", "np"),
        ("Traffic stopped at a crosswalk.", "traffic stopped at a crosswalk", "np"),
        ("Fresh bananas for sale", "fresh bananas for sale", "np"),
        ("A picture of a cat sleeping on a bed", "a cat sleeping on a bed", "np"),
        ("sitting on a bench", None, None),
    ],
)  # fmt: skip
def test_captions_are_normalised(caption, text, form):
    parts = caption_parts(caption)
    assert (parts == (text, form)) if text else parts is None


def test_caption_sentences_put_clauses_alone_and_noun_phrases_after_shows():
    rng = random.Random(0)
    for _ in range(20):
        said = caption_sentence(("a woman slices carrots at the counter", "clause"), rng)
        assert (
            said.endswith("a woman slices carrots at the counter.")
            or said == "A woman slices carrots at the counter."
        )
        assert "shows" not in said and "looks like" not in said
        said = caption_sentence(("a woman slicing carrots", "np"), rng, answer=True)
        assert said.endswith(" a woman slicing carrots.") and "looks like" not in said


def test_article_is_added_only_to_a_bare_singular_head():
    assert caption_head_needs_article("kitchen with a stove")
    assert not caption_head_needs_article("people walk on the sidewalk")
    assert not caption_head_needs_article("traffic stopped at a crosswalk")


@pytest.mark.parametrize(
    ("base", "third"),
    [("ride", "rides"), ("watch", "watches"), ("fly", "flies"), ("go", "goes"), ("play", "plays")],
)
def test_third_person_forms(base, third):
    assert third_singular(base) == third


def test_finite_forms_of_lexicon_participles():
    assert FINITE["sitting"] == "sits" and FINITE["lying"] == "lies" and FINITE["crossing"] == "crosses"
    assert FINITE["looking"] == "looks" and "parked" not in FINITE  # "is parked" has no active twin


@pytest.mark.parametrize(
    ("phrases", "joined"),
    [
        (["is standing next to another giraffe", "standing on the grass"], "is standing next to another giraffe and on the grass"),
        (["is riding a surfboard", "on the wave"], "is on the wave, riding a surfboard"),
        (["is smiling", "holding a knife", "standing at the counter"], "is smiling, holding a knife, and standing at the counter"),
        (["is also wearing jeans and boots", "sitting on the saddle"], "is also wearing jeans and boots, and sitting on the saddle"),
        (["is on", "hanging above the woman"], "is on and hanging above the woman"),
        (["holds a knife", "stands at the counter"], "holds a knife and stands at the counter"),
    ],
)  # fmt: skip
def test_verb_phrases_join_the_way_people_say_them(phrases, joined):
    assert join_phrases(phrases) == joined
