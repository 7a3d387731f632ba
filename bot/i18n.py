"""Translations of the strings that live in code (buttons, system replies), compiled by babel.

The .po files in locales/ are the source of truth; they are compiled in memory at start, so no
hand-maintained .mo files can drift from them.
"""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass, field
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "balansebot"
SOURCE_LANGUAGE = "en"  # msgids in code are English; every user language has a catalogue


@dataclass
class Catalogs:
    """Compiled gettext catalogues by language code, e.g. 'nb', 'nn', 'en'."""

    translations: dict[str, gettext.NullTranslations] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    """Where each catalogue was read from (for `check`: a catalogue without scripts)."""

    @classmethod
    def load(cls, locales_dir: Path) -> Catalogs:
        """Compile every locales/<lang>/LC_MESSAGES/balansebot.po found."""
        catalogs = cls()
        for po_path in sorted(locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            catalogs.translations[po_path.parent.parent.name] = compile_po(po_path, DOMAIN)
            catalogs.paths[po_path.parent.parent.name] = po_path
        return catalogs

    def get(self, lang: str) -> gettext.NullTranslations:
        """The catalogue for `lang`; untranslated strings stay as their English msgid."""
        return self.translations.get(lang) or gettext.NullTranslations()


def compile_po(po_path: Path, domain: str) -> gettext.GNUTranslations:
    """One locales/<lang>/LC_MESSAGES/<domain>.po compiled in memory."""
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=po_path.parent.parent.name, domain=domain)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def language_name(lang: str) -> str:
    """A language's name in itself, as CLDR writes it ("norsk bokmål" → "Norsk bokmål")."""
    name = Locale.parse(lang).get_display_name(lang) or lang
    return name[:1].upper() + name[1:]
