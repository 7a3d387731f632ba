"""What the staff tools say (check, test, translations, route, stats, --help): Bokmål first.

The msgids are English, in their own gettext domain `staff` (locales/<lang>/LC_MESSAGES/staff.po),
apart from the readers' `balansebot` catalogue. The command line chooses the language once, at
start (`--lang`, else LC_ALL / LC_MESSAGES / LANG: en… → English, nn… → Nynorsk, anything else →
Bokmål). Code run outside the command line (the loader in a test, say) gets the English msgids.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bot.i18n import compile_po

STAFF_DOMAIN = "staff"
STAFF_LANGUAGES = ("nb", "nn", "en")
DEFAULT_STAFF_LANGUAGE = "nb"
MSGID_LANGUAGE = "en"  # what say() gives outside the command line: the msgids as they are
_speaking: gettext.NullTranslations = gettext.NullTranslations()
_speaking_lang = MSGID_LANGUAGE


def say(message: str, /, **params: object) -> str:
    """`message` in the staff language, its `{placeholders}` filled in (`{{` for a brace)."""
    translate = _speaking.gettext  # the msgid is a literal at every call of say(), or marked() where defined
    return translate(message).format(**params)


def marked(message: str) -> str:
    """`message` as it is, marked for the catalogue: said later with `say(message)`."""
    return message


def say_n(singular: str, plural: str, count: int, /, **params: object) -> str:
    """The form for `count` (`{count}` in it) in the staff language."""
    translate = _speaking.ngettext
    return translate(singular, plural, count).format(count=count, **params)


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
    po_path = locales_dir / lang / "LC_MESSAGES" / f"{STAFF_DOMAIN}.po"
    if po_path.exists():
        _speaking, _speaking_lang = compile_po(po_path, STAFF_DOMAIN), lang
    else:
        _speaking, _speaking_lang = gettext.NullTranslations(), MSGID_LANGUAGE
    try:
        yield
    finally:
        _speaking, _speaking_lang = before
