"""`balansebot route "text"`: show staff where a message would go, and why.

With one message it explains the answer (the alarm it raised, the words understood, the ranked
candidates). With `--file FILE` or `-` (or no message while standard input is not a terminal) it
reads one message per line and prints one line each, `answer: KIND → NODE…<TAB>message`, so a list
of test messages can be checked without reading any Python.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.commands.common import engine_or_exit
from bot.engine.engine import PATTERN_CUE, Engine
from bot.engine.model import ChatState, FreeText, Outcome
from bot.staff_words import say

STDIN = "-"


class _UnreadableError(Exception):
    """The messages cannot be read: the one-line reason for staff."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        "route",
        help=say("show which node a message would reach, with scores (or one line per message of a list)"),
    )
    parser.add_argument(
        "text",
        nargs="?",
        help=say('the message, in quotes; "-" reads one message per line from standard input'),
    )
    parser.add_argument(
        "--file",
        type=Path,
        help=say("read one message per line from FILE (UTF-8) and print one answer line per message"),
    )
    parser.add_argument("--lang", default="nb", help=say("the reader's language (default nb)"))
    parser.add_argument("--dialogues", type=Path, help=say("the dialogues folder (default: ./dialogues)"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """One message: the answer and why. A list: one answer line per message, in order."""
    if args.text is not None and args.file is not None:
        return _refuse(say('give either a message or --file, not both (use "-" for standard input)'))
    stdin_is_terminal = sys.stdin is None or sys.stdin.isatty()
    if args.text is None and args.file is None and stdin_is_terminal:
        return _refuse(
            say('give a message in quotes, --file FILE, or "-" to read messages from standard input')
        )
    engine = engine_or_exit(args.dialogues)
    languages = sorted(engine.scripts.languages)
    if args.lang not in languages:
        return _refuse(
            say(
                "unknown language {lang!r}; the scripts have: {languages}",
                lang=args.lang,
                languages=", ".join(languages),
            )
        )
    if args.text is not None and args.text != STDIN:
        _explain(engine, args.lang, args.text)
        return 0
    try:
        messages = _messages(args.file)
    except _UnreadableError as error:
        return _refuse(str(error))
    for message in messages:
        print(f"{_answer(_handle(engine, args.lang, message))}\t{message}")
    return 0


def _refuse(problem: str) -> int:
    print(f"balansebot route: {problem}", file=sys.stderr)
    return 2


def _handle(engine: Engine, lang: str, text: str) -> Outcome:
    """Each message as the first thing a new chat says, so the answers do not depend on order."""
    return engine.handle(ChatState(lang=lang), FreeText(text))


def _answer(outcome: Outcome) -> str:
    return say("answer: {route} → {nodes}", route=outcome.route, nodes=", ".join(outcome.nodes) or "-")


def _explain(engine: Engine, lang: str, text: str) -> None:
    """The answer, the alarm that decided it (if any), the words understood and the candidates."""
    outcome = _handle(engine, lang, text)
    print(_answer(outcome))
    alert = engine.alert(text)
    if alert is not None:
        strength = say("weak") if alert.weak else say("strong")
        print(
            say(
                "alarm: {node} ({strength}) because: {because}",
                node=alert.node,
                strength=strength,
                because=", ".join(alert.because) or "-",
            )
        )
        if alert.weak and outcome.route == "fallback":
            print(
                say(
                    "the alarm gave way to the fallback, which shows 112 and the acute button: the "
                    "danger model finds the message further from danger than any real danger it learned from"
                )
            )
    router = engine.router()
    learned = None if router.route(text).in_staffs_words else engine.learned_answer(text)
    if learned is not None:
        print(
            say(
                "answer by {cue}: {node} {share:.0%} (the router's candidates are below)",
                cue=PATTERN_CUE,
                node=learned[0],
                share=learned[1],
            )
        )
    print(say("words understood: ") + ", ".join(f"{t}×{w:g}" for t, w in router.features(text).items()))
    for match in router.route(text).candidates:
        print(f"  {match.score:6.2f}  {match.node}")


def _messages(file: Path | None) -> list[str]:
    """The non-blank lines of FILE (or standard input), without their line endings."""
    from_stdin = file is None or str(file) == STDIN
    name = say("standard input") if from_stdin else str(file)
    try:
        if file is not None and not from_stdin:
            data = file.read_bytes()
        elif hasattr(sys.stdin, "buffer"):
            data = sys.stdin.buffer.read()
        else:  # a text stream put in its place (as tests may do)
            data = sys.stdin.read().encode()
        text = data.decode("utf-8-sig")  # a byte-order mark (Windows editors) is not part of a message
    except UnicodeDecodeError as error:
        raise _UnreadableError(
            say("{name} is not UTF-8 text (byte {byte})", name=name, byte=error.start)
        ) from error
    except OSError as error:
        raise _UnreadableError(
            say("cannot read {name}: {reason}", name=name, reason=error.strerror or error)
        ) from error
    lines = (line.removesuffix("\r") for line in text.split("\n"))
    return [line for line in lines if line.strip()]
