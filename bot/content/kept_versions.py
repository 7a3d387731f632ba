"""Every version of the scripts that passed `check` and went live, kept as files beside the data.

A restart on a broken dialogues folder (one bad save, then a reboot) then serves the last good
version instead of refusing to start. Each version is a folder named by its version id holding
the files it was loaded from; `LATEST` names the newest. Writes are atomic (a temporary folder
renamed into place), so replicas sharing the folder and a crash halfway leave no half version.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from bot.content.loader import script_version
from bot.content.scripts import Scripts

log = logging.getLogger(__name__)
LATEST_FILE = "LATEST"
DIALOGUES = "dialogues"  # a version's files sit under <version>/dialogues/, shown as dialogues/… in problems


class KeptVersions:
    """The folder of kept versions: `keep` one after it goes live, `latest` to fall back on."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def keep(self, scripts: Scripts, dialogues_dir: Path) -> None:
        """Copy the files `scripts` came from, unless that version is kept already; never raises."""
        try:
            self._keep(scripts, dialogues_dir)
        except OSError as error:  # a full or read-only disk must not stop the bot serving
            log.warning("could not keep scripts version %s in %s: %s", scripts.version, self.folder, error)

    def latest(self) -> Path | None:
        """The dialogues folder of the newest kept version, if any."""
        try:
            version = (self.folder / LATEST_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        found = self.folder / version / DIALOGUES
        return found if version and found.is_dir() else None

    def _keep(self, scripts: Scripts, dialogues_dir: Path) -> None:
        target = self.folder / scripts.version
        if not target.is_dir():
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=self.folder))
            copies = []
            for source in scripts.files:
                copy = staging / DIALOGUES / source.relative_to(dialogues_dir)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, copy)
                copies.append(copy)
            if script_version(copies) != scripts.version:
                # A save landed between loading and copying: that one is kept when it goes live.
                shutil.rmtree(staging)
                return
            try:
                staging.rename(target)
            except OSError:
                shutil.rmtree(staging)  # another replica kept the same version first
                if not target.is_dir():
                    raise
        self._point_at(scripts.version)

    def _point_at(self, version: str) -> None:
        pointer = self.folder / f".{LATEST_FILE}.{os.getpid()}"
        pointer.write_text(version + "\n", encoding="utf-8")
        pointer.replace(self.folder / LATEST_FILE)
