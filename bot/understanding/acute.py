"""Is someone in danger right now? Checked before any other routing, with recall first.

The rules are data (dialogues/<lang>/acute.yaml): a message is acute when, for one rule, it
contains a phrase from every group. Phrases match whole folded words; a word ending in `*`
matches any word starting with it; longer words tolerate a typo.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz

from bot.content.scripts import AcuteRules
from bot.understanding.text import words

TYPO_MIN_LENGTH = 5
TYPO_RATIO = 85


@dataclass(frozen=True)
class _Phrase:
    parts: tuple[str, ...]

    def found_in(self, message: list[str]) -> bool:
        span = len(self.parts)
        return any(
            all(_word_matches(p, w) for p, w in zip(self.parts, message[i : i + span], strict=True))
            for i in range(len(message) - span + 1)
        )


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


def _phrase(text: str) -> _Phrase:
    parts: list[str] = []
    for raw in text.split():
        folded = words(raw)  # words() drops the '*', so it is put back on the last part by hand
        if folded and raw.endswith("*"):
            folded[-1] += "*"
        parts.extend(folded)
    return _Phrase(tuple(parts))


class AcuteDetector:
    """Recognises messages that say someone is in danger now."""

    def __init__(self, rules: AcuteRules) -> None:
        self.node = rules.node
        self._rules = [[[_phrase(p) for p in group] for group in rule] for rule in rules.rules]
        self._never = [_phrase(p) for p in rules.never_when]

    def is_acute(self, text: str) -> bool:
        """True when the message matches a rule and no 'never when' phrase."""
        message = words(text)
        if not message or any(p.found_in(message) for p in self._never):
            return False
        return any(all(any(p.found_in(message) for p in group) for group in rule) for rule in self._rules)
