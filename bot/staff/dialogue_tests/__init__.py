"""Conversation tests written by staff in YAML (dialogues/tests/), run against the real engine.

A test file holds conversations: what the reader says, presses or types as a /command, and what
the bot's reply must contain. Reading a file reports mistakes as file:line with a fix hint (like
`balansebot check`); running a conversation reports the first step whose reply was not as
expected, with what the bot actually said.
"""
