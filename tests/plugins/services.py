"""Real backing services for the tests: a pytest plugin, loaded by ``-p tests.plugins.services``.

Every app test runs against the services production runs on, never against mocks:

* Postgres 15, in a throw-away cluster with fsync off, role ``bazaar`` (CREATEDB) owning the
  database ``bazaar``;
* PgBouncer in transaction mode in front of it, as in the chart;
* Redis without persistence (cache on db 0, Celery broker on db 1);
* an SMTP sink (aiosmtpd) that files every message into a maildir.

They start before pytest-django imports the Django settings (which read the environment at
import), and these variables are exported for the whole session (see docs/runtime-contract.md)::

    DATABASE_URL          postgres://...@127.0.0.1:<pgbouncer>/bazaar
    DATABASE_DIRECT_URL   postgres://...@127.0.0.1:<postgres>/bazaar
    DATABASE_POOLER       pgbouncer
    REDIS_URL             redis://127.0.0.1:<redis>/0
    CELERY_BROKER_URL     redis://127.0.0.1:<redis>/1
    EMAIL_URL             smtp://127.0.0.1:<smtp>

``BAZAAR_TEST_SERVICES=0`` starts nothing and exports nothing (pytest-django then builds its
usual SQLite test database). ``--collect-only``, ``--help`` and ``--version`` start nothing
either, and under pytest-xdist each worker starts its own set while the controller starts none.
Ports come from ``free_port()`` (20000-32767, never the busy ephemeral range) and a service
whose port was taken between probe and bind boots again on another. Logs and data live in one
temporary directory, shown in the report header with the startup time and kept when the
session fails; a service that does not come up fails the session with its log tail.

Fixtures
--------
``services`` (session)
    The running ``Services``. Each of ``services.postgres``, ``.pgbouncer``, ``.redis`` and
    ``.smtp`` has ``port``, ``url``, ``process`` (its ``ManagedProcess``) and ``stop()``,
    ``start()`` (same port), ``restart()``, ``kill()``, ``pause()``, ``resume()`` for
    reliability tests. Besides: ``postgres.connect()`` (direct), ``pgbouncer.connect()``,
    ``pgbouncer.show_pools()``, ``pgbouncer.admin_query("SHOW ...")``, ``redis.client(db)``,
    ``smtp.messages()`` (``EmailMessage`` objects, oldest first), ``smtp.wait_for_messages(n)``
    and ``smtp.clear()``. Tests that request it are skipped when services are off.
``replica`` (session, started on first use)
    The read replica (``Replica``): a hot standby of ``services.postgres`` made with
    ``pg_basebackup -R`` and streaming from it, on its own port (``replica.postgres``, with
    pg_stat_statements loaded), behind its own PgBouncer in transaction mode
    (``replica.pgbouncer``, ``query_wait_timeout`` as the chart's read pool). ``replica.url`` is
    a ``DATABASE_REPLICA_URL``; it is not exported to the session, only processes given it use
    the replica. ``statements()``/``reset_statements()`` show what the standby ran,
    ``pause_replay()``/``resume_replay()`` make it lag, ``wait_caught_up()`` waits for it.
``psp`` (session, started on first use)
    The payment-provider simulator, run as ``bazaar psp-simulator`` with ``PORT`` (and the
    ``PSP_*`` variables of the environment); ``psp.url``, ``psp.process``. Its URL is
    exported as ``PAYMENT_PROVIDER_URL`` to ``os.environ`` (so workers started afterwards see
    it) and to ``django.conf.settings``.
``celery_worker`` (function)
    A factory: ``celery_worker(pool="default", queues=[...], concurrency=2, extra_env={})``
    runs ``bazaar worker POOL --queues ... --concurrency N`` as a real process with the test
    environment, waits for its ready file and returns the ``CeleryWorker`` (a
    ``ManagedProcess``); every worker started is stopped at teardown. A worker sees the
    test's rows only once they are committed: use ``@pytest.mark.django_db(transaction=True)``.
``django_db_setup`` (session, overrides pytest-django's while services are on)
    Runs ``migrate`` once on the ``bazaar`` database instead of creating and dropping a
    ``test_`` database, which PgBouncer's pooled server connections would block.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from email.message import EmailMessage
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg.rows import dict_row

from tests.plugins.processes import ManagedProcess, ProcessStartError, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_DIR = REPO_ROOT / "app"
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
# Postgres and PgBouncer refuse to run as root; when we are root they run as this OS user.
SERVICE_OS_USER = "postgres"

DATABASE_NAME = "bazaar"
DATABASE_USER = "bazaar"
DATABASE_PASSWORD = "bazaar-test"  # a throw-away cluster on 127.0.0.1 only
SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "postgres-test"
PGBOUNCER_ADMIN = "pgbouncer_admin"
PGBOUNCER_ADMIN_PASSWORD = "pgbouncer-test"

DEFAULT_WORKER_QUEUES = ("default", "payments", "notifications")
TEST_SETTINGS_MODULE = "config.settings.test"
STARTUP_TIMEOUT = 30
PORT_ATTEMPTS = 3
WORKER_STARTUP_TIMEOUT = 60


def _service_user() -> str | None:
    return SERVICE_OS_USER if os.geteuid() == 0 else None


def _hand_to_service_user(path: Path) -> Path:
    """Create ``path`` as a 0700 directory the Postgres/PgBouncer processes own."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    user = _service_user()
    if user is not None:
        account = pwd.getpwnam(user)
        os.chown(path, account.pw_uid, account.pw_gid)
    return path


def _write_service_file(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)
    user = _service_user()
    if user is not None:
        account = pwd.getpwnam(user)
        os.chown(path, account.pw_uid, account.pw_gid)


def _run_as_service_user(
    command: Sequence[object], *, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        user=_service_user(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )


def _database_url(port: int) -> str:
    return f"postgres://{DATABASE_USER}:{DATABASE_PASSWORD}@127.0.0.1:{port}/{DATABASE_NAME}"


def _connect(port: int, *, user: str, password: str, dbname: str) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1",
        port=port,
        user=user,
        password=password,
        dbname=dbname,
        autocommit=True,
        connect_timeout=2,
    )


def launcher_command() -> list[str]:
    """The ``bazaar`` console script of this virtualenv, the launcher every role goes through."""
    beside_python = Path(sys.executable).with_name("bazaar")
    found = str(beside_python) if beside_python.exists() else shutil.which("bazaar")
    if found is None:
        pytest.fail("the `bazaar` launcher is not installed in this environment (uv sync)")
    return [found]


class PortBoundService:
    """A server on its own 127.0.0.1 port, wrapped in a ``ManagedProcess``.

    Other sessions on the machine probe the same port range, so a port can be taken between
    the probe and the bind: the first boot then retries on a fresh port. Later ``start()``
    calls (after ``stop()``) reuse the port, because clients already hold its URL.
    """

    name: str
    port: int
    process: ManagedProcess | None = None

    def _new_process(self) -> ManagedProcess:
        raise NotImplementedError

    def spawn(self) -> None:
        """Launch the first boot without waiting, so services can boot side by side."""
        self.process = self._new_process()
        self.process.spawn()

    def wait_booted(self, timeout: float = STARTUP_TIMEOUT) -> None:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self.process.wait_ready(timeout)
                return
            except ProcessStartError:
                lost_the_port = "address already in use" in (
                    self.process.output_of_last_run().lower()
                )
                if not lost_the_port or attempt == PORT_ATTEMPTS:
                    raise
            self.port = free_port()
            self.spawn()

    def boot(self, timeout: float = STARTUP_TIMEOUT) -> None:
        self.spawn()
        self.wait_booted(timeout)

    def start(self, timeout: float = STARTUP_TIMEOUT) -> None:
        self.process.start(timeout)

    def stop(self, timeout: float = 10) -> None:
        if self.process is not None:
            self.process.stop(timeout)

    def restart(self, timeout: float = STARTUP_TIMEOUT) -> None:
        self.stop()
        self.start(timeout)

    def kill(self) -> None:
        """SIGKILL the server and its children: a crash, not a shutdown."""
        self.process.kill()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections hang instead of failing, like a stall."""
        self.process.pause()

    def resume(self) -> None:
        self.process.resume()


class Postgres(PortBoundService):
    """A private Postgres 15 cluster tuned for tests (durability off: it is thrown away)."""

    name = "postgres"
    extra_arguments: Sequence[str] = ()

    def __init__(self, root: Path, log_dir: Path) -> None:
        self.home = _hand_to_service_user(root / self.name)
        self.data_dir = self.home / "data"
        self.log_dir = log_dir
        self.port = free_port()

    def _new_process(self) -> ManagedProcess:
        command = [
            POSTGRES_BIN / "postgres",
            "-D", self.data_dir,
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"port={self.port}",
            "-c", "unix_socket_directories=",
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
            "-c", "max_connections=200",
            *self.extra_arguments,
        ]  # fmt: skip
        return ManagedProcess(
            self.name,
            command,
            log_dir=self.log_dir,
            cwd=self.home,
            user=_service_user(),
            ready_check=self.accepts_queries,
            # SIGTERM is the "smart" shutdown: it would wait for PgBouncer's connections.
            stop_signal=signal.SIGINT,
        )

    @property
    def url(self) -> str:
        return _database_url(self.port)

    def initialise(self) -> None:
        """initdb the cluster; the superuser gets a password because every login uses scram."""
        password_file = self.home / "superuser-password"
        _write_service_file(password_file, SUPERUSER_PASSWORD)
        command = [
            POSTGRES_BIN / "initdb",
            "--pgdata", self.data_dir,
            "--username", SUPERUSER,
            "--pwfile", password_file,
            "--auth", "scram-sha-256",
            "--encoding", "UTF8",
            "--locale", "C.UTF-8",
            "--no-sync",
            "--no-instructions",
        ]  # fmt: skip
        result = _run_as_service_user(command, cwd=self.home)
        password_file.unlink()
        if result.returncode != 0:
            raise ProcessStartError(f"initdb failed:\n{result.stdout}")

    def create_application_database(self) -> None:
        with self.connect(user=SUPERUSER, password=SUPERUSER_PASSWORD, dbname="postgres") as conn:
            conn.execute(
                f"CREATE ROLE {DATABASE_USER} LOGIN CREATEDB PASSWORD '{DATABASE_PASSWORD}'"
            )
            conn.execute(f"CREATE DATABASE {DATABASE_NAME} OWNER {DATABASE_USER}")

    def connect(
        self,
        *,
        user: str = DATABASE_USER,
        password: str = DATABASE_PASSWORD,
        dbname: str = DATABASE_NAME,
    ) -> psycopg.Connection:
        """An autocommit connection straight to Postgres, bypassing PgBouncer."""
        return _connect(self.port, user=user, password=password, dbname=dbname)

    def superuser_query(self, query: str, params: Sequence[object] = ()) -> list[dict]:
        """Run ``query`` as the superuser in the ``postgres`` database; the rows as dicts."""
        with self.connect(user=SUPERUSER, password=SUPERUSER_PASSWORD, dbname="postgres") as conn:
            cursor = conn.cursor(row_factory=dict_row).execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def accepts_queries(self) -> bool:
        try:
            with self.connect(user=SUPERUSER, password=SUPERUSER_PASSWORD, dbname="postgres"):
                return True
        except psycopg.OperationalError:
            return False


class PgBouncer(PortBoundService):
    """PgBouncer in transaction mode in front of ``postgres``, as the chart deploys it."""

    def __init__(
        self,
        root: Path,
        log_dir: Path,
        postgres: Postgres,
        *,
        name: str = "pgbouncer",
        extra_settings: str = "",
    ) -> None:
        self.name = name
        self.home = _hand_to_service_user(root / name)
        self.log_dir = log_dir
        self.postgres = postgres
        self.extra_settings = extra_settings
        self.port = free_port()
        self.config_path = self.home / "pgbouncer.ini"
        self.userlist_path = self.home / "userlist.txt"
        _write_service_file(
            self.userlist_path,
            f'"{DATABASE_USER}" "{DATABASE_PASSWORD}"\n'
            f'"{PGBOUNCER_ADMIN}" "{PGBOUNCER_ADMIN_PASSWORD}"\n',
        )

    def _new_process(self) -> ManagedProcess:
        _write_service_file(
            self.config_path,
            f"""\
[databases]
* = host=127.0.0.1 port={self.postgres.port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {self.userlist_path}
admin_users = {PGBOUNCER_ADMIN}
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
server_login_retry = 2
ignore_startup_parameters = extra_float_digits,options
{self.extra_settings}""",
        )
        return ManagedProcess(
            self.name,
            ["pgbouncer", self.config_path],
            log_dir=self.log_dir,
            cwd=self.home,
            user=_service_user(),
            ready_port=self.port,
        )

    @property
    def url(self) -> str:
        return _database_url(self.port)

    def connect(self, *, dbname: str = DATABASE_NAME) -> psycopg.Connection:
        """An autocommit connection to ``dbname`` through PgBouncer."""
        return _connect(self.port, user=DATABASE_USER, password=DATABASE_PASSWORD, dbname=dbname)

    def admin_query(self, command: str) -> list[dict[str, object]]:
        """Run a console command (``SHOW POOLS``, ``RECONNECT``, ...) on the admin database."""
        # The admin console speaks only the simple query protocol, hence the ClientCursor.
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=PGBOUNCER_ADMIN,
            password=PGBOUNCER_ADMIN_PASSWORD,
            dbname="pgbouncer",
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
            row_factory=dict_row,
        ) as conn:
            cursor = conn.execute(command)
            return cursor.fetchall() if cursor.description else []

    def show_pools(self) -> list[dict[str, object]]:
        return self.admin_query("SHOW POOLS")


class Standby(Postgres):
    """A hot standby of ``primary`` that streams its WAL (``pg_basebackup -R``): the read
    replica. It loads pg_stat_statements, so a test can see which statements it served."""

    name = "postgres-replica"
    extra_arguments = ("-c", "shared_preload_libraries=pg_stat_statements")

    def __init__(self, root: Path, log_dir: Path, primary: Postgres) -> None:
        super().__init__(root, log_dir)
        self.primary = primary

    def initialise(self) -> None:
        """Copy the primary as it is now; the copy's recovery settings point back at it."""
        command = [
            POSTGRES_BIN / "pg_basebackup",
            "--pgdata", self.data_dir,
            "--host", "127.0.0.1",
            "--port", self.primary.port,
            "--username", SUPERUSER,
            "--write-recovery-conf",
            "--wal-method", "stream",
            "--checkpoint", "fast",
            "--no-sync",
        ]  # fmt: skip
        result = _run_as_service_user(
            command, cwd=self.home, env={**os.environ, "PGPASSWORD": SUPERUSER_PASSWORD}
        )
        if result.returncode != 0:
            raise ProcessStartError(f"pg_basebackup failed:\n{result.stdout}")


class Replica:
    """The read replica: a ``Standby`` of the session's Postgres behind its own PgBouncer in
    transaction mode, configured like the chart's read pool (``query_wait_timeout``: a query
    waits that long for a standby that is down, then fails and the app reads the primary)."""

    QUERY_WAIT_TIMEOUT = 2

    def __init__(self, root: Path, log_dir: Path, primary: Postgres) -> None:
        self.primary = primary
        self.postgres = Standby(root, log_dir, primary)
        self.pgbouncer = PgBouncer(
            root,
            log_dir,
            self.postgres,
            name="pgbouncer-replica",
            extra_settings=f"query_wait_timeout = {self.QUERY_WAIT_TIMEOUT}\n",
        )

    def start(self) -> None:
        self.primary.superuser_query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        self.postgres.initialise()
        self.postgres.boot()
        self.pgbouncer.boot()

    def stop(self) -> None:
        self.pgbouncer.stop()
        self.postgres.stop()

    @property
    def url(self) -> str:
        """``DATABASE_REPLICA_URL``: the standby through its PgBouncer."""
        return self.pgbouncer.url

    def statements(self) -> list[dict]:
        """What the standby ran in the app's database since ``reset_statements()``:
        ``query`` (normalised text) and ``calls``."""
        return self.postgres.superuser_query(
            "SELECT query, calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = %s ORDER BY calls DESC",
            [DATABASE_NAME],
        )

    def reset_statements(self) -> None:
        self.postgres.superuser_query("SELECT pg_stat_statements_reset()")

    def pause_replay(self) -> None:
        """Stop applying the primary's changes: the replica lags until ``resume_replay()``."""
        self.postgres.superuser_query("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.postgres.superuser_query("SELECT pg_wal_replay_resume()")

    def wait_caught_up(self, timeout: float = 10) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        # The end of a record written now: the standby's replay position reaches it exactly,
        # unlike the insert position, which stops short of it at a page boundary.
        (row,) = self.primary.superuser_query(
            "SELECT pg_logical_emit_message(false, 'bazaar-tests', 'caught up?') AS lsn"
        )
        target = row["lsn"]
        deadline = time.monotonic() + timeout
        while not self.postgres.superuser_query(
            "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn AS done", [target]
        )[0]["done"]:
            if time.monotonic() > deadline:
                raise AssertionError(f"the replica did not replay up to {target} in {timeout:g}s")
            time.sleep(0.02)


class Redis(PortBoundService):
    """redis-server with no persistence: a restart starts empty, as a cache pod would."""

    name = "redis"

    def __init__(self, root: Path, log_dir: Path) -> None:
        self.home = root / "redis"
        self.home.mkdir()
        self.log_dir = log_dir
        self.port = free_port()

    def _new_process(self) -> ManagedProcess:
        command = [
            "redis-server",
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", self.home,
        ]  # fmt: skip
        return ManagedProcess(
            self.name, command, log_dir=self.log_dir, cwd=self.home, ready_port=self.port
        )

    @property
    def url(self) -> str:
        return self.url_for(0)

    def url_for(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_timeout=2)


class SmtpSink(PortBoundService):
    """A real SMTP server (aiosmtpd) that files every message it accepts into a maildir."""

    name = "smtp"

    def __init__(self, root: Path, log_dir: Path) -> None:
        self.home = root
        self.maildir = root / "maildir"
        self.log_dir = log_dir
        self.port = free_port()

    def _new_process(self) -> ManagedProcess:
        command = [
            sys.executable, "-m", "aiosmtpd",
            "--nosetuid",
            "--listen", f"127.0.0.1:{self.port}",
            "--class", "aiosmtpd.handlers.Mailbox", self.maildir,
        ]  # fmt: skip
        return ManagedProcess(
            self.name, command, log_dir=self.log_dir, cwd=self.home, ready_port=self.port
        )

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def _mailbox(self) -> mailbox.Maildir:
        return mailbox.Maildir(self.maildir, create=True)

    def messages(self) -> list[EmailMessage]:
        """Every message received since the last ``clear()``, oldest first."""
        received = sorted(self._mailbox(), key=lambda message: message.get_date())
        return [
            email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
            for message in received
        ]

    def wait_for_messages(self, count: int = 1, timeout: float = 30) -> list[EmailMessage]:
        """Wait until at least ``count`` messages arrived (mail sent by a worker is async)."""
        deadline = time.monotonic() + timeout
        while len(received := self.messages()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(received)} of {count} messages after {timeout:g}s")
            time.sleep(0.05)
        return received

    def clear(self) -> None:
        self._mailbox().clear()


class PaymentProviderSimulator(PortBoundService):
    """The bundled payment-provider simulator, run through the launcher like every role."""

    name = "psp-simulator"

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.port = free_port()

    def _new_process(self) -> ManagedProcess:
        return ManagedProcess(
            self.name,
            [*launcher_command(), "psp-simulator"],
            log_dir=self.log_dir,
            cwd=APP_DIR,
            env={**os.environ, "HOST": "127.0.0.1", "PORT": str(self.port)},
            ready_url=f"http://127.0.0.1:{self.port}/healthz",
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class CeleryWorker(ManagedProcess):
    """A ``bazaar worker`` process and the files and port its probes use."""

    def __init__(
        self,
        *,
        pool: str,
        queues: Sequence[str],
        concurrency: int,
        work_dir: Path,
        log_dir: Path,
        env: Mapping[str, str],
    ) -> None:
        self.pool = pool
        self.queues = list(queues)
        self.heartbeat_file = work_dir / "heartbeat"
        self.ready_file = work_dir / "ready"
        self.metrics_port = free_port()
        command = [
            *launcher_command(), "worker", pool,
            "--queues", ",".join(self.queues),
            "--concurrency", str(concurrency),
        ]  # fmt: skip
        super().__init__(
            f"worker-{work_dir.name}",
            command,
            log_dir=log_dir,
            cwd=APP_DIR,
            env={
                **env,
                "DJANGO_SETTINGS_MODULE": TEST_SETTINGS_MODULE,
                "CELERY_HEARTBEAT_FILE": str(self.heartbeat_file),
                "CELERY_READY_FILE": str(self.ready_file),
                "METRICS_PORT": str(self.metrics_port),
                # The launcher empties this folder on start: one per worker, never shared.
                "PROMETHEUS_MULTIPROC_DIR": str(work_dir / "metrics"),
            },
            ready_file=self.ready_file,
        )


class Services:
    """The session's services, their temporary directory and the environment they export."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bazaar-test-services-"))
        # Postgres and PgBouncer run as another OS user and must reach their own directories.
        self.root.chmod(0o755)
        self.log_dir = self.root / "logs"
        self.log_dir.mkdir()
        self.postgres = Postgres(self.root, self.log_dir)
        self.pgbouncer = PgBouncer(self.root, self.log_dir, self.postgres)
        self.redis = Redis(self.root, self.log_dir)
        self.smtp = SmtpSink(self.root, self.log_dir)
        self.replica: Replica | None = None
        self._worker_count = 0
        self.startup_seconds = 0.0

    def start(self) -> None:
        """Boot everything, Redis and SMTP beside Postgres, or stop what started and raise."""
        began = time.monotonic()
        try:
            self.redis.spawn()
            self.smtp.spawn()
            self.postgres.initialise()
            self.postgres.boot()
            self.postgres.create_application_database()
            self.pgbouncer.boot()
            self.redis.wait_booted()
            self.smtp.wait_booted()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began

    def stop(self) -> None:
        if self.replica is not None:
            self.replica.stop()
        for service in (self.pgbouncer, self.postgres, self.redis, self.smtp):
            service.stop()

    def start_replica(self) -> Replica:
        """The read replica, made and started on first use (it costs a base backup)."""
        if self.replica is None:
            self.replica = Replica(self.root, self.log_dir, self.postgres)
            try:
                self.replica.start()
            except BaseException:
                self.replica.stop()
                raise
        return self.replica

    def remove_files(self, *, keep_logs: bool) -> None:
        """Delete data and logs, or everything but the logs (a failed session's evidence)."""
        if not keep_logs:
            shutil.rmtree(self.root, ignore_errors=True)
            return
        for entry in self.root.iterdir():
            if entry != self.log_dir:
                shutil.rmtree(entry, ignore_errors=True)

    def environment(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.pgbouncer.url,
            "DATABASE_DIRECT_URL": self.postgres.url,
            "DATABASE_POOLER": "pgbouncer",
            "REDIS_URL": self.redis.url_for(0),
            "CELERY_BROKER_URL": self.redis.url_for(1),
            "EMAIL_URL": self.smtp.url,
        }

    def new_worker_dir(self, pool: str) -> Path:
        self._worker_count += 1
        work_dir = self.root / "workers" / f"{pool}-{self._worker_count}"
        work_dir.mkdir(parents=True)
        return work_dir


# --- pytest hooks ---------------------------------------------------------------------------

services_key = pytest.StashKey["Services | None"]()
session_failed_key = pytest.StashKey[bool]()
saved_environment_key = pytest.StashKey[dict[str, "str | None"]]()


def _services_wanted(config: pytest.Config) -> bool:
    options = config.known_args_namespace
    if os.environ.get("BAZAAR_TEST_SERVICES", "1") == "0":
        return False
    if options.collectonly or options.help or options.version:
        return False
    is_xdist_controller = "PYTEST_XDIST_WORKER" not in os.environ and bool(
        getattr(options, "numprocesses", None)
    )
    return not is_xdist_controller


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser, args):
    """Start the services and export their URLs before pytest-django imports the settings."""
    early_config.stash[services_key] = None
    if _services_wanted(early_config):
        services = Services()
        try:
            services.start()
        except ProcessStartError as error:
            services.remove_files(keep_logs=True)
            raise pytest.UsageError(
                f"bazaar test services failed to start (logs: {services.log_dir}):\n{error}"
            ) from error
        early_config.stash[services_key] = services
        # A SIGTERM (CI's time limit, `kill`) ends the run like Ctrl-C, so the services stop.
        signal.signal(signal.SIGTERM, _interrupt)
        exported = services.environment()
        early_config.stash[saved_environment_key] = {key: os.environ.get(key) for key in exported}
        os.environ.update(exported)
    try:
        return (yield)
    except BaseException:
        _shut_down(early_config)
        raise


def pytest_configure(config: pytest.Config) -> None:
    if config.stash.get(services_key, None) is not None and config.pluginmanager.hasplugin(
        "django"
    ):
        # Registered now, after pytest-django, so that this django_db_setup overrides its own.
        config.pluginmanager.register(ExistingDatabasePlugin(), "bazaar-existing-database")


def pytest_report_header(config: pytest.Config) -> str:
    services = config.stash.get(services_key, None)
    if services is None:
        return "bazaar services: not started"
    return (
        f"bazaar services: postgres :{services.postgres.port}, "
        f"pgbouncer :{services.pgbouncer.port}, redis :{services.redis.port}, "
        f"smtp :{services.smtp.port}; started in {services.startup_seconds:.1f}s; "
        f"files {services.root}"
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[session_failed_key] = exitstatus != pytest.ExitCode.OK


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    services = config.stash.get(services_key, None)
    if services is not None and exitstatus != pytest.ExitCode.OK:
        terminalreporter.write_line(f"bazaar services logs kept in {services.log_dir}")


def pytest_unconfigure(config: pytest.Config) -> None:
    _shut_down(config)


def _shut_down(config: pytest.Config) -> None:
    services = config.stash.get(services_key, None)
    if services is None:
        return
    config.stash[services_key] = None
    services.stop()
    for key, value in config.stash.get(saved_environment_key, {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    services.remove_files(keep_logs=config.stash.get(session_failed_key, True))


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def services(pytestconfig: pytest.Config) -> Services:
    running = pytestconfig.stash.get(services_key, None)
    if running is None:
        pytest.skip("real services are off (BAZAAR_TEST_SERVICES=0)")
    return running


@pytest.fixture(scope="session")
def replica(services: Services) -> Replica:
    return services.start_replica()


@pytest.fixture(scope="session")
def psp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PaymentProviderSimulator]:
    simulator = PaymentProviderSimulator(log_dir=tmp_path_factory.mktemp("psp-simulator"))
    simulator.boot()
    previous_url = os.environ.get("PAYMENT_PROVIDER_URL")
    os.environ["PAYMENT_PROVIDER_URL"] = simulator.url
    django_settings = _configured_django_settings()
    if django_settings is not None:
        previous_setting = getattr(django_settings, "PAYMENT_PROVIDER_URL", None)
        django_settings.PAYMENT_PROVIDER_URL = simulator.url
    yield simulator
    simulator.stop()
    if previous_url is None:
        os.environ.pop("PAYMENT_PROVIDER_URL", None)
    else:
        os.environ["PAYMENT_PROVIDER_URL"] = previous_url
    if django_settings is not None:
        django_settings.PAYMENT_PROVIDER_URL = previous_setting


def _configured_django_settings():
    if "django.conf" not in sys.modules:
        return None
    from django.conf import settings

    return settings if settings.configured else None


@pytest.fixture
def celery_worker(services: Services):
    started: list[CeleryWorker] = []

    def start_worker(
        pool: str = "default",
        queues: Sequence[str] = DEFAULT_WORKER_QUEUES,
        concurrency: int = 2,
        extra_env: Mapping[str, str] | None = None,
    ) -> CeleryWorker:
        worker = CeleryWorker(
            pool=pool,
            queues=queues,
            concurrency=concurrency,
            work_dir=services.new_worker_dir(pool),
            log_dir=services.log_dir,
            env={**os.environ, **(extra_env or {})},
        )
        started.append(worker)
        worker.start(WORKER_STARTUP_TIMEOUT)
        return worker

    yield start_worker
    for worker in reversed(started):
        worker.stop(timeout=20)


class ExistingDatabasePlugin:
    """Use the ``bazaar`` database the services created instead of a ``test_`` copy."""

    @pytest.fixture(scope="session")
    def django_db_setup(self, django_test_environment, django_db_blocker) -> None:
        from django.core.management import call_command

        with django_db_blocker.unblock():
            call_command("migrate", interactive=False, verbosity=0)
