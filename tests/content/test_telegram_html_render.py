"""One tokenizer, four renderers: Telegram HTML as visible text, plain text, terminal text and page HTML."""

from __future__ import annotations

import pytest

from bot.content import telegram_html
from bot.content.telegram_html import Token, page_html, plain_text, terminal_text, tokenize, visible_text

REPLY = (
    '<b>Ring</b> 400 38 800 &amp; les <a href="https://balansekunst.no/x?a=1&amp;b=2">mer</a>\n'
    "<blockquote>sitat\nto</blockquote>"
)


def test_tokens_decode_entities_in_text_and_attributes() -> None:
    tokens, problem = tokenize('a &lt; <a href="https://x.no/?a=1&amp;b=2">b</a>')
    assert problem is None
    assert tokens == [
        Token("text", "a < "),
        Token("start", "a", (("href", "https://x.no/?a=1&b=2"),)),
        Token("text", "b"),
        Token("end", "a"),
    ]


def test_strict_reading_stops_where_telegram_would_and_lenient_reads_on() -> None:
    text = "før <br> etter &nbsp;slutt"
    problem = telegram_html.check(text)
    assert problem is not None and problem.offset == text.index("<br>")
    lenient, same = tokenize(text, lenient=True)
    assert same == problem, "the lenient reading reports the same first problem"
    assert lenient == [
        Token("text", "før "),
        Token("start", "br"),
        Token("text", " etter \xa0slutt"),
    ]


def test_each_renderer_shows_the_same_reply_its_own_way() -> None:
    assert visible_text(REPLY) == "Ring 400 38 800 & les mer\nsitat\nto"
    assert plain_text(REPLY) == "Ring 400 38 800 & les mer (https://balansekunst.no/x?a=1&b=2)\nsitat\nto"
    assert terminal_text(REPLY, color=False) == (
        "Ring 400 38 800 & les mer (https://balansekunst.no/x?a=1&b=2)\n│ sitat\n│ to"
    )
    assert terminal_text("<b>x</b>", color=True) == "\x1b[1mx\x1b[0m"
    assert page_html(REPLY) == (
        "<b>Ring</b> 400 38 800 &amp; les "
        '<a href="https://balansekunst.no/x?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">mer</a>\n'
        "<blockquote>sitat\nto</blockquote>"
    )


def test_plain_text_keeps_the_words_and_writes_links_out() -> None:
    html = (
        '<b>Ring</b> 400&nbsp;38&#160;800 &amp; les <a href="https://balansekunst.no/x?a=1&amp;b=2">mer</a>'
    )
    assert plain_text(html) == "Ring 400\xa038\xa0800 & les mer (https://balansekunst.no/x?a=1&b=2)"
    assert plain_text('<a href="https://x.no">https://x.no</a>') == "https://x.no"
    assert plain_text("1 &lt; 2") == "1 < 2", "an escaped < is text, not a tag"


@pytest.mark.parametrize(
    ("broken", "plain"),
    [
        ("<p>Ring</p> oss", "Ring oss"),
        ("1 < 2 & 3 > 2", "1 < 2 & 3 > 2"),
        ("<b>ikke lukket", "ikke lukket"),
        ("<b><i>x</b>y</i>", "xy"),
        ("a<!-- merknad -->b<br/>c", "abc"),
    ],
)
def test_plain_text_of_html_telegram_refused_keeps_every_word(broken: str, plain: str) -> None:
    assert telegram_html.check(broken) is not None
    assert plain_text(broken) == plain


def test_telegrams_limits_come_from_one_place() -> None:
    assert telegram_html.MAX_MESSAGE_LENGTH == 4096
    assert (telegram_html.MIN_CALLBACK_BYTES, telegram_html.MAX_CALLBACK_BYTES) == (1, 64)
    assert telegram_html.utf16_length("a😀") == 3, "an emoji is two UTF-16 units"
    assert telegram_html.utf16_cut("a😀b", 2) == "a", "a cut never leaves half an emoji"
