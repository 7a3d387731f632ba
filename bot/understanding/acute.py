"""Is someone in danger right now? Checked before any other routing, with recall first.

The rules are data (dialogues/<lang>/acute.yaml): named concepts (lists of phrases) and alarms
that combine them. An alarm fires when the message holds a phrase of every concept in its
`when` and of none in its `unless`. A strong alarm answers with the acute node alone; a weak one
shows the acute help first and then the ordinary answer, since a false alarm costs one message
and a miss can cost a life. Idioms ("døde av latter") are taken out of the message first, so
their words raise no alarm; a past-time word switches off only the alarms that say so.

Phrases match whole folded words; a word ending in `*` matches any word starting with it. Other
forms of a word (by its stem, when it has an inflection ending) and typos of longer words count
towards an alarm, but never switch one off: only the words themselves do that. Every language's
rules are joined into one detector.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz

from bot.content.scripts import AcuteRules
from bot.understanding.text import is_english_word, is_everyday_word, stem, stem_english, words

TYPO_MIN_LENGTH = 6  # shorter words are too often other real words ("satt" is not "slått")
TYPO_RATIO = 85
# Other forms of a pattern word match too ("hopper", "hoppet" → "hoppe"; "screamed" → "screaming"):
# by its Norwegian or English stem, for words long enough that a stem says what the word is.
STEM_MIN_LENGTH = 4
# Only a word with an inflection ending is read by its stem: "gang" is no "gangen" (hallway), but
# "skreik" … "skriker", "hopper", "vanished", "letters" are forms of the pattern's word.
INFLECTED = ("er", "et", "te", "de", "ed", "ing", "s", "ar", "ast", "a", "e", "en", "t")
WORD_CACHE_SIZE = 50_000

Phrase = tuple[str, ...]
# Laughing emoji say "this is a joke" as plainly as "lol"; words() would drop them.
_LAUGHTER = str.maketrans({e: " lol " for e in "😂🤣😆😹💀😅😜🙃"})


@dataclass(frozen=True)
class Alert:
    """What the detector found: the acute node to show, and whether the cue was weak."""

    node: str
    weak: bool
    because: tuple[str, ...] = ()
    """The concepts that raised it (for staff: `balansebot route` shows them)."""


def _phrase(text: str) -> Phrase:
    parts: list[str] = []
    for raw in text.split():
        folded = words(raw)  # words() drops the '*', so it is put back on the last part by hand
        if folded and raw.endswith("*"):
            folded[-1] += "*"
        parts.extend(folded)
    return tuple(parts)


class _WordMatcher:
    """Which pattern words a message word matches: exactly, as a prefix (`voldta*`), or with a typo."""

    def __init__(self, patterns: Iterable[str], known_words: frozenset[str]) -> None:
        self._known = known_words
        self._exact: set[str] = set()
        self._prefixes: set[str] = set()
        self._fuzzy: dict[str, list[str]] = defaultdict(list)  # by first letter
        self._stems: dict[str, set[str]] = defaultdict(set)  # pattern words by their stems
        for pattern in set(patterns):
            if pattern.endswith("*"):
                self._prefixes.add(pattern[:-1])
                continue
            self._exact.add(pattern)
            if len(pattern) >= STEM_MIN_LENGTH:
                for stemmed in {stem(pattern), stem_english(pattern)}:
                    self._stems[stemmed].add(pattern)
            if len(pattern) >= TYPO_MIN_LENGTH:
                self._fuzzy[pattern[0]].append(pattern)
        self._cache: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def matches(self, word: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The pattern words (prefixes with '*') that `word` stands for: surely, and as a form or typo."""
        found = self._cache.get(word)
        if found is None:
            found = (self._match(word), self._forms(word))
            if len(self._cache) >= WORD_CACHE_SIZE:
                self._cache.clear()
            self._cache[word] = found
        return found

    def _forms(self, word: str) -> tuple[str, ...]:
        """Pattern words that `word` is another form or a typo of."""
        # A word the scripts use means what it means there: "nummer" is no form of "nummen".
        if len(word) < STEM_MIN_LENGTH or not word.endswith(INFLECTED) or word in self._known:
            return tuple(self._typos(word))
        stems = {stem_english(word)} if is_english_word(word) else {stem(word), stem_english(word)}
        by_stem = set().union(*(self._stems[s] for s in stems)) - {word}
        return tuple(sorted(by_stem | set(self._typos(word))))

    def _typos(self, word: str) -> list[str]:
        """Pattern words that `word` is a typo of."""
        # A real word is no typo: "skriver" is not "skriker", "åpen" is not "våpen", "fader" not "fråder".
        if len(word) < TYPO_MIN_LENGTH - 1 or word in self._known or is_everyday_word(word):
            return []
        # A typo rarely hits the first letter; requiring it keeps "åpen" from matching "våpen".
        return [p for p in self._fuzzy.get(word[0], ()) if p != word and fuzz.ratio(p, word) >= TYPO_RATIO]

    def _match(self, word: str) -> tuple[str, ...]:
        hits = [word] if word in self._exact else []
        hits += [word[:end] + "*" for end in range(1, len(word) + 1) if word[:end] in self._prefixes]
        return tuple(hits)


class AcuteDetector:
    """Recognises messages that say someone is in danger now, in any language of the scripts."""

    def __init__(self, rules: AcuteRules, known_words: Iterable[str] = ()) -> None:
        self.node = rules.node
        self.nodes = frozenset({rules.node, *(a.node for a in rules.alarms)})
        """Every node an alarm can show."""
        self._concepts: dict[str, dict[str, list[Phrase]]] = {}  # phrases by their first word
        for name, phrases in rules.concepts.items():
            by_first = self._concepts.setdefault(name, defaultdict(list))
            for phrase in filter(None, map(_phrase, phrases)):
                by_first[phrase[0]].append(phrase)
        self._alarms = sorted(rules.alarms, key=lambda a: a.weak)  # strong alarms are tried first
        self._not_danger = tuple(p for p in map(_phrase, rules.not_danger) if p)
        self._not_danger_by_first: dict[str, list[Phrase]] = defaultdict(list)
        for phrase in self._not_danger:
            self._not_danger_by_first[phrase[0]].append(phrase)
        all_phrases = [
            *self._not_danger,
            *(p for by_first in self._concepts.values() for ps in by_first.values() for p in ps),
        ]
        patterns = {part for phrase in all_phrases for part in phrase}
        self._matcher = _WordMatcher(patterns, frozenset(known_words) - patterns)

    def check(self, text: str) -> Alert | None:
        """The alarm this message raises, strong ones first; None when it reads as no danger."""
        message = words(text.translate(_LAUGHTER))
        if not message:
            return None
        sure, forms = self._positions(message)
        # Other forms and typos may raise an alarm, never switch one off ("prøver" is no "prøvene").
        masked = {
            pos
            for first in self._not_danger_by_first.keys() & sure.keys()
            for phrase in self._not_danger_by_first[first]
            for pos in _spans(phrase, sure)
        }
        if masked:
            sure = {part: spots - masked for part, spots in sure.items()}
            forms = {part: spots - masked for part, spots in forms.items()}
        found: dict[tuple[str, bool], set[int]] = {}

        def at(concept: str, surely: bool = False) -> set[int]:
            if (concept, surely) not in found:
                where = sure if surely else forms
                by_first = self._concepts.get(concept, {})
                starts = by_first.keys() & where.keys() if len(by_first) > len(where) else where.keys()
                found[concept, surely] = {
                    pos for first in starts for p in by_first.get(first, ()) for pos in _spans(p, where)
                }
            return found[concept, surely]

        for alarm in self._alarms:
            if not all(at(c) for c in alarm.when) or any(at(c, surely=True) for c in alarm.unless):
                continue
            if alarm.near is None or _close(alarm.near, [at(c) for c in alarm.when]):
                return Alert(alarm.node, alarm.weak, alarm.when)
        return None

    def _positions(self, message: list[str]) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
        """Where each pattern word matches in the message: surely, and surely or as another form."""
        sure: dict[str, set[int]] = defaultdict(set)
        forms: dict[str, set[int]] = defaultdict(set)
        for position, word in enumerate(message):
            exact, other_forms = self._matcher.matches(word)
            for part in exact:
                sure[part].add(position)
                forms[part].add(position)
            for part in other_forms:
                forms[part].add(position)
        return sure, forms


def _spans(phrase: Phrase, where: Mapping[str, set[int]]) -> set[int]:
    """The positions the phrase covers wherever its words stand one after another in the message."""
    covered: set[int] = set()
    for start in where.get(phrase[0], ()):
        if all(start + offset in where.get(part, ()) for offset, part in enumerate(phrase[1:], start=1)):
            covered.update(range(start, start + len(phrase)))
    return covered


def _close(window: int, positions: list[set[int]]) -> bool:
    """Whether every concept has a word within `window` words of some word of the first one."""
    first, *others = positions
    return any(all(any(abs(q - p) <= window for q in spots) for spots in others) for p in first)
