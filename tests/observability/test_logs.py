"""The JSON log contract of observability/README.md, read from real ``bazaar web`` and
``bazaar worker`` processes.

One web process (gunicorn) and one worker consuming every queue run for the module, both with
``LOG_FORMAT=json`` and ``LOG_LEVEL=DEBUG`` so that every library line a leak could hide in is
written. A shopper registers, logs in (once with a wrong password), refreshes the token, fills a
cart and checks out; the checkout's payment task runs on the worker and enqueues the
confirmation email. The tests then read what both processes wrote.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pytest

from bazaar.catalog.tests.factories import ProductFactory
from tests.plugins.processes import ManagedProcess, free_port
from tests.plugins.services import (
    APP_DIR,
    DEFAULT_WORKER_QUEUES,
    TEST_SETTINGS_MODULE,
    WORKER_STARTUP_TIMEOUT,
    CeleryWorker,
    launcher_command,
)

pytestmark = pytest.mark.services

LOG_ENV = {
    "DJANGO_SETTINGS_MODULE": TEST_SETTINGS_MODULE,
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "DEBUG",
}
EVERY_LINE_FIELDS = {"timestamp", "level", "event", "logger"}
LEVELS = {"debug", "info", "warning", "error", "critical"}
PAYMENT_TASK = "payments.capture_order_payment"
EMAIL_TASK = "notifications.send_order_paid_email"
TASKS_DONE_DEADLINE_SECONDS = 60


@dataclass
class LoggingProcesses:
    web: ManagedProcess
    worker: CeleryWorker
    base_url: str


@pytest.fixture(scope="module")
def processes(services, psp, django_db_setup, tmp_path_factory) -> LoggingProcesses:
    """``bazaar web`` and ``bazaar worker`` writing JSON logs; started after ``psp`` so that
    both see its URL."""
    log_dir = tmp_path_factory.mktemp("logs")
    port = free_port()
    web = ManagedProcess(
        "web",
        [*launcher_command(), "web"],
        log_dir=log_dir,
        cwd=APP_DIR,
        env={
            **os.environ,
            **LOG_ENV,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_CONCURRENCY": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(log_dir / "web-metrics"),
        },
        ready_url=f"http://127.0.0.1:{port}/healthz",
    )
    worker = CeleryWorker(
        pool="logs",
        queues=DEFAULT_WORKER_QUEUES,
        concurrency=1,
        work_dir=services.new_worker_dir("logs"),
        log_dir=log_dir,
        env={**os.environ, **LOG_ENV},
    )
    web.start(60)
    try:
        worker.start(WORKER_STARTUP_TIMEOUT)
        yield LoggingProcesses(web=web, worker=worker, base_url=f"http://127.0.0.1:{port}")
    finally:
        worker.stop(30)
        web.stop(30)


def log_records(process: ManagedProcess) -> list[dict]:
    """Every line the process wrote so far, parsed; a line that is not a JSON object fails."""
    records = []
    for number, line in enumerate(process.output_of_last_run().splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"{process.name} line {number} is not JSON: {line!r}")
        assert isinstance(record, dict), f"{process.name} line {number} is not an object: {line!r}"
        records.append(record)
    return records


@dataclass
class Journey:
    """What the shopper did: the request ids it sent and the secrets it handled."""

    register_request_id: str
    login_request_id: str
    checkout_request_id: str
    user_id: int
    secrets: dict[str, str] = field(default_factory=dict)


def shop(base_url: str) -> Journey:
    product = ProductFactory(stock=5)
    tag = uuid.uuid4().hex[:12]
    journey = Journey(f"register-{tag}", f"login-{tag}", f"checkout-{tag}", user_id=0)
    email = f"logs-{tag}@bazaar.test"
    password = f"Pw-{uuid.uuid4().hex}"
    wrong_password = f"Wrong-{uuid.uuid4().hex}"
    with httpx.Client(base_url=base_url, timeout=10) as client:
        registered = client.post(
            "/api/v1/auth/register/",
            json={"email": email, "password": password},
            headers={"X-Request-ID": journey.register_request_id},
        )
        assert registered.status_code == 201, registered.text
        refused = client.post(
            "/api/v1/auth/token/", json={"email": email, "password": wrong_password}
        )
        assert refused.status_code == 401, refused.text
        tokens = client.post(
            "/api/v1/auth/token/",
            json={"email": email, "password": password},
            headers={"X-Request-ID": journey.login_request_id},
        )
        assert tokens.status_code == 200, tokens.text
        refreshed = client.post(
            "/api/v1/auth/token/refresh/", json={"refresh": tokens.json()["refresh"]}
        )
        assert refreshed.status_code == 200, refreshed.text
        client.headers["Authorization"] = f"Bearer {refreshed.json()['access']}"
        journey.user_id = client.get("/api/v1/auth/me/").json()["id"]
        added = client.post("/api/v1/cart/items/", json={"product": product.slug, "quantity": 1})
        assert added.status_code == 201, added.text
        order = client.post(
            "/api/v1/orders/",
            json={},
            headers={"Idempotency-Key": tag, "X-Request-ID": journey.checkout_request_id},
        )
        assert order.status_code == 201, order.text
    journey.secrets = {
        "password": password,
        "wrong password": wrong_password,
        "access token": tokens.json()["access"],
        "refresh token": tokens.json()["refresh"],
        "refreshed access token": refreshed.json()["access"],
    }
    return journey


def wait_for_both_tasks(worker: CeleryWorker, request_id: str) -> None:
    """Until the payment task and the email task it enqueued have succeeded on the worker."""
    deadline = time.monotonic() + TASKS_DONE_DEADLINE_SECONDS
    while True:
        succeeded = {
            record.get("task_id")
            for record in log_records(worker)
            if record["event"] == "task_succeeded" and record.get("request_id") == request_id
        }
        if len(succeeded) >= 2:
            return
        if time.monotonic() > deadline or not worker.running:
            pytest.fail(f"the checkout's tasks did not both succeed:\n{worker.log_tail()}")
        time.sleep(0.5)


@pytest.fixture
def journey(processes, transactional_db) -> Journey:
    """One shopper's visit, with the worker done with the tasks its checkout enqueued."""
    journey = shop(processes.base_url)
    wait_for_both_tasks(processes.worker, journey.checkout_request_id)
    return journey


def is_utc_iso8601(value: str) -> bool:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.utcoffset() == timedelta(0)


def test_every_line_is_json_with_the_documented_fields(processes, journey):
    """Both processes, from their first line on, write JSON objects with the common fields; the
    access line, the task lines and the enqueue lines carry theirs."""
    for process in (processes.web, processes.worker):
        for record in log_records(process):
            assert record.keys() >= EVERY_LINE_FIELDS, record
            assert record["level"] in LEVELS, record
            assert is_utc_iso8601(record["timestamp"]), record
            assert isinstance(record["event"], str) and isinstance(record["logger"], str), record

    web_records = log_records(processes.web)
    [checkout_access] = [
        r
        for r in web_records
        if r["event"] == "http_request" and r.get("request_id") == journey.checkout_request_id
    ]
    assert checkout_access["method"] == "POST"
    assert checkout_access["path"] == "/api/v1/orders/"
    assert checkout_access["status"] == 201
    assert checkout_access["user_id"] == journey.user_id
    assert isinstance(checkout_access["latency_ms"], float)
    assert isinstance(checkout_access["db_queries"], int) and checkout_access["db_queries"] > 0

    enqueued = [r for r in web_records if r["event"] == "task_enqueued"]
    assert enqueued
    assert all(
        isinstance(r["child_task_id"], str) and isinstance(r["child_task_name"], str)
        for r in enqueued
    )
    task_lines = [r for r in log_records(processes.worker) if r["event"] == "task_started"]
    assert task_lines
    assert all(isinstance(r["task_id"], str) for r in task_lines)


def test_a_request_and_the_tasks_it_enqueued_share_its_request_id(processes, journey):
    """The checkout enqueues the payment task, which enqueues the email: every line of both
    tasks carries the checkout's request id, so one filter shows the whole story."""
    request_id = journey.checkout_request_id
    [payment] = [
        r
        for r in log_records(processes.web)
        if r["event"] == "task_enqueued" and r.get("request_id") == request_id
    ]
    assert payment["child_task_name"] == PAYMENT_TASK
    worker_records = log_records(processes.worker)
    [email] = [
        r
        for r in worker_records
        if r["event"] == "task_enqueued" and r.get("task_id") == payment["child_task_id"]
    ]
    assert email["child_task_name"] == EMAIL_TASK

    for task_id in (payment["child_task_id"], email["child_task_id"]):
        lines = [r for r in worker_records if r.get("task_id") == task_id]
        assert {"task_started", "task_succeeded"} <= {r["event"] for r in lines}, task_id
        assert {r.get("request_id") for r in lines} == {request_id}, lines


def test_login_password_and_tokens_never_reach_a_log_line(processes, journey):
    """The password (right and wrong), the issued tokens and the refreshed token are in no
    line of the web process or the worker, although both logged the requests that held them."""
    web_output = processes.web.output_of_last_run()
    worker_output = processes.worker.output_of_last_run()
    login_lines = [
        r
        for r in log_records(processes.web)
        if r.get("request_id") == journey.login_request_id and r["event"] == "http_request"
    ]
    assert [(r["path"], r["status"]) for r in login_lines] == [("/api/v1/auth/token/", 200)]
    assert any(
        r.get("request_id") == journey.checkout_request_id for r in log_records(processes.worker)
    )

    for what, secret in journey.secrets.items():
        assert secret not in web_output, f"the {what} is in the web log"
        assert secret not in worker_output, f"the {what} is in the worker log"
