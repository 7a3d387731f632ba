"""The privacy text's figures and what the code deletes come from one place: the facts file's privacy.*."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.content import telegram_html
from bot.content.facts import counted
from bot.content.scripts import Scripts
from bot.engine import callbacks
from bot.engine.engine import Engine
from bot.engine.model import ButtonPress, ChatState, FormsSent
from bot.i18n import Catalogs
from bot.settings import ServeSettings
from bot.stats.recorder import StatsRecorder
from bot.telegram.conversations import Retention
from tests.conftest import Reload, shipped
from tests.content.test_check_broken import edit

LANGUAGES = ("nb", "nn", "en")
PRIVACY_NODES = (
    "personvern",
    "personvern_mer",
    "personvern_nett",
    "slett_info",
    "slett_automatisk",
    "slettet",
)
TOKEN = "123456:" + "A" * 35


def shown(scripts: Scripts, lang: str) -> str:
    """Everything the privacy pages say, as the reader sees it."""
    nodes = scripts.language(lang).nodes
    return "\n".join(telegram_html.visible_text(nodes[node].text) for node in PRIVACY_NODES)


def figures_in_text(retention: Retention, lang: str, catalogs: Catalogs) -> Mapping[str, str]:
    """How each figure the code acts on reads in `lang`."""
    return {
        "chat": counted(retention.chat.days, "day", shipped(lang), catalogs),
        "message ids": counted(
            int(retention.message_ids.total_seconds() // 3600), "hour", shipped(lang), catalogs
        ),
        "leads": counted(retention.leads.days, "day", shipped(lang), catalogs),
        "stats": counted(retention.stats.days, "day", shipped(lang), catalogs),
        "undelivered leads": counted(retention.leads_undelivered.days, "day", shipped(lang), catalogs),
        "abandoned form": counted(
            int(retention.form_abandoned.total_seconds() // 3600), "hour", shipped(lang), catalogs
        ),
    }


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_shipped_privacy_text_says_what_the_code_does(
    scripts: Scripts, catalogs: Catalogs, lang: str
) -> None:
    retention = Retention.from_scripts(scripts)
    assert retention == Retention(
        dt.timedelta(days=30),
        dt.timedelta(hours=48),
        dt.timedelta(days=30),
        dt.timedelta(days=400),
        dt.timedelta(days=7),
        dt.timedelta(hours=6),
    )
    text = shown(scripts, lang)
    for what, figure in figures_in_text(retention, lang, catalogs).items():
        assert figure in text, (lang, what, figure)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_changed_figures_change_the_text_and_the_code_together(
    dialogues_copy: Path, reload: Reload, catalogs: Catalogs, lang: str
) -> None:
    facts = dialogues_copy / "facts.yaml"
    edit(facts, "  retention_days: 30 ", "  retention_days: 17 ")
    edit(facts, "  message_delete_hours: 48 ", "  message_delete_hours: 36 ")
    edit(facts, "  leads_retention_days: 30 ", "  leads_retention_days: 45 ")
    edit(facts, "  stats_retention_days: 400 ", "  stats_retention_days: 123 ")
    edit(facts, "  leads_undelivered_days: 7 ", "  leads_undelivered_days: 9 ")
    edit(facts, "  form_abandoned_hours: 6 ", "  form_abandoned_hours: 5 ")
    result = reload(dialogues_copy)
    assert result.scripts is not None, result.errors
    retention = Retention.from_scripts(result.scripts)
    assert retention == Retention(
        dt.timedelta(days=17),
        dt.timedelta(hours=36),
        dt.timedelta(days=45),
        dt.timedelta(days=123),
        dt.timedelta(days=9),
        dt.timedelta(hours=5),
    )
    text = shown(result.scripts, lang)
    for what, figure in figures_in_text(retention, lang, catalogs).items():
        assert figure in text, (lang, what, figure)
    # No figure is written into the text by hand: the old ones are gone everywhere.
    old = [
        counted(30, "day", shipped(lang), catalogs),
        counted(48, "hour", shipped(lang), catalogs),
        counted(400, "day", shipped(lang), catalogs),
        counted(7, "day", shipped(lang), catalogs),
        counted(6, "hour", shipped(lang), catalogs),
    ]
    assert [figure for figure in old if figure in text] == [], text
    assert not re.search(r"\b(30|48)\b", text), text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_privacy_text_and_hjelp_name_the_quick_exit_and_every_auto_delete_choice(
    scripts: Scripts, catalogs: Catalogs, lang: str
) -> None:
    nodes = scripts.language(lang).nodes
    exits = {b.text for node in nodes.values() for b in node.buttons if b.quick_exit}
    (label,) = exits  # one name for the quick exit in each language
    choices = [b.auto_delete_seconds for b in nodes["slett_automatisk"].buttons if b.auto_delete_seconds]
    assert sorted(choices) == [3600, 8 * 3600, 24 * 3600]
    text = shown(scripts, lang)
    for seconds in choices:
        assert counted(seconds // 3600, "hour", shipped(lang), catalogs) in text, (lang, seconds)
    for node in ("personvern", "slett_info", "hjelp"):
        assert label in telegram_html.visible_text(nodes[node].text), (lang, node)
    help_text = telegram_html.visible_text(nodes["hjelp"].text)
    assert all(counted(s // 3600, "hour", shipped(lang), catalogs) in help_text for s in choices), lang


def test_the_privacy_text_names_who_is_responsible_and_where_to_complain(scripts: Scripts) -> None:
    facts = scripts.facts.values
    for lang in LANGUAGES:
        text = shown(scripts, lang)
        assert str(facts["organisation.name"]) in text
        assert str(facts["contact.email"]) in text
        assert str(facts["privacy.authority"]) in text and str(facts["privacy.authority_web"]) in text
        assert "Telegram" in text


FORMS_PER_DAY_IN_TEXT = {"nb": "(høyst {limit})", "nn": "(høgst {limit})", "en": "(at most {limit})"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_privacy_text_states_the_forms_a_chat_may_send_as_the_engine_counts_them(
    dialogues_copy: Path, reload: Reload, catalogs: Catalogs, lang: str
) -> None:
    edit(dialogues_copy / "facts.yaml", "  forms_per_day: 3 ", "  forms_per_day: 2 ")
    result = reload(dialogues_copy)
    assert result.scripts is not None, result.errors
    text = telegram_html.visible_text(result.scripts.language(lang).nodes["personvern"].text)
    assert FORMS_PER_DAY_IN_TEXT[lang].format(limit=2) in text
    engine = Engine(result.scripts, catalogs, lead_form=True)
    full = ChatState(node="merket_soke", lang=lang, forms_sent=FormsSent("", 2))
    assert engine.handle(full, ButtonPress(callbacks.goto("skjema"))).state.form is None
    one_left = ChatState(node="merket_soke", lang=lang, forms_sent=FormsSent("", 1))
    assert engine.handle(one_left, ButtonPress(callbacks.goto("skjema"))).state.form is not None


@pytest.mark.parametrize("variable", ["LEADS_RETENTION_DAYS", "STATS_RETENTION_DAYS"])
def test_the_old_retention_settings_are_refused_with_where_the_figure_lives_now(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("PSEUDONYM_KEY", "k" * 40)
    monkeypatch.setenv(variable, "60")
    with pytest.raises(ValidationError, match=rf"{variable} is no longer read.*dialogues/facts.yaml"):
        ServeSettings(_env_file=None)  # type: ignore[call-arg]


class Store:
    """Records the oldest day each flush keeps."""

    def __init__(self) -> None:
        self.kept_from: list[dt.date] = []

    async def add(self, counts: object, keep_from: dt.date) -> None:
        self.kept_from.append(keep_from)


async def test_the_daily_counts_are_kept_as_long_as_the_facts_file_says_at_each_flush() -> None:
    noon = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)
    days = [400]
    store = Store()
    recorder = StatsRecorder(store, lambda: days[0], lambda: noon)  # type: ignore[arg-type]
    await recorder.flush()
    days[0] = 10  # staff changed privacy.stats_retention_days; the running bot follows
    recorder._expired_on = None  # let the same day's second flush expire again
    await recorder.flush()
    assert store.kept_from == [dt.date(2026, 12, 2) - dt.timedelta(days=400), dt.date(2026, 11, 22)]
