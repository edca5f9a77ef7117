"""Small English toolkit for template text: articles, plurals, agreement, lists and VG text clean-up.

Generated sentences are training targets, so a single "a apple" or "two dog" teaches a model bad English;
every template goes through these helpers instead of formatting strings by hand.
"""

from __future__ import annotations

import re

NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
)

_AN_EXCEPTIONS = (
    "uni",
    "use",
    "usu",
    "uti",
    "ute",
    "uro",
    "ure",
    "eu",
    "ewe",
    "one",
    "once",
    "ukulele",
    "u-",
)
_A_EXCEPTIONS = ("hour", "honest", "honor", "honour", "heir")

_IRREGULAR_PLURALS = {
    "man": "men",
    "woman": "women",
    "child": "children",
    "person": "people",
    "foot": "feet",
    "tooth": "teeth",
    "mouse": "mice",
    "goose": "geese",
    "sheep": "sheep",
    "deer": "deer",
    "fish": "fish",
    "knife": "knives",
    "leaf": "leaves",
    "shelf": "shelves",
    "wolf": "wolves",
    "loaf": "loaves",
    "life": "lives",
    "wife": "wives",
    "calf": "calves",
    "half": "halves",
    "scarf": "scarves",
    "ox": "oxen",
    "cactus": "cacti",
    "bus": "buses",
    "gas": "gases",
    "lens": "lenses",
    "policeman": "policemen",
    "fireman": "firemen",
    "snowman": "snowmen",
    "gentleman": "gentlemen",
    "businessman": "businessmen",
    "kiwi": "kiwis",
    "ski": "skis",
    "taxi": "taxis",
    "piano": "pianos",
    "photo": "photos",
    "radio": "radios",
    "zoo": "zoos",
    "video": "videos",
    "stereo": "stereos",
    "tomato": "tomatoes",
    "potato": "potatoes",
    "hero": "heroes",
    "roof": "roofs",
    "chef": "chefs",
    "belief": "beliefs",
    "giraffe": "giraffes",
    "cafe": "cafes",
}
_IRREGULAR_SINGULARS = {plural: singular for singular, plural in _IRREGULAR_PLURALS.items()}
# Nouns that only exist in the plural ("a pants" is wrong, "the pants are" is right).
PLURALIA_TANTUM = frozenset(
    {
        "pants",
        "jeans",
        "trousers",
        "shorts",
        "glasses",
        "sunglasses",
        "eyeglasses",
        "goggles",
        "scissors",
        "headphones",
        "earphones",
        "tongs",
        "pliers",
        "clothes",
        "leggings",
        "tights",
        "overalls",
        "stairs",
        "binoculars",
        "pajamas",
        "sweatpants",
        "slacks",
        "briefs",
        "trunks",
        "swim trunks",
        "bleachers",
    }
)
# Singular nouns that happen to end in "s".
_SINGULAR_S = frozenset(
    {
        "bus",
        "glass",
        "grass",
        "dress",
        "lens",
        "gas",
        "canvas",
        "atlas",
        "iris",
        "compass",
        "mattress",
        "cross",
        "tennis",
        "chess",
        "cactus",
        "octopus",
        "walrus",
        "bonus",
        "campus",
        "circus",
        "hummus",
        "asparagus",
        "hippopotamus",
        "thermos",
        "news",
        "mess",
        "moss",
        "press",
        "harness",
        "class",
        "boss",
        "bass",
        "citrus",
        "status",
        "virus",
        "bias",
        "series",
        "species",
        "christmas",
        "oasis",
        "chassis",
        "plus",
        "wireless",
        "access",
        "lotus",
        "hibiscus",
    }
)
_VOWELS = set("aeiou")


def clean_text(text: str) -> str:
    """Lower-case, trimmed, single-spaced text without trailing punctuation (VG names, predicates, phrases)."""
    text = re.sub(r"\s+", " ", str(text or "")).strip().lower()
    return text.strip(" .,;:!?\"'`")


def article(word_or_phrase: str) -> str:
    """'a' or 'an' for the following word, by its sound for the common exceptions (an hour, a uniform)."""
    word = word_or_phrase.strip().lower()
    if not word:
        return "a"
    if word[0].isdigit():
        return "an" if word[0] == "8" or word.startswith(("11", "18")) else "a"
    if word.startswith(_A_EXCEPTIONS):
        return "an"
    if word[0] in _VOWELS:
        return "a" if word.startswith(_AN_EXCEPTIONS) else "an"
    return "a"


def _plural_word(word: str) -> str:
    if word in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[word]
    if word.endswith(("man",)) and word not in {"human", "german", "shaman", "caiman"}:
        return word[:-3] + "men"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and len(word) > 1 and word[-2] not in _VOWELS:
        return word[:-1] + "ies"
    if word.endswith("fe") and word not in {"cafe", "giraffe", "safe"}:
        return word[:-2] + "ves"
    return word + "s"


def is_plural(noun: str) -> bool:
    """Whether a (possibly multi-word) noun is grammatically plural, judged by its last word."""
    noun = noun.strip().lower()
    if not noun:
        return False
    if noun in PLURALIA_TANTUM:
        return True
    last = noun.split()[-1]
    if last in PLURALIA_TANTUM or last in _IRREGULAR_SINGULARS:
        return True
    if last in _IRREGULAR_PLURALS or last in _SINGULAR_S:
        return False
    if last.endswith(("ss", "us", "is")) and last not in {"skis", "taxis", "kiwis"}:
        return False
    return last.endswith("s") and len(last) > 2


def pluralize(noun: str) -> str:
    """'tennis racket' → 'tennis rackets'; plural and plural-only nouns are returned unchanged."""
    noun = noun.strip()
    if not noun or is_plural(noun):
        return noun
    words = noun.split()
    words[-1] = _plural_word(words[-1])
    return " ".join(words)


def singularize(noun: str) -> str:
    """'tennis rackets' → 'tennis racket'; singular and plural-only nouns come back unchanged."""
    noun = noun.strip()
    if not noun or not is_plural(noun) or noun in PLURALIA_TANTUM or noun.split()[-1] in PLURALIA_TANTUM:
        return noun
    words = noun.split()
    last = words[-1]
    if last in _IRREGULAR_SINGULARS:
        words[-1] = _IRREGULAR_SINGULARS[last]
    elif last.endswith("men") and last not in {"omen", "semen"}:
        words[-1] = last[:-3] + "man"
    elif last.endswith("ies") and len(last) > 4:
        words[-1] = last[:-3] + "y"
    elif last.endswith("ves") and last[:-3] + "f" in _IRREGULAR_PLURALS:
        words[-1] = last[:-3] + "f"
    elif last.endswith("ves") and last[:-3] + "fe" in _IRREGULAR_PLURALS:
        words[-1] = last[:-3] + "fe"
    elif (
        last.endswith(("ches", "shes", "sses", "xes", "zes", "uses"))
        or last.endswith("oes")
        and last[:-2] in _IRREGULAR_PLURALS
    ):
        words[-1] = last[:-2]
    else:
        words[-1] = last[:-1]
    return " ".join(words)


def number_word(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def count_phrase(n: int, noun: str) -> str:
    """'one car', 'three cars' — the noun is given in the singular."""
    return f"{number_word(n)} {noun if n == 1 else pluralize(noun)}"


def be(plural: bool) -> str:
    return "are" if plural else "is"


def third_person(verb: str, plural: bool) -> str:
    """Present simple agreement for the few verbs templates use: has/have, contains/contain."""
    if plural:
        return {"has": "have", "contains": "contain", "holds": "hold"}.get(verb, verb)
    return verb


def join_and(items: list[str], conjunction: str = "and") -> str:
    items = [i for i in items if i]
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} {conjunction} {items[1]}"
    return f"{', '.join(items[:-1])}, {conjunction} {items[-1]}"


def capitalize(sentence: str) -> str:
    """Upper-case the first letter only, leaving names and inline references untouched."""
    for i, ch in enumerate(sentence):
        if ch.isalpha():
            return sentence[:i] + ch.upper() + sentence[i + 1 :]
        if ch == "<":  # an inline <st>name<ed> reference starts the sentence: keep the tag intact
            return sentence
    return sentence


def sentence(text: str) -> str:
    """Tidy spacing, capitalise and end with one full stop (unless it already ends a question/exclamation)."""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;?!])", r"\1", text)
    if not text:
        return ""
    text = capitalize(text)
    return text if text[-1] in ".?!" else text + "."


def normalized_question(text: str) -> str:
    """Key for spotting repeated questions: case, punctuation and spacing do not make a question new."""
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9<>\[\]., ]", " ", text.lower())).strip(" .?")


# --- verbs and clauses ------------------------------------------------------------------------------------

# Base forms of the verbs people use in image captions. A caption with one of them in a finite form after
# its subject ("a woman slices carrots", "two giraffes stand") is a clause; otherwise it is a noun phrase
# ("a woman slicing carrots"). The list only has to cover captions, not English.
CAPTION_VERBS = frozenset(
    [
        "approach",
        "arrive",
        "await",
        "bake",
        "bat",
        "bend",
        "bite",
        "block",
        "blow",
        "board",
        "brush",
        "browse",
        "buy",
        "carry",
        "catch",
        "celebrate",
        "chase",
        "check",
        "chew",
        "chop",
        "clean",
        "climb",
        "come",
        "contain",
        "cook",
        "cover",
        "crawl",
        "cross",
        "crouch",
        "cut",
        "dance",
        "decorate",
        "deliver",
        "depart",
        "dig",
        "display",
        "dive",
        "do",
        "drag",
        "drink",
        "drive",
        "eat",
        "enjoy",
        "enter",
        "face",
        "feature",
        "feed",
        "fetch",
        "fill",
        "fix",
        "float",
        "fly",
        "follow",
        "gaze",
        "get",
        "give",
        "glide",
        "go",
        "grab",
        "graze",
        "grill",
        "grow",
        "guide",
        "hang",
        "haul",
        "head",
        "help",
        "hike",
        "hit",
        "hold",
        "hop",
        "hover",
        "hug",
        "hunt",
        "jog",
        "jump",
        "kick",
        "kiss",
        "kneel",
        "land",
        "laugh",
        "lay",
        "lead",
        "leap",
        "lean",
        "leave",
        "lick",
        "lie",
        "line",
        "load",
        "look",
        "lounge",
        "make",
        "move",
        "nap",
        "nuzzle",
        "observe",
        "offer",
        "pack",
        "paddle",
        "paint",
        "park",
        "pass",
        "peek",
        "peer",
        "pedal",
        "perch",
        "perform",
        "pet",
        "pick",
        "pitch",
        "place",
        "play",
        "point",
        "pose",
        "pour",
        "prepare",
        "pull",
        "push",
        "put",
        "race",
        "reach",
        "read",
        "relax",
        "remain",
        "rest",
        "ride",
        "rise",
        "roam",
        "roll",
        "run",
        "sail",
        "score",
        "serve",
        "set",
        "share",
        "shop",
        "show",
        "sip",
        "sit",
        "skate",
        "ski",
        "sleep",
        "slice",
        "slide",
        "smile",
        "sniff",
        "snowboard",
        "soar",
        "speak",
        "spray",
        "squat",
        "stack",
        "stand",
        "stare",
        "stay",
        "steer",
        "stop",
        "stretch",
        "stride",
        "stroll",
        "surf",
        "swim",
        "swing",
        "take",
        "talk",
        "tend",
        "throw",
        "toss",
        "tow",
        "travel",
        "try",
        "turn",
        "type",
        "unload",
        "use",
        "view",
        "wade",
        "wait",
        "walk",
        "wash",
        "watch",
        "wave",
        "wear",
        "work",
        "write",
        "yawn",
    ]
)
_IRREGULAR_THIRD = {"be": "is", "have": "has", "do": "does", "go": "goes"}
FINITE_BE = frozenset({"is", "are", "was", "were", "has", "have", "had"})
DETERMINERS = frozenset(
    {
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "some",
        "any",
        "another",
        "each",
        "every",
        "no",
        "his",
        "her",
        "its",
        "their",
        "my",
        "our",
        "your",
        "several",
        "many",
        "few",
        "lots",
        "both",
        *NUMBER_WORDS,
    }
)
PREPOSITIONS = frozenset(
    {
        "with",
        "in",
        "on",
        "at",
        "of",
        "near",
        "by",
        "under",
        "behind",
        "beside",
        "next",
        "to",
        "from",
        "for",
        "along",
        "across",
        "through",
        "over",
        "above",
        "below",
        "into",
        "onto",
        "inside",
        "outside",
        "around",
        "against",
        "between",
        "down",
        "up",
        "during",
        "while",
        "as",
        "and",
        "or",
        "like",
        "than",
        "among",
        "beneath",
        "underneath",
        "towards",
        "toward",
        "off",
        "out",
        "atop",
        "past",
    }
)
_RELATIVES = frozenset({"that", "which", "who", "whose", "where", "when", "while", "as", "if"})


def third_singular(base: str) -> str:
    """'ride' → 'rides', 'watch' → 'watches', 'fly' → 'flies' (the first word of a verb phrase only)."""
    first, _, rest = base.partition(" ")
    if first in _IRREGULAR_THIRD:
        word = _IRREGULAR_THIRD[first]
    elif first.endswith(("s", "x", "z", "ch", "sh", "o")):
        word = first + "es"
    elif first.endswith("y") and len(first) > 1 and first[-2] not in _VOWELS:
        word = first[:-1] + "ies"
    else:
        word = first + "s"
    return f"{word} {rest}" if rest else word


_THIRD_TO_BASE = {third_singular(v): v for v in CAPTION_VERBS}


def _plural_subject(word: str) -> bool:
    return word in {"people", "men", "women", "children", "others", "kids", "they"} or is_plural(word)


def caption_is_clause(text: str) -> bool:
    """Whether a caption is a sentence with a finite verb ('A woman slices carrots at the counter.').

    Looks for is/are/has or a caption verb in a finite form right after a noun: '-s' forms after any noun,
    base forms after a plural noun or a compound subject ('people walk', 'a man and a dog walk'). A word
    after a determiner, a preposition or a relative pronoun is part of a noun phrase or another clause.
    """
    words = re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower())
    if len(words) >= 2 and words[0] == "there" and words[1] in {"is", "are", "was", "were"}:
        return True
    for i in range(1, len(words)):
        word, prev = words[i], words[i - 1]
        if prev in DETERMINERS or prev in PREPOSITIONS or prev in _RELATIVES:
            continue
        if any(w in _RELATIVES for w in words[max(0, i - 3) : i]):
            continue  # "a kitchen that has …" is still a noun phrase
        if prev.endswith(("ing", "ly")) and word not in FINITE_BE:
            continue  # "crashing waves"
        if word in FINITE_BE:
            return True
        if word in _THIRD_TO_BASE:
            return True
        if word in CAPTION_VERBS and (_plural_subject(prev) or "and" in words[:i]):
            return True
    return False


def caption_head_needs_article(text: str) -> bool:
    """Whether a caption that starts without a determiner opens on a singular countable noun.

    'kitchen with a stove' needs 'a'; 'fresh bananas, oranges …' and 'traffic stopped at …' do not. The
    head is the last word before the first preposition, comma, participle or verb.
    """
    words = re.findall(r"[a-z]+|,", text.lower())
    head = ""
    for i, word in enumerate(words):
        if word == "," or word in PREPOSITIONS or word in _RELATIVES:
            break
        if i > 0 and (word.endswith(("ing", "ed")) or word in FINITE_BE or word in _THIRD_TO_BASE):
            break
        if i > 0 and word in CAPTION_VERBS and _plural_subject(words[i - 1]):
            break
        head = word
    if not head:
        return False
    from .lexicon import MASS  # a late import: the lexicon is data, this module is grammar

    return not (is_plural(head) or head in MASS or head in PLURALIA_TANTUM)
