"""The dialogue engine: chat state + event → replies + new state. Pure: no I/O, no Telegram types."""
