"""The command list Telegram shows in the chat's menu (setMyCommands), described in the reader's language."""

from __future__ import annotations

from telegram import BotCommand

from bot.i18n import Catalogs


def command_menu(catalogs: Catalogs, lang: str) -> list[BotCommand]:
    """The bot's commands with descriptions in `lang`."""
    _ = catalogs.get(lang).gettext
    return [
        BotCommand("start", _("Start from the beginning")),
        BotCommand("meny", _("Show the menu")),
        BotCommand("telefon", _("The free advice line")),
        BotCommand("merket", _("Balansemerket for organisations")),
        BotCommand("hjelp", _("How to use the bot")),
        BotCommand("personvern", _("What the bot stores")),
        BotCommand("slett", _("Delete what the bot stores about you")),
        BotCommand("avbryt", _("Cancel what you are doing")),
        BotCommand("sprak", _("Change language")),
    ]
