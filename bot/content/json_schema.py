"""A JSON Schema of the dialogue files, made from the pydantic models, for editors that check YAML.

VS Code (with Red Hat's YAML extension) then marks an unknown key, a missing `goto:` or a wrong
type while staff type; `balansebot check` remains the judge. `tests/content/test_json_schema.py`
fails when the models and the committed file differ; run `python -m bot.content.json_schema` then.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bot.content.models import AcuteFile, ScriptFile, WordsFile

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "dialogues.schema.json"


def dialogue_schema() -> dict[str, Any]:
    """One schema for every file in dialogues/<lang>/: a script, acute.yaml or words.yaml."""
    files: list[type[BaseModel]] = [ScriptFile, AcuteFile, WordsFile]
    models: list[tuple[type[BaseModel], Literal["validation"]]] = [(model, "validation") for model in files]
    refs, definitions = models_json_schema(models, ref_template="#/$defs/{model}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Balansebot dialogue file",
        "description": "A file in dialogues/<lang>/: a topic with its nodes, acute.yaml or words.yaml. "
        "Generated from bot/content/models.py by `python -m bot.content.json_schema`; do not edit.",
        "anyOf": [refs[model] for model in models],
        **definitions,
    }


def schema_text() -> str:
    """The schema as it is written to SCHEMA_FILE."""
    return json.dumps(dialogue_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main() -> int:
    """Write SCHEMA_FILE."""
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
