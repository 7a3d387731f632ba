"""The preview page's own words (not the bot's), from the staff catalogue in the tools' language.

The page is written in static/index.html with `{{name}}` where a word goes; it is filled in as it is
served, and the words preview.js says later travel with it as JSON (a data block, never run as a
script). The chat's language is the page's own business (its language menu); these words follow
the command line's language, as every staff tool does.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from pathlib import Path

from bot.staff_words import marked, say, spoken_language

# What index.html says, by the name written between {{ and }} there.
PAGE_WORDS = {
    "title": marked("Balansebot preview"),
    "skip": marked("Skip to the message field"),
    "chat_language": marked("Chat language"),
    "restart": marked("Restart the chat"),
    "connecting": marked("Connecting…"),
    "chat": marked("Chat"),
    "conversation": marked("Conversation with the bot"),
    "message": marked("Message to the bot"),
    "placeholder": marked("Write a question, or /start"),
    "send": marked("Send"),
    "flow_chart": marked("Flow chart"),
    "current_node": marked("Current node:"),
    "zoom": marked("Zoom the flow chart"),
    "zoom_out": marked("Zoom out"),
    "zoom_in": marked("Zoom in"),
    "fit": marked("Fit"),
    "fit_title": marked("Show the whole chart"),
    "flow_region": marked(
        "Flow chart of the scripts: drag to move it, the wheel or two fingers zoom, a node opens in the chat"
    ),
    "stats_title": marked("The last 14 days (anonymous statistics)"),
    "loading": marked("Loading…"),
}
# What preview.js says, by its name there; {placeholders} are filled in by the page.
SCRIPT_WORDS = {
    "answered": marked("The preview answered {status}."),
    "buttons": marked("Buttons"),
    "showMore": marked("Show more"),
    "showLess": marked("Show less"),
    "edited": marked("edited"),
    "flowNotDrawn": marked("The flow chart could not be drawn: {reason}"),
    "flowNotRead": marked("The flow chart could not be read."),
    "jumped": marked("Jumped to {node} from the flow chart."),
    "actualSize": marked("{level}: back to the actual size"),
    "stillServing": marked(
        "Still serving scripts version {version} (loaded at {time}). Fix the file and save it again:"
    ),
    "loaded": marked("✓ Scripts version {version} loaded at {time}."),
    "fix": marked("Fix: {hint}"),
    "statsUnreadable": marked("The statistics could not be read."),
    "statsCaption": marked(
        "Answers shown (nodes reached) and free text that fell back, per day. Counts under 5 are hidden."
    ),
    "day": marked("Day"),
    "reached": marked("Nodes reached"),
    "fellBack": marked("Fell back"),
    "fewerThan5": marked("fewer than 5"),
    "aFewHidden": marked("{count} + a few hidden"),
}
# Words with a number: [one, more], the form chosen by the page (n = 1 or not, in nb, nn and en alike).
SCRIPT_COUNTED = {
    "refused": (
        marked("The saved scripts have {count} error and were not loaded"),
        marked("The saved scripts have {count} errors and were not loaded"),
    ),
    "warnings": (marked("{count} warning from check"), marked("{count} warnings from check")),
}
# How the page writes times and days (toLocaleTimeString) in each staff language.
DATE_LOCALES = {"nb": "nb-NO", "nn": "nn-NO", "en": "en-GB"}
FILLED = re.compile(r"\{\{(\w+)\}\}")


def said_as_is(message: str) -> str:
    """A message for the page to fill in itself: its {placeholders} left as they are."""
    fields = {name: f"{{{name}}}" for name in re.findall(r"\{(\w+)\}", message)}
    return say(message, **fields)


def script_words() -> dict[str, object]:
    """What preview.js says, in the staff language (its {placeholders} still to fill)."""
    lang = spoken_language()
    words: dict[str, object] = {name: said_as_is(message) for name, message in SCRIPT_WORDS.items()}
    for name, (one, more) in SCRIPT_COUNTED.items():
        # Two messages of the catalogue: the page picks one for each count it shows.
        words[name] = [said_as_is(one), said_as_is(more)]
    words["lang"] = lang
    words["dateLocale"] = DATE_LOCALES.get(lang, DATE_LOCALES["en"])
    return words


def page_html(template: Path, languages: Sequence[tuple[str, str]]) -> str:
    """index.html with the staff's words filled in, preview.js's words beside them, and a choice of
    each (code, name) in `languages` (the served scripts' languages.yaml)."""
    words = {name: html.escape(say(message)) for name, message in PAGE_WORDS.items()}
    words["language_options"] = "\n".join(
        f'<option value="{html.escape(code)}" lang="{html.escape(code)}">{html.escape(name)}</option>'
        for code, name in languages
    )
    words["staff_lang"] = html.escape(spoken_language())
    # "<" as \u003c: no "</script>" in the data can end its block early.
    words["script_words"] = json.dumps(script_words(), ensure_ascii=False).replace("<", "\\u003c")
    return FILLED.sub(lambda found: words[found.group(1)], template.read_text(encoding="utf-8"))
