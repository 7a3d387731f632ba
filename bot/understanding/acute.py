"""Is someone in danger right now? Checked before any other routing, with recall first.

The rules are data (dialogues/<lang>/acute.yaml): a message is acute when, for one rule, it
contains a phrase from every group. Phrases match whole folded words; a word ending in `*`
matches any word starting with it; longer words tolerate a typo.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from rapidfuzz import fuzz

from bot.content.scripts import AcuteRules
from bot.understanding.text import words

TYPO_MIN_LENGTH = 5
TYPO_RATIO = 85

Phrase = tuple[str, ...]


def _word_matches(pattern: str, word: str) -> bool:
    if pattern.endswith("*"):
        return word.startswith(pattern[:-1])
    if pattern == word:
        return True
    # A typo rarely hits the first letter; requiring it keeps "åpen" from matching "våpen".
    return (
        len(pattern) >= TYPO_MIN_LENGTH
        and len(word) >= TYPO_MIN_LENGTH - 1
        and word[0] == pattern[0]
        and fuzz.ratio(pattern, word) >= TYPO_RATIO
    )


def _phrase(text: str) -> Phrase:
    parts: list[str] = []
    for raw in text.split():
        folded = words(raw)  # words() drops the '*', so it is put back on the last part by hand
        if folded and raw.endswith("*"):
            folded[-1] += "*"
        parts.extend(folded)
    return tuple(parts)


def _found(phrase: Phrase, where: Mapping[str, set[int]]) -> bool:
    """True when the phrase's words stand one after another somewhere in the message."""
    return any(
        all(start + offset in where.get(part, ()) for offset, part in enumerate(phrase[1:], start=1))
        for start in where.get(phrase[0], ())
    )


class AcuteDetector:
    """Recognises messages that say someone is in danger now."""

    def __init__(self, rules: AcuteRules) -> None:
        self.node = rules.node
        self._rules = [[[_phrase(p) for p in group] for group in rule] for rule in rules.rules]
        self._never = [_phrase(p) for p in rules.never_when]
        # Pattern words by first letter: each message word is compared only with its bucket, once.
        self._by_letter: dict[str, set[str]] = defaultdict(set)
        for phrase in [*self._never, *(p for rule in self._rules for group in rule for p in group)]:
            for part in phrase:
                self._by_letter[part[0]].add(part)

    def is_acute(self, text: str) -> bool:
        """True when the message matches a rule and no 'never when' phrase."""
        message = words(text)
        if not message:
            return False
        # Where each pattern word matches: phrases are then tried only where their first word is.
        where: dict[str, set[int]] = defaultdict(set)
        for position, word in enumerate(message):
            for part in self._by_letter.get(word[0], ()):
                if _word_matches(part, word):
                    where[part].add(position)
        if any(_found(p, where) for p in self._never):
            return False
        return any(all(any(_found(p, where) for p in group) for group in rule) for rule in self._rules)
