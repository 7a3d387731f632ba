"""The flow chart for the page, drawn once per version of the scripts and language."""

from __future__ import annotations

import asyncio

from bot.content.scripts import Scripts
from bot.staff.flow_graph import render_flow


class FlowCharts:
    """SVG flow charts of the scripts being served; a new version draws anew."""

    def __init__(self) -> None:
        self._version: str | None = None
        self._drawn: dict[str, bytes] = {}
        self._lock = asyncio.Lock()

    async def svg(self, scripts: Scripts, lang: str) -> bytes:
        """The chart in `lang`; `dot` runs in a thread, as it takes a moment for a large chart."""
        async with self._lock:  # several tabs asking at once draw it once
            if self._version != scripts.version:
                self._version, self._drawn = scripts.version, {}
            if lang not in self._drawn:
                self._drawn[lang] = await asyncio.to_thread(render_flow, scripts, lang, "svg")
            return self._drawn[lang]
