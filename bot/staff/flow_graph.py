"""Draw the dialogue scripts as a flow chart: nodes grouped by topic, buttons as arrows (graphviz)."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlsplit

# The graphviz package ships no type information; `unused-ignore` keeps this line valid if stubs appear.
import graphviz  # type: ignore[import-untyped,unused-ignore]

from bot.content.scripts import (
    ACUTE,
    DELETED,
    FALLBACK,
    FORM_NODE,
    LANGUAGE_NODE,
    MENU,
    REQUIRED_NODES,
    SOURCE_LANGUAGE,
    START,
    ScriptButton,
    ScriptNode,
    Scripts,
)
from bot.staff_words import STAFF_LANGUAGES, StaffWords, say, spoken_words, words_in

Format = Literal["svg", "png"]
FORMATS: tuple[Format, ...] = ("svg", "png")

# Colours are named once so the legend and the nodes cannot disagree.
PLAIN_FILL = "#ffffff"
REQUIRED_FILL = "#fff4c2"
ACUTE_FILL = "#ffd9d9"
BUILT_IN_FILL = "#ececec"
LINK_COLOUR = "#1f5fa8"
MENU_EDGE_COLOUR = "#9a9a9a"
FONT = "Helvetica"


class GraphvizError(RuntimeError):
    """Graphviz could not draw the flow chart."""


class GraphvizMissing(GraphvizError):  # noqa: N818 -- the name the browser preview imports
    """The `dot` program is not installed (or not on PATH)."""


class GraphvizFailed(GraphvizError):  # noqa: N818 -- named like GraphvizMissing
    """`dot` ran but failed; its own message is attached."""


# The built-in language node is titled as the bot's own button, the same in every language.
LANGUAGE_TITLE = "Språk / Language"


def flow_graph(scripts: Scripts, lang: str = "nb") -> graphviz.Digraph:
    """The scripts as a graphviz Digraph, with node titles in `lang` (untranslated nodes in Bokmål)."""
    if lang not in scripts.languages:
        choices = ", ".join(c for c in scripts.language_list.codes if c in scripts.languages)
        raise ValueError(
            say("no scripts in language {lang!r}; choose one of {choices}", lang=lang, choices=choices)
        )
    # The legend is the staff tools' words: in the chart's language when it is one of theirs.
    words = words_in(lang) if lang in STAFF_LANGUAGES else spoken_words()
    graph = graphviz.Digraph(name="balansebot", comment="Balansebot dialogue flow (balansebot graph)")
    graph.attr(rankdir="TB", bgcolor="white", fontname=FONT, newrank="true", nodesep="0.25", ranksep="0.6")
    graph.attr(
        "node", shape="box", style="rounded,filled", fillcolor=PLAIN_FILL, fontname=FONT, fontsize="11"
    )
    graph.attr("edge", color="#4a4a4a", arrowsize="0.7")
    graph.attr(label=_legend(words), labelloc="b", labeljust="l")

    source_ids = list(scripts.language(SOURCE_LANGUAGE).nodes)
    nodes = [_shown_node(scripts, lang, node_id) for node_id in source_ids]
    # Free text in any language leads to a node, whatever the chat's language (Scripts.for_routing).
    typed = {n.id for n in scripts.for_routing().nodes.values() if n.phrases or n.keywords}
    translated = set(scripts.language(lang).nodes)

    # The start topic first, so the chart reads from the greeting downwards.
    topics = _in_order([n.topic for n in nodes if n.id == START] + [n.topic for n in nodes])
    for topic in topics:
        with graph.subgraph(name=f"cluster_{topic}") as cluster:
            cluster.attr(
                label=_html_label(f"<B>{_html_text(topic)}</B>"),
                id=f"topic-{topic}",
                style="rounded,filled",
                fillcolor="#f5f7fa",
                color="#c9d1d9",
                fontsize="13",
                labelloc="t",  # the graph's own label (the legend) sits at the bottom; topics stay on top
            )
            for node in (n for n in nodes if n.topic == topic):
                _add_node(cluster, node, words, free_text=node.id in typed, translated=node.id in translated)
                _add_links(cluster, node)

    known = set(source_ids)
    for built_in in _in_order(b.goto for n in nodes for b in n.buttons if b.goto and b.goto not in known):
        _add_built_in(graph, built_in, words)
    for node in nodes:
        _add_goto_edges(graph, node)
    return graph


def render_flow(scripts: Scripts, lang: str, fmt: Format) -> bytes:
    """The flow chart drawn by `dot` as SVG or PNG bytes."""
    if fmt not in FORMATS:
        raise ValueError(
            say("unknown format {fmt!r}; choose one of {choices}", fmt=fmt, choices=", ".join(FORMATS))
        )
    graph = flow_graph(scripts, lang)
    try:
        drawn: bytes = graph.pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound as exc:
        raise GraphvizMissing(
            say(
                "the `dot` program from Graphviz is not installed; install it with `apt-get install graphviz`"
            )
        ) from exc
    except graphviz.CalledProcessError as exc:
        detail = exc.stderr.decode(errors="replace").strip() if isinstance(exc.stderr, bytes) else ""
        raise GraphvizFailed(
            say(
                "`dot` failed (exit {code}): {detail}",
                code=exc.returncode,
                detail=detail or say("no message"),
            )
        ) from exc
    return drawn


def _shown_node(scripts: Scripts, lang: str, node_id: str) -> ScriptNode:
    """The node as a reader of `lang` sees it: the translation, or the Bokmål node when there is none."""
    node = scripts.node(lang, node_id)
    if node is None:  # cannot happen for a source node id; kept so the chart never crashes on it
        raise ValueError(f"node {node_id!r} is missing")
    return node


def _add_node(
    graph: graphviz.Digraph, node: ScriptNode, words: StaffWords, *, free_text: bool, translated: bool
) -> None:
    """One dialogue node: its title, id and how readers reach it besides buttons."""
    notes = [node.id]
    if node.command:
        notes.append(f"/{node.command}")
    if free_text:
        notes.append(words.say("✎ free text"))
    special = {
        FALLBACK: words.say("when nothing matches"),
        ACUTE: words.say("when a message sounds acute"),
        DELETED: words.say("after /slett"),
    }.get(node.id)
    if special:
        notes.append(special)
    if any(b.quick_exit for b in node.buttons):
        notes.append(words.say("⏏ hide this chat"))
    choices = [b.auto_delete_seconds for b in node.buttons if b.auto_delete_seconds is not None]
    if choices:
        label = words.say("⏲ auto-delete")
        notes.append(f"{label}: {' / '.join(_compact(c, words) for c in choices)}")
    if not translated:
        notes.append(words.say("not translated"))
    fill = ACUTE_FILL if node.id == ACUTE else REQUIRED_FILL if node.id in REQUIRED_NODES else PLAIN_FILL
    graph.node(
        node.id,
        label=_node_label(node.title, notes),
        id=f"node-{node.id}",
        fillcolor=fill,
        penwidth="2.6" if free_text else "1",
        tooltip=_tooltip(node.title),
    )


def _add_built_in(graph: graphviz.Digraph, node_id: str, words: StaffWords) -> None:
    """A node the engine makes itself (the language choice, the interest form) that a button leads to."""
    title, notes = {
        LANGUAGE_NODE: (LANGUAGE_TITLE, [node_id, "/sprak"]),
        FORM_NODE: (
            words.say("Interest form"),
            [node_id, words.say("built in; only when SMTP_HOST or STAFF_CHAT_ID is set")],
        ),
    }.get(node_id, (node_id, [node_id]))
    graph.node(
        node_id,
        label=_node_label(title, notes),
        id=f"node-{node_id}",
        shape="box",
        style="rounded,filled,dashed",
        fillcolor=BUILT_IN_FILL,
        tooltip=_tooltip(title),
    )


def _add_links(graph: graphviz.Digraph, node: ScriptNode) -> None:
    """A small ↗ box per link button, beside its node, labelled with the web site's host."""
    for index, button in enumerate(b for b in node.buttons if b.url):
        url = button.url or ""
        # Node ids cannot contain '-', so these names never clash with a dialogue node.
        name = f"link-{node.id}-{index}"
        host = urlsplit(url).hostname or url
        graph.node(
            name,
            label=_html_label(f'<FONT COLOR="{LINK_COLOUR}">↗ {_html_text(host)}</FONT>'),
            id=name,
            shape="note",
            style="filled,dashed",
            fillcolor=PLAIN_FILL,
            color=LINK_COLOUR,
            fontsize="10",
            tooltip=_tooltip(f"{button.text}: {url}"),
        )
        graph.edge(
            node.id,
            name,
            id=f"edge-{node.id}-{name}",
            style="dashed",
            color=LINK_COLOUR,
            tooltip=_tooltip(button.text),
        )


def _add_goto_edges(graph: graphviz.Digraph, node: ScriptNode) -> None:
    """One arrow per target, even when several buttons lead there; hovering shows their texts."""
    targets: dict[str, list[ScriptButton]] = {}
    for button in node.buttons:
        if button.goto:
            targets.setdefault(button.goto, []).append(button)
    for target, buttons in targets.items():
        back_to_start = target in (MENU, START)
        graph.edge(
            node.id,
            target,
            id=f"edge-{node.id}-{target}",
            tooltip=_tooltip(" / ".join(b.text for b in buttons)),
            # Arrows back to the menu would pull every node towards it and tangle the layout.
            color=MENU_EDGE_COLOUR if back_to_start else "#4a4a4a",
            constraint="false" if back_to_start else "true",
        )


def _compact(seconds: int, words: StaffWords) -> str:
    """An auto-delete choice as the chart shows it: 8h, 30m, 5s, or off."""
    if seconds == 0:
        return words.say("off")
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _node_label(title: str, notes: Iterable[str]) -> str:
    """An HTML-like label: the title in bold, then small notes (id, /command, free text)."""
    small = " · ".join(_html_text(n) for n in notes)
    return _html_label(f'<B>{_html_text(title)}</B><BR/><FONT POINT-SIZE="9" COLOR="#555555">{small}</FONT>')


def _legend(words: StaffWords) -> str:
    """The chart's key, drawn under it."""
    rows = [
        (None, words.say("arrow = a button (hover for the button's text)")),
        (
            None,
            words.say(
                "Every node also has a 'back to the menu' button; those arrows are not drawn. "
                "Grey arrows lead to the menu or the start."
            ),
        ),
        (None, words.say("thick border and ✎: also reached by typing (phrases/keywords)")),
        (None, words.say("/command: opened by that command")),
        (REQUIRED_FILL, words.say("yellow: the bot needs this node")),
        (ACUTE_FILL, words.say("red: acute help")),
        (BUILT_IN_FILL, words.say("grey dashed: made by the bot itself, not in the scripts")),
        (None, words.say("↗ blue dashed: a link to a web page")),
        (
            None,
            words.say("⏏ a button that deletes the chat at once; ⏲ buttons that choose automatic deletion"),
        ),
    ]
    cells = "".join(
        (f'<TR><TD BGCOLOR="{colour}" BORDER="1" WIDTH="14"> </TD>' if colour else "<TR><TD> </TD>")
        + f'<TD ALIGN="LEFT">{_html_text(text)}</TD></TR>'
        for colour, text in rows
    )
    title = _html_text(words.say("How to read this chart"))
    return _html_label(
        '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2">'
        f'<TR><TD COLSPAN="2" ALIGN="LEFT"><B>{title}</B></TD></TR>{cells}</TABLE>'
    )


def _html_text(text: str) -> str:
    """Plain text made safe inside an HTML-like label: markup as entities, backslashes literal.

    Graphviz expands `\\N`, `\\G` … (the node's name, the graph's) even in HTML-like labels, after
    decoding entities, so a backslash is doubled rather than written as `&#92;`.
    """
    return html.escape(text).replace("\\", "\\\\")


def _tooltip(text: str) -> str:
    """Plain text made safe as a tooltip (shown on hover in the SVG).

    Graphviz (2.43) unescapes tooltips twice, so no number of backslashes is right on every version;
    a look-alike character shows the same thing and can never start an escape.
    """
    # After escaping, the text cannot start with "<", so graphviz will not take it for HTML.
    return html.escape(text).replace("\\", "\u29f5")


def _html_label(inner: str) -> str:
    """Mark a label as graphviz HTML-like: the text inside must already be escaped."""
    return f"<{inner}>"


def _in_order(items: Iterable[str]) -> list[str]:
    """Each item once, in the order first seen."""
    return list(dict.fromkeys(items))
