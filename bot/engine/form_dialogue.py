"""The interest form as a conversation: questions, re-asks, summary, change, consent, send or cancel."""

from __future__ import annotations

import gettext
import html
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.engine import callbacks
from bot.engine.form import ACTOR_KINDS, FIELDS, MAX_ANSWER, MAX_MESSAGE, Field, InterestForm, check_answer
from bot.engine.model import Button, CallbackButton, ChatState, Outcome, Reply, SubmitLead

Translate = Callable[[ChatState], gettext.NullTranslations]
MenuWithNote = Callable[[ChatState, str], Outcome]
SKIP, YES, SEND, CHANGE, CANCEL = "skip", "yes", "send", "change", "cancel"
FIELD_PREFIX = "field:"


@dataclass(frozen=True)
class LeadChannels:
    """Which ways a sent form takes to Balansekunst's staff, so the thank-you can say so truthfully."""

    email: bool = False
    """E-mailed over SMTP (SMTP_HOST)."""
    staff_chat: bool = False
    """Posted in the staff's Telegram chat (STAFF_CHAT_ID)."""

    def __bool__(self) -> bool:
        return self.email or self.staff_chat


class FormDialogue:
    """Pure like the engine: (state, answer) → replies and the new state."""

    def __init__(
        self, translate: Translate, menu_with_note: MenuWithNote, channels: LeadChannels | None = None
    ) -> None:
        self._t = translate
        self._menu_with_note = menu_with_note
        self.channels = channels
        """Where sent forms go; None when not known (staff tools), and the thank-you names no channel."""

    def start(self, state: ChatState) -> Outcome:
        """Explain, then ask the first question."""
        _ = self._t(state).gettext
        intro = _(
            "Good that you want to hear more about Balansemerket! I will ask six short questions, "
            "one at a time. Nothing is sent before you confirm at the end, and /avbryt cancels at any time."
        )
        form = InterestForm()
        return self._ask(replace(state, form=form), form, intro)

    def text(self, state: ChatState, form: InterestForm, text: str) -> Outcome:
        """A typed answer to the question being asked."""
        _ = self._t(state).gettext
        if form.step not in FIELDS or form.step == "actor_kind":
            return self._ask(state, form, _("Please choose one of the buttons."))
        field: Field = form.step
        value, problem = check_answer(field, text)
        if problem == "empty":
            return self._ask(state, form, _("Please write an answer, or /avbryt to cancel."))
        if problem == "too_long":
            limit = MAX_MESSAGE if field == "message" else MAX_ANSWER
            return self._ask(
                state,
                form,
                _("That is a bit long. Please keep it under {limit} characters.").format(limit=limit),
            )
        if problem == "contact":
            return self._ask(
                state,
                form,
                _("That does not look like an e-mail address or a phone number. Please try again."),
            )
        updated = form.answered(field, value)
        return self._ask(replace(state, form=updated), updated)

    def choose(self, state: ChatState, form: InterestForm, value: str) -> Outcome:
        """A button of the form was pressed."""
        _ = self._t(state).gettext
        if value == CANCEL:
            return self.cancel(state)
        if form.step == "actor_kind" and value in ACTOR_KINDS:
            updated = form.answered("actor_kind", value)
        elif form.step == "message" and value == SKIP:
            updated = form.answered("message", "")
        elif form.step == "consent" and value == YES:
            updated = replace(form, step="summary")
        elif form.step == "summary" and value == SEND:
            thanks = self._thanks(state).format(
                person=html.escape(form.contact_person), contact=html.escape(form.contact)
            )
            done = replace(state, form=None)
            outcome = self._menu_with_note(done, thanks)
            return replace(outcome, effects=(SubmitLead(form, state.lang),), nodes=("skjema_sendt",))
        elif form.step == "summary" and value == CHANGE:
            updated = replace(form, step="change")
        elif (
            form.step == "change" and value.startswith(FIELD_PREFIX) and value[len(FIELD_PREFIX) :] in FIELDS
        ):
            field = next(f for f in FIELDS if f == value[len(FIELD_PREFIX) :])
            updated = replace(form, step=field, changing=True)
        else:
            # A button from an earlier question: ask the current one again.
            return self._ask(state, form, _("Please answer the question below."))
        return self._ask(replace(state, form=updated), updated)

    def cancel(self, state: ChatState) -> Outcome:
        """Throw the answers away; nothing was stored anywhere but the chat's state."""
        _ = self._t(state).gettext
        return self._menu_with_note(
            replace(state, form=None), _("Cancelled. Nothing was saved or sent. Here is the menu:")
        )

    def _thanks(self, state: ChatState) -> str:
        """The thank-you for a sent form, naming the way (or ways) it takes to staff."""
        _ = self._t(state).gettext
        channels = self.channels
        if channels is not None and channels.email and channels.staff_chat:
            return _(
                "Thank you! Your interest is saved and goes to Balansekunst's staff by e-mail and in "
                "their Telegram chat; if one is slow, it is sent as soon as it goes through. They will "
                "contact {person} at {contact}."
            )
        if channels is not None and channels.email:
            return _(
                "Thank you! Your interest is saved and goes to Balansekunst's staff by e-mail; if e-mail "
                "is slow, it is sent as soon as it goes through. They will contact {person} at {contact}."
            )
        if channels is not None and channels.staff_chat:
            return _(
                "Thank you! Your interest is saved and goes to Balansekunst's staff in their Telegram "
                "chat; if Telegram is slow, it is sent as soon as it goes through. They will contact "
                "{person} at {contact}."
            )
        return _(
            "Thank you! Your interest is saved and will be passed on to Balansekunst's staff. They will "
            "contact {person} at {contact}."
        )

    def _ask(self, state: ChatState, form: InterestForm, note: str | None = None) -> Outcome:
        question, keyboard = self._question(state, form)
        text = f"{note}\n\n{question}" if note else question
        return Outcome((Reply(text, keyboard, "skjema"),), state, nodes=(f"skjema_{form.step}",))

    def _question(self, state: ChatState, form: InterestForm) -> tuple[str, tuple[tuple[Button, ...], ...]]:
        _ = self._t(state).gettext
        cancel = (CallbackButton(_("Cancel"), callbacks.form(CANCEL)),)
        labels = self._labels(state)
        match form.step:
            case "organisation":
                return _("1/6 What is the name of your organisation?"), (cancel,)
            case "actor_kind":
                kinds = tuple((CallbackButton(labels[k], callbacks.form(k)),) for k in ACTOR_KINDS)
                return _("2/6 What kind of actor are you?"), (*kinds, cancel)
            case "size":
                return _("3/6 Roughly how many people work or take part in your organisation?"), (cancel,)
            case "contact_person":
                return _("4/6 Who should Balansekunst contact? Write the contact person's name."), (cancel,)
            case "contact":
                return _("5/6 Which e-mail address or phone number should they use?"), (cancel,)
            case "message":
                skip = (CallbackButton(_("Skip"), callbacks.form(SKIP)),)
                return _("6/6 Anything else you would like to tell them? Write it, or press Skip."), (
                    skip,
                    cancel,
                )
            case "consent":
                question = _("May Balansekunst contact {person} at {contact} about Balansemerket?").format(
                    person=html.escape(form.contact_person), contact=html.escape(form.contact)
                )
                yes = (CallbackButton(_("Yes, you may contact us"), callbacks.form(YES)),)
                return question, (yes, cancel)
            case "summary":
                send = (CallbackButton(_("Send"), callbacks.form(SEND)),)
                change = (CallbackButton(_("Change"), callbacks.form(CHANGE)),)
                return self._summary(state, form), (send, change, cancel)
            case "change":
                fields = tuple((CallbackButton(labels[f], callbacks.form(FIELD_PREFIX + f)),) for f in FIELDS)
                return _("What would you like to change?"), (*fields, cancel)

    def _summary(self, state: ChatState, form: InterestForm) -> str:
        _ = self._t(state).gettext
        labels = self._labels(state)
        lines = [_("This is what will be sent to Balansekunst:"), ""]
        for field, value in form.as_pairs():
            shown = labels.get(value, value) if field == "actor_kind" else value
            lines.append(f"<b>{html.escape(labels[field])}:</b> {html.escape(shown) or '–'}")
        return "\n".join(lines)

    def _labels(self, state: ChatState) -> dict[str, str]:
        _ = self._t(state).gettext
        return {
            "organisation": _("Organisation"),
            "actor_kind": _("Kind of actor"),
            "size": _("Size"),
            "contact_person": _("Contact person"),
            "contact": _("E-mail or phone"),
            "message": _("Message"),
            "organising": _("Organising (e.g. festival, venue, concert organiser)"),
            "producing": _("Producing (e.g. label, production company, theatre)"),
            "performing": _("Performing (e.g. band, choir, ensemble, company)"),
        }
