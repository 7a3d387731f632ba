"""GET /metrics and JSON logs of a real `balansebot serve` against the offline Bot API."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import shutil
import signal
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, run_balansebot
from tests.support.fake_bot_api import FakeBotApi
from tests.telegram.serving import Served, serving
from tests.telegram.test_leads import fill_in_form
from tests.telegram.test_serve import TYPED, assert_nothing_personal, walk_main_paths

pytestmark = pytest.mark.slow
TOKEN = "metrics-token_0123456789abcdef"
# walk_main_paths: /start, a button, /merket, /personvern, /hjelp, a typed question, a sticker, an edit.
WALK_KINDS = {"command": 4, "callback": 1, "text": 1, "other": 1, "edited": 1}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API."""
    async with FakeBotApi() as server:
        yield server


async def get_metrics(served: Served, authorization: str | None = None) -> tuple[int, str]:
    """GET /metrics: the status and the body."""
    headers = {} if authorization is None else {"Authorization": authorization}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{served.url}/metrics", headers=headers) as response,
    ):
        return response.status, await response.text()


def parse(text: str) -> Samples:
    """Every sample of the exposition, by name and labels (parsed as Prometheus would)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels` (0 when there are none)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


async def scrape_until(
    served: Served, check: Callable[[Samples], bool], *, authorization: str | None = None, within: float = 10
) -> Samples:
    """Scrape until `check` holds (counts are recorded when an update is done, after its reply)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        status, text = await get_metrics(served, authorization)
        assert status == 200, text
        samples = parse(text)
        if check(samples):
            return samples
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"metrics never satisfied the check:\n{text}")
        await asyncio.sleep(0.1)


def handled(samples: Samples) -> float:
    """Updates whose handling has finished."""
    return value(samples, "balansebot_update_handling_seconds_count")


async def test_a_webhook_conversation_is_counted_without_anyone_in_it(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    kari = fake.add_user("Kari", username="kari_test")
    async with serving(fake, tmp_path, webhook=True) as served:
        await walk_main_paths(fake, kari)
        total = sum(WALK_KINDS.values())
        samples = await scrape_until(served, lambda s: handled(s) == total)
        _, text = await get_metrics(served)
    for kind, count in WALK_KINDS.items():
        assert value(samples, "balansebot_updates_total", kind=kind) == count, kind
    assert value(samples, "balansebot_updates_total") == total
    assert value(samples, "balansebot_updates_total", kind="group") == 0
    assert value(samples, "balansebot_update_handling_seconds_bucket", le="10.0") == total
    assert value(samples, "balansebot_webhook_responses_total", status="200") == total
    assert value(samples, "balansebot_webhook_responses_total") == total
    assert value(samples, "balansebot_update_errors_total") == 0
    # Nothing tells what a person was shown, or when a counter first moved.
    assert not [name for name, labels in samples if "node" in dict(labels)]
    assert "_created" not in text
    sends = value(samples, "balansebot_bot_api_calls_total", method="sendMessage", outcome="ok")
    edits = value(samples, "balansebot_bot_api_calls_total", method="editMessageText", outcome="ok")
    assert sends == len(fake.ops_for("sendMessage"))
    assert sends + edits >= total
    assert value(samples, "balansebot_bot_api_calls_total", method="setWebhook", outcome="ok") == 1
    assert value(samples, "balansebot_bot_api_calls_total", outcome="network") == 0
    assert value(samples, "balansebot_bot_api_retries_total") == 0
    assert value(samples, "process_resident_memory_bytes") > 0
    assert value(samples, "python_info") == 1
    for secret in (str(kari.id), kari.first_name, "kari_test", TYPED, "endret", fake.token):
        assert secret not in text, secret
    assert_nothing_personal(served, kari)


async def test_bot_api_failures_show_in_error_and_retry_counts(fake: FakeBotApi, tmp_path: Path) -> None:
    kari = fake.add_user("Kari")
    ola = fake.add_user("Ola")
    async with serving(fake, tmp_path, webhook=True) as served:
        fake.rate_limit("sendMessage", retry_after=1)
        fake.send_command(kari, "telefon")
        await fake.wait_for_bot_messages(kari, 1, within=10)
        fake.server_error("sendMessage", 502)
        fake.send_command(kari, "merket")
        await fake.wait_for_bot_messages(kari, 2, within=10)
        fake.drop_connection("sendMessage")
        fake.send_command(kari, "hjelp")
        await fake.wait_for_bot_messages(kari, 3, within=10)
        samples = await scrape_until(served, lambda s: handled(s) == 3)

        # A blocked bot: the answer fails for good, so the update counts as failed but is acknowledged.
        fake.fail_chat(ola.id, 403, "Forbidden: bot was blocked by the user")
        fake.send_command(ola, "start")
        failed = await scrape_until(
            served, lambda s: value(s, "balansebot_webhook_responses_total", status="200") >= 4
        )

    def calls(s: Samples, outcome: str) -> float:
        return value(s, "balansebot_bot_api_calls_total", method="sendMessage", outcome=outcome)

    assert calls(samples, "429") == 1
    assert calls(samples, "5xx") == 1
    assert calls(samples, "network") == 1
    assert calls(samples, "ok") == 3
    assert value(samples, "balansebot_bot_api_retries_total", reason="flood") == 1
    assert value(samples, "balansebot_bot_api_retries_total", reason="network") == 2  # the 502, the drop
    assert value(samples, "balansebot_webhook_responses_total", status="200") == 3
    assert value(samples, "balansebot_update_errors_total") == 0

    assert calls(failed, "4xx") >= 1
    assert value(failed, "balansebot_update_errors_total") == 1
    assert value(failed, "balansebot_webhook_responses_total", status="503") == 0, "no redelivery loop"
    assert value(failed, "balansebot_bot_api_retries_total") == 3, "a 403 is not retried"


async def test_polling_serves_metrics_behind_its_token(fake: FakeBotApi, tmp_path: Path) -> None:
    kari = fake.add_user("Kari")
    async with serving(fake, tmp_path, webhook=False, METRICS_TOKEN=TOKEN) as served:
        fake.send_command(kari, "start")
        await fake.wait_for_bot_messages(kari, 1)
        for authorization in (None, "", "Bearer", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", TOKEN):
            status, body = await get_metrics(served, authorization)
            assert status == 401, authorization
            assert "balansebot" not in body and TOKEN not in body
        samples = await scrape_until(served, lambda s: handled(s) == 1, authorization=f"Bearer {TOKEN}")
        async with aiohttp.ClientSession() as session, session.get(f"{served.url}/healthz") as response:
            assert response.status == 200, "only /metrics wants the token"
    assert value(samples, "balansebot_updates_total", kind="command") == 1
    assert value(samples, "balansebot_bot_api_calls_total", method="getUpdates", outcome="ok") >= 1
    assert value(samples, "balansebot_webhook_responses_total") == 0, "no webhook when polling"
    assert TOKEN not in served.log_text()


def outside_address() -> str | None:
    """An address of this machine that is not loopback (the one its default route leaves by)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if ipaddress.ip_address(address).is_loopback else address


async def test_without_a_token_metrics_answer_this_machine_only(fake: FakeBotApi, tmp_path: Path) -> None:
    address = outside_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    async with serving(fake, tmp_path, webhook=False, HOST="0.0.0.0") as served:
        status, _ = await get_metrics(served)
        assert status == 200, "from loopback"
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://{address}:{served.port}/metrics") as response,
        ):
            assert response.status == 403, f"from {address}"
            assert "METRICS_TOKEN" in await response.text()
        samples = await scrape_until(
            served, lambda s: value(s, "balansebot_unauthorized_requests_total", endpoint="metrics") == 1
        )
    assert value(samples, "balansebot_unauthorized_requests_total", endpoint="webhook") == 0


def test_a_malformed_metrics_token_is_one_clear_line(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "BOT_TOKEN": "123456789:AAFakeTokenForOfflineTestsOnly_abcdefgh",
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "METRICS_TOKEN": "short secret",
    }
    result = run_balansebot("serve", cwd=ROOT, env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("balansebot: METRICS_TOKEN må være 16 til 256 tegn")
    assert "short secret" not in result.stderr


async def test_reloads_are_counted_by_outcome(fake: FakeBotApi, tmp_path: Path) -> None:
    dialogues = tmp_path / "dialogues"
    await asyncio.to_thread(shutil.copytree, ROOT / "dialogues", dialogues)
    env = {"DIALOGUES_DIR": str(dialogues), "WATCH_DIALOGUES": "false"}
    async with serving(fake, tmp_path, webhook=False, **env) as served:
        served.process.send_signal(signal.SIGHUP)
        await scrape_until(
            served, lambda s: value(s, "balansebot_script_reloads_total", outcome="unchanged") == 1
        )
        broken = "topic: om\nnodes:\n  - id: om\n    title: Om\n    text: <br>\n"
        (dialogues / "nb" / "om.yaml").write_text(broken, encoding="utf-8")
        served.process.send_signal(signal.SIGHUP)
        samples = await scrape_until(
            served, lambda s: value(s, "balansebot_script_reloads_total", outcome="refused") == 1
        )
    assert value(samples, "balansebot_script_reloads_total", outcome="reloaded") == 0


async def test_outbox_depth_counts_leads_not_yet_with_staff(fake: FakeBotApi, tmp_path: Path) -> None:
    staff = fake.add_group("Balansekunst – henvendelser")
    admin = fake.add_user("Siri")
    kari = fake.add_user("Kari")
    fake.set_bot_status(staff, "member", by=admin)
    fake.fail_chat(staff.id, 403, "Forbidden: bot is not a member of the group chat")
    env = {"STAFF_CHAT_ID": str(staff.id), "DELIVERY_INTERVAL_SECONDS": "0.2"}
    async with serving(fake, tmp_path, webhook=False, **env) as served:
        before = await scrape_until(served, lambda s: ("balansebot_outbox_depth", _channel()) in s)
        assert before[("balansebot_outbox_depth", _channel())] == 0
        await fill_in_form(fake, kari)
        await scrape_until(served, lambda s: s.get(("balansebot_outbox_depth", _channel())) == 1)
        # Staff's chat refuses the lead (403): it stays in the outbox, and the depth says so.
        refused = await scrape_until(
            served,
            lambda s: value(s, "balansebot_bot_api_calls_total", method="sendMessage", outcome="4xx") == 1,
        )
        _, text = await get_metrics(served)
    assert refused[("balansebot_outbox_depth", _channel())] == 1
    assert [op.error_code for op in fake.ops if op.chat_id == staff.id] == [403]
    for secret in ("Kulturhuset", "Kari Ærlig", "kari@kulturhuset.no", str(kari.id), str(staff.id)):
        assert secret not in text, secret


def _channel() -> frozenset[tuple[str, str]]:
    return frozenset({("channel", "telegram")})


async def test_json_logs_are_one_json_object_per_line(fake: FakeBotApi, tmp_path: Path) -> None:
    kari = fake.add_user("Kari", username="kari_test")
    ola = fake.add_user("Ola")
    async with serving(fake, tmp_path, webhook=False, JSON_LOGS="true") as served:
        await walk_main_paths(fake, kari)
        fake.fail_chat(ola.id, 403, "Forbidden: bot was blocked by the user")
        fake.send_command(ola, "start")
        await scrape_until(served, lambda s: value(s, "balansebot_update_errors_total") == 1)
    lines = served.log_text().splitlines()
    assert len(lines) > 3
    entries = [json.loads(line) for line in lines]  # each line parses, or this fails naming it
    for entry in entries:
        assert isinstance(entry, dict)
        assert {"timestamp", "level", "logger", "message"} <= entry.keys(), entry
        assert entry["timestamp"].endswith("+00:00")
    assert any(e["message"].startswith("ready: scripts") for e in entries)
    failure = next(e for e in entries if e["message"].startswith("an update could not be answered"))
    assert failure["level"] == "WARNING"  # refused for good (a 403): not retried, not an error of the bot
    # Telegram's description as a code and its known start, without a traceback (which would quote
    # the description whole, line breaks and all).
    assert failure["message"].endswith("(403 Forbidden: bot was blocked by the user)")
    assert "exception" not in failure
    assert_nothing_personal(served, kari)
    assert str(ola.id) not in served.log_text()
