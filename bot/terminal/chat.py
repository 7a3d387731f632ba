"""`balansebot chat`: talk to the engine in a terminal — no token, no network, nothing stored."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TextIO

from bot.engine.engine import Engine, choose_language
from bot.engine.model import ButtonPress, ChatState, Command, Event, FreeText
from bot.engine.showing import how_to_show
from bot.staff_words import say
from bot.terminal.render import render_reply

QUIT_WORDS = frozenset({"/quit", "/exit", "/q"})
PROMPT = "> "


def parse_input(line: str, choices: list[str | None]) -> Event | None:
    """A typed line as an event: a button number, a /command or free text (None: nothing to do)."""
    text = line.strip()
    if not text:
        return None
    if text.isdigit() and len(text) <= 2:  # a short number is a button, never a question
        if not 1 <= int(text) <= len(choices):
            return None
        data = choices[int(text) - 1]
        return ButtonPress(data) if data is not None else None
    if text.startswith("/") and len(text) > 1:
        return Command(text[1:].split()[0].split("@")[0].lower())
    return FreeText(text)


def run_chat(
    engine: Engine,
    stdin: TextIO,
    stdout: TextIO,
    *,
    color: bool,
    lang: str = "nb",
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> None:
    """Read lines until end of input or /quit, answering each like the bot would on Telegram."""
    stdout.write(
        say("Balansebot in the terminal. Type a number to press a button, a question, or /quit to leave.")
        + "\n\n"
    )
    state = ChatState(lang=choose_language(lang, engine.scripts))
    event: Event | None = Command("start")
    choices: list[str | None] = []
    while True:
        if event is not None:
            outcome = engine.handle(state, event, clock())
            # Nothing is stored and a terminal cannot edit what it printed: only the state matters.
            state = how_to_show(event, outcome, pressed=None, newest=None).state
            for reply in outcome.replies:
                text, choices = render_reply(reply, color=color)
                stdout.write(text + "\n")
        stdout.write(PROMPT)
        stdout.flush()
        line = stdin.readline()
        if not line or line.strip().lower() in QUIT_WORDS:
            stdout.write("\n")
            return
        event = parse_input(line, choices)
        if event is None and line.strip():
            stdout.write(
                say("(choose a number from 1 to {count}, or write a question)", count=len(choices)) + "\n"
            )
