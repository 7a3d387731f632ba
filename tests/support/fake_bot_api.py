"""A strict, offline fake of the Telegram Bot API for tests.

An aiohttp application answering ``/bot<token>/<method>`` like ``api.telegram.org`` does,
with Telegram's own error descriptions, so a python-telegram-bot ``Bot`` pointed at it
(``base_url=server.base_url``) cannot tell the difference for the methods the project uses.
The HTML parser, URL checks, reply-markup parsing and error texts are ports of TDLib and
telegram-bot-api behaviour; nothing is imported from ``bot/``: this is an independent oracle.

Use it as an async context manager from tests, or standalone:
``uv run python -m tests.support.fake_bot_api --port 8081``.  Everything binds to and
delivers to loopback addresses only.

    async with FakeBotApi() as server, Bot(server.token, base_url=server.base_url) as bot:
        kari = server.add_user("Kari", language_code="nb")
        server.send_command(kari, "start")          # queued for getUpdates (or POSTed to a webhook)
        ...                                         # the bot under test runs
        (reply,) = await server.wait_for_bot_messages(kari, 1)
        server.press_button(kari, reply, "answer:yes")
        server.rate_limit("sendMessage", retry_after=5)   # the next sendMessage gets a 429
        server.advance(49 * 3600)                   # now reply is too old to delete

Deliberate differences from Telegram are listed in ``KNOWN_DIFFERENCES``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import itertools
import json
import logging
import math
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from aiohttp import web

from tests.support import updates as ub

JSON = dict[str, Any]
log = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456789:AAFakeTokenForOfflineTestsOnly_abcdefgh"
KNOWN_DIFFERENCES = (
    "HTML: a bare '&' is refused (strict_html_ampersand=True); TDLib keeps it literally.",
    "Inline buttons with two actions are refused (strict_inline_buttons=True); "
    "telegram-bot-api silently uses the first.",
    "parse_mode Markdown/MarkdownV2 answer 501: no parser here.",
    "Webhooks may be plain http and any port, but only on loopback; Telegram wants public "
    "HTTPS on ports 80, 88, 443 or 8443.",
    "Entity auto-detection (url, mention, hashtag, bot_command, email) is a reduced model.",
    "No 3 s delay before repeated 409 answers and no minimum 3 s long poll after a quick "
    "repeat, both of which telegram-bot-api adds against busy loops.",
    "Webhook deliveries stop after len(webhook_retry_delays) retries; Telegram retries for up to 24 hours.",
    "A parameter a method does not take is refused (strict_parameters=True); Telegram ignores it.",
    "A field LinkPreviewOptions does not have is refused; telegram-bot-api reads the fields it "
    "knows and ignores the rest.",
    "HTML: a bare '>' and an <a> without href are refused (strict_html_tags=True); TDLib keeps the "
    "'>' and links the text itself, but the Bot API documentation requires '&gt;' and an href.",
    "Flood control (flood_limits) is a model, token buckets: Telegram does not publish its exact "
    "limits; the defaults follow its FAQ (about 30 messages a second overall, about one a second "
    "in a chat, short bursts let through).",
)
MAX_MESSAGE_LENGTH = 4096  # UTF-16 code units after entity parsing
MAX_CALLBACK_DATA_BYTES = 64
DELETE_WINDOW_SECONDS = 48 * 3600
UPDATE_RETENTION_SECONDS = 24 * 3600
LONG_POLL_MAX_TIMEOUT = 50
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_LOOPBACK_NAMES = frozenset({"localhost"})

# Canonical spelling of the methods this fake implements; Telegram matches names
# case-insensitively.
IMPLEMENTED_METHODS = (
    "getMe",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "answerCallbackQuery",
    "deleteMessage",
    "deleteMessages",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "leaveChat",
    "sendChatAction",
    "getChat",
)
_CANONICAL = {name.lower(): name for name in IMPLEMENTED_METHODS}
_TEXT_PARAMETERS = ("text", "parse_mode", "entities", "link_preview_options", "disable_web_page_preview")
# What each implemented method takes (Bot API 9); anything else is refused with strict_parameters.
PARAMETERS: dict[str, frozenset[str]] = {
    name: frozenset(parameters)
    for name, parameters in {
        "getMe": (),
        "getUpdates": ("offset", "limit", "timeout", "allowed_updates"),
        "setWebhook": (
            "url",
            "certificate",
            "ip_address",
            "max_connections",
            "allowed_updates",
            "drop_pending_updates",
            "secret_token",
        ),
        "deleteWebhook": ("drop_pending_updates",),
        "getWebhookInfo": (),
        "sendMessage": (
            "business_connection_id",
            "chat_id",
            "message_thread_id",
            "direct_messages_topic_id",
            *_TEXT_PARAMETERS,
            "disable_notification",
            "protect_content",
            "allow_paid_broadcast",
            "message_effect_id",
            "suggested_post_parameters",
            "reply_parameters",
            "reply_markup",
            "reply_to_message_id",
            "allow_sending_without_reply",
        ),
        "editMessageText": (
            "business_connection_id",
            "chat_id",
            "message_id",
            "inline_message_id",
            *_TEXT_PARAMETERS,
            "reply_markup",
        ),
        "editMessageReplyMarkup": (
            "business_connection_id",
            "chat_id",
            "message_id",
            "inline_message_id",
            "reply_markup",
        ),
        "answerCallbackQuery": ("callback_query_id", "text", "show_alert", "url", "cache_time"),
        "deleteMessage": ("chat_id", "message_id"),
        "deleteMessages": ("chat_id", "message_ids"),
        "setMyCommands": ("commands", "scope", "language_code"),
        "getMyCommands": ("scope", "language_code"),
        "deleteMyCommands": ("scope", "language_code"),
        "leaveChat": ("chat_id",),
        "sendChatAction": ("business_connection_id", "chat_id", "message_thread_id", "action"),
        "getChat": ("chat_id",),
    }.items()
}
# Calls that post or change a message count against flood control; button answers, deletes do not.
FLOOD_COUNTED = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})
LINK_PREVIEW_FLAGS = ("is_disabled", "prefer_small_media", "prefer_large_media", "show_above_text")


@dataclass(frozen=True)
class FloodLimits:
    """How many messages a bot may send before Telegram answers 429 "retry after N"."""

    per_second: float = 30.0
    """All chats together, on average…"""
    burst_seconds: float = 0.5
    """…with at most this many seconds' worth at once (calls that arrive bunched, say)."""
    chat_burst: int = 4
    """One chat: this many at once…"""
    chat_per_second: float = 1.0
    """…and then this many a second."""


class _FloodControl:
    """Telegram's side of flood control: token buckets on the monotonic clock (the fake's can jump)."""

    def __init__(self, limits: FloodLimits) -> None:
        self.limits = limits
        self.refused: Counter[str] = Counter()  # 429s by the limit that was hit: "overall", "chat"
        self.refused_at: list[float] = []  # when, on the monotonic clock
        self.stalls: list[tuple[float, float]] = []  # when the fake itself could not run (see watch_stalls)
        self._burst = max(1.0, limits.per_second * limits.burst_seconds)
        self._overall = (self._burst, time.monotonic())
        self._chats: dict[int, tuple[float, float]] = {}  # chat → (tokens, when)

    def admit(self, chat_id: int | None) -> None:
        """Raise 429, with how long to wait, when one more message would be over a limit."""
        now = time.monotonic()
        if (tokens := self._overall_tokens(now)) < 1:
            self.refused["overall"] += 1
            self.refused_at.append(now)
            raise too_many_requests(max(1, math.ceil((1 - tokens) / self.limits.per_second)))
        if chat_id is not None and (tokens := self._tokens(chat_id, now)) < 1:
            self.refused["chat"] += 1
            self.refused_at.append(now)
            raise too_many_requests(max(1, math.ceil((1 - tokens) / self.limits.chat_per_second)))

    def count(self, chat_id: int | None) -> None:
        """One message was sent (a refused call counts for nothing)."""
        now = time.monotonic()
        self._overall = (self._overall_tokens(now) - 1, now)
        if chat_id is not None:
            self._chats[chat_id] = (self._tokens(chat_id, now) - 1, now)

    async def watch_stalls(self, *, tick: float = 0.02, longest_normal: float = 0.1) -> None:
        """Note each time this process could not run for a while (the machine busy, a GC pause).

        Telegram never pauses, but a fake that does sees the bot's evenly paced calls that queued
        meanwhile arrive at once, and refuses them as a burst. A test can leave those refusals out
        (`refused_outside_stalls`) and still count every burst the bot itself sent.
        """
        expected = time.monotonic() + tick
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if now - expected > longest_normal:
                self.stalls.append((expected, now))
            expected = now + tick

    def refused_outside_stalls(self, *, backlog_seconds: float = 1.0) -> int:
        """429s not answered during, or in the `backlog_seconds` after, one of the fake's own stalls."""
        return sum(
            not any(start <= at <= end + backlog_seconds for start, end in self.stalls)
            for at in self.refused_at
        )

    def _overall_tokens(self, now: float) -> float:
        tokens, at = self._overall
        return min(self._burst, tokens + (now - at) * self.limits.per_second)

    def _tokens(self, chat_id: int, now: float) -> float:
        limits = self.limits
        tokens, at = self._chats.get(chat_id, (float(limits.chat_burst), now))
        return min(float(limits.chat_burst), tokens + (now - at) * limits.chat_per_second)


# Real Bot API methods this fake does not model: answered with 501 so a test notices,
# instead of a 404 that python-telegram-bot would report as an invalid token.
KNOWN_UNIMPLEMENTED_METHODS = frozenset(
    name.lower()
    for name in (
        "logOut",
        "close",
        "forwardMessage",
        "forwardMessages",
        "copyMessage",
        "copyMessages",
        "sendPhoto",
        "sendAudio",
        "sendDocument",
        "sendVideo",
        "sendAnimation",
        "sendVoice",
        "sendVideoNote",
        "sendMediaGroup",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendDice",
        "sendSticker",
        "setMessageReaction",
        "getUserProfilePhotos",
        "getFile",
        "banChatMember",
        "unbanChatMember",
        "restrictChatMember",
        "promoteChatMember",
        "getChatAdministrators",
        "getChatMemberCount",
        "getChatMember",
        "pinChatMessage",
        "unpinChatMessage",
        "unpinAllChatMessages",
        "setMyName",
        "getMyName",
        "setMyDescription",
        "getMyDescription",
        "setMyShortDescription",
        "getMyShortDescription",
        "setChatMenuButton",
        "getChatMenuButton",
        "setMyDefaultAdministratorRights",
        "getMyDefaultAdministratorRights",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageLiveLocation",
        "stopMessageLiveLocation",
        "stopPoll",
        "answerInlineQuery",
        "sendInvoice",
    )
)


# =======================================================================================
# Errors
# =======================================================================================


class ApiError(Exception):
    """A Bot API error answer: HTTP status = ``error_code``, JSON body with ``description``."""

    def __init__(
        self, error_code: int, description: str, parameters: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = dict(parameters) if parameters else None

    def body(self) -> JSON:
        """The JSON object Telegram sends for this error."""
        data: JSON = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            data["parameters"] = self.parameters
        return data


_ERROR_PREFIX = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 500: "Internal Server Error"}


def tg_error(code: int, message: str) -> ApiError:
    """An error worded as telegram-bot-api's ``Client::fail_query_with_error`` words it."""
    # It prefixes the code's name and lower-cases the first letter, except in upper-case
    # constants such as BUTTON_DATA_INVALID.
    prefix = _ERROR_PREFIX[code]
    if message.startswith(prefix):
        return ApiError(code, message)
    if len(message) >= 2 and (message[1] == "_" or "A" <= message[1] <= "Z"):
        text = message
    else:
        text = message[:1].lower() + message[1:]
    return ApiError(code, f"{prefix}: {text}")


def bad_request(message: str) -> ApiError:
    """A 400 error with Telegram's wording rules applied."""
    return tg_error(400, message)


def _not_modified() -> ApiError:
    # telegram-bot-api rewrites the server's MESSAGE_NOT_MODIFIED into this sentence.
    return bad_request(
        "message is not modified: specified new message content and reply markup are "
        "exactly the same as a current content and reply markup of the message"
    )


def too_many_requests(retry_after: int) -> ApiError:
    """A 429 flood-control error carrying ``parameters.retry_after``."""
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


# =======================================================================================
# TDLib ports: URL parsing, link checks, HTML entity parsing
# =======================================================================================


class UrlError(ValueError):
    """A URL TDLib rejects; the message is TDLib's."""


@dataclass(frozen=True)
class HttpUrl:
    """A parsed URL as ``td::parse_url`` returns it."""

    protocol: Literal["http", "https"]
    userinfo: str
    host: str
    is_ipv6: bool
    specified_port: int
    port: int
    query: str

    def get_url(self) -> str:
        """The normalised URL Telegram echoes back (lower-cased host, ``/`` path)."""
        userinfo = f"{self.userinfo}@" if self.userinfo else ""
        port = f":{self.specified_port}" if self.specified_port > 0 else ""
        return f"{self.protocol}://{userinfo}{self.host}{port}{self.query}"


_HOST_EXTRA_ALLOWED = frozenset(".-_!$,~*'();&+=")


def _to_int_safe(text: str) -> int | None:
    return int(text) if re.fullmatch(r"-?[0-9]+", text) else None


def parse_url(url: str, default_protocol: Literal["http", "https"] = "http") -> HttpUrl:
    """Port of ``td::parse_url`` (tdutils/td/utils/HttpUrl.cpp)."""
    match = re.match(r"[^:/?#@\[\]]*", url)
    protocol_str = match.group(0).lower() if match else ""
    rest = url[len(protocol_str) :]
    protocol: Literal["http", "https"]
    if rest.startswith("://"):
        if protocol_str == "http":
            protocol = "http"
        elif protocol_str == "https":
            protocol = "https"
        else:
            raise UrlError("Unsupported URL protocol")
        rest = rest[3:]
    else:
        rest = url
        protocol = default_protocol
    cut = re.match(r"[^/?#]*", rest)
    userinfo_host_port = cut.group(0) if cut else ""
    query = rest[len(userinfo_host_port) :]

    port = 0
    colon = len(userinfo_host_port) - 1
    while colon > 0 and userinfo_host_port[colon] not in ":]@":
        colon -= 1
    if colon > 0 and userinfo_host_port[colon] == ":":
        port_text = userinfo_host_port[colon + 1 :]
        while len(port_text) > 1 and port_text[0] == "0":
            port_text = port_text[1:]
        parsed = _to_int_safe(port_text)
        port = -1 if parsed is None or parsed == 0 or parsed >= 2**31 else parsed
        userinfo_host = userinfo_host_port[:colon]
    else:
        userinfo_host = userinfo_host_port
    if port < 0 or port > 65535:
        raise UrlError("Wrong port number specified in the URL")

    at = userinfo_host.rfind("@")
    userinfo = userinfo_host[:at] if at >= 0 else ""
    host = userinfo_host[at + 1 :]
    is_ipv6 = False
    if host.startswith("[") and host.endswith("]") and len(host) >= 2:
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise UrlError("Wrong IPv6 address specified in the URL") from None
        is_ipv6 = True
    if not host:
        raise UrlError("URL host is empty")
    if host == ".":
        raise UrlError("Host is invalid")
    specified_port = port
    if port == 0:
        port = 80 if protocol == "http" else 443

    query = query.rstrip(" \t\r\n\v\0")
    if not query:
        query = "/"
    query_str = "" if query.startswith("/") else "/"
    for char in query:
        code = ord(char)
        query_str += f"%{code:02X}" if code <= 0x20 else char

    host_str = host.lower()
    i = 0
    while i < len(host_str):
        char = host_str[i]
        if is_ipv6:
            if i in (0, len(host_str) - 1) or char in ":." or char in "0123456789abcdef":
                i += 1
                continue
            raise UrlError("Wrong IPv6 URL host")
        if ("a" <= char <= "z") or ("0" <= char <= "9") or char in _HOST_EXTRA_ALLOWED:
            i += 1
            continue
        if char == "%":
            pair = host_str[i + 1 : i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdef" for c in pair):
                i += 3
                continue
            raise UrlError("Wrong percent-encoded symbol in URL host")
        if ord(char) >= 128:
            i += 1
            continue
        raise UrlError("Wrong URL host")
    return HttpUrl(protocol, userinfo, host_str, is_ipv6, specified_port, port, query_str)


def check_link(link: str, *, https_only: bool = False) -> str:
    """Port of TDLib ``LinkManager::check_link``: the normalised link or ``UrlError``."""
    is_tg = is_ton = False
    if link[:3].lower() == "tg:":
        link, is_tg = link[3:], True
    elif link[:4].lower() == "ton:":
        link, is_ton = link[4:], True
    if (is_tg or is_ton) and link.startswith("//"):
        link = link[2:]
    url = parse_url(link)
    if https_only and (url.protocol != "https" or is_tg or is_ton):
        raise UrlError("Only HTTPS links are allowed")
    if is_tg or is_ton:
        if (
            link[:7].lower() == "http://"
            or url.protocol == "https"
            or url.userinfo
            or url.specified_port != 0
            or url.is_ipv6
        ):
            raise UrlError("Wrong tg URL" if is_tg else "Wrong ton URL")
        query = url.query
        if len(query) > 1 and query[1] == "?":
            query = query[1:]
        if any(not (c.isascii() and (c.isalnum() or c in "-_")) for c in url.host):
            raise UrlError("Unallowed characters in URL host")
        return f"{'tg' if is_tg else 'ton'}://{url.host}{query}"
    if "." not in url.host and not url.is_ipv6:
        raise UrlError("Wrong HTTP URL")
    return url.get_url()


def link_user_id(url: str) -> int | None:
    """Port of ``LinkManager::get_link_user_id``: the id in ``tg://user?id=<id>`` links."""
    lowered = url.lower()
    if not lowered.startswith("tg:"):
        return None
    rest = lowered[3:].removeprefix("//")
    if not rest.startswith("user"):
        return None
    rest = rest[4:].removeprefix("/")
    if not rest.startswith("?"):
        return None
    rest = rest[1:].split("#", 1)[0]
    for parameter in rest.split("&"):
        key, _, value = parameter.partition("=")
        if key == "id":
            return _to_int_safe(value)
    return None


class EntityParseError(ValueError):
    """Text Telegram refuses with ``can't parse entities: <message>``."""


_SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SPACE_BYTES = frozenset(b" \t\r\n\v\0")
_SIMPLE_TAG_TYPES = {
    "i": "italic",
    "em": "italic",
    "b": "bold",
    "strong": "bold",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
}
# Order TDLib sorts entities that start at the same offset with the same length.
_ENTITY_PRIORITY = {
    "mention": 50,
    "hashtag": 50,
    "bot_command": 50,
    "url": 50,
    "email": 50,
    "bold": 90,
    "italic": 91,
    "code": 20,
    "pre": 11,
    "text_link": 49,
    "text_mention": 49,
    "cashtag": 50,
    "phone_number": 50,
    "underline": 92,
    "strikethrough": 93,
    "blockquote": 0,
    "expandable_blockquote": 0,
    "spoiler": 94,
    "custom_emoji": 99,
}


def _is_alpha(byte: int) -> bool:
    return (0x41 <= byte <= 0x5A) or (0x61 <= byte <= 0x7A)


def _is_digit(byte: int) -> bool:
    return 0x30 <= byte <= 0x39


def _decode_html_entity(data: bytes, pos: int) -> tuple[int, int]:
    """Port of TDLib ``decode_html_entity``: (code point or 0, position after the entity)."""

    def at(i: int) -> int:
        return data[i] if i < len(data) else 0

    end = pos + 1
    code = 0
    if at(pos + 1) == ord("#"):
        end += 1
        if at(pos + 2) == ord("x"):
            end += 1
            while chr(at(end)) in "0123456789abcdefABCDEF" and at(end) != 0:
                code = code * 16 + int(chr(at(end)), 16)
                end += 1
        else:
            while _is_digit(at(end)):
                code = code * 10 + at(end) - 0x30
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while _is_alpha(at(end)):
            end += 1
        name = data[pos + 1 : end]
        named = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}
        if name not in named:
            return 0, pos
        code = named[name]
    if at(end) == ord(";"):
        end += 1
    return code, end


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    out_begin: int


def parse_html(
    text: str, *, strict_ampersand: bool = True, strict_tags: bool = True
) -> tuple[str, list[JSON]]:
    """Telegram's HTML parse mode: (plain text, entities), or ``EntityParseError``."""
    # A port of TDLib's parse_html (td/telegram/MessageEntity.cpp) on UTF-8 bytes, as TDLib
    # works, so that byte offsets in errors match Telegram's.  strict_ampersand also refuses
    # a "&" that starts no entity Telegram decodes: TDLib keeps it literally, but the Bot
    # API documentation requires "&amp;", and an unescaped "&lt" in user text would be
    # silently decoded by Telegram.
    data = text.encode("utf-8")
    size = len(data)

    def at(i: int) -> int:
        return data[i] if i < size else 0

    out = bytearray()
    entities: list[JSON] = []
    utf16 = 0
    need_utf8_recheck = False
    stack: list[_OpenTag] = []
    i = 0
    while i < size:
        byte = data[i]
        if byte == ord("&"):
            code, after = _decode_html_entity(data, i)
            if code:
                utf16 += 2 if code > 0xFFFF else 1
                if 0xD800 <= code <= 0xDFFF:
                    need_utf8_recheck = True
                out += chr(code).encode("utf-8", "surrogatepass")
                i = after
                continue
            if strict_ampersand:
                raise EntityParseError(f'Character "&" at byte offset {i} must be escaped as "&amp;"')
        if byte == ord(">") and strict_tags:
            raise EntityParseError(f'Character ">" at byte offset {i} must be escaped as "&gt;"')
        if byte != ord("<"):
            if byte & 0xC0 != 0x80:
                utf16 += 2 if byte >= 0xF0 else 1
            out.append(byte)
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != ord("/"):
            while at(i) not in _SPACE_BYTES and at(i) != ord(">"):
                i += 1
            if at(i) == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            # bytes.lower() folds ASCII only, like TDLib's to_lower.
            tag = data[begin + 1 : i].lower().decode("utf-8", "replace")
            if tag not in _SUPPORTED_TAGS:
                raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            while at(i) != ord(">"):
                while at(i) != 0 and at(i) in _SPACE_BYTES:
                    i += 1
                if at(i) == ord(">"):
                    break
                attribute_begin = i
                while at(i) not in _SPACE_BYTES and at(i) not in b"=>/\"'":
                    i += 1
                attribute = data[attribute_begin:i]
                if not attribute:
                    raise EntityParseError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
                while at(i) != 0 and at(i) in _SPACE_BYTES:
                    i += 1
                if at(i) != ord("="):
                    if at(i) == 0:
                        raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                    if tag == "blockquote" and attribute == b"expandable":
                        argument = "1"
                    continue
                i += 1
                while at(i) != 0 and at(i) in _SPACE_BYTES:
                    i += 1
                if at(i) == 0:
                    raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                value = bytearray()
                if at(i) not in b"'\"":
                    token_begin = i
                    while _is_alpha(at(i)) or _is_digit(at(i)) or at(i) in b".-":
                        i += 1
                    value += data[token_begin:i].lower()
                    if at(i) not in _SPACE_BYTES and at(i) != ord(">"):
                        raise EntityParseError(f"Unexpected end of name token at byte offset {token_begin}")
                else:
                    quote = at(i)
                    i += 1
                    while at(i) != quote and at(i) != 0:
                        if at(i) == ord("&"):
                            code, after = _decode_html_entity(data, i)
                            if code:
                                value += chr(code).encode("utf-8", "surrogatepass")
                                i = after
                                continue
                        value.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                if at(i) == 0:
                    raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
                decoded = bytes(value).decode("utf-8", "replace")
                if tag == "a" and attribute == b"href":
                    argument = decoded
                elif tag == "code" and attribute == b"class" and decoded.startswith("language-"):
                    argument = decoded[len("language-") :]
                elif tag == "span" and attribute == b"class" and decoded.startswith("tg-"):
                    argument = decoded[len("tg-") :]
                elif (tag == "tg-emoji" and attribute == b"emoji-id") or (
                    tag == "blockquote" and attribute == b"expandable"
                ):
                    argument = decoded if tag == "tg-emoji" else "1"
            if tag == "a" and not argument and strict_tags:
                raise EntityParseError(f'Tag "a" must have an href attribute at byte offset {begin}')
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
            stack.append(_OpenTag(tag, argument, utf16, len(out)))
            i += 1
            continue

        # An end tag.
        if not stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        while at(i) not in _SPACE_BYTES and at(i) != ord(">"):
            i += 1
        end_tag = data[begin + 2 : i].lower().decode("utf-8", "replace")
        while at(i) != 0 and at(i) in _SPACE_BYTES:
            i += 1
        if at(i) != ord(">"):
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        opened = stack[-1]
        if end_tag and end_tag != opened.name:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{opened.name}>", found "</{end_tag}>"'
            )
        if utf16 > opened.utf16_offset:
            _close_html_entity(opened, utf16, out, entities)
        stack.pop()
        i += 1

    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    try:
        plain = bytes(out).decode("utf-8")
    except UnicodeDecodeError:
        if not need_utf8_recheck:
            raise
        raise EntityParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        ) from None
    return plain, sort_entities(entities)


def _close_html_entity(opened: _OpenTag, utf16: int, out: bytearray, entities: list[JSON]) -> None:
    offset = opened.utf16_offset
    length = utf16 - offset
    tag = opened.name
    if tag in _SIMPLE_TAG_TYPES:
        entities.append({"type": _SIMPLE_TAG_TYPES[tag], "offset": offset, "length": length})
    elif tag == "span":
        entities.append({"type": "spoiler", "offset": offset, "length": length})
    elif tag == "tg-emoji":
        emoji_id = _to_int_safe(opened.argument)
        if emoji_id is None or emoji_id == 0 or not -(2**63) <= emoji_id < 2**63:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entities.append(
            {"type": "custom_emoji", "offset": offset, "length": length, "custom_emoji_id": str(emoji_id)}
        )
    elif tag == "a":
        url = opened.argument or bytes(out[opened.out_begin :]).decode("utf-8", "replace")
        user_id = link_user_id(url)
        if user_id is not None and user_id > 0:
            entities.append(
                {
                    "type": "text_mention",
                    "offset": offset,
                    "length": length,
                    "user": {"id": user_id, "is_bot": False, "first_name": ""},
                }
            )
        else:
            try:
                checked = check_link(url)
            except UrlError:
                return  # TDLib drops a link it can't check and keeps the text.
            entities.append({"type": "text_link", "offset": offset, "length": length, "url": checked})
    elif tag == "pre":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "code"
            and last["offset"] == offset
            and last["length"] == length
            and last.get("language")
        ):
            last["type"] = "pre"
        else:
            entities.append({"type": "pre", "offset": offset, "length": length})
    elif tag == "code":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "pre"
            and last["offset"] == offset
            and last["length"] == length
            and opened.argument
        ):
            last["language"] = opened.argument
        else:
            entity: JSON = {"type": "code", "offset": offset, "length": length}
            if opened.argument:
                entity["language"] = opened.argument
            entities.append(entity)
    elif tag == "blockquote":
        kind = "expandable_blockquote" if opened.argument else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})


def sort_entities(entities: Iterable[JSON]) -> list[JSON]:
    """Entities in TDLib's order: by offset, longer first, then by type priority."""
    return sorted(
        entities,
        key=lambda e: (e["offset"], -e["length"], _ENTITY_PRIORITY.get(e["type"], 50)),
    )


# =======================================================================================
# Formatted text and reply markup, as sendMessage/editMessageText see them
# =======================================================================================

_TRIM = " \t\r\n\v\0"
_NO_AUTODETECT_INSIDE = frozenset({"code", "pre", "text_link", "text_mention", "custom_emoji"})
_ENTITY_TYPES = frozenset(_ENTITY_PRIORITY) | {"bank_card_number"}


def _u16_index(text: str, utf16_offset: int) -> int:
    """The Python index in ``text`` at a UTF-16 offset."""
    count = 0
    for index, char in enumerate(text):
        if count >= utf16_offset:
            return index
        count += 2 if ord(char) > 0xFFFF else 1
    return len(text)


def _trim_formatted(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Strip leading/trailing whitespace as Telegram does, clipping entities to what is left."""
    stripped_left = text.lstrip(_TRIM)
    left = ub.utf16_len(text) - ub.utf16_len(stripped_left)
    result = stripped_left.rstrip(_TRIM)
    total = ub.utf16_len(result)
    clipped: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - left, 0)
        end = min(entity["offset"] + entity["length"] - left, total)
        if end > start:
            clipped.append({**entity, "offset": start, "length": end - start})
    return result, clipped


def _auto_entities(text: str, entities: list[JSON]) -> list[JSON]:
    """Merge in the entities Telegram detects by itself, skipping code and existing links."""
    blocked = [
        (e["offset"], e["offset"] + e["length"]) for e in entities if e["type"] in _NO_AUTODETECT_INSIDE
    ]
    merged = list(entities)
    for found in ub.find_entities(text):
        start, end = found["offset"], found["offset"] + found["length"]
        if not any(start < b_end and b_start < end for b_start, b_end in blocked):
            merged.append(found)
    return sort_entities(merged)


def _explicit_entities(raw: str, text: str) -> list[JSON]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise bad_request("Can't parse entities JSON object") from None
    if not isinstance(value, list):
        raise bad_request("Expected an Array of MessageEntity")
    total = ub.utf16_len(text)
    result: list[JSON] = []
    for item in value:
        if not isinstance(item, dict):
            raise bad_request("can't parse MessageEntity: expected an Object")
        if "type" not in item:
            raise bad_request("can't parse MessageEntity: Can't find field \"type\"")
        if item["type"] not in _ENTITY_TYPES:
            raise bad_request("can't parse MessageEntity: Unsupported type specified")
        offset, length = item.get("offset"), item.get("length")
        if not isinstance(offset, int) or not isinstance(length, int):
            raise bad_request('can\'t parse MessageEntity: Field "offset" must be a valid Number')
        if offset >= total:
            raise bad_request(f"entity begins after the end of the text at UTF-16 offset {offset}")
        if offset + length > total:
            raise bad_request(
                f"entity beginning at UTF-16 offset {offset} ends after the end of the text "
                f"at UTF-16 offset {offset + length}"
            )
        if item["type"] == "text_link":
            if "url" not in item:
                raise bad_request("can't parse MessageEntity: Can't find field \"url\"")
            try:
                item = {**item, "url": check_link(str(item["url"]))}
            except UrlError as exc:
                raise bad_request(f"entity URL '{item['url']}' is invalid: {exc}") from None
        if length > 0:
            result.append(item)
    return sort_entities(result)


@dataclass(frozen=True)
class FormattedText:
    """Message text after parse_mode/entities processing, as Telegram stores it."""

    text: str
    entities: tuple[JSON, ...]

    def entities_list(self) -> list[JSON]:
        """Copies of the entities, for a JSON answer."""
        return [dict(e) for e in self.entities]


def parse_text(
    raw_text: str,
    parse_mode: str,
    raw_entities: str,
    *,
    strict_ampersand: bool,
    strict_tags: bool = True,
) -> tuple[str, list[JSON]]:
    """First stage, done by telegram-bot-api before anything else: parse_mode or entities."""
    if not raw_text:
        raise bad_request("Message text is empty")
    mode = parse_mode.strip().lower()
    if mode in ("", "none"):
        text = raw_text
        entities = _explicit_entities(raw_entities, raw_text) if raw_entities else []
    elif mode == "html":
        try:
            text, entities = parse_html(raw_text, strict_ampersand=strict_ampersand, strict_tags=strict_tags)
        except EntityParseError as exc:
            raise bad_request(f"Can't parse entities: {exc}") from None
    elif mode in ("markdown", "markdownv2"):
        raise ApiError(
            501,
            f"Not Implemented: the fake Bot API has no parser for parse_mode {parse_mode!r}; "
            "extend tests/support/fake_bot_api.py before relying on it",
        )
    else:
        raise bad_request("Unsupported parse_mode")
    return text, entities


def check_link_preview_options(raw: str) -> None:
    """LinkPreviewOptions as telegram-bot-api reads it: a JSON object of known, well-typed fields."""
    try:
        options = json.loads(raw)
    except ValueError:
        raise bad_request("Can't parse link preview options JSON object") from None
    if not isinstance(options, dict):
        raise bad_request("Object expected as link preview options")
    for name, value in options.items():
        if name in LINK_PREVIEW_FLAGS:
            if not isinstance(value, bool):
                raise bad_request(f'Field "{name}" must be of type Boolean')
        elif name == "url":
            if not isinstance(value, str):
                raise bad_request('Field "url" must be of type String')
        else:
            raise bad_request(f"the fake Bot API knows no field {name!r} of link preview options")


def finish_text(text: str, entities: list[JSON]) -> FormattedText:
    """Second stage, done by TDLib when sending: trimming, emptiness, length, auto-entities."""
    text, entities = _trim_formatted(text, entities)
    if not text:
        raise bad_request("Text must be non-empty")
    if ub.utf16_len(text) > MAX_MESSAGE_LENGTH:
        raise bad_request("Message is too long")
    return FormattedText(text, tuple(_auto_entities(text, entities)))


_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "callback_game",
    "pay",
    "switch_inline_query",
    "switch_inline_query_chosen_chat",
    "switch_inline_query_current_chat",
    "login_url",
    "web_app",
    "copy_text",
)


def _string_field(obj: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    if name not in obj:
        if required:
            raise ValueError(f'Can\'t find field "{name}"')
        return None
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f'Field "{name}" must be of type String')
    return value if isinstance(value, str) else json.dumps(value)


def _bool_field(obj: Mapping[str, Any], name: str) -> bool:
    value = obj.get(name, False)
    if not isinstance(value, bool):
        raise bad_request(f'Field "{name}" must be of type Boolean')
    return value


def _inline_button(raw: Any, *, strict: bool) -> JSON:
    """One InlineKeyboardButton as telegram-bot-api + TDLib accept it, normalised for echo."""
    if not isinstance(raw, dict):
        raise ValueError("InlineKeyboardButton must be an Object")
    text = _string_field(raw, "text", required=True)
    assert text is not None  # required=True raised otherwise
    url = _string_field(raw, "url", required=False)
    data = _string_field(raw, "callback_data", required=False)
    present = [
        name
        for name in _INLINE_ACTIONS
        if name in raw and not (name in ("url", "callback_data") and raw[name] == "")
    ]
    if strict and len(present) > 1:
        # telegram-bot-api silently uses the first of them; the Bot API documentation says
        # exactly one must be used, and a button carrying two is a bug in the sender.
        raise ValueError("exactly one of the optional fields must be used, got " + ", ".join(present))
    if url:
        try:
            checked = check_link(url)
        except UrlError as exc:
            raise bad_request(f"Inline keyboard button URL '{url}' is invalid: {exc}") from None
        return {"text": text, "url": checked}
    if data:
        if len(data.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
        return {"text": text, "callback_data": data}
    if "callback_game" in raw or "pay" in raw:
        raise bad_request("BUTTON_TYPE_INVALID")  # only valid in sendGame/sendInvoice
    for name in ("switch_inline_query", "switch_inline_query_current_chat"):
        if name in raw:
            query = _string_field(raw, name, required=True)
            return {"text": text, name: query}
    if "switch_inline_query_chosen_chat" in raw:
        if not isinstance(raw["switch_inline_query_chosen_chat"], dict):
            raise ValueError('Field "switch_inline_query_chosen_chat" must be of type Object')
        return {"text": text, "switch_inline_query_chosen_chat": raw["switch_inline_query_chosen_chat"]}
    if "login_url" in raw:
        login = raw["login_url"]
        if not isinstance(login, dict):
            raise ValueError('Field "login_url" must be of type Object')
        login_url = _string_field(login, "url", required=True)
        assert login_url is not None
        try:
            check_link(login_url)
        except UrlError as exc:
            raise bad_request(f"Inline keyboard button login URL '{login_url}' is invalid: {exc}") from None
        return {"text": text, "login_url": login}
    if "web_app" in raw:
        web_app = raw["web_app"]
        if not isinstance(web_app, dict):
            raise ValueError('Field "web_app" must be of type Object')
        app_url = _string_field(web_app, "url", required=True)
        assert app_url is not None
        try:
            check_link(app_url, https_only=True)
        except UrlError as exc:
            raise bad_request(f"Inline keyboard button Web App URL '{app_url}' is invalid: {exc}") from None
        return {"text": text, "web_app": {"url": app_url}}
    if "copy_text" in raw:
        copy = raw["copy_text"]
        if not isinstance(copy, dict):
            raise ValueError('Field "copy_text" must be of type Object')
        if not _string_field(copy, "text", required=True):
            raise bad_request("BUTTON_COPY_TEXT_INVALID")
        return {"text": text, "copy_text": {"text": copy["text"]}}
    raise ValueError("Text buttons are unallowed in the inline keyboard")


def _keyboard_button(raw: Any) -> None:
    if isinstance(raw, str):
        return
    if not isinstance(raw, dict):
        raise ValueError("KeyboardButton must be a String or an Object")
    _string_field(raw, "text", required=True)


def parse_reply_markup(raw: str, *, strict_buttons: bool) -> JSON | None:
    """Port of ``Client::get_reply_markup``: the markup a Message echoes, or ``ApiError``."""
    # Reply keyboards, keyboard removal and force-reply are checked but, as in Telegram,
    # not part of the Message: only inline keyboards are returned.
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise bad_request("Can't parse reply keyboard markup JSON object") from None
    if not isinstance(value, dict):
        raise bad_request("Object expected as reply markup")

    keyboard = value.get("keyboard")
    if "keyboard" in value:
        if not isinstance(keyboard, list):
            raise bad_request('Field "keyboard" must be of type Array')
        for row in keyboard:
            if not isinstance(row, list):
                raise bad_request('Field "keyboard" must be an Array of Arrays')
            for button in row:
                try:
                    _keyboard_button(button)
                except ValueError as exc:
                    raise bad_request(f"Can't parse keyboard button: {exc}") from None

    inline_rows: list[list[JSON]] = []
    if "inline_keyboard" in value:
        inline = value["inline_keyboard"]
        if not isinstance(inline, list):
            raise bad_request('Field "inline_keyboard" must be of type Array')
        for row in inline:
            if not isinstance(row, list):
                raise bad_request(
                    'Field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
                )
            new_row: list[JSON] = []
            for button in row:
                try:
                    new_row.append(_inline_button(button, strict=strict_buttons))
                except ValueError as exc:
                    raise bad_request(f"Can't parse inline keyboard button: {exc}") from None
            inline_rows.append(new_row)

    for name in (
        "hide_keyboard",
        "remove_keyboard",
        "personal_keyboard",
        "selective",
        "force_reply_keyboard",
        "force_reply",
    ):
        _bool_field(value, name)
    if "input_field_placeholder" in value:
        try:
            _string_field(value, "input_field_placeholder", required=False)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
    if isinstance(keyboard, list) and keyboard:
        for name in ("resize_keyboard", "one_time_keyboard", "is_persistent"):
            _bool_field(value, name)
        return None
    if inline_rows:
        return {"inline_keyboard": inline_rows}
    return None


def callback_datas(markup: JSON | None) -> set[str]:
    """Every callback_data on an inline keyboard."""
    if not markup:
        return set()
    return {
        button["callback_data"]
        for row in markup.get("inline_keyboard", [])
        for button in row
        if "callback_data" in button
    }


# =======================================================================================
# State
# =======================================================================================


@dataclass
class FakeUser:
    """A Telegram user who talks to the bot."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_dict(self) -> JSON:
        """The ``User`` object of this user."""
        return ub.user(
            self.id,
            self.first_name,
            last_name=self.last_name,
            username=self.username,
            language_code=self.language_code,
            is_bot=self.is_bot,
        )


ChatType = Literal["private", "group", "supergroup", "channel"]
BotStatus = Literal["member", "administrator", "left", "kicked"]


@dataclass
class StoredMessage:
    """A message as the fake keeps it: the current state, including later edits."""

    chat_id: int
    message_id: int
    date: int
    sender: Literal["bot", "user", "channel"]
    from_user: JSON | None
    text: str | None = None
    entities: list[JSON] = field(default_factory=list)
    reply_markup: JSON | None = None
    extra: JSON = field(default_factory=dict)
    edit_date: int | None = None
    deleted: bool = False

    @property
    def callback_datas(self) -> set[str]:
        """The callback_data values of this message's inline keyboard."""
        return callback_datas(self.reply_markup)


@dataclass
class FakeChat:
    """A chat the fake knows about, with its messages in id order."""

    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    user: FakeUser | None = None
    bot_status: BotStatus = "member"
    started: bool = False  # private chats: the user has written to the bot
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    last_message_id: int = 0

    def to_dict(self) -> JSON:
        """The ``Chat`` object."""
        if self.type == "private":
            assert self.user is not None
            return ub.private_chat(self.user.to_dict())
        if self.type == "group":
            return ub.group_chat(self.id, self.title or "")
        if self.type == "supergroup":
            return ub.supergroup_chat(self.id, self.title or "", username=self.username)
        return ub.channel_chat(self.id, self.title or "", username=self.username)

    def next_message_id(self) -> int:
        """Message ids grow per chat and are shared by the bot and the users."""
        self.last_message_id += 1
        return self.last_message_id


@dataclass
class Op:
    """One Bot API call the bot made, with what the fake answered."""

    seq: int
    method: str
    params: dict[str, str]
    chat_id: int | None
    ok: bool
    result: Any = None
    error_code: int | None = None
    description: str | None = None
    at: float = 0.0  # the fake's clock
    http_method: str = "POST"
    content_type: str = ""
    user_agent: str = ""
    fault: str | None = None  # the injected fault that answered, if any

    def param_json(self, name: str) -> Any:
        """A JSON-encoded parameter, decoded (``reply_markup``, ``entities``, ...)."""
        return json.loads(self.params[name]) if name in self.params else None


@dataclass
class PendingUpdate:
    """An update waiting for getUpdates confirmation or webhook delivery."""

    update_id: int
    payload: JSON
    created: float
    order_key: int  # updates sharing a key are delivered to a webhook strictly in order
    attempts: int = 0
    in_flight: bool = False


@dataclass(frozen=True)
class WebhookPost:
    """One attempt to deliver an update to the webhook, on the fake's clock (as `Op.at`)."""

    update_id: int
    created: float
    """When the user's action made the update."""
    started: float
    ended: float
    error: str | None


@dataclass
class WebhookState:
    """The webhook set with setWebhook."""

    url: str
    secret_token: str
    max_connections: int
    ip_address: str
    set_at: float
    has_custom_certificate: bool = False
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class Fault:
    """A prepared failure for the next call(s) of a method (``None`` = any method)."""

    method: str | None
    kind: Literal["error", "raw", "hang", "drop"]
    count: int
    error: ApiError | None = None
    status: int = 0
    body: bytes = b""
    content_type: str = "application/json"
    after_processing: bool = False

    def matches(self, method: str) -> bool:
        """Whether the fault applies to ``method`` (canonical spelling)."""
        return self.method is None or self.method.lower() == method.lower()


@dataclass
class ChatFailure:
    """Every listed call about one chat fails with this error (e.g. the user blocked the bot)."""

    error: ApiError
    methods: frozenset[str]


@dataclass
class CallbackQueryState:
    """A callback query the fake issued."""

    query_id: str
    chat_id: int
    message_id: int
    data: str
    from_user: JSON
    created: float
    answered: bool = False
    answer: JSON | None = None


_CHAT_WRITE_METHODS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "sendChatAction",
        "deleteMessage",
        "deleteMessages",
    }
)


# =======================================================================================
# The server
# =======================================================================================


class _Args:
    """Request parameters as telegram-bot-api sees them: every value a string."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def names(self) -> list[str]:
        """Every parameter given."""
        return list(self.values)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def has(self, name: str) -> bool:
        return name in self.values

    def int(self, name: str, default: int = 0, lo: int | None = None, hi: int | None = None) -> int:
        """``get_integer_arg``: leading digits, 0 if none, clamped into [lo, hi]."""
        raw = self.values.get(name, "").strip()
        if not raw:
            value = default
        else:
            match = re.match(r"[+-]?\d+", raw)
            value = int(match.group(0)) if match else 0
        if lo is not None:
            value = max(lo, value)
        if hi is not None:
            value = min(hi, value)
        return value

    def bool(self, name: str) -> bool:
        """``to_bool``: true, yes or 1, case-insensitively."""
        return self.values.get(name, "").strip().lower() in ("true", "yes", "1")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _json_to_arg(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class FakeBotApi:
    """A strict offline Telegram Bot API server, with a Python interface to drive it."""

    # Telegram's side of a conversation is played with the user actions (send_text,
    # press_button, block_bot, ...); what the bot did is read from ops, transcript() and
    # bot_messages(); faults are prepared with fail_next, rate_limit, server_error, hang,
    # drop_connection and fail_chat.

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "balansebot_test_bot",
        bot_first_name: str = "Balansebot",
        host: str = "127.0.0.1",
        port: int = 0,
        now: Callable[[], float] = time.time,
        privacy_mode: bool = True,
        callback_query_ttl: float = 15.0,
        strict_html_ampersand: bool = True,
        strict_inline_buttons: bool = True,
        strict_html_tags: bool = True,
        strict_parameters: bool = True,
        flood_limits: FloodLimits | None = FloodLimits(),
        set_webhook_rate_limit: bool = True,
        verify_webhook: bool = True,
        webhook_timeout: float = 5.0,
        webhook_retry_delays: Iterable[float] = (0.05, 0.1, 0.2, 0.4),
        first_update_id: int | None = None,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError("the fake Bot API listens on loopback addresses only")
        match = re.fullmatch(r"(\d+):[A-Za-z0-9_-]+", token)
        if not match:
            raise ValueError("token must look like a Bot API token: <bot id>:<secret>")
        self.token = token
        self.bot_id = int(match.group(1))
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.privacy_mode = privacy_mode
        self.callback_query_ttl = callback_query_ttl
        self.strict_html_ampersand = strict_html_ampersand
        self.strict_inline_buttons = strict_inline_buttons
        self.strict_html_tags = strict_html_tags
        self.strict_parameters = strict_parameters
        self.flood = _FloodControl(flood_limits) if flood_limits is not None else None
        self.set_webhook_rate_limit = set_webhook_rate_limit
        self.verify_webhook = verify_webhook
        self.webhook_timeout = webhook_timeout
        self.webhook_retry_delays = tuple(webhook_retry_delays)
        self._host = host
        self._requested_port = port
        self._clock = now
        self.clock_offset = 0.0

        self.chats: dict[int, FakeChat] = {}
        self.users: dict[int, FakeUser] = {}
        self.ops: list[Op] = []
        self.calls: Counter[str] = Counter()
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.callback_queries: dict[str, CallbackQueryState] = {}
        self.webhook: WebhookState | None = None
        self.allowed_updates: frozenset[str] = ub.DEFAULT_ALLOWED_UPDATES
        self.delivered_updates: list[JSON] = []  # confirmed by getUpdates or a webhook 2xx
        self.suppressed_updates: list[tuple[JSON, str]] = []  # never sent, and why
        self.dropped_webhook_updates: list[tuple[JSON, str]] = []  # retries exhausted
        self.webhook_posts: list[WebhookPost] = []  # every delivery attempt, in the order they ended

        self._pending: list[PendingUpdate] = []
        self._next_update_id = first_update_id or random.randint(10**8, 9 * 10**8)
        self._next_user_id = 700_000_001
        self._next_group_id = 4_000_001
        self._next_supergroup_id = 1_000_000_001
        self._seq = itertools.count(1)
        self._faults: list[Fault] = []
        self._chat_failures: dict[int, ChatFailure] = {}
        self._long_poll: asyncio.Future[str] | None = None
        self._next_set_webhook_time = 0.0
        self._changed: asyncio.Condition | None = None
        # User actions are plain methods, callable from sync fixtures too: background work
        # they start is scheduled on the server's loop instead of a running one.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release_hangs: asyncio.Event | None = None
        self._webhook_workers: dict[int, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._stall_watch: asyncio.Task[None] | None = None
        self._webhook_semaphore: asyncio.Semaphore | None = None
        self._webhook_session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._port: int | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Listen on a free loopback port (or the one given)."""
        if self._runner is not None:
            raise RuntimeError("already started")
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Condition()
        self._release_hangs = asyncio.Event()
        self._webhook_session = aiohttp.ClientSession()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("*", "/_test/{action}", self._handle_test_control)
        app.router.add_route("*", "/{tail:.*}", self._handle_not_found)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self._host, self._requested_port)
        await self._site.start()
        self._port = int(self._runner.addresses[0][1])
        if self.flood is not None:
            self._stall_watch = self._loop.create_task(self.flood.watch_stalls())

    async def stop(self) -> None:
        """Answer hung and long-polling requests, stop webhook delivery, close the port."""
        if self._release_hangs is not None:
            self._release_hangs.set()
        if self._stall_watch is not None:
            self._stall_watch.cancel()
            self._stall_watch = None
        self._resolve_long_poll("stop")
        for task in self._webhook_workers.values():
            task.cancel()
        for task in list(self._webhook_workers.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._webhook_workers.clear()
        await asyncio.gather(*self._background)
        if self._webhook_session is not None:
            await self._webhook_session.close()
            self._webhook_session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._site = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._port is None:
            raise RuntimeError("the fake Bot API is not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as python-telegram-bot's ``Bot(base_url=...)``; PTB appends the token."""
        return f"{self.url}/bot"

    @property
    def api_url(self) -> str:
        """``<url>/bot<token>``: append ``/<method>`` for raw HTTP calls."""
        return f"{self.url}/bot{self.token}"

    # ----------------------------------------------------------------- clock

    def now(self) -> float:
        """The fake's clock: the injected ``now`` plus ``clock_offset``."""
        return self._clock() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward (ages messages, callback queries and updates)."""
        self.clock_offset += seconds

    def _unix(self) -> int:
        return int(self.now())

    # ----------------------------------------------------------------- bot identity

    @property
    def bot_user(self) -> JSON:
        """The bot's ``User`` object as it appears in messages."""
        return ub.user(self.bot_id, self.bot_first_name, username=self.bot_username, is_bot=True)

    # ----------------------------------------------------------------- HTTP entry

    async def _handle_not_found(self, request: web.Request) -> web.Response:
        return web.json_response(ApiError(404, "Not Found").body(), status=404)

    async def _read_args(self, request: web.Request) -> dict[str, str]:
        values: dict[str, str] = dict(request.query)
        content_type = request.content_type
        if request.method in ("POST", "PUT") and request.can_read_body:
            if content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise bad_request("Can't parse JSON encoded request") from None
                if not isinstance(body, dict):
                    raise bad_request("Can't parse JSON encoded request")
                for key, value in body.items():
                    arg = _json_to_arg(value)
                    if arg is not None:
                        values[str(key)] = arg
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        values[key] = f"<file {value.filename}>"
                    else:
                        values[key] = str(value)
        return values

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if token != self.token:
            if re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
                return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        raw_method = request.match_info["method"]
        method = _CANONICAL.get(raw_method.lower())
        if method is None:
            self.calls[raw_method] += 1
            if raw_method.lower() in KNOWN_UNIMPLEMENTED_METHODS:
                error = ApiError(501, f"Not Implemented: the fake Bot API does not model {raw_method}")
                log.warning("fake Bot API: unimplemented method %s called", raw_method)
                return web.json_response(error.body(), status=501)
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        self.calls[method] += 1

        try:
            values = await self._read_args(request)
        except ApiError as error:
            return web.json_response(error.body(), status=error.error_code)
        op = Op(
            seq=next(self._seq),
            method=method,
            params=values,
            # Known before dispatch so that calls answered by a fault are in the transcript.
            chat_id=int(values["chat_id"]) if re.fullmatch(r"-?\d+", values.get("chat_id", "")) else None,
            ok=False,
            at=self.now(),
            http_method=request.method,
            content_type=request.content_type,
            user_agent=request.headers.get("User-Agent", ""),
        )

        fault = self._take_fault(method)
        if fault is not None and not fault.after_processing:
            return await self._apply_fault(fault, op, request)

        args = _Args(values)
        description: str | None = None
        try:
            result, description = await self._dispatch(method, args, op)
        except ApiError as error:
            op.error_code, op.description = error.error_code, error.description
            await self._record(op)
            if fault is not None:
                return await self._apply_fault(fault, op, request)
            return web.json_response(error.body(), status=error.error_code)
        op.ok, op.result = True, result
        await self._record(op)
        if fault is not None:
            return await self._apply_fault(fault, op, request)
        body: JSON = {"ok": True, "result": result}
        if description:
            body["description"] = description
        return web.json_response(body, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))

    async def _record(self, op: Op) -> None:
        if op.method != "getUpdates" or not op.ok or op.result:
            self.ops.append(op)
        await self._notify()

    async def _notify(self) -> None:
        if self._changed is None:
            return
        async with self._changed:
            self._changed.notify_all()

    # ----------------------------------------------------------------- faults

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(method):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _apply_fault(self, fault: Fault, op: Op, request: web.Request) -> web.StreamResponse:
        op.fault = fault.kind
        if not fault.after_processing:
            if fault.error is not None:
                op.error_code, op.description = fault.error.error_code, fault.error.description
            await self._record(op)
        if fault.kind == "error":
            assert fault.error is not None
            return web.json_response(fault.error.body(), status=fault.error.error_code)
        if fault.kind == "raw":
            return web.Response(body=fault.body, status=fault.status, content_type=fault.content_type)
        if fault.kind == "hang":
            assert self._release_hangs is not None
            await self._release_hangs.wait()
            return web.json_response(ApiError(500, "Internal Server Error: restart").body(), status=500)
        # "drop": close the socket without an answer, as a reset connection looks to a client.
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError  # aiohttp stops handling this request without a reply

    def fail_next(
        self,
        method: str | None,
        error_code: int,
        description: str,
        *,
        count: int = 1,
        retry_after: int | None = None,
        after_processing: bool = False,
    ) -> None:
        """The next ``count`` calls of ``method`` (``None``: any) answer this error."""
        # after_processing: the call takes effect (the message is sent) and only the answer
        # is the error, as when Telegram's front end fails after its back end acted.
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        self._faults.append(
            Fault(
                method,
                "error",
                count,
                error=ApiError(error_code, description, parameters),
                after_processing=after_processing,
            )
        )

    def rate_limit(self, method: str | None, retry_after: int, *, count: int = 1) -> None:
        """The next ``count`` calls answer 429 "Too Many Requests: retry after N"."""
        error = too_many_requests(retry_after)
        self._faults.append(Fault(method, "error", count, error=error))

    def server_error(self, method: str | None, status: int = 500, *, count: int = 1) -> None:
        """The next ``count`` calls answer 500 (JSON, as telegram-bot-api) or 502/503/504 (HTML)."""
        if status == 500:
            self._faults.append(Fault(method, "error", count, error=ApiError(500, "Internal Server Error")))
            return
        # In front of telegram-bot-api sits nginx: gateway errors come as its HTML page.
        reason = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}
        title = f"{status} {reason.get(status, 'Error')}"
        page = (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
            "</body>\r\n</html>\r\n"
        )
        self._faults.append(
            Fault(method, "raw", count, status=status, body=page.encode(), content_type="text/html")
        )

    def hang(self, method: str | None, *, count: int = 1, after_processing: bool = False) -> None:
        """The next ``count`` calls never answer (until ``release_hangs`` or stop)."""
        self._faults.append(Fault(method, "hang", count, after_processing=after_processing))

    def drop_connection(self, method: str | None, *, count: int = 1, after_processing: bool = False) -> None:
        """The next ``count`` calls get their connection reset instead of an answer."""
        self._faults.append(Fault(method, "drop", count, after_processing=after_processing))

    def release_hangs(self) -> None:
        """Let hung calls finish (they answer 500, their client has usually given up)."""
        if self._release_hangs is not None:
            self._release_hangs.set()
            self._release_hangs = asyncio.Event()

    def clear_faults(self) -> None:
        """Forget prepared faults that were not used yet."""
        self._faults.clear()

    @property
    def pending_faults(self) -> list[Fault]:
        """Faults not used yet."""
        return list(self._faults)

    def fail_chat(
        self,
        chat_id: int,
        error_code: int,
        description: str,
        *,
        methods: Iterable[str] = _CHAT_WRITE_METHODS,
    ) -> None:
        """Every call of ``methods`` about ``chat_id`` fails, e.g. 403 bot was blocked."""
        names = frozenset(_CANONICAL.get(m.lower(), m) for m in methods)
        self._chat_failures[chat_id] = ChatFailure(ApiError(error_code, description), names)

    def clear_chat_failure(self, chat_id: int) -> None:
        """Undo ``fail_chat``."""
        self._chat_failures.pop(chat_id, None)

    # ----------------------------------------------------------------- dispatch

    async def _dispatch(self, method: str, args: _Args, op: Op) -> tuple[Any, str | None]:
        if self.strict_parameters:
            unknown = sorted(set(args.names()) - PARAMETERS[method])
            if unknown:
                raise bad_request(f"the fake Bot API knows no parameter {unknown[0]!r} of {method}")
        flood = self.flood if method in FLOOD_COUNTED else None
        if flood is not None:
            flood.admit(op.chat_id)
        handler: Callable[[_Args, Op], Any] = getattr(self, "_m_" + _snake(method))
        result = handler(args, op)
        if asyncio.iscoroutine(result):
            result = await result
        if flood is not None:
            flood.count(op.chat_id)
        if isinstance(result, tuple):
            return result[0], result[1]
        return result, None

    def _chat(self, args: _Args, op: Op, *, empty_message: str = "chat_id is empty") -> FakeChat:
        raw = args.get("chat_id").strip()
        if not raw:
            raise bad_request(empty_message)
        chat: FakeChat | None = None
        if raw.startswith("@"):
            name = raw[1:].lower()
            chat = next(
                (
                    c
                    for c in self.chats.values()
                    if c.username and c.username.lower() == name and c.type != "private"
                ),
                None,
            )
        elif re.fullmatch(r"-?\d+", raw):
            chat = self.chats.get(int(raw))
        if chat is None:
            raise bad_request("Chat not found")
        op.chat_id = chat.id
        failure = self._chat_failures.get(chat.id)
        if failure is not None and op.method in failure.methods:
            raise failure.error
        return chat

    def _require_write_access(self, chat: FakeChat) -> None:
        if chat.type == "private":
            if not chat.started:
                raise tg_error(403, "Forbidden: bot can't initiate conversation with a user")
            if chat.bot_status == "kicked":
                raise tg_error(403, "Forbidden: bot was blocked by the user")
            return
        kind = {"group": "group", "supergroup": "supergroup", "channel": "channel"}[chat.type]
        if chat.bot_status == "kicked":
            raise tg_error(403, f"Forbidden: bot was kicked from the {kind} chat")
        if chat.bot_status == "left":
            raise tg_error(403, f"Forbidden: bot is not a member of the {kind} chat")
        if chat.type == "channel" and chat.bot_status != "administrator":
            raise bad_request("Need administrator rights in the channel chat")

    def _message_dict(self, message: StoredMessage) -> JSON:
        chat = self.chats[message.chat_id]
        extra = dict(message.extra)
        if message.reply_markup:
            extra["reply_markup"] = message.reply_markup
        if message.edit_date is not None:
            extra["edit_date"] = message.edit_date
        return ub.message(
            message_id=message.message_id,
            date=message.date,
            chat=chat.to_dict(),
            from_user=message.from_user,
            text=message.text,
            entities=message.entities,
            **extra,
        )

    def _find_message(self, chat: FakeChat, message_id: int, what: str) -> StoredMessage:
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise bad_request(f"Message {what} not found")
        return message

    # ----------------------------------------------------------------- methods

    def _m_get_me(self, args: _Args, op: Op) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_send_message(self, args: _Args, op: Op) -> JSON:
        parsed = self._parse_text(args)
        markup = parse_reply_markup(args.get("reply_markup"), strict_buttons=self.strict_inline_buttons)
        chat = self._chat(args, op)
        reply_to = self._reply_target(chat, args)
        self._require_write_access(chat)
        formatted = finish_text(*parsed)
        message = StoredMessage(
            chat_id=chat.id,
            message_id=chat.next_message_id(),
            date=self._unix(),
            sender="bot",
            from_user=self.bot_user if chat.type != "channel" else None,
            text=formatted.text,
            entities=formatted.entities_list(),
            reply_markup=markup,
        )
        if chat.type == "channel":
            message.extra["sender_chat"] = chat.to_dict()
        if reply_to is not None:
            message.extra["reply_to_message"] = self._message_dict(reply_to)
        chat.messages[message.message_id] = message
        return self._message_dict(message)

    def _parse_text(self, args: _Args) -> tuple[str, list[JSON]]:
        parsed = parse_text(
            args.get("text"),
            args.get("parse_mode"),
            args.get("entities"),
            strict_ampersand=self.strict_html_ampersand,
            strict_tags=self.strict_html_tags,
        )
        if args.has("link_preview_options"):
            check_link_preview_options(args.get("link_preview_options"))
        return parsed

    def _reply_target(self, chat: FakeChat, args: _Args) -> StoredMessage | None:
        message_id = 0
        allow_missing = args.bool("allow_sending_without_reply")
        if args.has("reply_parameters"):
            try:
                parameters = json.loads(args.get("reply_parameters"))
            except ValueError:
                raise bad_request("Can't parse reply parameters JSON object") from None
            if not isinstance(parameters, dict):
                raise bad_request("Object expected as reply parameters")
            if "message_id" not in parameters:
                raise bad_request('Can\'t find field "message_id"')
            message_id = int(parameters["message_id"])
            allow_missing = bool(parameters.get("allow_sending_without_reply", allow_missing))
        elif args.has("reply_to_message_id"):
            message_id = args.int("reply_to_message_id")
        if message_id <= 0:
            return None
        target = chat.messages.get(message_id)
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise bad_request("Message to be replied not found")
        return target

    def _edit_target(self, args: _Args, op: Op) -> tuple[FakeChat, StoredMessage]:
        if not args.get("chat_id") and args.int("message_id") == 0:
            if args.get("inline_message_id"):
                raise bad_request("Message to edit not found")
            raise bad_request("Message identifier is not specified")
        chat = self._chat(args, op)
        message_id = args.int("message_id")
        if message_id <= 0:
            raise bad_request("Message identifier is not specified")
        message = self._find_message(chat, message_id, "to edit")
        if message.sender != "bot":
            raise bad_request("Message can't be edited")
        return chat, message

    def _m_edit_message_text(self, args: _Args, op: Op) -> JSON:
        parsed = self._parse_text(args)
        markup = parse_reply_markup(args.get("reply_markup"), strict_buttons=self.strict_inline_buttons)
        chat, message = self._edit_target(args, op)
        if message.text is None:
            raise bad_request("There is no text in the message to edit")
        self._require_write_access(chat)
        formatted = finish_text(*parsed)
        if (
            formatted.text == message.text
            and formatted.entities_list() == message.entities
            and markup == message.reply_markup
        ):
            raise _not_modified()
        message.text = formatted.text
        message.entities = formatted.entities_list()
        message.reply_markup = markup  # an edit without reply_markup removes the keyboard
        message.edit_date = self._unix()
        return self._message_dict(message)

    def _m_edit_message_reply_markup(self, args: _Args, op: Op) -> JSON:
        markup = parse_reply_markup(args.get("reply_markup"), strict_buttons=self.strict_inline_buttons)
        chat, message = self._edit_target(args, op)
        self._require_write_access(chat)
        if markup == message.reply_markup:
            raise _not_modified()
        message.reply_markup = markup
        message.edit_date = self._unix()
        return self._message_dict(message)

    def _check_deletable(self, chat: FakeChat, message: StoredMessage) -> None:
        if self.now() - message.date >= DELETE_WINDOW_SECONDS:
            raise bad_request("Message can't be deleted for everyone")
        if chat.type == "private" or message.sender == "bot":
            return
        if chat.bot_status != "administrator":
            raise bad_request("Message can't be deleted")

    def _m_delete_message(self, args: _Args, op: Op) -> bool:
        chat = self._chat(args, op, empty_message="Chat identifier is not specified")
        message_id = args.int("message_id")
        if message_id <= 0:
            raise bad_request("Message identifier is not specified")
        message = self._find_message(chat, message_id, "to delete")
        self._check_deletable(chat, message)
        message.deleted = True
        return True

    def _m_delete_messages(self, args: _Args, op: Op) -> bool:
        chat = self._chat(args, op)
        raw = args.get("message_ids")
        try:
            ids = json.loads(raw) if raw else []
        except ValueError:
            raise bad_request("Can't parse message identifiers JSON object") from None
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise bad_request("Expected an Array of message identifiers")
        if len(ids) > 100:
            raise bad_request("Too many message identifiers specified")
        if not ids:
            raise bad_request("Message identifiers are not specified")
        # Missing messages are skipped; one that can't be deleted fails the whole call.
        found = [m for i in ids if (m := chat.messages.get(i)) is not None and not m.deleted]
        for message in found:
            self._check_deletable(chat, message)
        for message in found:
            message.deleted = True
        return True

    def _m_answer_callback_query(self, args: _Args, op: Op) -> bool:
        query_id = args.get("callback_query_id")
        state = self.callback_queries.get(query_id)
        if state is None or state.answered or self.now() - state.created > self.callback_query_ttl:
            # telegram-bot-api rewrites QUERY_ID_INVALID into this sentence.
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        op.chat_id = state.chat_id
        text = args.get("text")
        if len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        state.answered = True
        state.answer = {
            "text": text or None,
            "show_alert": args.bool("show_alert"),
            "url": args.get("url") or None,
            "cache_time": args.int("cache_time"),
        }
        return True

    def _m_send_chat_action(self, args: _Args, op: Op) -> bool:
        chat = self._chat(args, op)
        if args.get("action") not in CHAT_ACTIONS:
            raise bad_request("Wrong parameter action in request")
        self._require_write_access(chat)
        return True

    def _m_get_chat(self, args: _Args, op: Op) -> JSON:
        chat = self._chat(args, op)
        data = chat.to_dict()
        data.update(
            accent_color_id=chat.id % 7,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return data

    def _m_leave_chat(self, args: _Args, op: Op) -> bool:
        chat = self._chat(args, op)
        if chat.type == "private":
            raise bad_request("Chat member status can't be changed in private chats")
        if chat.bot_status in ("left", "kicked"):
            kind = chat.type
            raise tg_error(403, f"Forbidden: bot is not a member of the {kind} chat")
        old = chat.bot_status
        chat.bot_status = "left"
        bot = self.bot_user
        self._enqueue(
            "my_chat_member",
            ub.chat_member_updated(
                chat=chat.to_dict(),
                from_user=bot,
                date=self._unix(),
                old_chat_member=ub.chat_member(bot, old),
                new_chat_member=ub.chat_member(bot, "left"),
            ),
            chat.id,
        )
        return True

    # --- commands

    def _scope_key(self, args: _Args, op: Op) -> str:
        raw = args.get("scope")
        if not raw:
            return "default"
        try:
            scope = json.loads(raw)
        except ValueError:
            raise bad_request("Can't parse BotCommandScope JSON object") from None
        if not isinstance(scope, dict):
            raise bad_request("Object expected as BotCommandScope")
        if "type" not in scope:
            raise bad_request("can't parse BotCommandScope: Can't find field \"type\"")
        kind = scope["type"]
        simple = ("default", "all_private_chats", "all_group_chats", "all_chat_administrators")
        if kind in simple:
            return str(kind)
        if kind not in ("chat", "chat_administrators", "chat_member"):
            raise bad_request("can't parse BotCommandScope: Unsupported type specified")
        if "chat_id" not in scope:
            raise bad_request("can't parse BotCommandScope: Can't find field \"chat_id\"")
        if kind == "chat_member" and "user_id" not in scope:
            raise bad_request("can't parse BotCommandScope: Can't find field \"user_id\"")
        chat = self._chat(_Args({"chat_id": str(scope["chat_id"])}), op)
        if kind == "chat_member":
            return f"chat_member:{chat.id}:{int(scope['user_id'])}"
        return f"{kind}:{chat.id}"

    @staticmethod
    def _language_code(args: _Args) -> str:
        code = args.get("language_code")
        if code and not re.fullmatch(r"[a-z]{2}", code):
            raise bad_request("Invalid language code specified")
        return code

    def _m_set_my_commands(self, args: _Args, op: Op) -> bool:
        raw = args.get("commands")
        try:
            commands = json.loads(raw) if raw else None
        except ValueError:
            raise bad_request("Can't parse commands JSON object") from None
        if not isinstance(commands, list):
            raise bad_request('Field "commands" must be of type Array')
        cleaned: list[JSON] = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand: expected an Object")
            for name in ("command", "description"):
                if name not in item:
                    raise bad_request(f"can't parse BotCommand: Can't find field \"{name}\"")
                if not isinstance(item[name], str):
                    raise bad_request(f'can\'t parse BotCommand: Field "{name}" must be of type String')
            # TDLib trims both and drops one leading "/" before checking them.
            command = item["command"].strip(_TRIM).removeprefix("/")
            description = item["description"].strip(_TRIM)
            if not command:
                raise bad_request("Command must be non-empty")
            if len(command) > 32:
                raise bad_request("Command length must not exceed 32")
            if not description:
                raise bad_request("Command description must be non-empty")
            if len(description) > 256:
                raise bad_request("Command description length must not exceed 256")
            if not re.fullmatch(r"[a-z0-9_]+", command):
                raise bad_request("BOT_COMMAND_INVALID")
            cleaned.append({"command": command, "description": description})
        if len(cleaned) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        key = (self._scope_key(args, op), self._language_code(args))
        if cleaned:
            self.commands[key] = cleaned
        else:
            self.commands.pop(key, None)
        return True

    def _m_get_my_commands(self, args: _Args, op: Op) -> list[JSON]:
        key = (self._scope_key(args, op), self._language_code(args))
        return [dict(c) for c in self.commands.get(key, [])]

    def _m_delete_my_commands(self, args: _Args, op: Op) -> bool:
        key = (self._scope_key(args, op), self._language_code(args))
        self.commands.pop(key, None)
        return True

    # --- updates: getUpdates

    def _update_allowed_types(self, args: _Args) -> None:
        if not args.has("allowed_updates"):
            return
        try:
            names = json.loads(args.get("allowed_updates") or "[]")
        except ValueError:
            return  # telegram-bot-api ignores an unparsable list
        if not isinstance(names, list):
            return
        wanted = frozenset(n for n in names if isinstance(n, str) and n in ub.ALL_UPDATE_TYPES)
        self.allowed_updates = wanted or ub.DEFAULT_ALLOWED_UPDATES

    def _resolve_long_poll(self, reason: str) -> None:
        if self._long_poll is not None and not self._long_poll.done():
            self._long_poll.set_result(reason)
        self._long_poll = None

    def _expire_updates(self) -> None:
        cutoff = self.now() - UPDATE_RETENTION_SECONDS
        self._pending = [u for u in self._pending if u.created >= cutoff]

    async def _m_get_updates(self, args: _Args, op: Op) -> list[JSON]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = args.int("offset")
        limit = args.int("limit", 100, 1, 100)
        timeout = args.int("timeout", 0, 0, LONG_POLL_MAX_TIMEOUT)
        self._update_allowed_types(args)
        self._resolve_long_poll("conflict")
        self._confirm(offset)

        def available() -> list[PendingUpdate]:
            self._expire_updates()
            return (
                [u for u in self._pending if u.update_id >= offset][:limit]
                if offset > 0
                else self._pending[:limit]
            )

        found = available()
        if not found and timeout > 0:
            waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            self._long_poll = waiter
            await self._notify()  # someone may be waiting for the bot to start polling
            done, _ = await asyncio.wait({waiter}, timeout=timeout)
            reason = waiter.result() if done else "timeout"
            if self._long_poll is waiter:
                self._long_poll = None
            if reason == "conflict":
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            if reason == "webhook":
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            found = available() if reason == "wakeup" else []
        return [u.payload for u in found]

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            confirmed = [u for u in self._pending if u.update_id < offset]
            self._pending = [u for u in self._pending if u.update_id >= offset]
        elif offset < 0:
            keep = -offset
            confirmed = self._pending[:-keep] if keep < len(self._pending) else []
            self._pending = self._pending[-keep:] if keep else self._pending
        else:
            confirmed = []
        self.delivered_updates.extend(u.payload for u in confirmed)

    # --- updates: webhook

    async def _m_set_webhook(self, args: _Args, op: Op) -> tuple[bool, str]:
        url = args.get("url")
        if not url:
            return self._delete_webhook(args)
        if self.set_webhook_rate_limit:
            moment = time.monotonic()
            if moment < self._next_set_webhook_time:
                raise too_many_requests(1)
            self._next_set_webhook_time = moment + 1
        try:
            parsed = parse_url(url, "https")
        except UrlError:
            raise bad_request("Invalid webhook URL specified") from None
        secret = args.get("secret_token")
        if len(secret) > 256:
            raise bad_request("Secret token is too long")
        if not re.fullmatch(r"[A-Za-z0-9_-]*", secret):
            raise bad_request("Secret token contains unallowed characters")
        if not _is_loopback(parsed.host.strip("[]")):
            raise bad_request("bad webhook: the fake Bot API delivers to loopback addresses only")
        max_connections = args.int("max_connections", 40, 1, 100)
        drop = args.bool("drop_pending_updates")
        current = self.webhook
        if (
            current is not None
            and current.url == url
            and current.secret_token == secret
            and current.max_connections == max_connections
            and not args.has("allowed_updates")
            and not drop
        ):
            return True, "Webhook is already set"
        if self.verify_webhook:
            await self._verify_webhook(parsed)
        if drop:
            self._pending.clear()
        self._update_allowed_types(args)
        self._resolve_long_poll("webhook")
        self._stop_webhook_workers()
        self.webhook = WebhookState(
            url=url,
            secret_token=secret,
            max_connections=max_connections,
            ip_address=args.get("ip_address") or "127.0.0.1",
            set_at=self.now(),
            has_custom_certificate=args.has("certificate"),
        )
        self._webhook_semaphore = asyncio.Semaphore(max_connections)
        self._kick_webhook()
        return True, "Webhook was set"

    async def _verify_webhook(self, url: HttpUrl) -> None:
        # Telegram answers setWebhook only after it could connect to the URL.
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(url.host.strip("[]"), url.port), timeout=2.0
            )
        except (OSError, TimeoutError) as exc:
            reason = "Connection refused" if isinstance(exc, ConnectionRefusedError) else str(exc)
            raise bad_request(f"bad webhook: {reason}") from None
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    def _delete_webhook(self, args: _Args) -> tuple[bool, str]:
        if args.bool("drop_pending_updates"):
            self._pending.clear()
        if self.webhook is None:
            return True, "Webhook is already deleted"
        self.webhook = None
        self._stop_webhook_workers()
        return True, "Webhook was deleted"

    def _m_delete_webhook(self, args: _Args, op: Op) -> tuple[bool, str]:
        return self._delete_webhook(args)

    def _m_get_webhook_info(self, args: _Args, op: Op) -> JSON:
        info: JSON = {
            "url": self.webhook.url if self.webhook else "",
            "has_custom_certificate": bool(self.webhook and self.webhook.has_custom_certificate),
            "pending_update_count": len(self._pending),
        }
        if self.webhook is not None:
            info["max_connections"] = self.webhook.max_connections
            info["ip_address"] = self.webhook.ip_address
            if self.webhook.last_error_date is not None:
                info["last_error_date"] = self.webhook.last_error_date
                info["last_error_message"] = self.webhook.last_error_message
        if self.allowed_updates != ub.DEFAULT_ALLOWED_UPDATES:
            info["allowed_updates"] = sorted(self.allowed_updates)
        return info

    def _stop_webhook_workers(self) -> None:
        for task in self._webhook_workers.values():
            task.cancel()
        self._webhook_workers.clear()
        for pending in self._pending:
            pending.in_flight = False

    def _kick_webhook(self) -> None:
        if self.webhook is None or self._loop is None:
            return
        for key in {u.order_key for u in self._pending}:
            task = self._webhook_workers.get(key)
            if task is None or task.done():
                self._webhook_workers[key] = self._loop.create_task(
                    self._webhook_worker(key), name=f"fake-bot-api-webhook-{key}"
                )

    async def _webhook_worker(self, key: int) -> None:
        while True:
            pending = next((u for u in self._pending if u.order_key == key), None)
            if pending is None or self.webhook is None:
                return
            webhook = self.webhook
            assert self._webhook_semaphore is not None
            pending.in_flight = True
            async with self._webhook_semaphore:
                started = self.now()
                error = await self._post_update(webhook, pending.payload)
                self.webhook_posts.append(
                    WebhookPost(pending.update_id, pending.created, started, self.now(), error)
                )
            pending.attempts += 1
            if pending not in self._pending:
                continue  # dropped meanwhile (drop_pending_updates)
            if error is None:
                self._pending.remove(pending)
                self.delivered_updates.append(pending.payload)
                await self._notify()
                continue
            webhook.last_error_date = self._unix()
            webhook.last_error_message = error
            if pending.attempts > len(self.webhook_retry_delays):
                self._pending.remove(pending)
                self.dropped_webhook_updates.append((pending.payload, error))
                await self._notify()
                continue
            await asyncio.sleep(self.webhook_retry_delays[pending.attempts - 1])

    async def _post_update(self, webhook: WebhookState, payload: JSON) -> str | None:
        """Deliver one update; ``None`` on a 2xx answer, else the error Telegram would report."""
        assert self._webhook_session is not None
        headers = {"Content-Type": "application/json"}
        if webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        try:
            async with self._webhook_session.post(
                webhook.url,
                data=json.dumps(payload, ensure_ascii=False).encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                allow_redirects=False,
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except TimeoutError:
            return "Read timeout expired"
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, ConnectionRefusedError):
                return "Connection refused"
            return f"Connection error: {exc}"
        except aiohttp.ClientError as exc:
            return f"Connection error: {exc.__class__.__name__}"

    # ----------------------------------------------------------------- update queue

    def _enqueue(self, kind: str, payload: JSON, order_key: int) -> JSON:
        update = ub.update(self._next_update_id, kind, payload)
        self._next_update_id += 1
        if kind not in self.allowed_updates:
            self.suppressed_updates.append((update, f"{kind} not in allowed_updates"))
            return update
        self._pending.append(PendingUpdate(update["update_id"], update, self.now(), order_key))
        if self.webhook is not None:
            self._kick_webhook()
        elif self._long_poll is not None and not self._long_poll.done():
            self._long_poll.set_result("wakeup")
        if self._loop is not None:
            task = self._loop.create_task(self._notify())
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return update

    @property
    def long_poll_waiting(self) -> bool:
        """Whether a getUpdates call is waiting for updates right now."""
        return self._long_poll is not None and not self._long_poll.done()

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by getUpdates nor acknowledged by the webhook."""
        return [u.payload for u in self._pending]

    # ----------------------------------------------------------------- users and chats

    def add_user(
        self,
        first_name: str = "Kari",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "nb",
        user_id: int | None = None,
    ) -> FakeUser:
        """A user; their private chat exists but counts as started only once they write."""
        if user_id is None:
            user_id = self._next_user_id
            self._next_user_id += 1
        person = FakeUser(user_id, first_name, last_name, username, language_code)
        self.users[user_id] = person
        self.chats.setdefault(user_id, FakeChat(user_id, "private", user=person))
        return person

    def add_group(
        self,
        title: str = "Testgruppe",
        *,
        supergroup: bool = False,
        username: str | None = None,
        bot_is_admin: bool = False,
    ) -> FakeChat:
        """A group (or supergroup) the bot is a member of."""
        if supergroup:
            chat_id = -(10**12) - self._next_supergroup_id
            self._next_supergroup_id += 1
        else:
            chat_id = -self._next_group_id
            self._next_group_id += 1
        chat = FakeChat(
            chat_id,
            "supergroup" if supergroup else "group",
            title=title,
            username=username,
            bot_status="administrator" if bot_is_admin else "member",
        )
        self.chats[chat_id] = chat
        return chat

    def add_channel(
        self, title: str = "Testkanal", *, username: str | None = None, bot_is_admin: bool = True
    ) -> FakeChat:
        """A channel; the bot can post only as an administrator."""
        chat_id = -(10**12) - self._next_supergroup_id
        self._next_supergroup_id += 1
        chat = FakeChat(
            chat_id,
            "channel",
            title=title,
            username=username,
            bot_status="administrator" if bot_is_admin else "member",
        )
        self.chats[chat_id] = chat
        return chat

    def private_chat(self, person: FakeUser) -> FakeChat:
        """The private chat between ``person`` and the bot."""
        return self.chats[person.id]

    def _chat_of(self, person: FakeUser, chat: FakeChat | None) -> FakeChat:
        target = chat if chat is not None else self.chats[person.id]
        if target.id not in self.chats:
            raise LookupError(f"chat {target.id} was not created with this server")
        if target.type != "private" and target.bot_status in ("left", "kicked"):
            raise ValueError(f"the bot is not a member of chat {target.id}: it would see nothing")
        return target

    def _user_message(
        self, person: FakeUser, chat: FakeChat | None, *, text: str | None = None, **extra: Any
    ) -> tuple[FakeChat, StoredMessage]:
        target = self._chat_of(person, chat)
        if target.type == "private":
            if target.bot_status == "kicked":
                raise ValueError(f"{person.first_name} has blocked the bot; unblock_bot first")
            target.started = True
        message = StoredMessage(
            chat_id=target.id,
            message_id=target.next_message_id(),
            date=self._unix(),
            sender="user",
            from_user=person.to_dict(),
            text=text,
            entities=ub.find_entities(text) if text else [],
            extra={k: v for k, v in extra.items() if v is not None},
        )
        target.messages[message.message_id] = message
        return target, message

    def _deliver_message(self, kind: str, chat: FakeChat, message: StoredMessage) -> JSON:
        payload = self._message_dict(message)
        if kind == "message" and chat.type in ("group", "supergroup") and not self._bot_sees(chat, message):
            update = ub.update(self._next_update_id, kind, payload)
            self._next_update_id += 1
            self.suppressed_updates.append((update, "privacy mode: not addressed to the bot"))
            return update
        return self._enqueue(kind, payload, chat.id)

    def _bot_sees(self, chat: FakeChat, message: StoredMessage) -> bool:
        """Privacy mode: in groups a bot gets commands, replies to it and mentions only."""
        if not self.privacy_mode or chat.bot_status == "administrator":
            return True
        text = message.text or ""
        if text.startswith("/"):
            return True
        if f"@{self.bot_username}".lower() in text.lower():
            return True
        reply = message.extra.get("reply_to_message")
        return bool(reply and reply.get("from", {}).get("id") == self.bot_id)

    def send_text(
        self,
        person: FakeUser,
        text: str,
        *,
        chat: FakeChat | None = None,
        reply_to: StoredMessage | None = None,
    ) -> JSON:
        """``person`` writes ``text`` (to the bot, or in ``chat``); returns the Update."""
        extra: JSON = {}
        if reply_to is not None:
            extra["reply_to_message"] = self._message_dict(reply_to)
        target, message = self._user_message(person, chat, text=text, **extra)
        return self._deliver_message("message", target, message)

    def send_command(
        self, person: FakeUser, command: str, args: str = "", *, chat: FakeChat | None = None
    ) -> JSON:
        """``person`` sends ``/command args`` (``/command@bot`` in groups); returns the Update."""
        target = self._chat_of(person, chat)
        bot_username = self.bot_username if target.type != "private" else None
        text = ub.command_text(command, args, bot_username=bot_username)
        return self.send_text(person, text, chat=target)

    def send_sticker(self, person: FakeUser, emoji: str = "👍", *, chat: FakeChat | None = None) -> JSON:
        """``person`` sends a sticker; returns the Update."""
        file_id = f"CAACAgIAAxkBAAE{random.randrange(16**8):08x}"
        target, message = self._user_message(
            person, chat, sticker=ub.sticker(file_id, f"AgAD{random.randrange(16**6):06x}", emoji=emoji)
        )
        return self._deliver_message("message", target, message)

    def send_photo(
        self, person: FakeUser, *, caption: str | None = None, chat: FakeChat | None = None
    ) -> JSON:
        """``person`` sends a photo (with an optional caption); returns the Update."""
        file_id = f"AgACAgIAAxkBAAE{random.randrange(16**8):08x}"
        extra: JSON = {"photo": ub.photo_sizes(file_id, f"AQAD{random.randrange(16**6):06x}")}
        if caption:
            extra["caption"] = caption
            caption_entities = ub.find_entities(caption)
            if caption_entities:
                extra["caption_entities"] = caption_entities
        target, message = self._user_message(person, chat, **extra)
        return self._deliver_message("message", target, message)

    def send_voice(self, person: FakeUser, *, duration: int = 3, chat: FakeChat | None = None) -> JSON:
        """``person`` sends a voice message; returns the Update."""
        file_id = f"AwACAgIAAxkBAAE{random.randrange(16**8):08x}"
        target, message = self._user_message(
            person, chat, voice=ub.voice(file_id, f"AgAD{random.randrange(16**6):06x}", duration=duration)
        )
        return self._deliver_message("message", target, message)

    def edit_text(self, person: FakeUser, message: StoredMessage, new_text: str) -> JSON:
        """``person`` edits their own message; returns the ``edited_message`` Update."""
        if message.sender != "user" or not message.from_user or message.from_user["id"] != person.id:
            raise ValueError("a user can edit only their own messages")
        if message.text is None:
            raise ValueError("only text messages can be edited to new text")
        message.text = new_text
        message.entities = ub.find_entities(new_text)
        message.edit_date = self._unix()
        chat = self.chats[message.chat_id]
        return self._deliver_message("edited_message", chat, message)

    def press_button(
        self, person: FakeUser, message: StoredMessage | int, data: str, *, chat: FakeChat | None = None
    ) -> JSON:
        """``person`` presses the button with callback ``data``; the query id is in the Update."""
        # The button must be on the message now; an old message's buttons still work, as in
        # Telegram.
        target = self._chat_of(person, chat)
        if isinstance(message, int):
            found = target.messages.get(message)
            if found is None:
                raise LookupError(f"no message {message} in chat {target.id}")
            message = found
        if message.deleted:
            raise ValueError(f"message {message.message_id} was deleted: nothing to press")
        if message.sender != "bot":
            raise ValueError("only the bot's messages carry inline buttons")
        if data not in message.callback_datas:
            raise ValueError(
                f"message {message.message_id} has no button with callback_data {data!r}; "
                f"it has {sorted(message.callback_datas)}"
            )
        query_id = str(random.randrange(10**18, 10**19))
        self.callback_queries[query_id] = CallbackQueryState(
            query_id, target.id, message.message_id, data, person.to_dict(), self.now()
        )
        query = ub.callback_query(
            query_id=query_id,
            from_user=person.to_dict(),
            message_obj=self._message_dict(message),
            data=data,
            chat_instance=str(abs(hash((self.bot_id, target.id))) % 10**18),
        )
        return self._enqueue("callback_query", query, target.id)

    def post_to_channel(self, channel: FakeChat, text: str) -> JSON:
        """A post appears in ``channel``; returns the ``channel_post`` Update."""
        if channel.type != "channel":
            raise ValueError("post_to_channel needs a channel")
        message = StoredMessage(
            chat_id=channel.id,
            message_id=channel.next_message_id(),
            date=self._unix(),
            sender="channel",
            from_user=None,
            text=text,
            entities=ub.find_entities(text),
            extra={"sender_chat": channel.to_dict()},
        )
        channel.messages[message.message_id] = message
        return self._enqueue("channel_post", self._message_dict(message), channel.id)

    def set_bot_status(self, chat: FakeChat, new_status: BotStatus, *, by: FakeUser | None = None) -> JSON:
        """The bot's status in ``chat`` changes; returns the ``my_chat_member`` Update."""
        # In a private chat "kicked" means the user blocked the bot and "member" that they
        # unblocked it; sending to a blocking user then fails with 403, as in Telegram.
        actor = by or chat.user
        if actor is None:
            raise ValueError("say which user changed the bot's status (by=...)")
        old = chat.bot_status
        chat.bot_status = new_status
        bot = self.bot_user
        return self._enqueue(
            "my_chat_member",
            ub.chat_member_updated(
                chat=chat.to_dict(),
                from_user=actor.to_dict(),
                date=self._unix(),
                old_chat_member=ub.chat_member(bot, old),
                new_chat_member=ub.chat_member(bot, new_status),
            ),
            chat.id,
        )

    def block_bot(self, person: FakeUser) -> JSON:
        """``person`` blocks the bot: a my_chat_member update, then 403 on every send."""
        return self.set_bot_status(self.chats[person.id], "kicked")

    def unblock_bot(self, person: FakeUser) -> JSON:
        """``person`` unblocks the bot."""
        return self.set_bot_status(self.chats[person.id], "member")

    # ----------------------------------------------------------------- inspection

    def transcript(self, chat: FakeChat | FakeUser | int) -> list[Op]:
        """Every call the bot made about one chat, in order, with the fake's answers."""
        chat_id = chat if isinstance(chat, int) else chat.id
        return [op for op in self.ops if op.chat_id == chat_id]

    def bot_messages(
        self, chat: FakeChat | FakeUser | int, *, include_deleted: bool = False
    ) -> list[StoredMessage]:
        """The bot's messages in a chat, in order, in their current (edited) state."""
        chat_id = chat if isinstance(chat, int) else chat.id
        found = self.chats.get(chat_id)
        if found is None:
            return []
        return [
            m for m in found.messages.values() if m.sender == "bot" and (include_deleted or not m.deleted)
        ]

    def messages(self, chat: FakeChat | FakeUser | int) -> list[StoredMessage]:
        """Every message in a chat, users' and the bot's, deleted ones included, in order."""
        chat_id = chat if isinstance(chat, int) else chat.id
        found = self.chats.get(chat_id)
        return list(found.messages.values()) if found else []

    def ops_for(self, method: str) -> list[Op]:
        """Calls of one method (case-insensitive)."""
        return [op for op in self.ops if op.method.lower() == method.lower()]

    def get_commands(self, scope: str = "default", language_code: str = "") -> list[JSON]:
        """Commands set for a scope key (``default``, ``chat:<id>``, ...) and language."""
        return [dict(c) for c in self.commands.get((scope, language_code), [])]

    async def wait_until(self, predicate: Callable[[], bool], *, within: float = 5.0, what: str = "") -> None:
        """Wait (bounded) until ``predicate()`` holds; re-checked after every change."""
        if self._changed is None:
            raise RuntimeError("the fake Bot API is not started")
        try:
            async with asyncio.timeout(within), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError:
            raise TimeoutError(
                f"not within {within}s: {what or predicate!r}; last calls: "
                + "; ".join(f"{op.method}->{op.description or 'ok'}" for op in self.ops[-8:])
            ) from None

    async def wait_for_bot_messages(
        self, chat: FakeChat | FakeUser | int, count: int, *, within: float = 5.0
    ) -> list[StoredMessage]:
        """Wait until the bot has sent ``count`` messages to a chat (deleted ones count)."""
        await self.wait_until(
            lambda: len(self.bot_messages(chat, include_deleted=True)) >= count,
            within=within,
            what=f"{count} bot message(s) in chat {chat if isinstance(chat, int) else chat.id}",
        )
        return self.bot_messages(chat, include_deleted=True)

    async def wait_for_call(self, method: str, count: int = 1, *, within: float = 5.0) -> list[Op]:
        """Wait until ``method`` was called ``count`` times (answered, including errors)."""
        await self.wait_until(
            lambda: len(self.ops_for(method)) >= count, within=within, what=f"{count} x {method}"
        )
        return self.ops_for(method)

    async def drain(self, *, within: float = 5.0) -> None:
        """Wait until no update is pending (all confirmed, acknowledged or dropped)."""
        await self.wait_until(lambda: not self._pending, within=within, what="all updates delivered")

    # ----------------------------------------------------------------- HTTP test control

    async def _handle_test_control(self, request: web.Request) -> web.Response:
        """A thin HTTP face of the Python API, for manual runs of the standalone server."""
        action = request.match_info["action"]
        body: JSON = {}
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                return web.json_response({"error": "body must be JSON"}, status=400)
        try:
            result = self._test_action(action, body, dict(request.query))
        except (KeyError, LookupError, ValueError, TypeError) as exc:
            return web.json_response({"error": f"{exc.__class__.__name__}: {exc}"}, status=400)
        return web.json_response({"result": result})

    def _person(self, body: JSON) -> FakeUser:
        user_id = int(body["user_id"])
        person = self.users.get(user_id)
        if person is None:
            person = self.add_user(
                body.get("first_name", "Kari"),
                username=body.get("username"),
                language_code=body.get("language_code", "nb"),
                user_id=user_id,
            )
        return person

    def _test_action(self, action: str, body: JSON, query: dict[str, str]) -> Any:
        if action == "users":
            person = self.add_user(
                body.get("first_name", "Kari"),
                username=body.get("username"),
                language_code=body.get("language_code", "nb"),
            )
            return person.to_dict()
        if action == "message":
            return self.send_text(self._person(body), str(body["text"]))
        if action == "command":
            return self.send_command(self._person(body), str(body["command"]), str(body.get("args", "")))
        if action == "press":
            person = self._person(body)
            chat = self.chats[int(body.get("chat_id", person.id))]
            return self.press_button(person, int(body["message_id"]), str(body["data"]), chat=chat)
        if action == "block":
            return self.block_bot(self._person(body))
        if action == "unblock":
            return self.unblock_bot(self._person(body))
        if action == "advance":
            self.advance(float(body["seconds"]))
            return {"now": self.now()}
        if action == "fault":
            kind = body.get("kind", "error")
            method = body.get("method")
            count = int(body.get("count", 1))
            if kind == "rate_limit":
                self.rate_limit(method, int(body["retry_after"]), count=count)
            elif kind == "server_error":
                self.server_error(method, int(body.get("status", 500)), count=count)
            elif kind == "hang":
                self.hang(method, count=count)
            elif kind == "drop":
                self.drop_connection(method, count=count)
            else:
                self.fail_next(method, int(body["error_code"]), str(body["description"]), count=count)
            return len(self._faults)
        if action == "transcript":
            chat_id = int(query["chat_id"])
            return [
                {
                    "method": op.method,
                    "params": op.params,
                    "ok": op.ok,
                    "result": op.result,
                    "description": op.description,
                }
                for op in self.transcript(chat_id)
            ]
        if action == "calls":
            return dict(self.calls)
        if action == "state":
            return {
                "chats": {
                    cid: {"type": c.type, "messages": len(c.messages)} for cid, c in self.chats.items()
                },
                "pending_updates": len(self._pending),
                "webhook": self.webhook.url if self.webhook else None,
                "commands": {f"{scope}|{lang}": cmds for (scope, lang), cmds in self.commands.items()},
            }
        raise LookupError(f"unknown test-control action {action!r}")


# =======================================================================================
# Standalone
# =======================================================================================


async def _serve(args: argparse.Namespace) -> None:
    server = FakeBotApi(args.token, host=args.host, port=args.port)
    async with server:
        print(f"fake Telegram Bot API on {server.url}")
        print(f"  token:    {server.token}")
        print(f"  base_url: {server.base_url}  (python-telegram-bot appends the token)")
        print(f'  control:  POST {server.url}/_test/message {{"user_id": 1, "text": "hei"}}')
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    """Run the fake standalone for manual testing: ``python -m tests.support.fake_bot_api``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
