"""The real-service fixtures do what the app tests rely on: real servers, wired as exported."""

import importlib.util
import json
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import psutil
import psycopg
import pytest
import redis

from tests.plugins.processes import (
    EPHEMERAL_PORTS_START,
    FIRST_PORT,
    ManagedProcess,
    ProcessStartError,
    free_port,
    port_accepts,
)
from tests.plugins.services import PgBouncer, Postgres

REPO_ROOT = Path(__file__).resolve().parents[2]

needs_launcher = pytest.mark.skipif(
    importlib.util.find_spec("bazaar.launcher") is None,
    reason="the bazaar launcher is not written yet",
)


# --- the exported environment ---------------------------------------------------------------


def test_environment_points_the_app_at_the_services(services):
    """DATABASE_URL goes through PgBouncer, the direct URL and the rest to their own servers."""
    assert os.environ["DATABASE_URL"] == services.pgbouncer.url
    assert os.environ["DATABASE_DIRECT_URL"] == services.postgres.url
    assert os.environ["DATABASE_POOLER"] == "pgbouncer"
    assert os.environ["REDIS_URL"] == f"redis://127.0.0.1:{services.redis.port}/0"
    assert os.environ["CELERY_BROKER_URL"] == f"redis://127.0.0.1:{services.redis.port}/1"
    assert os.environ["EMAIL_URL"] == f"smtp://127.0.0.1:{services.smtp.port}"
    ports = [services.postgres.port, services.pgbouncer.port, services.redis.port]
    assert all(FIRST_PORT <= port < EPHEMERAL_PORTS_START for port in ports)


# --- Postgres behind PgBouncer --------------------------------------------------------------


def test_query_through_pgbouncer_lands_on_postgres_in_transaction_mode(services):
    with services.pgbouncer.connect() as conn:
        database, user, server_port = conn.execute(
            "SELECT current_database(), current_user, inet_server_port()"
        ).fetchone()
    assert (database, user, server_port) == ("bazaar", "bazaar", services.postgres.port)

    pools = {(pool["database"], pool["user"]): pool for pool in services.pgbouncer.show_pools()}
    assert pools[("bazaar", "bazaar")]["pool_mode"] == "transaction"


def test_application_role_may_create_databases(services):
    """pytest-django and schemathesis runs may need their own database: CREATEDB is granted."""
    with services.postgres.connect() as conn:
        (can_create,) = conn.execute(
            "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert can_create is True


@pytest.fixture
def private_database():
    """A Postgres and a PgBouncer of this test's own: restarting the session's would race
    every other client the session left connected (a login PgBouncer tries for any of them
    while Postgres is down or full makes it refuse the test's query)."""
    root = Path(tempfile.mkdtemp(prefix="bazaar-test-restart-"))
    root.chmod(0o755)  # the services run as another user and must reach their directories
    (root / "logs").mkdir()
    postgres = Postgres(root, root / "logs")
    pgbouncer = PgBouncer(root, root / "logs", postgres)
    try:
        postgres.initialise()
        postgres.boot()
        postgres.create_application_database()
        pgbouncer.boot()
        yield postgres, pgbouncer
    finally:
        pgbouncer.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_postgres_restart_keeps_data_and_pgbouncer_reconnects(private_database):
    postgres, pgbouncer = private_database
    with pgbouncer.connect() as conn:  # PgBouncer now holds a server connection
        conn.execute("CREATE TABLE restart_probe (value text)")
        conn.execute("INSERT INTO restart_probe VALUES ('kept')")

    postgres.stop()
    try:
        with pytest.raises(psycopg.OperationalError):
            postgres.connect()
    finally:
        postgres.start()

    with pgbouncer.connect() as conn:
        rows = conn.execute("SELECT value FROM restart_probe").fetchall()
    assert rows == [("kept",)]


# --- Redis ----------------------------------------------------------------------------------


def test_the_replica_streams_from_postgres_behind_its_own_pgbouncer(services, replica):
    """A hot standby that replays what the primary commits, answers through its own PgBouncer,
    refuses writes, and lags on demand; it is not exported to the session."""
    assert replica.postgres.superuser_query("SELECT pg_is_in_recovery() AS standby") == [
        {"standby": True}
    ]
    assert replica.url not in os.environ.values()
    with services.postgres.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS replica_probe (n int)")
        conn.execute("INSERT INTO replica_probe VALUES (1)")
    replica.wait_caught_up()
    with replica.pgbouncer.connect() as conn:
        assert conn.execute("SELECT count(*) FROM replica_probe").fetchone() == (1,)
        assert conn.execute("SELECT inet_server_port()").fetchone() == (replica.postgres.port,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO replica_probe VALUES (2)")
    replica.pause_replay()
    try:
        with services.postgres.connect() as conn:
            conn.execute("INSERT INTO replica_probe VALUES (3)")
        time.sleep(0.5)
        with replica.pgbouncer.connect() as conn:
            assert conn.execute("SELECT count(*) FROM replica_probe").fetchone() == (1,)
    finally:
        replica.resume_replay()
        replica.wait_caught_up()
        with services.postgres.connect() as conn:
            conn.execute("DROP TABLE replica_probe")


def test_redis_answers_on_the_exported_url(services):
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    assert client.ping() is True
    client.set("fixture-probe", "1")
    assert services.redis.client(db=0).get("fixture-probe") == b"1"
    assert services.redis.client(db=1).get("fixture-probe") is None


def test_redis_stop_and_start_comes_back_empty(services):
    services.redis.client().set("survives-restart", "no")

    services.redis.stop()
    try:
        with pytest.raises(redis.ConnectionError):
            services.redis.client().ping()
    finally:
        services.redis.start()

    assert services.redis.client().ping() is True
    assert services.redis.client().get("survives-restart") is None


def test_paused_redis_times_out_until_resumed(services):
    stalled_client = redis.Redis(host="127.0.0.1", port=services.redis.port, socket_timeout=0.2)
    services.redis.pause()
    try:
        assert psutil.Process(services.redis.process.pid).status() == psutil.STATUS_STOPPED
        with pytest.raises(redis.TimeoutError):
            stalled_client.ping()
    finally:
        services.redis.resume()
    assert services.redis.client().ping() is True


# --- SMTP sink ------------------------------------------------------------------------------


def test_mail_sent_over_smtp_arrives_in_the_sink(services):
    services.smtp.clear()
    message = EmailMessage()
    message["From"] = "shop@bazaar.local"
    message["To"] = "buyer@example.com"
    message["Subject"] = "Order 42 is paid"
    message.set_content("Thank you for your order.")

    with smtplib.SMTP("127.0.0.1", services.smtp.port, timeout=5) as smtp:
        smtp.send_message(message)

    [received] = services.smtp.messages()
    assert received["Subject"] == "Order 42 is paid"
    assert received["To"] == "buyer@example.com"
    assert received.get_content().strip() == "Thank you for your order."

    services.smtp.clear()
    assert services.smtp.messages() == []


# --- ManagedProcess and free_port ----------------------------------------------------------


def test_free_port_hands_out_distinct_bindable_ports_below_the_ephemeral_range():
    ports = {free_port() for _ in range(5)}
    assert len(ports) == 5
    assert all(FIRST_PORT <= port < EPHEMERAL_PORTS_START for port in ports)
    assert not any(port_accepts(port) for port in ports)


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _dies(process: psutil.Process) -> bool:
    """Whether ``process`` is gone (or a zombie: dead, waiting for init to reap it) soon."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


def test_stop_ends_the_whole_process_group(tmp_path):
    ready = tmp_path / "ready"
    # A parent that forks two children which would outlive it if only the parent were killed.
    process = ManagedProcess(
        "forking",
        [
            "sh",
            "-c",
            f"sleep 300 & sleep 300 & touch {ready}; trap '' TERM; wait",
        ],
        log_dir=tmp_path,
        ready_file=ready,
    )
    process.start(timeout=10)
    children = [
        child for child in psutil.Process(process.pid).children() if child.name() == "sleep"
    ]
    assert len(children) == 2

    returncode = process.stop(timeout=0.5)

    assert returncode == -signal.SIGKILL
    assert all(_dies(child) for child in children)


def test_kill_leaves_no_orphans_even_if_the_leader_already_died(tmp_path):
    ready = tmp_path / "ready"
    process = ManagedProcess(
        "orphaning",
        ["sh", "-c", f"sleep 300 & echo $! > {ready}.pid; mv {ready}.pid {ready}; exit 0"],
        log_dir=tmp_path,
        ready_file=ready,
    )
    process.start(timeout=10)
    orphan = psutil.Process(int(ready.read_text()))
    process._popen.wait()

    process.kill()

    assert process.returncode == 0
    assert _dies(orphan)


def test_stop_is_graceful_when_the_process_obeys_sigterm(tmp_path):
    process = ManagedProcess(
        "sleeper",
        _python("import time; time.sleep(300)"),
        log_dir=tmp_path,
    ).start()
    assert process.running
    assert process.stop() == -signal.SIGTERM
    assert not process.running


def test_pause_stops_and_resume_continues_the_process(tmp_path):
    process = ManagedProcess(
        "pausable", _python("import time; time.sleep(300)"), log_dir=tmp_path
    ).start()
    try:
        process.pause()
        assert psutil.Process(process.pid).status() == psutil.STATUS_STOPPED
        process.resume()
        assert psutil.Process(process.pid).status() != psutil.STATUS_STOPPED
    finally:
        process.stop()


def test_stop_of_a_paused_process_still_terminates_it(tmp_path):
    process = ManagedProcess(
        "paused", _python("import time; time.sleep(300)"), log_dir=tmp_path
    ).start()
    process.pause()
    assert process.stop(timeout=5) == -signal.SIGTERM


def test_waits_for_a_port_and_an_http_url(tmp_path):
    port = free_port()
    server = ManagedProcess(
        "http",
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        log_dir=tmp_path,
        cwd=tmp_path,
        ready_url=f"http://127.0.0.1:{port}/",
    ).start(timeout=10)
    try:
        assert port_accepts(port)
    finally:
        server.stop()
    assert not port_accepts(port)


def test_a_process_that_dies_before_ready_fails_with_its_log_tail(tmp_path):
    process = ManagedProcess(
        "doomed",
        ["sh", "-c", "echo 'FATAL: bad configuration' >&2; exit 3"],
        log_dir=tmp_path,
        ready_port=free_port(),
    )
    with pytest.raises(ProcessStartError) as failure:
        process.start(timeout=10)
    message = str(failure.value)
    assert "exited with status 3" in message
    assert "FATAL: bad configuration" in message
    assert str(tmp_path / "doomed.log") in message


def test_a_process_that_never_gets_ready_is_killed_at_the_deadline(tmp_path):
    process = ManagedProcess(
        "silent",
        _python("import time; time.sleep(300)"),
        log_dir=tmp_path,
        ready_file=tmp_path / "never",
    )
    with pytest.raises(ProcessStartError, match=r"was not ready after 0\.5s"):
        process.start(timeout=0.5)
    assert process.returncode == -signal.SIGKILL


# --- the Django database, the launcher's processes ------------------------------------------


@pytest.mark.django_db
def test_django_uses_the_migrated_bazaar_database_through_pgbouncer(services):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), inet_server_port()")
        database, server_port = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM django_migrations")
        (applied_migrations,) = cursor.fetchone()
    assert int(connection.settings_dict["PORT"]) == services.pgbouncer.port
    assert (database, server_port) == ("bazaar", services.postgres.port)
    assert applied_migrations > 0


@needs_launcher
def test_psp_simulator_serves_and_its_url_is_exported(psp):
    import httpx

    assert httpx.get(f"{psp.url}/healthz", timeout=5).status_code == 200
    assert os.environ["PAYMENT_PROVIDER_URL"] == psp.url
    from django.conf import settings

    assert psp.url == settings.PAYMENT_PROVIDER_URL


@needs_launcher
def test_celery_worker_joins_the_test_broker_and_stops_cleanly(celery_worker):
    from config.celery_app import app

    worker = celery_worker(pool="notifications", queues=["notifications"], concurrency=1)

    assert worker.ready_file.exists()
    replies = app.control.ping(timeout=5)
    assert any(name.startswith("notifications@") for reply in replies for name in reply)

    assert worker.stop(timeout=20) == 0
    assert Path(worker.log_path).exists()


# --- when the plugin starts services --------------------------------------------------------

EXPORTED_KEYS = (
    "DATABASE_URL",
    "DATABASE_DIRECT_URL",
    "DATABASE_POOLER",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
)

INNER_TEST = f"""
import json, os

def test_record_environment(worker_id):
    exported = {{key: os.environ.get(key) for key in {list(EXPORTED_KEYS)!r}}}
    with open(f"env-{{worker_id}}.json", "w") as record:
        json.dump(exported, record)
"""


def _run_inner_session(tmp_path: Path, *args: str, **environment: str):
    """Run a separate pytest session with the plugin on a test that records its environment."""
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in (*EXPORTED_KEYS, "BAZAAR_TEST_SERVICES") and not key.startswith("PYTEST_")
    }
    env["PYTHONPATH"] = str(REPO_ROOT)
    # Only the plugins the session needs: the others (hypothesis, faker, ...) cost seconds.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.update(environment)
    plugins = ["-p", "xdist.plugin", "-p", "tests.plugins.services"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *plugins, "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _recorded_environments(tmp_path: Path) -> dict[str, dict[str, str | None]]:
    return {
        record.stem.removeprefix("env-"): json.loads(record.read_text())
        for record in tmp_path.glob("env-*.json")
    }


def test_services_off_exports_nothing(tmp_path):
    result = _run_inner_session(tmp_path, BAZAAR_TEST_SERVICES="0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bazaar services: not started" in result.stdout
    [recorded] = _recorded_environments(tmp_path).values()
    assert recorded == dict.fromkeys(EXPORTED_KEYS)


def test_collect_only_starts_nothing(tmp_path):
    result = _run_inner_session(tmp_path, "--collect-only")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bazaar services: not started" in result.stdout


def test_each_xdist_worker_gets_its_own_services(tmp_path):
    (tmp_path / "test_second.py").write_text(INNER_TEST)
    result = _run_inner_session(tmp_path, "-n", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    recorded = _recorded_environments(tmp_path)
    assert set(recorded) == {"gw0", "gw1"}
    database_urls = {environment["DATABASE_URL"] for environment in recorded.values()}
    assert len(database_urls) == 2
    assert None not in database_urls


def test_a_service_that_cannot_start_fails_the_session_with_a_clear_error(tmp_path):
    no_servers_on_path = str(tmp_path)
    result = _run_inner_session(tmp_path, PATH=no_servers_on_path, TMPDIR=str(tmp_path))
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "bazaar test services failed to start" in result.stderr
    assert "redis-server" in result.stderr
    assert not _recorded_environments(tmp_path)
