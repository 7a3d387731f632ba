"""`balansebot route`: one message explained, or a list answered one line per message (black-box)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import DIALOGUES, ROOT

# Which node answers is tuned by others; only the shape and the kind of answer are pinned here.
ANSWER = re.compile(r"svar: (node|acute|ambiguous|fallback) → \S.*")
ALARM = re.compile(r"alarm: \S+ \((svak|sterk)\) fordi: \S.*")
DANGER = "jeg vil ta livet mitt"
MESSAGES = ["når er telefonen åpen", "hva er balansemerket", "hei", DANGER]
BALANSEBOT = Path(sys.executable).with_name("balansebot")  # the installed console script


def route(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    """Run `balansebot route ARGS` on the shipped scripts: exit code, stdout lines, stderr."""
    code = main(["route", "--dialogues", str(DIALOGUES), *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def kind(answer: str) -> str:
    """The KIND of a `svar: KIND → NODES` line (after checking its shape)."""
    assert ANSWER.fullmatch(answer), answer
    return answer.removeprefix("svar: ").split(" ", 1)[0]


def run_stdin(*args: str, typed: str) -> subprocess.CompletedProcess[bytes]:
    """`balansebot route ARGS` as its own process, the messages on standard input."""
    assert BALANSEBOT.exists(), f"{BALANSEBOT} is not installed (run `uv sync`)"
    return subprocess.run(
        [str(BALANSEBOT), "route", "--dialogues", str(DIALOGUES), *args],
        cwd=ROOT,
        input=typed.encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )


def batch_lines(stdout: str) -> list[tuple[str, str]]:
    """Each output line as (answer, message): exactly one tab, the answer before it."""
    pairs = []
    for line in stdout.splitlines():
        answer, tab, message = line.partition("\t")
        assert tab, f"no tab in {line!r}"
        assert "\t" not in message, line
        kind(answer)
        pairs.append((answer, message))
    return pairs


def test_one_message_keeps_its_explanation(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = route(capsys, "når er telefonen åpen")
    assert code == 0
    kind(lines[0])
    assert "\t" not in lines[0]
    assert any(line.startswith("ord som ble forstått: ") for line in lines[1:])


def test_one_message_in_danger_shows_the_alarm_and_why(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = route(capsys, DANGER)
    assert code == 0
    assert kind(lines[0]) == "acute"
    alarms = [line for line in lines if line.startswith("alarm: ")]
    assert len(alarms) == 1
    assert ALARM.fullmatch(alarms[0]), alarms[0]
    assert any(line.startswith("ord som ble forstått: ") for line in lines)


def test_a_file_gives_one_line_per_message_in_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    messages = tmp_path / "messages.txt"
    # Blank and whitespace-only lines are skipped; Windows line endings and a BOM are not messages.
    text = "\ufeff" + "\r\n".join([MESSAGES[0], "", MESSAGES[1], "   ", MESSAGES[2], MESSAGES[3]]) + "\r\n\n"
    messages.write_bytes(text.encode("utf-8"))
    code, lines, err = route(capsys, "--file", str(messages))
    assert (code, err) == (0, "")
    pairs = [line.partition("\t") for line in lines]
    assert [message for _, _, message in pairs] == MESSAGES
    kinds = [kind(answer) for answer, _, _ in pairs]
    assert kinds[-1] == "acute"


def test_the_file_form_answers_as_the_single_form_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    messages = tmp_path / "messages.txt"
    messages.write_text("\n".join(MESSAGES) + "\n", encoding="utf-8")
    _, batch, _ = route(capsys, "--file", str(messages))
    singles = [route(capsys, message)[1][0] for message in MESSAGES]
    assert batch == [f"{answer}\t{message}" for answer, message in zip(singles, MESSAGES, strict=True)]


def test_an_empty_file_prints_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    assert route(capsys, "--file", str(empty)) == (0, [], "")


@pytest.mark.parametrize("problem", ["missing", "directory", "not-utf8"])
def test_an_unreadable_file_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, problem: str
) -> None:
    path = tmp_path / "messages.txt"
    if problem == "directory":
        path.mkdir()
    elif problem == "not-utf8":
        path.write_bytes("hei på deg\n".encode("latin-1"))
    code, lines, err = route(capsys, "--file", str(path))
    assert code == 2
    assert lines == []
    assert len(err.splitlines()) == 1
    assert str(path) in err


@pytest.mark.parametrize("form", [["hei"], ["--file", "messages.txt"]])
def test_an_unknown_language_is_refused_naming_the_known_ones(
    capsys: pytest.CaptureFixture[str], form: list[str]
) -> None:
    code, lines, err = route(capsys, "--lang", "xx", *form)
    assert code == 2
    assert lines == []
    assert len(err.splitlines()) == 1
    assert "'xx'" in err
    assert all(lang in err for lang in ("nb", "nn", "en"))


def test_a_known_language_other_than_bokmal_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = route(capsys, "--lang", "nn", "kva er balansemerket")
    assert code == 0
    kind(lines[0])


def test_a_message_and_a_file_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = route(capsys, "hei", "--file", "messages.txt")
    assert (code, lines, len(err.splitlines())) == (2, [], 1)


@pytest.mark.slow
@pytest.mark.own_database
def test_stdin_gives_one_line_per_input_line_in_order() -> None:
    typed = "\n".join([MESSAGES[0], "", MESSAGES[1], "  ", MESSAGES[2], "", MESSAGES[3]]) + "\n"
    result = run_stdin("-", typed=typed)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    pairs = batch_lines(result.stdout.decode("utf-8"))
    assert [message for _, message in pairs] == MESSAGES
    assert kind(pairs[-1][0]) == "acute"


@pytest.mark.slow
@pytest.mark.own_database
def test_stdin_is_read_without_a_dash_when_it_is_not_a_terminal() -> None:
    result = run_stdin(typed="hei\r\nhva er balansemerket\r\n")
    assert result.returncode == 0, result.stderr.decode()
    assert [m for _, m in batch_lines(result.stdout.decode("utf-8"))] == ["hei", "hva er balansemerket"]


@pytest.mark.slow
@pytest.mark.own_database
def test_stdin_refuses_an_unknown_language() -> None:
    result = run_stdin("-", "--lang", "xx", typed="hei\n")
    assert result.returncode == 2
    assert result.stdout == b""
    assert len(result.stderr.decode().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.own_database
def test_a_message_in_quotes_still_explains_itself_with_stdin_open() -> None:
    result = run_stdin(DANGER, typed="hei\n")  # the message given wins; stdin is not read
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode("utf-8").splitlines()
    assert kind(lines[0]) == "acute"
    assert "\t" not in lines[0]
    assert any(ALARM.fullmatch(line) for line in lines)
    assert any(line.startswith("ord som ble forstått: ") for line in lines)
