"""What several subcommands need: loading the scripts the way the bot would."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.content.loader import LoadResult, load_scripts
from bot.engine.engine import Engine
from bot.engine.form_dialogue import LeadChannels
from bot.engine.lead_form import LeadFormEngine
from bot.i18n import Catalogs
from bot.settings import ContentSettings


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
        for problem in result.errors:
            print(problem, file=sys.stderr)
        print(
            f"\nThe scripts have {len(result.errors)} error(s); run `balansebot check` after fixing them.",
            file=sys.stderr,
        )
        raise SystemExit(1)
    if channels is not None:
        return LeadFormEngine(result.scripts, catalogs, channels=channels)
    return Engine(result.scripts, catalogs, lead_form=lead_form)
