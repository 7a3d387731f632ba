"""The web chat page's own words (everything the bot says comes from the scripts), per language."""

from __future__ import annotations

from bot.content.scripts import Scripts
from bot.i18n import Catalogs


def page_texts(catalogs: Catalogs, scripts: Scripts, lang: str) -> dict[str, str]:
    """The page's texts in `lang`, with the emergency number and the advice line from the facts file."""
    _ = catalogs.get(lang).gettext
    facts = scripts.facts
    police = facts.display("emergency.police", lang, catalogs)
    phone = facts.display("hotline.phone", lang, catalogs)
    return {
        "title": _("Chat with Balansebot"),
        "intro": _(
            "Ask about sexual harassment in arts and culture, the advice line or Balansemerket. "
            "No account, no name: nothing that identifies you is stored."
        ),
        "exit": _("Quick exit"),
        "exit_hint": _(
            "Leave at once with this button or by pressing Escape three times: the chat is deleted."
        ),
        "log_label": _("Conversation with Balansebot"),
        "message_label": _("Your message"),
        "placeholder": _("Write a question"),
        "send": _("Send"),
        "buttons_label": _("Answer choices"),
        "show_more": _("Show more"),
        "show_less": _("Show less"),
        "you": _("You:"),
        "bot": _("Balansebot:"),
        "failed": _("The message did not get through. Check your connection and press Send again."),
        "slow_down": _("Many messages arrived at once. Please wait a few seconds and send it again."),
        "danger": _("If you or someone else is in danger now, call {police}.").format(police=police),
        "auto_deleted": _("The conversation was deleted, as you chose. You can start again at any time."),
        "hide_title": _("What this page cannot hide"),
        "hide_text": _(
            "Quick exit deletes the chat and leaves this page, but your browser's history still shows "
            "that this website was visited. To leave no trace on this device, open the chat in a "
            "private window (Ctrl+Shift+N, or Cmd+Shift+N on a Mac, or a private tab on your phone)."
        ),
        "noscript": _("The chat needs JavaScript. You can call the advice line instead: {phone}.").format(
            phone=phone
        ),
    }
