"""The webhook body reader: any bytes give an Update the one mapping reads, or a 400/413, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import Bot, Update

from bot.engine.model import Command, FreeText
from bot.telegram.conversations import Incoming
from bot.telegram.updates import BodyRejected, inbound, read_update_body, update_kind
from tests.fuzz import strategies
from tests.support import updates

BOT = Bot("123456:fuzz-token")  # never contacted: de_json only links objects to it
LIMIT = 262_144
FAST = settings(max_examples=150, deadline=None)
KARI = updates.user(1001, "Kari", language_code="nb")


def parse(body: bytes) -> Update | BodyRejected:
    """Read as the webhook does: an Update, or a 400/413.

    Whatever PTB reads as an Update, the one mapping reads too (an exception there would be a 500).
    """
    result = read_update_body(body, BOT, LIMIT)
    if isinstance(result, BodyRejected):
        assert result.status in (400, 413), result
        assert result.message
        return result
    assert isinstance(result, Update)
    assert update_kind(result, inbound(result))
    return result


def text_update(text: str, update_id: int = 7) -> dict[str, Any]:
    """A private text message from Kari, as Telegram sends it."""
    return updates.text_message_update(update_id, message_id=3, date=1_700_000_000, from_user=KARI, text=text)


def mutate(data: Any, path: list[int], value: Any) -> Any:
    """`data` with the value reached by following `path` (indices into keys/items) replaced."""
    if not path or not isinstance(data, dict | list) or not data:
        return value
    keys = list(data) if isinstance(data, dict) else list(range(len(data)))
    key = keys[path[0] % len(keys)]
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[key] = mutate(copy[key], path[1:], value)
    return copy


@FAST
@given(body=st.binary(max_size=2000))
def test_any_bytes_give_an_update_or_400(body: bytes) -> None:
    result = parse(body)
    assert not isinstance(result, BodyRejected) or result.status == 400


@FAST
@given(value=strategies.json_values())
def test_any_json_gives_an_update_or_400(value: Any) -> None:
    result = parse(json.dumps(value).encode())
    if not (isinstance(value, dict) and type(value.get("update_id")) is int):
        assert result == BodyRejected(400, "the body is not a Telegram Update")


@FAST
@given(
    text=st.one_of(strategies.user_text, st.text(max_size=50)),
    update_id=st.integers(0, 2**53),
    ascii_only=st.booleans(),
)
def test_valid_text_updates_always_parse(text: str, update_id: int, ascii_only: bool) -> None:
    body = json.dumps(text_update(text, update_id), ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    update = parse(body)
    assert isinstance(update, Update)
    result = inbound(update)
    assert isinstance(result, Incoming), "a text message in a private chat is answered"
    assert result.update_id == update_id
    if isinstance(result.event, Command):
        assert text.startswith("/"), "a command only where Telegram marks one"
    else:
        assert result.event == FreeText(text)


@FAST
@given(
    data=st.builds(text_update, strategies.user_text),
    path=st.lists(st.integers(0, 20), max_size=5),
    value=strategies.json_values(max_leaves=8),
)
def test_an_update_with_any_field_mistyped_gives_an_update_or_400(
    data: dict[str, Any], path: list[int], value: Any
) -> None:
    parse(json.dumps(mutate(data, path, value)).encode())


@FAST
@given(data=st.builds(text_update, strategies.user_text), encoding=st.sampled_from(("utf-16", "utf-32")))
def test_other_unicode_encodings_of_json_are_read(data: dict[str, Any], encoding: str) -> None:
    # json.loads detects UTF-16/32 by the byte pattern, as RFC 4627 allowed; accepting it is harmless.
    assert isinstance(parse(json.dumps(data).encode(encoding)), Update | BodyRejected)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"update_id": 1, "message": ' + b'{"a":' * 40_000 + b"1" + b"}" * 40_001,
        b'{"update_id": 1, "x": ' + b"[" * 50_000,
    ],
    ids=["nested-arrays", "nested-objects-in-update", "unclosed-nesting"],
)
def test_deeply_nested_json_is_400_not_a_recursion_error(body: bytes) -> None:
    # Regression: json.loads raised RecursionError, which the webhook answered with 500.
    assert parse(body) == BodyRejected(400, "the body is not JSON")


def reply_chain(depth: int) -> bytes:
    """An update whose message replies to a message that replies to … `depth` times."""
    message = b'{"message_id":1,"date":1,"chat":{"id":1,"type":"private"},"text":"x"'
    chain = (message + b',"reply_to_message":') * depth + message + b"}" * (depth + 1)
    return b'{"update_id":1,"message":' + chain + b"}"


def test_a_reply_chain_deeper_than_the_stack_is_400() -> None:
    # Regression: valid JSON, but PTB's de_json recursed into reply_to_message until RecursionError,
    # answered with 500. (Telegram nests one level; only a forger nests more.)
    assert len(reply_chain(900)) < LIMIT
    assert parse(reply_chain(900)) == BodyRejected(400, "the body is not a Telegram Update")
    assert isinstance(parse(reply_chain(3)), Update)


@pytest.mark.parametrize("date", [10**20, -(10**20), 10**12, "x", 1.5e300, None, [], True])
def test_a_message_date_out_of_range_is_400(date: object) -> None:
    # Regression: a date far in the future made PTB raise OverflowError, answered with 500.
    data = text_update("hei")
    data["message"]["date"] = date
    result = parse(json.dumps(data).encode())
    assert isinstance(result, Update | BodyRejected)
    if date in (10**20, -(10**20), "x"):
        assert isinstance(result, BodyRejected)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"null", 400),
        (b'{"update_id": true}', 400),
        (b'{"update_id": 1.0}', 400),
        (b'{"update_id": "1"}', 400),
        (b'{"update_id": ' + b"9" * 5000 + b"}", 400),  # over Python's integer-digits limit
        (b'{"update_id": 1, "message": NaN}', 400),
        (b"\xef\xbb\xbf{}", 400),
        (b'{"update_id": 1, "message": {"text": "\\ud800"}}', 400),
        (b" " * (LIMIT + 1), 413),
    ],
)
def test_edge_bodies(body: bytes, status: int) -> None:
    result = parse(body)
    assert isinstance(result, BodyRejected)
    assert result.status == status


def test_a_lone_surrogate_in_the_text_still_parses_as_a_replacement_character() -> None:
    # JSON allows "\ud800"; Telegram never sends it, and no database or Bot API call takes it: the
    # door replaces it, so the update can be answered (and stored) instead of failing every time.
    result = parse(
        b'{"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"id": 1, '
        b'"type": "private"}, "text": "a\\ud800b"}}'
    )
    assert isinstance(result, Update)
    assert result.effective_message is not None and result.effective_message.text == "a\ufffdb"
