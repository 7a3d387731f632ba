"""`python -m bot.healthcheck`: exit 0 when this container's bot answers GET /healthz with 200, else 1.

The Docker HEALTHCHECK runs it. Slim images have no curl, so it uses only the standard library, and
it imports nothing else from `bot` so it stays fast and cannot fail on a settings problem.
"""

from __future__ import annotations

import http.client
import os
import sys
from collections.abc import Mapping

HEALTH_PATH = "/healthz"
DEFAULT_PORT = 8080  # ServeSettings.port's default; a test keeps the two equal
TIMEOUT_SECONDS = 3.0  # under the HEALTHCHECK's --timeout, above /healthz's own 2 s database check
# A server listening on every interface is reached over loopback; any other HOST is asked directly.
WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 - mapped, not bound


def target(environ: Mapping[str, str]) -> tuple[str, int]:
    """The host and port `balansebot serve` listens on, from the same HOST and PORT variables."""
    host = environ.get("HOST", "").strip()
    port_text = environ.get("PORT", "").strip()
    port = int(port_text) if port_text else DEFAULT_PORT
    return WILDCARD_HOSTS.get(host, host), port


def probe(host: str, port: int, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """None when GET /healthz answers 200 in time; otherwise why not, in a few words."""
    # http.client rather than urllib: urllib would honour HTTP_PROXY and ask a proxy about loopback.
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", HEALTH_PATH, headers={"Connection": "close"})
        response = connection.getresponse()
        response.read()
    except TimeoutError:
        return f"no answer from {host}:{port} within {timeout:g} s"
    except (OSError, http.client.HTTPException) as error:
        return f"cannot reach {host}:{port} ({type(error).__name__})"
    finally:
        connection.close()
    if response.status != 200:
        return f"{HEALTH_PATH} answered {response.status}"
    return None


def main(environ: Mapping[str, str] | None = None) -> int:
    """Probe the local server once; print the reason on failure (Docker keeps it with the status)."""
    try:
        host, port = target(os.environ if environ is None else environ)
    except ValueError:
        print("unhealthy: PORT is not a number", file=sys.stderr)
        return 1
    problem = probe(host, port)
    if problem is not None:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
