"""Read dialogues/ into checked, rendered Scripts — or a list of problems with file:line."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from bot.content import checks
from bot.content.facts import Facts, build_facts
from bot.content.languages import LANGUAGES_FILE, LanguageList, read_languages
from bot.content.models import AcuteFile, Hours, ScriptFile, WordsFile
from bot.content.problems import Problem
from bot.content.schema_errors import schema_problems
from bot.content.scripts import (
    SOURCE_LANGUAGE,
    AcuteRules,
    Alarm,
    LanguageScript,
    ScriptButton,
    ScriptNode,
    Scripts,
    Source,
)
from bot.content.sources import FactSources, check_quotes, check_sources, read_sources
from bot.content.yaml_source import LoadedFile, YamlDocument, read_yaml
from bot.i18n import Catalogs
from bot.staff_words import say

M = TypeVar("M", bound=BaseModel)

FACTS_FILE = "facts.yaml"
# Facts the runtime itself acts on (expiry), so the privacy text and the behaviour agree.
NUMERIC_FACTS = (
    "privacy.retention_days",
    "privacy.message_delete_hours",
    "privacy.leads_retention_days",
    "privacy.leads_undelivered_days",
    "privacy.form_abandoned_hours",
    "privacy.stats_retention_days",
    "privacy.forms_per_day",
    "hotline.callback_working_days",
)
ACUTE_FILE = "acute.yaml"
WORDS_FILE = "words.yaml"
SPECIAL_FILES = frozenset({ACUTE_FILE, WORDS_FILE})
# Files under dialogues/ that are not scripts of a language (staff's conversation tests live here).
NOT_LANGUAGES = frozenset({"tests"})


@dataclass(frozen=True)
class LoadResult:
    """The scripts when they are good enough to serve, and every problem found."""

    scripts: Scripts | None
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        """Only the problems that stop the scripts from being served."""
        return [p for p in self.problems if p.severity == "error"]


def load_scripts(dialogues_dir: Path, catalogs: Catalogs, today: dt.date | None = None) -> LoadResult:
    """Load and check everything under `dialogues_dir` (`today` dates the facts' last checks)."""
    base = dialogues_dir.parent
    problems: list[Problem] = []
    sources: list[FactSources] = []
    lang_dirs = sorted(
        d
        for d in dialogues_dir.iterdir()
        if d.is_dir() and d.name not in NOT_LANGUAGES and not d.name.startswith((".", "_"))
    )
    read = read_languages(dialogues_dir / LANGUAGES_FILE, _shown(dialogues_dir / LANGUAGES_FILE, base))
    if isinstance(read, list):
        problems.extend(read)
        # Still check the scripts, in the languages their folders name.
        languages = LanguageList.plain(d.name for d in lang_dirs)
    else:
        languages = read
        shown_file = _shown(dialogues_dir / LANGUAGES_FILE, base)
        problems.extend(_unmatched_languages(languages, shown_file, lang_dirs, catalogs, base))
    facts = _load_facts(
        dialogues_dir / FACTS_FILE, base, problems, sources, today or dt.date.today(), languages
    )
    if not any(d.name == SOURCE_LANGUAGE for d in lang_dirs):
        problems.append(
            Problem(
                _shown(dialogues_dir, base),
                1,
                say(
                    "there is no `{folder}/` folder with the Bokmål scripts",
                    folder=SOURCE_LANGUAGE,
                ),
                say(
                    "create dialogues/{folder}/ with at least start.yaml.",
                    folder=SOURCE_LANGUAGE,
                ),
            )
        )
    files: list[Path] = [dialogues_dir / FACTS_FILE, dialogues_dir / LANGUAGES_FILE]
    parsed: dict[str, tuple[list[LoadedFile], tuple[YamlDocument, AcuteFile] | None]] = {}
    vocabularies: dict[str, WordsFile] = {}
    incomplete: set[str] = set()
    for lang_dir in lang_dirs:
        before = len(problems)
        script_files = sorted(lang_dir.glob("*.yaml"))
        files.extend(script_files)
        problems.extend(_misnamed(lang_dir, base))
        loaded = [
            f
            for p in script_files
            if p.name not in SPECIAL_FILES
            if (f := _load_script_file(p, base, problems)) is not None
        ]
        acute = _load_special(lang_dir / ACUTE_FILE, AcuteFile, base, problems)
        vocabulary = _load_special(lang_dir / WORDS_FILE, WordsFile, base, problems)
        vocabularies[lang_dir.name] = vocabulary[1] if vocabulary else WordsFile()
        parsed[lang_dir.name] = (loaded, acute)
        if len(problems) > before:
            incomplete.add(lang_dir.name)

    if facts is not None:
        source_ids = frozenset(
            n.id for f in parsed.get(SOURCE_LANGUAGE, ([], None))[0] for n in f.script.nodes
        )
        for lang, (loaded, acute) in parsed.items():
            # With a file unreadable, links into it would only add noise to the real error.
            problems.extend(
                checks.check_language(
                    lang,
                    loaded,
                    acute,
                    facts,
                    catalogs,
                    complete=lang not in incomplete,
                    source_ids=source_ids,
                )
            )
        if SOURCE_LANGUAGE not in incomplete:  # translations are compared with a complete source
            problems.extend(checks.check_translations(parsed_nodes(parsed)))
        texts = {
            lang: [(f.doc, [(i, n.text) for i, n in enumerate(f.script.nodes)]) for f in loaded]
            for lang, (loaded, _) in parsed.items()
        }
        problems.extend(check_quotes(texts, sources[0] if sources else None, facts))
    problems.sort(key=lambda p: (p.severity != "error", str(p.path), p.line))
    if facts is None or any(p.severity == "error" for p in problems):
        return LoadResult(None, problems)
    scripts = {
        lang: _render_language(lang, loaded, acute, vocabularies[lang], facts, catalogs)
        for lang, (loaded, acute) in parsed.items()
    }
    return LoadResult(Scripts(scripts, facts, script_version(files), tuple(files)), problems)


def parsed_nodes(parsed: Mapping[str, tuple[list[LoadedFile], object]]) -> dict[str, list[LoadedFile]]:
    """Script files by language."""
    return {lang: loaded for lang, (loaded, _) in parsed.items()}


def _shown(path: Path, base: Path) -> Path:
    try:
        return path.relative_to(base)
    except ValueError:
        return path


def _unmatched_languages(
    languages: LanguageList, shown_file: Path, lang_dirs: list[Path], catalogs: Catalogs, base: Path
) -> list[Problem]:
    """A language needs all three: its entry in languages.yaml, its folder and its catalogue."""
    problems: list[Problem] = []
    folders = {d.name: d for d in lang_dirs}
    listed = set(languages.codes)
    for lang, folder in folders.items():
        shown = _shown(folder, base)
        if lang not in listed:
            problems.append(
                Problem(
                    shown,
                    1,
                    say("the folder `{lang}/` is not listed in languages.yaml", lang=lang),
                    say(
                        "add `- code: {lang}` with its name and locale to dialogues/languages.yaml, "
                        "or remove the folder.",
                        lang=lang,
                    ),
                )
            )
        if lang not in catalogs.translations:
            problems.append(
                Problem(
                    shown,
                    1,
                    say("the language `{lang}` has no catalogue of the bot's own words", lang=lang),
                    say(
                        "create locales/{lang}/LC_MESSAGES/balansebot.po (copy en's and translate "
                        "it; see the README).",
                        lang=lang,
                    ),
                )
            )
    for entry in languages.entries:
        lang = entry.code
        if lang not in folders:
            problems.append(
                Problem(
                    shown_file,
                    entry.line,
                    say("languages.yaml lists `{lang}`, but there is no folder dialogues/{lang}/", lang=lang),
                    say(
                        "create dialogues/{lang}/ with the scripts (`balansebot translations "
                        "--scaffold {lang}`), or remove its entry.",
                        lang=lang,
                    ),
                )
            )
    for lang, path in sorted(catalogs.paths.items()):
        if lang not in folders:
            problems.append(
                Problem(
                    _shown(path, base),
                    1,
                    say("the catalogue for `{lang}` has no scripts in dialogues/{lang}/", lang=lang),
                    say(
                        "create dialogues/{lang}/ and list it in languages.yaml, or remove the catalogue.",
                        lang=lang,
                    ),
                    severity="warning",
                )
            )
    return problems


def _misnamed(folder: Path, base: Path) -> list[Problem]:
    """Files the bot would silently leave out: only `.yaml` is read, so `.yml` is an error."""
    return [
        Problem(
            _shown(path, base),
            1,
            say(
                "`{file}` is not read: the bot reads only files whose names end in .yaml",
                file=path.name,
            ),
            say("rename it to `{stem}.yaml`.", stem=path.stem),
        )
        for path in sorted(folder.glob("*.yml"))
    ]


def _load_facts(
    path: Path,
    base: Path,
    problems: list[Problem],
    sources: list[FactSources],
    today: dt.date,
    languages: LanguageList,
) -> Facts | None:
    shown = _shown(path, base)
    if not path.exists():
        problems.append(
            Problem(
                shown,
                1,
                say("the facts file is missing"),
                say("restore dialogues/facts.yaml from version control."),
            )
        )
        return None
    doc = read_yaml(path, shown)
    if isinstance(doc, Problem):
        problems.append(doc)
        return None
    if not isinstance(doc.data, dict):
        problems.append(
            Problem(
                shown,
                1,
                say("the facts file should be a set of `key: value` lines"),
                say("see the comments at the top of facts.yaml."),
            )
        )
        return None
    try:
        facts = build_facts(doc.data, languages)
    except ValidationError as exc:
        problems.extend(schema_problems(doc, exc, Hours, ("hotline", "hours")))
        return None
    missing = [
        Problem(
            shown,
            doc.line_of(tuple(key.split("."))),
            say("`{key}` must be a whole number", key=key),
            say(
                "the bot uses it directly; write e.g. `{name}: 30`.",
                name=key.rsplit(".", 1)[-1],
            ),
        )
        for key in NUMERIC_FACTS
        if not isinstance(facts.values.get(key), int) or isinstance(facts.values.get(key), bool)
    ]
    problems.extend(missing)
    if missing:
        return None
    found, source_problems = read_sources(doc)
    problems.extend(source_problems)
    if found is not None:
        sources.append(found)
        problems.extend(check_sources(found, facts, today))
    return facts


def _load_script_file(path: Path, base: Path, problems: list[Problem]) -> LoadedFile | None:
    shown = _shown(path, base)
    doc = read_yaml(path, shown)
    if isinstance(doc, Problem):
        problems.append(doc)
        return None
    try:
        return LoadedFile(doc, ScriptFile.model_validate(doc.data))
    except ValidationError as exc:
        problems.extend(schema_problems(doc, exc, ScriptFile))
        return None


def _load_special(
    path: Path, model: type[M], base: Path, problems: list[Problem]
) -> tuple[YamlDocument, M] | None:
    """Load a language's acute.yaml or words.yaml, if present."""
    if not path.exists():
        return None
    doc = read_yaml(path, _shown(path, base))
    if isinstance(doc, Problem):
        problems.append(doc)
        return None
    try:
        return doc, model.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(schema_problems(doc, exc, model))
        return None


def _render_language(
    lang: str,
    loaded: list[LoadedFile],
    acute: tuple[YamlDocument, AcuteFile] | None,
    vocabulary: WordsFile,
    facts: Facts,
    catalogs: Catalogs,
) -> LanguageScript:
    nodes: dict[str, ScriptNode] = {}
    for item in loaded:
        for index, node in enumerate(item.script.nodes):
            buttons = tuple(
                ScriptButton(
                    facts.render(b.text, lang, catalogs, escape=False),
                    b.goto,
                    facts.render(b.url, lang, catalogs, escape=False) if b.url else None,
                    b.quick_exit is True,
                    b.auto_delete_seconds(),
                )
                for b in node.buttons
            )
            nodes[node.id] = ScriptNode(
                id=node.id,
                topic=item.script.topic,
                title=facts.render(node.title, lang, catalogs, escape=False),
                text=facts.render(node.text.strip(), lang, catalogs),
                buttons=buttons,
                command=node.command,
                phrases=tuple(node.phrases),
                keywords=tuple(node.keywords),
                end=node.end,
                source=Source(item.doc.path, item.doc.line_of(("nodes", index))),
                fingerprint=node.fingerprint(),
            )
    rules = None
    if acute is not None:
        spec = acute[1]
        rules = AcuteRules(
            spec.node,
            {name: tuple(phrases) for name, phrases in spec.concepts.items()},
            tuple(
                Alarm(r.node or spec.node, tuple(r.when), tuple(r.unless), r.weak, r.near) for r in spec.rules
            ),
            tuple(spec.not_danger),
        )
    return LanguageScript(
        lang,
        nodes,
        rules,
        dict(vocabulary.synonyms),
        frozenset(vocabulary.ignore),
        frozenset(vocabulary.generic),
        vocabulary.stemmer,
    )


def script_version(files: list[Path]) -> str:
    """The version id of the scripts read from `files`: a hash of their names and contents."""
    digest = hashlib.sha256()
    for path in sorted(files):
        if path.exists():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
