"""Hypothesis strategies for what people (and forgers) send: odd text, commands, button data, JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from bot.engine import callbacks
from bot.engine.form import ACTOR_KINDS, FIELDS, STEPS, InterestForm, check_answer
from bot.engine.form_dialogue import CANCEL, CHANGE, FIELD_PREFIX, SEND, SKIP, YES
from bot.engine.model import ButtonPress, ChatState, Command, Event, FreeText, NonText

OSLO = ZoneInfo("Europe/Oslo")
# Bits of text that have broken chatbots: markup, entities, right-to-left and zero-width marks,
# control characters, emoji sequences (with joiners and skin tones), combining marks, ligatures
# that NFKD expands, and the words the scripts react to.
TRICKY = (
    "<b>",
    "</b>",
    "<br>",
    "<script>alert(1)</script>",
    '<a href="javascript:x">',
    "&",
    "&amp;",
    "&lt;",
    "&#0;",
    "&#x110000;",
    "&nbsp;",
    "<",
    ">",
    '"',
    "'",
    "\u202e",
    "\u200f",
    "\u200b",
    "\ufeff",
    "\x00",
    "\x07",
    "\r\n",
    "\t",
    "\x1b[31m",
    "👩‍👩‍👧‍👦",
    "👍🏽",
    "🇳🇴",
    "e\u0301",
    "ﷺ",
    "ﬃ",
    "שלום",
    "مرحبا",
    "æøå",
    "ÆØÅ",
    "/start",
    "@bot",
    "trakassering",
    "telefon",
    "hjelp",
    "jeg blir slått nå",
    "merket",
    "\n",
    " ",
)
# Everything but lone surrogates: Telegram's JSON is UTF-8, so a message never holds one.
CHARS = st.characters(exclude_categories=["Cs"])
tricky_text = st.lists(st.one_of(st.sampled_from(TRICKY), st.text(CHARS, max_size=12)), max_size=30).map(
    "".join
)
long_text = st.builds(
    lambda piece, times, tail: (piece * times)[:5000] + tail,
    st.sampled_from(TRICKY) | st.text(CHARS, min_size=1, max_size=8),
    st.integers(1, 5000),
    st.text(CHARS, max_size=4),
)
user_text = st.one_of(st.text(CHARS, max_size=300), tricky_text, long_text)

KNOWN_COMMANDS = (
    "start",
    "meny",
    "hjelp",
    "telefon",
    "merket",
    "personvern",
    "slett",
    "avbryt",
    "sprak",
    "språk",
    "language",
)
# A command's name is what follows "/" up to the first space, as bot/telegram/updates.py reads it.
command_name = st.one_of(
    st.sampled_from(KNOWN_COMMANDS),
    st.text(CHARS, max_size=40).map(lambda s: "".join(s.split()).lower()),
    long_text.map(lambda s: "".join(s.split()).lower()),
)

FORM_VALUES = (*ACTOR_KINDS, SKIP, YES, SEND, CHANGE, CANCEL, *(FIELD_PREFIX + f for f in FIELDS))
callback_data = st.one_of(
    st.none(),
    st.text(CHARS, max_size=80),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
    st.builds(callbacks.goto, st.text(CHARS, max_size=70)),
    st.builds(callbacks.goto, st.sampled_from(("start", "meny", "telefon", "merket", "skjema", "sprak"))),
    st.builds(callbacks.form, st.sampled_from(FORM_VALUES) | st.text(max_size=50)),
    st.builds(callbacks.language, st.sampled_from(("nb", "nn", "en", "se", "")) | st.text(max_size=5)),
    # Formats of versions that never shipped or were dropped: they must still lead somewhere.
    st.sampled_from(("menu:v0:1", "v1|telefon", "node=telefon", "n:", "f:", "l:", "n:meny:extra")),
)

non_text_kind = st.sampled_from(("sticker", "photo", "voice", "edited_message", "other", "dice", ""))

event: st.SearchStrategy[Event] = st.one_of(
    st.builds(FreeText, user_text),
    st.builds(Command, command_name),
    st.builds(ButtonPress, callback_data),
    st.builds(NonText, non_text_kind),
)


def _answer(field: str) -> st.SearchStrategy[str]:
    """Answers the form could have accepted for a field (so a stored form is one it could hold)."""
    if field == "actor_kind":
        return st.sampled_from(ACTOR_KINDS)
    if field == "contact":
        return st.sampled_from(("kari@example.no", "+47 400 38 800", "a<b>@x.no"))
    limit = 1500 if field == "message" else 200
    return (
        st.one_of(tricky_text, st.text(CHARS, max_size=limit), long_text.map(lambda s: s[:limit]))
        .map(lambda text: check_answer("message" if field == "message" else "organisation", text))
        .filter(lambda checked: checked[1] is None)
        .map(lambda checked: checked[0])
    )


interest_form = st.builds(
    lambda step, answers, changing: InterestForm(step=step, answers=answers, changing=changing),
    st.sampled_from(STEPS),
    st.fixed_dictionaries({}, optional={f: _answer(f) for f in FIELDS}).map(
        lambda d: tuple((f, d[f]) for f in FIELDS if f in d)
    ),
    st.booleans(),
)

chat_state = st.builds(
    ChatState,
    node=st.one_of(
        st.none(),
        st.sampled_from(("start", "meny", "telefon", "merket", "akutt", "skjema", "sprak")),
        st.text(CHARS, max_size=20),
    ),
    lang=st.sampled_from(("nb", "nn", "en")),
    form=st.none() | interest_form,
)

now = st.one_of(
    st.none(),
    st.datetimes(dt.datetime(2024, 1, 1), dt.datetime(2030, 12, 31), timezones=st.just(OSLO)),
)


def json_values(max_leaves: int = 30) -> st.SearchStrategy[Any]:
    """Arbitrary JSON, with lone surrogates and huge numbers where JSON allows them."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.sampled_from(("\ud800", "a\udfffb", "\x00", "<b>", "private", "/start")),
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=5)
            | st.dictionaries(st.text(max_size=10) | st.sampled_from(UPDATE_KEYS), children, max_size=5)
        ),
        max_leaves=max_leaves,
    )


# Field names of Telegram objects, so random JSON lands on the parser's real paths.
UPDATE_KEYS = (
    "update_id",
    "message",
    "edited_message",
    "callback_query",
    "my_chat_member",
    "message_id",
    "date",
    "chat",
    "id",
    "type",
    "from",
    "text",
    "entities",
    "offset",
    "length",
    "data",
    "chat_instance",
    "is_bot",
    "first_name",
    "reply_to_message",
    "sticker",
    "new_chat_member",
    "status",
    "user",
)
