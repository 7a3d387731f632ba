"""The engine as `balansebot serve` runs it: the interest form's thank-you names how it reaches staff.

The plain Engine only knows whether the form is offered. Served, leads go to staff by e-mail, in
their Telegram chat, or both (LeadChannels, from SMTP_HOST and STAFF_CHAT_ID), and a reader who
sends the form is told which — never "by e-mail" when only the staff chat is set up.
"""

from __future__ import annotations

from bot.content.scripts import Scripts
from bot.engine.engine import Engine
from bot.engine.form_dialogue import FormDialogue, LeadChannels
from bot.i18n import Catalogs


class LeadFormEngine(Engine):
    """An Engine that offers the form when a channel is set up, and names the channels it uses."""

    def __init__(self, scripts: Scripts, catalogs: Catalogs, *, channels: LeadChannels) -> None:
        super().__init__(scripts, catalogs, lead_form=bool(channels))
        self.channels = channels
        self._form = FormDialogue(self._t, self._menu_with_note, channels)


def engine_for(scripts: Scripts, like: Engine) -> Engine:
    """An engine on new scripts, set up as `like` is (live reload keeps the form and its channels)."""
    if isinstance(like, LeadFormEngine):
        return LeadFormEngine(scripts, like.catalogs, channels=like.channels)
    return Engine(scripts, like.catalogs, lead_form=like.lead_form)
