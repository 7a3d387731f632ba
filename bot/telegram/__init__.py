"""The Telegram adapter: updates in (webhook or polling), replies out through one paced Bot API client."""
