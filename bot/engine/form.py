"""The Balansemerket interest form: one question at a time, each answer checked, a summary, consent.

Only organisations use it, to leave a contact for Balansekunst's staff. Anonymous readers are
never asked anything; the form is offered only from the badge pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from bot.content.telegram_html import utf16_length

Field = Literal["organisation", "actor_kind", "size", "contact_person", "contact", "message"]
FIELDS: tuple[Field, ...] = ("organisation", "actor_kind", "size", "contact_person", "contact", "message")
Step = Field | Literal["consent", "summary", "change"]
STEPS: tuple[Step, ...] = (*FIELDS, "consent", "summary", "change")
ActorKind = Literal["organising", "producing", "performing"]
ACTOR_KINDS: tuple[ActorKind, ...] = ("organising", "producing", "performing")
MAX_ANSWER = 200
MAX_MESSAGE = 1500
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{6,18}[0-9]$")


@dataclass(frozen=True)
class InterestForm:
    """The answers so far and the question being asked."""

    step: Step = "organisation"
    answers: tuple[tuple[Field, str], ...] = ()
    changing: bool = False
    """Answering one field again from the summary: go back to the summary afterwards."""

    def get(self, field: Field) -> str:
        """The answer to a field ('' when not answered)."""
        return dict(self.answers).get(field, "")

    @property
    def contact_person(self) -> str:
        """Who Balansekunst should contact."""
        return self.get("contact_person")

    @property
    def contact(self) -> str:
        """Their e-mail address or phone number."""
        return self.get("contact")

    def answered(self, field: Field, value: str) -> InterestForm:
        """Store an answer and move to the next question (or back to the summary)."""
        answers = tuple(
            (f, value if f == field else self.get(f)) for f in FIELDS if f == field or self.get(f)
        )
        if self.changing:
            return replace(self, answers=answers, step="summary", changing=False)
        following = FIELDS.index(field) + 1
        return replace(
            self, answers=answers, step=FIELDS[following] if following < len(FIELDS) else "consent"
        )

    def as_pairs(self) -> tuple[tuple[Field, str], ...]:
        """Every field with its answer, in form order."""
        return tuple((field, self.get(field)) for field in FIELDS)

    def to_json(self) -> dict[str, str | bool]:
        """For storage between messages."""
        return {"step": self.step, "changing": self.changing, **dict(self.as_pairs())}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> InterestForm | None:
        """From storage; None when it is not a form this version understands."""
        step = next((s for s in STEPS if s == data.get("step")), None)
        if step is None:
            return None
        answers = tuple((f, str(data[f])) for f in FIELDS if data.get(f))
        return cls(step=step, answers=answers, changing=bool(data.get("changing", False)))


Problem = Literal["empty", "too_long", "contact"]


def check_answer(field: Field, text: str) -> tuple[str, Problem | None]:
    """The cleaned answer, or why it cannot be used."""
    value = " ".join(text.split())
    limit = MAX_MESSAGE if field == "message" else MAX_ANSWER
    if not value:
        return value, "empty"
    # Counted as Telegram counts (UTF-16 units: an emoji is two), so the summary of six answers
    # always fits in one message.
    if utf16_length(value) > limit:
        return value, "too_long"
    if field == "contact" and not (_EMAIL.match(value) or _PHONE.match(value)):
        return value, "contact"
    return value, None
