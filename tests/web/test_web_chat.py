"""The anonymous web chat in `balansebot serve` (WEB_CHAT=true), in Debian's Chromium at 375 and 1366 px.

One bot process, one SMTP server and one browser serve the whole module: every test opens its own
browser context (its own sessionStorage), so conversations never meet.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright

from bot.storage.pseudonym import Pseudonymizer
from bot.web.conversation import WEB_DOMAIN
from tests.conftest import ROOT
from tests.databases import database_bytes, query
from tests.staff.preview_process import CHROMIUM, CHROMIUM_ARGS
from tests.support.fake_bot_api import FakeBotApi
from tests.support.smtp import SmtpServer
from tests.telegram.serving import PSEUDONYM_KEY, Served, free_port, serving
from tests.telegram.test_leads import smtp_env
from tests.web.axe import WCAG_AA, axe_source

NEUTRAL = "http://neutral.test/"
NEUTRAL_PAGE = "<!doctype html><html lang='en'><title>Weather</title><p>Sunny.</p></html>"
SCREENSHOTS = ROOT / "docs" / "screenshots"
WIDTHS = {"phone": {"width": 375, "height": 740}, "desktop": {"width": 1366, "height": 800}}
SECRET_WORDS = "Sjiraffkoden-hemmelig han tok meg på låret etter prøven"
LIMITED_ADDRESS = "127.0.0.9"  # the per-address limit test's own loopback address

# Not `slow`: the PostgreSQL pass would repeat the whole module for what tests/web/test_web_conversations.py
# already shows on PostgreSQL's turns (a resent message answered once).
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="the browser tests need Debian's chromium at /usr/bin/chromium"
)


@dataclass
class Site:
    """The running bot with its web chat, and where its traces are."""

    served: Served
    smtp: SmtpServer
    browser: Browser
    axe: str | None
    sessions: list[str]

    @property
    def chat_url(self) -> str:
        """The web chat page."""
        return f"{self.served.url}/chat/"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`balansebot serve` with WEB_CHAT=true, its offline Bot API and SMTP server (in their own thread)."""
    data = tmp_path_factory.mktemp("web-chat")
    smtp = SmtpServer(free_port())
    smtp.start()
    ready: dict[str, Served] = {}
    started = threading.Event()
    stop_soon: list[Callable[[], object]] = []
    failure: list[BaseException] = []

    async def run() -> None:
        async with (
            FakeBotApi() as fake,
            serving(
                fake,
                data,
                webhook=True,
                WEB_CHAT="true",
                WEB_CHAT_EXIT_URL=NEUTRAL,
                # SQLite always: a PostgreSQL serve database lives one test (tests/conftest.py), this
                # server the module; test_web_conversations.py runs web turns on PostgreSQL's.
                DATABASE_URL=f"sqlite:///{data / 'balansebot.db'}",
                **smtp_env(smtp.port),
            ) as served,
        ):
            stopping = asyncio.Event()
            ready["served"] = served
            loop = asyncio.get_running_loop()
            stop_soon.append(lambda: loop.call_soon_threadsafe(stopping.set))
            started.set()
            await stopping.wait()

    def thread_main() -> None:
        try:
            asyncio.run(run())
        except BaseException as error:
            failure.append(error)
            started.set()

    thread = threading.Thread(target=thread_main, name="web-chat-server", daemon=True)
    thread.start()
    started.wait(60)
    if failure:
        raise failure[0]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield Site(ready["served"], smtp, browser, axe_source(), [])
        finally:
            browser.close()
            for stop in stop_soon:
                stop()
            thread.join(30)
            smtp.stop()


@dataclass
class Tab:
    """One reader's browser tab on the chat, with what went wrong in it."""

    context: BrowserContext
    page: Page
    problems: list[str]


def open_chat(site: Site, width: str, locale: str = "nb-NO", *, own_clock: bool = False) -> Tab:
    """A new browser context (its own sessionStorage) with the chat open; the neutral site is local.
    With `own_clock` the page's time is the test's to move (Playwright's clock)."""
    context = site.browser.new_context(viewport=WIDTHS[width], locale=locale, device_scale_factor=1)
    context.route(
        "http://neutral.test/**", lambda route: route.fulfill(body=NEUTRAL_PAGE, content_type="text/html")
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    if own_clock:
        page.clock.install()
    page.goto(site.chat_url)
    expect(page.locator(".message.bot")).to_have_count(1)
    site.sessions.append(session_of(page))
    return Tab(context, page, problems)


def session_of(page: Page) -> str:
    """The tab's random session id, as the page keeps it."""
    return str(page.evaluate("JSON.parse(sessionStorage.getItem('balansebot-chat')).session"))


def stored_chat(site: Site, session: str) -> list[tuple[object, ...]]:
    """The web conversation's row in the bot's database (by its pseudonym), if any."""
    key = Pseudonymizer(PSEUDONYM_KEY.encode()).session_key(WEB_DOMAIN, session)
    return query(site.served.database_url, "SELECT node, lang FROM chat WHERE key = :key", key=key)


def no_violations(site: Site, page: Page, state: str) -> None:
    """axe-core finds nothing against WCAG 2.1 AA in the page as it is now."""
    if site.axe is None:
        pytest.skip("axe-core needs npm (the npm registry) to be fetched")
    # Evaluated by the browser's debugger protocol: the page's CSP (no inline script) is untouched.
    page.evaluate(site.axe)
    result = page.evaluate(
        "options => axe.run(document, options)", {"runOnly": WCAG_AA, "resultTypes": ["violations"]}
    )
    found = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}: {v['nodes'][0]['target']})" for v in result["violations"]
    ]
    assert found == [], f"{state}: {found}"


def type_message(page: Page, text: str) -> None:
    """Type into the message field (focused by keyboard) and send with Enter."""
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def focus_by_tab(page: Page, selector: str, *, backwards: bool = False, limit: int = 60) -> None:
    """Press Tab (or Shift+Tab) until the element matching `selector` has the focus."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"{selector} was not reached by keyboard")


def shot(page: Page, name: str, folder: Path) -> None:
    """A screenshot in the test's folder (and in docs/screenshots/ with UPDATE_SCREENSHOTS=1)."""
    page.evaluate("window.scrollTo(0, 0)")  # a full-page shot of a scrolled page repeats the sticky header
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_whole_conversation_by_keyboard_only(site: Site, width: str, tmp_path: Path) -> None:
    tab = open_chat(site, width)
    page = tab.page
    assert page.evaluate("document.documentElement.lang") == "nb"
    expect(page.locator(".message.bot").first).to_contain_text("Hei, og velkommen")
    log = page.get_by_role("log")
    assert log.get_attribute("aria-live") == "polite", "new answers are announced"
    expect(page.get_by_role("button", name="Lukk raskt")).to_be_in_viewport()
    no_violations(site, page, "greeting")
    shot(page, f"web-chat-{width}", tmp_path)

    # Tab from the top reaches the greeting's buttons; Enter presses one, and focus moves to the answer.
    page.keyboard.press("Tab")
    focus_by_tab(page, ".message.bot .key")
    page.keyboard.press("Enter")
    expect(page.locator(".message.bot")).to_have_count(2)
    assert page.evaluate(
        "document.activeElement.closest('.message.bot') === document.querySelectorAll('.message.bot')[1]"
    )

    # A question typed in the field and sent with Enter.
    focus_by_tab(page, "#message")
    type_message(page, "når kan jeg ringe rådgivningstelefonen?")
    expect(page.locator(".message.user").last).to_have_text("Du: når kan jeg ringe rådgivningstelefonen?")
    expect(page.locator(".message.bot").last.locator("b", has_text="400 38 800")).to_be_visible()

    # What someone types is shown as typed, never as markup.
    type_message(page, "<b>hei</b><img src=x>")
    expect(page.locator(".message.user").last).to_have_text("Du: <b>hei</b><img src=x>")
    expect(page.locator(".message.user b, .message.user img")).to_have_count(0)
    expect(page.locator(".message.bot")).to_have_count(4)

    # Back up into the conversation by Shift+Tab, to the newest answer's last button.
    focus_by_tab(page, ".message.bot:last-of-type .key", backwards=True)
    page.keyboard.press("Enter")
    expect(page.locator(".message.bot")).to_have_count(5)
    no_violations(site, page, "conversation")
    shot(page, f"web-chat-{width}-conversation", tmp_path)
    if width == "phone":
        scroll = page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        assert scroll, "no sideways scrolling at 375 px"
        page.set_viewport_size({"width": 320, "height": 640})
        page.evaluate("document.documentElement.style.fontSize = '200%'")
        expect(page.get_by_role("button", name="Lukk raskt")).to_be_visible()
        assert page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        ), "320 px at 200 % text: still no sideways scrolling"
        no_violations(site, page, "320 px, 200 % text")
        shot(page, "web-chat-320px-200pct", tmp_path)
    assert tab.problems == []
    tab.context.close()


@pytest.mark.parametrize(("how", "width"), [("button", "phone"), ("escape", "desktop")])
def test_quick_exit_leaves_a_neutral_page_and_nothing_on_the_server(site: Site, width: str, how: str) -> None:
    tab = open_chat(site, width)
    page = tab.page
    page.get_by_label("Meldingen din").fill(SECRET_WORDS)
    page.keyboard.press("Enter")
    expect(page.locator(".message.bot")).not_to_have_count(1)
    session = session_of(page)
    assert stored_chat(site, session), "the conversation is stored (under its pseudonym) while it lasts"

    with page.expect_request("**/chat/api/exit") as exited:
        if how == "button":
            page.get_by_role("button", name="Lukk raskt").click()
        else:
            page.get_by_label("Meldingen din").focus()
            for _ in range(3):
                page.keyboard.press("Escape")
    assert json.loads(exited.value.post_data or "{}") == {"session": session}
    page.wait_for_url(NEUTRAL)
    expect(page.locator("p")).to_have_text("Sunny.")
    # The erase was sent as the page left (keepalive), so nothing in the page can await its answer.
    for _ in range(100):
        if not stored_chat(site, session):
            break
        page.wait_for_timeout(50)
    assert stored_chat(site, session) == [], "erased on the server"
    # The chat's place in the history was replaced: Back does not bring it back.
    page.go_back()
    assert not page.url.startswith(site.chat_url)
    # Nor does opening the chat again in this tab: the tab's copy was cleared too.
    page.goto(site.chat_url)
    expect(page.locator(".message.bot")).to_have_count(1)
    expect(page.locator(".message.user")).to_have_count(0)
    assert session_of(page) != session
    tab.context.close()


def test_a_chosen_auto_delete_clears_the_page_at_that_time(site: Site) -> None:
    tab = open_chat(site, "phone", own_clock=True)
    page = tab.page
    page.get_by_label("Meldingen din").fill("slett samtalen automatisk")
    page.keyboard.press("Enter")
    expect(page.locator(".message.bot")).to_have_count(2)
    session = session_of(page)
    with page.expect_response("**/chat/api/turn") as chosen:
        page.get_by_role("button", name="Om én time").click()
    assert chosen.value.json()["auto_delete_seconds"] == 3600
    expect(page.locator(".message.bot")).to_have_count(3)
    key = Pseudonymizer(PSEUDONYM_KEY.encode()).session_key(WEB_DOMAIN, session)
    [(due, sealed)] = query(
        site.served.database_url,
        "SELECT auto_delete_at, auto_delete_chat FROM chat WHERE key = :key",
        key=key,
    )
    assert due is not None and sealed is None, "the time on the row, and no chat id beside it"

    page.clock.fast_forward("59:00")
    expect(page.locator(".message")).not_to_have_count(0)
    page.clock.fast_forward("01:01")
    expect(page.locator(".message")).to_have_count(0)
    expect(page.locator("#status")).to_contain_text("slettet")
    assert session_of(page) != session, "what comes next is a new conversation"
    page.reload()
    expect(page.locator(".message.user")).to_have_count(0)
    expect(page.get_by_text("slett samtalen automatisk")).to_have_count(0)
    assert tab.problems == []
    tab.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_reload_resumes_the_conversation_without_a_doubled_answer(site: Site, width: str) -> None:
    tab = open_chat(site, width)
    page = tab.page
    page.get_by_label("Meldingen din").fill("hva er balansemerket")
    page.keyboard.press("Enter")
    expect(page.locator(".message.bot")).to_have_count(2)

    # The next answer is lost on the way back (the server answered it): the page keeps the message.
    lost: list[str] = []

    def lose_the_answer(route: Route) -> None:
        response = route.fetch()
        lost.append(response.text())
        route.abort()

    page.route("**/chat/api/turn", lose_the_answer)
    page.get_by_label("Meldingen din").fill("når er telefonen åpen")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("kom ikke fram")
    assert len(lost) == 1 and "400 38 800" in lost[0]
    page.unroute("**/chat/api/turn")

    # A reload shows the conversation and sends the lost message again: answered once, not twice.
    with page.expect_response("**/chat/api/turn") as resent:
        page.reload()
    assert resent.value.json()["replayed"] is True
    expect(page.locator(".message.user")).to_have_count(2)
    expect(page.locator(".message.bot")).to_have_count(3)
    expect(page.locator(".message.bot").last).to_contain_text("400 38 800")
    page.reload()
    expect(page.locator(".message.bot")).to_have_count(3)
    assert tab.problems == [] or all("Failed to load resource" in p for p in tab.problems)
    tab.context.close()


@pytest.mark.parametrize(
    ("locale", "exit_label", "greeting"),
    [("nn-NO", "Lukk raskt", "velkomen"), ("en-GB", "Quick exit", "welcome")],
)
def test_the_language_comes_from_the_browser(site: Site, locale: str, exit_label: str, greeting: str) -> None:
    tab = open_chat(site, "phone", locale)
    page = tab.page
    assert page.evaluate("document.documentElement.lang") == locale[:2]
    expect(page.get_by_role("button", name=exit_label)).to_be_visible()
    expect(page.locator(".message.bot").first).to_contain_text(greeting)
    tab.context.close()


def test_the_language_button_changes_the_page_too(site: Site) -> None:
    tab = open_chat(site, "desktop")
    page = tab.page
    page.get_by_role("button", name="🌐 Språk / Language").click()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("button", name="Quick exit")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    no_violations(site, page, "in English")
    tab.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_interest_form_end_to_end_reaches_the_smtp_server(site: Site, width: str, tmp_path: Path) -> None:
    tab = open_chat(site, width)
    page = tab.page
    before = len(site.smtp.recorder.messages)
    organisation = f"Kulturhuset {width}"

    def press(name: str) -> None:
        count = page.locator(".message.bot").count()
        page.locator(".message.bot").last.get_by_role("button", name=name).click()
        expect(page.locator(".message.bot")).to_have_count(count + 1)

    def say(text: str) -> None:
        count = page.locator(".message.bot").count()
        page.get_by_label("Meldingen din").fill(text)
        page.keyboard.press("Enter")
        expect(page.locator(".message.bot")).to_have_count(count + 1)

    say("/merket")
    press("Vil dere ha merket?")
    press("📝 Meld interesse her i chatten")
    say(organisation)
    press("Arrangerende (f.eks. festival, scene, konsertarrangør)")
    say("rundt 25")
    say("Kari Ærlig")
    say("kari@kulturhuset.no")
    press("Hopp over")
    press("Ja, dere kan kontakte oss")
    no_violations(site, page, "form summary")
    shot(page, f"web-chat-{width}-form", tmp_path)
    press("Send")
    expect(page.locator(".message.bot").last).to_contain_text("e-post")
    for _ in range(100):
        mails = site.smtp.recorder.parsed()[before:]
        if any(organisation in m.get_body().get_content() for m in mails):  # type: ignore[union-attr]
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError("the lead did not reach the SMTP server")
    assert "Kari Ærlig" in mails[-1].get_body().get_content()  # type: ignore[union-attr]
    tab.context.close()


def post(
    site: Site, path: str, body: bytes, content_type: str = "application/json"
) -> tuple[int, dict[str, str], bytes]:
    """A raw POST to the web chat: status, headers, body."""
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{site.chat_url}{path}", data=body, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_headers_anonymous_and_strict(site: Site) -> None:
    with urllib.request.urlopen(site.chat_url, timeout=10) as response:  # noqa: S310 - loopback
        headers = dict(response.headers)
        page = response.read().decode()
    csp = headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in headers
    assert "http" not in page.replace(NEUTRAL, "").replace("https://www.", ""), "no third-party resources"
    turn = {
        "session": "s" * 24,
        "turn": "t" * 12,
        "lang": "nb",
        "event": {"kind": "command", "value": "start"},
    }
    status, headers, _ = post(site, "api/turn", json.dumps(turn).encode())
    assert status == 200 and headers["Cache-Control"] == "no-store" and "Set-Cookie" not in headers
    assert headers["Referrer-Policy"] == "no-referrer"
    site.sessions.append("s" * 24)


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (
            b'{"session": "short", "turn": "tttttttt", "event": {"kind": "text", "value": "hei"}}',
            "application/json",
            400,
        ),
        (
            b'{"session": "' + b"s" * 24 + b'", "turn": "tttttttt", "event": {"kind": "restart"}}',
            "application/json",
            400,
        ),
        (
            b'{"session": "'
            + b"s" * 24
            + b'", "turn": "tttttttt", "event": {"kind": "text", "value": "  "}}',
            "application/json",
            400,
        ),
        (b"x" * 40_000, "application/json", 413),
        (b"session=x", "application/x-www-form-urlencoded", 415),
        (b"[" * 100_000, "application/json", 413),
        (b"[" * 30_000, "application/json", 400),
        (
            b'{"session": "' + b"s" * 24 + b'", "turn": "t", "event": {"kind": "text", "value": "hei"}}',
            "application/json",
            400,
        ),
    ],
)
def test_broken_requests_get_a_4xx_with_a_reason(
    site: Site, body: bytes, content_type: str, status: int
) -> None:
    got, headers, answer = post(site, "api/turn", body, content_type)
    assert got == status, answer
    assert json.loads(answer)["error"]
    assert headers["Cache-Control"] == "no-store"


def test_the_per_address_limit_turns_a_flood_away(site: Site) -> None:
    statuses: list[int] = []

    def send(session: str, turn: str, text: str) -> tuple[int, str]:
        connection = http.client.HTTPConnection(
            "127.0.0.1", site.served.port, timeout=10, source_address=(LIMITED_ADDRESS, 0)
        )
        body = {"session": session, "turn": turn, "lang": "nb", "event": {"kind": "text", "value": text}}
        try:
            connection.request(
                "POST", "/chat/api/turn", json.dumps(body), {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()

    for number in range(80):  # each from another session: it is the address that is limited
        session = f"flood{number:03d}" + "f" * 16
        status, answer = send(session, f"turn{number:04d}", "hei")
        statuses.append(status)
        if status == 429:
            assert "Vent noen sekunder" in json.loads(answer)["error"]
        site.sessions.append(session)
    # Danger is answered even then.
    status, answer = send("flood-acute" + "a" * 16, "acute0001", "han slår meg nå, jeg er redd")
    assert status == 200 and "112" in answer
    assert statuses[0] == 200 and 429 in statuses


def test_the_database_logs_and_metrics_hold_no_session_id_text_or_address(site: Site) -> None:
    """Last in the module: everything the other tests typed and every session they had."""
    assert len(site.sessions) > 10
    with urllib.request.urlopen(f"{site.served.url}/metrics", timeout=10) as response:  # noqa: S310
        metrics = response.read().decode()
    assert 'balansebot_updates_total{kind="web_text"}' in metrics
    assert 'balansebot_updates_total{kind="web_resent"} 0.0' not in metrics, "the resent message is counted"
    traces = {
        "database": database_bytes(site.served.database_url).decode("utf-8", "replace"),
        "log": site.served.log_text(),
        "metrics": metrics,
    }
    secrets = [
        *site.sessions,
        SECRET_WORDS,
        "Sjiraffkoden",
        "kari@kulturhuset.no",
        "Kari Ærlig",
        LIMITED_ADDRESS,
    ]
    for where, text in traces.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} in the {where}"
