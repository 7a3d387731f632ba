"""Atheris entry points: each takes the fuzzer's bytes and raises AssertionError when a property breaks.

Run them with `uv run python -m tests.fuzz.run`; tests/fuzz/test_fuzz_smoke.py runs each briefly.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import atheris
from telegram import Bot, Update

from bot.content.loader import load_scripts
from bot.content.problems import Problem
from bot.engine import callbacks
from bot.engine.engine import Engine
from bot.engine.form import FIELDS, STEPS, InterestForm
from bot.engine.model import ButtonPress, ChatState, Command, Event, FreeText, NonText
from bot.i18n import Catalogs
from bot.telegram.updates import BodyRejected, inbound, read_update_body
from tests.conftest import DIALOGUES, LOCALES
from tests.fuzz.invariants import outcome_violations

Target = Callable[[bytes], None]
LIMIT = 262_144
ROUTE_SECONDS = 10.0  # CPU seconds: routing takes milliseconds; this catches only runaway work
LANGUAGES = ("nb", "nn", "en")
NODES = ("start", "meny", "telefon", "merket", "akutt", "skjema", "ukjent")


@cache
def _catalogs() -> Catalogs:
    return Catalogs.load(LOCALES)


@cache
def _engines() -> tuple[Engine, Engine]:
    scripts = load_scripts(DIALOGUES, _catalogs()).scripts
    assert scripts is not None, "the shipped scripts do not load"
    return Engine(scripts, _catalogs()), Engine(scripts, _catalogs(), lead_form=True)


@cache
def _bot() -> Bot:
    return Bot("123456:fuzz-token")  # never contacted


def webhook_body(data: bytes) -> None:
    """Any body: an Update the one mapping reads, or 400/413 — never an exception (the webhook's 500)."""
    result = read_update_body(data, _bot(), LIMIT)
    if isinstance(result, BodyRejected):
        assert result.status in (400, 413), result
    else:
        assert isinstance(result, Update)
        inbound(result)


def webhook_json(data: bytes) -> None:
    """A real text update whose text, ids and one field come from the fuzzer."""
    fdp = atheris.FuzzedDataProvider(data)
    message: dict[str, object] = {
        "message_id": fdp.ConsumeIntInRange(0, 2**31),
        "date": fdp.ConsumeIntInRange(-(2**40), 2**40),
        "chat": {"id": fdp.ConsumeInt(8), "type": fdp.PickValueInList(["private", "group", "channel", ""])},
        "text": fdp.ConsumeUnicode(64),
    }
    key = fdp.PickValueInList(["from", "entities", "reply_to_message", "sticker", "edited", "text", "chat"])
    message[key] = _json_or_text(fdp.ConsumeUnicodeNoSurrogates(64)) if fdp.ConsumeBool() else None
    body = json.dumps({"update_id": fdp.ConsumeIntInRange(0, 2**53), "message": message}).encode()
    webhook_body(body)


def _json_or_text(text: str) -> object:
    """The JSON value `text` spells, or the text itself as a JSON string."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def _event(fdp: atheris.FuzzedDataProvider) -> Event:
    kind = fdp.ConsumeIntInRange(0, 3)
    if kind == 0:
        return Command("".join(fdp.ConsumeUnicodeNoSurrogates(48).split()).lower())
    if kind == 1:
        prefix = fdp.PickValueInList(["", "n:", "f:", "l:", "f:field:"])
        return ButtonPress(None if fdp.ConsumeIntInRange(0, 15) == 0 else prefix + fdp.ConsumeUnicode(70))
    if kind == 2:
        return NonText(fdp.PickValueInList(["sticker", "edited_message", "photo", "other"]))
    return FreeText(fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 6000)))


def engine_event(data: bytes) -> None:
    """Any event in any state: replies of valid Telegram HTML within 4096, buttons within 64 bytes."""
    fdp = atheris.FuzzedDataProvider(data)
    engine = _engines()[fdp.ConsumeBool()]
    form = None
    if fdp.ConsumeBool():
        answers = tuple((f, fdp.ConsumeUnicodeNoSurrogates(40)) for f in FIELDS if fdp.ConsumeBool())
        form = InterestForm.from_json({"step": fdp.PickValueInList(list(STEPS)), **dict(answers)})
    state = ChatState(
        node=fdp.PickValueInList(list(NODES)), lang=fdp.PickValueInList(list(LANGUAGES)), form=form
    )
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        outcome = engine.handle(state, _event(fdp))
        violations = outcome_violations(outcome)
        assert not violations, violations
        state = outcome.state


def router_text(data: bytes) -> None:
    """Any text is routed within bounded time, to known nodes only."""
    engine = _engines()[0]
    text = data.decode("utf-8", "replace")
    started = time.process_time()
    result = engine.router().route(text, "telefon")
    elapsed = time.process_time() - started
    assert elapsed < ROUTE_SECONDS, f"routing took {elapsed:.2f}s"
    for match in result.candidates:
        assert engine.scripts.node("nb", match.node) is not None, match


def callback_data(data: bytes) -> None:
    """Any callback data parses to something, and a button press always leads somewhere valid."""
    text = data.decode("utf-8", "surrogateescape").encode("utf-8", "replace").decode("utf-8")
    press = callbacks.parse(text)
    if isinstance(press, callbacks.GotoNode):
        assert callbacks.fits(callbacks.goto(press.node_id))
    outcome = _engines()[1].handle(ChatState(node="telefon"), ButtonPress(text))
    violations = outcome_violations(outcome)
    assert not violations, violations


@cache
def _folder() -> Path:
    """A small dialogues folder (facts, the start node and the file being fuzzed); loads in ~20 ms."""
    target = Path(tempfile.mkdtemp(prefix="balansebot-fuzz-")) / "dialogues"
    (target / "nb").mkdir(parents=True)
    shutil.copy(DIALOGUES / "facts.yaml", target)
    shutil.copy(DIALOGUES / "nb" / "start.yaml", target / "nb")
    return target


def yaml_file(data: bytes) -> None:
    """Any bytes as a script file: the loader returns scripts or located problems, and never raises."""
    folder = _folder()
    path = folder / "nb" / "fuzzed.yaml"
    path.write_bytes(data)
    result = load_scripts(folder, _catalogs())
    assert (result.scripts is None) == bool(result.errors)
    # YAML breaks lines at \r\n, \r and \n alike (and the problems count lines as YAML does).
    lines = data.replace(b"\r\n", b"\n").count(b"\n") + data.replace(b"\r\n", b"").count(b"\r") + 1
    for problem in result.problems:
        assert isinstance(problem, Problem)
        assert problem.line >= 1, problem
        if problem.path.name == path.name:
            assert problem.line <= lines, f"{problem} but the file has {lines} lines"


def canary(data: bytes) -> None:
    """Fails on purpose on its seed, so a test can prove that the runner reports crashes."""
    assert not data.startswith(b"canary"), "the canary input"


TARGETS: dict[str, Target] = {
    "webhook_body": webhook_body,
    "webhook_json": webhook_json,
    "engine_event": engine_event,
    "router_text": router_text,
    "callback_data": callback_data,
    "yaml_file": yaml_file,
    "canary": canary,
}


def warm_up(name: str) -> None:
    """Build what a target's first input would otherwise wait for (the engine takes about a second)."""
    if name in ("engine_event", "router_text", "callback_data"):
        _engines()
    elif name == "yaml_file":
        _catalogs()
        _folder()


def seeds(name: str) -> list[bytes]:
    """A few real inputs for a target's corpus, so the fuzzer starts from meaningful shapes."""
    update = {
        "update_id": 1,
        "message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}, "text": "hei"},
    }
    match name:
        case "webhook_body":
            return [json.dumps(update).encode(), b"[]", b'{"update_id": 1}']
        case "router_text":
            return ["når er telefonen åpen".encode(), b"trakassering", "jeg blir slått nå 😀".encode()]
        case "callback_data":
            return [callbacks.goto("telefon").encode(), callbacks.form("send").encode(), b"l:nn"]
        case "canary":
            return [b"canary"]
        case "yaml_file":
            return [p.read_bytes() for p in sorted((DIALOGUES / "nb").glob("*.yaml"))[:3]]
        case _:
            return [b"\x00" * 8, bytes(range(256))]
