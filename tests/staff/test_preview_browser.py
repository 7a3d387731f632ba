"""`balansebot preview` in a real browser: chat by keyboard and mouse, the flow chart, live reload."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import ROOT
from tests.staff.preview_process import CHROMIUM, CHROMIUM_ARGS, needs_chromium, running_preview

SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
RELOAD_SECONDS = 5  # what staff wait at most, after saving, to see the outcome

pytestmark = [pytest.mark.slow, pytest.mark.own_database, needs_chromium]


@pytest.fixture
def preview_url(dialogues_copy: Path, tmp_path: Path) -> Iterator[str]:
    """`balansebot preview` running as its own process on a copy of dialogues/."""
    with running_preview(dialogues_copy, tmp_path) as url:
        yield url


def current_node(page: Page) -> str | None:
    """The id of the flow chart element highlighted as the chat's current node."""
    expect(page.locator("#flow g.current")).to_have_count(1)
    return page.locator("#flow g.current").get_attribute("id")


def test_staff_chat_in_the_browser_see_the_flow_and_their_mistakes(
    preview_url: str, dialogues_copy: Path, tmp_path: Path
) -> None:
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
            page.goto(preview_url)

            # The greeting, and the scripts' status.
            expect(page.locator(".message.bot")).to_have_count(1)
            expect(page.locator(".message.bot").first).to_contain_text("Hei, og velkommen")
            expect(page.locator("#status .ok")).to_contain_text("lastet kl.")
            assert page.evaluate("document.documentElement.lang") == "nb"
            assert current_node(page) == "node-start"

            # By keyboard: Tab from the restart button reaches the greeting's first button, then the next.
            page.locator("#restart").focus()
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.textContent") == "Hva er seksuell trakassering?"
            page.keyboard.press("Tab")
            assert (
                page.evaluate("document.activeElement.textContent") == "Jeg er usikker på hva jeg har opplevd"
            )
            page.keyboard.press("Enter")
            expect(page.locator("#current-node")).to_have_text("usikker")
            # As on Telegram, the press edited the newest message in place instead of adding one.
            expect(page.locator(".message.bot")).to_have_count(1)
            expect(page.locator(".message.bot .edited")).to_have_count(1)
            assert current_node(page) == "node-usikker"
            assert page.evaluate("document.activeElement.closest('.message.bot') !== null"), (
                "focus stays in the chat after the pressed button was replaced"
            )

            # By mouse.
            page.get_by_role("button", name="↩️ Til menyen").click()
            expect(page.locator("#current-node")).to_have_text("meny")
            assert current_node(page) == "node-meny"

            # A question in someone's own words, sent with Enter.
            page.get_by_label("Melding til boten").fill("når er telefonen åpen?")
            page.keyboard.press("Enter")
            answer = page.locator(".message.bot").last
            expect(answer.locator("b", has_text="400 38 800")).to_be_visible()
            expect(page.locator(".message.user").last).to_have_text("når er telefonen åpen?")
            assert current_node(page) == "node-telefon"
            expect(page.locator("#flow svg")).to_be_visible()
            expect(page.locator("#flow g.current")).to_be_in_viewport()
            shot(page, tmp_path, "chat")

            # What staff type is shown as typed, never as formatting.
            page.get_by_label("Melding til boten").fill("<b>hei</b>")
            page.get_by_role("button", name="Send").click()
            typed = page.locator(".message.user").last
            expect(typed).to_have_text("<b>hei</b>")
            expect(typed.locator("b")).to_have_count(0)
            expect(page.locator(".message.bot")).to_have_count(3)

            # A /command works as on Telegram.
            page.get_by_label("Melding til boten").fill("/merket")
            page.keyboard.press("Enter")
            expect(page.locator("#current-node")).to_have_text("merket")

            # Another language restarts the chat in it; the page's own words stay in Bokmål.
            page.get_by_label("Samtalespråk").select_option("en")
            expect(page.locator(".message.bot")).to_have_count(1)
            expect(page.locator(".message.bot").first).to_contain_text("Hi, and welcome")
            assert page.evaluate("document.documentElement.lang") == "en"
            expect(page.get_by_label("Melding til boten")).to_have_attribute(
                "placeholder", "Skriv et spørsmål, eller /start"
            )
            expect(page.locator("header.top")).to_have_attribute("lang", "nb")
            expect(page.locator("#flow svg")).to_have_attribute("lang", "en")
            expect(page.locator("#flow g[id='node-start']")).to_contain_text("Welcome")
            page.get_by_role("button", name="Start samtalen på nytt").click()
            expect(page.locator(".message.bot")).to_have_count(1)
            expect(page.locator(".message.bot").first).to_contain_text("Hi, and welcome")

            # A mistake saved in a script appears at once, with file:line and how to fix it.
            telefon = dialogues_copy / "nb" / "telefon.yaml"
            good = telefon.read_text(encoding="utf-8")
            line = good.splitlines().index("        goto: telefon_samtalen") + 1
            telefon.write_text(good.replace("goto: telefon_samtalen", "goto: nowhere", 1), encoding="utf-8")
            refused = page.locator("#status .refused")
            expect(refused).to_be_visible(timeout=RELOAD_SECONDS * 1000)
            expect(refused).to_contain_text(f"dialogues/nb/telefon.yaml:{line}")
            expect(refused).to_contain_text("det finnes ingen node `nowhere`")  # the staff tools speak Bokmål
            expect(refused).to_contain_text("Slik retter du det:")
            shot(page, tmp_path, "error")

            # The fix, with a new greeting: the error goes and the new text is what the bot says.
            start = dialogues_copy / "nb" / "start.yaml"
            start.write_text(
                start.read_text(encoding="utf-8").replace("Hei, og velkommen", "Hei fra testen", 1),
                encoding="utf-8",
            )
            telefon.write_text(good, encoding="utf-8")
            expect(page.locator("#status .ok")).to_be_visible(timeout=RELOAD_SECONDS * 1000)
            expect(refused).to_have_count(0)
            page.get_by_label("Samtalespråk").select_option("nb")
            expect(page.locator(".message.bot").first).to_contain_text("Hei fra testen")
            expect(page.locator("#stats")).to_contain_text("Ingen statistikk ennå.")
            in_english(browser, dialogues_copy, tmp_path, problems)
        finally:
            browser.close()
    assert problems == []
    # Each run keeps its screenshots in its pytest folder (the last three runs are kept); the
    # README's copies are refreshed on purpose, so a test run leaves the checkout as it was.
    if os.environ.get("UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name in ("chat", "error"):
            shutil.copyfile(tmp_path / f"preview-{name}.png", SCREENSHOTS / f"preview-{name}.png")
    print(f"screenshots: {tmp_path}")


def in_english(browser: Browser, dialogues: Path, scratch: Path, problems: list[str]) -> None:
    """The preview started with LANG=en…: its own words in English, the chat in Bokmål as it starts."""
    with running_preview(dialogues, scratch, LANG="en_GB.UTF-8") as url:
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(url)
        expect(page.locator(".message.bot").first).to_contain_text("Hei fra testen")  # as saved above
        assert page.evaluate("document.documentElement.lang") == "nb"
        expect(page.locator("#status .ok")).to_contain_text("loaded at")
        expect(page.get_by_role("group", name="Buttons")).to_have_count(1)
        message = page.get_by_label("Message to the bot")
        expect(message).to_have_attribute("placeholder", "Write a question, or /start")
        expect(page.get_by_role("button", name="100%: back to the actual size")).to_be_visible()
        expect(page.get_by_role("region", name="Flow chart of the scripts: drag to move it")).to_be_visible()
        page.locator("#flow g[id='node-telefon'] text").first.click()
        expect(page.locator(".note").last).to_have_text("Jumped to telefon from the flow chart.")
        expect(page.locator(".note").last).to_have_attribute("lang", "en")
        page.get_by_label("Chat language").select_option("nn")
        expect(message).to_have_attribute("placeholder", "Write a question, or /start")
        expect(page.locator("#stats")).to_contain_text("No statistics yet.")
        page.close()


def shot(page: Page, folder: Path, name: str) -> None:
    """A screenshot of what is on screen (the chat beside the flow chart)."""
    page.screenshot(path=str(folder / f"preview-{name}.png"))
