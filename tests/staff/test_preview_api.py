"""`balansebot preview`'s JSON API, event stream and sanitizer, without a browser."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content.loader import load_scripts
from bot.content.scripts import Scripts
from bot.content.telegram_html import PAGE_ATTRIBUTES, PAGE_TAGS, page_html
from bot.engine.engine import Engine
from bot.engine.model import ChatState, Outcome
from bot.i18n import Catalogs
from bot.live_scripts import LiveScripts
from bot.staff.preview.app import STATUS, create_app
from bot.staff.preview.sessions import Sessions
from bot.staff.preview.settings import MAX_BODY_BYTES, PreviewSettings
from bot.staff.preview.status import StatusBoard
from bot.stats.counter import stats_day
from bot.stats.recorder import StatsRecorder
from bot.stats.store import SqlStatsStore
from bot.storage import migrate
from bot.storage.database import create_engine
from tests.conftest import DIALOGUES, needs_dot, run_balansebot

SESSION = "tab-0123456789abcdef"
NOW = dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.UTC)  # a Wednesday morning: the advice line is open
PATH = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}

Chat = Callable[..., Awaitable[dict[str, Any]]]


class Preview:
    """A preview app on a private copy of the scripts, with a test client."""

    def __init__(
        self, client: TestClient[web.Request, web.Application], live: LiveScripts, folder: Path
    ) -> None:
        self.client = client
        self.live = live
        self.folder = folder

    async def post(self, body: object, session: str = SESSION) -> dict[str, Any]:
        """One turn that must succeed."""
        response = await self.client.post("/api/chat", json=body)
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer

    async def turn(
        self, kind: str, value: str = "", *, lang: str = "nb", message: int | None = None
    ) -> dict[str, Any]:
        """One event in the test's chat."""
        event: dict[str, object] = {"kind": kind, "value": value}
        if message is not None:
            event["message"] = message
        return await self.post({"session": SESSION, "lang": lang, "event": event})


async def start_preview(
    folder: Path, catalogs: Catalogs, database_url: str, scripts: Scripts | None = None
) -> Preview:
    """The app as `balansebot preview` builds it, without the file watcher (tests reload by hand)."""
    if scripts is None:
        result = load_scripts(folder, catalogs)
        assert result.scripts is not None
        scripts = result.scripts
    live = LiveScripts(Engine(scripts, catalogs, lead_form=True), folder, catalogs)
    settings = PreviewSettings(dialogues_dir=folder, database_url=database_url, watch_dialogues=False)
    app = create_app(settings, live, StatusBoard(live), clock=lambda: NOW)
    client = TestClient(TestServer(app))
    await client.start_server()
    return Preview(client, live, folder)


@pytest.fixture
async def preview(scripts: Scripts, catalogs: Catalogs, tmp_path: Path) -> AsyncIterator[Preview]:
    """A running preview on the shipped scripts (not to be edited), with no statistics database."""
    running = await start_preview(DIALOGUES, catalogs, f"sqlite:///{tmp_path / 'none.db'}", scripts)
    yield running
    await running.client.close()


@pytest.fixture
async def editable(dialogues_copy: Path, catalogs: Catalogs, tmp_path: Path) -> AsyncIterator[Preview]:
    """A running preview on a copy of dialogues/ that the test may change."""
    running = await start_preview(dialogues_copy, catalogs, f"sqlite:///{tmp_path / 'none.db'}")
    yield running
    await running.client.close()


def texts(answer: dict[str, Any]) -> list[str]:
    """The button texts of the last reply."""
    return [b["text"] for row in answer["replies"][-1]["buttons"] for b in row]


def callback(answer: dict[str, Any], data: str) -> str:
    """The callback data of the last reply's button that has it (asserting the button is there)."""
    found = [
        b["callback"] for row in answer["replies"][-1]["buttons"] for b in row if b.get("callback") == data
    ]
    assert found, f"no button {data} in {texts(answer)}"
    return found[0]


# ---- Chatting ----


async def test_restart_greets_with_the_start_node_and_its_buttons_in_rows(preview: Preview) -> None:
    answer = await preview.turn("restart")
    (reply,) = answer["replies"]
    assert (reply["node"], answer["node"], answer["lang"]) == ("start", "start", "nb")
    assert answer["version"] == preview.live.version
    assert reply["html"].startswith("<b>Hei, og velkommen</b>")
    assert reply["replaces"] is None
    assert all(len(row) == 1 for row in reply["buttons"])
    assert {"text": "Rådgivningstelefonen", "callback": "n:telefon"} in [
        b for row in reply["buttons"] for b in row
    ]


async def test_a_press_on_the_newest_message_edits_it_and_an_older_one_gets_a_new_message(
    preview: Preview,
) -> None:
    greeting = (await preview.turn("restart"))["replies"][0]
    edited = await preview.turn("press", "n:telefon", message=greeting["id"])
    assert edited["replies"][0]["replaces"] == greeting["id"]
    assert edited["replies"][0]["id"] == greeting["id"], "an edited message keeps its id, as on Telegram"
    assert edited["node"] == "telefon"
    typed = await preview.turn("text", "hvem kan ringe")
    new_id = typed["replies"][0]["id"]
    assert new_id != greeting["id"]
    # The greeting (now the telefon message) is no longer the newest: pressing it sends a new message.
    older = await preview.turn("press", "n:telefon_samtalen", message=greeting["id"])
    assert older["replies"][0]["replaces"] is None
    assert older["replies"][0]["id"] not in (greeting["id"], new_id)
    # A press without saying which message it was on cannot edit anything.
    assert (await preview.turn("press", "n:meny"))["replies"][0]["replaces"] is None


async def test_a_link_button_opens_its_address_beside_the_callback_buttons(editable: Preview) -> None:
    om = editable.folder / "nb" / "om.yaml"
    marker = "      - text: Balansemerket\n"
    link = "      - text: Nettsiden\n        url: https://balansekunst.no\n"
    om.write_text(om.read_text(encoding="utf-8").replace(marker, link + marker, 1), "utf-8")
    assert (await editable.live.reload()).status == "reloaded"
    await editable.turn("restart")
    buttons = [b for row in (await editable.turn("press", "n:om"))["replies"][0]["buttons"] for b in row]
    assert buttons[:2] == [
        {"text": "Nettsiden", "url": "https://balansekunst.no"},
        {"text": "Balansemerket", "callback": "n:merket"},
    ]


async def test_the_hotline_question_gets_the_number_in_bold(preview: Preview) -> None:
    await preview.turn("restart")
    answer = await preview.turn("text", "når er telefonen åpen?")
    assert answer["node"] == "telefon"
    assert "<b>400 38 800</b>" in answer["replies"][0]["html"]
    assert "Den er åpen nå" in answer["replies"][0]["html"], "the clock given to the app fills in the hours"


async def test_commands_are_read_as_telegram_reads_them(preview: Preview) -> None:
    for typed in ("/telefon", "/Telefon@balansebot nå", "telefon"):
        answer = await preview.turn("command", typed)
        assert answer["node"] == "telefon", typed
    assert (await preview.turn("command", "/start"))["node"] == "start"


async def test_what_staff_type_never_becomes_markup(preview: Preview) -> None:
    await preview.turn("restart")
    answer = await preview.turn("command", "/<b>hei</b>")
    shown = answer["replies"][0]["html"]
    assert "&lt;b&gt;hei&lt;/b&gt;" in shown
    assert "<b>hei" not in shown
    typed = await preview.turn("text", '<b>hei</b><script>alert("x")</script>')
    assert "<script" not in typed["replies"][0]["html"] and "<b>hei" not in typed["replies"][0]["html"]


async def test_an_unknown_session_starts_a_new_chat_in_the_requested_language(preview: Preview) -> None:
    answer = await preview.post(
        {"session": "never-seen-before-123", "lang": "en", "event": {"kind": "command", "value": "start"}}
    )
    assert answer["lang"] == "en"
    assert "Hi" in answer["replies"][0]["html"] or "Welcome" in answer["replies"][0]["html"]


async def test_choosing_a_language_in_the_chat_is_reported_to_the_page(preview: Preview) -> None:
    await preview.turn("restart", lang="nb")
    choice = await preview.turn("command", "/sprak")
    assert callback(choice, "l:en") == "l:en"
    answer = await preview.turn("press", "l:en")
    assert answer["lang"] == "en"
    # Restart in another language starts over there, whatever the chat had chosen.
    assert (await preview.turn("restart", lang="nn"))["lang"] == "nn"


async def test_the_quick_exit_and_an_auto_delete_choice_show_as_on_telegram(preview: Preview) -> None:
    menu = await preview.turn("restart")
    buttons = [b for row in menu["replies"][0]["buttons"] for b in row]
    assert {"text": "Skjul samtalen", "callback": "x"} in buttons
    chosen = await preview.turn("press", "a:3600")
    assert any("deleted by itself after 3600 s" in note for note in chosen["notes"])
    hidden = await preview.turn("press", "x")
    assert hidden["forgot"] is True
    assert [r["html"] for r in hidden["replies"]] == ["Skriv /start for å begynne."]


async def test_slett_forgets_the_chat_and_says_so(preview: Preview) -> None:
    await preview.turn("restart", lang="en")
    await preview.turn("press", "l:nn")
    answer = await preview.turn("command", "/slett")
    assert answer["forgot"] is True
    assert any("forgotten" in note for note in answer["notes"])
    assert answer["lang"] == "nn", "the language is kept, as on Telegram"
    assert answer["replies"][0]["replaces"] is None


async def test_the_interest_form_can_be_filled_in_but_is_never_sent(preview: Preview) -> None:
    answer = await preview.turn("restart")
    answer = await preview.turn("press", "n:merket_soke")
    answer = await preview.turn("press", callback(answer, "n:skjema"))
    assert answer["node"] == "skjema"
    answer = await preview.turn("text", "<i>Koret</i> & co")
    kind = answer["replies"][-1]["buttons"][0][0]["callback"]
    for step in (("press", kind), ("text", "40"), ("text", "Kari"), ("text", "kari@example.no")):
        answer = await preview.turn(*step)
    answer = await preview.turn("press", "f:skip")
    answer = await preview.turn("press", "f:yes")
    summary = answer["replies"][0]["html"]
    assert "&lt;i&gt;Koret&lt;/i&gt; &amp; co" in summary, "the organisation's name is shown as typed"
    answer = await preview.turn("press", "f:send")
    assert answer["notes"] == ["The interest form would now be sent to staff (the preview never sends it)."]


# ---- Bad requests ----


async def post_raw(
    preview: Preview, data: bytes | str, content_type: str = "application/json"
) -> ClientResponse:
    return await preview.client.post("/api/chat", data=data, headers={"Content-Type": content_type})


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", "body"),
        (b'{"session": "short", "event": {"kind": "text", "value": "hei"}}', "session"),
        (b'{"session": "tab-0123456789abcdef"}', "event"),
        (b'{"session": "tab-0123456789abcdef", "event": {"kind": "shout", "value": "x"}}', "event.kind"),
        (b'{"session": "tab-0123456789abcdef", "lang": "de", "event": {"kind": "restart"}}', "lang"),
        (b'{"session": "tab-0123456789abcdef", "event": {"kind": "text", "value": "  "}}', "empty"),
        (b'{"session": "tab-0123456789abcdef", "event": {"kind": "command", "value": "/"}}', "command"),
        (b'{"session": "tab-0123456789abcdef", "event": {"kind": "text", "value": 5}}', "event.value"),
        (b'{"session": "tab-0123456789abcdef", "event": {"kind": "restart"}, "x": 1}', "x"),
        (b'{"session": "tab-0123456789abcdef", "event": {"kind": "press", "message": 0}}', "event.message"),
        (b'{"session": "../../etc/passwd-xxxxxxx", "event": {"kind": "restart"}}', "session"),
    ],
)
async def test_a_bad_body_is_a_400_that_says_what_is_wrong(preview: Preview, body: bytes, words: str) -> None:
    response = await post_raw(preview, body)
    assert response.status == 400
    assert words in (await response.json())["error"]


async def test_text_longer_than_telegram_allows_is_refused(preview: Preview) -> None:
    body = {"session": SESSION, "event": {"kind": "text", "value": "a" * 4097}}
    response = await preview.client.post("/api/chat", json=body)
    assert response.status == 400
    assert "event.value" in (await response.json())["error"]


async def test_an_oversized_body_is_a_413(preview: Preview) -> None:
    big = json.dumps({"session": SESSION, "event": {"kind": "text", "value": "x" * MAX_BODY_BYTES}})
    response = await post_raw(preview, big)
    assert response.status == 413

    async def chunks() -> AsyncIterator[bytes]:
        """A body without Content-Length, so the limit is only found while reading."""
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024

    response = await preview.client.post(
        "/api/chat", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status == 413


async def test_a_body_that_is_not_json_by_type_is_refused(preview: Preview) -> None:
    response = await post_raw(preview, "session=x", "application/x-www-form-urlencoded")
    assert response.status == 415


async def test_only_post_reaches_the_chat(preview: Preview) -> None:
    assert (await preview.client.get("/api/chat")).status == 405


# ---- The page, the chart, the status ----


async def test_the_page_offers_the_served_languages_in_their_order(preview: Preview) -> None:
    body = await (await preview.client.get("/")).text()
    options = re.findall(r'<option value="([a-z]+)" lang="[a-z]+">([^<]+)</option>', body)
    assert options == [("nb", "Norsk bokmål"), ("nn", "Norsk nynorsk"), ("en", "English")]


async def test_the_page_and_its_files_are_served_with_security_headers(preview: Preview) -> None:
    page = await preview.client.get("/")
    assert page.status == 200
    body = await page.text()
    assert '<html lang="nb">' in body and 'aria-live="polite"' in body and '<label for="message"' in body
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("preview.js", "preview.css"):
        static = await preview.client.get(f"/static/{name}")
        assert static.status == 200, name
    assert (await preview.client.get("/static/../app.py")).status in (403, 404)


@needs_dot
@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
async def test_the_flow_chart_has_an_element_per_node(preview: Preview, lang: str) -> None:
    response = await preview.client.get("/api/flow.svg", params={"lang": lang})
    assert response.status == 200
    assert response.content_type == "image/svg+xml"
    assert response.headers["X-Scripts-Version"] == preview.live.version
    svg = await response.text()
    for node in ("start", "meny", "telefon", "skjema"):
        assert f'id="node&#45;{node}"' in svg or f'id="node-{node}"' in svg, node


async def test_the_flow_chart_refuses_an_unknown_language(preview: Preview) -> None:
    response = await preview.client.get("/api/flow.svg", params={"lang": "sv"})
    assert response.status == 400


@needs_dot
async def test_the_flow_chart_follows_a_reload(editable: Preview) -> None:
    preview = editable
    start = preview.folder / "nb" / "start.yaml"
    before = await (await preview.client.get("/api/flow.svg")).text()
    start.write_text(
        start.read_text(encoding="utf-8").replace("title: Slik bruker du boten", "title: Hjelpesiden"),
        "utf-8",
    )
    assert (await preview.live.reload()).status == "reloaded"
    after = await (await preview.client.get("/api/flow.svg")).text()
    assert "Hjelpesiden" in after and "Hjelpesiden" not in before


async def read_event(response: ClientResponse) -> dict[str, Any]:
    """The next `status` event on a Server-Sent Events stream."""
    lines: list[str] = []
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 5)).decode().rstrip("\n")
        if line == "" and lines:
            break
        if line and not line.startswith(":"):
            lines.append(line)
    assert lines[0] == "event: status"
    data: dict[str, Any] = json.loads(lines[1].removeprefix("data: "))
    return data


async def test_saving_a_broken_script_is_pushed_with_file_line_and_hint_then_the_fix(
    editable: Preview,
) -> None:
    preview = editable
    stream = await preview.client.get("/api/events")
    assert stream.headers["Content-Type"] == "text/event-stream"
    first = await read_event(stream)
    assert (first["state"], first["change"], first["version"]) == ("ok", "started", preview.live.version)

    telefon = preview.folder / "nb" / "telefon.yaml"
    good = telefon.read_text(encoding="utf-8")
    line = good.splitlines().index("        goto: telefon_samtalen") + 1
    telefon.write_text(good.replace("goto: telefon_samtalen", "goto: nowhere", 1), encoding="utf-8")
    await preview.live.reload()
    refused = await read_event(stream)
    assert refused["state"] == "refused" and refused["change"] == "refused"
    assert refused["version"] == first["version"], "the previous version keeps serving"
    (problem,) = refused["errors"]
    assert (problem["file"], problem["line"]) == ("dialogues/nb/telefon.yaml", line)
    assert "nowhere" in problem["message"] and "spelling" in problem["hint"]
    status = await (await preview.client.get("/api/status")).json()
    assert status["state"] == "refused"
    # The chat keeps working on the version that passed.
    assert (await preview.turn("command", "/telefon"))["version"] == first["version"]

    telefon.write_text(good.replace("Rådgivningstelefonen", "Rådgivingstelefonen (ny)", 1), encoding="utf-8")
    await preview.live.reload()
    fixed = await read_event(stream)
    assert (fixed["state"], fixed["change"], fixed["errors"]) == ("ok", "reloaded", [])
    assert fixed["version"] != first["version"]
    stream.close()


async def test_a_saved_bokmal_edit_is_served_with_its_stale_translations_as_warnings(
    editable: Preview,
) -> None:
    preview = editable
    assert (await (await preview.client.get("/api/status")).json())["warnings"] == []
    telefon = preview.folder / "nb" / "telefon.yaml"
    telefon.write_text(
        telefon.read_text(encoding="utf-8").replace("title: Rådgivningstelefonen", "title: Ring oss", 1),
        encoding="utf-8",
    )
    assert (await preview.live.reload()).status == "reloaded"
    status = await (await preview.client.get("/api/status")).json()
    assert (status["state"], status["errors"]) == ("ok", [])
    stale = {(w["file"], w["severity"]) for w in status["warnings"] if "older than" in w["message"]}
    assert stale == {("dialogues/nn/telefon.yaml", "warning"), ("dialogues/en/telefon.yaml", "warning")}


async def test_the_event_stream_ends_when_the_preview_stops(scripts: Scripts, catalogs: Catalogs) -> None:
    running = await start_preview(DIALOGUES, catalogs, "sqlite:///:memory:", scripts)
    stream = await running.client.get("/api/events")
    await read_event(stream)
    board = running.client.app[STATUS]
    assert board.listeners == 1
    await asyncio.wait_for(running.client.close(), 5)
    assert board.listeners == 0


# ---- Statistics ----


async def test_no_database_means_no_statistics_yet_and_creates_nothing(
    preview: Preview, tmp_path: Path
) -> None:
    response = await preview.client.get("/api/stats")
    assert response.status == 200
    assert (await response.json()) == {"status": "empty", "message": "No statistics yet.", "days": []}
    assert not (tmp_path / "none.db").exists()


async def test_a_database_without_the_table_means_no_statistics_yet(
    scripts: Scripts, catalogs: Catalogs, tmp_path: Path
) -> None:
    (tmp_path / "empty.db").touch()
    running = await start_preview(DIALOGUES, catalogs, f"sqlite:///{tmp_path / 'empty.db'}", scripts)
    try:
        assert (await (await running.client.get("/api/stats")).json())["status"] == "empty"
    finally:
        await running.client.close()


async def test_a_broken_database_is_a_note_not_an_error_page(
    scripts: Scripts, catalogs: Catalogs, tmp_path: Path
) -> None:
    (tmp_path / "junk.db").write_bytes(b"this is not an SQLite file" * 100)
    running = await start_preview(DIALOGUES, catalogs, f"sqlite:///{tmp_path / 'junk.db'}", scripts)
    try:
        response = await running.client.get("/api/stats")
        assert response.status == 200
        assert (await response.json())["status"] == "unavailable"
    finally:
        await running.client.close()


async def store_counts(url: str, counts: dict[str, int], now: dt.datetime) -> None:
    """Count answers as `serve` would, and flush them."""
    store = SqlStatsStore(create_engine(url))
    recorder = StatsRecorder(store, 400)
    for node, times in counts.items():
        route = "fallback" if node == "fallback" else "node"
        for _ in range(times):
            recorder.counter.record(Outcome((), ChatState(), route=route, nodes=(node,)), now)
    await recorder.close()
    await store.close()


async def test_the_last_14_days_with_small_counts_hidden(
    scripts: Scripts, catalogs: Catalogs, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrate.upgrade(url)
    await store_counts(url, {"telefon": 7, "merket": 2, "fallback": 3}, NOW)
    await store_counts(url, {"telefon": 9, "fallback": 6}, NOW - dt.timedelta(days=2))
    running = await start_preview(DIALOGUES, catalogs, url, scripts)
    try:
        data = await (await running.client.get("/api/stats")).json()
    finally:
        await running.client.close()
    assert data["status"] == "ok"
    days = data["days"]
    assert len(days) == 14
    assert days[-1]["day"] == stats_day(NOW).isoformat()
    assert days[-1] == {"day": days[-1]["day"], "reached": 7, "hidden": True, "fallbacks": None}
    assert days[-3] == {"day": days[-3]["day"], "reached": 9, "hidden": False, "fallbacks": 6}
    assert days[0] == {"day": days[0]["day"], "reached": 0, "hidden": False, "fallbacks": 0}


# ---- Sessions ----


def test_sessions_are_bounded_and_the_least_recently_used_goes_first() -> None:
    sessions = Sessions(limit=2)
    first = sessions.get("a" * 16, "nb")
    sessions.get("b" * 16, "nb")
    assert sessions.get("a" * 16, "en") is first, "a known chat keeps its language"
    sessions.get("c" * 16, "nb")
    assert len(sessions) == 2
    assert sessions.get("b" * 16, "en").state.lang == "en", "the dropped chat starts anew"


# ---- The command line ----


def test_a_port_out_of_range_is_a_one_line_error() -> None:
    result = run_balansebot("preview", "--port", "70000", env=PATH)
    assert result.returncode == 2
    assert "PORT" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_bad_database_url_is_a_one_line_error() -> None:
    result = run_balansebot("preview", env={**PATH, "DATABASE_URL": "mysql://x/y"})
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr


def test_broken_scripts_at_start_are_listed_with_file_and_line(dialogues_copy: Path) -> None:
    telefon = dialogues_copy / "nb" / "telefon.yaml"
    telefon.write_text(
        telefon.read_text(encoding="utf-8").replace("goto: telefon_samtalen", "goto: nowhere", 1), "utf-8"
    )
    result = run_balansebot("preview", "--dialogues", str(dialogues_copy), "--port", "1", env=PATH)
    assert result.returncode == 1
    assert re.search(r"nb/telefon\.yaml:\d+: feil: .*nowhere", result.stderr), result.stderr


# ---- The sanitizer ----


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the visible text, of some HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        self.depth -= 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(markup: str) -> _Tags:
    tags = _Tags()
    tags.feed(markup)
    tags.close()
    return tags


TAG_NAMES = st.sampled_from(
    [
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "blockquote",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "script",
        "img",
        "iframe",
        "style",
        "svg",
        "br",
        "p",
        "textarea",
        "title",
    ]
)
ATTRIBUTES = st.sampled_from(
    [
        "",
        ' href="https://x.no"',
        ' href="javascript:alert(1)"',
        ' href=" JavaScript:x"',
        ' class="tg-spoiler"',
        ' class="language-py"',
        ' class="evil"',
        ' onclick="x()"',
        " expandable",
        ' style="x"',
        ' src="x"',
        ' href="tg://resolve?domain=x"',
        " href='data:text/html,x'",
    ]
)
PIECES = st.one_of(
    st.text(max_size=8),
    st.builds(lambda t, a: f"<{t}{a}>", TAG_NAMES, ATTRIBUTES),
    st.builds(lambda t: f"</{t}>", TAG_NAMES),
    st.sampled_from(
        ["<", ">", "&", "&amp;", "&lt;", "&#60;", "<!--", "-->", "<!doctype html>", '"', "'", "<b/>"]
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=25).map("".join))
def test_only_telegram_formatting_survives_whatever_the_input(text: str) -> None:
    result = parsed(page_html(text))
    for tag, attrs in result.tags:
        assert tag in PAGE_TAGS, tag
        assert set(attrs) <= PAGE_ATTRIBUTES.get(tag, frozenset()), (tag, attrs)
        if tag == "a":
            assert re.match(r"^(https?|tg)://", attrs["href"] or ""), attrs
            assert attrs["rel"] == "noopener noreferrer"
        if tag == "span":
            assert attrs == {"class": "tg-spoiler"}
    assert result.depth == 0, "every tag written is closed"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_escaped_text_is_shown_exactly_as_typed(text: str) -> None:
    shown = page_html(html.escape(text, quote=False))
    result = parsed(shown)
    assert result.tags == []
    assert "".join(result.text) == text


@pytest.mark.parametrize(
    ("telegram", "page"),
    [
        ("<b>a</b><strong>b</strong><i>c</i><em>d</em>", "<b>a</b><strong>b</strong><i>c</i><em>d</em>"),
        (
            "<u>a</u><ins>b</ins><s>c</s><strike>d</strike><del>e</del>",
            "<u>a</u><ins>b</ins><s>c</s><s>d</s><del>e</del>",
        ),
        (
            '<a href="https://balansekunst.no">x</a>',
            '<a href="https://balansekunst.no" target="_blank" rel="noopener noreferrer">x</a>',
        ),
        ('<a href="javascript:alert(1)">x</a>', "x"),
        (
            '<pre><code class="language-python">a &lt; b</code></pre>',
            '<pre><code class="language-python">a &lt; b</code></pre>',
        ),
        ("<blockquote>q</blockquote>", "<blockquote>q</blockquote>"),
        ("<blockquote expandable>q</blockquote>", '<blockquote class="tg-expandable">q</blockquote>'),
        (
            '<tg-spoiler>s</tg-spoiler><span class="tg-spoiler">t</span>',
            '<span class="tg-spoiler">s</span><span class="tg-spoiler">t</span>',
        ),
        ('<tg-emoji emoji-id="1">👍</tg-emoji>', "👍"),
        ("<script>alert(1)</script>", "alert(1)"),
        ('<img src=x onerror="alert(1)">', ""),
        ("<b><i>x</b>y</i>", "<b><i>x</i></b>y"),
        ("a\nb &amp; c", "a\nb &amp; c"),
    ],
)
def test_telegram_html_is_drawn_as_telegram_draws_it(telegram: str, page: str) -> None:
    assert page_html(telegram) == page


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example"])
async def test_a_page_on_another_name_cannot_reach_the_preview_by_dns_rebinding(
    preview: Preview, host: str
) -> None:
    """A page whose domain now resolves to 127.0.0.1 sends its own name as Host: refused, 421."""
    for method, path in (("GET", "/api/stats"), ("POST", "/api/chat"), ("GET", "/")):
        response = await preview.client.request(method, path, headers={"Host": host}, json={})
        assert response.status == 421, (method, path)
        assert "127.0.0.1" in (await response.json())["error"]
    for own in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "192.0.2.7"):
        response = await preview.client.get("/api/status", headers={"Host": own})
        assert response.status == 200, own
