"""What `balansebot preview` needs, validated once when it starts."""

from __future__ import annotations

from pydantic import Field

from bot.settings import ContentSettings, KeptScriptsSettings

MAX_BODY_BYTES = 64 * 1024  # a chat turn is a few hundred bytes; anything near this is not one


class PreviewSettings(ContentSettings, KeptScriptsSettings):
    """The web page's address (from the command line) and the database the statistics come from."""

    host: str = "127.0.0.1"  # only this machine: the page has no login
    port: int = Field(default=8000, ge=1, le=65535)
    watch_dialogues: bool = True
