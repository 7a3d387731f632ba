"""The preview on a phone, half a laptop screen, a tablet and a laptop: it fits, and its chart moves.

One preview process and one browser for the whole module; each width gets a fresh page.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import DIALOGUES, ROOT
from tests.staff.preview_process import CHROMIUM, CHROMIUM_ARGS, needs_chromium, running_preview
from tests.web.axe import WCAG_AA, axe_source

SCREENSHOTS = ROOT / "docs" / "screenshots"
# A phone, half of a 1366 px laptop (the preview beside the editor), a tablet, a laptop.
SCREENS = {375: 667, 683: 768, 1024: 768, 1366: 768}
SCREENSHOT_WIDTHS = (375, 1366)
NODE = "telefon_samtalen"  # a node the chat does not start at, opened from the chart

# Not `slow`: nothing here touches the database, so the PostgreSQL pass would only repeat it.
pytestmark = needs_chromium


@dataclass
class Preview:
    """The running preview and the one browser that visits it."""

    url: str
    browser: Browser
    shots: Path
    axe: str | None
    """axe-core's source, or None where npm cannot fetch it (the accessibility check is left out)."""


@pytest.fixture(scope="module")
def preview(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Preview]:
    """The preview on a copy of dialogues/ in which a Bokmål title changed after the start.

    Its Nynorsk and English translations are then older than their source: `check` warns, and so
    must the page, after the live reload as well as at a start.
    """
    scratch = tmp_path_factory.mktemp("preview-screens")
    dialogues = scratch / "dialogues"
    shutil.copytree(DIALOGUES, dialogues)
    with running_preview(dialogues, scratch) as url:
        telefon = dialogues / "nb" / "telefon.yaml"
        telefon.write_text(
            telefon.read_text(encoding="utf-8").replace(
                "title: Rådgivningstelefonen", "title: Rådgivningstelefonen for alle", 1
            ),
            encoding="utf-8",
        )
        wait_for_warnings(url)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield Preview(url, browser, scratch, axe_source())
            finally:
                browser.close()
    if os.environ.get("UPDATE_SCREENSHOTS"):  # the README's copies are refreshed on purpose only
        for width in SCREENSHOT_WIDTHS:
            shutil.copyfile(scratch / f"preview-{width}.png", SCREENSHOTS / f"preview-{width}.png")


def wait_for_warnings(url: str) -> None:
    """Until the live reload of the changed file has happened (its warnings are in the status)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}api/status", timeout=2) as response:  # noqa: S310 - http://127.0.0.1
            if json.load(response)["warnings"]:
                return
        time.sleep(0.1)
    pytest.fail("the changed script was not reloaded within 10 s")


def box(page: Page, selector: str) -> dict[str, float]:
    """Where an element is on the page (the first that matches)."""
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found


@pytest.mark.parametrize("width", list(SCREENS))
def test_the_preview_fits_the_screen_and_its_chart_moves_and_opens_nodes(
    preview: Preview, width: int
) -> None:
    problems: list[str] = []
    context = preview.browser.new_context(
        viewport={"width": width, "height": SCREENS[width]}, device_scale_factor=1, has_touch=True
    )
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        page.goto(preview.url)
        expect(page.locator(".message.bot")).to_have_count(1)
        expect(page.locator("#flow g.current")).to_have_count(1)

        # Nothing runs off the side: no sideways scrolling of the page, every bubble and button
        # inside the chat, their text wrapped.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        log = box(page, "#log")
        for selector in (".message.bot .text", ".key"):
            for element in page.locator(selector).all():
                shown = element.bounding_box()
                assert shown is not None
                assert log["x"] <= shown["x"] and shown["x"] + shown["width"] <= log["x"] + log["width"], (
                    selector
                )

        # Send is on the screen as it opens, and takes a question.
        send = page.get_by_role("button", name="Send")
        expect(send).to_be_in_viewport(ratio=1)
        page.get_by_label("Melding til boten").fill("når er telefonen åpen?")
        send.click()
        expect(page.locator("#current-node")).to_have_text("telefon")
        expect(send).to_be_in_viewport(ratio=1)
        assert page.evaluate("document.documentElement.scrollWidth") <= width

        # As on Telegram, the buttons are below the bubble, each as wide as the row allows.
        answer = page.locator(".message.bot").last
        bubble = answer.locator(".text").bounding_box()
        keys = [k.bounding_box() for k in answer.locator(".key").all()]
        assert bubble is not None and keys and all(k is not None for k in keys)
        for key in keys:
            assert key is not None
            assert key["y"] >= bubble["y"] + bubble["height"], "a button is inside the bubble"
            left, right = bubble["x"], bubble["x"] + bubble["width"]  # as wide as the bubble, at most
            assert left - 1 <= key["x"] and key["x"] + key["width"] <= right + 1

        # The warnings `check` gives: the stale translations of the changed node.
        warnings = page.locator("#status .warnings")
        expect(warnings.locator("summary")).to_have_text("2 advarsler fra check")
        if not warnings.evaluate("details => details.open"):  # closed on a phone, to leave room
            assert width < 640
            warnings.locator("summary").click()
        expect(warnings).to_contain_text("dialogues/nn/telefon.yaml")
        expect(warnings).to_contain_text("nn-oversettelsen av `telefon` er eldre enn bokmålsteksten")
        if width < 640:
            warnings.locator("summary").click()  # closed again: the chat has the room back
        if width in SCREENSHOT_WIDTHS:
            page.screenshot(path=str(preview.shots / f"preview-{width}.png"))
        assert accessibility_problems(preview, page) == []

        # The chart opens at its natural size, where even the small labels are readable.
        flow = page.locator("#flow")
        chart = page.locator("#flow svg")
        assert float(flow.get_attribute("data-zoom") or 0) == 1
        smallest = page.evaluate(
            "Math.min(...[...document.querySelectorAll('#flow g.node text')]"
            ".map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a))"
        )
        assert smallest >= 11.5, f"the smallest label is {smallest:.1f} px"

        # A click on a node in the chart takes the chat there.
        bot_messages = page.locator(".message.bot").count()
        page.locator(f"#flow g[id='node-{NODE}'] text").first.click()
        expect(page.locator("#current-node")).to_have_text(NODE)
        expect(page.locator(".message.bot")).to_have_count(bot_messages + 1)
        assert page.locator(".message.bot").last.get_attribute("data-node") == NODE
        expect(page.locator("#flow g.current")).to_have_attribute("id", f"node-{NODE}")
        expect(page.locator(".note").last).to_have_text(f"Hoppet til {NODE} fra flytskjemaet.")

        # The buttons zoom it.
        natural = chart.bounding_box()
        assert natural is not None
        page.get_by_role("button", name="Zoom inn").click()
        expect(page.locator("#zoom-level")).to_have_text("125%")
        bigger = chart.bounding_box()
        assert bigger is not None
        assert bigger["width"] == pytest.approx(natural["width"] * 1.25, rel=0.01)
        page.get_by_role("button", name="Zoom ut").click()
        page.get_by_role("button", name="Zoom ut").click()
        expect(page.locator("#zoom-level")).to_have_text("80%")
        page.get_by_role("button", name="Tilpass").click()
        whole = chart.bounding_box()
        area = box(page, "#flow")
        assert whole is not None
        assert whole["width"] <= area["width"] and whole["height"] <= area["height"]
        page.get_by_role("button", name="tilbake til vanlig størrelse").click()
        expect(page.locator("#zoom-level")).to_have_text("100%")

        # A drag moves it, without opening the node it started on.
        centre = (area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)
        before = flow.evaluate("f => [f.scrollLeft, f.scrollTop]")
        page.mouse.move(*centre)
        page.mouse.down()
        page.mouse.move(centre[0] - 60, centre[1] - 40, steps=5)
        page.mouse.up()
        after = flow.evaluate("f => [f.scrollLeft, f.scrollTop]")
        assert (after[0] - before[0], after[1] - before[1]) == (60, 40)
        expect(page.locator("#current-node")).to_have_text(NODE)

        # The wheel zooms it in (and out) about the pointer.
        page.mouse.wheel(0, -300)
        zoom_becomes(page, lambda zoom: zoom > 1.5)
        page.mouse.wheel(0, 600)
        zoom_becomes(page, lambda zoom: zoom < 0.7)

        # Two fingers moving apart zoom it in.
        before_pinch = float(flow.get_attribute("data-zoom") or 0)
        pinch(page, centre, start=40, end=120)
        zoom_becomes(page, lambda zoom: zoom > before_pinch * 2.5)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        expect(send).to_be_in_viewport(ratio=1)
    finally:
        context.close()
    assert problems == []


def accessibility_problems(preview: Preview, page: Page) -> list[str]:
    """What axe-core finds against WCAG 2.1 AA in the page as it is now (nothing without axe)."""
    if preview.axe is None:
        return []
    # Evaluated by the browser's debugger protocol: the page's CSP (no inline script) is untouched.
    page.evaluate(preview.axe)
    result = page.evaluate(
        "options => axe.run(document, options)", {"runOnly": WCAG_AA, "resultTypes": ["violations"]}
    )
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}: {v['nodes'][0]['target']})" for v in result["violations"]
    ]


def zoom_becomes(page: Page, wanted: Callable[[float], bool]) -> float:
    """The chart's zoom once it is as wanted (input events are handled a moment after they are sent).

    Polled from here: the page's Content-Security-Policy forbids the eval that wait_for_function needs.
    """
    deadline = time.monotonic() + 5
    while True:
        zoom = float(page.locator("#flow").get_attribute("data-zoom") or 0)
        if wanted(zoom) or time.monotonic() > deadline:
            assert wanted(zoom), f"the zoom stayed at {zoom}"
            return zoom
        time.sleep(0.05)


def pinch(page: Page, centre: tuple[float, float], start: float, end: float) -> None:
    """Two real touches (through the browser's input, as a touch screen sends them) moving apart."""
    cdp = page.context.new_cdp_session(page)
    x, y = centre

    def fingers(apart: float) -> list[dict[str, float]]:
        return [{"x": x - apart / 2, "y": y, "id": 1}, {"x": x + apart / 2, "y": y, "id": 2}]

    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": fingers(start)})
    for step in range(1, 9):
        apart = start + (end - start) * step / 8
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": fingers(apart)})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()
