"""Judging one step's replies against its checks, and the hint that says what to fix."""

from __future__ import annotations

from collections.abc import Sequence

from bot.content.telegram_html import visible_text
from bot.engine.engine import Engine
from bot.engine.model import Outcome, Reply
from bot.staff.dialogue_tests.conversation import Check, Conversation, Failure, Step
from bot.staff.dialogue_tests.matching import fold, fold_wanted, matching_buttons
from bot.staff_words import say


def first_failure(
    engine: Engine, conversation: Conversation, step: Step, where: str, outcome: Outcome
) -> Failure | None:
    """The first of the step's checks its replies fail, or None when they pass them all."""
    said = as_read(outcome.replies)
    text = fold(" ".join(visible_text(r.text) for r in outcome.replies))
    nodes = [n for n in (*(r.node for r in outcome.replies), *outcome.nodes) if n is not None]
    answered = _answered(engine, conversation, outcome)

    def fail(check: Check, message: str, hint: str) -> Failure:
        return Failure(conversation.path, check.line, where, message, said, hint, outcome.nodes)

    if step.node is not None and step.node.text not in nodes:
        return fail(
            step.node,
            say("expected the answer from node `{node}`", node=step.node.text),
            _node_hint(step, answered),
        )
    for check in step.expect:
        if fold_wanted(check.text) not in text:
            scripted = _from_script(engine, conversation, outcome)
            return fail(
                check,
                say("expected the reply to contain: “{text}”", text=check.text),
                _expect_hint(step, answered, scripted),
            )
    for check in step.absent:
        if fold_wanted(check.text) in text:
            return fail(
                check,
                say("expected the reply NOT to contain: “{text}”", text=check.text),
                say(
                    "remove the text from the script ({answered}), or from `not:` if it belongs there now.",
                    answered=answered,
                )
                if answered
                else say("remove the text from the script, or from `not:` if it belongs there now."),
            )
    shown = [b for r in outcome.replies for row in r.keyboard for b in row]
    for check in step.buttons:
        if not matching_buttons(check.text, shown):
            return fail(
                check,
                say("expected a button “{text}”", text=check.text),
                say(
                    "if the button was renamed or moved on purpose, update the test; otherwise add it to "
                    "{where} again.",
                    where=answered or say("the node"),
                ),
            )
    return None


def _answered(engine: Engine, conversation: Conversation, outcome: Outcome) -> str:
    """Which script node answered, with its file:line, when one did (for hints)."""
    for node_id in outcome.nodes:
        node = engine.scripts.node(conversation.lang.text, node_id)
        if node is not None:
            return say("node `{node}` ({source})", node=node_id, source=node.source)
    return ""


def _from_script(engine: Engine, conversation: Conversation, outcome: Outcome) -> bool:
    """True when a reply is a script node's text, False when it is one of the engine's own messages."""
    for reply in outcome.replies:
        node = engine.scripts.node(conversation.lang.text, reply.node) if reply.node else None
        # The engine fills in the line's open-now status, so compare the beginning only.
        if node is not None and reply.text[:40] == node.text[:40]:
            return True
    return False


def _node_hint(step: Step, answered: str) -> str:
    got = (
        say("the bot answered with {answered}", answered=answered)
        if answered
        else say("the bot answered by itself")
    )
    if step.action == "say":
        return say(
            '{got}. Run `uv run balansebot route "{text}"` to see why, and add the reader\'s words to '
            "`{node}`'s `phrases:` or `keywords:`.",
            got=got,
            text=step.value,
            node=step.node.text if step.node else "",
        )
    return say("{got}. Check the button's `goto:` (or the node's `command:`) in the script.", got=got)


def _expect_hint(step: Step, answered: str, scripted: bool) -> str:
    sentences = [
        say(
            "the text is not in the reply (case, spaces and formatting do not matter). If the script "
            "was changed on purpose, change the test to match; if not, the script has lost this text."
        ),
        say("Look at {answered}.", answered=answered)
        if answered and scripted
        else say("This reply is one of the bot's own messages (translated in locales/), not a script node."),
    ]
    if step.action == "say":
        sentences.append(
            say(
                'To see which answer “{text}” reaches and why: uv run balansebot route "{text}".',
                text=step.value,
            )
        )
    return " ".join(sentences)


def as_read(replies: Sequence[Reply]) -> str:
    """What the bot said, as the reader sees it: text without HTML, then the buttons."""
    lines: list[str] = []
    for reply in replies:
        lines.extend(visible_text(reply.text).strip().splitlines())
        buttons = [f"[{b.text}]" for row in reply.keyboard for b in row]
        if buttons:
            lines.append("buttons: " + " ".join(buttons))
    return "\n".join(lines)
