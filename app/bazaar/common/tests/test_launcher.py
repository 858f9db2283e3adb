"""The launcher's roles as real processes: gunicorn with prod settings, migrations under the
advisory lock, deploy checks, probes and multiprocess metrics."""

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.plugins.processes import ManagedProcess, free_port
from tests.plugins.services import APP_DIR, launcher_command

PROD_SECRET = secrets.token_urlsafe(64)


def prod_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.prod",
        "SECRET_KEY": PROD_SECRET,
        "ALLOWED_HOSTS": "shop.example.com",
        "STATIC_ROOT": str(tmp_path / "static"),
        "LOG_FORMAT": "json",
        **extra,
    }


def run_launcher(*args: str, env: dict[str, str], timeout: float = 120):
    return subprocess.run(
        [*launcher_command(), *args],
        env=env,
        cwd=APP_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def web(request, services, django_db_setup, django_db_blocker, tmp_path):
    """``bazaar web`` under gunicorn; parametrize indirectly with extra launcher arguments."""
    port = free_port()
    process = ManagedProcess(
        "web",
        [*launcher_command(), "web", *getattr(request, "param", [])],
        log_dir=tmp_path,
        cwd=APP_DIR,
        env=prod_env(
            tmp_path,
            PORT=str(port),
            HOST="127.0.0.1",
            WEB_CONCURRENCY="2",
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        ),
        ready_url=f"http://127.0.0.1:{port}/healthz",
    )
    process.start(60)
    process.base_url = f"http://127.0.0.1:{port}"
    process.metrics_dir = tmp_path / "metrics"
    yield process
    assert process.stop(timeout=40) == 0, process.log_tail()


def test_prod_answers_kubelet_probes_on_the_pod_ip_without_redirect(web):
    pod_ip = {"Host": "10.244.3.9:8000"}
    assert httpx.get(f"{web.base_url}/healthz", headers=pod_ip).status_code == 200
    ready = httpx.get(f"{web.base_url}/readyz", headers=pod_ip)
    assert ready.status_code == 200, ready.text
    # Everything else is host-checked and redirected to HTTPS.
    assert httpx.get(f"{web.base_url}/api/v1/products/", headers=pod_ip).status_code == 400
    shop = {"Host": "shop.example.com"}
    redirect = httpx.get(f"{web.base_url}/api/v1/products/", headers=shop)
    assert redirect.status_code == 301
    assert redirect.headers["Location"].startswith("https://shop.example.com/")
    tls = httpx.get(
        f"{web.base_url}/api/v1/products/", headers={**shop, "X-Forwarded-Proto": "https"}
    )
    assert tls.status_code == 200
    assert "Strict-Transport-Security" in tls.headers


@pytest.mark.parametrize("web", [["--slice", "checkout"]], indirect=True)
def test_a_web_slice_serves_its_paths_and_404s_the_others(web):
    """`bazaar web --slice checkout`: the checkout routes answer (401 without a token), the
    catalog's are a 404 in the envelope, and the probes and /metrics still answer."""
    shop = {"Host": "shop.example.com", "X-Forwarded-Proto": "https"}
    assert httpx.get(f"{web.base_url}/api/v1/orders/", headers=shop).status_code == 401
    foreign = httpx.get(f"{web.base_url}/api/v1/products/", headers=shop)
    assert foreign.status_code == 404
    assert foreign.json()["error"]["code"] == "not_found"
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(f"{web.base_url}{path}", headers=shop).status_code == 200, path


def _counter_total(metrics_text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_metrics_from_two_gunicorn_workers_add_up(web):
    headers = {"Host": "shop.example.com", "X-Forwarded-Proto": "https"}
    requests = 60

    def hit(count: int) -> None:
        for _ in range(count):
            # A new connection each time, so both workers get requests.
            with httpx.Client(headers=headers) as client:
                assert client.get(f"{web.base_url}/api/v1/categories/").status_code == 200

    threads = [threading.Thread(target=hit, args=(requests // 4,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    pids = {
        re.search(r"_(\d+)\.db$", f.name).group(1) for f in web.metrics_dir.glob("counter_*.db")
    }
    assert len(pids) >= 2, f"requests reached one worker only: {pids}"
    scraped = httpx.get(f"{web.base_url}/metrics", headers=headers).text
    served = _counter_total(
        scraped,
        "django_http_responses_total_by_status_view_method_total",
        view="category-list",
        status="200",
    )
    assert served == requests


def test_log_lines_are_json_with_the_request_id(web):
    headers = {"Host": "shop.example.com", "X-Forwarded-Proto": "https", "X-Request-ID": "trace-42"}
    httpx.get(f"{web.base_url}/api/v1/products/", headers=headers)
    httpx.post(
        f"{web.base_url}/api/v1/auth/token/",
        headers=headers,
        json={"email": "nobody@example.com", "password": "s3cret-Pa55word"},
    )
    time.sleep(0.5)
    lines = [line for line in web.output_of_last_run().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    access = [
        r for r in records if r.get("event") == "http_request" and r.get("request_id") == "trace-42"
    ]
    assert {(r["method"], r["path"], r["status"]) for r in access} == {
        ("GET", "/api/v1/products/", 200),
        ("POST", "/api/v1/auth/token/", 401),
    }
    assert all(
        {"timestamp", "level", "logger", "latency_ms", "user_id"} <= r.keys() for r in access
    )
    assert "s3cret-Pa55word" not in web.output_of_last_run()


def test_prod_refuses_to_start_without_a_real_secret_key(tmp_path):
    for bad in ("", "short", "django-insecure-" + "x" * 60):
        result = run_launcher("check", env={**prod_env(tmp_path), "SECRET_KEY": bad})
        assert result.returncode != 0
        assert "SECRET_KEY" in result.stderr


def test_prod_passes_the_deploy_checks(tmp_path):
    result = run_launcher("check", env=prod_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout + result.stderr


def forward(port: int, target: int) -> threading.Thread:
    """Accept on ``port`` and relay every connection to ``target``: a database that comes up
    while its client already waits for it."""

    def relay(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    server = socket.create_server(("127.0.0.1", port))
    server.settimeout(60)

    def serve() -> None:
        with server, contextlib.suppress(TimeoutError):
            while True:
                client, _ = server.accept()
                upstream = socket.create_connection(("127.0.0.1", target))
                for pair in ((client, upstream), (upstream, client)):
                    threading.Thread(target=relay, args=pair, daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def wait_for_line(log: Path, text: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert process.poll() is None, f"exited {process.returncode} first:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {text} in {timeout}s:\n{log.read_text()}"
        time.sleep(0.1)


def test_migrate_waits_for_a_database_that_is_not_up_yet(services, tmp_path):
    """As the install-time Job beside a Postgres StatefulSet that is still starting: migrate
    waits within its budget instead of failing, then migrates. The database comes up only
    once migrate has said it waits, however long the process takes to start."""
    port = free_port()
    direct = services.postgres.url.replace(f":{services.postgres.port}/", f":{port}/")
    env = prod_env(tmp_path, DATABASE_DIRECT_URL=direct)
    log = tmp_path / "migrate.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [*launcher_command(), "migrate", "--timeout", "60"],
            env=env,
            cwd=APP_DIR,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_line(log, "migrate_waiting_for_database", process, timeout=60)
        forward(port, services.postgres.port)
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        process.kill()
    assert "migrate_finished" in log.read_text()
    gave_up = run_launcher(
        "migrate",
        "--timeout",
        "3",
        env={**env, "DATABASE_DIRECT_URL": direct.replace(f":{port}/", f":{free_port()}/")},
    )
    assert gave_up.returncode != 0


def test_concurrent_migrations_wait_for_each_other_on_a_fresh_database(services, tmp_path):
    name = f"fresh_{secrets.token_hex(4)}"
    with services.postgres.connect() as connection:
        connection.execute(f"CREATE DATABASE {name} OWNER bazaar")
    direct = services.postgres.url.rsplit("/", 1)[0] + f"/{name}"
    pooled = services.pgbouncer.url.rsplit("/", 1)[0] + f"/{name}"
    env = prod_env(tmp_path, DATABASE_URL=pooled, DATABASE_DIRECT_URL=direct)

    pending = run_launcher("migrate", "--check", env=env)
    assert pending.returncode == 1
    assert "unapplied: accounts.0001_initial" in pending.stderr

    runs = [
        subprocess.Popen(
            [*launcher_command(), "migrate"],
            env=env,
            cwd=APP_DIR,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=180)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert sum("migrate_waiting_for_lock" in output for output in outputs) >= 1
    assert run_launcher("migrate", "--check", env=env).returncode == 0
    assert run_launcher("migrate", "--check", "--wait", "--timeout", "5", env=env).returncode == 0
    with psycopg.connect(direct) as connection:
        tables = connection.execute(
            "SELECT count(*) FROM django_migrations WHERE app = 'orders'"
        ).fetchone()[0]
    assert tables >= 1


def test_worker_and_beat_probes_follow_their_files(celery_worker, services, tmp_path):
    worker = celery_worker()
    env = {
        **os.environ,
        "CELERY_HEARTBEAT_FILE": str(worker.heartbeat_file),
        "CELERY_READY_FILE": str(worker.ready_file),
    }
    assert run_launcher("probe", "worker", env=env).returncode == 0
    assert run_launcher("probe", "worker", "--ready", env=env).returncode == 0
    # A copy, aged: the live file is touched again every 10 s, maybe while the probe starts.
    stuck = tmp_path / "stuck-heartbeat"
    shutil.copy(worker.heartbeat_file, stuck)
    os.utime(stuck, (time.time() - 600, time.time() - 600))
    stuck_env = {**env, "CELERY_HEARTBEAT_FILE": str(stuck)}
    assert run_launcher("probe", "worker", "--max-age", "60", env=stuck_env).returncode == 1
    stale = {**env, "CELERY_BEAT_TICK_FILE": str(tmp_path / "never-ticked")}
    assert run_launcher("probe", "beat", env=stale).returncode == 1
    metrics = httpx.get(f"http://127.0.0.1:{worker.metrics_port}/metrics").text
    assert 'bazaar_celery_worker_heartbeat_timestamp_seconds{pool="default"}' in metrics
