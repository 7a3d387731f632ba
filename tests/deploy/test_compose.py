"""compose.yaml: PostgreSQL, several bot replicas sharing one key, Caddy in front — and it validates."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.commands.serve import SHUTDOWN_SECONDS
from bot.settings import SECRETS_DIR, ServeSettings
from tests.conftest import ROOT
from tests.deploy import compose
from tests.deploy.dockerfile import final_stage, seconds

CADDYFILE = ROOT / "deploy" / "Caddyfile"
DIALOGUES_OVERRIDE = ROOT / "deploy" / "compose.dialogues.yaml"
REQUIRED = ("PSEUDONYM_KEY", "WEBHOOK_SECRET", "BOT_DOMAIN", "POSTGRES_PASSWORD")
PINNED_IMAGE = re.compile(r"^[\w./-]+:\d+(\.\d+)+(-[\w.]+)?$")  # a version tag, never latest
VARIABLES = {
    "BOT_TOKEN": "123456789:AAFakeTokenForOfflineTestsOnly_abcdefgh",
    "PSEUDONYM_KEY": "0123456789abcdef" * 4,
    "WEBHOOK_SECRET": "compose-test_secret-0123456789abcdef",
    "BOT_DOMAIN": "bot.example.org",
    "POSTGRES_PASSWORD": "0123abcd",
}


def services() -> dict[str, Any]:
    """The services of compose.yaml."""
    found: dict[str, Any] = compose.load()["services"]
    return found


def exposed_port() -> str:
    """The Dockerfile's EXPOSE."""
    return final_stage().last("EXPOSE").arguments


def test_postgres_16_with_a_healthcheck_and_a_named_volume() -> None:
    """The database is PostgreSQL 16, checked with pg_isready, its data in a named volume."""
    db = services()["db"]
    assert db["image"].startswith("postgres:16.")
    assert db["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    (volume,) = db["volumes"]
    name, _, target = volume.partition(":")
    assert target == "/var/lib/postgresql/data"
    assert name in compose.load()["volumes"], "a named volume, not a host folder or an anonymous one"


def test_bot_runs_several_replicas_after_the_database_is_healthy() -> None:
    """deploy.replicas > 1, started once pg_isready passes, given time to stop cleanly."""
    bot = services()["bot"]
    assert bot["deploy"]["replicas"] >= 2
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["build"] == "."
    assert seconds(bot["stop_grace_period"]) > SHUTDOWN_SECONDS
    assert bot["env_file"] == ".env"


def test_replicas_cannot_start_without_the_shared_settings() -> None:
    """PSEUDONYM_KEY, WEBHOOK_SECRET, BOT_DOMAIN and POSTGRES_PASSWORD are required (${X:?…})."""
    bot = services()["bot"]
    for name in REQUIRED:
        without = {k: v for k, v in VARIABLES.items() if k != name}
        with pytest.raises(compose.MissingVariableError, match=name):
            compose.environment(bot, without)
        with pytest.raises(compose.MissingVariableError, match=name):
            compose.environment(bot, without | {name: ""})
    assert "every replica must share it" in str(bot["environment"]["PSEUDONYM_KEY"])


def test_bot_environment_names_are_real_settings() -> None:
    """Every variable compose sets for the bot is a ServeSettings field."""
    fields = {name.upper() for name in ServeSettings.model_fields}
    assert set(services()["bot"]["environment"]) <= fields


def test_bot_environment_passes_the_bots_own_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    """What compose hands the bot (with an .env holding BOT_TOKEN) is accepted by ServeSettings."""
    for name in ServeSettings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    env = compose.environment(services()["bot"], VARIABLES)
    for name, value in ({"BOT_TOKEN": VARIABLES["BOT_TOKEN"]} | env).items():
        monkeypatch.setenv(name, value)
    settings = ServeSettings(_env_file=None)
    assert settings.database_url == "postgresql://balansebot:0123abcd@db:5432/balansebot"
    assert str(settings.webhook_url) == "https://bot.example.org/telegram/webhook"
    assert settings.pseudonym_key is not None
    assert settings.pseudonym_key.get_secret_value() == VARIABLES["PSEUDONYM_KEY"]
    assert str(settings.port) == exposed_port()


def test_database_url_names_the_db_service_and_its_credentials() -> None:
    """The bot connects to the db service with the user, password and database it creates."""
    db_env = compose.environment(services()["db"], VARIABLES)
    url = compose.environment(services()["bot"], VARIABLES)["DATABASE_URL"]
    expected = f"postgresql://{db_env['POSTGRES_USER']}:{db_env['POSTGRES_PASSWORD']}@db:5432/"
    assert url == expected + db_env["POSTGRES_DB"]


def test_proxy_forwards_the_webhook_path_to_the_bot_port() -> None:
    """Caddy's settings come from the same variables as the bot's WEBHOOK_URL and EXPOSE."""
    proxy = services()["proxy"]
    bot_env = compose.environment(services()["bot"], VARIABLES | {"WEBHOOK_PATH": "/hook/x"})
    proxy_env = compose.environment(proxy, VARIABLES | {"WEBHOOK_PATH": "/hook/x"})
    assert bot_env["WEBHOOK_URL"] == f"https://{proxy_env['BOT_DOMAIN']}{proxy_env['WEBHOOK_PATH']}"
    assert proxy_env["BOT_SERVICE"] in services()
    assert proxy_env["BOT_PORT"] == bot_env["PORT"] == exposed_port()
    assert sorted(proxy["ports"]) == ["443:443", "80:80"], "Telegram posts to HTTPS on 443"
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]


def test_caddyfile_uses_exactly_the_variables_compose_gives_it() -> None:
    """Every {$VAR} in the Caddyfile is set for the proxy, and the webhook is the only public path."""
    text = CADDYFILE.read_text(encoding="utf-8")
    used = set(re.findall(r"\{\$(\w+)\}", text))
    assert used == set(services()["proxy"]["environment"])
    assert "handle {$WEBHOOK_PATH} {" in text
    assert "dynamic a {$BOT_SERVICE} {$BOT_PORT}" in text
    assert "respond 404" in text, "anything but the webhook (say /healthz) is not served publicly"


def test_images_are_pinned() -> None:
    """Every image has a version tag, so a restart cannot pull a different major version."""
    for name, service in services().items():
        if "build" in service:
            continue
        assert PINNED_IMAGE.match(service["image"]), f"{name}: {service['image']}"


def test_dialogues_override_mounts_where_the_image_reads_dialogues() -> None:
    """deploy/compose.dialogues.yaml mounts read-only over the image's DIALOGUES_DIR."""
    override = yaml.safe_load(DIALOGUES_OVERRIDE.read_text(encoding="utf-8"))
    (mount,) = override["services"]["bot"]["volumes"]
    source, target, mode = compose.interpolate(mount, {}).split(":")
    assert source == "./dialogues"
    assert compose.interpolate(mount, {"DIALOGUES_PATH": "/srv/dialogues"}).startswith("/srv/dialogues:")
    assert target == final_stage().environment({})["DIALOGUES_DIR"]
    assert mode == "ro"


def test_interpolation_follows_compose_rules() -> None:
    """The interpolation the tests above use: defaults, required values, $$ and empty values."""
    assert compose.interpolate("${A:-x}/${B-y}/$$C/$D", {"A": "", "B": ""}) == "x//$C/"
    assert compose.interpolate("${A?no}", {"A": ""}) == ""
    with pytest.raises(compose.MissingVariableError, match="A is missing a value: say why"):
        compose.interpolate("${A:?say why}", {"A": ""})


# --- docker compose itself (parses and validates; needs no engine) ---


def compose_cli() -> list[str]:
    """`docker compose` (the plugin) or a v2 `docker-compose`; skip with the reason when neither."""
    docker = shutil.which("docker")
    if docker is not None:
        plugin = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False
        )
        if plugin.returncode == 0:
            return [docker, "compose"]
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    standalone = shutil.which("docker-compose", path=search)
    if standalone is not None:
        version = subprocess.run(
            [standalone, "version"], capture_output=True, text=True, timeout=30, check=False
        )
        if "version v2" in version.stdout:
            return [standalone]
    pytest.skip(
        "Docker Compose v2 is not installed (neither the `docker compose` plugin nor a v2 "
        "`docker-compose` on PATH), so `compose config` cannot validate compose.yaml here"
    )


def project(tmp_path: Path, variables: dict[str, str]) -> Path:
    """A copy of the deployment files with an .env holding `variables`."""
    for name in ("compose.yaml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    lines = [f"{name}={value}" for name, value in variables.items()]
    (tmp_path / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def config(folder: Path, *files: str) -> subprocess.CompletedProcess[str]:
    """`compose config` in `folder`, with a clean environment so only the .env counts."""
    arguments = [item for name in ("compose.yaml", *files) for item in ("-f", name)]
    return subprocess.run(
        [*compose_cli(), *arguments, "config"],
        cwd=folder,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_config_accepts_the_file(tmp_path: Path) -> None:
    """docker compose validates compose.yaml and fills in the bot's settings as the tests expect."""
    result = config(project(tmp_path, VARIABLES))
    assert result.returncode == 0 and result.stdout, result.stderr
    rendered = yaml.safe_load(result.stdout)
    assert rendered["name"] == "balansebot"
    bot = rendered["services"]["bot"]
    assert bot["deploy"]["replicas"] == services()["bot"]["deploy"]["replicas"]
    ours = compose.environment(services()["bot"], VARIABLES)
    assert {k: v for k, v in bot["environment"].items() if k in ours} == ours
    assert bot["environment"]["BOT_TOKEN"] == VARIABLES["BOT_TOKEN"], "the rest comes from .env"


@pytest.mark.parametrize("missing", REQUIRED)
def test_compose_config_refuses_a_missing_shared_setting(tmp_path: Path, missing: str) -> None:
    """Without one of the required settings in .env, compose stops and names it."""
    result = config(project(tmp_path, {k: v for k, v in VARIABLES.items() if k != missing}))
    # Judged by output as well: some docker-compose wrappers drop the exit code.
    assert result.returncode != 0 or not result.stdout.strip()
    assert f"required variable {missing} is missing a value" in result.stderr


def test_compose_config_with_the_dialogues_override(tmp_path: Path) -> None:
    """The override adds a read-only bind mount of ./dialogues at /app/dialogues."""
    result = config(project(tmp_path, VARIABLES), "deploy/compose.dialogues.yaml")
    assert result.returncode == 0 and result.stdout, result.stderr
    volumes = yaml.safe_load(result.stdout)["services"]["bot"]["volumes"]
    (volume,) = [v for v in volumes if v["target"] == "/app/dialogues"]
    assert volume["type"] == "bind"
    assert volume["source"] == str(tmp_path / "dialogues")
    assert volume["target"] == "/app/dialogues"
    assert volume["read_only"] is True


def test_every_service_rotates_its_log_and_has_limits() -> None:
    """A chatty day cannot fill the disk, nor one service starve the others of memory."""
    for name, service in services().items():
        options = service["logging"]["options"]
        assert service["logging"]["driver"] == "json-file", name
        assert options["max-size"] and int(options["max-file"]) >= 2, name
        limits = service["deploy"]["resources"]["limits"]
        assert limits["memory"] and limits["cpus"], name


def test_the_last_good_scripts_outlive_a_restart() -> None:
    """KEPT_SCRIPTS_DIR is in the named volume the replicas share, not on a tmpfs."""
    bot = services()["bot"]
    kept = final_stage().environment({})["KEPT_SCRIPTS_DIR"]
    (volume,) = [v for v in bot["volumes"] if kept.startswith(v.split(":")[1] + "/")]
    assert volume.split(":")[0] in compose.load()["volumes"]
    assert not any(kept.startswith(t) for t in bot["tmpfs"])


def test_secrets_override_names_settings_the_bot_reads() -> None:
    """Each compose secret is mounted at /run/secrets/<name>, read as the ServeSettings field of that name."""
    override = yaml.safe_load((ROOT / "deploy" / "compose.secrets.yaml").read_text(encoding="utf-8"))
    names = override["services"]["bot"]["secrets"]
    assert set(names) == set(override["secrets"])
    assert all(name in ServeSettings.model_fields for name in names)
    assert Path("/run/secrets") == SECRETS_DIR
