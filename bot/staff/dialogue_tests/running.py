"""Running a conversation through the real, pure engine, step by step, until a step fails."""

from __future__ import annotations

from typing import assert_never

from bot.content.problems import Problem
from bot.engine.engine import Engine
from bot.engine.model import (
    ButtonPress,
    CallbackButton,
    ChatState,
    Command,
    Event,
    FreeText,
    LinkButton,
    Reply,
)
from bot.staff.dialogue_tests.conversation import Conversation, Failure, Result, Step
from bot.staff.dialogue_tests.judging import as_read, first_failure
from bot.staff.dialogue_tests.matching import matching_buttons
from bot.staff.dialogue_tests.reading import conversation_problems
from bot.staff_words import marked, say


def run_conversation(engine: Engine, conversation: Conversation) -> Result:
    """Play the conversation through the engine; stop at the first step that is not as expected."""
    state = ChatState(lang=conversation.lang.text)
    last: Reply | None = None
    for number, step in enumerate(conversation.steps, start=1):
        where = say("step {number}, {step}", number=number, step=step.describe())
        event = _event(step, last)
        if isinstance(event, str):
            said = as_read([last] if last is not None else [])
            return Result(
                conversation, Failure(conversation.path, step.line, where, event, said, say(_PRESS_HINT))
            )
        outcome = engine.handle(state, event, conversation.time)
        state = outcome.state
        failure = first_failure(engine, conversation, step, where, outcome)
        if failure is not None:
            return Result(conversation, failure)
        last = outcome.replies[-1] if outcome.replies else None
    return Result(conversation, None)


_PRESS_HINT = marked(
    "press a button that is on the bot's last reply (copy its text from the list above), "
    "or add a step before it that leads to the reply with this button."
)


def _event(step: Step, last: Reply | None) -> Event | str:
    """The engine event for a step, or why the button cannot be pressed."""
    if step.action == "command":
        return Command(step.value.removeprefix("/"))
    if step.action == "say":
        return FreeText(step.value)
    if last is None:
        return say("there is no reply yet to press “{text}” on", text=step.value)
    buttons = [b for row in last.keyboard for b in row]
    matches = matching_buttons(step.value, buttons)
    if not matches:
        return say("there is no button “{text}” on the bot's last reply", text=step.value)
    if len(matches) > 1:
        names = ", ".join(f"“{b.text}”" for b in matches)
        return say(
            "“{text}” could be any of these buttons: {names}; write more of its text",
            text=step.value,
            names=names,
        )
    match pressed := matches[0]:
        case CallbackButton(_, data):
            return ButtonPress(data)
        case LinkButton(text, _):
            return say("“{button}” opens a web page; the bot does not answer it", button=text)
        case _:
            assert_never(pressed)


def check_and_run(engine: Engine, conversation: Conversation) -> Result | list[Problem]:
    """Run a conversation, unless the scripts reveal a mistake in it (an unknown node or language)."""
    problems = conversation_problems(conversation, engine.scripts)
    return problems or run_conversation(engine, conversation)
