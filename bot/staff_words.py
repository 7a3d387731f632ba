"""What the staff tools say (check, test, translations, route, stats, --help): Bokmål first.

The msgids are English, in their own gettext domain `staff` (locales/<lang>/LC_MESSAGES/staff.po),
apart from the readers' `balansebot` catalogue. The command line chooses the language once, at
start (`--lang`, else LC_ALL / LC_MESSAGES / LANG: en… → English, nn… → Nynorsk, anything else →
Bokmål). Code run outside the command line (the loader in a test, say) gets the English msgids.
Words that have a language of their own (the flow chart's, in the language of the scripts it shows;
the lead e-mail, always Bokmål) ask for it with `words_in(lang)` instead.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.i18n import compile_po

STAFF_DOMAIN = "staff"
STAFF_LANGUAGES = ("nb", "nn", "en")
DEFAULT_STAFF_LANGUAGE = "nb"
MSGID_LANGUAGE = "en"  # what say() gives outside the command line: the msgids as they are
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"  # the settings' default locales_dir
_speaking: gettext.NullTranslations = gettext.NullTranslations()
_speaking_lang = MSGID_LANGUAGE


def say(message: str, /, **params: object) -> str:
    """`message` in the staff language, its `{placeholders}` filled in (`{{` for a brace)."""
    return spoken_words().say(message, **params)


def marked(message: str) -> str:
    """`message` as it is, marked for the catalogue: said later with `say(message)`."""
    return message


def say_n(singular: str, plural: str, count: int, /, **params: object) -> str:
    """The form for `count` (`{count}` in it) in the staff language."""
    return spoken_words().say_n(singular, plural, count, **params)


@dataclass(frozen=True)
class StaffWords:
    """The staff catalogue in one language, asked for by name: say() and say_n() without the switch."""

    lang: str
    translations: gettext.NullTranslations

    def say(self, message: str, /, **params: object) -> str:
        """`message` in this language, its `{placeholders}` filled in."""
        # The msgid is a literal at every call of say(), or marked() where it is defined.
        translate = self.translations.gettext
        return translate(message).format(**params)

    def say_n(self, singular: str, plural: str, count: int, /, **params: object) -> str:
        """The form for `count` (`{count}` in it) in this language."""
        translate = self.translations.ngettext
        return translate(singular, plural, count).format(count=count, **params)


def words_in(lang: str, locales_dir: Path = LOCALES_DIR) -> StaffWords:
    """The staff words in `lang` whatever the tools speak; the English msgids when it has no catalogue."""
    po_path = locales_dir / lang / "LC_MESSAGES" / f"{STAFF_DOMAIN}.po"
    if po_path.exists():
        return StaffWords(lang, compile_po(po_path, STAFF_DOMAIN))
    return StaffWords(MSGID_LANGUAGE, gettext.NullTranslations())


def spoken_words() -> StaffWords:
    """The words say() speaks now, for code that is handed a StaffWords."""
    return StaffWords(_speaking_lang, _speaking)


def staff_language(flag: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """The language the staff tools speak: the flag, else the locale of the environment."""
    if flag:
        return flag
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:  # POSIX: the first one set decides
            return next(
                (lang for lang in ("en", "nn") if value.lower().startswith(lang)), DEFAULT_STAFF_LANGUAGE
            )
    return DEFAULT_STAFF_LANGUAGE


def spoken_language() -> str:
    """The language say() speaks now (a page's `lang` attribute for the staff's words)."""
    return _speaking_lang


@contextmanager
def speaking(lang: str, locales_dir: Path) -> Iterator[None]:
    """Speak `lang` inside the block (the catalogue compiled from locales/), as before after it."""
    global _speaking, _speaking_lang  # one language for the whole command, chosen once at its start
    before = _speaking, _speaking_lang
    chosen = words_in(lang, locales_dir)
    _speaking, _speaking_lang = chosen.translations, chosen.lang
    try:
        yield
    finally:
        _speaking, _speaking_lang = before
