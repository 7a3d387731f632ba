"""Each atheris target fuzzed for a moment in the default run: a crash fails the test and shows its input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.fuzz.run import DEFAULT_TARGETS

# Per target, two at a time: a fixed number of inputs from a fixed seed, so the default run tries the
# same inputs every time (a new random find must not block a landing); the time is only a cap.
SECONDS = 10
RUNS = 1500
SEED = 1


def run_fuzzer(corpus: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    """`python -m tests.fuzz.run` as a developer would run it, with a private corpus."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.run",
            f"--seconds={SECONDS}",
            f"--runs={RUNS}",
            f"--seed={SEED}",
            f"--corpus={corpus}",
            *targets,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_no_target_crashes_within_seconds(tmp_path: Path) -> None:
    # The canary runs alongside to prove a crash would be caught and its input printed.
    done = run_fuzzer(tmp_path, *DEFAULT_TARGETS, "canary")
    report = done.stdout + done.stderr
    failed = [line for line in done.stdout.splitlines() if ": FAILED" in line]
    assert failed == [line for line in failed if line.startswith("canary")], report
    for target in DEFAULT_TARGETS:
        assert f"{target}: ok" in done.stdout, report
    assert done.returncode == 1, "the canary's crash was not reported:\n" + report
    assert "canary: FAILED" in done.stdout
    assert "crashing input (6 bytes" in done.stdout and "b'canary'" in done.stdout, report
    assert list((tmp_path / "crashes").glob("canary-crash-*")), "the crashing input was not saved"


def test_a_saved_input_can_be_replayed(tmp_path: Path) -> None:
    saved = tmp_path / "input"
    saved.write_bytes(b'{"update_id": 1, "message": {"date": 100000000000000000000}}')
    done = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.run", "webhook_body", f"--reproduce={saved}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passes now" in done.stdout
