"""`balansebot translations`: what each language lacks or has out of date, and what changed in Bokmål."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from pydantic import ValidationError

from bot.commands.common import content_paths, load
from bot.content.models import Node
from bot.content.scripts import SOURCE_LANGUAGE
from bot.content.translating import OldSources, Todo, changes, read_language, record_done, scaffold, todo
from bot.settings import KeptScriptsSettings, describe_settings_error
from bot.staff_words import say, say_n

LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")  # a folder name under dialogues/: nn, en, se …


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        "translations", help=say("missing and stale translations of the dialogue scripts")
    )
    parser.add_argument("--dialogues", type=Path, help=say("the dialogues folder (default: ./dialogues)"))
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--fingerprints",
        action="store_true",
        help=say("list each Bokmål node's fingerprint for `translated_from`"),
    )
    what.add_argument(
        "--done",
        nargs=2,
        metavar=("LANG", "NODE"),
        help=say("record that NODE's LANG translation matches the Bokmål node as it is now"),
    )
    what.add_argument(
        "--scaffold",
        metavar="LANG",
        help=say("write a skeleton of every node LANG lacks to a new file in dialogues/LANG/ to fill in"),
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print what translators should do; exit 1 when something is missing or stale."""
    result, _ = load(args.dialogues)
    if result.scripts is None:
        print(say("The scripts have errors; run `balansebot check` first."))
        return 1
    dialogues_dir, _ = content_paths(args.dialogues)
    languages = sorted(set(result.scripts.languages) - {SOURCE_LANGUAGE})
    if args.fingerprints:
        for node in sorted(result.scripts.language(SOURCE_LANGUAGE).nodes.values(), key=lambda n: n.id):
            print(f"{node.id:<28} translated_from: {node.fingerprint}")
        return 0
    if args.done:
        return _done(dialogues_dir, languages, *args.done)
    if args.scaffold:
        return _scaffold(dialogues_dir, languages, args.scaffold)
    old_sources = OldSources(_kept_scripts())
    count = 0
    for lang in languages:
        for item in todo(dialogues_dir, lang):
            count += 1
            print(_shown(item, old_sources))
    print(
        say_n(
            "{count} translation to do (languages besides Bokmål: {languages}).",
            "{count} translations to do (languages besides Bokmål: {languages}).",
            count,
            languages=", ".join(languages) or say("none"),
        )
    )
    return 1 if count else 0


def _shown(item: Todo, old_sources: OldSources) -> str:
    """One thing to translate: where, what, and for a stale one what changed in Bokmål since."""
    done = say(
        "when it is done: balansebot translations --done {lang} {node}", lang=item.lang, node=item.node_id
    )
    source_line = f"{item.source_at.loaded.doc.path}:{_source_line(item)}"
    if item.kind == "missing":
        return (
            f"{source_line}: "
            + say("`{node}` has no {lang} translation", node=item.node_id, lang=item.lang)
            + "\n    "
            + say("`balansebot translations --scaffold {lang}` writes a skeleton to fill in", lang=item.lang)
        )
    assert item.at is not None  # noqa: S101 - only a missing node has no translation
    where = f"{item.at.loaded.doc.path}:{item.line}: "
    if item.kind == "skeleton":
        return (
            where
            + say(
                "`{node}` is a skeleton not translated yet (Bokmål: {source})",
                node=item.node_id,
                source=source_line,
            )
            + f"\n    {done}"
        )
    if item.kind == "unstamped":
        return (
            where
            + say(
                "`{node}` does not say which Bokmål text it translates; compare it with {source}",
                node=item.node_id,
                source=source_line,
            )
            + f"\n    {done}"
        )
    assert item.recorded is not None  # noqa: S101 - a stale translation records its old fingerprint
    current = item.source.fingerprint()
    lines = [
        where
        + say(
            "`{node}` was translated from an older Bokmål text ({old} → {new})",
            node=item.node_id,
            old=item.recorded,
            new=current,
        )
    ]
    old = old_sources.find(item.node_id, item.recorded)
    if old is None:
        lines.append(
            "    "
            + say(
                "What the Bokmål said then is unknown: no kept version has fingerprint {old}. Compare the "
                "translation with the whole Bokmål node at {source}.",
                old=item.recorded,
                source=source_line,
            )
        )
    else:
        lines.append("    " + say("Changed in Bokmål ({source}) since:", source=source_line))
        lines += [f"      {line}" for line in _changes(old, item)]
    lines.append(f"    {done}")
    return "\n".join(lines)


def _kept_scripts() -> Path:
    """Where the kept versions are (KEPT_SCRIPTS_DIR, else beside the database), or exit 2 saying why not."""
    try:
        return KeptScriptsSettings().kept_scripts
    except ValidationError as error:
        print(f"balansebot: {describe_settings_error(error)}", file=sys.stderr)
        raise SystemExit(2) from None


def _changes(old: Node, item: Todo) -> list[str]:
    return changes(old, item.source) or [say("(only spacing at the start or end of the text)")]


def _source_line(item: Todo) -> int:
    doc = item.source_at.loaded.doc
    index = next(i for i, n in enumerate(item.source_at.loaded.script.nodes) if n.id == item.node_id)
    return doc.line_of(("nodes", index, "id"))


def _done(dialogues_dir: Path, languages: list[str], lang: str, node_id: str) -> int:
    """Write the Bokmål node's current fingerprint into the translation, and keep that Bokmål if need be."""
    if lang not in languages:
        print(
            say(
                "There is no language {lang}; the translations are: {languages}.",
                lang=lang,
                languages=", ".join(languages),
            )
        )
        return 2
    source = {
        n.id: (n, at) for at in read_language(dialogues_dir, SOURCE_LANGUAGE) for n in at.loaded.script.nodes
    }
    found = [
        at
        for at in read_language(dialogues_dir, lang)
        if any(n.id == node_id for n in at.loaded.script.nodes)
    ]
    if node_id not in source or not found:
        print(
            say(
                "There is no node `{node}` in both dialogues/{source}/ and dialogues/{lang}/; "
                "`balansebot translations` lists what there is to do.",
                node=node_id,
                source=SOURCE_LANGUAGE,
                lang=lang,
            )
        )
        return 2
    original, source_at = source[node_id]
    fingerprint = original.fingerprint()
    try:
        line = record_done(found[0], node_id, fingerprint)
    except ValueError as refused:
        print(refused)
        return 1
    OldSources(_kept_scripts()).remember(original, source_at.loaded.script.topic)
    print(
        say(
            "{path}:{line}: `{node}` now records translated_from: {fingerprint}",
            path=found[0].loaded.doc.path,
            line=line,
            node=node_id,
            fingerprint=fingerprint,
        )
    )
    return 0


def _scaffold(dialogues_dir: Path, languages: list[str], lang: str) -> int:
    """Write the skeletons of the nodes `lang` lacks and say where."""
    if lang == SOURCE_LANGUAGE or not LANGUAGE_CODE.fullmatch(lang):
        print(say("Choose a language to translate Bokmål into, such as nn or en."))
        return 2
    try:
        written = scaffold(dialogues_dir, lang)
    except FileExistsError as refused:
        print(refused)
        return 1
    for path, nodes in written:
        print(
            say_n(
                "{path}: a skeleton of {count} node to translate ({nodes})",
                "{path}: skeletons of {count} nodes to translate ({nodes})",
                len(nodes),
                path=path.relative_to(dialogues_dir.parent)
                if path.is_relative_to(dialogues_dir.parent)
                else path,
                nodes=", ".join(nodes),
            )
        )
    if not written:
        print(say("{lang} has every Bokmål node; nothing to write.", lang=lang))
    return 0
