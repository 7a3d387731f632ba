"""Every string that lives in code is translated in every catalogue, with the same placeholders."""

from __future__ import annotations

import ast
import re
import string

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.content.scripts import Scripts
from bot.engine.engine import choose_language
from bot.i18n import Catalogs, language_name
from tests.conftest import LOCALES, ROOT, shipped_languages

LANGUAGES = ("nb", "nn", "en")


def extracted() -> set[str | tuple[str, str]]:
    """The msgids pybabel would extract from bot/ (as `pybabel extract -F babel.cfg` does).

    A plural message (ngettext) is its (singular, plural) pair, as babel's catalogues have it.
    """
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "bot"), method_map=[("**.py", "python")]
    ):
        if isinstance(message, str):
            found.add(message)
        elif len(message) == 2 and all(isinstance(part, str) for part in message):
            found.add((str(message[0]), str(message[1])))
    return found


def placeholders(text: str) -> set[str]:
    """The {named} placeholders of a message."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_translates_every_string_with_the_same_placeholders(lang: str) -> None:
    with (LOCALES / lang / "LC_MESSAGES" / "balansebot.po").open("rb") as po:
        catalog = read_po(po, locale=lang)
    translated = {m.id: m for m in catalog if m.id}
    wanted = extracted()
    assert wanted, "extraction found the strings"
    assert sorted(wanted - set(translated)) == [], f"run pybabel update (see README) and translate for {lang}"
    for msgid in wanted:
        message = translated[msgid]
        assert not message.fuzzy, f"{lang}: {msgid!r} is fuzzy"
        if isinstance(msgid, tuple):
            # One form per plural of the language; the singular may spell its number ("én virkedag").
            forms = message.string
            assert isinstance(forms, tuple) and len(forms) == catalog.num_plurals, (
                f"{lang}: forms of {msgid!r}"
            )
            assert all(form.strip() for form in forms), f"{lang}: {msgid!r} untranslated"
            assert placeholders(forms[0]) <= placeholders(msgid[0]), f"{lang}: placeholders of {msgid!r}"
            for form in forms[1:]:
                assert placeholders(form) == placeholders(msgid[1]), f"{lang}: placeholders of {msgid!r}"
            continue
        assert isinstance(message.string, str) and message.string.strip(), f"{lang}: {msgid!r} untranslated"
        assert placeholders(message.string) == placeholders(str(msgid)), f"{lang}: placeholders of {msgid!r}"


def test_template_is_up_to_date() -> None:
    with (LOCALES / "balansebot.pot").open("rb") as pot:
        template = {m.id for m in read_po(pot) if m.id}
    assert template == extracted(), "run `pybabel extract` (see README)"


def test_no_formatted_strings_inside_gettext() -> None:
    """_(f"…") or _("…" + x) cannot be translated: the catalogue would never match."""
    offenders = []
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in ("_", "gettext", "ngettext") and not (
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_catalogues_compile_at_start_and_translate() -> None:
    catalogs = Catalogs.load(LOCALES)
    assert set(LANGUAGES) <= set(catalogs.translations)
    assert catalogs.get("nn").gettext("Monday to Friday") == "måndag–fredag"
    assert catalogs.get("nb").gettext("Monday to Friday") == "mandag–fredag"
    assert catalogs.get("en").gettext("Monday to Friday") == "Monday to Friday"
    assert catalogs.get("nb").ngettext("{n} year", "{n} years", 1) == "ett år"
    assert catalogs.get("nn").ngettext("{n} year", "{n} years", 2) == "{n} år"
    assert not list(LOCALES.rglob("*.mo")), "compiled catalogues are built in memory, never kept"


@pytest.mark.parametrize(
    ("code", "lang"),
    [
        ("nb", "nb"),
        ("no", "nb"),
        ("nb-NO", "nb"),
        ("nn", "nn"),
        ("en", "en"),
        ("de", "en"),
        ("uk", "en"),
        (None, "nb"),
        ("", "nb"),
    ],
)
def test_language_from_telegram_language_code(scripts: Scripts, code: str | None, lang: str) -> None:
    assert choose_language(code, scripts) == lang


def test_without_english_scripts_everyone_gets_bokmal() -> None:
    assert shipped_languages().choose("de", ("nb",)) == "nb"


def test_the_shipped_language_names_are_written_in_themselves() -> None:
    """languages.yaml names each language as CLDR does in that language ("Norsk nynorsk")."""
    names = [language.name for language in shipped_languages().entries]
    assert (
        names == [language_name(lang) for lang in LANGUAGES] == ["Norsk bokmål", "Norsk nynorsk", "English"]
    )
    assert re.fullmatch(r"[A-Z].*", language_name("nn"))
