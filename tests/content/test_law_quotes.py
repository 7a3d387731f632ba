"""Every law quotation in the scripts is the text facts.yaml records from Lovdata, character by character."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.content.facts import build_facts
from bot.content.sources import FactSources, is_whole_sentences_of, law_quotes, quote_problem, read_sources
from bot.content.yaml_source import YamlDocument, read_yaml
from tests.conftest import DIALOGUES, Reload, shipped_languages
from tests.content.test_check_broken import edit, line_of

LANGUAGES = ("nb", "nn", "en")
# Arbeidsmiljøloven § 4-3 as in force from 1 January 2026: two new first paragraphs moved the
# harassment paragraph (with «herunder seksuell trakassering» since 2024) from third to fifth.
WORKING_ENVIRONMENT_ACT_4_3_5_FIRST_SENTENCE = (
    "Arbeidstaker skal ikke utsettes for trakassering, herunder seksuell trakassering, eller annen "
    "utilbørlig opptreden."
)


def facts_document(folder: Path = DIALOGUES) -> YamlDocument:
    """dialogues/facts.yaml as parsed, with its lines."""
    doc = read_yaml(folder / "facts.yaml")
    assert isinstance(doc, YamlDocument), doc
    return doc


def sources(folder: Path = DIALOGUES) -> FactSources:
    """The sources facts.yaml records, which must read without problems."""
    found, problems = read_sources(facts_document(folder))
    assert found is not None and problems == [], problems
    return found


def script_texts(folder: Path = DIALOGUES) -> list[tuple[str, str, str]]:
    """(language, node id, text as written) of every node."""
    texts = []
    for lang in LANGUAGES:
        for path in sorted((folder / lang).glob("*.yaml")):
            doc = read_yaml(path)
            assert isinstance(doc, YamlDocument), doc
            for node in doc.data.get("nodes", []) if isinstance(doc.data, dict) else []:
                texts.append((lang, str(node["id"]), str(node["text"])))
    return texts


def all_quotes() -> list[tuple[str, str, str, str, int]]:
    """(language, node, quoted text, section fact, paragraph) of every quotation in the scripts."""
    found = []
    for lang, node, text in script_texts():
        for quote in law_quotes(text):
            assert quote.section_fact is not None and quote.paragraph is not None, (
                f"{lang}/{node}: the quotation «{quote.text[:40]}…» does not say which section and "
                "paragraph it quotes"
            )
            found.append((lang, node, quote.text, quote.section_fact, quote.paragraph))
    return found


def test_every_quotation_is_the_recorded_law_text_character_by_character() -> None:
    recorded = sources()
    facts = build_facts(facts_document().data, shipped_languages())
    quotes = all_quotes()
    assert quotes, "the scripts quote the law"
    for lang, node, text, section_fact, paragraph in quotes:
        section = facts.values[section_fact]
        law = recorded.quote(section_fact, str(section), paragraph)
        assert law is not None, f"{lang}/{node}: facts.yaml records no text of {section} ({paragraph})"
        # Character by character: the quotation is the paragraph, or whole sentences of it.
        assert is_whole_sentences_of(text, law), f"{lang}/{node}: {text!r} is not {section} ({paragraph})"


def test_the_quotations_cover_both_acts_in_every_language() -> None:
    cited = {(lang, section_fact, paragraph) for lang, _, _, section_fact, paragraph in all_quotes()}
    for lang in LANGUAGES:
        assert (lang, "law.equality_act_section", 3) in cited, lang
        assert (lang, "law.equality_act_section", 6) in cited, lang
        assert (lang, "law.working_environment_act_section", 5) in cited, lang


def test_the_working_environment_act_is_quoted_as_it_stands_today() -> None:
    law = sources().quote("law.working_environment_act_section", "§ 4-3", 5)
    assert law is not None and law.startswith(WORKING_ENVIRONMENT_ACT_4_3_5_FIRST_SENTENCE)
    assert "herunder seksuell trakassering" in law
    assert sources().quote("law.working_environment_act_section", "§ 4-3", 3) is None, "no longer paragraph 3"
    quoted = [
        text
        for _, node, text, _, paragraph in all_quotes()
        if node == "arbeidsgiver_plikt" and paragraph == 5
    ]
    assert quoted == [WORKING_ENVIRONMENT_ACT_4_3_5_FIRST_SENTENCE] * len(LANGUAGES)
    for lang, node, text in script_texts():
        assert "utilbørlig opptreden" not in text or "herunder seksuell trakassering" in text, (lang, node)


def test_each_law_source_names_lovdata_and_the_day_it_was_checked() -> None:
    for _, entry in sources().entries:
        if any(name.startswith("law.") for name in entry.facts):
            assert entry.url is not None and entry.url.startswith("https://lovdata.no/"), entry.source
            assert "Lovdata" in entry.source
            assert entry.checked >= dt.date(2026, 12, 2)


def test_english_quotations_are_marked_as_unofficial_translations() -> None:
    for lang, node, text in script_texts():
        if lang != "en":
            continue
        for quote in law_quotes(text):
            after = text[quote.offset + len(quote.text) :]
            assert after.split("\n", 2)[1].startswith("<i>Unofficial translation:</i> “"), node


@pytest.mark.parametrize(
    ("quoted", "whole"),
    [
        (WORKING_ENVIRONMENT_ACT_4_3_5_FIRST_SENTENCE, True),
        (
            "Med trakassering menes handlinger, unnlatelser eller ytringer som har som formål eller "
            "virkning å være krenkende, skremmende, fiendtlige, nedverdigende eller ydmykende.",
            True,
        ),
        (
            "Arbeidstaker skal ikke utsettes for trakassering eller annen utilbørlig opptreden.",
            False,
        ),  # before 2024
        (
            "Arbeidstaker skal ikke utsettes for trakassering, herunder seksuell trakassering",
            False,
        ),  # half a sentence
        (
            "arbeidstaker skal ikke utsettes for trakassering, herunder seksuell trakassering, eller annen "
            "utilbørlig opptreden.",
            False,
        ),  # one letter's case
    ],
)
def test_a_quotation_must_be_whole_sentences_exactly(quoted: str, whole: bool) -> None:
    law = sources().quote("law.working_environment_act_section", "§ 4-3", 5)
    assert law is not None
    assert is_whole_sentences_of(quoted, law) is whole


def test_check_warns_with_file_and_line_when_a_quotation_is_changed(
    dialogues_copy: Path, reload: Reload
) -> None:
    script = dialogues_copy / "nb" / "trakassering.yaml"
    edit(script, "herunder seksuell trakassering, eller annen", "herunder seksuell trakassering eller annen")
    result = reload(dialogues_copy)
    (warning,) = [p for p in result.problems if "quotation differs" in p.message]
    assert warning.severity == "warning"
    assert warning.path == Path("dialogues/nb/trakassering.yaml")
    assert warning.line == line_of(script, "herunder seksuell trakassering eller annen")
    assert "§ 4-3 (5)" in warning.message and "','" in warning.message


def test_check_warns_when_the_cited_paragraph_is_not_the_one_quoted(
    dialogues_copy: Path, reload: Reload
) -> None:
    script = dialogues_copy / "nb" / "trakassering.yaml"
    edit(
        script,
        "{law.working_environment_act_section} femte ledd",
        "{law.working_environment_act_section} tredje ledd",
    )
    result = reload(dialogues_copy)
    (warning,) = [p for p in result.problems if "records no text of § 4-3 (3)" in p.message]
    assert warning.line == line_of(script, "«Arbeidstaker skal ikke utsettes")


def test_a_quotation_without_a_citation_is_reported() -> None:
    (quote,) = law_quotes("Loven sier:\n<blockquote>«Noe.»</blockquote>")
    recorded = sources()
    problem = quote_problem(quote, recorded, build_facts(facts_document().data, shipped_languages()))
    assert problem is not None and "does not say which section and paragraph" in problem
