"""The English and normalisation helpers the offline generator's templates rely on."""

from __future__ import annotations

import pytest

from svit_assets.tasks.offline.english import (
    article,
    count_phrase,
    is_plural,
    pluralize,
    sentence,
    singularize,
)
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
