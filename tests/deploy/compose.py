"""Read compose.yaml and fill in its ${VARIABLES} as Docker Compose does, without Docker."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

COMPOSE_FILE = ROOT / "compose.yaml"
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, $NAME, and $$ for a $.
REFERENCE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


class MissingVariableError(ValueError):
    """A ${NAME:?message} whose variable is unset or empty: compose refuses to start."""


def load(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file as YAML, before interpolation."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """`value` with its references filled from `variables`; MissingVariableError for a required one."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        operator, argument = match.group(2), match.group(3) or ""
        present = name in variables and (variables[name] != "" or operator not in (":-", ":?"))
        if present:
            return variables[name]
        if operator in (":?", "?"):
            raise MissingVariableError(f"required variable {name} is missing a value: {argument}")
        return argument if operator in (":-", "-") else ""

    return REFERENCE.sub(replace, value)


def environment(service: Mapping[str, Any], variables: Mapping[str, str]) -> dict[str, str]:
    """A service's `environment:` (a mapping in our file), interpolated."""
    raw = service.get("environment", {})
    assert isinstance(raw, dict), "environment: is written as a mapping"
    return {str(key): interpolate(str(value), variables) for key, value in raw.items()}
