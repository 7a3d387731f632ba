"""Test support: an offline fake of the Telegram Bot API and update builders."""
