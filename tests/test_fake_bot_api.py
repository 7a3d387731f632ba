"""The fake Bot API is strict and correct, checked through python-telegram-bot's real ``Bot``."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import socket
import sys
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, CommandHandler, ContextTypes

from tests.support import updates as ub
from tests.support.fake_bot_api import (
    DEFAULT_TOKEN,
    FakeBotApi,
    FakeUser,
    FloodLimits,
    check_link,
    parse_html,
    parse_url,
)

JSON = dict[str, Any]
REPO_ROOT = Path(__file__).resolve().parent.parent
TEXT_BUTTONS_UNALLOWED = (
    "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
)


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(server.token, base_url=server.base_url) as ptb_bot:
        yield ptb_bot


@pytest.fixture
def kari(server: FakeBotApi) -> FakeUser:
    """A user who has started a conversation with the bot."""
    person = server.add_user("Kari", username="kari_n", language_code="nb")
    server.send_command(person, "start")
    return person


async def raw_call(bot: Bot, method: str, **params: Any) -> Any:
    """Call a method through PTB's real request path with hand-made parameters."""
    # The lower-case name keeps PTB from warning that a typed method exists, and proves the
    # fake matches method names case-insensitively, as Telegram does.
    return await bot.do_api_request(method.lower(), api_kwargs=params)


def last_description(server: FakeBotApi) -> str | None:
    return server.ops[-1].description


async def expect_bad_request(server: FakeBotApi, call: Awaitable[Any], description: str) -> None:
    """The call fails with 400 and exactly Telegram's description."""
    with pytest.raises(BadRequest) as caught:
        await call
    assert last_description(server) == description
    assert server.ops[-1].error_code == 400
    # PTB strips "Bad Request: " and capitalises what is left.
    assert caught.value.message == description.removeprefix("Bad Request: ").capitalize()


# --------------------------------------------------------------------------------- routing


async def test_get_me_describes_the_bot(server: FakeBotApi, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == int(DEFAULT_TOKEN.split(":")[0])
    assert me.is_bot
    assert me.username == "balansebot_test_bot"
    assert me.can_read_all_group_messages is False  # privacy mode, as new bots have
    assert server.calls["getMe"] >= 1


async def test_wrong_and_malformed_tokens_answer_like_telegram(server: FakeBotApi) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.url}/bot123:wrong-secret/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with session.post(f"{server.url}/botnot-a-token/getMe") as response:
            assert response.status == 404
            assert (await response.json())["description"] == "Not Found"
    with pytest.raises(InvalidToken):
        async with Bot("123:wrong-secret", base_url=server.base_url):
            pass


async def test_unknown_method_is_not_found_and_names_are_case_insensitive(server: FakeBotApi) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.api_url}/noSuchMethod") as response:
            assert response.status == 404
            assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with session.get(f"{server.api_url}/GETME") as response:
            assert response.status == 200
            assert (await response.json())["result"]["username"] == "balansebot_test_bot"
        async with session.get(f"{server.api_url}/sendPhoto") as response:
            # A real method the fake does not model must not pass for an invalid token.
            assert response.status == 501


async def test_parameters_arrive_in_every_encoding_telegram_accepts(
    server: FakeBotApi, kari: FakeUser
) -> None:
    markup = {"inline_keyboard": [[{"text": "Ja", "callback_data": "yes"}]]}
    chat = str(kari.id)
    async with aiohttp.ClientSession() as session:
        url = f"{server.api_url}/sendMessage"
        query = {"chat_id": chat, "text": "query string", "reply_markup": json.dumps(markup)}
        async with session.get(url, params=query) as response:
            assert (await response.json())["ok"]
        form = {"chat_id": chat, "text": "urlencoded", "reply_markup": json.dumps(markup)}
        async with session.post(url, data=form) as response:
            assert (await response.json())["ok"]
        multipart = aiohttp.FormData(default_to_multipart=True)
        for name, value in (("chat_id", chat), ("text", "multipart"), ("reply_markup", json.dumps(markup))):
            multipart.add_field(name, value)
        async with session.post(url, data=multipart) as response:
            assert (await response.json())["ok"]
        body = {"chat_id": kari.id, "text": "json", "reply_markup": markup}
        async with session.post(url, json=body) as response:
            assert (await response.json())["ok"]
    sent = server.bot_messages(kari)
    assert [m.text for m in sent] == ["query string", "urlencoded", "multipart", "json"]
    assert all(m.reply_markup == markup for m in sent)
    assert [op.content_type for op in server.ops_for("sendMessage")] == [
        "application/octet-stream",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/json",
    ]


# ------------------------------------------------------------------------------- sendMessage


async def test_send_message_returns_a_well_formed_message(
    server: FakeBotApi, bot: Bot, kari: FakeUser
) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Ja 👍", callback_data="answer:yes")],
            [InlineKeyboardButton("Les", url="https://Example.com")],
        ]
    )
    message = await bot.send_message(
        kari.id, "😀 <b>Hei</b> &amp; <i>velkommen</i>", parse_mode=ParseMode.HTML, reply_markup=keyboard
    )
    assert message.text == "😀 Hei & velkommen"
    assert message.from_user is not None
    assert message.from_user.id == bot.id
    assert message.chat.id == kari.id
    assert message.chat.type == "private"
    # Offsets count UTF-16 code units: the emoji takes two.
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bold", 3, 3), ("italic", 9, 9)]
    assert message.reply_markup is not None
    buttons = [b for row in message.reply_markup.inline_keyboard for b in row]
    assert buttons[0].callback_data == "answer:yes"
    assert buttons[1].url == "https://example.com/"  # Telegram echoes the normalised URL
    assert abs(message.date.timestamp() - server.now()) < 5
    second = await bot.send_message(kari.id, "igjen")
    # /start was message 1, the bot's reply 2: ids grow per chat, shared with the user.
    assert (message.message_id, second.message_id) == (2, 3)


@pytest.mark.parametrize(
    ("html", "description"),
    [
        ("<b>Hei</b>\n\n<br>", 'Unsupported start tag "br" at byte offset 12'),
        ("Blåbær <br>", 'Unsupported start tag "br" at byte offset 9'),  # bytes, not characters
        ("<p>Avsnitt</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("<ÆØ>x</ÆØ>", 'Unsupported start tag "ÆØ" at byte offset 0'),  # ASCII-only lower-casing
        ("<b>uten slutt", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>kryss</b></i>", 'Unmatched end tag at byte offset 11, expected "</i>", found "</b>"'),
        ("tekst</b>", "Unexpected end tag at byte offset 5"),
        ("2 < 3", 'Unsupported start tag "" at byte offset 2'),
        ("slutter med <", "Unclosed start tag at byte offset 12"),
        ("Ole & Kari", 'Character "&" at byte offset 4 must be escaped as "&amp;"'),
        ("&nbsp;", 'Character "&" at byte offset 0 must be escaped as "&amp;"'),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<a href", 'Unclosed start tag "a" at byte offset 0'),
        ('<a href="x"', "Unclosed start tag at byte offset 0"),
        ("<a href=https://x.no>l</a>", "Unexpected end of name token at byte offset 8"),
        ('<tg-emoji emoji-id="abc">👍</tg-emoji>', "Invalid custom emoji identifier specified"),
    ],
)
async def test_html_the_telegram_parser_refuses(
    server: FakeBotApi, bot: Bot, kari: FakeUser, html: str, description: str
) -> None:
    await expect_bad_request(
        server,
        bot.send_message(kari.id, html, parse_mode=ParseMode.HTML),
        f"Bad Request: can't parse entities: {description}",
    )
    assert server.bot_messages(kari) == []


async def test_every_supported_html_tag_becomes_its_entity(bot: Bot, kari: FakeUser) -> None:
    html = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>k</strike>"
        '<del>d</del><span class="tg-spoiler">p</span><tg-spoiler>q</tg-spoiler>'
        '<a href="https://balansekunst.no/hjelp">a</a><code>c</code><pre>p</pre>'
        '<pre><code class="language-python">x = 1</code></pre><blockquote>q</blockquote>'
        '<blockquote expandable>z</blockquote><tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
        " &lt;&gt;&quot;&#39;&#x1F600;"
    )
    message = await bot.send_message(kari.id, html, parse_mode=ParseMode.HTML)
    assert message.text == "bsieunskdpqacpx = 1qz👍 <>\"'😀"
    by_type = {e.type: e for e in message.entities}
    assert set(by_type) == {
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "text_link",
        "code",
        "pre",
        "blockquote",
        "expandable_blockquote",
        "custom_emoji",
    }
    assert by_type["text_link"].url == "https://balansekunst.no/hjelp"
    assert [e.language for e in message.entities if e.type == "pre"] == [None, "python"]
    assert by_type["custom_emoji"].custom_emoji_id == "5368324170671202286"
    assert sum(e.type == "bold" for e in message.entities) == 2


async def test_text_length_is_counted_in_utf16_after_entity_parsing(
    server: FakeBotApi, bot: Bot, kari: FakeUser
) -> None:
    await bot.send_message(kari.id, "x" * 4096)
    await bot.send_message(kari.id, "😀" * 2048)  # 4096 UTF-16 code units
    await bot.send_message(kari.id, f"<b>{'x' * 4096}</b>", parse_mode=ParseMode.HTML)
    for too_long in ("x" * 4097, "😀" * 2048 + "x"):
        await expect_bad_request(
            server, bot.send_message(kari.id, too_long), "Bad Request: message is too long"
        )
    assert len(server.bot_messages(kari)) == 3


async def test_empty_and_blank_texts_are_refused(server: FakeBotApi, bot: Bot, kari: FakeUser) -> None:
    await expect_bad_request(
        server, raw_call(bot, "sendMessage", chat_id=kari.id, text=""), "Bad Request: message text is empty"
    )
    await expect_bad_request(
        server, bot.send_message(kari.id, "  \n "), "Bad Request: text must be non-empty"
    )
    await expect_bad_request(
        server,
        bot.send_message(kari.id, "<b> </b>", parse_mode=ParseMode.HTML),
        "Bad Request: text must be non-empty",
    )
    message = await bot.send_message(kari.id, "\n  hei  \n")
    assert message.text == "hei"  # Telegram trims


async def test_unknown_chats_and_unstarted_users_are_refused(server: FakeBotApi, bot: Bot) -> None:
    await expect_bad_request(server, bot.send_message(424242, "hei"), "Bad Request: chat not found")
    await expect_bad_request(server, bot.send_message("@ingen_slik", "hei"), "Bad Request: chat not found")
    stranger = server.add_user("Ola")
    with pytest.raises(Forbidden):
        await bot.send_message(stranger.id, "hei")
    assert last_description(server) == "Forbidden: bot can't initiate conversation with a user"
    await expect_bad_request(
        server, raw_call(bot, "sendMessage", text="hei"), "Bad Request: chat_id is empty"
    )


@pytest.mark.parametrize(
    ("markup", "description"),
    [
        (
            {"inline_keyboard": [[{"text": "x", "callback_data": "d" * 65}]]},
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"inline_keyboard": [[{"text": "x", "callback_data": "æ" * 33}]]},  # 66 bytes
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"inline_keyboard": [[{"text": "x", "callback_data": ""}]]},
            TEXT_BUTTONS_UNALLOWED,
        ),
        (
            {"inline_keyboard": [[{"text": "x"}]]},
            TEXT_BUTTONS_UNALLOWED,
        ),
        (
            {"inline_keyboard": [[{"callback_data": "x"}]]},
            "Bad Request: can't parse inline keyboard button: Can't find field \"text\"",
        ),
        (
            {"inline_keyboard": [[{"text": "x", "url": "https://a.no", "callback_data": "y"}]]},
            "Bad Request: can't parse inline keyboard button: exactly one of the optional fields "
            "must be used, got url, callback_data",
        ),
        (
            {"inline_keyboard": [[{"text": "x", "url": "tel:123"}]]},
            "Bad Request: inline keyboard button URL 'tel:123' is invalid: Wrong HTTP URL",
        ),
        (
            {"inline_keyboard": [[{"text": "x", "url": "ftp://balansekunst.no"}]]},
            "Bad Request: inline keyboard button URL 'ftp://balansekunst.no' is invalid: "
            "Unsupported URL protocol",
        ),
        (
            {"inline_keyboard": [[{"text": "x", "url": "tel:+4712345678"}]]},
            "Bad Request: inline keyboard button URL 'tel:+4712345678' is invalid: "
            "Wrong port number specified in the URL",
        ),
        ({"inline_keyboard": "x"}, 'Bad Request: field "inline_keyboard" must be of type Array'),
        (
            {"inline_keyboard": [{"text": "x", "callback_data": "y"}]},
            'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays',
        ),
        ({"force_reply": "yes"}, 'Bad Request: field "force_reply" must be of type Boolean'),
        ([], "Bad Request: object expected as reply markup"),
    ],
)
async def test_inline_keyboards_telegram_refuses(
    server: FakeBotApi, bot: Bot, kari: FakeUser, markup: Any, description: str
) -> None:
    await expect_bad_request(
        server, raw_call(bot, "sendMessage", chat_id=kari.id, text="velg", reply_markup=markup), description
    )


async def test_inline_keyboards_telegram_accepts(server: FakeBotApi, bot: Bot, kari: FakeUser) -> None:
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("a", callback_data="d" * 64)],
            [InlineKeyboardButton("b", url="tg://resolve?domain=balansekunst")],
            [InlineKeyboardButton("c", url="http://balansekunst.no/a b")],
        ]
    )
    message = await bot.send_message(kari.id, "velg", reply_markup=markup)
    assert message.reply_markup is not None
    urls = [b.url for row in message.reply_markup.inline_keyboard for b in row if b.url]
    assert urls == ["tg://resolve?domain=balansekunst", "http://balansekunst.no/a%20b"]
    # Reply keyboards are accepted but, as in Telegram, not echoed in the Message.
    reply = await raw_call(bot, "sendMessage", chat_id=kari.id, text="k", reply_markup={"keyboard": [["Ja"]]})
    assert "reply_markup" not in reply


# ------------------------------------------------------------------------------ editing


async def test_edit_message_text_rules(server: FakeBotApi, bot: Bot, kari: FakeUser) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="yes")]])
    message = await bot.send_message(
        kari.id, "<b>Spørsmål</b>", parse_mode=ParseMode.HTML, reply_markup=keyboard
    )
    not_modified = (
        "Bad Request: message is not modified: specified new message content and reply markup are "
        "exactly the same as a current content and reply markup of the message"
    )
    await expect_bad_request(
        server,
        bot.edit_message_text(
            "<b>Spørsmål</b>", kari.id, message.message_id, parse_mode=ParseMode.HTML, reply_markup=keyboard
        ),
        not_modified,
    )
    # Same text without the HTML differs (no bold entity) and counts as a change.
    edited = await bot.edit_message_text("Spørsmål", kari.id, message.message_id, reply_markup=keyboard)
    assert not isinstance(edited, bool)
    assert (edited.text, edited.entities) == ("Spørsmål", ())
    # Omitting reply_markup in an edit removes the keyboard.
    await bot.edit_message_text("Spørsmål", kari.id, message.message_id)
    stored = server.bot_messages(kari)[-1]
    assert stored.reply_markup is None
    assert stored.edit_date is not None
    await expect_bad_request(
        server, bot.edit_message_text("x", kari.id, 9999), "Bad Request: message to edit not found"
    )
    user_message = server.messages(kari)[0]
    await expect_bad_request(
        server,
        bot.edit_message_text("x", kari.id, user_message.message_id),
        "Bad Request: message can't be edited",
    )


async def test_edit_message_reply_markup(server: FakeBotApi, bot: Bot, kari: FakeUser) -> None:
    message = await bot.send_message(kari.id, "velg")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="yes")]])
    edited = await bot.edit_message_reply_markup(kari.id, message.message_id, reply_markup=keyboard)
    assert not isinstance(edited, bool)
    assert edited.reply_markup == keyboard
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(kari.id, message.message_id, reply_markup=keyboard)
    assert server.bot_messages(kari)[-1].callback_datas == {"yes"}


# ----------------------------------------------------------------------------- deleting


async def test_delete_message_rules(server: FakeBotApi, bot: Bot, kari: FakeUser) -> None:
    first = await bot.send_message(kari.id, "en")
    assert await bot.delete_message(kari.id, first.message_id)
    await expect_bad_request(
        server, bot.delete_message(kari.id, first.message_id), "Bad Request: message to delete not found"
    )
    # Bots may delete the user's messages in a private chat, within 48 hours.
    user_message = server.messages(kari)[0]
    assert await bot.delete_message(kari.id, user_message.message_id)
    old = await bot.send_message(kari.id, "gammel")
    server.advance(48 * 3600 - 60)
    assert await bot.delete_message(kari.id, (await bot.send_message(kari.id, "ny")).message_id)
    server.advance(120)
    await expect_bad_request(
        server,
        bot.delete_message(kari.id, old.message_id),
        "Bad Request: message can't be deleted for everyone",
    )
    assert not server.bot_messages(kari)[-1].deleted


async def test_delete_in_groups_needs_admin_rights_for_others_messages(server: FakeBotApi, bot: Bot) -> None:
    group = server.add_group("Styret")
    member = server.add_user("Per")
    server.send_command(member, "help", chat=group)
    await expect_bad_request(
        server,
        bot.delete_message(group.id, server.messages(group)[0].message_id),
        "Bad Request: message can't be deleted",
    )
    own = await bot.send_message(group.id, "hei alle")
    assert await bot.delete_message(group.id, own.message_id)


async def test_delete_messages_skips_missing_and_fails_whole_on_old(
    server: FakeBotApi, bot: Bot, kari: FakeUser
) -> None:
    sent = [await bot.send_message(kari.id, f"m{i}") for i in range(3)]
    assert await bot.delete_messages(kari.id, [sent[0].message_id, 9999])
    assert [m.text for m in server.bot_messages(kari)] == ["m1", "m2"]
    server.advance(49 * 3600)
    fresh = await bot.send_message(kari.id, "fersk")
    await expect_bad_request(
        server,
        bot.delete_messages(kari.id, [fresh.message_id, sent[1].message_id]),
        "Bad Request: message can't be deleted for everyone",
    )
    assert [m.text for m in server.bot_messages(kari)] == ["m1", "m2", "fersk"]


async def test_delete_messages_takes_one_to_a_hundred_ids_of_its_own_chat(
    server: FakeBotApi, bot: Bot, kari: FakeUser
) -> None:
    for ids, error in (
        ([], "Bad Request: message identifiers are not specified"),
        (list(range(1, 102)), "Bad Request: too many message identifiers specified"),
    ):
        await expect_bad_request(server, bot.delete_messages(kari.id, ids), error)
    ola = server.add_user("Ola")
    server.send_command(ola, "start")
    theirs = await bot.send_message(ola.id, "Olas")
    mine = [await bot.send_message(kari.id, f"k{i}") for i in range(theirs.message_id + 1)]
    # Message ids count per chat: the same number in another chat is another message, left alone.
    assert await bot.delete_messages(kari.id, [m.message_id for m in mine][:100])
    assert [m.text for m in server.bot_messages(kari)] == []
    assert [m.text for m in server.bot_messages(ola)] == ["Olas"]


# ------------------------------------------------------------------------ callback queries


async def test_callback_queries_can_be_answered_once_within_their_lifetime(
    server: FakeBotApi, bot: Bot, kari: FakeUser
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="yes")]])
    message = await bot.send_message(kari.id, "Ok?", reply_markup=keyboard)
    stale = "Bad Request: query is too old and response timeout expired or query ID is invalid"

    update = server.press_button(kari, message.message_id, "yes")
    query_id = update["callback_query"]["id"]
    assert await bot.answer_callback_query(query_id, text="Takk")
    assert server.callback_queries[query_id].answer == {
        "text": "Takk",
        "show_alert": False,
        "url": None,
        "cache_time": 0,
    }
    await expect_bad_request(server, bot.answer_callback_query(query_id), stale)
    await expect_bad_request(server, bot.answer_callback_query("123"), stale)

    late = server.press_button(kari, message.message_id, "yes")["callback_query"]["id"]
    server.advance(server.callback_query_ttl + 1)
    await expect_bad_request(server, bot.answer_callback_query(late), stale)


async def test_pressing_checks_the_button_exists_but_allows_old_messages(
    server: FakeBotApi, bot: Bot, kari: FakeUser
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="yes")]])
    message = await bot.send_message(kari.id, "Ok?", reply_markup=keyboard)
    with pytest.raises(ValueError, match="no button with callback_data 'no'"):
        server.press_button(kari, message.message_id, "no")
    server.advance(30 * 24 * 3600)
    update = Update.de_json(server.press_button(kari, message.message_id, "yes"), bot)
    assert update.callback_query is not None
    assert update.callback_query.data == "yes"
    assert update.callback_query.message is not None
    assert update.callback_query.message.message_id == message.message_id
    await bot.edit_message_reply_markup(kari.id, message.message_id, reply_markup=None)
    with pytest.raises(ValueError, match="no button"):
        server.press_button(kari, message.message_id, "yes")


# ------------------------------------------------------------------------------- commands


async def test_commands_per_scope_and_language(server: FakeBotApi, bot: Bot, kari: FakeUser) -> None:
    assert await bot.set_my_commands([BotCommand("start", "Start samtalen"), BotCommand("hjelp", "Hjelp")])
    assert await bot.set_my_commands([BotCommand("start", "Start the chat")], language_code="en")
    scope = BotCommandScopeChat(kari.id)
    assert await bot.set_my_commands([BotCommand("slett", "Slett mine data")], scope=scope)
    assert [c.command for c in await bot.get_my_commands()] == ["start", "hjelp"]
    assert [c.description for c in await bot.get_my_commands(language_code="en")] == ["Start the chat"]
    assert [c.command for c in await bot.get_my_commands(scope=scope)] == ["slett"]
    assert server.get_commands(f"chat:{kari.id}") == [{"command": "slett", "description": "Slett mine data"}]
    assert await bot.delete_my_commands(language_code="en")
    assert await bot.get_my_commands(language_code="en") == ()
    assert len(await bot.get_my_commands()) == 2


@pytest.mark.parametrize(
    ("commands", "description"),
    [
        ([{"command": "Start", "description": "x"}], "Bad Request: BOT_COMMAND_INVALID"),
        ([{"command": "slett data", "description": "x"}], "Bad Request: BOT_COMMAND_INVALID"),
        ([{"command": "a" * 33, "description": "x"}], "Bad Request: command length must not exceed 32"),
        ([{"command": "", "description": "x"}], "Bad Request: command must be non-empty"),
        ([{"command": "ok", "description": " "}], "Bad Request: command description must be non-empty"),
        (
            [{"command": "ok", "description": "d" * 257}],
            "Bad Request: command description length must not exceed 256",
        ),
    ],
)
async def test_invalid_commands_are_refused(
    server: FakeBotApi, bot: Bot, commands: list[JSON], description: str
) -> None:
    await expect_bad_request(server, raw_call(bot, "setMyCommands", commands=commands), description)
    assert server.commands == {}


async def test_command_scope_and_language_errors(server: FakeBotApi, bot: Bot) -> None:
    commands = [BotCommand("start", "Start")]
    await expect_bad_request(
        server, bot.set_my_commands(commands, scope=BotCommandScopeChat(55555)), "Bad Request: chat not found"
    )
    await expect_bad_request(
        server,
        bot.set_my_commands(commands, language_code="nor"),
        "Bad Request: invalid language code specified",
    )
    await expect_bad_request(
        server,
        raw_call(
            bot, "setMyCommands", commands=[{"command": "a", "description": "b"}], scope={"type": "chat"}
        ),
        "Bad Request: can't parse BotCommandScope: Can't find field \"chat_id\"",
    )


# ----------------------------------------------------------------------- chats and actions


async def test_chat_action_get_chat_and_leave_chat(server: FakeBotApi, bot: Bot, kari: FakeUser) -> None:
    assert await bot.send_chat_action(kari.id, ChatAction.TYPING)
    await expect_bad_request(
        server,
        raw_call(bot, "sendChatAction", chat_id=kari.id, action="dancing"),
        "Bad Request: wrong parameter action in request",
    )
    info = await bot.get_chat(kari.id)
    assert (info.id, info.type, info.username) == (kari.id, "private", "kari_n")

    group = server.add_group("Styret")
    group_info = await bot.get_chat(group.id)
    assert (group_info.type, group_info.title) == ("group", "Styret")
    assert await bot.leave_chat(group.id)
    with pytest.raises(Forbidden, match="bot is not a member of the group chat"):
        await bot.send_message(group.id, "hei")
    left = Update.de_json(server.pending_updates[-1], bot)
    assert left.my_chat_member is not None
    assert left.my_chat_member.new_chat_member.status == "left"


# -------------------------------------------------------------------- updates: getUpdates


async def test_long_polling_wakes_up_and_confirms_with_offset(server: FakeBotApi, bot: Bot) -> None:
    ola = server.add_user("Ola", language_code="nn")
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await server.wait_until(lambda: server.long_poll_waiting, what="a long poll waiting")
    server.send_text(ola, "Hei! Eg treng hjelp")
    updates = await asyncio.wait_for(poll, 5)
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None
    assert message.text == "Hei! Eg treng hjelp"
    assert message.from_user is not None
    assert message.from_user.language_code == "nn"

    server.send_command(ola, "start")
    server.send_text(ola, "tre")
    again = await bot.get_updates()
    assert [u.update_id for u in again] == [
        updates[0].update_id,
        updates[0].update_id + 1,
        updates[0].update_id + 2,
    ]
    confirmed = await bot.get_updates(offset=updates[0].update_id + 1, limit=1)
    assert [u.message.text for u in confirmed if u.message] == ["/start"]
    assert confirmed[0].message is not None
    assert [e.type for e in confirmed[0].message.entities] == ["bot_command"]
    rest = await bot.get_updates(offset=confirmed[0].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["tre"]
    assert await bot.get_updates(offset=rest[0].update_id + 1) == ()
    assert server.pending_updates == []


async def test_allowed_updates_filter_what_telegram_creates(
    server: FakeBotApi, bot: Bot, kari: FakeUser
) -> None:
    (start,) = await bot.get_updates()
    assert await bot.get_updates(offset=start.update_id + 1, allowed_updates=["message"]) == ()
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="yes")]])
    message = await bot.send_message(kari.id, "Ok?", reply_markup=keyboard)
    server.press_button(kari, message.message_id, "yes")
    server.send_text(kari, "tekst")
    updates = await bot.get_updates()
    assert [ub.update_kind(u.to_dict()) for u in updates] == ["message"]
    assert server.suppressed_updates[-1][1] == "callback_query not in allowed_updates"


async def test_second_long_poll_terminates_the_first(server: FakeBotApi, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await server.wait_until(lambda: server.long_poll_waiting, what="the first long poll")
    # A second instance of the same bot: PTB polls over a one-connection pool, so one Bot
    # object can't conflict with itself.
    async with Bot(server.token, base_url=server.base_url) as other_instance:
        assert await other_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request; make sure that only one"):
        await asyncio.wait_for(first, 5)


# ------------------------------------------------------------------------ updates: webhook


class WebhookReceiver:
    """A local HTTP endpoint standing in for the bot's webhook, answering as scripted."""

    def __init__(self) -> None:
        self.received: list[tuple[JSON, str | None]] = []
        self.statuses: list[int] = []  # answers to give, in order; 200 once exhausted
        self.stall_texts: set[str] = set()  # messages never answered (until the receiver stops)
        self._stop = asyncio.Event()
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append((body, request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        if body.get("message", {}).get("text") in self.stall_texts:
            await self._stop.wait()
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status)

    async def __aenter__(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


async def test_webhook_delivers_with_secret_header_and_retries(server: FakeBotApi, bot: Bot) -> None:
    async with WebhookReceiver() as receiver:
        receiver.statuses = [500, 502]
        assert await bot.set_webhook(receiver.url, secret_token="hemmelig_Token-1", max_connections=5)
        info = await bot.get_webhook_info()
        assert (info.url, info.max_connections, info.pending_update_count) == (receiver.url, 5, 0)

        eva = server.add_user("Eva")
        server.send_text(eva, "første")
        server.send_text(eva, "andre")
        await server.drain()
        texts = [body["message"]["text"] for body, _ in receiver.received]
        # Two failed attempts of the first update, then both in order.
        assert texts == ["første", "første", "første", "andre"]
        assert {secret for _, secret in receiver.received} == {"hemmelig_Token-1"}
        assert [u["message"]["text"] for u in server.delivered_updates] == ["første", "andre"]
        info = await bot.get_webhook_info()
        assert info.last_error_message == "Wrong response from the webhook: 502 Bad Gateway"
        assert info.pending_update_count == 0

        with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
            await bot.get_updates()


async def test_webhook_keeps_order_per_chat_and_drops_after_retries() -> None:
    async with (
        FakeBotApi(webhook_timeout=0.3, webhook_retry_delays=(0.01,)) as server,
        WebhookReceiver() as receiver,
        Bot(server.token, base_url=server.base_url) as bot,
    ):
        receiver.stall_texts = {"a1"}
        await bot.set_webhook(receiver.url)
        a, b = server.add_user("A"), server.add_user("B")
        server.send_text(a, "a1")
        server.send_text(a, "a2")
        server.send_text(b, "b1")
        await server.drain()
        # a1 never got an answer: two attempts (one retry), then dropped; a2 waited behind
        # it, b1 from another chat did not.
        assert [(u["message"]["text"], why) for u, why in server.dropped_webhook_updates] == [
            ("a1", "Read timeout expired")
        ]
        assert [u["message"]["text"] for u in server.delivered_updates] == ["b1", "a2"]
        assert [body["message"]["text"] for body, _ in receiver.received].count("a1") == 2


async def test_set_webhook_validation() -> None:
    # Telegram limits setWebhook to one call a second, invalid ones included.
    async with (
        FakeBotApi(set_webhook_rate_limit=False) as server,
        Bot(server.token, base_url=server.base_url) as bot,
    ):
        await _check_set_webhook_validation(server, bot)


async def _check_set_webhook_validation(server: FakeBotApi, bot: Bot) -> None:
    await expect_bad_request(
        server,
        bot.set_webhook("https://127.0.0.1/x", secret_token="a b"),
        "Bad Request: secret token contains unallowed characters",
    )
    await expect_bad_request(
        server,
        bot.set_webhook("https://127.0.0.1/x", secret_token="a" * 257),
        "Bad Request: secret token is too long",
    )
    await expect_bad_request(
        server, bot.set_webhook("https://127.0.0.1:0x/x"), "Bad Request: invalid webhook URL specified"
    )
    with pytest.raises(BadRequest, match="delivers to loopback addresses only"):
        await bot.set_webhook("https://example.com/hook")
    with pytest.raises(BadRequest):
        await bot.set_webhook(f"http://127.0.0.1:{unused_port()}/hook")
    assert last_description(server) == "Bad Request: bad webhook: Connection refused"


async def test_set_webhook_is_rate_limited_and_drops_pending_updates(
    server: FakeBotApi, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with WebhookReceiver() as receiver:
        kari = server.add_user("Kari")
        server.send_text(kari, "venter")
        assert await bot.set_webhook(receiver.url + "?x=1", drop_pending_updates=True)
        with pytest.raises(RetryAfter) as caught:
            await bot.set_webhook(receiver.url)
        assert caught.value.retry_after == dtm.timedelta(seconds=1)
        assert server.pending_updates == []
        assert receiver.received == []
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""


# ------------------------------------------------------------------- other update kinds


async def test_every_user_action_builds_an_update_ptb_parses(server: FakeBotApi, bot: Bot) -> None:
    eva = server.add_user("Eva", language_code="en")
    group = server.add_group("Kor", supergroup=True)
    channel = server.add_channel("Nyheter", username="balanse_nytt")
    sent = [
        server.send_text(eva, "hei"),
        server.send_sticker(eva, "🎉"),
        server.send_photo(eva, caption="bilde #sommer"),
        server.send_voice(eva, duration=7),
        server.send_command(eva, "hjelp", chat=group),
        server.post_to_channel(channel, "Ny artikkel"),
        server.block_bot(eva),
    ]
    user_message = server.messages(eva)[0]
    server.unblock_bot(eva)
    sent.append(server.edit_text(eva, user_message, "hei igjen"))
    parsed = [Update.de_json(u, bot) for u in sent]
    assert parsed[0].message is not None and parsed[0].message.text == "hei"
    assert parsed[1].message is not None and parsed[1].message.sticker is not None
    assert parsed[1].message.sticker.emoji == "🎉"
    assert parsed[2].message is not None and len(parsed[2].message.photo) == 4
    assert parsed[2].message.caption_entities[0].type == "hashtag"
    assert parsed[3].message is not None and parsed[3].message.voice is not None
    assert parsed[3].message.voice.to_dict()["duration"] == 7
    group_message = parsed[4].message
    assert group_message is not None and group_message.chat.type == "supergroup"
    assert group_message.text == "/hjelp@balansebot_test_bot"
    assert parsed[5].channel_post is not None and parsed[5].channel_post.sender_chat is not None
    assert parsed[6].my_chat_member is not None
    assert parsed[6].my_chat_member.new_chat_member.status == "kicked"
    assert parsed[7].edited_message is not None and parsed[7].edited_message.edit_date is not None
    ids = [u.update_id for u in parsed]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_privacy_mode_hides_group_chatter(server: FakeBotApi, bot: Bot) -> None:
    group = server.add_group("Styret")
    per = server.add_user("Per")
    server.send_text(per, "bare prat", chat=group)
    server.send_text(per, "@balansebot_test_bot hei", chat=group)
    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["@balansebot_test_bot hei"]
    assert server.suppressed_updates[0][1] == "privacy mode: not addressed to the bot"


async def test_blocked_users_and_chat_failures(server: FakeBotApi, bot: Bot, kari: FakeUser) -> None:
    server.block_bot(kari)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(kari.id, "hei")
    server.unblock_bot(kari)
    await bot.send_message(kari.id, "hei igjen")
    server.fail_chat(kari.id, 400, "Bad Request: PEER_ID_INVALID")
    with pytest.raises(BadRequest, match="Peer_id_invalid"):
        await bot.send_chat_action(kari.id, ChatAction.TYPING)
    server.clear_chat_failure(kari.id)
    assert await bot.send_chat_action(kari.id, ChatAction.TYPING)


# ---------------------------------------------------------------------------- faults


async def test_rate_limit_becomes_ptb_retry_after(
    server: FakeBotApi, bot: Bot, kari: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # retry_after as a timedelta, without warnings
    server.rate_limit("sendMessage", 17)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(kari.id, "hei")
    assert caught.value.retry_after == dtm.timedelta(seconds=17)
    assert server.ops[-1].description == "Too Many Requests: retry after 17"
    assert server.bot_messages(kari) == []
    await bot.send_message(kari.id, "hei")  # one call only


async def test_faults_hit_any_method_count_down_and_can_act_first(
    server: FakeBotApi, bot: Bot, kari: FakeUser
) -> None:
    server.server_error(None, 500, count=2)
    for call in (bot.get_me(), bot.send_message(kari.id, "x")):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await call
    assert await bot.send_message(kari.id, "nå")
    # The message is sent but the answer never comes: the classic duplicate-send trap.
    server.hang("sendMessage", after_processing=True)
    with pytest.raises(TimedOut):
        await bot.send_message(kari.id, "kanskje", read_timeout=0.3)
    assert [m.text for m in server.bot_messages(kari)] == ["nå", "kanskje"]
    server.release_hangs()
    assert server.pending_faults == []


async def test_transcript_lists_what_the_bot_did_in_a_chat_in_order(
    server: FakeBotApi, bot: Bot, kari: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB warns on every RetryAfter otherwise
    other = server.add_user("Ola")
    server.send_text(other, "hei")
    message = await bot.send_message(kari.id, "<b>Hei</b>", parse_mode=ParseMode.HTML)
    await bot.send_message(other.id, "ikke Kari")
    server.rate_limit("editMessageText", 3)
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("Hallo", kari.id, message.message_id)
    await bot.edit_message_text("Hallo", kari.id, message.message_id)
    await bot.delete_message(kari.id, message.message_id)
    transcript = server.transcript(kari)
    assert [(op.method, op.ok, op.fault) for op in transcript] == [
        ("sendMessage", True, None),
        ("editMessageText", False, "error"),
        ("editMessageText", True, None),
        ("deleteMessage", True, None),
    ]
    assert transcript[0].params["parse_mode"] == "HTML"
    assert transcript[0].result["text"] == "Hei"
    assert transcript[1].description == "Too Many Requests: retry after 3"
    assert server.bot_messages(kari) == []
    assert [m.text for m in server.bot_messages(kari, include_deleted=True)] == ["Hallo"]
    assert server.calls["editMessageText"] == 2


async def test_wait_for_bot_messages_is_bounded(server: FakeBotApi, kari: FakeUser) -> None:
    with pytest.raises(TimeoutError, match="1 bot message"):
        await server.wait_for_bot_messages(kari, 1, within=0.2)


# -------------------------------------------------------------------------- end to end


async def test_a_ptb_application_polls_and_answers(server: FakeBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_user is not None
        await update.effective_message.reply_html(f"Hei, <b>{update.effective_user.first_name}</b>!")

    application = Application.builder().token(server.token).base_url(server.base_url).build()
    application.add_handler(CommandHandler("start", start))
    ingrid = server.add_user("Ingrid")
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(timeout=1)
        server.send_command(ingrid, "start")
        (reply,) = await server.wait_for_bot_messages(ingrid, 1)
        await application.updater.stop()
        await application.stop()
    assert reply.text == "Hei, Ingrid!"
    assert reply.entities == [{"type": "bold", "offset": 5, "length": 6}]
    assert server.ops_for("deleteWebhook")  # PTB's bootstrap ran against the fake


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
@pytest.mark.own_database
async def test_runs_standalone_from_the_command_line() -> None:
    port = unused_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.fake_bot_api",
        "--port",
        str(port),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(30), aiohttp.ClientSession() as session:
            api = f"http://127.0.0.1:{port}/bot{DEFAULT_TOKEN}"
            while True:
                try:
                    async with session.get(f"{api}/getMe") as response:
                        assert (await response.json())["ok"]
                        break
                except aiohttp.ClientConnectorError:
                    await asyncio.sleep(0.1)  # the process is still starting
            async with session.post(
                f"http://127.0.0.1:{port}/_test/message", json={"user_id": 5, "text": "hei"}
            ) as response:
                assert (await response.json())["result"]["message"]["text"] == "hei"
            async with session.get(f"{api}/getUpdates") as response:
                assert [u["message"]["text"] for u in (await response.json())["result"]] == ["hei"]
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


# ------------------------------------------------------------------- the TDLib ports


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://Balansekunst.no", "https://balansekunst.no/"),
        ("balansekunst.no/om", "http://balansekunst.no/om"),
        ("tg://resolve?domain=x", "tg://resolve?domain=x"),
        ("HTTP://a.no:8080/b?c#d", "http://a.no:8080/b?c#d"),
    ],
)
def test_check_link_normalises_like_telegram(link: str, expected: str) -> None:
    assert check_link(link) == expected


@pytest.mark.parametrize(
    ("link", "error"),
    [
        ("localhost", "Wrong HTTP URL"),
        ("gopher://a.no", "Unsupported URL protocol"),
        ("https://", "URL host is empty"),
        ("https://a.no:99999", "Wrong port number specified in the URL"),
        ("tg://user:pw@x", "Wrong tg URL"),
        ("https://a b.no", "Wrong URL host"),
    ],
)
def test_check_link_refuses_like_telegram(link: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        check_link(link)


def test_parse_url_defaults_to_the_given_protocol() -> None:
    assert parse_url("127.0.0.1:8443/hook", "https").get_url() == "https://127.0.0.1:8443/hook"


def test_html_parser_is_lenient_exactly_where_telegram_is() -> None:
    # Unclosed entity names, upper-case tags, unquoted attributes and the anonymous end tag.
    assert parse_html("&lt&gt <B>x</> <a href=a.no>l</a> 3 > 2", strict_tags=False) == (
        "<> x l 3 > 2",
        [
            {"type": "bold", "offset": 3, "length": 1},
            {"type": "text_link", "offset": 5, "length": 1, "url": "http://a.no/"},
        ],
    )
    assert parse_html("a & b", strict_ampersand=False) == ("a & b", [])
    # A link Telegram can't check keeps its text and loses the entity.
    assert parse_html('<a href="javascript:x">l</a>') == ("l", [])


def test_update_builders_match_what_ptb_expects() -> None:
    person = ub.user(1, "Kari", language_code="nb")
    chat = ub.private_chat(person)
    command = ub.command_update(
        10, message_id=1, date=1_700_000_000, from_user=person, command="start", args="x"
    )
    assert command["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    emoji_text = ub.text_message_update(11, message_id=2, date=1, from_user=person, text="😀 /hjelp")
    assert emoji_text["message"]["entities"] == [{"type": "bot_command", "offset": 3, "length": 6}]
    member = ub.chat_member_updated(
        chat=chat,
        from_user=person,
        date=1,
        old_chat_member=ub.chat_member(person, "member"),
        new_chat_member=ub.chat_member(person, "administrator"),
    )
    objects = [command, emoji_text, ub.update(12, "my_chat_member", member)]
    for data in objects:
        parsed = Update.de_json(data, None)
        assert parsed.update_id == data["update_id"]
        assert not parsed.api_kwargs  # every field is one PTB knows
    assert ub.find_entities("skriv til post@balansekunst.no eller @balanse, se https://b.no/x.") == [
        {"type": "email", "offset": 10, "length": 20},
        {"type": "mention", "offset": 37, "length": 8},
        {"type": "url", "offset": 50, "length": 14},
    ]


# --------------------------------------------------------------------------------- strictness


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("3 > 2", 'Character ">" at byte offset 2 must be escaped as "&gt;"'),
        ("<a>balansekunst.no</a>", 'Tag "a" must have an href attribute at byte offset 0'),
    ],
)
async def test_html_the_bot_api_documentation_forbids_is_refused(
    server: FakeBotApi, bot: Bot, kari: FakeUser, html: str, error: str
) -> None:
    await expect_bad_request(
        server,
        bot.send_message(kari.id, html, parse_mode=ParseMode.HTML),
        f"Bad Request: can't parse entities: {error}",
    )
    await bot.send_message(
        kari.id, "3 &gt; 2 <a href='https://balansekunst.no'>her</a>", parse_mode=ParseMode.HTML
    )


async def test_a_parameter_the_method_does_not_take_is_refused(
    server: FakeBotApi, bot: Bot, kari: FakeUser
) -> None:
    await expect_bad_request(
        server,
        raw_call(bot, "sendMessage", chat_id=kari.id, text="hei", disable_preview=True),
        "Bad Request: the fake Bot API knows no parameter 'disable_preview' of sendMessage",
    )
    await raw_call(bot, "sendMessage", chat_id=kari.id, text="hei", disable_web_page_preview=True)


@pytest.mark.parametrize(
    ("options", "description"),
    [
        ("{nope", "Bad Request: can't parse link preview options JSON object"),
        ("[true]", "Bad Request: object expected as link preview options"),
        ('{"is_disabled": "yes"}', 'Bad Request: field "is_disabled" must be of type Boolean'),
        ('{"url": 5}', 'Bad Request: field "url" must be of type String'),
        (
            '{"disabled": true}',
            "Bad Request: the fake Bot API knows no field 'disabled' of link preview options",
        ),
    ],
)
async def test_link_preview_options_are_read_and_checked(
    server: FakeBotApi, bot: Bot, kari: FakeUser, options: str, description: str
) -> None:
    await expect_bad_request(
        server,
        raw_call(bot, "sendMessage", chat_id=kari.id, text="hei", link_preview_options=options),
        description,
    )
    await raw_call(
        bot, "sendMessage", chat_id=kari.id, text="hei", link_preview_options='{"is_disabled": true}'
    )


async def test_flood_control_refuses_a_burst_in_one_chat_and_lets_it_go_after_retry_after() -> None:
    async with FakeBotApi(flood_limits=FloodLimits(chat_burst=3, chat_per_second=1)) as fake:
        kari = fake.add_user("Kari")
        fake.send_command(kari, "start")
        async with Bot(fake.token, base_url=fake.base_url) as paced:
            for n in range(3):
                await paced.send_message(kari.id, f"{n}")
            with pytest.raises(RetryAfter) as caught:
                await paced.send_message(kari.id, "for mye")
            assert caught.value.retry_after in (1, dtm.timedelta(seconds=1))
            ola = fake.add_user("Ola")
            fake.send_command(ola, "start")
            await paced.send_message(ola.id, "another chat is not held back")
            await asyncio.sleep(1.05)
            await paced.send_message(kari.id, "en til")
        assert [m.text for m in fake.bot_messages(kari)] == ["0", "1", "2", "en til"]
        assert [op.error_code for op in fake.ops_for("sendMessage")].count(429) == 1


async def test_flood_control_refuses_more_than_the_overall_burst_and_rate() -> None:
    async with FakeBotApi(flood_limits=FloodLimits(per_second=10, burst_seconds=1)) as fake:
        people = [fake.add_user(f"P{n}") for n in range(12)]
        for person in people:
            fake.send_command(person, "start")
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            outcomes = []
            for person in people:
                try:
                    await bot.send_message(person.id, "hei")
                    outcomes.append("ok")
                except RetryAfter:
                    outcomes.append("429")
            assert outcomes == ["ok"] * 10 + ["429"] * 2
            await asyncio.sleep(1.05)
            await bot.send_message(people[-1].id, "hei")
