"""The preview's chats: one per browser tab, in memory only, forgotten when the preview stops."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from bot.engine.model import ChatState

MAX_SESSIONS = 500  # a staff tool; the oldest chat is dropped so memory stays bounded


@dataclass
class Session:
    """One tab's chat: the engine's state and the numbering of the bot's messages in it."""

    state: ChatState
    last_bot_message: int | None = None
    """The newest bot message, the only one a button press edits in place (as on Telegram)."""
    next_message: int = 1

    def new_message_id(self) -> int:
        """A number for a new bot message in this chat."""
        number = self.next_message
        self.next_message += 1
        return number


class Sessions:
    """Chats by the random id each page makes for itself; never written anywhere."""

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self._limit = limit
        self._chats: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._chats)

    def get(self, key: str, lang: str) -> Session:
        """The tab's chat; a new one in `lang` when the id is unknown (or was dropped)."""
        session = self._chats.get(key)
        if session is None:
            return self.restart(key, lang)
        self._chats.move_to_end(key)
        return session

    def restart(self, key: str, lang: str) -> Session:
        """Start the tab's chat over in `lang`."""
        session = Session(ChatState(lang=lang))
        self._chats[key] = session
        self._chats.move_to_end(key)
        while len(self._chats) > self._limit:
            self._chats.popitem(last=False)
        return session
