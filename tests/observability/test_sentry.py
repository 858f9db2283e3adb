"""Errors and transactions reach Sentry through the SDK's real HTTP transport.

A local HTTP server stands in for Sentry (``SENTRY_DSN=http://key@127.0.0.1:PORT/1``) and keeps
every envelope it is sent. A ``bazaar web`` and a ``bazaar worker`` run with the test-only app
``tests/observability/sentry_app`` (a view and a task that fail on purpose) and trace every
transaction they may.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import brotli
import httpx
import pytest

from tests.observability.queries import REPO_ROOT
from tests.observability.sentry_app.tasks import FAILING_TASK
from tests.plugins.processes import ManagedProcess, free_port
from tests.plugins.services import APP_DIR, WORKER_STARTUP_TIMEOUT, launcher_command

pytestmark = pytest.mark.services

SENTRY_PROJECT = "1"
EVENT_DEADLINE_SECONDS = 30
UNTRACED_PATHS = ("/healthz", "/readyz", "/metrics")


@dataclass(frozen=True)
class EnvelopeItem:
    type: str
    payload: dict


def parse_envelope(body: bytes) -> list[EnvelopeItem]:
    """Sentry's envelope format: a header line, then per item a header line and its payload
    (``length`` bytes when the header gives it, else up to the next newline)."""
    _, _, rest = body.partition(b"\n")
    items = []
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        header = json.loads(header_line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] + 1 :]
        else:
            payload, _, rest = rest.partition(b"\n")
        if header.get("type") in {"event", "transaction"}:
            items.append(EnvelopeItem(header["type"], json.loads(payload)))
    return items


class FakeSentry:
    """Accepts envelopes at ``/api/<project>/envelope/`` and keeps their events."""

    def __init__(self) -> None:
        self.items: list[EnvelopeItem] = []
        self.lock = threading.Lock()
        self.port = free_port()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                encoding = self.headers.get("Content-Encoding")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "br":
                    body = brotli.decompress(body)
                if self.path == f"/api/{SENTRY_PROJECT}/envelope/":
                    with fake.lock:
                        fake.items.extend(parse_envelope(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args) -> None:
                """Quiet: the test reads the envelopes, not the access log."""

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://key@127.0.0.1:{self.port}/{SENTRY_PROJECT}"

    def wait_for(self, predicate: Callable[[EnvelopeItem], bool], what: str) -> EnvelopeItem:
        deadline = time.monotonic() + EVENT_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            with self.lock:
                found = next((item for item in self.items if predicate(item)), None)
            if found is not None:
                return found
            time.sleep(0.2)
        pytest.fail(f"Sentry never received {what}; it received {len(self.items)} items")

    def received(self) -> list[EnvelopeItem]:
        with self.lock:
            return list(self.items)


@pytest.fixture(scope="module")
def sentry() -> Iterator[FakeSentry]:
    fake = FakeSentry()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture(scope="module")
def sentry_env(sentry, services, tmp_path_factory) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.observability.sentry_app.settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "SENTRY_DSN": sentry.dsn,
        "SENTRY_ENVIRONMENT": "test",
        "SENTRY_TRACES_SAMPLE_RATE": "1.0",
        "LOG_FORMAT": "json",
    }


@pytest.fixture(scope="module")
def web(sentry_env, django_db_setup, tmp_path_factory) -> Iterator[str]:
    log_dir = tmp_path_factory.mktemp("sentry-web")
    port = free_port()
    process = ManagedProcess(
        "web",
        [*launcher_command(), "web"],
        log_dir=log_dir,
        cwd=APP_DIR,
        env={
            **sentry_env,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_CONCURRENCY": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(log_dir / "metrics"),
        },
        ready_url=f"http://127.0.0.1:{port}/healthz",
    )
    process.start(60)
    yield f"http://127.0.0.1:{port}"
    process.stop(30)


@pytest.fixture(scope="module")
def worker(sentry_env, tmp_path_factory) -> Iterator[ManagedProcess]:
    """A worker on the default queue, where the failing task is routed; built here rather than
    with ``celery_worker``, which always runs the plain test settings."""
    work_dir = tmp_path_factory.mktemp("sentry-worker")
    ready_file = work_dir / "ready"
    process = ManagedProcess(
        "worker",
        [*launcher_command(), "worker", "default", "--concurrency", "1"],
        log_dir=work_dir,
        cwd=APP_DIR,
        env={
            **sentry_env,
            "CELERY_HEARTBEAT_FILE": str(work_dir / "heartbeat"),
            "CELERY_READY_FILE": str(ready_file),
            "METRICS_PORT": str(free_port()),
            "PROMETHEUS_MULTIPROC_DIR": str(work_dir / "metrics"),
        },
        ready_file=ready_file,
    )
    process.start(WORKER_STARTUP_TIMEOUT)
    yield process
    process.stop(30)


def exception_types(item: EnvelopeItem) -> list[str]:
    return [value["type"] for value in item.payload.get("exception", {}).get("values", [])]


def test_an_unhandled_error_in_a_view_arrives_with_the_request_id(sentry, web):
    request_id = f"view-{uuid.uuid4().hex}"
    response = httpx.get(
        f"{web}/sentry-test/failing-view/", headers={"X-Request-ID": request_id}, timeout=10
    )
    assert response.status_code == 500

    event = sentry.wait_for(
        lambda item: item.type == "event" and "ViewFailedOnPurpose" in exception_types(item),
        "the view's error",
    )
    assert event.payload["tags"]["request_id"] == request_id
    assert event.payload["environment"] == "test"


def test_an_unhandled_error_in_a_task_arrives_with_the_request_that_enqueued_it(
    sentry, web, worker
):
    request_id = f"task-{uuid.uuid4().hex}"
    response = httpx.post(
        f"{web}/sentry-test/failing-task/", headers={"X-Request-ID": request_id}, timeout=10
    )
    assert response.status_code == 202

    event = sentry.wait_for(
        lambda item: item.type == "event" and "TaskFailedOnPurpose" in exception_types(item),
        "the task's error",
    )
    assert event.payload["tags"]["request_id"] == request_id
    assert event.payload["extra"]["celery-job"]["task_name"] == FAILING_TASK


def test_probe_and_metrics_paths_are_not_traced_but_api_requests_are(sentry, web):
    for path in UNTRACED_PATHS:
        assert httpx.get(f"{web}{path}", timeout=10).status_code == 200
    marker = uuid.uuid4().hex
    httpx.get(f"{web}/api/v1/products/", params={"q": marker}, timeout=10)

    # One process sends its envelopes in order: once the API transaction is in, the probes'
    # transactions would be too.
    sentry.wait_for(
        lambda item: (
            item.type == "transaction"
            and marker in item.payload.get("request", {}).get("query_string", "")
        ),
        "the API request's transaction",
    )
    traced_paths = {
        httpx.URL(item.payload.get("request", {}).get("url", "")).path
        for item in sentry.received()
        if item.type == "transaction"
    }
    assert traced_paths.isdisjoint(UNTRACED_PATHS), traced_paths
