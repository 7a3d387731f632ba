"""Run the atheris fuzz targets: `uv run python -m tests.fuzz.run [--seconds N] [target ...]`.

Each target runs in its own process (libFuzzer never returns), two at a time. The corpus grows
in .fuzz-corpus/<target>/ so later runs start where earlier ones stopped; crashing inputs are
saved in .fuzz-corpus/crashes/ and printed. Exit status 1 when any target found a crash.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS = ROOT / ".fuzz-corpus"
DEFAULT_TARGETS = (
    "webhook_body",
    "webhook_json",
    "engine_event",
    "router_text",
    "callback_data",
    "yaml_file",
)
ALL_TARGETS = (*DEFAULT_TARGETS, "canary")  # the canary crashes on purpose: it proves crashes are caught
SHOWN_BYTES = 2000  # of a crashing input; the whole input is in the crash file


@dataclass(frozen=True)
class Result:
    """How one target's run ended."""

    target: str
    returncode: int
    output: str
    crashes: tuple[Path, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        """No crash, no timeout, no out-of-memory."""
        return self.returncode == 0 and not self.crashes


def main(argv: list[str] | None = None) -> int:
    """Fuzz the chosen targets (all by default) and report."""
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__)
    parser.add_argument("targets", nargs="*", metavar="target", help=f"default: {' '.join(DEFAULT_TARGETS)}")
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time per target (default 60)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="where corpora and crashes go")
    parser.add_argument("--jobs", type=int, default=2, help="targets fuzzed at once (default 2)")
    parser.add_argument("--max-len", type=int, default=20_000, help="largest input tried, in bytes")
    parser.add_argument("--runs", type=int, default=-1, help="stop after this many inputs (default: none)")
    parser.add_argument("--seed", type=int, default=0, help="libFuzzer's random seed (default 0: a new one)")
    parser.add_argument("--reproduce", type=Path, metavar="FILE", help="run one saved input (needs 1 target)")
    parser.add_argument("--child", choices=ALL_TARGETS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.targets) - set(ALL_TARGETS))
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(ALL_TARGETS)}")
    if args.reproduce:
        if len(args.targets) != 1:
            parser.error("--reproduce needs exactly one target")
        return _reproduce(args.targets[0], args.reproduce)
    if args.child:
        limits = Limits(args.seconds, args.max_len, args.runs, args.seed)
        return _fuzz_in_this_process(args.child, limits, args.corpus)
    targets = args.targets or list(DEFAULT_TARGETS)
    with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        limits = Limits(args.seconds, args.max_len, args.runs, args.seed)
        results = list(pool.map(lambda t: _fuzz_in_child(t, limits, args.corpus), targets))
    for result in results:
        print(_report(result))
    return 0 if all(r.ok for r in results) else 1


@dataclass(frozen=True)
class Limits:
    """How long and how wide one target is fuzzed; a fixed seed and run count make it repeatable."""

    seconds: int
    max_len: int
    runs: int = -1
    seed: int = 0


def _fuzz_in_child(target: str, limits: Limits, corpus: Path) -> Result:
    crashes = corpus / "crashes"
    crashes.mkdir(parents=True, exist_ok=True)
    before = set(crashes.glob(f"{target}-*"))
    command = [
        sys.executable,
        "-m",
        "tests.fuzz.run",
        f"--child={target}",
        f"--seconds={limits.seconds}",
        f"--corpus={corpus}",
        f"--max-len={limits.max_len}",
        f"--runs={limits.runs}",
        f"--seed={limits.seed}",
    ]
    # libFuzzer stops itself after `seconds`; the margin covers start-up and a last slow input.
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=limits.seconds + 120, check=False
    )
    found = tuple(sorted(set(crashes.glob(f"{target}-*")) - before))
    return Result(target, done.returncode, done.stdout + done.stderr, found, time.monotonic() - started)


def _fuzz_in_this_process(target: str, limits: Limits, corpus: Path) -> int:
    import atheris

    # Only our code is instrumented: coverage of the libraries would drown its signal.
    with atheris.instrument_imports(include=["bot"]):
        from tests.fuzz import targets

    folder = corpus / target
    folder.mkdir(parents=True, exist_ok=True)
    (corpus / "crashes").mkdir(exist_ok=True)
    for index, seed in enumerate(targets.seeds(target)):
        (folder / f"seed-{index}").write_bytes(seed)
    libfuzzer_args = [
        sys.argv[0],
        str(folder),
        f"-max_total_time={limits.seconds}",
        f"-runs={limits.runs}",
        f"-seed={limits.seed}",
        "-timeout=10",  # an input that takes this long is a hang: reported like a crash
        "-rss_limit_mb=4096",
        f"-max_len={limits.max_len}",
        f"-artifact_prefix={corpus / 'crashes'}/{target}-",
        "-print_final_stats=1",
    ]
    targets.warm_up(target)  # libFuzzer's clock starts at Setup: load the scripts before it
    atheris.Setup(libfuzzer_args, targets.TARGETS[target])
    atheris.Fuzz()  # exits the process itself, with 0 after max_total_time or non-zero on a crash
    return 0


def _reproduce(target: str, saved: Path) -> int:
    """Run one input without the fuzzer: a plain traceback, ready for a debugger."""
    from tests.fuzz import targets

    targets.TARGETS[target](saved.read_bytes())
    print(f"{target}: {saved} passes now")
    return 0


def _report(result: Result) -> str:
    if result.ok:
        runs = [line for line in result.output.splitlines() if "stat::number_of_executed_units" in line]
        executed = runs[-1].split(":")[-1].strip() if runs else "?"
        return f"{result.target}: ok ({executed} inputs, {result.seconds:.0f} s)"
    heading = f"{result.target}: FAILED (exit {result.returncode}, {result.seconds:.0f} s)"
    lines = [heading, _tail(result.output)]
    for crash in result.crashes:
        data = crash.read_bytes()
        shown = repr(data[:SHOWN_BYTES]) + (" …" if len(data) > SHOWN_BYTES else "")
        lines.append(f"  crashing input ({len(data)} bytes, saved in {crash}):\n  {shown}")
        lines.append(f"  reproduce: uv run python -m tests.fuzz.run {result.target} --reproduce {crash}")
    return "\n".join(lines)


def _tail(output: str, lines: int = 60) -> str:
    return "\n".join("  | " + line for line in output.splitlines()[-lines:])


if __name__ == "__main__":
    sys.exit(main())
