"""The payment-provider simulator, served for real by uvicorn and driven over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil
import pytest

from bazaar.payments.gateways import InvalidWebhookSignature, signatures
from bazaar.payments.simulator.app import LatencyRange, SimulatorSettings
from bazaar.payments.simulator.testing import bind_free_port, running_simulator

API_KEY = "sk_test_simulator"
WEBHOOK_SECRET = "whsec_simulator_tests"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
CHARGE = {"amount": "12.50", "currency": "EUR", "reference": "order-1"}
APP_DIR = Path(__file__).resolve().parents[3]
WAIT_SECONDS = 10.0


@pytest.fixture(scope="module")
def simulator_url() -> Iterator[str]:
    settings = SimulatorSettings(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET, seed=7)
    with running_simulator(settings) as url:
        yield url


@pytest.fixture
def client(simulator_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=simulator_url, timeout=WAIT_SECONDS) as http:
        http.post("/_sim/reset").raise_for_status()
        yield http


def configure(client: httpx.Client, **changes: object) -> None:
    client.post("/_sim/config", json=changes).raise_for_status()


def create_charge(
    client: httpx.Client, key: str, body: dict | None = None, **kwargs: object
) -> httpx.Response:
    headers = {**AUTH, "Idempotency-Key": key}
    return client.post(
        "/v1/charges", json=CHARGE if body is None else body, headers=headers, **kwargs
    )


def sim_charges(client: httpx.Client) -> dict:
    return client.get("/_sim/charges").json()


class WebhookReceiver:
    """A local HTTP endpoint that records every webhook and answers with scripted statuses."""

    def __init__(self, statuses: list[int]):
        self.requests: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        self.statuses = statuses
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.put((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        sock = bind_free_port()
        self.port = sock.getsockname()[1]
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler, False)
        self.server.socket.close()
        self.server.socket = sock
        self.url = f"http://127.0.0.1:{self.port}/webhook"

    def next_request(self) -> tuple[dict[str, str], bytes]:
        return self.requests.get(timeout=WAIT_SECONDS)


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(statuses=[])
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def test_healthz_answers_without_auth(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "authorization", [None, "Bearer sk_wrong", f"Basic {API_KEY}", API_KEY], ids=str
)
def test_charges_require_the_bearer_api_key(client, authorization):
    headers = {"Idempotency-Key": "auth"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = client.post("/v1/charges", json=CHARGE, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"
    assert (
        client.get("/v1/charges", headers={"Authorization": "Bearer sk_wrong"}).status_code == 401
    )
    assert sim_charges(client)["count"] == 0


def test_charge_without_idempotency_key_is_a_400(client):
    response = client.post("/v1/charges", json=CHARGE, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_required"
    assert sim_charges(client)["count"] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 12.5}, "amount"),
        ({"amount": "-1.00"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "1.005"}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"currency": "eur"}, "currency"),
        ({"currency": None}, "currency"),
        ({"reference": ""}, "reference"),
        ({"metadata": {"cart": 3}}, "metadata"),
        ({"coupon": "FREE"}, "coupon"),
    ],
    ids=lambda value: json.dumps(value) if isinstance(value, dict) else value,
)
def test_invalid_charge_body_is_a_422_naming_the_field(client, change, field):
    response = create_charge(client, "invalid", {**CHARGE, **change})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]
    assert sim_charges(client)["count"] == 0


def test_unparsable_json_body_is_a_400(client):
    headers = {**AUTH, "Idempotency-Key": "json", "Content-Type": "application/json"}
    response = client.post("/v1/charges", content=b"{not json", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_successful_charge_is_recorded_and_retrievable(client):
    response = create_charge(client, "ok", {**CHARGE, "amount": "12.5", "metadata": {"a": "b"}})
    assert response.status_code == 201
    charge = response.json()
    assert charge["id"].startswith("ch_")
    assert charge["status"] == "succeeded"
    assert charge["amount"] == "12.50"
    assert (charge["currency"], charge["reference"]) == ("EUR", "order-1")
    assert charge["failure_code"] is None
    assert isinstance(charge["created"], int)
    assert "Idempotent-Replayed" not in response.headers

    assert client.get(f"/v1/charges/{charge['id']}", headers=AUTH).json() == charge
    assert client.get("/v1/charges/ch_missing", headers=AUTH).status_code == 404
    listed = client.get("/v1/charges", params={"reference": "order-1"}, headers=AUTH).json()
    assert listed["data"] == [charge]
    other = client.get("/v1/charges", params={"reference": "order-2"}, headers=AUTH).json()
    assert other["data"] == []


def test_same_key_and_body_replays_the_stored_response(client):
    first = create_charge(client, "replay")
    second = create_charge(client, "replay")
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    state = sim_charges(client)
    assert state["count"] == 1
    assert state["idempotency_keys"]["replay"]["attempts"] == 2


def test_same_key_with_another_body_is_a_422(client):
    first = create_charge(client, "reused")
    response = create_charge(client, "reused", {**CHARGE, "amount": "99.00"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert [charge["id"] for charge in sim_charges(client)["charges"]] == [first.json()["id"]]


def test_concurrent_requests_with_one_key_make_one_charge(client):
    # The latency keeps the first request inside the provider while the others arrive.
    configure(client, latency_ms="50")
    start = threading.Barrier(20)

    def attempt(_: int) -> httpx.Response:
        start.wait()
        return create_charge(client, "concurrent")

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(attempt, range(20)))

    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == 19
    state = sim_charges(client)
    assert state["count"] == 1
    assert state["idempotency_keys"]["concurrent"]["attempts"] == 20


def test_declined_card_is_a_402_with_a_failed_charge_recorded(client):
    configure(client, decline_rate=1)
    response = create_charge(client, "decline")
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "card_declined"
    charge = error["details"]["charge"]
    assert (charge["status"], charge["failure_code"]) == ("failed", "card_declined")
    assert client.get(f"/v1/charges/{charge['id']}", headers=AUTH).json() == charge

    configure(client, decline_rate=0)
    replay = create_charge(client, "decline")
    assert replay.status_code == 402
    assert replay.headers["Idempotent-Replayed"] == "true"


def test_transient_failure_records_nothing_and_a_retry_can_succeed(client):
    configure(client, failure_rate=1)
    failed = create_charge(client, "flaky")
    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "1"
    assert failed.json()["error"]["code"] == "service_unavailable"
    assert sim_charges(client)["count"] == 0

    configure(client, failure_rate=0)
    retried = create_charge(client, "flaky")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    state = sim_charges(client)
    assert state["count"] == 1
    assert state["idempotency_keys"]["flaky"] == {
        "attempts": 2,
        "status_code": 201,
        "charge_id": retried.json()["id"],
    }


def test_configured_latency_delays_the_answer_but_not_the_charge(client):
    configure(client, latency_ms="400-500")
    assert client.get("/_sim/config").json()["latency_ms"] == "400-500"
    with pytest.raises(httpx.ReadTimeout):
        create_charge(client, "slow", timeout=httpx.Timeout(WAIT_SECONDS, read=0.1))

    # Like a real provider, the work goes on after the client gave up; the retry replays it.
    configure(client, latency_ms=0)
    retried = create_charge(client, "slow")
    assert retried.status_code == 201
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert sim_charges(client)["count"] == 1


@pytest.mark.parametrize(
    "change",
    [
        {"failure_rate": 1.5},
        {"decline_rate": "half"},
        {"latency_ms": "200-100"},
        {"latency_ms": "fast"},
        {"webhook_url": 3},
        {"api_key": "sk_other"},
    ],
    ids=json.dumps,
)
def test_invalid_runtime_config_is_refused(client, change):
    before = client.get("/_sim/config").json()
    response = client.post("/_sim/config", json=change)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_config"
    assert client.get("/_sim/config").json() == before


def test_reset_forgets_charges_and_restores_startup_config(client):
    configure(client, decline_rate=1, latency_ms="5")
    create_charge(client, "before-reset")
    reset = client.post("/_sim/reset").json()
    assert reset == {
        "latency_ms": "0",
        "failure_rate": 0.0,
        "decline_rate": 0.0,
        "webhook_url": None,
        "seed": 7,
    }
    assert sim_charges(client) == {"count": 0, "charges": [], "idempotency_keys": {}}
    assert create_charge(client, "before-reset").status_code == 201


@pytest.mark.parametrize(
    ("text", "expected"),
    [("50", LatencyRange(50, 50)), ("20-200", LatencyRange(20, 200)), (0, LatencyRange(0, 0))],
)
def test_latency_range_parses_fixed_and_ranged_values(text, expected):
    assert LatencyRange.parse(text) == expected


@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_each_recorded_charge_is_sent_as_a_signed_webhook(client, webhook_receiver, status):
    configure(client, webhook_url=webhook_receiver.url, decline_rate=int(status == "failed"))
    response = create_charge(client, f"hook-{status}")
    recorded = response.json() if status == "succeeded" else response.json()["error"]["details"]

    headers, body = webhook_receiver.next_request()
    signatures.verify(body, headers[signatures.SIGNATURE_HEADER], WEBHOOK_SECRET)
    event = json.loads(body)
    assert event["id"].startswith("evt_")
    assert event["type"] == f"charge.{status}"
    charge = event["data"]["object"]
    assert charge == recorded.get("charge", recorded)
    assert charge["status"] == status


def test_replays_and_transient_failures_send_no_webhook(client, webhook_receiver):
    configure(client, webhook_url=webhook_receiver.url, failure_rate=1)
    create_charge(client, "quiet")
    configure(client, failure_rate=0)
    create_charge(client, "quiet")
    create_charge(client, "quiet")
    create_charge(client, "marker")

    references = []
    for _ in range(2):
        _, body = webhook_receiver.next_request()
        references.append(json.loads(body)["data"]["object"]["id"])
    state = sim_charges(client)["idempotency_keys"]
    assert sorted(references) == sorted([state["quiet"]["charge_id"], state["marker"]["charge_id"]])
    assert len(client.get("/_sim/webhooks").json()["deliveries"]) == 2


def test_failed_webhook_delivery_is_retried_with_a_fresh_signature(client, webhook_receiver):
    webhook_receiver.statuses[:] = [500]
    configure(client, webhook_url=webhook_receiver.url)
    create_charge(client, "retry-hook")

    first_headers, first_body = webhook_receiver.next_request()
    second_headers, second_body = webhook_receiver.next_request()
    assert first_body == second_body
    for headers in (first_headers, second_headers):
        signatures.verify(second_body, headers[signatures.SIGNATURE_HEADER], WEBHOOK_SECRET)

    deadline = time.monotonic() + WAIT_SECONDS
    while not (deliveries := client.get("/_sim/webhooks").json()["deliveries"])[0]["delivered"]:
        assert time.monotonic() < deadline, deliveries
        time.sleep(0.02)
    assert deliveries[0]["attempts"] == 2
    assert deliveries[0]["last_status"] == 200


PAYLOAD = b'{"id": "evt_1", "type": "charge.succeeded"}'
SIGNED_AT = 1_700_000_000


def test_verify_accepts_its_own_signature_and_returns_the_timestamp():
    header = signatures.sign(PAYLOAD, WEBHOOK_SECRET, SIGNED_AT)
    assert signatures.verify(PAYLOAD, header, WEBHOOK_SECRET, now=SIGNED_AT + 299) == SIGNED_AT


def test_verify_accepts_any_matching_signature_during_secret_rotation():
    old = signatures.sign(PAYLOAD, "whsec_old", SIGNED_AT).split(",")[1]
    header = f"{signatures.sign(PAYLOAD, WEBHOOK_SECRET, SIGNED_AT)},{old}"
    assert signatures.verify(PAYLOAD, header, "whsec_old", now=SIGNED_AT) == SIGNED_AT


@pytest.mark.parametrize(
    ("payload", "header", "now"),
    [
        pytest.param(
            PAYLOAD, signatures.sign(PAYLOAD, "whsec_forged", SIGNED_AT), SIGNED_AT, id="forged"
        ),
        pytest.param(
            PAYLOAD.replace(b"succeeded", b"failed"),
            signatures.sign(PAYLOAD, WEBHOOK_SECRET, SIGNED_AT),
            SIGNED_AT,
            id="tampered",
        ),
        pytest.param(
            PAYLOAD,
            signatures.sign(PAYLOAD, WEBHOOK_SECRET, SIGNED_AT),
            SIGNED_AT + 301,
            id="too-old",
        ),
        pytest.param(
            PAYLOAD,
            signatures.sign(PAYLOAD, WEBHOOK_SECRET, SIGNED_AT),
            SIGNED_AT - 301,
            id="from-the-future",
        ),
        pytest.param(
            PAYLOAD,
            signatures.sign(PAYLOAD, WEBHOOK_SECRET, SIGNED_AT + 1).replace(
                f"t={SIGNED_AT + 1}", f"t={SIGNED_AT}"
            ),
            SIGNED_AT,
            id="timestamp-swapped",
        ),
        pytest.param(PAYLOAD, f"t={SIGNED_AT}", SIGNED_AT, id="no-signature"),
        pytest.param(PAYLOAD, "v1=" + "0" * 64, SIGNED_AT, id="no-timestamp"),
        pytest.param(PAYLOAD, "t=yesterday,v1=00", SIGNED_AT, id="bad-timestamp"),
        pytest.param(PAYLOAD, f"t={SIGNED_AT},v1=ü", SIGNED_AT, id="non-ascii"),
        pytest.param(PAYLOAD, "", SIGNED_AT, id="empty"),
    ],
)
def test_verify_rejects_bad_signatures(payload, header, now):
    with pytest.raises(InvalidWebhookSignature):
        signatures.verify(payload, header, WEBHOOK_SECRET, now=now)


def listening_ports(process: subprocess.Popen) -> set[int]:
    try:
        connections = psutil.Process(process.pid).net_connections(kind="tcp")
    except psutil.NoSuchProcess:
        return set()
    return {conn.laddr.port for conn in connections if conn.status == psutil.CONN_LISTEN}


@contextlib.contextmanager
def simulator_process(environment: dict[str, str]) -> Iterator[str]:
    """Run `python -m bazaar.payments.simulator` on a free port; yields its base URL.

    The port is free when probed but may be taken before the child binds it (parallel test
    workers probe the same range), so a child that exits instead of listening is started again
    on another port. Listening is checked on the child itself, never through a port that
    another server could be answering on.
    """
    for _ in range(5):
        sock = bind_free_port()
        port = sock.getsockname()[1]
        sock.close()
        env = {**os.environ, **environment, "PYTHONPATH": str(APP_DIR), "PORT": str(port)}
        process = subprocess.Popen([sys.executable, "-m", "bazaar.payments.simulator"], env=env)
        try:
            deadline = time.monotonic() + WAIT_SECONDS
            while port not in listening_ports(process):
                if process.poll() is not None:
                    break
                assert time.monotonic() < deadline, "the simulator did not start listening"
                time.sleep(0.05)
            else:
                yield f"http://127.0.0.1:{port}"
                return
        finally:
            process.terminate()
            process.wait(timeout=WAIT_SECONDS)
    pytest.fail("the simulator could not bind a free port")


def test_module_entry_point_reads_its_environment():
    """`python -m bazaar.payments.simulator` is what the `psp-simulator` launcher role runs."""
    environment = {"PSP_API_KEY": "sk_from_env", "PSP_DECLINE_RATE": "1", "LOG_LEVEL": "WARNING"}
    with simulator_process(environment) as url:
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
        headers = {"Authorization": "Bearer sk_from_env", "Idempotency-Key": "env"}
        response = httpx.post(f"{url}/v1/charges", json=CHARGE, headers=headers)
        assert response.status_code == 402
        assert httpx.get(f"{url}/_sim/config").json()["decline_rate"] == 1.0


def test_module_entry_point_refuses_invalid_environment():
    env = {**os.environ, "PYTHONPATH": str(APP_DIR), "PSP_FAILURE_RATE": "2", "PORT": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "bazaar.payments.simulator"],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )
    assert result.returncode == 1
    assert "failure_rate must be between 0 and 1" in result.stderr
