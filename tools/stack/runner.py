"""Bring the one-machine stack up and down; see the package docstring for what it runs."""

from __future__ import annotations

import json
import os
import pwd
import secrets
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import yaml
from psycopg import sql

from bazaar.common.slices import DEFAULT_SLICE, SLICES
from tools.locks import exclusive_lock
from tools.stack import configs
from tools.stack.processes import (
    RunningProcess,
    free_ports,
    port_accepts,
    port_is_free,
    start_detached,
    wait_until,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = REPO_ROOT / ".stack"
CHART_VALUES = REPO_ROOT / "charts" / "bazaar" / "values.yaml"
RULES_DIR = REPO_ROOT / "observability" / "prometheus" / "rules"
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
LOAD_BALANCER_PORT = 8080
PROMETHEUS_PORT = 9090
# Internal ports are probed from here: well above where the test fixtures probe from (20000),
# below the ephemeral range (32768-60999) that is busy on these machines.
FIRST_INTERNAL_PORT = 29000
WEB_PROCESSES = 2
REDIS_MAXMEMORY = "256mb"
DATABASE = "bazaar"
DATABASE_USER = "bazaar"
SUPERUSER = "postgres"
ADMIN_EMAIL = "admin@bazaar.local"
READY_TIMEOUT = 90
STOP_TIMEOUT = 30


class StackError(RuntimeError):
    """The stack could not be brought to the requested state; the message says why."""


@dataclass(frozen=True)
class WebProcess:
    """One ``bazaar web``: ``web-N`` serving every path, or ``web-NAME`` serving slice NAME."""

    name: str
    slice: str | None = None

    @property
    def port_key(self) -> str:
        return self.name.replace("-", "_")

    @property
    def command(self) -> list[str]:
        return ["web", "--slice", self.slice] if self.slice else ["web"]


def web_processes(*, slices: bool) -> list[WebProcess]:
    """Two processes serving every path behind round robin, or one per slice of the app."""
    if slices:
        return [WebProcess(f"web-{name}", name) for name in SLICES]
    return [WebProcess(f"web-{index}") for index in range(1, WEB_PROCESSES + 1)]


@dataclass(frozen=True)
class WorkerPool:
    name: str
    queues: tuple[str, ...]
    concurrency: int


def chart_worker_pools(values_file: Path = CHART_VALUES) -> list[WorkerPool]:
    """The pools of ``workers:`` in the chart's values (over ``workerDefaults``, as the chart
    merges them): the one definition of the pools."""
    values = yaml.safe_load(values_file.read_text())
    pools = []
    for overrides in values["workers"]:
        pool = {**values.get("workerDefaults", {}), **overrides}
        queues = tuple(pool.get("queues") or [pool["name"]])
        pools.append(WorkerPool(pool["name"], queues, int(pool["concurrency"])))
    return pools


def _service_user() -> str | None:
    """Postgres and PgBouncer refuse to run as root; then they run as the postgres account."""
    return SUPERUSER if os.geteuid() == 0 else None


def _http_ok(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - local URLs
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Stack:
    def __init__(
        self,
        state_dir: Path = STATE_DIR,
        *,
        slices: bool = False,
        load_balancer_port: int = LOAD_BALANCER_PORT,
        prometheus_port: int = PROMETHEUS_PORT,
    ) -> None:
        """``slices``: one web process per web slice, routed by path (see ``up --slices``);
        the public ports are fixed by default and only moved by the test fixtures."""
        # Absolute: Postgres and its tools run from their own folders.
        self.state_dir = state_dir.resolve()
        self.slices = slices
        self.load_balancer_port = load_balancer_port
        self.prometheus_port = prometheus_port
        self.state_file = self.state_dir / "state.json"
        self.log_dir = self.state_dir / "logs"
        self.run_dir = self.state_dir / "run"
        self.launcher = Path(sys.executable).with_name("bazaar")
        self._processes: list[RunningProcess] = []
        self._state: dict = {}

    # --- commands ---------------------------------------------------------------------------

    def up(self) -> None:
        with self._lock():
            previous = self._load_state()
            same_shape = bool(previous.get("slices")) == self.slices
            if previous and same_shape and self._is_healthy(previous):
                print("The stack is already running.")
                self._print_urls(previous)
                return
            if previous and not same_shape:
                print("The running stack's web processes are split differently; restarting it.")
                self._stop_all(previous)
            elif previous:
                print("A previous stack is partly running; stopping it first.")
                self._stop_all(previous)
            for port, what in (
                (self.load_balancer_port, "load balancer"),
                (self.prometheus_port, "Prometheus"),
            ):
                if not port_is_free(port):
                    raise StackError(f"127.0.0.1:{port} (the {what}) is taken by another program")
            try:
                self._start_everything()
            except StackError:
                self._stop_all(self._state)
                raise
            self._print_urls(self._state)

    def down(self) -> None:
        with self._lock():
            state = self._load_state()
            if not state:
                print("The stack is not running.")
                return
            self._stop_all(state)
            print("The stack is stopped; data and logs are kept in", self.state_dir)

    def print_status(self) -> bool:
        state = self._load_state()
        if not state:
            print("The stack is not running.")
            return False
        alive = True
        for process in self._recorded(state):
            running = process.is_alive()
            alive &= running
            print(f"{process.name:24} pid {process.pid:<8} {'up' if running else 'DOWN'}")
        return alive

    def print_logs(self, names: list[str], lines: int) -> None:
        logs = sorted(self.log_dir.glob("*.log"))
        for log in logs:
            if names and log.stem not in names:
                continue
            print(f"==> {os.path.relpath(log, REPO_ROOT)} <==")
            print("\n".join(log.read_text(errors="replace").splitlines()[-lines:]))

    # --- state ------------------------------------------------------------------------------

    def _lock(self) -> AbstractContextManager[None]:
        """One `up` or `down` at a time, whoever runs it."""
        return exclusive_lock(self.state_dir / "lock")

    def _load_state(self) -> dict:
        if not self.state_file.exists():
            return {}
        return json.loads(self.state_file.read_text())

    def _save_state(self) -> None:
        self._state["processes"] = [p.to_json() for p in self._processes]
        self.state_file.write_text(json.dumps(self._state, indent=2) + "\n")

    @staticmethod
    def _recorded(state: Mapping) -> list[RunningProcess]:
        return [RunningProcess(**p) for p in state.get("processes", [])]

    def _is_healthy(self, state: Mapping) -> bool:
        processes = self._recorded(state)
        return (
            bool(processes)
            and all(p.is_alive() for p in processes)
            and _http_ok(f"{state['urls']['shop']}readyz")
            and _http_ok(f"{state['urls']['prometheus']}/-/ready")
        )

    def _stop_all(self, state: Mapping) -> None:
        """Stop every recorded group, newest first, and check nothing of ours is left.

        Internal ports are only probed, never reserved, so once our processes are gone another
        program may legitimately bind one; the fixed public ports must be free though.
        """
        processes = self._recorded(state)
        for process in reversed(processes):
            process.stop(STOP_TIMEOUT)
        leftovers = [p.name for p in processes if p.is_alive() or p.group_members()]
        public = (state["ports"]["load_balancer"], state["ports"]["prometheus"])
        ports_in_use = [] if wait_until(lambda: all(map(port_is_free, public)), 10) else public
        if leftovers or ports_in_use:
            raise StackError(f"still running: {leftovers}; ports still bound: {ports_in_use}")
        self.state_file.unlink(missing_ok=True)

    def _secrets(self) -> dict[str, str]:
        """Generated on the first `up` and kept, so data made under them stays usable."""
        path = self.state_dir / "secrets.json"
        if path.exists():
            return json.loads(path.read_text())
        generated = {
            "SECRET_KEY": secrets.token_urlsafe(64),
            "database_password": secrets.token_urlsafe(24),
            "superuser_password": secrets.token_urlsafe(24),
            "admin_password": secrets.token_urlsafe(12),
            "PAYMENT_PROVIDER_API_KEY": f"sk_stack_{secrets.token_hex(12)}",
            "PAYMENT_WEBHOOK_SECRET": f"whsec_stack_{secrets.token_hex(16)}",
        }
        path.touch(mode=0o600)
        path.write_text(json.dumps(generated, indent=2) + "\n")
        return generated

    # --- bring-up ---------------------------------------------------------------------------

    def _start_everything(self) -> None:
        pools = chart_worker_pools()
        webs = web_processes(slices=self.slices)
        keys = self._secrets()
        names = [
            "postgres", "pgbouncer", "redis", "smtp", "psp", "exporter",
            "pgbouncer_exporter", "redis_exporter",
            *(web.port_key for web in webs),
            *(f"worker_{pool.name}" for pool in pools),
        ]  # fmt: skip
        public = {"load_balancer": self.load_balancer_port, "prometheus": self.prometheus_port}
        internal = free_ports(len(names), FIRST_INTERNAL_PORT, taken=set(public.values()))
        ports = dict(zip(names, internal, strict=True)) | public
        self._processes = []
        self._state = {
            "ports": ports,
            "slices": [web.slice for web in webs if web.slice],
            "urls": {
                "shop": f"http://127.0.0.1:{self.load_balancer_port}/",
                "prometheus": f"http://127.0.0.1:{self.prometheus_port}",
                "psp": f"http://127.0.0.1:{ports['psp']}",
                "web": [f"http://127.0.0.1:{ports[web.port_key]}/" for web in webs],
            },
            "maildir": str(self.state_dir / "mail" / "maildir"),
            "admin": {"email": ADMIN_EMAIL, "password": keys["admin_password"]},
            "worker_pools": [pool.name for pool in pools],
        }
        self._save_state()

        self._start_postgres(ports, keys)
        self._start_pgbouncer(ports, keys)
        self._start(
            "redis",
            ["redis-server", "--bind", "127.0.0.1", "--port", ports["redis"], "--save", "",
             "--appendonly", "no", "--dir", self._home("redis"),
             # As the managed cache (terraform/modules/cache): bounded, evicting only keys with
             # a TTL (cache entries), never the broker's queues; RedisMemoryHigh needs the bound.
             "--maxmemory", REDIS_MAXMEMORY, "--maxmemory-policy", "volatile-lru"],
            ready=lambda: port_accepts(ports["redis"]),
        )  # fmt: skip
        maildir = self._home("mail") / "maildir"
        self._start(
            "smtp",
            [sys.executable, "-m", "aiosmtpd", "--nosetuid", "--listen",
             f"127.0.0.1:{ports['smtp']}", "--class", "aiosmtpd.handlers.Mailbox", maildir],
            ready=lambda: port_accepts(ports["smtp"]),
        )  # fmt: skip
        app_env = self._app_env(ports, keys)
        self._start(
            "psp",
            [self.launcher, "psp-simulator"],
            env={
                "HOST": "127.0.0.1",
                "PORT": str(ports["psp"]),
                "PSP_API_KEY": keys["PAYMENT_PROVIDER_API_KEY"],
                "PSP_WEBHOOK_SECRET": keys["PAYMENT_WEBHOOK_SECRET"],
                "PSP_WEBHOOK_URL": f"{self._state['urls']['shop']}api/v1/payments/webhook/",
            },
            ready=lambda: _http_ok(f"{self._state['urls']['psp']}/healthz"),
        )

        self._run_once("migrate", [self.launcher, "migrate"], app_env)
        static_env = {**app_env, "STATIC_ROOT": str(self._home("static"))}
        self._run_once(
            "collectstatic", [self.launcher, "manage", "collectstatic", "--noinput"], static_env
        )
        self._run_once(
            "bootstrap",
            [self.launcher, "bootstrap"],
            {**app_env, "DJANGO_SUPERUSER_EMAIL": ADMIN_EMAIL,
             "DJANGO_SUPERUSER_PASSWORD": keys["admin_password"]},
        )  # fmt: skip

        for web in webs:
            port = ports[web.port_key]
            self._start(
                web.name,
                [self.launcher, *web.command],
                env={
                    **static_env,
                    "HOST": "127.0.0.1",
                    "PORT": str(port),
                    "PROMETHEUS_MULTIPROC_DIR": str(self._run_dir(web.name) / "metrics"),
                },
                ready=lambda port=port: _http_ok(f"http://127.0.0.1:{port}/readyz"),
            )
        for pool in pools:
            self._start_worker(pool, ports[f"worker_{pool.name}"], app_env)
        beat_env = {
            **app_env,
            "CELERY_BEAT_TICK_FILE": str(self._run_dir("beat") / "tick"),
            "CELERY_BEAT_SCHEDULE_FILENAME": str(self._run_dir("beat") / "schedule"),
        }
        self._start(
            "beat",
            [self.launcher, "beat"],
            env=beat_env,
            ready=lambda: self._probe(["probe", "beat"], beat_env),
        )
        self._start(
            "exporter",
            [self.launcher, "exporter"],
            env={**app_env, "METRICS_HOST": "127.0.0.1", "METRICS_PORT": str(ports["exporter"])},
            ready=lambda: _http_ok(f"http://127.0.0.1:{ports['exporter']}/healthz"),
        )
        self._start(
            "pgbouncer-exporter",
            [sys.executable, "-m", "tools.stack.pgbouncer_exporter",
             f"--web.listen-address=127.0.0.1:{ports['pgbouncer_exporter']}"],
            env={
                "PGBOUNCER_EXPORTER_CONNECTION_STRING": (
                    f"postgres://{DATABASE_USER}:{keys['database_password']}"
                    f"@127.0.0.1:{ports['pgbouncer']}/pgbouncer"
                ),
            },
            cwd=REPO_ROOT,
            ready=lambda: _http_ok(f"http://127.0.0.1:{ports['pgbouncer_exporter']}/metrics"),
        )  # fmt: skip
        self._start(
            "redis-exporter",
            ["prometheus-redis-exporter", "-redis.addr", f"redis://127.0.0.1:{ports['redis']}",
             "-web.listen-address", f"127.0.0.1:{ports['redis_exporter']}"],
            ready=lambda: _http_ok(f"http://127.0.0.1:{ports['redis_exporter']}/metrics"),
        )  # fmt: skip
        self._start_load_balancer(ports, webs)
        self._start_prometheus(ports, webs, pools)

    def _start(
        self,
        name: str,
        command: list,
        *,
        ready: Callable[[], bool],
        env: Mapping[str, str] | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
        cwd: Path | None = None,
    ) -> None:
        process = start_detached(
            name,
            command,
            env={**self._base_env(), **(env or {})},
            cwd=cwd or self.state_dir,
            log_path=self.log_dir / f"{name}.log",
            user=user,
            stop_signal=stop_signal,
        )
        self._processes.append(process)
        self._save_state()
        if not wait_until(lambda: ready() or not process.is_alive(), READY_TIMEOUT, 0.5):
            raise StackError(
                f"{name} did not become healthy in {READY_TIMEOUT}s\n{self._tail(name)}"
            )
        if not process.is_alive():
            raise StackError(f"{name} exited during start\n{self._tail(name)}")
        print(f"  {name:24} up")

    def _run_once(self, name: str, command: list, env: Mapping[str, str]) -> None:
        """A one-shot step (migrate, bootstrap), like the chart's Job: it must exit 0."""
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            result = subprocess.run(  # noqa: S603 - the launcher with fixed arguments
                [str(part) for part in command],
                env={**self._base_env(), **env},
                cwd=self.state_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=600,
                check=False,
            )
        if result.returncode != 0:
            raise StackError(
                f"{name} failed with exit code {result.returncode}\n{self._tail(name)}"
            )
        print(f"  {name:24} done")

    def _start_postgres(self, ports: Mapping[str, int], keys: Mapping[str, str]) -> None:
        home = self._home("postgres", owner=_service_user())
        data_dir = home / "data"
        if not (data_dir / "PG_VERSION").exists():
            self._initdb(home, data_dir, keys["superuser_password"])
        self._start(
            "postgres",
            [POSTGRES_BIN / "postgres", "-D", data_dir, "-c", "listen_addresses=127.0.0.1",
             "-c", f"port={ports['postgres']}", "-c", "unix_socket_directories=",
             "-c", "max_connections=200"],
            user=_service_user(),
            cwd=home,
            # SIGINT is Postgres's fast shutdown; SIGTERM would wait for PgBouncer's sessions.
            stop_signal=signal.SIGINT,
            ready=lambda: self._postgres_accepts(ports["postgres"], keys),
        )  # fmt: skip
        with self._superuser_connection(ports["postgres"], keys) as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", [DATABASE_USER]
            ).fetchone():
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(DATABASE_USER),
                        sql.Literal(keys["database_password"]),
                    )
                )
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]
            ).fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(DATABASE), sql.Identifier(DATABASE_USER)
                    )
                )

    def _initdb(self, home: Path, data_dir: Path, superuser_password: str) -> None:
        password_file = home / "superuser-password"
        self._write_private(password_file, superuser_password, owner=_service_user())
        try:
            result = subprocess.run(  # noqa: S603 - fixed arguments
                [str(POSTGRES_BIN / "initdb"), "--pgdata", str(data_dir), "--username", SUPERUSER,
                 "--pwfile", str(password_file), "--auth", "scram-sha-256", "--encoding", "UTF8",
                 "--locale", "C.UTF-8", "--no-instructions"],
                cwd=home, user=_service_user(), capture_output=True, text=True, check=False,
            )  # fmt: skip
        finally:
            password_file.unlink()
        if result.returncode != 0:
            raise StackError(f"initdb failed:\n{result.stdout}{result.stderr}")

    @staticmethod
    def _superuser_connection(port: int, keys: Mapping[str, str]) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=port,
            user=SUPERUSER,
            password=keys["superuser_password"],
            dbname="postgres",
            autocommit=True,
            connect_timeout=2,
        )

    def _postgres_accepts(self, port: int, keys: Mapping[str, str]) -> bool:
        try:
            with self._superuser_connection(port, keys):
                return True
        except psycopg.OperationalError:
            return False

    def _start_pgbouncer(self, ports: Mapping[str, int], keys: Mapping[str, str]) -> None:
        home = self._home("pgbouncer", owner=_service_user())
        userlist = home / "userlist.txt"
        self._write_private(
            userlist, f'"{DATABASE_USER}" "{keys["database_password"]}"\n', owner=_service_user()
        )
        config = home / "pgbouncer.ini"
        self._write_private(
            config,
            configs.pgbouncer_ini(
                listen_port=ports["pgbouncer"],
                postgres_port=ports["postgres"],
                userlist=userlist,
                admin_user=DATABASE_USER,
            ),
            owner=_service_user(),
        )
        self._start(
            "pgbouncer",
            ["pgbouncer", config],
            user=_service_user(),
            cwd=home,
            ready=lambda: port_accepts(ports["pgbouncer"]),
        )

    def _start_worker(
        self, pool: WorkerPool, metrics_port: int, app_env: Mapping[str, str]
    ) -> None:
        run_dir = self._run_dir(f"worker-{pool.name}")
        env = {
            **app_env,
            "METRICS_HOST": "127.0.0.1",
            "METRICS_PORT": str(metrics_port),
            "PROMETHEUS_MULTIPROC_DIR": str(run_dir / "metrics"),
            "CELERY_HEARTBEAT_FILE": str(run_dir / "heartbeat"),
            "CELERY_READY_FILE": str(run_dir / "ready"),
        }
        self._start(
            f"worker-{pool.name}",
            [self.launcher, "worker", pool.name, "--queues", ",".join(pool.queues),
             "--concurrency", pool.concurrency],
            env=env,
            ready=lambda: self._probe(["probe", "worker", "--ready"], env),
        )  # fmt: skip

    def _start_load_balancer(self, ports: Mapping[str, int], webs: list[WebProcess]) -> None:
        config = self._home("haproxy") / "haproxy.cfg"
        servers = {web.name: ports[web.port_key] for web in webs}
        if self.slices:
            text = configs.haproxy_sliced_cfg(
                listen_port=ports["load_balancer"],
                servers=servers,
                prefixes={f"web-{name}": prefixes for name, prefixes in SLICES.items()},
                default_backend=f"web-{DEFAULT_SLICE}",
            )
        else:
            text = configs.haproxy_cfg(
                listen_port=ports["load_balancer"], web_ports=list(servers.values())
            )
        config.write_text(text)
        self._start(
            "haproxy",
            ["haproxy", "-db", "-f", config],
            stop_signal=signal.SIGUSR1,  # soft stop: finish the requests in flight
            ready=lambda: _http_ok(f"{self._state['urls']['shop']}readyz"),
        )

    def _start_prometheus(
        self, ports: Mapping[str, int], webs: list[WebProcess], pools: list[WorkerPool]
    ) -> None:
        home = self._home("prometheus")
        jobs = {
            # The slice as a target label, as the chart's ServiceMonitor relabels it.
            "bazaar-web": [
                (
                    f"127.0.0.1:{ports[web.port_key]}",
                    {"process": web.name} | ({"slice": web.slice} if web.slice else {}),
                )
                for web in webs
            ],
            "bazaar-worker": [
                (f"127.0.0.1:{ports[f'worker_{pool.name}']}", {"pool": pool.name}) for pool in pools
            ],
            "bazaar-exporter": [(f"127.0.0.1:{ports['exporter']}", {})],
            "pgbouncer": [(f"127.0.0.1:{ports['pgbouncer_exporter']}", {})],
            "redis": [(f"127.0.0.1:{ports['redis_exporter']}", {})],
        }
        config = home / "prometheus.yml"
        rule_files = sorted(RULES_DIR.glob("*.yaml")) + sorted(RULES_DIR.glob("*.yml"))
        config.write_text(configs.prometheus_yml(jobs=jobs, rule_files=rule_files))
        url = self._state["urls"]["prometheus"]
        self._start(
            "prometheus",
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={home / 'data'}",
             f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
             "--storage.tsdb.retention.time=7d"],
            ready=lambda: _http_ok(f"{url}/-/ready"),
        )  # fmt: skip
        expected = sum(len(targets) for targets in jobs.values())
        if not wait_until(lambda: self._targets_up(url) == expected, READY_TIMEOUT, 1):
            raise StackError(f"Prometheus reports {self._targets_up(url)}/{expected} targets up")
        print(f"  {'scrape targets':24} {expected}/{expected} up")

    @staticmethod
    def _targets_up(prometheus_url: str) -> int:
        try:
            with urllib.request.urlopen(f"{prometheus_url}/api/v1/targets", timeout=2) as response:  # noqa: S310
                targets = json.load(response)["data"]["activeTargets"]
        except (urllib.error.URLError, OSError, KeyError):
            return 0
        return sum(target["health"] == "up" for target in targets)

    # --- helpers ----------------------------------------------------------------------------

    def _app_env(self, ports: Mapping[str, int], keys: Mapping[str, str]) -> dict[str, str]:
        """The chart's environment keys (docs/runtime-contract.md) pointed at local servers."""
        password = keys["database_password"]
        redis_url = f"redis://127.0.0.1:{ports['redis']}/0"
        shop = f"http://127.0.0.1:{self.load_balancer_port}"
        return {
            "DJANGO_SETTINGS_MODULE": "config.settings.prod",
            "SECRET_KEY": keys["SECRET_KEY"],
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": f"{shop},http://localhost:{self.load_balancer_port}",
            # HAProxy listens on plain http locally; the chart terminates TLS at the ingress.
            "SECURE_SSL_REDIRECT": "false",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "DATABASE_URL": f"postgres://{DATABASE_USER}:{password}@127.0.0.1:{ports['pgbouncer']}/{DATABASE}",
            "DATABASE_DIRECT_URL": f"postgres://{DATABASE_USER}:{password}@127.0.0.1:{ports['postgres']}/{DATABASE}",
            "DATABASE_POOLER": "pgbouncer",
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "PAYMENT_PROVIDER_URL": self._state["urls"]["psp"],
            "PAYMENT_PROVIDER_API_KEY": keys["PAYMENT_PROVIDER_API_KEY"],
            "PAYMENT_WEBHOOK_SECRET": keys["PAYMENT_WEBHOOK_SECRET"],
            "EMAIL_URL": f"smtp://127.0.0.1:{ports['smtp']}",
            "DEFAULT_FROM_EMAIL": "shop@bazaar.local",
            "MEDIA_ROOT": str(self._home("media")),
        }  # fmt: skip

    @staticmethod
    def _base_env() -> dict[str, str]:
        """Only what a login shell provides: nothing of the caller's app settings leaks in."""
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
        return {key: os.environ[key] for key in keep if key in os.environ}

    def _probe(self, arguments: list[str], env: Mapping[str, str]) -> bool:
        """Run the launcher's exec probe, as the kubelet would in the chart."""
        result = subprocess.run(  # noqa: S603 - the launcher with fixed arguments
            [str(self.launcher), *arguments],
            env={**self._base_env(), **env},
            cwd=self.state_dir,
            capture_output=True,
            timeout=30,
            check=False,
        )
        return result.returncode == 0

    def _home(self, name: str, owner: str | None = None) -> Path:
        path = self.state_dir / name
        path.mkdir(parents=True, exist_ok=True)
        if owner:
            path.chmod(0o700)
            account = pwd.getpwnam(owner)
            os.chown(path, account.pw_uid, account.pw_gid)
        return path

    def _run_dir(self, name: str) -> Path:
        path = self.run_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @staticmethod
    def _write_private(path: Path, text: str, owner: str | None) -> None:
        path.touch(mode=0o600)
        path.write_text(text)
        if owner:
            account = pwd.getpwnam(owner)
            os.chown(path, account.pw_uid, account.pw_gid)

    def _tail(self, name: str, lines: int = 30) -> str:
        log = self.log_dir / f"{name}.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def _print_urls(self, state: Mapping) -> None:
        urls = state["urls"]
        admin = state["admin"]
        print(
            f"""
Bazaar stack is up (state and logs in {os.path.relpath(self.state_dir, REPO_ROOT)}/):
  shop (load balancer)  {urls["shop"]}   API docs {urls["shop"]}api/docs/
  admin                 {urls["shop"]}admin/   {admin["email"]} / {admin["password"]}
  prometheus            {urls["prometheus"]}
  web processes         {"  ".join(urls["web"])}
  payment simulator     {urls["psp"]}
  sent mail (maildir)   {state["maildir"]}
  stop with `make stack-down`; logs with `make stack-logs`"""
        )
