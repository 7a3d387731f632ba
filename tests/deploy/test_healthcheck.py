"""`python -m bot.healthcheck`, the image's HEALTHCHECK: 0 only for a 200 from /healthz, in time."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot import healthcheck
from tests.conftest import ROOT
from tests.telegram.serving import free_port


async def run_module(**env: str) -> tuple[int, str]:
    """Run the module as Docker would (its own process) and return the exit code and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.healthcheck",
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert out == b"", "nothing on stdout"
    assert process.returncode is not None
    return process.returncode, err.decode()


@pytest.fixture
async def answering() -> AsyncIterator[tuple[int, dict[str, int]]]:
    """A real HTTP server on loopback whose /healthz status the test sets; also counts requests."""
    state = {"status": 200, "requests": 0}

    async def health(_request: web.Request) -> web.Response:
        state["requests"] += 1
        return web.json_response({"status": "x"}, status=state["status"])

    app = web.Application()
    app.router.add_get("/healthz", health)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port, state
    finally:
        await runner.cleanup()


async def test_exits_0_when_healthz_answers_200(answering: tuple[int, dict[str, int]]) -> None:
    """The healthy case, with HOST as the container sets it (all interfaces)."""
    port, state = answering
    code, err = await run_module(PORT=str(port), HOST="0.0.0.0")
    assert (code, err) == (0, "")
    assert state["requests"] == 1


async def test_exits_1_when_healthz_answers_503(answering: tuple[int, dict[str, int]]) -> None:
    """Serve says 503 while its database is unreachable or it is stopping."""
    port, state = answering
    state["status"] = 503
    code, err = await run_module(PORT=str(port))
    assert code == 1
    assert "/healthz answered 503" in err


async def test_exits_1_when_nothing_listens() -> None:
    """No server on the port: unhealthy at once, with the reason."""
    code, err = await run_module(PORT=str(free_port()))
    assert code == 1
    assert "cannot reach 127.0.0.1" in err


async def test_exits_1_on_a_port_that_is_not_a_number() -> None:
    """A broken PORT is a failed check, not a traceback."""
    code, err = await run_module(PORT="eighty")
    assert code == 1
    assert err.strip() == "unhealthy: PORT is not a number"


async def test_a_proxy_in_the_environment_is_not_asked(answering: tuple[int, dict[str, int]]) -> None:
    """HTTP_PROXY (set for outgoing calls in some deployments) must not divert the loopback check."""
    port, state = answering
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    code, _ = await run_module(PORT=str(port), HTTP_PROXY=dead_proxy, http_proxy=dead_proxy)
    assert code == 0
    assert state["requests"] == 1


async def test_gives_up_when_the_server_does_not_answer_in_time() -> None:
    """A server that accepts but never answers (hung) fails the check after the timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the backlog; nobody ever reads or writes
        port = silent.getsockname()[1]
        loop = asyncio.get_running_loop()
        started = loop.time()
        problem = await asyncio.to_thread(healthcheck.probe, "127.0.0.1", port, 0.3)
        elapsed = loop.time() - started
    assert problem == f"no answer from 127.0.0.1:{port} within 0.3 s"
    assert 0.3 <= elapsed < 3


def test_target_follows_host_and_port() -> None:
    """Wildcard HOSTs are reached over loopback; a specific HOST is asked directly; PORT defaults."""
    assert healthcheck.target({}) == ("127.0.0.1", 8080)
    assert healthcheck.target({"HOST": "0.0.0.0", "PORT": "9000"}) == ("127.0.0.1", 9000)
    assert healthcheck.target({"HOST": "::", "PORT": " 81 "}) == ("::1", 81)
    assert healthcheck.target({"HOST": "127.0.0.2", "PORT": ""}) == ("127.0.0.2", 8080)
    with pytest.raises(ValueError, match="invalid literal"):
        healthcheck.target({"PORT": "x"})


async def test_asks_a_specific_host_directly(answering: tuple[int, dict[str, int]]) -> None:
    """With HOST=127.0.0.1 the same server is found (the module reads HOST as serve does)."""
    port, state = answering
    assert await asyncio.to_thread(healthcheck.main, {"HOST": "127.0.0.1", "PORT": str(port)}) == 0
    state["status"] = 500
    assert await asyncio.to_thread(healthcheck.main, {"HOST": "127.0.0.1", "PORT": str(port)}) == 1
