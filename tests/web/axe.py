"""axe-core, the accessibility checker, from the npm registry: one pinned version, its integrity checked."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

AXE_VERSION = "4.14.1"
# npm's dist.integrity of axe-core 4.14.1 (`npm view axe-core@4.14.1 dist.integrity`).
AXE_INTEGRITY = (
    "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
)
CACHE = Path.home() / ".cache" / "balansebot" / f"axe-core-{AXE_VERSION}.min.js"
# WCAG 2.1 A and AA, the level the web chat promises.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_source() -> str | None:
    """axe.min.js (fetched with `npm pack` once, then from the cache); None when npm is not installed."""
    if CACHE.exists():
        return CACHE.read_text(encoding="utf-8")
    npm = shutil.which("npm")
    if npm is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [npm, "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", folder, "--silent"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        package = next(Path(folder).glob("axe-core-*.tgz"))
        digest = base64.b64encode(hashlib.sha512(package.read_bytes()).digest()).decode()
        if f"sha512-{digest}" != AXE_INTEGRITY:
            raise AssertionError(f"axe-core {AXE_VERSION} from npm does not match its pinned integrity")
        with tarfile.open(package) as archive:
            member = archive.extractfile("package/axe.min.js")
            assert member is not None
            source = member.read().decode("utf-8")
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_text(source, encoding="utf-8")
    return source
