"""Shared fixtures: the shipped scripts, an engine on them, and editable copies of dialogues/."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from bot.content.languages import LANGUAGES_FILE, Language, LanguageList, read_languages
from bot.content.loader import LoadResult, load_scripts
from bot.content.scripts import Scripts
from bot.engine.engine import Engine
from bot.i18n import Catalogs
from tests.databases import drop_serve_databases

# Property tests are repeatable in the default run (the same examples each time, so a landing is
# never blocked by a new random find); HYPOTHESIS_PROFILE=explore draws new ones, as the fuzzers do.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# PTB 22 warns on every RetryAfter unless told to use timedelta values (as the bot itself does).
os.environ.setdefault("PTB_TIMEDELTA", "true")

ROOT = Path(__file__).resolve().parent.parent
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="needs Graphviz's `dot`: run scripts/install-system-packages (or apt-get install graphviz)",
)
DIALOGUES = ROOT / "dialogues"
LOCALES = ROOT / "locales"


@functools.cache
def shipped_languages() -> LanguageList:
    """The shipped dialogues/languages.yaml, as the loader reads it."""
    read = read_languages(DIALOGUES / LANGUAGES_FILE, DIALOGUES / LANGUAGES_FILE)
    assert isinstance(read, LanguageList), read
    return read


def shipped(lang: str) -> Language:
    """How the shipped languages.yaml says `lang` writes dates, times and numbers."""
    return shipped_languages().get(lang)


@pytest.fixture(autouse=True)
def _drop_serve_databases() -> Iterator[None]:
    """PostgreSQL databases made for a served bot live as long as their test."""
    yield
    drop_serve_databases()


@pytest.fixture(autouse=True)
def _staff_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """The staff tools speak their default (Bokmål) whatever the locale of the machine running the tests.

    A test that wants English says so (LANG=en_… or `--lang en`).
    """
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


@pytest.fixture(scope="session")
def catalogs() -> Catalogs:
    """The compiled gettext catalogues from locales/."""
    return Catalogs.load(LOCALES)


@pytest.fixture(scope="session")
def scripts(catalogs: Catalogs) -> Scripts:
    """The shipped dialogue scripts, which must load without errors."""
    result = load_scripts(DIALOGUES, catalogs)
    assert result.scripts is not None, "\n".join(map(str, result.errors))
    return result.scripts


@pytest.fixture(scope="session")
def engine(scripts: Scripts, catalogs: Catalogs) -> Engine:
    """An engine serving the shipped scripts."""
    return Engine(scripts, catalogs)


@pytest.fixture
def dialogues_copy(tmp_path: Path) -> Path:
    """A private copy of dialogues/ that a test may break or change."""
    target = tmp_path / "dialogues"
    shutil.copytree(DIALOGUES, target)
    return target


Reload = Callable[[Path], LoadResult]


@pytest.fixture
def reload(catalogs: Catalogs) -> Reload:
    """Load a dialogues folder the way the bot does."""
    return lambda folder: load_scripts(folder, catalogs)


def run_balansebot(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, typed: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `balansebot ARGS` as its own process (as `uv run balansebot` would) and capture it.

    Unless the test says otherwise, the process keeps its versions of the scripts in a new empty
    folder: as on a clean clone, and never in the checkout, where a later run would find them."""
    given = env if env is not None else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    kept = {"KEPT_SCRIPTS_DIR": tempfile.mkdtemp(prefix="kept-scripts-")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=kept | given,
        input=typed,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
