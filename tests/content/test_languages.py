"""The languages come from dialogues/languages.yaml: adding one touches only data, and `check` says
when a language lacks its entry, its folder or its catalogue."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.content.loader import LoadResult, load_scripts
from bot.content.scripts import MENU, Scripts
from bot.engine import callbacks
from bot.engine.engine import Engine, choose_language
from bot.engine.model import ButtonPress, ChatState, Command
from bot.i18n import Catalogs
from bot.telegram.runtime import command_languages
from bot.web.app import browser_language
from tests.conftest import DIALOGUES, LOCALES
from tests.content.test_check_broken import edit, line_of

SAMI = """  - code: se
    name: Davvisámegiella
    locale: se_NO
    telegram: [sme]
    time: HH.mm
"""
SAMI_MENU_TEXT = "Válljet dás."  # what only the new language's menu says


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """Private copies of dialogues/ and locales/ side by side, as in the checkout."""
    shutil.copytree(DIALOGUES, tmp_path / "dialogues")
    shutil.copytree(LOCALES, tmp_path / "locales")
    return tmp_path


def add_sami(content: Path, *, entry: bool = True, folder: bool = True, catalogue: bool = True) -> None:
    """A fourth language made as staff would start one: English's scripts and catalogue copied."""
    if folder:
        shutil.copytree(content / "dialogues" / "en", content / "dialogues" / "se")
        start = content / "dialogues" / "se" / "start.yaml"
        text = start.read_text(encoding="utf-8")
        menu_at = text.index("  - id: meny\n")
        text_at = text.index("    text: |\n", menu_at) + len("    text: |\n")
        start.write_text(text[:text_at] + f"      {SAMI_MENU_TEXT}\n" + text[text_at:], encoding="utf-8")
    if catalogue:
        shutil.copytree(content / "locales" / "en", content / "locales" / "se")
        po = content / "locales" / "se" / "LC_MESSAGES" / "balansebot.po"
        edit(po, 'msgstr "↩️ Back to the menu"', 'msgstr "↩️ Ruovttoluotta fállui"')
        for other in (content / "locales" / "se" / "LC_MESSAGES").glob("staff.*"):
            other.unlink()  # the staff tools speak only their own three languages
    if entry:
        edit(content / "dialogues" / "languages.yaml", "\n# A chat whose", SAMI + "\n# A chat whose")


def load(content: Path) -> tuple[LoadResult, Catalogs]:
    """The copies loaded the way the bot loads them."""
    catalogs = Catalogs.load(content / "locales")
    return load_scripts(content / "dialogues", catalogs), catalogs


def test_a_fourth_language_added_as_data_only_is_offered_and_spoken(content: Path) -> None:
    add_sami(content)
    result, catalogs = load(content)
    assert result.scripts is not None, "\n".join(map(str, result.errors))
    assert result.problems == []  # as clean as the shipped content
    scripts = result.scripts
    engine = Engine(scripts, catalogs)

    choice = engine.handle(ChatState(lang="nb"), Command("sprak")).replies[0]
    offered = [row[0].text for row in choice.keyboard[:-1]]  # the last row leads back to the menu
    assert offered == ["Norsk bokmål", "Norsk nynorsk", "English", "Davvisámegiella"]

    chosen = engine.handle(ChatState(lang="nb"), ButtonPress(callbacks.language("se")))
    assert chosen.state.lang == "se"
    (menu,) = chosen.replies
    assert menu.node == MENU
    assert SAMI_MENU_TEXT in menu.text
    back = engine.handle(chosen.state, Command("telefon")).replies[0].keyboard[-1][0]
    assert back.text == "↩️ Ruovttoluotta fállui"  # the bot's own words from its catalogue

    # A new chat whose Telegram (or browser) speaks it starts in it; its command menu is set too.
    assert choose_language("se", scripts) == choose_language("sme-NO", scripts) == "se"
    assert choose_language("de", scripts) == "en"
    assert browser_language("se-NO,nb;q=0.5", scripts) == "se"
    assert ("se", "se") in command_languages(scripts.language_list)
    assert ("sme", "se") in command_languages(scripts.language_list)


def test_check_is_clean_with_the_fourth_language(
    content: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add_sami(content)
    monkeypatch.setenv("LOCALES_DIR", str(content / "locales"))
    assert main(["--lang", "en", "check", "--dialogues", str(content / "dialogues")]) == 0
    assert "in en, nb, nn, se" in capsys.readouterr().out


def test_the_chat_command_starts_in_the_fourth_language(
    content: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add_sami(content)
    monkeypatch.setenv("LOCALES_DIR", str(content / "locales"))
    monkeypatch.setattr("sys.stdin", io.StringIO("/meny\n"))
    assert main(["chat", "--no-color", "--lang", "se", "--dialogues", str(content / "dialogues")]) == 0
    assert SAMI_MENU_TEXT in capsys.readouterr().out
    assert main(["chat", "--no-color", "--lang", "sv", "--dialogues", str(content / "dialogues")]) == 2
    assert "velg et av nb, nn, en, se" in capsys.readouterr().err  # the staff tools speak Bokmål


def test_a_folder_without_a_catalogue_is_an_error(content: Path) -> None:
    add_sami(content, catalogue=False)
    result, _ = load(content)
    assert result.scripts is None
    (error,) = [p for p in result.errors if "catalogue" in p.message]
    assert error.path == Path("dialogues/se")
    assert "has no catalogue of the bot's own words" in error.message
    assert "locales/se/LC_MESSAGES/balansebot.po" in error.hint


def test_a_catalogue_without_a_folder_is_a_warning(content: Path) -> None:
    add_sami(content, entry=False, folder=False)
    result, _ = load(content)
    assert result.scripts is not None, "\n".join(map(str, result.errors))
    (warning,) = [p for p in result.problems if "catalogue for" in p.message]
    assert warning.severity == "warning"
    assert warning.path == Path("locales/se/LC_MESSAGES/balansebot.po")
    assert "dialogues/se/" in warning.message


def test_a_listed_language_without_a_folder_is_an_error(content: Path) -> None:
    add_sami(content, folder=False)
    result, _ = load(content)
    assert result.scripts is None
    (error,) = result.errors
    languages = content / "dialogues" / "languages.yaml"
    assert error.path == Path("dialogues/languages.yaml")
    assert error.line == line_of(languages, "- code: se")
    assert "there is no folder dialogues/se/" in error.message


def test_a_folder_not_in_the_languages_file_is_an_error(content: Path) -> None:
    add_sami(content, entry=False)
    result, _ = load(content)
    assert result.scripts is None
    (error,) = result.errors
    assert error.path == Path("dialogues/se")
    assert "not listed in languages.yaml" in error.message
    assert "- code: se" in error.hint


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        ("  - code: nn\n", "  - code: nb # twice\n", "code: nb # twice", "listed twice"),
        ("locale: nn_NO", "locale: nynorsk", "locale: nynorsk", "does not know the locale `nynorsk`"),
        ('telegram: ["no"]', 'telegram: ["no", "nn"]', "- code: nn", "claimed by both"),
        ("\nother: en", "\nother: de", "other: de", "`other: de` is not one of"),
        ("    locale: en_GB\n", "    locale: en_GB\n    plural: s\n", "plural: s", "unknown key `plural`"),
        ("  - code: nn\n", "  - code: Nynorsk\n", "code: Nynorsk", "code"),
    ],
)
def test_a_broken_languages_file_is_refused_with_its_line(
    content: Path, old: str, new: str, where: str, message: str
) -> None:
    languages = content / "dialogues" / "languages.yaml"
    edit(languages, old, new)
    result, _ = load(content)
    assert result.scripts is None
    found = [p for p in result.errors if p.path == Path("dialogues/languages.yaml")]
    assert [p.line for p in found] == [line_of(languages, where)], "\n".join(map(str, result.errors))
    assert message in found[0].message


def test_a_missing_languages_file_is_refused_but_the_scripts_are_still_checked(content: Path) -> None:
    (content / "dialogues" / "languages.yaml").unlink()
    edit(content / "dialogues" / "nb" / "telefon.yaml", "goto: telefon_samtalen", "goto: telefon_samtal")
    result, _ = load(content)
    assert result.scripts is None
    messages = [p.message for p in result.errors]
    assert "the languages file is missing" in messages
    assert any("no node `telefon_samtal`" in m for m in messages)


def test_the_check_speaks_norwegian_about_a_missing_catalogue(
    content: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add_sami(content, catalogue=False)
    monkeypatch.setenv("LOCALES_DIR", str(content / "locales"))
    assert main(["check", "--dialogues", str(content / "dialogues")]) == 1
    out = capsys.readouterr().out
    assert "dialogues/se:1: feil: språket `se` har ingen katalog med botens egne ord" in out
    assert "lag locales/se/LC_MESSAGES/balansebot.po" in out


def test_a_press_for_a_language_without_scripts_keeps_the_chat_as_it_was(engine: Engine) -> None:
    pressed = engine.handle(ChatState(lang="nn"), ButtonPress(callbacks.language("se")))
    assert pressed.state.lang == "nn"
    assert pressed.replies[0].node == MENU
    assert pressed.replies[0].text.startswith("Den knappen er ikkje i bruk lenger.")


def test_the_shipped_languages_are_the_shipped_folders(scripts: Scripts) -> None:
    assert scripts.language_list.codes == ("nb", "nn", "en")
    assert set(scripts.languages) == set(scripts.language_list.codes)
