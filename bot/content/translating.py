"""What translators need beyond `check`: what changed in Bokmål, recording a translation done, skeletons.

A translated node records the fingerprint of the Bokmål node it was made from (`translated_from`).
To show what changed since, the Bokmål node as it was is looked up by that fingerprint among the
kept versions of the scripts (every version that went live, bot/content/kept_versions.py) and the
copies `--done` leaves when no kept version has the node as it is then. Nothing else is stored.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.content.kept_versions import DIALOGUES
from bot.content.loader import SPECIAL_FILES
from bot.content.models import SCAFFOLD_MARK, Node, ScriptFile
from bot.content.scripts import SOURCE_LANGUAGE
from bot.content.yaml_source import LoadedFile, YamlDocument, parse_yaml, read_yaml
from bot.staff_words import say

# Beside the kept versions: Bokmål nodes as they were when a translation was marked done.
SNAPSHOTS = "translated-from"
NEW_FILE_SUFFIX = "_ny"  # dialogues/nn/telefon_ny.yaml when telefon.yaml is there: a name for staff
TRANSLATED_FROM = re.compile(r"^(?P<key>\s*(?:-\s+)?translated_from:[ \t]*)(?P<value>[^\s#]+)")
ID_KEY = re.compile(r"^(?P<indent>\s*(?:-\s+)?)id:")


@dataclass(frozen=True)
class ScriptAt:
    """A script file as parsed, and where it is on disk (to be edited)."""

    path: Path
    loaded: LoadedFile


@dataclass(frozen=True)
class Todo:
    """One node a language has to translate, or translate again."""

    lang: str
    node_id: str
    kind: str
    """`missing`, `skeleton` (scaffolded, not filled in), `unstamped` (no translated_from) or `stale`."""
    source: Node
    source_at: ScriptAt
    at: ScriptAt | None = None
    recorded: str | None = None
    """The fingerprint the translation records (stale only)."""

    @property
    def line(self) -> int:
        """The line staff look at: the translation's `translated_from:` (or `id:`), else the Bokmål node's."""
        if self.at is None:
            return self.source_at.loaded.doc.line_of(("nodes", _index(self.source_at, self.node_id), "id"))
        index = _index(self.at, self.node_id)
        doc = self.at.loaded.doc
        return doc.line_of(("nodes", index, "translated_from" if self.recorded else "id"))


def read_language(dialogues_dir: Path, lang: str) -> list[ScriptAt]:
    """The readable script files of one language (a broken file is `check`'s to report)."""
    found = []
    for path in sorted((dialogues_dir / lang).glob("*.yaml")):
        if path.name in SPECIAL_FILES:
            continue
        doc = read_yaml(path, _shown(path, dialogues_dir))
        if isinstance(doc, YamlDocument):
            try:
                found.append(ScriptAt(path, LoadedFile(doc, ScriptFile.model_validate(doc.data))))
            except ValidationError:
                continue
    return found


def todo(dialogues_dir: Path, lang: str) -> list[Todo]:
    """Every Bokmål node `lang` lacks, has only as a skeleton, or has older than the Bokmål."""
    source = {
        node.id: (node, at)
        for at in read_language(dialogues_dir, SOURCE_LANGUAGE)
        for node in at.loaded.script.nodes
    }
    found: list[Todo] = []
    present: set[str] = set()
    for at in read_language(dialogues_dir, lang):
        for node in at.loaded.script.nodes:
            present.add(node.id)
            if node.id not in source:
                continue  # `check` says it translates nothing
            original, source_at = source[node.id]
            if node.translated_from == SCAFFOLD_MARK:
                found.append(Todo(lang, node.id, "skeleton", original, source_at, at))
            elif node.translated_from is None:
                found.append(Todo(lang, node.id, "unstamped", original, source_at, at))
            elif node.translated_from != original.fingerprint():
                found.append(Todo(lang, node.id, "stale", original, source_at, at, node.translated_from))
    for node_id in sorted(set(source) - present):
        original, source_at = source[node_id]
        found.append(Todo(lang, node_id, "missing", original, source_at))
    return found


class OldSources:
    """Bokmål nodes as they once were, found by their fingerprint in the kept versions and snapshots."""

    def __init__(self, kept: Path) -> None:
        self.kept = kept
        self._seen_files: set[str] = set()
        self._nodes: dict[tuple[str, str], Node] | None = None

    def find(self, node_id: str, fingerprint: str) -> Node | None:
        """The Bokmål node `node_id` when its fingerprint was `fingerprint`, if it was kept."""
        return self._index().get((node_id, fingerprint))

    def remember(self, node: Node, topic: str) -> Path | None:
        """Keep a copy of the Bokmål `node` as it is now, unless a kept version already has it."""
        if self.find(node.id, node.fingerprint()) is not None:
            return None
        folder = self.kept / SNAPSHOTS
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / f"{node.id}-{node.fingerprint()}.yaml"
        content = {"topic": topic, "nodes": [node.model_dump(mode="json", exclude_defaults=True)]}
        copy.write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8")
        self._index()[(node.id, node.fingerprint())] = node
        return copy

    def _index(self) -> dict[tuple[str, str], Node]:
        if self._nodes is None:
            self._nodes = {}
            for path in self._files():
                self._read(path)
        return self._nodes

    def _files(self) -> Iterator[Path]:
        if not self.kept.is_dir():
            return
        yield from sorted((self.kept / SNAPSHOTS).glob("*.yaml"))
        yield from sorted(self.kept.glob(f"*/{DIALOGUES}/{SOURCE_LANGUAGE}/*.yaml"))

    def _read(self, path: Path) -> None:
        assert self._nodes is not None  # noqa: S101 - called while the index is built
        try:
            content = path.read_bytes()
        except OSError:
            return
        digest = hashlib.sha256(content).hexdigest()
        if digest in self._seen_files:  # most files are the same from one kept version to the next
            return
        self._seen_files.add(digest)
        doc = read_yaml(path)
        if not isinstance(doc, YamlDocument):
            return
        try:
            script = ScriptFile.model_validate(doc.data)
        except ValidationError:
            return
        for node in script.nodes:
            self._nodes.setdefault((node.id, node.fingerprint()), node)


def changes(old: Node, new: Node) -> list[str]:
    """What a reader sees differently in `new` than in `old`: title, changed buttons, a diff of the text."""
    shown: list[str] = []
    if old.title != new.title:
        shown.append(say("title: «{old}» → «{new}»", old=old.title, new=new.title))
    for number, (before, after) in enumerate(zip_longest(old.buttons, new.buttons), start=1):
        if before is not None and after is not None and before.text != after.text:
            shown.append(
                say("button {number}: «{old}» → «{new}»", number=number, old=before.text, new=after.text)
            )
        elif before is None and after is not None:
            shown.append(say("button {number} is new: «{new}»", number=number, new=after.text))
        elif after is None and before is not None:
            shown.append(say("button {number} was removed: «{old}»", number=number, old=before.text))
    if old.text.strip() != new.text.strip():
        shown.append(say("text (- before, + now):"))
        diff = difflib.unified_diff(
            old.text.strip().splitlines(), new.text.strip().splitlines(), lineterm="", n=1
        )
        for line in list(diff)[2:]:  # past the ---/+++ header
            shown.append("  …" if line.startswith("@@") else f"  {line}")
    return shown


def record_done(at: ScriptAt, node_id: str, fingerprint: str) -> int:
    """Write `translated_from: <fingerprint>` into the node, changing only that line (or adding it); its line.

    The file is edited as text, so comments and layout stay as staff wrote them; the result is read
    back and must differ from the file before in `translated_from` only.
    """
    index = _index(at, node_id)
    lines = at.path.read_bytes().decode("utf-8").splitlines(keepends=True)  # \r\n stays \r\n
    doc = at.loaded.doc
    if ("nodes", index, "translated_from") in doc.lines:
        number = doc.line_of(("nodes", index, "translated_from")) - 1
        match = TRANSLATED_FROM.match(lines[number])
        candidates = (
            [] if match is None else [(_replace_value(lines, number, match, fingerprint), number + 1)]
        )
    else:
        candidates = _insertions(lines, doc, index, fingerprint)
    for candidate, line in candidates:
        if _only_stamp_differs(at, candidate, index, fingerprint):
            at.path.write_bytes(candidate.encode("utf-8"))
            return line
    raise ValueError(
        say(
            "could not write `translated_from: {fingerprint}` into {path} by itself; write it under "
            "`id: {node}` by hand",
            fingerprint=fingerprint,
            path=doc.path,
            node=node_id,
        )
    )


def scaffold(dialogues_dir: Path, lang: str) -> list[tuple[Path, list[str]]]:
    """Write a skeleton of every Bokmål node `lang` lacks, one file per Bokmål file; what was written."""
    missing = [t for t in todo(dialogues_dir, lang) if t.kind == "missing"]
    written = []
    for source_at in read_language(dialogues_dir, SOURCE_LANGUAGE):
        nodes = [t.source for t in missing if t.source_at.path == source_at.path]
        if not nodes:
            continue
        target = dialogues_dir / lang / source_at.path.name
        if target.exists():
            target = target.with_name(f"{source_at.path.stem}{NEW_FILE_SUFFIX}.yaml")
        if target.exists():
            raise FileExistsError(
                say(
                    "{path} is there already: fill it in (or move its nodes to other files) first",
                    path=_shown(target, dialogues_dir),
                )
            )
        text = _skeleton(lang, source_at, nodes, dialogues_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append((target, [n.id for n in nodes]))
    return written


def _skeleton(lang: str, source_at: ScriptAt, nodes: list[Node], dialogues_dir: Path) -> str:
    """The YAML of the skeletons: ids, buttons and gotos as in Bokmål, the words to translate marked."""
    mark = say("TRANSLATE from Bokmål")
    out = [
        "# "
        + say(
            "Skeletons for the {lang} translation of {path} (`balansebot translations --scaffold {lang}`).",
            lang=lang,
            path=source_at.loaded.doc.path,
        ),
        "# "
        + say(
            "Translate the lines marked {mark}; keep id, goto, url and the order of the buttons.", mark=mark
        ),
        "# " + say("When a node is done: balansebot translations --done {lang} NODE", lang=lang),
        f"topic: {source_at.loaded.script.topic}",
        "nodes:",
    ]
    for node in nodes:
        out += [
            f"  - id: {node.id}",
            f"    title: {_quoted(node.title)}  # {mark}",
            f"    # {mark}",
            *_text_lines("    text:", node.text),
        ]
        if node.buttons:
            out.append("    buttons:")
        for button in node.buttons:
            out.append(f"      - text: {_quoted(button.text)}  # {mark}")
            if button.goto:
                out.append(f"        goto: {button.goto}")
            if button.url:
                out.append(f"        url: {_quoted(button.url)}")
            if button.quick_exit:
                out.append("        quick_exit: true")
            if button.auto_delete:
                out.append(f"        auto_delete: {button.auto_delete}")
        if node.command:
            out.append(f"    command: {node.command}")
        if node.end:
            out.append("    end: true")
        out += [f"    translated_from: {SCAFFOLD_MARK}", ""]
    text = "\n".join(out)
    _check_skeleton(text, nodes, dialogues_dir / lang / source_at.path.name)
    return text


def _check_skeleton(text: str, nodes: list[Node], path: Path) -> None:
    """The skeleton reads back as the Bokmål nodes it copies (so a quoting slip never ships)."""
    doc = parse_yaml(text, path)
    if not isinstance(doc, YamlDocument):
        raise AssertionError(f"the skeleton for {path} is not YAML: {doc}")
    script = ScriptFile.model_validate(doc.data)
    for copy, node in zip(script.nodes, nodes, strict=True):
        wanted = node.model_copy(update={"phrases": [], "keywords": [], "translated_from": SCAFFOLD_MARK})
        if copy != wanted:
            raise AssertionError(f"the skeleton of {node.id} for {path} does not read back as written")


def _quoted(value: str) -> str:
    """A one-line YAML scalar in double quotes (JSON's escapes are YAML's)."""
    return json.dumps(value, ensure_ascii=False)


def _text_lines(key: str, text: str) -> list[str]:
    """`text: |` and the text below it, or the text quoted where a block would change it."""
    lines = text.split("\n")
    plain = text.strip("\n") and not text.startswith((" ", "\t")) and "\r" not in text and "\t" not in text
    if not plain or any(line != line.rstrip() for line in lines):
        return [f"{key} {_quoted(text)}"]
    chomp = (
        "|"
        if text.endswith("\n") and not text.endswith("\n\n")
        else "|-"
        if not text.endswith("\n")
        else None
    )
    if chomp is None:
        return [f"{key} {_quoted(text)}"]
    body = text[:-1] if text.endswith("\n") else text
    return [f"{key} {chomp}", *(f"      {line}" if line else "" for line in body.split("\n"))]


def _replace_value(lines: list[str], number: int, match: re.Match[str], fingerprint: str) -> str:
    changed = list(lines)
    line = lines[number]
    changed[number] = line[: match.start("value")] + fingerprint + line[match.end("value") :]
    return "".join(changed)


def _insertions(lines: list[str], doc: YamlDocument, index: int, fingerprint: str) -> list[tuple[str, int]]:
    """The file with `translated_from:` added to node `index`: at the end of the node, else under its id."""
    id_number = doc.line_of(("nodes", index, "id")) - 1
    match = ID_KEY.match(lines[id_number])
    if match is None:
        return []
    indent = " " * len(match.group("indent"))
    newline = "\r\n" if lines[id_number].endswith("\r\n") else "\n"
    stamp = f"{indent}translated_from: {fingerprint}{newline}"
    following = ("nodes", index + 1)
    end = doc.lines[following].line - 1 if following in doc.lines else len(lines)
    while end > id_number + 1 and not lines[end - 1].strip():
        end -= 1  # back over the blank lines between two nodes
    at_end = list(lines)
    if at_end and not at_end[end - 1].endswith(("\n", "\r")):
        at_end[end - 1] += newline
    at_end.insert(end, stamp)
    under_id = list(lines)
    under_id.insert(id_number + 1, stamp)
    return [("".join(at_end), end + 1), ("".join(under_id), id_number + 2)]


def _only_stamp_differs(at: ScriptAt, candidate: str, index: int, fingerprint: str) -> bool:
    doc = parse_yaml(candidate, at.loaded.doc.path)
    if not isinstance(doc, YamlDocument):
        return False
    try:
        after = ScriptFile.model_validate(doc.data)
    except ValidationError:
        return False
    before = at.loaded.script
    if len(after.nodes) != len(before.nodes) or after.nodes[index].translated_from != fingerprint:
        return False
    restamped = after.nodes[index].model_copy(update={"translated_from": before.nodes[index].translated_from})
    return after.topic == before.topic and [
        *after.nodes[:index],
        restamped,
        *after.nodes[index + 1 :],
    ] == list(before.nodes)


def _index(at: ScriptAt, node_id: str) -> int:
    return next(i for i, node in enumerate(at.loaded.script.nodes) if node.id == node_id)


def _shown(path: Path, dialogues_dir: Path) -> Path:
    try:
        return path.relative_to(dialogues_dir.parent)
    except ValueError:
        return path
