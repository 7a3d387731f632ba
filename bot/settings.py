"""Settings from the environment (and .env), validated once when a command starts — never at import."""

from __future__ import annotations

import re
from contextlib import suppress
from pathlib import Path
from typing import Any, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.exc import ArgumentError

from bot.engine.form_dialogue import LeadChannels
from bot.staff_words import marked, say
from bot.storage.database import async_url, is_sqlite, sqlite_path
from bot.storage.pseudonym import MIN_KEY_LENGTH, read_key_file

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TELEGRAM_BOT_API = "https://api.telegram.org/bot"
WEBHOOK_PORTS = (443, 80, 88, 8443)  # the only ports Telegram delivers webhooks to
TOKEN_PATTERN = re.compile(r"^[0-9]{5,16}:[A-Za-z0-9_-]{30,64}$")
# The words of .env.example's placeholder (and of the usual ones in guides): never in a real token.
PLACEHOLDER_TOKEN = re.compile(r"replace|botfather|example", re.IGNORECASE)
# What Telegram accepts as secret_token (1-256 of these), at least 32 long: with the secret anyone can
# forge updates for any chat (a /slett deleting someone's messages), so it must not be guessable.
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,256}$")
# Secrets that may come from a file instead (`BOT_TOKEN_FILE=/run/secrets/bot_token`), as Docker's
# images do; the variable itself wins when both are set. PSEUDONYM_KEY_FILE has its own checks.
SECRET_FILE_FIELDS = ("bot_token", "webhook_secret", "smtp_password", "metrics_token")
SECRETS_DIR = Path("/run/secrets")  # compose and Docker secrets: a file per setting, named as it is
METRICS_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9._~+/=-]{16,256}$")  # a bearer token (RFC 6750)


class ContentSettings(BaseSettings):
    """Where the dialogue scripts and translations are read from."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    dialogues_dir: Path = Field(default=PROJECT_ROOT / "dialogues")
    locales_dir: Path = Field(default=PROJECT_ROOT / "locales")


class DatabaseSettings(BaseSettings):
    """Which database: the bot's state, and the statistics `stats` and `preview` read."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite:///balansebot.db"

    @field_validator("database_url")
    @classmethod
    def _database_known(cls, value: str) -> str:
        try:
            backend = async_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError(say("is not a database URL (sqlite:///file.db or postgresql://…)")) from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(say("must be an sqlite:/// or postgresql:// URL"))
        return value


class KeptScriptsSettings(DatabaseSettings):
    """Where every version of the scripts that went live is kept (bot/content/kept_versions.py)."""

    kept_scripts_dir: Path | None = None

    @property
    def kept_scripts(self) -> Path:
        """KEPT_SCRIPTS_DIR, or `kept-scripts/` beside the SQLite database (else in the current folder)."""
        if self.kept_scripts_dir is not None:
            return self.kept_scripts_dir
        database = sqlite_path(self.database_url)
        return (database.parent if database is not None else Path()) / "kept-scripts"


class ServeSettings(ContentSettings, KeptScriptsSettings):
    """Everything `balansebot serve` needs; see .env.example and the README."""

    bot_token: SecretStr
    bot_api_url: str = TELEGRAM_BOT_API
    host: str = "0.0.0.0"  # noqa: S104 - a server in a container listens on all interfaces
    port: int = Field(default=8080, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_logs: bool = False
    # When set, GET /metrics wants `Authorization: Bearer <token>` (see bot/telegram/metrics_http.py).
    metrics_token: SecretStr | None = None
    webhook_url: AnyHttpUrl | None = None
    webhook_secret: SecretStr | None = None
    pseudonym_key: SecretStr | None = None
    pseudonym_key_file: Path | None = None
    bot_token_file: Path | None = None
    webhook_secret_file: Path | None = None
    smtp_password_file: Path | None = None
    metrics_token_file: Path | None = None
    max_concurrent_updates: int = Field(default=256, ge=1, le=10_000)
    # PostgreSQL connections per process: the turns share one, a chat another replica holds waits
    # on one of its own, and lead delivery, statistics and expiry take one now and then. At start
    # DATABASE_REPLICAS × (pool + overflow) must fit in the server's max_connections (100 by default,
    # 3 of them kept for superusers), or the bot refuses to start.
    database_pool_size: int = Field(default=10, ge=1, le=1000)
    database_max_overflow: int = Field(default=20, ge=0, le=1000)
    database_replicas: int = Field(default=1, ge=1, le=1000)
    # How long one Bot API call may wait to connect or for an answer before it is retried (PTB's 5 s).
    bot_api_timeout_seconds: float = Field(default=5, gt=0, le=300)
    # Pacing under Telegram's limits (bot/telegram/outbound.py): messages a second for the whole bot
    # (Telegram allows about 30), a burst for one chat and then so many a second (Telegram: about
    # one), and how long one call may wait out 429s in all before it fails.
    bot_api_messages_per_second: float = Field(default=25, gt=0, le=10_000)
    bot_api_chat_burst: int = Field(default=3, ge=1, le=100)
    bot_api_chat_per_second: float = Field(default=1, gt=0, le=1_000)
    # At most 20 s: Telegram gives a webhook request about a minute (not documented; seen) before it
    # counts the delivery as failed, and the reply's own sending comes on top of the waits.
    bot_api_longest_flood_wait_seconds: float = Field(default=10, ge=0, le=20)
    webhook_max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # How long the server waits for a request's headers (and an idle connection), and for its body,
    # before it gives up on the client: slow clients are not held for good.
    http_read_timeout_seconds: float = Field(default=10, gt=0, le=300)
    expiry_interval_seconds: float = Field(default=600, gt=0)
    # How often conversations whose reader chose auto-delete are looked for (a late deletion is
    # at most this late).
    auto_delete_interval_seconds: float = Field(default=30, gt=0)
    # Reload dialogues/ when a file changes (SIGHUP reloads too). Set WATCHFILES_FORCE_POLLING=true
    # where file events do not arrive, as with some mounted volumes.
    watch_dialogues: bool = True
    # Delivery of organisations' interest forms to staff: by e-mail (SMTP_HOST …), to a staff
    # Telegram chat (STAFF_CHAT_ID), or both. With neither the form is not offered and readers are
    # given the e-mail address instead.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_tls: bool = False
    smtp_timeout_seconds: float = Field(default=20, gt=0)
    leads_email_from: str | None = None
    leads_email_to: str | None = None
    # The chat where staff read leads: a group's id (negative) or a staff member's private chat with
    # the bot. The bot must be a member of it (it stays in this group, and leaves any other).
    staff_chat_id: int | None = None
    # No longer read: how long delivered leads and the daily counts are kept is in dialogues/facts.yaml
    # (privacy.leads_retention_days, privacy.stats_retention_days), where /personvern shows it too.
    leads_retention_days: int | None = None
    delivery_interval_seconds: float = Field(default=15, gt=0)
    # Anonymous daily counts per node (`balansebot stats`): kept this many days, stored this often.
    stats_retention_days: int | None = None
    stats_flush_seconds: float = Field(default=15, gt=0, le=3600)
    # Per-chat flood control (bot/telegram/flood.py): a chat may send FLOOD_BURST updates at once,
    # then FLOOD_PER_SECOND a second; beyond that it is asked to slow down. Either at 0 turns it off.
    flood_burst: int = Field(default=10, ge=0, le=10_000)
    flood_per_second: float = Field(default=1.0, ge=0, le=1_000)
    # The anonymous web chat (bot/web): off unless WEB_CHAT=true; served at WEB_CHAT_PATH.
    web_chat: bool = False
    web_chat_path: str = Field(default="/chat/", pattern=r"^/(?:[a-z0-9_-]+/)+$")
    # Where the quick exit goes: a neutral page that says nothing about the chat.
    web_chat_exit_url: AnyHttpUrl = AnyHttpUrl("https://www.yr.no/")
    # The sites that may show the chat in an <iframe> (CSP frame-ancestors), space-separated origins.
    web_chat_frame_ancestors: str = Field(default="", pattern=r"^(?:https://[A-Za-z0-9.-]+(?::[0-9]+)?\s*)*$")
    # Messages one network address may send: a burst, then this many a second (in memory only).
    web_chat_address_burst: int = Field(default=60, ge=1, le=100_000)
    web_chat_address_per_second: float = Field(default=2.0, gt=0, le=10_000)
    # Behind a proxy every reader comes from the proxy's address: then the limit reads the address
    # the proxy added last to X-Forwarded-For (Caddy sets it). Only with a proxy that sets it.
    web_chat_behind_proxy: bool = False

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, given: Any) -> Any:
        """Fill BOT_TOKEN and the other secrets from the files their `*_FILE` variables name."""
        if not isinstance(given, dict):
            return given
        for name in SECRET_FILE_FIELDS:
            path = given.get(f"{name}_file")
            if path and not given.get(name):
                given[name] = read_secret_file(f"{name.upper()}_FILE", Path(path))
        return given

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if PLACEHOLDER_TOKEN.search(value.get_secret_value()):
            raise ValueError(
                say("is still the placeholder from .env.example; put the token from @BotFather there")
            )
        if not TOKEN_PATTERN.match(value.get_secret_value()):
            raise ValueError(say("does not look like a bot token from @BotFather (digits:letters)"))
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not SECRET_PATTERN.match(value.get_secret_value()):
            raise ValueError(say("must be 32 to 256 characters of A-Z, a-z, 0-9, _ and -"))
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not METRICS_TOKEN_PATTERN.match(value.get_secret_value()):
            raise ValueError(say("must be 16 to 256 characters of A-Z, a-z, 0-9 and . _ ~ + / = -"))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ServeSettings:
        url = self.webhook_url
        # Telegram's own Bot API delivers only over https to these ports; a local Bot API server
        # (telegram-bot-api --local, or the tests' offline one) delivers to any URL.
        to_telegram = url is not None and self.bot_api_url == TELEGRAM_BOT_API
        if to_telegram and url is not None and (url.scheme != "https" or url.port not in WEBHOOK_PORTS):
            raise ValueError(
                say(
                    "WEBHOOK_URL must be https:// on port 443, 80, 88 or 8443: Telegram delivers nowhere else"
                )
            )
        if self.webhook_url is not None and self.webhook_secret is None:
            raise ValueError(
                say("WEBHOOK_SECRET must be set when WEBHOOK_URL is (Telegram sends it with every update)")
            )
        if self.pseudonym_key is None:
            self.pseudonym_key = SecretStr(self._key_from_file())
        if self.smtp_host is not None and self.leads_email_from is None:
            raise ValueError(
                say("LEADS_EMAIL_FROM must be set with SMTP_HOST (the sender address of lead e-mails)")
            )
        for name, value in (
            ("LEADS_RETENTION_DAYS", self.leads_retention_days),
            ("STATS_RETENTION_DAYS", self.stats_retention_days),
        ):
            if value is not None:
                raise ValueError(
                    say(
                        "{name} is no longer read: set `{fact}:` under `privacy:` in dialogues/facts.yaml "
                        "instead (the privacy text shows it from there), and remove {name}",
                        name=name,
                        fact=name.lower(),
                    )
                )
        if len(self.pseudonym_key.get_secret_value()) < MIN_KEY_LENGTH:
            too_short = (
                say("PSEUDONYM_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`)")
                if self.pseudonym_key_file is None
                else say(
                    "PSEUDONYM_KEY_FILE's key must be at least 32 characters (e.g. `openssl rand -hex 32`)"
                )
            )
            raise ValueError(too_short)
        return self

    def _key_from_file(self) -> str:
        """PSEUDONYM_KEY_FILE's key; without it, why `serve` cannot start (the key is no longer generated)."""
        database = sqlite_path(self.database_url)
        if self.pseudonym_key_file is not None:
            return read_key_file(self.pseudonym_key_file, database)
        old = database.parent / "pseudonym.key" if database is not None else None
        unset = (
            say(
                "PSEUDONYM_KEY or PSEUDONYM_KEY_FILE must be set: the key that turns chat ids into "
                "pseudonyms is kept apart from the database"
            )
            if is_sqlite(self.database_url)
            else say(
                "PSEUDONYM_KEY or PSEUDONYM_KEY_FILE must be set, the same for every replica: the key "
                "that turns chat ids into pseudonyms is kept apart from the database"
            )
        )
        hint = (
            say(
                "; {old} was made by an older version: move it out of the database's folder and point "
                "PSEUDONYM_KEY_FILE at it",
                old=old,
            )
            if old is not None and old.exists()
            else say(" (e.g. `openssl rand -hex 32`)")
        )
        raise ValueError(unset + hint)

    @property
    def lead_channels(self) -> LeadChannels:
        """The ways leads take to staff: e-mail (SMTP_HOST), the staff chat (STAFF_CHAT_ID), both or none."""
        return LeadChannels(email=self.smtp_host is not None, staff_chat=self.staff_chat_id is not None)

    @property
    def chat_key(self) -> bytes:
        """The pseudonym key: PSEUDONYM_KEY, or the content of PSEUDONYM_KEY_FILE."""
        if self.pseudonym_key is None:
            raise RuntimeError("settings were not validated")  # the validator always sets it
        return self.pseudonym_key.get_secret_value().encode()


def read_secret_file(variable: str, path: Path) -> str:
    """A secret's file, without its trailing newline; ValueError names the variable, never the content."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ValueError(say("{variable} {path} does not exist", variable=variable, path=path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(
            say(
                "{variable} {path} cannot be read ({reason})",
                variable=variable,
                path=path,
                reason=type(error).__name__,
            )
        ) from None


def serve_settings() -> ServeSettings:
    """ServeSettings from the environment, .env, `*_FILE` files and /run/secrets (when it exists)."""
    return ServeSettings(_secrets_dir=SECRETS_DIR if SECRETS_DIR.is_dir() else None)


# pydantic's own complaints, by their type, in the staff language; its `ctx` fills the placeholders.
PYDANTIC_WORDS = {
    "missing": marked("is not set"),
    "int_parsing": marked("must be a whole number"),
    "int_from_float": marked("must be a whole number"),
    "float_parsing": marked("must be a number"),
    "bool_parsing": marked("must be true or false"),
    "literal_error": marked("must be one of {expected}"),
    "greater_than": marked("must be more than {gt}"),
    "greater_than_equal": marked("must be at least {ge}"),
    "less_than": marked("must be less than {lt}"),
    "less_than_equal": marked("must be at most {le}"),
    "string_pattern_mismatch": marked("does not have the right form ({pattern})"),
    "url_parsing": marked("is not a URL ({error})"),
    "url_scheme": marked("must start with {expected_schemes}"),
}


def describe_settings_error(error: ValidationError) -> str:
    """One plain line per problem, naming the environment variable (never its value)."""
    lines = []
    for detail in error.errors():
        name = "_".join(str(p) for p in detail["loc"]).upper()
        message = detail["msg"].removeprefix("Value error, ")  # our validators' words: said already
        words = PYDANTIC_WORDS.get(detail["type"])
        if name == "BOT_TOKEN" and detail["type"] == "missing":
            message = say("is not set (the token from @BotFather)")
        elif words is not None:
            context = dict(detail.get("ctx", {}))
            if detail["type"] == "literal_error":  # pydantic lists the choices as "'a', 'b' or 'c'"
                some, _or, last = str(context.get("expected", "")).rpartition(" or ")
                if some:
                    context["expected"] = say("{some} or {last}", some=some, last=last)
            with suppress(KeyError, IndexError):  # a context other than the one this pydantic gives
                message = say(words, **context)
        lines.append(f"{name} {message}" if name else message)
    return "; ".join(lines)
