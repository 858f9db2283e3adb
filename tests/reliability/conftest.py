"""The production topology on one machine, built from fixtures on free ports.

The real services of ``tests/plugins/services.py`` (Postgres behind PgBouncer, Redis, SMTP, the
payment simulator, Celery workers) plus what this suite adds around them:

``web_factory`` (session)
    Starts ``bazaar web`` (gunicorn, ``config.settings.prod``) on a free port and returns the
    ``WebProcess``; every one started is stopped at the end of the session.
``shop`` (session)
    Two web processes behind a ``LoadBalancer`` (haproxy, health-checked on ``/readyz`` as the
    chart's readiness probe, runtime API on a stats socket for drains) and the payment
    simulator.
``fresh_shop`` (function)
    ``shop`` with an empty cache, broker, mailbox and simulator, for tests that count things.
``beat`` (function)
    ``bazaar beat`` ticking every second, so the outbox relay runs during the test.
``figures`` (session)
    ``figures.record(section, name, value)``: every figure is printed in the terminal summary.

The web processes sign JWTs with this test process's ``SECRET_KEY``, so a token minted here
(``token_for(user)``) is accepted by them, and every request carries ``X-Forwarded-Proto:
https`` as the ingress would send it, so prod's HTTPS redirect stays on.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import signal
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from tests import load
from tests.plugins.processes import ManagedProcess, free_port
from tests.plugins.services import APP_DIR, TEST_SETTINGS_MODULE, launcher_command

# Headers the ingress adds in production: TLS ended in front of the pods.
INGRESS_HEADERS = {"X-Forwarded-Proto": "https"}
WEB_STARTUP_TIMEOUT = 60
# Below the chart's terminationGracePeriodSeconds, as GUNICORN_GRACEFUL_TIMEOUT is in the chart.
WEB_GRACEFUL_TIMEOUT = 20
LOAD_BALANCER_SLOTS = 6


def wait_for(predicate: Callable[[], object], *, timeout: float, what: str, interval=0.1):
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


# --- figures ------------------------------------------------------------------------------------

figures_key = pytest.StashKey["Figures"]()


class Figures:
    """Every number the suite proves, printed together at the end of the run."""

    def __init__(self) -> None:
        self.sections: dict[str, dict[str, object]] = defaultdict(dict)

    def record(self, section: str, name: str, value: object) -> None:
        self.sections[section][name] = value


def pytest_configure(config: pytest.Config) -> None:
    config.stash[figures_key] = Figures()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    figures = config.stash.get(figures_key, None)
    if not figures or not figures.sections:
        return
    terminalreporter.section("bazaar reliability and security figures")
    for section, values in figures.sections.items():
        terminalreporter.write_line(f"{section}:")
        for name, value in values.items():
            shown = f"{value:.2f}" if isinstance(value, float) else value
            terminalreporter.write_line(f"    {name}: {shown}")


@pytest.fixture(scope="session", autouse=True)
def _quiet_http_client_logs() -> None:
    """httpx logs every request at INFO: thousands of lines under load."""
    logging.getLogger("httpx").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def figures(pytestconfig: pytest.Config) -> Figures:
    return pytestconfig.stash[figures_key]


# --- web processes ------------------------------------------------------------------------------


class WebProcess(ManagedProcess):
    """A ``bazaar web`` process: the gunicorn master and its workers."""

    def __init__(self, *, name: str, port: int, work_dir: Path, log_dir: Path, env: dict):
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        super().__init__(
            name,
            [*launcher_command(), "web"],
            log_dir=log_dir,
            cwd=APP_DIR,
            env={
                **env,
                "PORT": str(port),
                "HOST": "127.0.0.1",
                "PROMETHEUS_MULTIPROC_DIR": str(work_dir / "metrics"),
                "STATIC_ROOT": str(work_dir / "static"),
            },
            ready_url=f"{self.base_url}/healthz",
        )

    def worker_pids(self) -> set[int]:
        return {child.pid for child in psutil.Process(self.pid).children()}

    def reload(self, timeout: float = WEB_STARTUP_TIMEOUT) -> None:
        """SIGHUP the master and wait until the new workers have replaced the old ones."""
        self.wait_reloaded(self.signal_reload(), timeout)

    def signal_reload(self) -> set[int]:
        """SIGHUP the master: new workers start, the old ones finish what they serve and exit.
        Returns the old workers' pids."""
        before = self.worker_pids()
        os.kill(self.pid, signal.SIGHUP)
        return before

    def wait_reloaded(self, old_workers: set[int], timeout: float = WEB_STARTUP_TIMEOUT) -> None:
        wait_for(
            lambda: self.worker_pids().isdisjoint(old_workers),
            timeout=timeout,
            what=f"{self.name} to replace its workers {sorted(old_workers)}",
        )
        wait_for(self.is_ready, timeout=timeout, what=f"{self.name} ready")

    def terminate(self) -> None:
        """SIGTERM without waiting, as the kubelet sends it once preStop has returned."""
        os.kill(self.pid, signal.SIGTERM)


def web_environment(**extra: str) -> dict[str, str]:
    from django.conf import settings

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.prod",
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
        "GUNICORN_GRACEFUL_TIMEOUT": str(WEB_GRACEFUL_TIMEOUT),
        # A handful of test clients send what thousands of shoppers would: the per-client
        # rates would throttle the load itself. The login lockout is separate and stays on.
        "THROTTLE_AUTH": "100000/min",
        "THROTTLE_CHECKOUT": "100000/min",
        "THROTTLE_REVIEWS": "100000/min",
        **extra,
    }


@pytest.fixture(scope="session")
def web_factory(services, django_db_setup, tmp_path_factory) -> Iterator[Callable[..., WebProcess]]:
    started: list[WebProcess] = []

    def start_web(**extra_env: str) -> WebProcess:
        name = f"web-{len(started) + 1}"
        process = WebProcess(
            name=name,
            port=free_port(),
            work_dir=tmp_path_factory.mktemp(name),
            log_dir=services.log_dir,
            env=web_environment(**extra_env),
        )
        started.append(process)
        process.start(WEB_STARTUP_TIMEOUT)
        return process

    yield start_web
    for process in started:
        process.stop(timeout=WEB_GRACEFUL_TIMEOUT + 10)


# --- load balancer ------------------------------------------------------------------------------


class LoadBalancer(ManagedProcess):
    """haproxy in front of the web processes, like the Service and ingress of the chart.

    Servers live in fixed slots (``slot-1`` …), empty ones in maintenance; ``add`` points a free
    slot at a web process and ``remove`` drains it, so a rolling replacement is scripted through
    the runtime API exactly as endpoints come and go in a cluster.
    """

    def __init__(self, *, work_dir: Path, log_dir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.socket_path = work_dir / "admin.sock"
        self.slots: dict[str, WebProcess | None] = {
            f"slot-{index}": None for index in range(1, LOAD_BALANCER_SLOTS + 1)
        }
        config_path = work_dir / "haproxy.cfg"
        config_path.write_text(self._config())
        super().__init__(
            "haproxy",
            ["haproxy", "-f", config_path, "-db"],
            log_dir=log_dir,
            cwd=work_dir,
            ready_port=self.port,
        )

    def _config(self) -> str:
        # Empty slots point at the frontend port itself; they are in maintenance until used.
        servers = "\n".join(
            f"    server {slot} 127.0.0.1:{self.port} check inter 500ms fall 2 rise 1 disabled"
            for slot in self.slots
        )
        # A keep-alive connection a stopping gunicorn worker closes under haproxy's feet is
        # retried on another server instead of surfacing as a 502, as an ingress does.
        return f"""\
global
    maxconn 2048
    stats socket {self.socket_path} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 10s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response

frontend bazaar
    bind 127.0.0.1:{self.port}
    default_backend web

backend web
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    http-response set-header X-Served-By %s
{servers}
"""

    def admin(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as admin:
            admin.settimeout(5)
            admin.connect(str(self.socket_path))
            admin.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := admin.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def server_stats(self) -> dict[str, dict[str, str]]:
        """``show stat`` of the backend's servers, by slot name."""
        text = self.admin("show stat").lstrip("# ")
        return {
            row["svname"]: row
            for row in csv.DictReader(io.StringIO(text))
            if row["pxname"] == "web" and row["svname"] in self.slots
        }

    def add(self, web: WebProcess) -> str:
        slot = next(name for name, occupant in self.slots.items() if occupant is None)
        self.slots[slot] = web
        self.admin(f"set server web/{slot} addr 127.0.0.1 port {web.port}")
        self.admin(f"set server web/{slot} state ready")
        wait_for(
            lambda: self.server_stats()[slot]["status"] == "UP",
            timeout=30,
            what=f"{web.name} to pass haproxy's health check",
        )
        return slot

    def slot_of(self, web: WebProcess) -> str:
        return next(name for name, occupant in self.slots.items() if occupant is web)

    def drain(self, web: WebProcess) -> None:
        """Take ``web`` out of rotation and wait until haproxy has no request on it."""
        slot = self.slot_of(web)
        self.admin(f"set server web/{slot} state maint")
        wait_for(
            lambda: self.server_stats()[slot]["scur"] == "0",
            timeout=30,
            what=f"haproxy to finish the requests it sent to {web.name}",
        )
        self.slots[slot] = None

    def backends(self) -> list[WebProcess]:
        return [web for web in self.slots.values() if web is not None]


@dataclass
class Shop:
    """The topology the tests drive: web processes behind the load balancer, the simulator."""

    services: object
    psp: object
    load_balancer: LoadBalancer
    start_web: Callable[..., WebProcess]

    @property
    def url(self) -> str:
        return self.load_balancer.base_url

    @property
    def webs(self) -> list[WebProcess]:
        return self.load_balancer.backends()

    def reset(self) -> None:
        self.services.redis.client(0).flushdb()
        self.services.redis.client(1).flushdb()
        self.services.smtp.clear()
        httpx.post(f"{self.psp.url}/_sim/reset").raise_for_status()

    def configure_psp(self, **changes) -> None:
        httpx.post(f"{self.psp.url}/_sim/config", json=changes).raise_for_status()

    def psp_charges(self) -> dict:
        return httpx.get(f"{self.psp.url}/_sim/charges").json()


@pytest.fixture(scope="session")
def shop(services, psp, web_factory, tmp_path_factory) -> Iterator[Shop]:
    load_balancer = LoadBalancer(
        work_dir=tmp_path_factory.mktemp("haproxy"), log_dir=services.log_dir
    )
    load_balancer.start(30)
    shop = Shop(services=services, psp=psp, load_balancer=load_balancer, start_web=web_factory)
    for _ in range(2):
        load_balancer.add(web_factory())
    yield shop
    load_balancer.stop()


@pytest.fixture
def fresh_shop(shop: Shop) -> Shop:
    shop.reset()
    return shop


@pytest.fixture
def beat(services) -> Iterator[ManagedProcess]:
    work_dir = services.new_worker_dir("beat")
    process = ManagedProcess(
        f"beat-{work_dir.name}",
        [*launcher_command(), "beat"],
        log_dir=services.log_dir,
        cwd=APP_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": TEST_SETTINGS_MODULE,
            "CELERY_BEAT_TICK_FILE": str(work_dir / "tick"),
            "CELERY_BEAT_SCHEDULE_FILENAME": str(work_dir / "schedule"),
            "CELERY_BEAT_MAX_LOOP_INTERVAL": "1",
        },
        ready_file=work_dir / "tick",
    )
    process.start(60)
    yield process
    process.stop()


# --- clients and load ---------------------------------------------------------------------------


def token_for(user) -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    return str(RefreshToken.for_user(user).access_token)


def client(base_url: str, user=None, **kwargs) -> httpx.Client:
    headers = dict(INGRESS_HEADERS)
    if user is not None:
        headers["Authorization"] = f"Bearer {token_for(user)}"
    return httpx.Client(base_url=base_url, headers=headers, timeout=30, **kwargs)


@dataclass
class SteadyLoad(load.SteadyLoad):
    """``tests.load.SteadyLoad`` whose threads are signed-in clients behind the ingress."""

    make_client: Callable[..., httpx.Client] = client


_held_row_locks: list = []


@contextlib.contextmanager
def product_rows_locked(services, product_ids: list[int]) -> Iterator[None]:
    """Hold ``SELECT … FOR UPDATE`` on products from a direct Postgres session, so checkouts
    of them block mid-transaction: requests that are provably in flight."""
    with services.postgres.connect() as connection:
        connection.autocommit = False
        _held_row_locks.append(connection)
        try:
            connection.execute(
                "SELECT id FROM catalog_product WHERE id = ANY(%s) FOR UPDATE", [product_ids]
            )
            yield
            connection.rollback()
        finally:
            _held_row_locks.remove(connection)


@pytest.fixture(autouse=True)
def _release_row_locks_of_a_failed_test() -> Iterator[None]:
    """A test that fails while holding product row locks must not leave them to block every
    later checkout and the database flush after it (torn down before that flush)."""
    yield
    while _held_row_locks:
        _held_row_locks.pop().close()


# --- what the shoppers do -----------------------------------------------------------------------


def browsing(slugs: list[str]) -> list[tuple[str, Callable[[httpx.Client], httpx.Response]]]:
    """Catalog reads: the list, a search, each product's page."""
    return [
        ("list products", lambda http: http.get("/api/v1/products/")),
        ("search products", lambda http: http.get("/api/v1/products/", params={"q": "Product"})),
        *[
            (f"product {slug}", lambda http, slug=slug: http.get(f"/api/v1/products/{slug}/"))
            for slug in slugs
        ],
    ]


def shopping(slug: str) -> list[tuple[str, Callable[[httpx.Client], httpx.Response]]]:
    """A signed-in shopper: cart, add one item, check out."""
    return [
        ("cart", lambda http: http.get("/api/v1/cart/")),
        ("add to cart", lambda http: http.post("/api/v1/cart/items/", json={"product": slug})),
        ("checkout", checkout),
    ]


def checkout(http: httpx.Client, key: str | None = None) -> httpx.Response:
    return http.post(
        "/api/v1/orders/", json={}, headers={"Idempotency-Key": key or os.urandom(16).hex()}
    )


def expected_shopping_status(name: str, response: httpx.Response) -> bool:
    """Reads and cart writes succeed; a checkout may find the cart already taken (409)."""
    allowed = {201, 409} if name == "checkout" else {200, 201}
    return response.status_code in allowed
