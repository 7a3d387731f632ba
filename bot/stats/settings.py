"""Settings of `balansebot stats`: only where the database is."""

from __future__ import annotations

from bot.settings import DatabaseSettings


class StatsSettings(DatabaseSettings):
    """DATABASE_URL from the environment (or .env), as `balansebot serve` reads it."""
