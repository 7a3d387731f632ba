"""Durable, anonymous chat state behind a small interface (SQLite by default, PostgreSQL for replicas)."""
