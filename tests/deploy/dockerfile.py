"""Read the project's Dockerfile the way Docker does, so tests can check and run what it says."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"
VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Instruction:
    """One instruction, continuation lines joined."""

    keyword: str
    arguments: str
    line: int


@dataclass
class Stage:
    """A FROM and the instructions up to the next one."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        """Every instruction with this keyword, in order."""
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        """The instruction with this keyword that takes effect (the last one)."""
        found = self.all(keyword)
        assert found, f"the stage FROM {self.base} has no {keyword}"
        return found[-1]

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with every ENV of the stage applied in order, $VARs expanded as Docker does."""
        env = dict(base)
        for instruction in self.all("ENV"):
            env.update(env_pairs(instruction.arguments, env))
        return env


def parse(path: Path = DOCKERFILE) -> list[Stage]:
    """The stages of a Dockerfile (comments dropped, `\\` continuations joined)."""
    stages: list[Stage] = []
    pending = ""
    start = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue  # Docker skips comment lines, even inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        pending = ""
        instruction = Instruction(keyword.upper(), arguments.strip(), start)
        if instruction.keyword == "FROM":
            words = instruction.arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        else:
            assert stages, f"{path.name}:{number}: an instruction before the first FROM"
            stages[-1].instructions.append(instruction)
    return stages


def final_stage(path: Path = DOCKERFILE) -> Stage:
    """The stage that becomes the image."""
    return parse(path)[-1]


def exec_form(arguments: str) -> list[str]:
    """A JSON-array argument (exec form); shell form is refused, as it would not get signals."""
    value = json.loads(arguments)
    assert isinstance(value, list), f"not exec form: {arguments}"
    assert all(isinstance(item, str) for item in value), f"not a list of strings: {arguments}"
    return [str(item) for item in value]


def env_pairs(arguments: str, env: Mapping[str, str]) -> dict[str, str]:
    """The KEY=value pairs of one ENV instruction, expanded against `env`."""
    pairs: dict[str, str] = {}
    for word in shlex.split(arguments):
        key, equals, value = word.partition("=")
        assert equals, f"ENV must use KEY=value: {word}"
        pairs[key] = expand(value, env)
    return pairs


def expand(value: str, env: Mapping[str, str]) -> str:
    """$NAME and ${NAME} replaced from `env` (unset is empty, as in Docker)."""
    return VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)


def healthcheck_of(stage: Stage) -> tuple[dict[str, str], list[str]]:
    """The HEALTHCHECK's --options and its command (exec form)."""
    arguments = stage.last("HEALTHCHECK").arguments
    options_text, separator, command = arguments.partition("CMD ")
    assert separator, f"HEALTHCHECK without CMD: {arguments}"
    options = dict(option.removeprefix("--").split("=", 1) for option in options_text.split())
    return options, exec_form(command)


def seconds(duration: str) -> float:
    """A Docker/compose duration such as `30s`, `1m30s` or `500ms` in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a duration: {duration}"
    return sum(float(number) * units[unit] for number, unit in parts)


def localize(value: str, mapping: Mapping[str, Path]) -> str:
    """Container paths in `value` (a path, a PATH list, a database URL) replaced by local ones."""
    names = sorted(mapping, key=len, reverse=True)  # /app/.venv before /app
    pattern = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(n) for n in names) + r")(?=$|[/:])")
    return pattern.sub(lambda m: str(mapping[m.group(1)]), value)
