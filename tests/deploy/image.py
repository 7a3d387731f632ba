"""Start a process as the image would: the Dockerfile's ENTRYPOINT, CMD, ENV and HEALTHCHECK, outside Docker.

No Docker engine runs here, so the image is never built. Container paths in the image's ENV are mapped
to this checkout: /app → the repo, /app/.venv → this virtualenv, /data → a temporary folder.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import ROOT
from tests.deploy.dockerfile import env_pairs, exec_form, final_stage, healthcheck_of, localize
from tests.support.fake_bot_api import FakeBotApi
from tests.telegram.serving import WEBHOOK_SECRET

READY_WITHIN = 30.0
DOCKER_STOP_TIMEOUT = 10.0  # docker stop's default, and compose.yaml's stop_grace_period


@dataclass
class Container:
    """One process started as the image would start it."""

    process: asyncio.subprocess.Process
    env: dict[str, str]
    workdir: Path
    log: Path

    @property
    def url(self) -> str:
        """Its HTTP server."""
        return f"http://127.0.0.1:{self.env['PORT']}"

    def log_text(self) -> str:
        """What it printed so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")


def image_environment(data: Path) -> dict[str, str]:
    """The final stage's ENV, applied in order over this machine's PATH, container paths mapped.

    /run/secrets (where Docker mounts secrets) becomes a `secrets` folder beside `data`, holding a
    pseudonym key as the operator would mount it.
    """
    secrets_folder = data.parent / "secrets"
    secrets_folder.mkdir(mode=0o700, exist_ok=True)
    key_file = secrets_folder / "pseudonym_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32) + "\n", encoding="utf-8")
        key_file.chmod(0o600)
    paths = {"/app/.venv": Path(sys.prefix), "/app": ROOT, "/data": data, "/run/secrets": secrets_folder}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for instruction in final_stage().all("ENV"):
        env.update(env_pairs(localize(instruction.arguments, paths), env))
    return env


def image_command(env: Mapping[str, str]) -> list[str]:
    """ENTRYPOINT + CMD, the executable found on the image's PATH (this venv's console script)."""
    stage = final_stage()
    argv = exec_form(stage.last("ENTRYPOINT").arguments) + exec_form(stage.last("CMD").arguments)
    found = shutil.which(argv[0], path=env["PATH"])
    assert found is not None, f"{argv[0]} is not on the image's PATH"
    assert Path(found).parent == Path(sys.prefix) / "bin", "the venv comes first on PATH, as in the image"
    return [found, *argv[1:]]


@asynccontextmanager
async def container(env: dict[str, str], folder: Path) -> AsyncIterator[Container]:
    """Start ENTRYPOINT + CMD; SIGKILL it afterwards if a test left it running."""
    # The image's /app holds no .env, so run from an empty folder: a developer's .env must not count.
    workdir = folder / "workdir"
    workdir.mkdir(parents=True)
    log = folder / "container.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            *image_command(env), cwd=workdir, env=env, stdout=sink, stderr=sink
        )
    started = Container(process, env, workdir, log)
    try:
        yield started
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def wait_healthy(started: Container) -> None:
    """Poll /healthz until 200, failing with the log if the process exits or takes too long."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_WITHIN
    async with aiohttp.ClientSession() as session:
        while loop.time() < deadline:
            if started.process.returncode is not None:
                pytest.fail(f"exited with {started.process.returncode}:\n{started.log_text()}")
            try:
                async with session.get(f"{started.url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"/healthz did not answer 200 within {READY_WITHIN:g} s:\n{started.log_text()}")


async def run_healthcheck(started: Container) -> int:
    """The Dockerfile's HEALTHCHECK command, in the container's environment and folder."""
    _, command = healthcheck_of(final_stage())
    process = await asyncio.create_subprocess_exec(
        *command, cwd=started.workdir, env=started.env, stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(process.wait(), 30)


async def stop(started: Container) -> tuple[int, float]:
    """Send the Dockerfile's STOPSIGNAL and wait as `docker stop` would; the exit code and seconds."""
    stop_signal = signal.Signals[final_stage().last("STOPSIGNAL").arguments]
    loop = asyncio.get_running_loop()
    began = loop.time()
    started.process.send_signal(stop_signal)
    try:
        code = await asyncio.wait_for(started.process.wait(), DOCKER_STOP_TIMEOUT)
    except TimeoutError:
        pytest.fail(
            f"still running {DOCKER_STOP_TIMEOUT:g} s after {stop_signal.name}:\n{started.log_text()}"
        )
    return code, loop.time() - began


def deployment(fake: FakeBotApi, port: int, webhook_url: str) -> dict[str, str]:
    """What the operator sets (.env or compose), pointed at the offline Bot API and loopback."""
    return {
        "BOT_TOKEN": fake.token,
        "BOT_API_URL": fake.base_url,
        "HOST": "127.0.0.1",  # the image listens on all interfaces; a test keeps to loopback
        "PORT": str(port),
        "WEBHOOK_URL": webhook_url,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
