"""The lead an organisation leaves: what it typed in the interest form, as staff receive it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.form import ACTOR_KINDS, ActorKind


@dataclass(frozen=True, kw_only=True)
class Lead:
    """What an organisation typed in the interest form, with its consent to be contacted."""

    organisation: str
    actor_kind: ActorKind
    size: str
    """A rough number of people, as typed."""
    contact_person: str
    contact: str
    """An e-mail address or a phone number."""
    message: str | None = None
    lang: str
    """The language of the chat (nb, nn or en)."""

    def __post_init__(self) -> None:
        if self.actor_kind not in ACTOR_KINDS:
            raise ValueError(f"actor_kind must be one of {ACTOR_KINDS}")
