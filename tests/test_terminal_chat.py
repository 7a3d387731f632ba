"""`balansebot chat` in the terminal: buttons by number, free text, commands, readable HTML."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from bot.content.telegram_html import terminal_text
from bot.engine.engine import Engine
from bot.engine.model import ButtonPress, CallbackButton, LinkButton, Reply
from bot.terminal.chat import parse_input, run_chat
from bot.terminal.render import render_reply
from tests.conftest import ROOT, run_balansebot


def chat(engine: Engine, typed: str) -> str:
    """Run a whole terminal conversation and return what was printed."""
    out = io.StringIO()
    run_chat(engine, io.StringIO(typed), out, color=False)
    return out.getvalue()


def test_greeting_then_numbered_buttons(engine: Engine) -> None:
    out = chat(engine, "")
    assert "anonym" in out
    assert "[1] Hva er seksuell trakassering?" in out


def test_press_a_number_then_ask_a_question(engine: Engine) -> None:
    out = chat(engine, "3\nhvordan blir vi med i balansemerket\n/telefon\n/quit\n")
    assert "Rådgivningstelefonen" in out
    assert "Ring 400 38 800" in out
    assert "Balansemerket" in out


def test_a_number_without_a_button_is_explained(engine: Engine) -> None:
    out = chat(engine, "99\n")
    assert "choose a number from 1 to" in out


def test_html_is_rendered_readably() -> None:
    rendered = terminal_text(
        '<b>Fet</b> og <a href="https://balansekunst.no">lenke</a> &amp; '
        "<blockquote>sitat\nlinje to</blockquote>",
        color=False,
    )
    assert rendered == "Fet og lenke (https://balansekunst.no) & │ sitat\n│ linje to"
    assert "\x1b[1m" in terminal_text("<b>x</b>", color=True)


def test_the_readme_command_runs_without_token_or_network() -> None:
    """`uv run balansebot chat` as a person would start it (here through the same entry point)."""
    result = run_balansebot("chat", env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"}, typed="1\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "Hva er seksuell trakassering" in result.stdout
    assert "\x1b[" not in result.stdout


def test_chat_refuses_broken_scripts(tmp_path: Path) -> None:
    target = tmp_path / "dialogues"
    shutil.copytree(ROOT / "dialogues", target)
    (target / "nb" / "om.yaml").write_text("topic: om\nnodes: [\n", encoding="utf-8")
    result = run_balansebot("chat", "--dialogues", str(target))
    assert result.returncode == 1
    assert "dialogues/nb/om.yaml:" in result.stderr and "ikke gyldig YAML" in result.stderr


def test_a_link_button_shows_its_address_and_only_a_callback_button_can_be_chosen() -> None:
    reply = Reply(
        "Velg",
        ((CallbackButton("Telefon", "n:telefon"),), (LinkButton("Nettsiden", "https://balansekunst.no"),)),
    )
    text, choices = render_reply(reply, color=False)
    assert text == "Velg\n\n  [1] Telefon\n  [2] Nettsiden  → https://balansekunst.no\n"
    assert choices == ["n:telefon", None]
    assert parse_input("1", choices) == ButtonPress("n:telefon")
    assert parse_input("2", choices) is None, "a link is opened, not answered"
