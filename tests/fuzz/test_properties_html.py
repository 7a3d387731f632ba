"""The Telegram HTML checker itself: never raises, escaping always passes, and it agrees with the Bot API."""

from __future__ import annotations

import html

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content import telegram_html
from tests.fuzz import strategies
from tests.support.fake_bot_api import EntityParseError, parse_html

FAST = settings(max_examples=200, deadline=None)
PIECES = (
    "<b>",
    "</b>",
    "<i>",
    "</i>",
    "<B>",
    "</ b>",
    "<b/>",
    "<a href='https://x.no'>",
    '<a href="tg://user?id=1">',
    "<a>",
    "</a>",
    '<span class="tg-spoiler">',
    "</span>",
    "<tg-spoiler>",
    "</tg-spoiler>",
    "<pre>",
    "</pre>",
    '<code class="language-py">',
    "</code>",
    "<blockquote>",
    "</blockquote>",
    "<br>",
    "<p>",
    "&amp;",
    "&lt;",
    "&gt;",
    "&quot;",
    "&#65;",
    "&#x41;",
    "&#0;",
    "&nbsp;",
    "&",
    "<",
    ">",
    '"',
    "tekst",
    " ",
    "\n",
    "😀",
)
piece = st.sampled_from(PIECES) | st.text(strategies.CHARS, max_size=3)
html_like = st.lists(piece, max_size=25).map("".join)


@FAST
@given(text=st.one_of(html_like, strategies.user_text))
def test_the_checker_never_raises(text: str) -> None:
    problem = telegram_html.check(text)
    assert problem is None or 0 <= problem.offset <= len(text)
    telegram_html.visible_text(text)
    assert telegram_html.telegram_length(text) >= 0


@FAST
@given(text=strategies.user_text)
def test_escaped_user_text_is_always_valid_and_shows_as_typed(text: str) -> None:
    escaped = html.escape(text, quote=False)
    assert telegram_html.check(escaped) is None
    assert telegram_html.visible_text(escaped) == text
    parse_html(escaped)  # the Bot API accepts it too


@FAST
@given(text=html_like)
def test_what_the_checker_accepts_the_bot_api_accepts(text: str) -> None:
    # `balansebot check` promises scripts Telegram will not refuse: the TDLib port must agree.
    if telegram_html.check(text) is None:
        try:
            parse_html(text)
        except EntityParseError as error:
            raise AssertionError(f"check() passed {text!r} but the Bot API says: {error}") from None


@FAST
@given(text=st.one_of(html_like, strategies.user_text))
def test_the_lenient_reading_never_raises_and_finds_the_same_first_problem(text: str) -> None:
    tokens, problem = telegram_html.tokenize(text, lenient=True)
    assert problem == telegram_html.check(text)
    if problem is None:
        assert tokens == telegram_html.tokenize(text)[0], "valid HTML reads the same either way"
        if not any(t.kind == "start" and t.value == "a" for t in tokens):
            assert telegram_html.plain_text(text) == telegram_html.visible_text(text), "only links differ"
    telegram_html.plain_text(text)
    telegram_html.page_html(text)
