"""Norwegian-aware normalisation: case, æøå and their ASCII stand-ins, accents, stems, compounds."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer
import wordfreq

_WORD = re.compile(r"[a-z0-9]+")
# Both sides of a match are folded the same way, so "rådgivning", "raadgivning" and "radgivning"
# meet, as do "være"/"vaere"/"vaere". "oe" for ø is left to typo matching: folding it would
# turn the everyday "noe" into Nynorsk "no" (now).
_LETTERS = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ä": "ae", "ö": "o", "ü": "u"})
_STAND_INS = (("aa", "a"),)
_LINKING = ("s",)  # only -s- joins parts ("likestilling|s|lov"); an -e- link made "trakasse|ring"
MIN_PART = 3
MIN_HEAD = 4  # three-letter tails ("for", "mal", "ann") are mostly chance


def fold(text: str) -> str:
    """Lowercase, æøå to ASCII, accents dropped, the stand-in aa merged with å."""
    lowered = text.casefold().translate(_LETTERS)
    decomposed = unicodedata.normalize("NFKD", lowered)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    for stand_in, letter in _STAND_INS:
        plain = plain.replace(stand_in, letter)
    return plain


def words(text: str) -> list[str]:
    """The folded words of a text, punctuation and emoji dropped."""
    return list(_folded_words(text))


@lru_cache(maxsize=4096)
def _folded_words(text: str) -> tuple[str, ...]:
    # The acute check, the router and the phrase matcher each read the same message.
    return tuple(_WORD.findall(fold(text)))


_stemmer = snowballstemmer.stemmer("norwegian")
# Snowball strips one suffix layer per call, so "kollega" and "kollegaen" end up as "kol" and
# "kollega"; stemming again until nothing changes gives every form of a word the same stem.
_MAX_PASSES = 3
# Snowball leaves two common Norwegian patterns apart: the adjective -t ("anonym"/"anonymt",
# "åpen"/"åpent") and the e dropped before l/n/r when a word is inflected ("eksempel"/"eksempler",
# "varsel"/"varsla", "åpen"/"åpne"). Both are evened out after Snowball.
_ADJECTIVE_T = re.compile(r"(?<=[a-z]{3}[dgklmn])t$")  # not "start", "først", "kunst"
_DROPPED_E = re.compile(r"(?<=[a-z][^aeiouy])e(?=[lnr]$)")


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """The Norwegian stem of a folded word: Snowball until stable, then -t and e-dropping evened out."""
    current = word
    for _ in range(_MAX_PASSES):
        shorter = str(_stemmer.stemWord(current))
        if shorter == current:
            break
        current = shorter
    current = _ADJECTIVE_T.sub("", current)
    return _DROPPED_E.sub("", current)


_english = snowballstemmer.stemmer("english")


@lru_cache(maxsize=50_000)
def stem_english(word: str) -> str:
    """The English stem of a folded word ("harassing", "harassed" → "harass")."""
    return str(_english.stemWord(word))


# wordfreq's small lists hold every word seen at least once per million words (Zipf 3) in Bokmål
# (which holds most Nynorsk forms too) and in English; the cut-off keeps typos out.
EVERYDAY_FREQUENCY = 1e-6


@lru_cache(maxsize=2)
def _everyday(language: str) -> frozenset[str]:
    frequencies = wordfreq.get_frequency_dict(language, wordlist="small")
    return frozenset(fold(w) for w, f in frequencies.items() if f >= EVERYDAY_FREQUENCY)


def is_everyday_word(word: str) -> bool:
    """Whether a folded word is a common real word ("strenger", "gala"), so no typo of another."""
    return word in _everyday("nb") or word in _everyday("en")


def is_english_word(word: str) -> bool:
    """Whether a folded word is common in English and not in Norwegian ("gala", "stage", "killed")."""
    return word in _everyday("en") and word not in _everyday("nb")


"""The stemmers a language's words.yaml may name (`stemmer: english`)."""


def compound_parts(word: str, lexicon: frozenset[str]) -> tuple[str, ...]:
    """Split a compound into known stems ("balansemerket" → balans, merk) when it can be done.

    Norwegian writes compounds as one word; the head is last, so the longest known head wins.
    Both parts must be known: a known tail alone is too often chance ("julebordet" → ord).
    """
    stemmed = stem(word)
    # The tail of an -ing noun looks like a word of its own ("lag|ring", "slet|ting"): ask more of it.
    min_head = MIN_HEAD + 1 if stemmed.endswith("ing") else MIN_HEAD
    for split in range(MIN_PART, len(stemmed) - min_head + 1):
        left, right = stemmed[:split], stemmed[split:]
        if right not in lexicon:
            continue
        for candidate in (left, *(left[:-1] for link in _LINKING if left.endswith(link))):
            if len(candidate) >= MIN_PART and (candidate in lexicon or stem(candidate) in lexicon):
                return (stem(candidate) if candidate not in lexicon else candidate, right)
    return ()
