"""The last good version of the scripts is kept beside the data and served while the folder is broken."""

from __future__ import annotations

from pathlib import Path

from bot.content.kept_versions import LATEST_FILE, KeptVersions
from bot.content.loader import LoadResult, load_scripts
from bot.engine.engine import Engine
from bot.i18n import Catalogs
from bot.live_scripts import LiveScripts, start_live


def break_script(dialogues: Path) -> None:
    """A save staff might make: an HTML tag Telegram refuses."""
    script = dialogues / "nb" / "om.yaml"
    script.write_text(script.read_text(encoding="utf-8").replace("en forening av", "en<br> forening av", 1))


def test_broken_folder_serves_the_kept_version_and_without_one_is_refused(
    dialogues_copy: Path, catalogs: Catalogs, tmp_path: Path
) -> None:
    kept = KeptVersions(tmp_path / "kept")
    make = lambda scripts: Engine(scripts, catalogs)  # noqa: E731 - the engine factory serve passes
    break_script(dialogues_copy)
    never_good = start_live(dialogues_copy, catalogs, kept, make)
    assert isinstance(never_good, LoadResult), "no good version ever: refuse to start, as before"
    assert not (tmp_path / "kept").exists()

    (dialogues_copy / "nb" / "om.yaml").write_text(
        (dialogues_copy / "nb" / "om.yaml").read_text(encoding="utf-8").replace("<br>", "")
    )
    good = start_live(dialogues_copy, catalogs, kept, make)
    assert isinstance(good, LiveScripts) and good.refused is None
    assert (tmp_path / "kept" / LATEST_FILE).read_text().strip() == good.version

    break_script(dialogues_copy)
    fallback = start_live(dialogues_copy, catalogs, kept, make)
    assert isinstance(fallback, LiveScripts)
    assert fallback.version == good.version
    assert fallback.refused is not None
    assert [f"{p.path}:{p.line}" for p in fallback.refused.problems] == ["dialogues/nb/om.yaml:9"]


def test_a_save_between_loading_and_keeping_keeps_nothing_half(
    dialogues_copy: Path, catalogs: Catalogs, tmp_path: Path
) -> None:
    scripts = load_scripts(dialogues_copy, catalogs).scripts
    assert scripts is not None
    break_script(dialogues_copy)  # saved after the load: these files are not that version
    kept = KeptVersions(tmp_path / "kept")
    kept.keep(scripts, dialogues_copy)
    assert kept.latest() is None
    assert [p.name for p in (tmp_path / "kept").iterdir()] == []
