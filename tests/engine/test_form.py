"""The Balansemerket interest form: one question at a time, checked answers, summary, change, consent."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from bot.content.scripts import Scripts
from bot.engine import callbacks
from bot.engine.engine import Engine
from bot.engine.form import InterestForm
from bot.engine.form_dialogue import LeadChannels
from bot.engine.lead_form import LeadFormEngine, engine_for
from bot.engine.model import (
    ButtonPress,
    ChatState,
    Command,
    Event,
    FormsSent,
    FreeText,
    NonText,
    Outcome,
    SubmitLead,
)
from bot.i18n import Catalogs
from bot.settings import ServeSettings
from tests.support.buttons import callback_data


@pytest.fixture(scope="module")
def engine(scripts: Scripts, catalogs: Catalogs) -> Engine:
    """An engine with lead delivery configured, so the form is offered."""
    return Engine(scripts, catalogs, lead_form=True)


class Chat:
    """A conversation with the engine, remembering the state between turns."""

    def __init__(self, engine: Engine, state: ChatState | None = None) -> None:
        self.engine = engine
        self.state = state or ChatState(node="merket_soke")
        self.last: Outcome | None = None

    def __call__(self, event: Event) -> str:
        self.last = self.engine.handle(self.state, event)
        self.state = self.last.state
        return self.last.replies[-1].text

    def buttons(self) -> list[str]:
        assert self.last is not None
        return callback_data(self.last.replies[-1])


def start(engine: Engine) -> Chat:
    """A chat on the badge page that has pressed the form button."""
    chat = Chat(engine)
    assert "1/6" in chat(ButtonPress(callbacks.goto("skjema")))
    return chat


def test_the_form_is_offered_only_when_leads_can_be_delivered(scripts: Scripts, catalogs: Catalogs) -> None:
    with_form = Engine(scripts, catalogs, lead_form=True).handle(ChatState(), Command("merket"))
    page = Engine(scripts, catalogs, lead_form=True).handle(
        ChatState(), ButtonPress(callbacks.goto("merket_soke"))
    )
    without = Engine(scripts, catalogs).handle(ChatState(), ButtonPress(callbacks.goto("merket_soke")))
    assert callbacks.goto("skjema") in callback_data(page.replies[0])
    assert callbacks.goto("skjema") not in callback_data(without.replies[0])
    assert "hei@balansekunstprosjektet.no" in without.replies[0].text, "the e-mail address instead"
    assert with_form.replies
    refused = Engine(scripts, catalogs).handle(ChatState(), ButtonPress(callbacks.goto("skjema")))
    assert refused.state.form is None and "ikke i bruk lenger" in refused.replies[0].text


def test_the_whole_form_with_reasks_change_consent_and_send(engine: Engine) -> None:
    chat = start(engine)
    assert "2/6" in chat(FreeText("  Kulturhuset   Øst & co "))
    assert len([d for d in chat.buttons() if d and d.startswith("f:") and d != "f:cancel"]) == 3
    assert "knappene" in chat(FreeText("arrangør")), "a kind of actor is chosen with the buttons"
    assert "3/6" in chat(ButtonPress(callbacks.form("organising")))
    assert "skriv et svar" in chat(FreeText("   ")).lower()
    assert "3/6" in chat.last.replies[-1].text if chat.last else False
    assert "4/6" in chat(FreeText("ca. 40 ansatte og frivillige"))
    assert "5/6" in chat(FreeText("Kari Nordmann"))
    assert "e-postadresse eller et telefonnummer" in chat(FreeText("ring meg"))
    assert "6/6" in chat(FreeText("kari@kulturhuset.no"))
    consent = chat(ButtonPress(callbacks.form("skip")))
    assert "Kari Nordmann" in consent and "kari@kulturhuset.no" in consent
    summary = chat(ButtonPress(callbacks.form("yes")))
    assert "Kulturhuset Øst &amp; co" in summary, "answers are escaped, never interpreted as HTML"
    assert "ca. 40 ansatte og frivillige" in summary
    assert "Arrangerende" in summary
    assert "hva vil du endre" in chat(ButtonPress(callbacks.form("change"))).lower()
    assert "3/6" in chat(ButtonPress(callbacks.form("field:size")))
    summary = chat(FreeText("omtrent 50"))
    assert "omtrent 50" in summary and "ca. 40" not in summary, "back to the summary after one change"
    chat(ButtonPress(callbacks.form("send")))
    assert chat.last is not None
    (effect,) = chat.last.effects
    assert isinstance(effect, SubmitLead)
    assert dict(effect.form.as_pairs()) == {
        "organisation": "Kulturhuset Øst & co",
        "actor_kind": "organising",
        "size": "omtrent 50",
        "contact_person": "Kari Nordmann",
        "contact": "kari@kulturhuset.no",
        "message": "",
    }
    assert chat.state.form is None
    assert "Takk" in chat.last.replies[0].text


@pytest.mark.parametrize("when", range(7))
def test_avbryt_at_any_step_discards_everything(engine: Engine, when: int) -> None:
    chat = start(engine)
    steps: list[Event] = [
        FreeText("Korpset"),
        ButtonPress(callbacks.form("performing")),
        FreeText("30"),
        FreeText("Ola"),
        FreeText("+47 400 00 000"),
        FreeText("Hei!"),
        ButtonPress(callbacks.form("yes")),
    ]
    for event in steps[:when]:
        chat(event)
    reply = chat(Command("avbryt"))
    assert chat.state.form is None
    assert "Ingenting ble lagret eller sendt" in reply
    assert chat.last is not None and chat.last.effects == ()


def test_answers_that_are_too_long_are_asked_again(engine: Engine) -> None:
    chat = start(engine)
    assert "under 200 tegn" in chat(FreeText("x" * 201))
    assert chat.state.form == InterestForm()


def test_danger_during_the_form_gets_acute_help(engine: Engine) -> None:
    chat = start(engine)
    reply = chat(FreeText("hjelp han slår meg nå"))
    assert "112" in reply and chat.state.form is None


def test_another_command_leaves_the_form(engine: Engine) -> None:
    chat = start(engine)
    chat(FreeText("Teateret"))
    assert "400 38 800" in chat(Command("telefon"))
    assert chat.state.form is None


def test_old_form_buttons_and_stickers_re_ask_the_question(engine: Engine) -> None:
    chat = start(engine)
    chat(FreeText("Teateret"))
    assert "2/6" in chat(ButtonPress(callbacks.form("send")))
    assert "2/6" in chat(NonText("sticker"))
    assert "2/6" in chat(ButtonPress(callbacks.form("nonsense")))


def test_form_state_survives_storage(engine: Engine) -> None:
    chat = start(engine)
    chat(FreeText("Kulturskolen"))
    chat(ButtonPress(callbacks.form("producing")))
    form = chat.state.form
    assert form is not None
    assert InterestForm.from_json(form.to_json()) == form
    assert InterestForm.from_json({"step": "removed_step"}) is None
    assert replace(form, changing=True) != form


def test_form_in_english(engine: Engine) -> None:
    chat = Chat(engine, ChatState(node="merket_soke", lang="en"))
    assert "1/6" in chat(ButtonPress(callbacks.goto("skjema")))
    assert "What is the name" in chat.last.replies[-1].text if chat.last else False


def sent(engine: Engine, lang: str = "nb") -> str:
    """The thank-you after filling in and sending the whole form in `lang`."""
    chat = Chat(engine, ChatState(node="merket_soke", lang=lang))
    chat(ButtonPress(callbacks.goto("skjema")))
    chat(FreeText("Testkoret"))
    chat(ButtonPress(callbacks.form("performing")))
    chat(FreeText("25"))
    chat(FreeText("Kari Nordmann"))
    chat(FreeText("kari@example.no"))
    chat(ButtonPress(callbacks.form("skip")))
    chat(ButtonPress(callbacks.form("yes")))
    chat(ButtonPress(callbacks.form("send")))
    assert chat.last is not None and chat.last.nodes == ("skjema_sendt",)
    assert isinstance(chat.last.effects[0], SubmitLead)
    return chat.last.replies[0].text


EMAIL, STAFF_CHAT, BOTH = (
    LeadChannels(email=True),
    LeadChannels(staff_chat=True),
    LeadChannels(email=True, staff_chat=True),
)


@pytest.mark.parametrize(
    ("channels", "lang", "says", "never"),
    [
        (EMAIL, "nb", ["går til de ansatte i Balansekunst på e-post.", "Går e-posten tregt"], ["Telegram"]),
        (EMAIL, "nn", ["går til dei tilsette i Balansekunst på e-post."], ["Telegram"]),
        (EMAIL, "en", ["goes to Balansekunst's staff by e-mail;"], ["Telegram"]),
        (STAFF_CHAT, "nb", ["går til de ansatte i Balansekunst i Telegram-chatten deres."], ["e-post"]),
        (STAFF_CHAT, "nn", ["går til dei tilsette i Balansekunst i Telegram-chatten deira."], ["e-post"]),
        (STAFF_CHAT, "en", ["goes to Balansekunst's staff in their Telegram chat;"], ["e-mail"]),
        (BOTH, "nb", ["på e-post og i Telegram-chatten deres"], []),
        (BOTH, "nn", ["på e-post og i Telegram-chatten deira"], []),
        (BOTH, "en", ["by e-mail and in their Telegram chat"], []),
    ],
)
def test_the_thank_you_names_the_channels_that_are_set_up(
    scripts: Scripts, catalogs: Catalogs, channels: LeadChannels, lang: str, says: list[str], never: list[str]
) -> None:
    thanks = sent(LeadFormEngine(scripts, catalogs, channels=channels), lang)
    for text in says:
        assert text in thanks, (lang, thanks)
    for text in never:
        assert text not in thanks, (lang, thanks)
    assert "Kari Nordmann" in thanks and "kari@example.no" in thanks


def test_without_a_channel_the_form_is_not_offered(scripts: Scripts, catalogs: Catalogs) -> None:
    engine = LeadFormEngine(scripts, catalogs, channels=LeadChannels())
    assert not engine.lead_form
    page = engine.handle(ChatState(), ButtonPress(callbacks.goto("merket_soke")))
    assert callbacks.goto("skjema") not in callback_data(page.replies[0])


def test_staff_tools_name_no_channel(engine: Engine) -> None:
    thanks = sent(engine)
    assert "blir gitt videre til de ansatte i Balansekunst" in thanks
    assert "e-post" not in thanks and "Telegram" not in thanks


def test_live_reload_keeps_the_channels(scripts: Scripts, catalogs: Catalogs) -> None:
    served = engine_for(scripts, LeadFormEngine(scripts, catalogs, channels=STAFF_CHAT))
    assert isinstance(served, LeadFormEngine) and served.channels == STAFF_CHAT
    assert "Telegram-chatten" in sent(served)
    plain = engine_for(scripts, Engine(scripts, catalogs, lead_form=True))
    assert type(plain) is Engine and plain.lead_form


@pytest.mark.parametrize(
    ("environment", "channels"),
    [
        ({"SMTP_HOST": "smtp.example.org", "LEADS_EMAIL_FROM": "bot@example.org"}, EMAIL),
        ({"STAFF_CHAT_ID": "-1001234567890"}, STAFF_CHAT),
        (
            {"SMTP_HOST": "smtp.example.org", "LEADS_EMAIL_FROM": "bot@example.org", "STAFF_CHAT_ID": "-100"},
            BOTH,
        ),
        ({}, LeadChannels()),
    ],
)
def test_the_settings_say_which_channels(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], channels: LeadChannels
) -> None:
    monkeypatch.setenv("BOT_TOKEN", "123456:" + "A" * 35)
    monkeypatch.setenv("PSEUDONYM_KEY", "k" * 40)
    for name in ("SMTP_HOST", "LEADS_EMAIL_FROM", "STAFF_CHAT_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = ServeSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.lead_channels == channels


def send_form(chat: Chat, when: dt.datetime) -> Outcome:
    """Fill in the whole form at `when`, send it, and return the thank-you's outcome."""
    chat.engine.handle(chat.state, ButtonPress(callbacks.goto("merket_soke")), when)
    answers: list[Event] = [
        ButtonPress(callbacks.goto("skjema")),
        FreeText("Testkoret"),
        ButtonPress(callbacks.form("performing")),
        FreeText("25"),
        FreeText("Kari Nordmann"),
        FreeText("kari@example.no"),
        ButtonPress(callbacks.form("skip")),
        ButtonPress(callbacks.form("yes")),
        ButtonPress(callbacks.form("send")),
    ]
    for event in answers:
        chat.last = chat.engine.handle(chat.state, event, when)
        chat.state = chat.last.state
    assert chat.last is not None
    return chat.last


MORNING = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)


def test_one_chat_sends_at_most_the_days_forms_and_is_told_how_to_reach_staff(engine: Engine) -> None:
    limit = engine.scripts.facts.values["privacy.forms_per_day"]
    assert limit == 3
    chat = Chat(engine)
    for number in range(1, 4):
        outcome = send_form(chat, MORNING + dt.timedelta(hours=number))
        assert isinstance(outcome.effects[0], SubmitLead)
        assert chat.state.forms_sent == FormsSent("2026-12-03", number)
    again = ButtonPress(callbacks.goto("skjema"))
    for event in (again, Command("start"), again):
        refused = engine.handle(chat.state, event, MORNING + dt.timedelta(hours=5))
        chat.state = refused.state
    assert refused.state.form is None and not refused.effects
    assert refused.nodes == ("skjema_grense",)
    text = refused.replies[0].text
    assert "allerede sendt 3 interesseskjemaer i dag" in text
    assert "hei@balansekunstprosjektet.no" in text, "the way to staff instead"
    assert "113" in text or "112" in text, "a dead end still shows the way to help"


def test_the_days_forms_begin_again_on_the_next_oslo_day(engine: Engine) -> None:
    full = ChatState(node="merket_soke", forms_sent=FormsSent("2026-12-03", 3))
    late_evening = dt.datetime(2026, 12, 3, 22, 59, tzinfo=dt.UTC)  # 23:59 in Oslo
    assert engine.handle(full, ButtonPress(callbacks.goto("skjema")), late_evening).state.form is None
    after_midnight = dt.datetime(2026, 12, 3, 23, 1, tzinfo=dt.UTC)  # 00:01 in Oslo
    opened = engine.handle(full, ButtonPress(callbacks.goto("skjema")), after_midnight)
    assert opened.state.form is not None and opened.state.forms_sent is None
    chat = Chat(engine, full)
    send_form(chat, after_midnight)
    assert chat.state.forms_sent == FormsSent("2026-12-04", 1)


def test_slett_forgets_the_count_with_everything_else(engine: Engine) -> None:
    full = ChatState(node="merket_soke", forms_sent=FormsSent("2026-12-03", 3))
    deleted = engine.handle(full, Command("slett"), MORNING)
    assert deleted.state.forms_sent is None


def test_the_count_survives_storage_and_odd_rows_read_as_none() -> None:
    sent = FormsSent("2026-12-03", 2)
    assert FormsSent.from_json(sent.to_json()) == sent
    for odd in (None, [], {"day": 3, "count": 1}, {"day": "2026-12-03", "count": True}, {"day": "x"}):
        assert FormsSent.from_json(odd) is None
