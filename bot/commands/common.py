"""What several subcommands need: loading the scripts the way the bot would."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from bot.content.kept_versions import KeptVersions
from bot.content.loader import LoadResult, load_scripts
from bot.content.scripts import Scripts
from bot.engine.engine import Engine
from bot.engine.form_dialogue import LeadChannels
from bot.engine.lead_form import LeadFormEngine
from bot.i18n import Catalogs
from bot.live_scripts import LiveScripts, start_live
from bot.settings import ContentSettings
from bot.staff_words import say_n


def content_paths(dialogues: Path | None) -> tuple[Path, Path]:
    """The dialogues and locales folders: the command line wins over the environment."""
    settings = ContentSettings()
    return (dialogues or settings.dialogues_dir), settings.locales_dir


def load(dialogues: Path | None) -> tuple[LoadResult, Catalogs]:
    """Load the scripts and the catalogues."""
    dialogues_dir, locales_dir = content_paths(dialogues)
    catalogs = Catalogs.load(locales_dir)
    return load_scripts(dialogues_dir, catalogs), catalogs


def engine_or_exit(
    dialogues: Path | None, *, lead_form: bool = False, channels: LeadChannels | None = None
) -> Engine:
    """An engine on the scripts, or exit with the problems when they are broken.

    With `channels` (as `serve` runs it) the form is offered when one is set up, and its thank-you
    names them.
    """
    result, catalogs = load(dialogues)
    if result.scripts is None:
        exit_with_errors(result)
    return engine_maker(catalogs, lead_form=lead_form, channels=channels)(result.scripts)


def engine_maker(
    catalogs: Catalogs, *, lead_form: bool = False, channels: LeadChannels | None = None
) -> Callable[[Scripts], Engine]:
    """How an engine is made on a version of the scripts (see `engine_or_exit`)."""
    if channels is not None:
        return lambda scripts: LeadFormEngine(scripts, catalogs, channels=channels)
    return lambda scripts: Engine(scripts, catalogs, lead_form=lead_form)


def live_or_exit(
    dialogues_dir: Path, catalogs: Catalogs, kept: Path, make_engine: Callable[[Scripts], Engine]
) -> LiveScripts:
    """The live scripts (the last good version while the folder is broken), or exit if none was ever good."""
    live = start_live(dialogues_dir, catalogs, KeptVersions(kept), make_engine)
    if isinstance(live, LoadResult):
        exit_with_errors(live)
    return live


def exit_with_errors(result: LoadResult) -> NoReturn:
    """Print the errors and exit 1."""
    for problem in result.errors:
        print(problem, file=sys.stderr)
    print(
        "\n"
        + say_n(
            "The scripts have {count} error; run `balansebot check` after fixing it.",
            "The scripts have {count} errors; run `balansebot check` after fixing them.",
            len(result.errors),
        ),
        file=sys.stderr,
    )
    raise SystemExit(1)
