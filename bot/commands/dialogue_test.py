"""`balansebot test`: play staff's conversation tests (dialogues/tests/*.yaml) through the engine."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.commands.common import content_paths, engine_or_exit
from bot.content.problems import Problem
from bot.staff.dialogue_tests.conversation import TESTS_FOLDER
from bot.staff.dialogue_tests.reading import find_test_files, read_conversations
from bot.staff.dialogue_tests.running import check_and_run
from bot.staff_words import say, say_n

SELECT = "::"  # `file.yaml::name` runs one conversation, as pytest names it


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = sub.add_parser("test", help=say("run the conversation tests in dialogues/tests/"))
    parser.add_argument("--dialogues", type=Path, help=say("the dialogues folder (default: ./dialogues)"))
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help=say("test files or folders (default: dialogues/tests/); FILE::NAME runs one conversation"),
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print ✓/✗ per conversation, and file:line with what went wrong; exit 1 on any failure."""
    engine = engine_or_exit(args.dialogues, lead_form=True)
    dialogues_dir, _ = content_paths(args.dialogues)
    targets = _targets(args.files, dialogues_dir)
    if not targets:
        print(
            say(
                "No conversation tests found in {folder}. Nothing was tested.",
                folder=dialogues_dir / TESTS_FOLDER,
            )
        )
        return 1
    passed = failed = broken = 0
    for path, shown, name in targets:
        print(shown)
        if not path.is_file():
            print(Problem(shown, 1, say("there is no such file"), say("check the file name and folder.")))
            broken += 1
            continue
        conversations = read_conversations(path, shown)
        problems = [c for c in conversations if isinstance(c, Problem)]
        if problems:
            _print_problems(problems)
            broken += 1
            continue
        chosen = [c for c in conversations if not isinstance(c, Problem) and name in (None, c.name)]
        if not chosen:
            print(
                Problem(
                    shown,
                    1,
                    say("there is no conversation called “{name}”", name=name),
                    say("check the name after ::."),
                )
            )
            broken += 1
        for conversation in chosen:
            outcome = check_and_run(engine, conversation)
            if isinstance(outcome, list):
                print(f"  ✗ {conversation.name}")
                _print_problems(outcome)
                failed += 1
                continue
            print(outcome)
            passed += outcome.passed
            failed += not outcome.passed
    print()
    return _summary(passed, failed, broken)


def _summary(passed: int, failed: int, broken: int) -> int:
    """Print the totals; the exit code is 1 when anything failed or could not be read."""
    total = passed + failed
    if not (failed or broken):
        print(say_n("OK: the {count} conversation passed.", "OK: all {count} conversations passed.", total))
        return 0
    parts = (
        [
            say_n(
                "{failed} of {count} conversation failed",
                "{failed} of {count} conversations failed",
                total,
                failed=failed,
            )
        ]
        if failed
        else [say_n("{count} passed", "{count} passed", passed)]
    )
    if broken:
        parts.append(say_n("{count} test file has mistakes", "{count} test files have mistakes", broken))
    print("; ".join(parts) + say(". Fix the lines above and run `balansebot test` again."))
    return 1


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        print("    " + str(problem).replace("\n", "\n    "))


def _targets(files: list[str], dialogues_dir: Path) -> list[tuple[Path, Path, str | None]]:
    """(file, how to show it, the one conversation to run or None) for each file to run."""
    if not files:
        base = dialogues_dir.parent
        return [(p, _relative(p, base), None) for p in find_test_files(dialogues_dir / TESTS_FOLDER)]
    targets: list[tuple[Path, Path, str | None]] = []
    for given in files:
        file_part, _, name = given.partition(SELECT)
        path = Path(file_part)
        if path.is_dir():
            targets.extend((p, p, None) for p in find_test_files(path))
        else:
            targets.append((path, path, name or None))
    return targets


def _relative(path: Path, base: Path) -> Path:
    try:
        return path.relative_to(base)
    except ValueError:
        return path
