"""`balansebot graph`: the flow chart drawn by the real `dot` matches the scripts it was drawn from."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bot.cli import main
from bot.content.scripts import FORM_NODE, LANGUAGE_NODE, MENU, REQUIRED_NODES, SOURCE_LANGUAGE, Scripts
from bot.staff.flow_graph import (
    ACUTE_FILL,
    BUILT_IN_FILL,
    REQUIRED_FILL,
    GraphvizMissing,
    flow_graph,
    render_flow,
)
from bot.staff_words import speaking
from tests.conftest import LOCALES, ROOT, Reload, needs_dot, run_balansebot

SVG = "{http://www.w3.org/2000/svg}"
XLINK_TITLE = "{http://www.w3.org/1999/xlink}title"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FREE_TEXT_MARK = "✎"
NASTY_TITLE = 'Om "B" <b>&amp; x</b> & 😀 \\N \\l \\\\ ]; }'


pytestmark = needs_dot


def parse_svg(data: bytes) -> ET.Element:
    """The SVG as an XML tree (it is our own `dot` output, not untrusted input)."""
    return ET.fromstring(data)  # noqa: S314


def groups(root: ET.Element, kind: str) -> dict[str, ET.Element]:
    """Every <g> whose class names `kind` ("node", "edge", "cluster"), by its id."""
    return {
        g.attrib["id"]: g
        for g in root.iter(f"{SVG}g")
        if kind in g.attrib.get("class", "").split() and "id" in g.attrib
    }


def texts(group: ET.Element) -> list[str]:
    """The lines of text drawn inside a group."""
    return [t.text or "" for t in group.iter(f"{SVG}text")]


def edges(root: ET.Element) -> set[tuple[str, str]]:
    """Every arrow as (from, to), read from the titles graphviz writes (`a->b`)."""
    pairs = set()
    for group in groups(root, "edge").values():
        title = group.find(f"{SVG}title")
        assert title is not None and title.text
        tail, head = title.text.split("->")
        pairs.add((tail, head))
    return pairs


def goto_pairs(scripts: Scripts, lang: str = SOURCE_LANGUAGE) -> set[tuple[str, str]]:
    """(node, target) for every goto button in one language's scripts."""
    return {
        (node.id, button.goto)
        for node in scripts.language(lang).nodes.values()
        for button in node.buttons
        if button.goto
    }


def shape_of(group: ET.Element) -> ET.Element:
    """The outline graphviz drew for a node (a path for rounded boxes, else a polygon)."""
    shape = group.find(f".//{SVG}path")
    if shape is None:
        shape = group.find(f".//{SVG}polygon")
    assert shape is not None
    return shape


def edit(path: Path, old: str, new: str) -> None:
    """Replace text in a script, insisting that it was there."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def svg_nb(scripts: Scripts) -> ET.Element:
    """The shipped scripts drawn in Bokmål."""
    return parse_svg(render_flow(scripts, "nb", "svg"))


@pytest.fixture(scope="module")
def svg_en(scripts: Scripts) -> ET.Element:
    """The shipped scripts drawn in English."""
    return parse_svg(render_flow(scripts, "en", "svg"))


def test_every_node_is_drawn_with_its_id_and_the_node_class(scripts: Scripts, svg_nb: ET.Element) -> None:
    drawn = groups(svg_nb, "node")
    for node_id, node in scripts.language("nb").nodes.items():
        group = drawn.get(f"node-{node_id}")
        assert group is not None, f"node {node_id} is not in the SVG"
        title = group.find(f"{SVG}title")
        assert title is not None and title.text == node_id
        assert node.title in texts(group)


def test_every_goto_button_is_an_arrow_and_nothing_else_is(scripts: Scripts, svg_nb: ET.Element) -> None:
    # Link buttons would add arrows to `link-…` boxes; the shipped scripts have none, so the sets are equal.
    assert edges(svg_nb) == goto_pairs(scripts)
    assert edges(svg_nb)  # the comparison is not vacuous


def test_arrows_carry_ids_and_the_button_text_on_hover(scripts: Scripts, svg_nb: ET.Element) -> None:
    drawn = groups(svg_nb, "edge")
    for tail, head in goto_pairs(scripts):
        group = drawn[f"edge-{tail}-{head}"]
        hover = [a.attrib[XLINK_TITLE] for a in group.iter(f"{SVG}a")]
        texts_of_buttons = [b.text for b in scripts.language("nb").nodes[tail].buttons if b.goto == head]
        assert all(text in hover[0] for text in texts_of_buttons), (tail, head, hover)


def test_the_implicit_menu_button_is_not_drawn_and_the_legend_says_so(
    scripts: Scripts, svg_nb: ET.Element
) -> None:
    into_menu = {tail for tail, head in edges(svg_nb) if head == MENU}
    explicit = {tail for tail, head in goto_pairs(scripts) if head == MENU}
    assert into_menu == explicit
    assert len(into_menu) < len(scripts.language("nb").nodes) / 4
    legend = " ".join(t.text or "" for t in svg_nb.iter(f"{SVG}text"))
    assert "tilbake til menyen" in legend
    assert "ikke tegnet" in legend


def test_free_text_nodes_are_marked_and_others_are_not(scripts: Scripts, svg_nb: ET.Element) -> None:
    drawn = groups(svg_nb, "node")
    typed = {n.id for n in scripts.for_routing().nodes.values() if n.phrases or n.keywords}
    assert typed and set(scripts.language("nb").nodes) - typed  # both kinds exist in the shipped scripts
    for node_id in scripts.language("nb").nodes:
        group = drawn[f"node-{node_id}"]
        marked = any(FREE_TEXT_MARK in line for line in texts(group))
        assert marked == (node_id in typed), node_id
        thick = float(shape_of(group).attrib.get("stroke-width", "1")) > 2
        assert thick == (node_id in typed), node_id


def test_a_node_reached_only_by_nynorsk_words_is_still_free_text(
    dialogues_copy: Path, reload: Reload
) -> None:
    # Routing merges every language's phrases, so the chart must too.
    nb = dialogues_copy / "nb" / "telefon.yaml"
    text = nb.read_text(encoding="utf-8")
    start = text.index("  - id: telefon_for_hvem")
    block = text[start:]
    phrases = block.index("    phrases:")
    nb.write_text(text[:start] + block[:phrases], encoding="utf-8")  # the last node: drop its phrases
    result = reload(dialogues_copy)
    assert result.scripts is not None, "\n".join(map(str, result.errors))
    bokmål = result.scripts.language("nb").nodes["telefon_for_hvem"]
    assert not bokmål.phrases and not bokmål.keywords
    assert result.scripts.language("nn").nodes["telefon_for_hvem"].phrases
    group = groups(parse_svg(render_flow(result.scripts, "nb", "svg")), "node")["node-telefon_for_hvem"]
    assert any(FREE_TEXT_MARK in line for line in texts(group))


def test_command_nodes_show_their_command(scripts: Scripts, svg_nb: ET.Element) -> None:
    drawn = groups(svg_nb, "node")
    commands = {n.id: n.command for n in scripts.language("nb").nodes.values() if n.command}
    assert {"start", "meny", "telefon"} <= set(commands)
    for node_id, command in commands.items():
        assert f"/{command}" in " ".join(texts(drawn[f"node-{node_id}"])), node_id


def test_quick_exit_and_auto_delete_buttons_are_marked_on_their_nodes(
    scripts: Scripts, svg_nb: ET.Element
) -> None:
    drawn = groups(svg_nb, "node")
    nodes = scripts.language("nb").nodes.values()
    exits = {n.id for n in nodes if any(b.quick_exit for b in n.buttons)}
    assert {"akutt", "meny", "usikker", "telefon", "overgrep"} <= exits
    for node in nodes:
        shown = " ".join(texts(drawn[f"node-{node.id}"]))
        assert ("⏏ skjul samtalen" in shown) == (node.id in exits), node.id
    assert "⏲ slett automatisk: 1h / 8h / 24h / av" in " ".join(texts(drawn["node-slett_automatisk"]))


def test_one_cluster_per_topic_holding_exactly_its_nodes(scripts: Scripts, svg_nb: ET.Element) -> None:
    nodes = scripts.language("nb").nodes.values()
    topics = {n.topic for n in nodes}
    assert set(groups(svg_nb, "cluster")) == {f"topic-{t}" for t in topics}
    # Membership is in graphviz's own layout (JSON output); the SVG draws clusters beside their nodes.
    layout = json.loads(flow_graph(scripts, "nb").pipe(format="json"))
    names = {o["_gvid"]: o["name"] for o in layout["objects"] if "nodes" not in o}
    members = {
        o["name"].removeprefix("cluster_"): {names[i] for i in o["nodes"]}
        for o in layout["objects"]
        if o["name"].startswith("cluster_")
    }
    assert members == {t: {n.id for n in nodes if n.topic == t} for t in topics}


def test_required_acute_and_built_in_nodes_stand_out(scripts: Scripts, svg_nb: ET.Element) -> None:
    drawn = groups(svg_nb, "node")
    fills = {node_id[len("node-") :]: shape_of(g).attrib["fill"] for node_id, g in drawn.items()}
    assert fills["akutt"] == ACUTE_FILL
    for node_id in set(REQUIRED_NODES) - {"akutt"}:
        assert fills[node_id] == REQUIRED_FILL, node_id
    assert fills["telefon_samtalen"] not in (REQUIRED_FILL, ACUTE_FILL, BUILT_IN_FILL)
    for built_in in (LANGUAGE_NODE, FORM_NODE):
        shape = shape_of(drawn[f"node-{built_in}"])
        assert shape.attrib["fill"] == BUILT_IN_FILL
        assert "stroke-dasharray" in shape.attrib
    assert ("start", LANGUAGE_NODE) in edges(svg_nb)
    assert ("merket_soke", FORM_NODE) in edges(svg_nb)
    assert "når ingenting passer" in " ".join(texts(drawn["node-ikke_forstatt"]))


def test_png_is_a_png(scripts: Scripts) -> None:
    assert render_flow(scripts, "nb", "png").startswith(PNG_MAGIC)


def test_english_chart_uses_english_titles(scripts: Scripts, svg_en: ET.Element) -> None:
    drawn = groups(svg_en, "node")
    english = scripts.language("en").nodes
    differ = [i for i, n in english.items() if n.title != scripts.language("nb").nodes[i].title]
    assert "start" in differ
    for node_id in differ:
        shown = texts(drawn[f"node-{node_id}"])
        assert english[node_id].title in shown
        assert scripts.language("nb").nodes[node_id].title not in shown
    legend = " ".join(t.text or "" for t in svg_en.iter(f"{SVG}text"))
    assert "How to read this chart" in legend


def test_the_legend_speaks_the_charts_language_not_the_staff_tools(scripts: Scripts) -> None:
    with speaking("en", LOCALES):
        drawn = flow_graph(scripts, "nn").source
    assert "Slik les du kartet" in drawn
    assert "How to read this chart" not in drawn


def test_an_untranslated_node_is_drawn_in_bokmal_and_says_so(dialogues_copy: Path, reload: Reload) -> None:
    english = dialogues_copy / "en" / "telefon.yaml"
    text = english.read_text(encoding="utf-8")
    english.write_text(text[: text.index("  - id: telefon_for_hvem")], encoding="utf-8")  # the last node
    result = reload(dialogues_copy)
    assert result.scripts is not None, "\n".join(map(str, result.errors))
    group = groups(parse_svg(render_flow(result.scripts, "en", "svg")), "node")["node-telefon_for_hvem"]
    assert result.scripts.language("nb").nodes["telefon_for_hvem"].title in texts(group)
    assert any("not translated" in line for line in texts(group))


def test_titles_and_button_texts_are_escaped(dialogues_copy: Path, reload: Reload) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    edit(om, "    title: Om Balansekunst\n", f"    title: '{NASTY_TITLE}'\n")
    edit(
        dialogues_copy / "nb" / "telefon.yaml",
        "- text: Hva skjer når jeg ringer?",
        "- text: 'A \"b\" <c> & \\N'",
    )
    result = reload(dialogues_copy)
    assert result.scripts is not None, "\n".join(map(str, result.errors))
    assert result.scripts.language("nb").nodes["om"].title == NASTY_TITLE
    root = parse_svg(render_flow(result.scripts, "nb", "svg"))
    assert NASTY_TITLE in texts(groups(root, "node")["node-om"])
    hover = [
        a.attrib[XLINK_TITLE] for a in groups(root, "edge")["edge-telefon-telefon_samtalen"].iter(f"{SVG}a")
    ]
    # Tooltips show a look-alike for the backslash: graphviz would read `\N` as the node's name.
    assert hover == ['A "b" <c> & ⧵N']
    assert render_flow(result.scripts, "nb", "png").startswith(PNG_MAGIC)


def test_link_buttons_go_to_a_box_named_after_the_host(dialogues_copy: Path, reload: Reload) -> None:
    telefon = dialogues_copy / "nb" / "telefon.yaml"
    edit(
        telefon,
        "      - text: Hva skjer når jeg ringer?\n",
        "      - text: Les mer hos Balansekunst\n        url: https://www.balansekunst.no/radgivning?a=1&b=2\n"
        "      - text: Hva skjer når jeg ringer?\n",
    )
    result = reload(dialogues_copy)
    assert result.scripts is not None, "\n".join(map(str, result.errors))
    root = parse_svg(render_flow(result.scripts, "nb", "svg"))
    link = groups(root, "node")["link-telefon-0"]
    assert "↗ www.balansekunst.no" in texts(link)
    assert "stroke-dasharray" in shape_of(link).attrib
    assert ("telefon", "link-telefon-0") in edges(root)
    assert edges(root) - {("telefon", "link-telefon-0")} == goto_pairs(result.scripts)


def test_unknown_language_and_format_are_refused(scripts: Scripts) -> None:
    with pytest.raises(ValueError, match="choose one of nb, nn, en"):
        flow_graph(scripts, "de")
    with pytest.raises(ValueError, match="choose one of svg, png"):
        render_flow(scripts, "nb", "pdf")  # type: ignore[arg-type]


def test_without_dot_render_flow_raises_graphviz_missing(
    scripts: Scripts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no `dot` anywhere on PATH
    with pytest.raises(GraphvizMissing, match="apt-get install graphviz"):
        render_flow(scripts, "nb", "svg")


# The command line, run as staff run it.


@pytest.mark.slow
@pytest.mark.own_database
def test_cli_writes_the_svg(tmp_path: Path) -> None:
    output = tmp_path / "flow.svg"
    result = run_balansebot("graph", "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert f"skrev {output} (svg, nb, " in result.stdout
    assert groups(parse_svg(output.read_bytes()), "node")["node-start"] is not None


@pytest.mark.parametrize(("args", "name"), [((), "flow.png"), (("--format", "png"), "flow.img")])
def test_cli_writes_png_by_ending_or_format(tmp_path: Path, args: tuple[str, ...], name: str) -> None:
    output = tmp_path / name
    assert main(["graph", "-o", str(output), "--lang", "nn", *args]) == 0
    assert output.read_bytes().startswith(PNG_MAGIC)


@pytest.mark.slow
@pytest.mark.own_database
def test_cli_writes_to_standard_output() -> None:
    result = run_balansebot("graph", "-o", "-", "--lang", "en")
    assert result.returncode == 0, result.stderr
    assert "Welcome" in result.stdout
    parse_svg(result.stdout.encode())


@pytest.mark.slow
@pytest.mark.own_database
def test_cli_without_dot_says_how_to_install_it(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    output = tmp_path / "flow.svg"
    result = run_balansebot("graph", "-o", str(output), env={"PATH": str(empty)})
    assert result.returncode == 2
    assert "apt-get install graphviz" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not output.exists()


@pytest.mark.parametrize("where", ["missing/flow.svg", "a_file/flow.svg", "."])
def test_cli_cannot_write_the_file_is_one_line_not_a_traceback(
    tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a_file").write_text("not a folder", encoding="utf-8")
    assert main(["graph", "-o", str(tmp_path / where)]) == 2
    stderr = capsys.readouterr().err
    assert "balansebot graph: kan ikke skrive " in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_cli_refuses_an_unknown_file_ending(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "flow.pdf"
    assert main(["graph", "-o", str(output)]) == 2
    assert "la navnet slutte på .svg eller .png, eller bruk --format" in capsys.readouterr().err
    assert not output.exists()


@pytest.mark.slow
@pytest.mark.own_database
def test_cli_on_broken_scripts_prints_the_errors_and_exits_1(dialogues_copy: Path, tmp_path: Path) -> None:
    edit(dialogues_copy / "nb" / "telefon.yaml", "goto: telefon_samtalen", "goto: telefon_samtal")
    output = tmp_path / "flow.svg"
    result = run_balansebot("graph", "-o", str(output), "--dialogues", str(dialogues_copy))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "telefon.yaml:" in result.stderr
    assert "det finnes ingen node `telefon_samtal`" in result.stderr
    assert "Traceback" not in result.stderr
    assert not output.exists()


def test_docs_picture_shows_every_node_and_button(scripts: Scripts) -> None:
    picture = ROOT / "docs" / "flow.svg"
    root = parse_svg(picture.read_bytes())
    stale = "docs/flow.svg is out of date; run `uv run balansebot graph -o docs/flow.svg`"
    assert {f"node-{i}" for i in scripts.language("nb").nodes} <= set(groups(root, "node")), stale
    assert edges(root) >= goto_pairs(scripts), stale
