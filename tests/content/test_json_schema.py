"""docs/dialogues.schema.json: made from the models, kept in sync, and right about real files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from bot.content.json_schema import SCHEMA_FILE, schema_text
from bot.content.yaml_source import YamlDocument, read_yaml
from tests.conftest import DIALOGUES, ROOT


def data_of(path: Path) -> Any:
    """A file as the bot reads it (YAML 1.2-like, as VS Code's YAML extension does: `no` is text)."""
    doc = read_yaml(path)
    assert isinstance(doc, YamlDocument), doc
    return doc.data


def test_the_committed_schema_is_the_one_the_models_make() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "the models changed: run `python -m bot.content.json_schema` and commit docs/dialogues.schema.json"
    )


def test_every_shipped_file_passes_and_a_typo_does_not() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(schema_text()))
    files = sorted(p for lang in ("nb", "nn", "en") for p in (DIALOGUES / lang).glob("*.yaml"))
    assert len(files) > 20
    for path in files:
        error = jsonschema.exceptions.best_match(validator.iter_errors(data_of(path)))
        assert error is None, f"{path}: {list(error.absolute_path)}: {error.message[:200]}"
    telefon = data_of(DIALOGUES / "nb" / "telefon.yaml")
    telefon["nodes"][0]["buttons"][0]["gotoo"] = telefon["nodes"][0]["buttons"][0].pop("goto")
    assert not validator.is_valid(telefon), "an unknown key is flagged while typing"


def test_vs_code_applies_it_to_the_language_folders() -> None:
    settings = json.loads((ROOT / ".vscode" / "settings.json").read_text(encoding="utf-8"))
    globs = settings["yaml.schemas"][f"./{SCHEMA_FILE.relative_to(ROOT).as_posix()}"]
    languages = sorted(d.name for d in DIALOGUES.iterdir() if d.is_dir() and d.name != "tests")
    assert globs == [f"dialogues/{lang}/*.yaml" for lang in languages]
    assert (
        "redhat.vscode-yaml"
        in json.loads((ROOT / ".vscode" / "extensions.json").read_text())["recommendations"]
    )


def test_editorconfig_spaces_lf_utf8() -> None:
    text = (ROOT / ".editorconfig").read_text(encoding="utf-8")
    for setting in ("root = true", "charset = utf-8", "end_of_line = lf", "indent_style = space"):
        assert setting in text
    assert Path(ROOT / ".editorconfig").read_bytes()[:3] != b"\xef\xbb\xbf"
