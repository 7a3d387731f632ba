"""The dialogue engine: (state, event) → replies, new state and effects. No I/O anywhere here."""

from __future__ import annotations

import datetime as dt
import gettext
import html
import re
from dataclasses import replace
from zoneinfo import ZoneInfo

from babel.dates import format_timedelta

from bot.content.facts import HOTLINE_STATUS, counted
from bot.content.languages import Language
from bot.content.opening_hours import hotline_status
from bot.content.scripts import (
    DELETED,
    FALLBACK,
    FORM_NODE,
    HELP,
    LANGUAGE_NODE,
    MENU,
    SOURCE_LANGUAGE,
    START,
    ScriptNode,
    Scripts,
)
from bot.content.telegram_html import MAX_MESSAGE_LENGTH
from bot.engine import callbacks
from bot.engine.form import FIELDS, InterestForm
from bot.engine.form_dialogue import FormDialogue
from bot.engine.model import (
    Button,
    ButtonPress,
    CallbackButton,
    ChatState,
    Command,
    Event,
    ForgetChat,
    FormsSent,
    FreeText,
    LinkButton,
    NonText,
    Outcome,
    Reply,
    RouteKind,
    SetAutoDelete,
    SubmitLead,
)
from bot.i18n import Catalogs
from bot.understanding.acute import AcuteDetector, Alert
from bot.understanding.pattern_model import answer_model, danger_model, node_words_digest
from bot.understanding.router import Router, RouteResult, Vocabulary
from bot.understanding.text import words as fold_words

MENU_NODES = frozenset({START, MENU})
# After the acute help, these would only repeat the way to help: the acute answer stands alone.
NO_SECOND_ANSWER = frozenset({START, MENU, HELP})
LANGUAGE_COMMANDS = frozenset({"sprak", "språk", "language"})
EDITED = "edited_message"
MAX_TEXT_CHARS = MAX_MESSAGE_LENGTH  # Telegram's limit; longer messages are cut before routing
MAX_COMMAND_CHARS = 32  # Telegram's limit for a command's name
PATTERN_CUE = "mønstre"  # what `balansebot route` names as the reason for a pattern model's answer
FORMS_DAY_ZONE = ZoneInfo("Europe/Oslo")  # the day a form count belongs to, as staff count days


class Engine:
    """Serves one version of the scripts; build a new Engine to serve new scripts."""

    def __init__(self, scripts: Scripts, catalogs: Catalogs, *, lead_form: bool = False) -> None:
        self.scripts = scripts
        self.catalogs = catalogs
        self.lead_form = lead_form
        """Whether the interest form is offered (only when leads can be delivered to staff)."""
        self._form = FormDialogue(self._t, self._menu_with_note)
        merged = scripts.for_routing()
        self._router = Router(
            merged, Vocabulary(merged.synonyms, merged.ignore, merged.generic, merged.english)
        )
        self._acute = _one_detector(scripts)
        self._danger_model = danger_model() if self._acute is not None else None
        self._answer_model = answer_model()
        self._node_words = {
            node_id: node_words_digest(node.title, node.phrases, node.keywords)
            for node_id, node in merged.nodes.items()
        }

    def handle(self, state: ChatState, event: Event, now: dt.datetime | None = None) -> Outcome:
        """Answer one event; `now` (the adapter's clock) fills in what depends on the time of day."""
        day = now.astimezone(FORMS_DAY_ZONE).date().isoformat() if now is not None else ""
        outcome = _count_sent_forms(self._answer(_forms_of_today(state, day), event), day)
        if not any(HOTLINE_STATUS_SLOT in r.text for r in outcome.replies):
            return outcome
        status = self._hotline_status(outcome.state.lang, now)
        return replace(
            outcome, replies=tuple(replace(r, text=_fill_status(r.text, status)) for r in outcome.replies)
        )

    def _hotline_status(self, lang: str, now: dt.datetime | None) -> str | None:
        if now is None:
            return None
        facts = self.scripts.facts
        days = facts.values["hotline.callback_working_days"]
        assert isinstance(days, int)  # noqa: S101 - `check` requires a whole number
        language = self.scripts.language_list.get(lang)
        return hotline_status(now, facts.hotline_hours, days, language, self.catalogs)

    def _answer(self, state: ChatState, event: Event) -> Outcome:
        if state.form is not None:
            return self._in_form(state, state.form, event)
        match event:
            case Command(name=name):
                return self._command(state, name)
            case ButtonPress(data=data):
                return self._press(state, data)
            case FreeText(text=text):
                return self._free_text(state, _clip(text))
            case NonText(kind=kind):
                _ = self._t(state).gettext
                if kind == EDITED:
                    note = _(
                        "I only read new messages. Please send it again as a new message. Here is the menu:"
                    )
                else:
                    note = _("I can only read text messages. Here is the menu:")
                return self._dead_end(state, note)

    def _in_form(self, state: ChatState, form: InterestForm, event: Event) -> Outcome:
        """While the form is open, text and its buttons answer it; anything else leaves it."""
        match event:
            case Command(name="avbryt"):
                return self._form.cancel(state)
            case ButtonPress(data=data) if isinstance(press := callbacks.parse(data), callbacks.FormChoice):
                return self._form.choose(state, form, press.value)
            case FreeText(text=text) if (alert := self.alert(text)) is None or alert.weak:
                answer = self._form.text(state, form, text[:MAX_TEXT_CHARS])
                return answer if alert is None else self._acute_first(state, alert, answer)
            case NonText():
                _ = self._t(state).gettext
                return (
                    self._form.text(state, form, "")
                    if form.step in FIELDS
                    else self._form.choose(state, form, "")
                )
        # Another command, a menu button, or danger: the form is left (nothing was sent or kept).
        return self._answer(replace(state, form=None), event)

    def router(self) -> Router:
        """The free-text router, shared by every language (for staff tools)."""
        return self._router

    def _command(self, state: ChatState, name: str) -> Outcome:
        _ = self._t(state).gettext
        if name == "start":
            return self._show(state, START)
        if name == "slett":
            fresh = ChatState(lang=state.lang)
            return Outcome(
                (self._render(fresh, self._node(fresh, DELETED)),),
                fresh.at(None),
                (ForgetChat(),),
                "node",
                (DELETED,),
            )
        if name in LANGUAGE_COMMANDS:
            return self._language_choice(state)
        if name == "avbryt":
            return self._dead_end(state, _("There is nothing to cancel. Here is the menu:"))
        node = self.scripts.language(state.lang).command_node(name)
        if node is None:
            # The name is what the user typed after "/": escaped, and cut to Telegram's command length.
            shown = html.escape(name[:MAX_COMMAND_CHARS], quote=False)
            return self._dead_end(
                state, _("I don't know the command /{command}. Here is the menu:").format(command=shown)
            )
        return self._show(state, node.id)

    def _press(self, state: ChatState, data: str | None) -> Outcome:
        press = callbacks.parse(data)
        if isinstance(press, callbacks.QuickExit):
            return self._quick_exit(state)
        if isinstance(press, callbacks.AutoDelete):
            return self._auto_delete(state, press.seconds)
        if isinstance(press, callbacks.GotoNode) and press.node_id == LANGUAGE_NODE:
            return self._language_choice(state)
        if isinstance(press, callbacks.GotoNode) and press.node_id == FORM_NODE and self.lead_form:
            return self._form.start(state) if self._may_send_form(state) else self._forms_used_up(state)
        if isinstance(press, callbacks.GotoNode) and self.scripts.node(state.lang, press.node_id):
            return self._show(state, press.node_id)
        if isinstance(press, callbacks.ChooseLanguage) and press.lang in self.scripts.languages:
            return self._show(replace(state, lang=press.lang), MENU)
        # A button from an old message or an older version of the scripts: never an error.
        _ = self._t(state).gettext
        return self._dead_end(state, _("That button is no longer in use. Here is the menu:"))

    def _may_send_form(self, state: ChatState) -> bool:
        """Whether the chat has sent fewer forms today than privacy.forms_per_day allows."""
        limit = self.scripts.facts.values["privacy.forms_per_day"]
        assert isinstance(limit, int)  # noqa: S101 - the loader requires a whole number
        return state.forms_sent is None or state.forms_sent.count < limit

    def _forms_used_up(self, state: ChatState) -> Outcome:
        """Today's forms are used up: say so kindly, and how to reach staff instead."""
        limit = self.scripts.facts.values["privacy.forms_per_day"]
        assert isinstance(limit, int)  # noqa: S101 - the loader requires a whole number
        email = self.scripts.facts.display("contact.email", state.lang, self.catalogs)
        ngettext = self._t(state).ngettext
        note = ngettext(
            "This chat has already sent {count} interest form today, the most one chat can send "
            "in a day. Balansekunst's staff will contact you about it. Anything more you can "
            "write to {email}.",
            "This chat has already sent {count} interest forms today, the most one chat can send "
            "in a day. Balansekunst's staff will contact you about them. Anything more you can "
            "write to {email}.",
            limit,
        )
        note = note.format(count=limit, email=html.escape(email, quote=False))
        outcome = self._dead_end(state, note)
        return replace(outcome, nodes=("skjema_grense",))

    def _quick_exit(self, state: ChatState) -> Outcome:
        """Forgotten as by /slett, without asking; the one message left says nothing of the topic."""
        _ = self._t(state).gettext
        fresh = ChatState(lang=state.lang)
        return Outcome((Reply(_("Write /start to begin.")),), fresh, (ForgetChat(),), "node")

    def _auto_delete(self, state: ChatState, seconds: int) -> Outcome:
        """The conversation is deleted by itself after the chosen time, or no longer (0)."""
        _ = self._t(state).gettext
        if seconds == 0:
            note = _(
                "Automatic deletion is off. The conversation stays until you delete it, "
                "or write /slett to delete it now."
            )
            after = None
        else:
            shown = duration(seconds, self.scripts.language_list.get(state.lang), self.catalogs)
            note = _(
                "Done. In {duration} I will delete this conversation, including what you write until "
                "then, and forget this chat. You can change it here at any time."
            ).format(duration=f"<b>{shown}</b>")
            after = dt.timedelta(seconds=seconds)
        menu = self._menu_with_note(state, note)
        return replace(menu, effects=(SetAutoDelete(after),))

    def alert(self, text: str) -> Alert | None:
        """The acute alarm a message raises, by every language's rules at once, or by the danger model.

        Whatever the chat's language: someone in danger writes as they speak (Bokmål in a Nynorsk
        chat, English in a Norwegian one), and recall comes first.
        """
        clipped = _clip(text)
        found = self.rules_alert(clipped)
        if found is not None or self._danger_model is None:
            return found
        # The rules found nothing; a message much like the danger messages of the corpora still
        # gets the acute help first (weak: its ordinary answer follows).
        guess = self._danger_model.danger(clipped)
        if guess is None or guess[0] not in self.acute_nodes():
            return None
        node, chance = guess
        return Alert(node, weak=True, because=(f"{PATTERN_CUE} {chance:.0%}",))

    def rules_alert(self, text: str) -> Alert | None:
        """The alarm by acute.yaml's rules alone (for staff tools and training the danger model)."""
        return self._acute.check(_clip(text)) if self._acute is not None else None

    def acute_nodes(self) -> frozenset[str]:
        """The nodes an acute alarm can show (for staff tools and measurements)."""
        return self._acute.nodes if self._acute is not None else frozenset()

    def is_acute(self, text: str) -> bool:
        """Whether a message raises any acute alarm, weak or strong."""
        return self.alert(text) is not None

    def _free_text(self, state: ChatState, text: str) -> Outcome:
        alert = self.alert(text)
        if alert is not None and not alert.weak:
            return self._show(state, alert.node, route="acute")
        answer = self._understood(state, text)
        if alert is None or self.taken_back(alert, answer, text):
            return answer
        return self._acute_first(state, alert, answer)

    def taken_back(self, alert: Alert, answer: Outcome, text: str) -> bool:
        """Whether a weak rule cue gives way to the honest fallback: the bot cannot answer the
        message otherwise and the danger model finds it further from danger than any real danger
        it learned from. The fallback itself shows 112 and the acute button."""
        return (
            alert.weak
            and answer.route == "fallback"
            and self._danger_model is not None
            and self._danger_model.far_from_danger(_clip(text))
        )

    def _acute_first(self, state: ChatState, alert: Alert, answer: Outcome) -> Outcome:
        """A weak danger cue: the acute help first, then the answer the message would get anyway."""
        acute = self._show(state, alert.node, route="acute")
        if answer.route == "fallback" or set(answer.nodes) & {alert.node, *NO_SECOND_ANSWER}:
            return acute
        return replace(
            answer,
            replies=(*acute.replies, *answer.replies),
            route="acute",
            nodes=(alert.node, *answer.nodes),
        )

    def _understood(self, state: ChatState, text: str) -> Outcome:
        """The answer to free text: a node whose phrase the message holds word for word; else the
        answer model's node when it is fairly sure; else the router's node, "Mente du …?", or the
        honest fallback."""
        result = self._router.route(text, state.node)
        learned = None if self._staffs_words_win(result) else self.learned_answer(text)
        if learned is not None and self.scripts.node(state.lang, learned[0]) is not None:
            node = learned[0]
            return self._show(state, node, route="fallback" if node == FALLBACK else "node")
        close = result.close_runners_up
        if close:
            _ = self._t(state).gettext
            nodes = [n for m in close if (n := self.scripts.node(state.lang, m.node)) is not None]
            keyboard = tuple((CallbackButton(n.title, callbacks.goto(n.id)),) for n in nodes)
            reply = Reply(
                _("I'm not quite sure what you mean. Did you mean …"), (*keyboard, self._menu_row(state))
            )
            return Outcome((reply,), state, route="ambiguous", nodes=tuple(n.id for n in nodes))
        if result.best is None:
            return self._show(state, FALLBACK, route="fallback")
        return self._show(state, result.best.node)

    def node_words(self) -> dict[str, str]:
        """Per node, the digest of what staff wrote for the router (its title, phrases, keywords)."""
        return dict(self._node_words)

    def _staffs_words_win(self, result: RouteResult) -> bool:
        """Whether the router answers rather than the answer model: the message holds a node's
        phrase word for word, or staff have changed a node the router considers since the model
        was trained (a new keyword or node works at once, before anyone trains again)."""
        if result.in_staffs_words or self._answer_model is None:
            return True
        trained = self._answer_model.node_words
        considered = result.close_runners_up or ((result.best,) if result.best is not None else ())
        return any(trained.get(m.node) != self._node_words.get(m.node) for m in considered)

    def learned_answer(self, text: str) -> tuple[str, float] | None:
        """The answer model's node for a message and its probability, when it is fairly sure and
        the node is not an acute one (danger is the rules' and the danger model's to find)."""
        guess = self._answer_model.best(_clip(text)) if self._answer_model is not None else None
        return guess if guess is not None and guess[0] not in self.acute_nodes() else None

    def _language_choice(self, state: ChatState) -> Outcome:
        """Each language of languages.yaml that has scripts, named in itself, as a button."""
        _ = self._t(state).gettext
        keyboard = tuple(
            (CallbackButton(language.name, callbacks.language(language.code)),)
            for language in self.scripts.language_list.entries
            if language.code in self.scripts.languages
        )
        reply = Reply(_("Which language would you like?"), (*keyboard, self._menu_row(state)), LANGUAGE_NODE)
        return Outcome((reply,), state, nodes=(LANGUAGE_NODE,))

    def _show(self, state: ChatState, node_id: str, route: RouteKind = "node") -> Outcome:
        node = self._node(state, node_id)
        new_state = state.at(node.id)
        return Outcome((self._render(new_state, node),), new_state, route=route, nodes=(node.id,))

    def _dead_end(self, state: ChatState, note: str) -> Outcome:
        """The menu after "I can't do that": it still shows the way to help, with the emergency number."""
        _ = self._t(state).gettext
        police = html.escape(
            self.scripts.facts.display("emergency.police", state.lang, self.catalogs), quote=False
        )
        danger = _("If you or someone else is in danger now, call {police}.").format(
            police=f"<b>{police}</b>"
        )
        return self._menu_with_note(state, f"{note}\n\n{danger}")

    def _menu_with_note(self, state: ChatState, note: str) -> Outcome:
        menu = self._node(state, MENU)
        keyboard = self._keyboard(state, menu)
        return Outcome((Reply(note, keyboard, MENU),), state.at(MENU), nodes=(MENU,))

    def _node(self, state: ChatState, node_id: str) -> ScriptNode:
        node = self.scripts.node(state.lang, node_id)
        if node is None:  # the checks guarantee the engine's own nodes; anything else → the menu
            node = self.scripts.node(state.lang, MENU)
        assert node is not None  # noqa: S101 - `check` refuses scripts without a menu node
        return node

    def _render(self, state: ChatState, node: ScriptNode) -> Reply:
        return Reply(node.text, self._keyboard(state, node), node.id)

    def _keyboard(self, state: ChatState, node: ScriptNode) -> tuple[tuple[Button, ...], ...]:
        rows: list[tuple[Button, ...]] = []
        for button in node.buttons:
            if button.url is not None:
                rows.append((LinkButton(button.text, button.url),))
            elif button.goto == FORM_NODE and not self.lead_form:
                continue  # no delivery to staff configured: the text's e-mail address is the way
            elif button.quick_exit:
                rows.append((CallbackButton(button.text, callbacks.quick_exit()),))
            elif button.auto_delete_seconds is not None:
                data = callbacks.auto_delete(button.auto_delete_seconds)
                rows.append((CallbackButton(button.text, data),))
            elif button.goto is not None:
                rows.append((CallbackButton(button.text, callbacks.goto(button.goto)),))
        leads_to_menu = any(b.goto in MENU_NODES for b in node.buttons)
        if node.id not in MENU_NODES and not leads_to_menu:
            rows.append(self._menu_row(state))
        return tuple(rows)

    def _menu_row(self, state: ChatState) -> tuple[Button, ...]:
        _ = self._t(state).gettext
        return (CallbackButton(_("↩️ Back to the menu"), callbacks.goto(MENU)),)

    def _t(self, state: ChatState) -> gettext.NullTranslations:
        return self.catalogs.get(state.lang)


def _one_detector(scripts: Scripts) -> AcuteDetector | None:
    """One detector for the rules of every language (each language may add its own acute.yaml)."""
    rules = [s.acute for _, s in sorted(scripts.languages.items(), key=lambda i: i[0] != SOURCE_LANGUAGE)]
    present = [r for r in rules if r is not None]
    if not present:
        return None
    merged = present[0]
    for other in present[1:]:
        merged = merged.merged(other)
    known: set[str] = set()
    for script in scripts.languages.values():
        known.update(fold_words(" ".join([*script.synonyms, *script.synonyms.values(), *script.ignore])))
        for node in script.nodes.values():
            known.update(fold_words(" ".join([node.title, node.text, *node.phrases, *node.keywords])))
    return AcuteDetector(merged, known)


def duration(seconds: int, language: Language, catalogs: Catalogs) -> str:
    """A delay as running text: whole hours as the privacy text counts them ("én time"), else babel's."""
    if seconds % 3600 == 0:
        return counted(seconds // 3600, "hour", language, catalogs)
    return format_timedelta(dt.timedelta(seconds=seconds), threshold=100, locale=language.locale)


def choose_language(language_code: str | None, scripts: Scripts) -> str:
    """A new chat's language from Telegram's language_code, as languages.yaml maps the codes
    (nb/no → Bokmål, nn → Nynorsk, any other → its `other`), among the languages with scripts."""
    return scripts.language_list.choose(language_code, scripts.languages)


HOTLINE_STATUS_SLOT = "{" + HOTLINE_STATUS + "}"
_STATUS_LINE = re.compile(
    r"^[ \t]*(?:<[a-z]+>)*" + re.escape(HOTLINE_STATUS_SLOT) + r"(?:</[a-z]+>)*[ \t]*\n?", re.M
)


def _forms_of_today(state: ChatState, day: str) -> ChatState:
    """The state with yesterday's form count dropped: the limit is per day."""
    if state.forms_sent is not None and day and state.forms_sent.day != day:
        return replace(state, forms_sent=None)
    return state


def _count_sent_forms(outcome: Outcome, day: str) -> Outcome:
    """Count a form sent in this turn against today's limit."""
    sent = sum(isinstance(effect, SubmitLead) for effect in outcome.effects)
    if not sent:
        return outcome
    before = outcome.state.forms_sent.count if outcome.state.forms_sent is not None else 0
    return replace(outcome, state=replace(outcome.state, forms_sent=FormsSent(day, before + sent)))


def _fill_status(text: str, status: str | None) -> str:
    """Put "open now / opens again …" in its place, or drop its line when no clock was given."""
    if status is None:
        return _STATUS_LINE.sub("", text)
    return text.replace(HOTLINE_STATUS_SLOT, html.escape(status, quote=False))


def _clip(text: str) -> str:
    """A message cut to Telegram's length at a space, so no half word is left to misread."""
    if len(text) <= MAX_TEXT_CHARS:
        return text
    cut = text[:MAX_TEXT_CHARS]
    return cut.rsplit(maxsplit=1)[0] if not text[MAX_TEXT_CHARS].isspace() and " " in cut else cut
