"""Telegram integration: transport and adapters for python-telegram-bot."""
