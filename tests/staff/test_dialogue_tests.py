"""Staff's conversation tests (dialogues/tests/*.yaml): each one runs here, and the runner is tested."""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from pathlib import Path

import pytest

from bot.cli import main
from bot.content.problems import Problem
from bot.content.scripts import Scripts
from bot.engine.engine import Engine
from bot.i18n import Catalogs
from bot.staff.dialogue_tests.conversation import DEFAULT_TIME, OSLO, TESTS_FOLDER, Conversation, Failure
from bot.staff.dialogue_tests.reading import conversation_problems, find_test_files, read_conversations
from bot.staff.dialogue_tests.running import check_and_run, run_conversation
from tests.conftest import DIALOGUES, ROOT, Reload, run_balansebot

SHIPPED = DIALOGUES / TESTS_FOLDER


def _shipped_cases() -> list[object]:
    """One case per conversation in dialogues/tests/ (id file::name); a broken file is one failing case."""
    cases: list[object] = []
    for path in find_test_files(SHIPPED):
        found = read_conversations(path, path.relative_to(ROOT))
        conversations = [c for c in found if isinstance(c, Conversation)]
        problems = [p for p in found if isinstance(p, Problem)]
        if problems:
            cases.append(pytest.param(problems, id=path.name))
        cases.extend(pytest.param(c, id=c.id) for c in conversations)
    return cases


@pytest.fixture(scope="module")
def form_engine(scripts: Scripts, catalogs: Catalogs) -> Engine:
    """The engine as served with delivery to staff set up, so the interest form can be tested."""
    return Engine(scripts, catalogs, lead_form=True)


@pytest.mark.parametrize("case", _shipped_cases())
def test_conversation(case: Conversation | list[Problem], form_engine: Engine) -> None:
    if isinstance(case, list):
        pytest.fail("\n".join(map(str, case)), pytrace=False)
    outcome = check_and_run(form_engine, case)
    if isinstance(outcome, list):
        pytest.fail("\n".join(map(str, outcome)), pytrace=False)
    if outcome.failure is not None:
        pytest.fail(f"{case.id}\n{outcome.failure}", pytrace=False)


def test_the_shipped_tests_cover_every_language_and_the_main_nodes() -> None:
    conversations = [
        c for p in find_test_files(SHIPPED) for c in read_conversations(p) if isinstance(c, Conversation)
    ]
    assert {c.lang.text for c in conversations} == {"nb", "nn", "en"}
    named = {s.node.text for c in conversations for s in c.steps if s.node is not None}
    main = {"start", "meny", "trakassering", "trakassering_loven", "telefon", "merket", "merket_kurs"}
    main |= {"merket_tildeling", "skjema_summary", "skjema_sendt", "akutt", "ikke_forstatt", "personvern"}
    assert main | {"slettet", "sprak"} <= named


def test_the_example_in_the_staff_guide_passes(tmp_path: Path, form_engine: Engine) -> None:
    guide = (DIALOGUES / "README.md").read_text(encoding="utf-8")
    section = guide[guide.index("## Conversation tests") :]
    example = section[
        section.index("```yaml\n") + len("```yaml\n") : section.index("```\n", 1 + section.index("```yaml"))
    ]
    assert_passes(form_engine, write(tmp_path, example))


# ---------------------------------------------------------------------------------------------
# The runner: helpers


def write(tmp_path: Path, text: str, name: str = "case.yaml") -> Path:
    """A test file with `text` (dedented), as staff would save it."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    """The 1-based line where `needle` first appears."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def only(path: Path) -> Conversation:
    """The single conversation in a file that must read cleanly."""
    found = read_conversations(path)
    assert len(found) == 1, "\n".join(map(str, found))
    assert isinstance(found[0], Conversation), str(found[0])
    return found[0]


def failure_of(engine: Engine, path: Path) -> Failure:
    """How the single conversation in `path` fails (it must)."""
    result = run_conversation(engine, only(path))
    assert result.failure is not None, "the conversation should have failed"
    return result.failure


def assert_passes(engine: Engine, path: Path) -> None:
    """The single conversation in `path` passes (or the failure is shown)."""
    result = run_conversation(engine, only(path))
    assert result.passed, str(result)


def problems_of(path: Path) -> list[Problem]:
    """The mistakes found when reading `path` (there must be some)."""
    found = read_conversations(path)
    problems = [p for p in found if isinstance(p, Problem)]
    assert problems and len(problems) == len(found), found
    return problems


# ---------------------------------------------------------------------------------------------
# The runner: a conversation that should fail does, at the right line


def test_a_missing_text_fails_at_its_line_with_what_the_bot_said(tmp_path: Path, form_engine: Engine) -> None:
    path = write(
        tmp_path,
        """
        conversations:
          - name: Telefonen
            steps:
              - command: /start
              - press: Rådgivningstelefonen
                expect:
                  - 400 38 800
                  - ring 999 99 999
        """,
    )
    failure = failure_of(form_engine, path)
    assert failure.path == path
    assert failure.line == line_of(path, "999 99 999")
    assert failure.step == 'step 2, press "Rådgivningstelefonen"'
    assert "ring 999 99 999" in failure.message
    shown = str(failure)
    assert f"{path}:{failure.line}" in shown
    assert "Ring 400 38 800" in shown  # what the bot said …
    assert "<b>" not in shown and "<i>" not in shown  # … as the reader sees it
    assert "[Hva skjer når jeg ringer?]" in shown
    assert "(node telefon)" in shown
    assert "dialogues/nb/telefon.yaml:3" in failure.hint


def test_a_later_step_is_not_run_after_a_failure(tmp_path: Path, form_engine: Engine) -> None:
    path = write(
        tmp_path,
        """
        conversations:
          - name: To feil
            steps:
              - command: /start
                expect: [finnes ikke]
              - press: Personvern
                expect: [finnes heller ikke]
        """,
    )
    assert failure_of(form_engine, path).line == line_of(path, "finnes ikke")


def test_the_wrong_node_for_free_text_points_to_route(tmp_path: Path, form_engine: Engine) -> None:
    path = write(
        tmp_path,
        """
        conversations:
          - name: Fritekst
            steps:
              - say: hva er seksuell trakassering
                node: telefon
        """,
    )
    failure = failure_of(form_engine, path)
    assert failure.line == line_of(path, "node: telefon")
    assert "expected the answer from node `telefon`" in failure.message
    assert "balansebot route" in failure.hint
    assert "node `trakassering`" in failure.hint


def test_text_that_must_not_appear_fails(tmp_path: Path, form_engine: Engine) -> None:
    path = write(
        tmp_path,
        """
        time: 2026-03-11T10:00
        conversations:
          - name: Åpen
            steps:
              - command: /telefon
                not: [åpen nå]
        """,
    )
    failure = failure_of(form_engine, path)
    assert failure.line == line_of(path, "not: [")
    assert "NOT to contain: “åpen nå”" in failure.message


def test_a_missing_button_fails(tmp_path: Path, form_engine: Engine) -> None:
    path = write(
        tmp_path,
        """
        conversations:
          - name: Knapper
            steps:
              - command: /start
                buttons: [Personvern, Kontakt oss]
        """,
    )
    failure = failure_of(form_engine, path)
    assert failure.message == "expected a button “Kontakt oss”"
    assert failure.line == line_of(path, "buttons:")


def test_a_reply_from_the_engine_itself_is_named_as_such(tmp_path: Path, form_engine: Engine) -> None:
    path = write(
        tmp_path,
        """
        conversations:
          - name: Ukjent kommando
            steps:
              - command: /hvasomhelst
                expect: [noe annet]
        """,
    )
    assert "the bot's own messages" in failure_of(form_engine, path).hint


# ---------------------------------------------------------------------------------------------
# The runner: forgiving matching, time and language


def test_matching_ignores_case_spacing_html_dashes_and_quotes(tmp_path: Path, form_engine: Engine) -> None:
    path = write(
        tmp_path,
        """
        time: 2026-03-11T10:00
        conversations:
          - name: Tilgivende
            steps:
              - command: /telefon
                expect:
                  - "RING   400 38 800"
                  - "<b>Rådgivningstelefonen</b>"
                  - Åpent mandag-fredag kl. 09.00-16.00
                  - "Du trenger ikke ha en \\"sak\\""
              - press: hva skjer når jeg ringer?
                node: telefon_samtalen
        """,
    )
    assert_passes(form_engine, path)


def test_press_matches_part_of_a_button_when_only_one_has_it(tmp_path: Path, form_engine: Engine) -> None:
    path = write(
        tmp_path,
        """
        conversations:
          - name: Del av knappeteksten
            steps:
              - command: /merket
              - press: Vil dere ha merket?
              - press: meld interesse
                node: skjema_organisation
        """,
    )
    assert_passes(form_engine, path)


def test_the_default_time_is_a_weekday_noon(tmp_path: Path, form_engine: Engine) -> None:
    assert DEFAULT_TIME.weekday() == 2 and DEFAULT_TIME.hour == 12 and DEFAULT_TIME.tzinfo == OSLO
    path = write(tmp_path, "conversations:\n  - name: Nå\n    steps:\n      - command: /telefon\n")
    assert only(path).time == DEFAULT_TIME


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2026-05-17T10:00", dt.datetime(2026, 5, 17, 10, 0, tzinfo=OSLO)),
        ('"2026-05-17 10:00"', dt.datetime(2026, 5, 17, 10, 0, tzinfo=OSLO)),
        ("2026-05-17T08:00+00:00", dt.datetime(2026, 5, 17, 10, 0, tzinfo=OSLO)),
    ],
)
def test_time_is_norwegian_unless_it_says_otherwise(
    tmp_path: Path, written: str, expected: dt.datetime
) -> None:
    path = write(tmp_path, f"time: {written}\nconversations:\n  - name: T\n    steps: [/telefon]\n")
    assert only(path).time == expected


def test_a_conversation_may_set_its_own_time_and_language(tmp_path: Path, form_engine: Engine) -> None:
    path = write(
        tmp_path,
        """
        lang: nb
        time: 2026-03-11T10:00
        conversations:
          - name: Lørdag på engelsk
            lang: en
            time: 2026-03-14T12:00
            steps:
              - command: /telefon
                expect: [closed now and opens again on Monday 16 March at 09:00]
        """,
    )
    assert_passes(form_engine, path)


def test_a_slash_message_is_a_command_and_a_bare_step_is_allowed(tmp_path: Path, form_engine: Engine) -> None:
    path = write(
        tmp_path,
        """
        conversations:
          - name: Kortform
            steps:
              - /start
              - say: /MENY@balansebot
                node: meny
              - command: telefon
                node: telefon
        """,
    )
    conversation = only(path)
    assert [(s.action, s.value) for s in conversation.steps] == [
        ("command", "/start"),
        ("command", "/meny"),
        ("command", "/telefon"),
    ]
    assert_passes(form_engine, path)


def test_numbers_are_read_as_text(tmp_path: Path, form_engine: Engine) -> None:
    path = write(
        tmp_path,
        """
        conversations:
          - name: Tall
            steps:
              - say: jeg er i fare nå han slår meg
                expect: [112, 113]
        """,
    )
    assert [c.text for c in only(path).steps[0].expect] == ["112", "113"]
    assert_passes(form_engine, path)


# ---------------------------------------------------------------------------------------------
# The runner: presses that cannot be made


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            "- command: /start\n- press: Kontakt oss",
            "there is no button “Kontakt oss” on the bot's last reply",
        ),
        ("- press: Personvern", "there is no reply yet to press “Personvern” on"),
        ("- command: /sprak\n- press: Norsk", "“Norsk” could be any of these buttons"),
    ],
)
def test_a_press_that_cannot_be_made_is_refused_at_its_line(
    tmp_path: Path, form_engine: Engine, steps: str, message: str
) -> None:
    body = textwrap.indent(steps, " " * 6)
    path = write(tmp_path, f"conversations:\n  - name: Trykk\n    steps:\n{body}\n")
    failure = failure_of(form_engine, path)
    assert failure.line == line_of(path, "press:")
    assert message in failure.message
    assert "press a button that is on the bot's last reply" in failure.hint


def test_pressing_a_web_page_button_is_refused(
    tmp_path: Path, dialogues_copy: Path, reload: Reload, catalogs: Catalogs
) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    text = om.read_text(encoding="utf-8")
    marker = "      - text: Balansemerket\n"
    assert marker in text
    link = "      - text: Nettsiden\n        url: https://balansekunst.no\n"
    om.write_text(text.replace(marker, link + marker, 1), encoding="utf-8")
    scripts = reload(dialogues_copy).scripts
    assert scripts is not None
    path = write(
        tmp_path,
        "conversations:\n  - name: Lenke\n    steps:\n      - command: /start\n"
        "      - press: Om Balansekunst\n        buttons: [Nettsiden]\n      - press: Nettsiden\n",
    )
    failure = failure_of(Engine(scripts, catalogs, lead_form=True), path)
    assert failure.line == line_of(path, "press: Nettsiden")
    assert "opens a web page" in failure.message


# ---------------------------------------------------------------------------------------------
# Malformed test files: file:line and a fix hint, like `balansebot check`

MALFORMED = [
    pytest.param(
        "conversations:\n  - name: A\n    steps:\n      - say: hei\n     expect: [x]\n",
        "expect: [x]",
        "not indented like the lines it belongs with",
        "as many spaces at the start as its neighbours",
        id="bad-indentation",
    ),
    pytest.param(
        "conversations:\n  - name: A\n    steps:\n      - say: hei\n        expect: [Er det gratis?]\n",
        "Er det gratis?",
        "not valid YAML",
        "put that text in quotes",
        id="question-mark-in-brackets",
    ),
    pytest.param(
        "conversations:\n  - name: A\n    steps:\n      - say: hei\n        exepct: [hei]\n",
        "exepct",
        "unknown key `exepct`",
        "did you mean `expect`?",
        id="unknown-step-key",
    ),
    pytest.param(
        "language: nn\nconversations:\n  - name: A\n    steps: [/start]\n",
        "language:",
        "unknown key `language`",
        "did you mean `lang`?",
        id="misspelt-file-key",
    ),
    pytest.param(
        "conversations:\n  - name: A\n    beskrivelse: Om telefonen\n    steps: [/start]\n",
        "beskrivelse:",
        "unknown key `beskrivelse`",
        "known keys here: name, lang, time, steps",
        id="unknown-conversation-key",
    ),
    pytest.param(
        "conversations:\n  - name: A\n    steps:\n      - expect: [hei]\n",
        "expect: [hei]",
        "exactly one of `say:`, `press:` or `command:`",
        "write what the reader does",
        id="step-without-action",
    ),
    pytest.param(
        "conversations:\n  - name: A\n    steps:\n      - say: hei\n        press: Personvern\n",
        "say: hei",
        "(this one has 2)",
        "put each in its own step",
        id="step-with-two-actions",
    ),
    pytest.param(
        "conversations:\n  - name: A\n    steps:\n      - say:\n",
        "say:",
        "`say:` is empty",
        "what the reader writes",
        id="empty-say",
    ),
    pytest.param(
        "conversations:\n  - name: A\n    steps:\n      - say: hei\n        expect:\n          - ''\n",
        "''",
        "empty or unreadable item",
        "remove the item",
        id="empty-expectation",
    ),
    pytest.param(
        "time: i morgen\nconversations:\n  - name: A\n    steps: [/start]\n",
        "time:",
        "is not a date and time",
        "2026-03-11T10:00",
        id="bad-time",
    ),
    pytest.param(
        "conversations:\n  - name: A\n    steps: [/start]\n  - name: A\n    steps: [/meny]\n",
        "- name: A\n    steps: [/meny]",
        "two conversations are called “A”",
        "the first is on line 2",
        id="duplicate-name",
    ),
    pytest.param(
        "conversations:\n  - name: A\n    steps:\n      - say: hei\n        node: Telefon\n",
        "node: Telefon",
        "is not a node id",
        "node: telefon",
        id="node-id-not-an-id",
    ),
    pytest.param(
        "conversations:\n  - name: A\n",
        "- name: A",
        "no `steps:`",
        "add `steps:`",
        id="no-steps",
    ),
    pytest.param(
        "conversations:\n  - steps: [/start]\n",
        "- steps",
        "no `name:`",
        "add `name:`",
        id="no-name",
    ),
    pytest.param(
        "lang: nb\n", "lang: nb", "should be a list of conversations", "add `conversations:`", id="none"
    ),
    pytest.param(
        "- name: A\n  steps: [/start]\n",
        "- name: A",
        "should start with `conversations:`",
        "write `conversations:`",
        id="list-at-top",
    ),
    pytest.param(
        "conversations:\n  - name: A\n    name: B\n    steps: [/start]\n",
        "name: B",
        "`name` appears twice",
        "keep one of them",
        id="duplicate-key",
    ),
]


@pytest.mark.parametrize(("text", "where", "message", "hint"), MALFORMED)
def test_a_malformed_file_is_refused_with_file_line_and_hint(
    tmp_path: Path, text: str, where: str, message: str, hint: str
) -> None:
    path = write(tmp_path, text)
    problem = problems_of(path)[0]
    assert problem.path == path
    assert message in problem.message
    assert hint in problem.hint
    full = path.read_text(encoding="utf-8")
    assert problem.line == full[: full.index(where)].count("\n") + 1
    assert str(problem).startswith(f"{path}:{problem.line}: error: ")


def test_a_node_that_does_not_exist_is_refused_with_the_likely_id(tmp_path: Path, scripts: Scripts) -> None:
    path = write(
        tmp_path,
        "conversations:\n  - name: A\n    steps:\n      - command: /telefon\n        node: telefonn\n",
    )
    problems = conversation_problems(only(path), scripts)
    assert [(p.line, p.message) for p in problems] == [(5, "there is no node `telefonn`")]
    assert problems[0].hint == "did you mean `telefon`?"


def test_engine_nodes_are_known(tmp_path: Path, scripts: Scripts) -> None:
    path = write(
        tmp_path,
        "conversations:\n  - name: A\n    steps:\n      - command: /sprak\n        node: sprak\n"
        "      - say: x\n        node: skjema_summary\n      - say: y\n        node: skjema_sendt\n",
    )
    assert conversation_problems(only(path), scripts) == []


def test_an_unknown_language_is_refused(tmp_path: Path, scripts: Scripts) -> None:
    path = write(tmp_path, "conversations:\n  - name: A\n    lang: se\n    steps: [/start]\n")
    problems = conversation_problems(only(path), scripts)
    assert [(p.line, p.message, p.hint) for p in problems] == [
        (3, "there is no language `se`", "use one of: en, nb, nn.")
    ]


# ---------------------------------------------------------------------------------------------
# The scripts' loader and `check` leave dialogues/tests/ alone


def test_the_loader_does_not_read_tests_as_a_language(dialogues_copy: Path, reload: Reload) -> None:
    (dialogues_copy / TESTS_FOLDER / "broken.yaml").write_text("this: [is not a script\n", encoding="utf-8")
    result = reload(dialogues_copy)
    assert result.scripts is not None, "\n".join(map(str, result.errors))
    assert TESTS_FOLDER not in result.scripts.languages
    assert not any(TESTS_FOLDER in p.path.parts for p in result.problems)


# ---------------------------------------------------------------------------------------------
# `balansebot test` on the command line


def test_cli_passes_on_the_shipped_tests() -> None:
    result = run_balansebot("test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dialogues/tests/telefon.yaml" in result.stdout
    assert "✓ Stengt på 17. mai (en mandag)" in result.stdout
    assert "✗" not in result.stdout
    assert re.search(r"^OK: alle \d+ samtalene gikk som skrevet\.$", result.stdout, re.MULTILINE), (
        result.stdout
    )


def test_cli_reports_failures_and_mistakes_and_exits_1(tmp_path: Path) -> None:
    failing = write(
        tmp_path,
        "conversations:\n  - name: Riktig\n    steps: [/start]\n"
        "  - name: Feil\n    steps:\n      - command: /telefon\n        expect: [ring 999]\n",
        "failing.yaml",
    )
    malformed = write(
        tmp_path, "conversations:\n  - name: A\n    steps:\n      - sey: hei\n", "malformed.yaml"
    )
    result = run_balansebot("test", str(failing), str(malformed), str(tmp_path / "finnes-ikke.yaml"))
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "✓ Riktig" in out
    assert "✗ Feil" in out
    assert f'{failing}:7: steg 1, command "/telefon"' in out
    assert "ventet at svaret skulle inneholde: «ring 999»" in out
    assert "boten sa (node telefon):" in out and "| Ring 400 38 800" in out
    assert f"{malformed}:4: feil: ukjent nøkkel `sey`" in out
    assert "slik retter du det: mente du `say`?" in out
    assert "finnes-ikke.yaml:1: feil: filen finnes ikke" in out
    assert out.endswith(
        "1 av 2 samtaler gikk annerledes; 2 testfiler har feil. "
        "Rett linjene over og kjør `balansebot test` igjen.\n"
    )


def test_cli_runs_one_conversation_by_its_pytest_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "conversations:\n  - name: Riktig\n    steps: [/start]\n"
        "  - name: Feil\n    steps:\n      - command: /telefon\n        expect: [ring 999]\n",
    )
    assert main(["test", f"{path}::Riktig"]) == 0
    out = capsys.readouterr().out
    assert "✓ Riktig" in out and "Feil" not in out
    assert main(["test", f"{path}::Finnes ikke"]) == 1
    assert "det finnes ingen samtale som heter «Finnes ikke»" in capsys.readouterr().out


def test_cli_uses_the_tests_of_the_dialogues_folder_given(
    dialogues_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tests = dialogues_copy / TESTS_FOLDER
    for path in tests.glob("*.yaml"):
        path.unlink()
    assert main(["test", "--dialogues", str(dialogues_copy)]) == 1
    assert "Fant ingen samtaletester i " in capsys.readouterr().out
    write(tests, "conversations:\n  - name: A\n    steps:\n      - command: /start\n        node: strat\n")
    assert main(["test", "--dialogues", str(dialogues_copy)]) == 1
    out = capsys.readouterr().out
    assert "tests/case.yaml:5: feil: det finnes ingen node `strat`" in out
    assert "mente du `start`?" in out


def test_cli_refuses_broken_scripts(dialogues_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    telefon = dialogues_copy / "nb" / "telefon.yaml"
    telefon.write_text(
        telefon.read_text(encoding="utf-8").replace("goto: telefon_samtalen", "goto: nowhere", 1)
    )
    with pytest.raises(SystemExit) as exited:
        main(["test", "--dialogues", str(dialogues_copy)])
    assert exited.value.code == 1
    assert "det finnes ingen node `nowhere`" in capsys.readouterr().err
