"""The checks behind `balansebot check`: everything that would break or confuse a conversation."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

from bot.content import telegram_html
from bot.content.facts import DYNAMIC_FACTS, Facts, placeholders, repeated_units
from bot.content.models import SCAFFOLD_MARK, AcuteFile, Button, Node
from bot.content.problems import Problem
from bot.content.scripts import BUILT_IN_COMMANDS, BUILT_IN_NODES, REQUIRED_NODES, SOURCE_LANGUAGE
from bot.content.yaml_source import LoadedFile, YamlDocument
from bot.engine import callbacks
from bot.i18n import Catalogs
from bot.staff_words import say

LONG_TEXT = 1000
_URL_SCHEMES = re.compile(r"^(https?|tg)://\S+$")
SIMILAR_FACT = 0.8  # difflib ratio: lawyerz → lawyers (0.86), but not lawyers → name


def check_language(
    lang: str,
    loaded: list[LoadedFile],
    acute: tuple[YamlDocument, AcuteFile] | None,
    facts: Facts,
    catalogs: Catalogs,
    *,
    complete: bool = True,
    source_ids: frozenset[str] = frozenset(),
) -> list[Problem]:
    """Every problem in one language's scripts (links between files only when all files loaded)."""
    problems: list[Problem] = []
    first_seen: dict[str, tuple[YamlDocument, int]] = {}
    commands: dict[str, tuple[YamlDocument, int]] = {}
    for item in loaded:
        for index, node in enumerate(item.script.nodes):
            doc, loc = item.doc, ("nodes", index)
            if node.id in first_seen:
                other_doc, other_index = first_seen[node.id]
                problems.append(
                    Problem(
                        doc.path,
                        doc.line_of((*loc, "id")),
                        say("node id `{node}` is used twice", node=node.id),
                        say(
                            "it is already used at {other_path}:{other_line}; give one a new id.",
                            other_path=other_doc.path,
                            other_line=other_doc.line_of(("nodes", other_index, "id")),
                        ),
                    )
                )
                continue
            first_seen[node.id] = (doc, index)
            if node.command:
                problems.extend(_check_command(node, doc, loc, commands))
            problems.extend(_check_node(node, doc, loc, facts, lang, catalogs))

    # A translation may lead to a node it has not translated yet: readers then get the Bokmål one.
    known = set(first_seen) | BUILT_IN_NODES | set(source_ids)
    if not complete:
        return problems
    for item in loaded:
        for index, node in enumerate(item.script.nodes):
            for b_index, button in enumerate(node.buttons):
                if button.goto and button.goto not in known:
                    problems.append(
                        _unknown_node(
                            item.doc, ("nodes", index, "buttons", b_index, "goto"), button.goto, known
                        )
                    )
    if lang == SOURCE_LANGUAGE:
        problems.extend(_check_required(loaded, known))
        alarms = (
            frozenset({acute[1].node, *(r.node for r in acute[1].rules if r.node)}) if acute else frozenset()
        )
        problems.extend(_check_reachable(loaded, first_seen, alarms))
    if acute is not None:
        problems.extend(_check_acute(*acute, known if lang == SOURCE_LANGUAGE else None))
    problems.extend(_check_phrase_clashes(loaded))
    return problems


def _check_acute(doc: YamlDocument, spec: AcuteFile, known: set[str] | None) -> list[Problem]:
    """Every rule names concepts that exist and a node that exists; no concept is empty or unused."""
    problems: list[Problem] = []
    if known is not None and spec.node not in known:
        problems.append(_unknown_node(doc, ("node",), spec.node, known))
    for name, phrases in spec.concepts.items():
        if not [p for p in phrases if p.strip()]:
            problems.append(
                Problem(
                    doc.path,
                    doc.line_of(("concepts", name)),
                    say("the concept `{name}` has no phrases", name=name),
                    say("add phrases to it, or remove it and the rules that use it."),
                )
            )
    used: set[str] = set()
    for r_index, rule in enumerate(spec.rules):
        if known is not None and rule.node is not None and rule.node not in known:
            problems.append(_unknown_node(doc, ("rules", r_index, "node"), rule.node, known))
        for key in ("when", "unless"):
            for c_index, name in enumerate(getattr(rule, key)):
                used.add(name)
                if name in spec.concepts:
                    continue
                close = difflib.get_close_matches(name, list(spec.concepts), n=1)
                problems.append(
                    Problem(
                        doc.path,
                        doc.line_of(("rules", r_index, key, c_index)),
                        say("there is no concept `{name}` under `concepts:`", name=name),
                        say("did you mean `{suggestion}`?", suggestion=close[0])
                        if close
                        else say("add `{name}:` with its phrases under `concepts:`.", name=name),
                    )
                )
    for name in spec.concepts:
        if name not in used:
            problems.append(
                Problem(
                    doc.path,
                    doc.line_of(("concepts", name)),
                    say("no rule uses the concept `{name}`", name=name),
                    say("use it in a rule's `when:` or `unless:`, or remove it."),
                    "warning",
                )
            )
    return problems


def check_translations(by_lang: dict[str, list[LoadedFile]]) -> list[Problem]:
    """Bokmål nodes another language lacks (readers get Bokmål), and translations older than their source."""
    source = {n.id: n for f in by_lang.get(SOURCE_LANGUAGE, []) for n in f.script.nodes}
    problems: list[Problem] = []
    for lang, loaded in sorted(by_lang.items()):
        if lang == SOURCE_LANGUAGE or not loaded:
            continue
        present: set[str] = set()
        for item in loaded:
            for index, node in enumerate(item.script.nodes):
                present.add(node.id)
                original = source.get(node.id)
                if original is None:
                    problems.append(
                        Problem(
                            item.doc.path,
                            item.doc.line_of(("nodes", index, "id")),
                            say("`{node}` has no Bokmål node to be a translation of", node=node.id),
                            say(
                                "use the id of the Bokmål node this translates (see `balansebot "
                                "translations --fingerprints`), or add the node to dialogues/nb/ first."
                            ),
                        )
                    )
                    continue
                problems.extend(_same_buttons(item, index, lang, node, original))
                current = original.fingerprint()
                if node.translated_from == SCAFFOLD_MARK:
                    problems.append(
                        Problem(
                            item.doc.path,
                            item.doc.line_of(("nodes", index, "translated_from")),
                            say(
                                "`{node}` in {lang} is a skeleton nobody has translated yet",
                                node=node.id,
                                lang=lang,
                            ),
                            say(
                                "translate its title, text and button labels (they are Bokmål now), then run "
                                "`balansebot translations --done {lang} {node}`.",
                                node=node.id,
                                lang=lang,
                            ),
                            "warning",
                        )
                    )
                elif node.translated_from != current:
                    line = item.doc.line_of(
                        ("nodes", index, "translated_from" if node.translated_from else "id")
                    )
                    message = (
                        say(
                            "the {lang} translation of `{node}` has no `translated_from`",
                            lang=lang,
                            node=node.id,
                        )
                        if node.translated_from is None
                        else say(
                            "the {lang} translation of `{node}` is older than its Bokmål text",
                            lang=lang,
                            node=node.id,
                        )
                    )
                    problems.append(
                        Problem(
                            item.doc.path,
                            line,
                            message,
                            say(
                                "`balansebot translations` shows what changed in Bokmål; bring the "
                                "translation in line, then run "
                                "`balansebot translations --done {lang} {node}` "
                                "(it writes `translated_from: {fingerprint}`).",
                                lang=lang,
                                node=node.id,
                                fingerprint=current,
                            ),
                            "warning",
                        )
                    )
        for missing in sorted(set(source) - present):
            problems.append(
                Problem(
                    loaded[0].doc.path.parent,
                    1,
                    say(
                        "node `{node}` has no {lang} translation (readers get Bokmål)",
                        node=missing,
                        lang=lang,
                    ),
                    say(
                        "run `balansebot translations --scaffold {lang}` for a skeleton to fill in, or add a "
                        "node with `id: {node}` to a file in dialogues/{lang}/.",
                        node=missing,
                        lang=lang,
                    ),
                    "warning",
                )
            )
    return problems


def _button_kind(button: Button) -> str:
    """What a button does, as staff write it: its goto, the quick exit, an auto-delete or a link."""
    if button.goto:
        return button.goto
    if button.quick_exit:
        return "quick_exit: true"
    return f"auto_delete: {button.auto_delete}" if button.auto_delete else say("(link)")


def _same_buttons(item: LoadedFile, index: int, lang: str, node: Node, original: Node) -> list[Problem]:
    """A translation has the Bokmål node's buttons, in its order: the same gotos, links where it has links."""

    def shape(buttons: Sequence[Button]) -> list[str]:
        return [_button_kind(b) for b in buttons]

    if shape(node.buttons) == shape(original.buttons):
        return []
    wanted = ", ".join(f"`{target}`" for target in shape(original.buttons)) or say("no buttons")
    return [
        Problem(
            item.doc.path,
            item.doc.line_of(("nodes", index, "buttons" if node.buttons else "id")),
            say(
                "the {lang} translation of `{node}` has other buttons than the Bokmål node",
                lang=lang,
                node=node.id,
            ),
            say("give it the Bokmål node's buttons in the same order, leading to {wanted}.", wanted=wanted),
            "warning",  # as a stale translation: Bokmål is edited first, the translations follow
        )
    ]


def _check_command(
    node: Node, doc: YamlDocument, loc: tuple[str | int, ...], commands: dict[str, tuple[YamlDocument, int]]
) -> list[Problem]:
    line = doc.line_of((*loc, "command"))
    assert node.command is not None  # noqa: S101 - only called for nodes with a command
    if node.command in BUILT_IN_COMMANDS:
        return [
            Problem(
                doc.path,
                line,
                say("/{command} is a built-in command", command=node.command),
                say("choose another command name; the bot handles this one itself."),
            )
        ]
    if node.command in commands:
        other_doc, other_line = commands[node.command]
        return [
            Problem(
                doc.path,
                line,
                say("/{command} is given to two nodes", command=node.command),
                say(
                    "it already opens the node at {other_path}:{other_line}; remove one.",
                    other_path=other_doc.path,
                    other_line=other_line,
                ),
            )
        ]
    commands[node.command] = (doc, line)
    return []


def _check_node(
    node: Node, doc: YamlDocument, loc: tuple[str | int, ...], facts: Facts, lang: str, catalogs: Catalogs
) -> list[Problem]:
    problems = list(_check_placeholders(node.text, doc, (*loc, "text"), facts))
    problems += _check_placeholders(node.title, doc, (*loc, "title"), facts)
    html_problem = telegram_html.check(node.text)
    if html_problem is not None:
        line = doc.line_in_text((*loc, "text"), html_problem.offset, node.text)
        problems.append(Problem(doc.path, line, html_problem.message, html_problem.hint))
    elif not problems:
        length = telegram_length_rendered(node.text, facts, lang, catalogs)
        line = doc.line_of((*loc, "text"))
        if length > telegram_html.MAX_MESSAGE_LENGTH:
            problems.append(
                Problem(
                    doc.path,
                    line,
                    say(
                        "the text is {length} characters; Telegram's limit is {max_text}",
                        length=length,
                        max_text=telegram_html.MAX_MESSAGE_LENGTH,
                    ),
                    say("split it into two nodes joined by a button."),
                )
            )
        elif length > LONG_TEXT:
            problems.append(
                Problem(
                    doc.path,
                    line,
                    say("the text is {length} characters long", length=length),
                    say("short messages are easier to read on a phone; consider splitting it."),
                    "warning",
                )
            )
        elif length == 0:
            problems.append(
                Problem(doc.path, line, say("the text shows nothing"), say("write the message text."))
            )
    for offset, key, word in repeated_units(node.text, facts.values, facts.languages.get(lang), catalogs):
        shown = facts.display(key, lang, catalogs)
        problems.append(
            Problem(
                doc.path,
                doc.line_in_text((*loc, "text"), offset, node.text),
                say(
                    "{{{key}}} already shows its unit ({shown!r}), so {word!r} would be there twice",
                    key=key,
                    shown=shown,
                    word=word,
                ),
                say("remove {word!r} after {{{key}}}.", word=word, key=key),
                "warning",
            )
        )
    for b_index, button in enumerate(node.buttons):
        b_loc = (*loc, "buttons", b_index)
        problems += _check_placeholders(button.text, doc, (*b_loc, "text"), facts)
        if button.url is not None:
            problems += _check_placeholders(button.url, doc, (*b_loc, "url"), facts)
            problems += _check_url(button.url, doc, (*b_loc, "url"), facts, lang, catalogs)
        if button.goto is not None and not callbacks.fits(callbacks.goto(button.goto)):
            size = len(callbacks.goto(button.goto).encode())
            problems.append(
                Problem(
                    doc.path,
                    doc.line_of((*b_loc, "goto")),
                    say(
                        "this button would send {size} bytes of callback data; Telegram allows {most}",
                        size=size,
                        most=telegram_html.MAX_CALLBACK_BYTES,
                    ),
                    say("use a shorter node id (at most 60 letters)."),
                )
            )
        problems += _check_auto_delete(button, doc, b_loc, facts)
    if not node.buttons and not node.end:
        problems.append(
            Problem(
                doc.path,
                doc.line_of(loc),
                say("node `{node}` is a dead end (no buttons)", node=node.id),
                say(
                    "add a button to where the reader may want to go next (e.g. `goto: telefon`), or "
                    "write `end: true` if the menu button is enough."
                ),
            )
        )
    for key in ("phrases", "keywords"):
        for p_index, phrase in enumerate(getattr(node, key)):
            if not phrase.strip():
                problems.append(
                    Problem(
                        doc.path,
                        doc.line_of((*loc, key, p_index)),
                        say("an empty entry in {key}", key=key),
                        say("remove the empty line."),
                    )
                )
    return problems


def telegram_length_rendered(template: str, facts: Facts, lang: str, catalogs: Catalogs) -> int:
    """Telegram's length of a text once its facts are filled in."""
    return telegram_html.telegram_length(facts.render(template, lang, catalogs))


def _check_placeholders(
    template: str, doc: YamlDocument, loc: tuple[str | int, ...], facts: Facts
) -> list[Problem]:
    problems = []
    for offset, key in placeholders(template):
        if key not in facts.values and key not in DYNAMIC_FACTS:
            hint = _missing_fact_hint(key, facts)
            problems.append(
                Problem(
                    doc.path,
                    doc.line_in_text(loc, offset, template),
                    say("the fact {{{key}}} does not exist in facts.yaml", key=key),
                    hint,
                )
            )
    return problems


def _check_auto_delete(
    button: Button, doc: YamlDocument, loc: tuple[str | int, ...], facts: Facts
) -> list[Problem]:
    """An auto-delete choice must come while Telegram still lets the bot delete what was written."""
    seconds = button.auto_delete_seconds()
    window = facts.values.get("privacy.message_delete_hours")
    if not seconds or not isinstance(window, int) or seconds <= window * 3600:
        return []
    return [
        Problem(
            doc.path,
            doc.line_of((*loc, "auto_delete")),
            say(
                "`auto_delete: {auto_delete}` is later than Telegram lets the bot delete messages "
                "({window} hours after they were sent)",
                auto_delete=button.auto_delete,
                window=window,
            ),
            say("choose at most {window}h, e.g. `auto_delete: 24h`.", window=window),
        )
    ]


def _missing_fact_hint(key: str, facts: Facts) -> str:
    """A likely typo of a fact in the same group, or else: put the fact (back) in facts.yaml.

    Only a near-identical name is suggested: the closest other fact of a group is usually another
    fact altogether ({hotline.name} for a deleted {hotline.lawyers}), and a wrong one would be shown.
    """
    group, _, name = key.rpartition(".")
    siblings = [k.rpartition(".")[2] for k in facts.values if k.rpartition(".")[0] == group]
    close = difflib.get_close_matches(name, siblings, n=1, cutoff=SIMILAR_FACT)
    if close:
        return say(
            "did you mean {{{group}{suggestion}}}?",
            group=group + "." if group else "",
            suggestion=close[0],
        )
    typo = difflib.get_close_matches(key, list(facts.values), n=1, cutoff=SIMILAR_FACT + 0.1)
    if typo:  # the group misspelt: {hotlin.phone}
        return say("did you mean {{{suggestion}}}?", suggestion=typo[0])
    if not group:
        return say(
            "put `{name}:` back in dialogues/facts.yaml (version control has its old value), or "
            "remove {{{key}}} from this text.",
            name=name,
            key=key,
        )
    return say(
        "put `{name}:` back under `{group}:` in dialogues/facts.yaml (version control has its old "
        "value), or remove {{{key}}} from this text.",
        name=name,
        group=group.rpartition(".")[2],
        key=key,
    )


def _check_url(
    url: str, doc: YamlDocument, loc: tuple[str | int, ...], facts: Facts, lang: str, catalogs: Catalogs
) -> list[Problem]:
    if any(key not in facts.values for _, key in placeholders(url)):
        return []  # already reported as an unknown fact
    rendered = facts.render(url, lang, catalogs, escape=False)
    if _URL_SCHEMES.match(rendered):
        return []
    if rendered.startswith(("tel:", "mailto:")):
        hint = say(
            "Telegram refuses tel: and mailto: buttons; write the number or address in the text, where "
            "Telegram makes it tappable, and remove this button."
        )
    else:
        hint = say("a link button needs an address starting with https:// (or http://, tg://).")
    return [
        Problem(
            doc.path,
            doc.line_of(loc),
            say("the button address {rendered!r} is not a web address", rendered=rendered),
            hint,
        )
    ]


def _unknown_node(
    doc: YamlDocument, loc: tuple[str | int, ...], target: str, known: Iterable[str]
) -> Problem:
    close = difflib.get_close_matches(target, list(known), n=1)
    hint = (
        say("did you mean `{suggestion}`?", suggestion=close[0])
        if close
        else say("check the spelling, or add a node with that id.")
    )
    return Problem(doc.path, doc.line_of(loc), say("there is no node `{target}`", target=target), hint)


def _check_required(loaded: list[LoadedFile], known: set[str]) -> list[Problem]:
    if not loaded:
        return []
    first = loaded[0].doc.path
    return [
        Problem(
            first,
            1,
            say("the required node `{node}` is missing", node=node_id),
            say("the bot needs a node with `id: {node}`; restore it from version control.", node=node_id),
        )
        for node_id in REQUIRED_NODES
        if node_id not in known
    ]


def _check_reachable(
    loaded: list[LoadedFile], first_seen: dict[str, tuple[YamlDocument, int]], alarms: frozenset[str]
) -> list[Problem]:
    """Every node can be reached: by a command, by typing (phrases, or an alarm of acute.yaml) or a button."""
    nodes = {n.id: n for f in loaded for n in f.script.nodes}
    reached: set[str] = set()
    typed = {n.id for n in nodes.values() if n.id in REQUIRED_NODES or n.command or n.phrases or n.keywords}
    queue = [*typed, *alarms]
    while queue:
        current = queue.pop()
        if current in reached or current not in nodes:
            continue
        reached.add(current)
        queue.extend(b.goto for b in nodes[current].buttons if b.goto)
    problems = []
    for node_id in sorted(set(nodes) - reached):
        doc, index = first_seen[node_id]
        problems.append(
            Problem(
                doc.path,
                doc.line_of(("nodes", index)),
                say("nothing leads to node `{node}` yet (nobody can reach it)", node=node_id),
                say(
                    "add a button with `goto: {node}` to another node, give it `phrases:` people might "
                    "type, or remove it.",
                    node=node_id,
                ),
                "warning",  # a half-finished edit is saved and served; the new node waits for its link
            )
        )
    return problems


def _check_phrase_clashes(loaded: list[LoadedFile]) -> list[Problem]:
    seen: dict[str, str] = {}
    problems = []
    for item in loaded:
        for index, node in enumerate(item.script.nodes):
            for p_index, phrase in enumerate(node.phrases):
                key = " ".join(phrase.lower().split())
                if key in seen and seen[key] != node.id:
                    problems.append(
                        Problem(
                            item.doc.path,
                            item.doc.line_of(("nodes", index, "phrases", p_index)),
                            say(
                                "the phrase {phrase!r} also leads to `{other}`",
                                phrase=phrase,
                                other=seen[key],
                            ),
                            say("keep it on the node that answers it best."),
                            "warning",
                        )
                    )
                seen.setdefault(key, node.id)
    return problems
