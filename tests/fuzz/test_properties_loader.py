"""The script loader never raises: whatever a file holds, it loads or names problems with file:line."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.content.loader import LoadResult, load_scripts
from bot.content.problems import Problem
from bot.content.yaml_source import YamlDocument, read_yaml
from bot.i18n import Catalogs
from tests.conftest import DIALOGUES
from tests.fuzz import strategies

SCRIPT_FILES = tuple(sorted(p.relative_to(DIALOGUES).as_posix() for p in DIALOGUES.rglob("*.yaml")))
# Snippets that break YAML, the schema or the checks in different ways.
YAML_BITS = (
    ":",
    ": ",
    "- ",
    "\t",
    "  ",
    "\n",
    "'",
    '"',
    "|",
    ">",
    "&a ",
    "*a",
    "*nope",
    "!!python/object:os.system ",
    "!!binary ",
    "!!set ",
    "? ",
    "{",
    "}",
    "[",
    "]",
    "#",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "\x00",
    "\x07",
    "\ufeff",
    "\u202e",
    "\ud7ff",
    "<b>",
    "<br>",
    "&",
    "{hotline.phone}",
    "{nope.fact}",
    "{",
    "goto: meny",
    "goto: nowhere",
    "id: meny",
    "url: tel:1",
    "command: start",
    "text: ",
    "nodes:",
    "topic: x",
    "yes",
    "no",
    "16:00",
    "~",
    "9" * 5000,
)
SLOW = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST = settings(max_examples=150, deadline=None)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of dialogues/ for the whole module; each example changes one file and puts it back."""
    target = tmp_path_factory.mktemp("fuzz") / "dialogues"
    shutil.copytree(DIALOGUES, target)
    return target


@contextmanager
def replaced(folder: Path, name: str, content: bytes) -> Iterator[Path]:
    """The file `name` in `folder` holding `content` for the duration, then as it was."""
    path = folder / name
    original = path.read_bytes()
    path.write_bytes(content)
    try:
        yield path
    finally:
        path.write_bytes(original)


def assert_located(problem: Problem, base: Path) -> None:
    """A problem names a real file (or folder) under `base` and a line inside it."""
    where = base / problem.path
    assert where.exists(), problem
    assert problem.message and problem.hint, problem
    # Lines as an editor (and the loader, reading in text mode) counts them: a lone \r ends one too.
    lines = where.read_text(encoding="utf-8", errors="replace").count("\n") + 1 if where.is_file() else 1
    assert 1 <= problem.line <= lines, f"{problem} (the file has {lines} lines)"


def assert_loads_or_explains(result: LoadResult, folder: Path) -> None:
    """Either scripts to serve, or at least one error; every problem located."""
    assert (result.scripts is None) == bool(result.errors)
    for problem in result.problems:
        assert_located(problem, folder.parent)


@st.composite
def edited(draw: st.DrawFn, original: str) -> str:
    """`original` with a few snippets inserted, lines deleted or duplicated."""
    text = original
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(text)))
        match draw(st.sampled_from(("insert", "delete", "duplicate"))):
            case "insert":
                text = text[:where] + draw(st.sampled_from(YAML_BITS) | st.text(max_size=8)) + text[where:]
            case "delete":
                text = text[:where] + text[where + draw(st.integers(1, 80)) :]
            case "duplicate":
                line_start = text.rfind("\n", 0, where) + 1
                line_end = text.find("\n", where)
                line = text[line_start : line_end if line_end >= 0 else len(text)]
                text = text[:line_start] + line + "\n" + text[line_start:]
    return text


def content_for(name: str) -> st.SearchStrategy[bytes]:
    """What a broken `name` could hold: an edit of it, random YAML, random text or bytes."""
    original = (DIALOGUES / name).read_text(encoding="utf-8")
    return st.one_of(
        edited(original).map(lambda t: t.encode("utf-8", "surrogatepass")),
        strategies.json_values(max_leaves=15).map(_as_yaml),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=300),
    )


def _as_yaml(value: Any) -> bytes:
    return yaml.safe_dump(value, allow_unicode=True).encode("utf-8", "surrogatepass")


@st.composite
def broken_file(draw: st.DrawFn) -> tuple[str, bytes]:
    """One of the shipped files and what it is replaced with."""
    name = draw(st.sampled_from(SCRIPT_FILES))
    return name, draw(content_for(name))


@SLOW
@given(change=broken_file())
def test_a_broken_file_loads_or_gives_located_problems(
    folder: Path, catalogs: Catalogs, change: tuple[str, bytes]
) -> None:
    name, content = change
    with replaced(folder, name, content):
        result = load_scripts(folder, catalogs)
    assert_loads_or_explains(result, folder)


@FAST
@given(content=st.one_of(st.binary(max_size=500), *(content_for(n) for n in ("nb/start.yaml", "facts.yaml"))))
@example(content=b"\r\x00")  # found in CI: a lone CR is a line break to the loader (text mode)
def test_read_yaml_gives_a_document_or_one_located_problem(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.getbasetemp() / "one.yaml"
    path.write_bytes(content)
    result = read_yaml(path)
    if isinstance(result, Problem):
        assert_located(result, Path("/"))
    else:
        assert isinstance(result, YamlDocument)
        assert all(located.line >= 1 for located in result.lines.values())


@pytest.mark.parametrize(
    ("content", "line", "says"),
    [
        ("topic: x\nnodes: []\ntitle: a\x00b\n", 3, "control character U+0000"),
        ("topic: x\n\x07\n", 2, "control character U+0007"),
        ("[" * 5_000 + "]" * 5_000, 1, "nested too deeply"),
        ("&a [*a]\n", 1, "refers to itself"),
        ("topic: x\nnodes:\n  - !!python/object:os.system x\n", 3, "python/object"),
        ("topic: !!python/name:os.system x\nnodes: []\n", 1, "python/name"),
    ],
    ids=["nul", "bell", "deep-nesting", "self-alias", "python-tag-in-list", "python-tag"],
)
def test_yaml_the_reader_refuses_becomes_a_problem(
    dialogues_copy: Path, catalogs: Catalogs, content: str, line: int, says: str
) -> None:
    # Regression: these raised ReaderError, RecursionError or ConstructorError out of load_scripts,
    # so `balansebot check` crashed with a traceback instead of naming the file and line.
    (dialogues_copy / "nb" / "om.yaml").write_text(content, encoding="utf-8")
    result = load_scripts(dialogues_copy, catalogs)
    assert result.scripts is None
    (problem,) = [p for p in result.errors if p.path.as_posix() == "dialogues/nb/om.yaml"]
    assert problem.line == line
    assert says in problem.message
    assert_loads_or_explains(result, dialogues_copy)


def test_a_control_character_in_facts_is_a_problem_too(dialogues_copy: Path, catalogs: Catalogs) -> None:
    facts = dialogues_copy / "facts.yaml"
    facts.write_text(facts.read_text(encoding="utf-8") + "extra: \x1b[31m\n", encoding="utf-8")
    result = load_scripts(dialogues_copy, catalogs)
    assert result.scripts is None
    assert any("U+001B" in p.message and p.path.name == "facts.yaml" for p in result.errors)
