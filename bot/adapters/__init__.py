"""Thin adapters that carry the engine's replies to a medium: the terminal, Telegram, the web preview."""
