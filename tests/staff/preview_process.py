"""`balansebot preview` as its own process, and Debian's Chromium, for the preview's browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="the browser test needs Debian's chromium at /usr/bin/chromium"
)


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_preview(dialogues: Path, scratch: Path, **environment: str) -> Iterator[str]:
    """`balansebot preview` on `dialogues` until the block ends; yields its URL.

    With no LANG in `environment` it speaks Bokmål, as on a machine set to anything but English.
    It must stop cleanly (exit 0, no traceback) when the block ends.
    """
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": f"sqlite:///{scratch / 'no.db'}",
        **environment,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "preview", "--port", str(port), "--dialogues", str(dialogues)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"the preview exited at start: {process.communicate()[1]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the preview did not answer within 60 s")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
