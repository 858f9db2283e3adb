"""A read replica of the stack's Postgres, for the suite's ``app-replica`` server.

A hot standby made with ``pg_basebackup -R`` from the running ``make stack``'s Postgres, which
streams from it for as long as the suite runs, and a PgBouncer in transaction mode in front of
it, configured as the stack's own pool plus the chart read pool's ``query_wait_timeout``. Both
live in the run's folder and stop with the suite; the stack itself is left as it was.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from loadtests.stack_env import stack_state
from tools.stack import configs
from tools.stack.processes import RunningProcess, port_accepts, start_detached, wait_until
from tools.stack.runner import DATABASE, DATABASE_USER, POSTGRES_BIN, SUPERUSER, Stack

READY_TIMEOUT = 60
# As the chart's pgbouncer.readPool.queryWaitTimeout.
QUERY_WAIT_TIMEOUT = 3


@dataclass
class Replica:
    home: Path
    postgres_port: int
    pgbouncer_port: int
    processes: list[RunningProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Postgres and PgBouncer refuse to run as root; the stack runs them as postgres then.
        self.user = SUPERUSER if os.geteuid() == 0 else None
        self.keys = Stack()._secrets()
        self.primary_port = stack_state()["ports"]["postgres"]

    @property
    def url(self) -> str:
        """``DATABASE_REPLICA_URL`` of the read pool."""
        password = self.keys["database_password"]
        return f"postgres://{DATABASE_USER}:{password}@127.0.0.1:{self.pgbouncer_port}/{DATABASE}"

    def start(self) -> None:
        self._owned_directory(self.home)
        data_dir = self.home / "data"
        self._run(
            [POSTGRES_BIN / "pg_basebackup", "--pgdata", data_dir, "--host", "127.0.0.1",
             "--port", self.primary_port, "--username", SUPERUSER, "--write-recovery-conf",
             "--wal-method", "stream", "--checkpoint", "fast", "--no-sync"],
        )  # fmt: skip
        self._start(
            "postgres-replica",
            [POSTGRES_BIN / "postgres", "-D", data_dir, "-c", "listen_addresses=127.0.0.1",
             "-c", f"port={self.postgres_port}", "-c", "unix_socket_directories=",
             "-c", "max_connections=200"],
            ready=self._standby_accepts,
            stop_signal=signal.SIGINT,  # Postgres's fast shutdown
        )  # fmt: skip
        userlist = self.home / "userlist.txt"
        self._private_file(userlist, f'"{DATABASE_USER}" "{self.keys["database_password"]}"\n')
        config = self.home / "pgbouncer.ini"
        ini = configs.pgbouncer_ini(
            listen_port=self.pgbouncer_port,
            postgres_port=self.postgres_port,
            userlist=userlist,
            admin_user=DATABASE_USER,
        )
        self._private_file(config, f"{ini}query_wait_timeout = {QUERY_WAIT_TIMEOUT}\n")
        self._start(
            "pgbouncer-replica",
            ["pgbouncer", config],
            ready=lambda: port_accepts(self.pgbouncer_port),
        )

    def queries_served(self) -> int:
        """Queries the read pool passed to the standby (PgBouncer's ``SHOW STATS``)."""
        with psycopg.connect(
            self.url.rsplit("/", 1)[0] + "/pgbouncer",
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,  # the console speaks the simple protocol only
            row_factory=dict_row,
        ) as console:
            stats = console.execute("SHOW STATS").fetchall()
        return sum(int(row["total_query_count"]) for row in stats if row["database"] == DATABASE)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop(timeout=30)

    def _standby_accepts(self) -> bool:
        try:
            with psycopg.connect(
                host="127.0.0.1",
                port=self.postgres_port,
                user=SUPERUSER,
                password=self.keys["superuser_password"],
                dbname="postgres",
                connect_timeout=2,
            ) as conn:
                return conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        except psycopg.OperationalError:
            return False

    def _start(self, name, command, *, ready, stop_signal=signal.SIGTERM) -> None:
        log_path = self.home.parent / "logs" / f"{name}.log"
        process = start_detached(
            name,
            command,
            env={"PATH": os.environ.get("PATH", "")},
            cwd=self.home,
            log_path=log_path,
            user=self.user,
            stop_signal=stop_signal,
        )
        self.processes.append(process)
        if not wait_until(lambda: ready() or not process.is_alive(), READY_TIMEOUT, 0.2):
            raise RuntimeError(f"{name} was not ready in {READY_TIMEOUT}s; see {log_path}")
        if not process.is_alive():
            raise RuntimeError(f"{name} exited during start; see {log_path}")

    def _run(self, command: list) -> None:
        result = subprocess.run(  # noqa: S603 - fixed arguments
            [str(part) for part in command],
            cwd=self.home,
            env={"PATH": os.environ.get("PATH", ""), "PGPASSWORD": self.keys["superuser_password"]},
            user=self.user,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed:\n{result.stdout}{result.stderr}")

    def _owned_directory(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
        self._chown(path)

    def _private_file(self, path: Path, text: str) -> None:
        path.touch(mode=0o600)
        path.write_text(text)
        self._chown(path)

    def _chown(self, path: Path) -> None:
        if self.user:
            account = pwd.getpwnam(self.user)
            os.chown(path, account.pw_uid, account.pw_gid)
