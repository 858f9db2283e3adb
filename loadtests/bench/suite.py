"""The benchmark suite: every figure is a ratio against a baseline measured in the same run.

On top of the running ``make stack`` (its Postgres, PgBouncer, Redis, payment simulator and
payments worker) the suite starts its own web servers, all through ``bazaar web`` with the
same gunicorn settings (``WEB_CONCURRENCY``, ``GUNICORN_THREADS``):

======================  =================================================================
``app``                 the app as the stack runs it (PgBouncer, Redis cache)
``app-uncached``        ``CATALOG_CACHE_TIMEOUT=0``, own Redis database: every catalog read misses
``app-direct``          uncached, straight to Postgres (``DATABASE_POOLER=none``)
``app-replica``         uncached, with ``DATABASE_REPLICA_URL``: a streaming standby of the
                        stack's Postgres behind its own PgBouncer (``replica.py``)
``baseline``            ``loadtests.bench``: no middleware, one ORM query, ``JsonResponse``
======================  =================================================================

HTTP load comes from ``wrk`` (one thread, pinned to one CPU when there are several) and its
CPU time is measured and reported, so a saturated generator shows in the results.

Then the image (``loadtests/bench/image.py``): its size, and the same ``bazaar web`` in the
hardened container, its cold start and worker memory against the ``app`` process's.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

from loadtests.bench.image import container_figures
from loadtests.bench.replica import Replica
from loadtests.run import REPORTS_DIR, prepare_on_stack
from loadtests.stack_env import ensure_stack_up, stack_app_env
from loadtests.web import WebServer, generator_cpu, start_web, status, wrk
from tools.stack.processes import free_ports

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = REPORTS_DIR / "bench"
README = REPO_ROOT / "loadtests" / "README.md"
TABLE_START = "<!-- bench-table:start -->"
TABLE_END = "<!-- bench-table:end -->"
# Web servers of the suite are probed from here, clear of the stack (29000) and the tests.
FIRST_PORT = 23000
WEB_CONCURRENCY = "2"
GUNICORN_THREADS = "4"
WRK_CONNECTIONS = 8
UNCACHED_REDIS_DB = 9
CHECKOUT_THREADS = 4
ACCOUNTS_PER_THREAD = 4  # spreads the per-user checkout throttle (120/min)
PAID_TIMEOUT = 60

TARGETS = {
    "detail_cached_vs_baseline": (">=", 0.7),
    "detail_uncached_vs_baseline": (">=", 0.45),
    "web_worker_rss_mb": ("<=", 120),
    "web_ready_seconds": ("<=", 3),
}


@dataclass
class Profile:
    """How long each measurement runs: ``--quick`` runs every benchmark once, briefly."""

    seconds: float
    rounds: int
    checkout_seconds: float

    @classmethod
    def choose(cls, quick: bool) -> Profile:
        return cls(seconds=2, rounds=1, checkout_seconds=3) if quick else cls(10, 3, 15)


@dataclass
class Bench:
    quick: bool
    run_dir: Path
    profile: Profile = field(init=False)
    servers: dict[str, WebServer] = field(default_factory=dict)
    replica: Replica | None = None

    def __post_init__(self) -> None:
        self.profile = Profile.choose(self.quick)
        self.app_env = {
            **stack_app_env(),
            "WEB_CONCURRENCY": WEB_CONCURRENCY,
            "GUNICORN_THREADS": GUNICORN_THREADS,
        }

    def start_servers(self) -> None:
        direct = self.app_env.get("DATABASE_DIRECT_URL", self.app_env["DATABASE_URL"])
        # Entries the stack's web processes cached would be hits in the shared Redis database,
        # so the uncached servers use a database of their own and never store into it.
        uncached = {
            "CATALOG_CACHE_TIMEOUT": "0",
            "REDIS_URL": self.app_env["REDIS_URL"].rsplit("/", 1)[0] + f"/{UNCACHED_REDIS_DB}",
        }
        self.replica = Replica(self.run_dir / "replica", *free_ports(2, FIRST_PORT))
        self.replica.start()
        variants = {
            "baseline": ({"DJANGO_SETTINGS_MODULE": "loadtests.bench.settings"}, "/products/"),
            "app": ({}, "/readyz"),
            "app-uncached": (uncached, "/readyz"),
            "app-direct": (
                {**uncached, "DATABASE_URL": direct, "DATABASE_POOLER": "none"},
                "/readyz",
            ),
            "app-replica": ({**uncached, "DATABASE_REPLICA_URL": self.replica.url}, "/readyz"),
        }
        ports = free_ports(len(variants), FIRST_PORT)  # the replica holds its own by now
        for (name, (overrides, ready_path)), port in zip(variants.items(), ports, strict=True):
            self.servers[name] = start_web(
                name,
                port,
                app_env={**self.app_env, **overrides},
                run_dir=self.run_dir,
                ready_path=ready_path,
            )

    def stop_servers(self) -> None:
        for server in self.servers.values():
            server.stop()
        if self.replica is not None:
            self.replica.stop()

    # --- measurements -----------------------------------------------------------------------

    def http_benchmarks(self, data: dict) -> dict[str, dict]:
        slugs = data["browse_products"][:50]
        detail = [f"/api/v1/products/{slug}/" for slug in slugs]
        cases = {
            "baseline_detail": ("baseline", [f"/products/{slug}/" for slug in slugs]),
            "baseline_list": ("baseline", ["/products/"]),
            "detail_cached": ("app", detail),
            "detail_uncached": ("app-uncached", detail),
            "detail_uncached_direct": ("app-direct", detail),
            "list_cached": ("app", ["/api/v1/products/"]),
            "list_uncached": ("app-uncached", ["/api/v1/products/"]),
            "detail_uncached_replica": ("app-replica", detail),
            "list_uncached_replica": ("app-replica", ["/api/v1/products/"]),
        }
        for server, paths in cases.values():  # load every worker's code, fill the app's cache
            for path in paths:
                status(self.servers[server].url(path))
            for _ in range(int(WEB_CONCURRENCY) * 2):
                status(self.servers[server].url(paths[0]))
        samples: dict[str, list[dict]] = {name: [] for name in cases}
        for _ in range(self.profile.rounds):  # interleaved, so drift hits every case alike
            for name, (server, paths) in cases.items():
                samples[name].append(
                    wrk(
                        self.servers[server].url(),
                        paths,
                        self.profile.seconds,
                        connections=WRK_CONNECTIONS,
                        cpu_list=generator_cpu(),
                        spread_over=self.servers[server],
                    )
                )
        return {name: _median_run(runs) for name, runs in samples.items()}

    def checkout_benchmark(self, data: dict) -> dict:
        """Orders per second through ``app`` (cart add + checkout), then checkout-to-paid
        through the stack's payments worker, from each order's ``created_at``/``paid_at``."""
        server = self.servers["app"]
        accounts = data["accounts"]
        products = data["stocked_products"]
        created: list[tuple[int, str]] = []
        failures: list[str] = []
        deadline = time.monotonic() + self.profile.checkout_seconds
        cpu_before = psutil.Process().cpu_times()

        def shopper(thread: int) -> None:
            mine = accounts[thread::CHECKOUT_THREADS]
            with httpx.Client(base_url=server.url(), timeout=30) as client:
                turn = 0
                while time.monotonic() < deadline:
                    token = mine[turn % len(mine)]["access"]
                    headers = {"Authorization": f"Bearer {token}"}
                    product = products[(thread * 7 + turn) % len(products)]
                    turn += 1
                    added = client.post(
                        "/api/v1/cart/items/", json={"product": product, "quantity": 1},
                        headers=headers,
                    )  # fmt: skip
                    order = client.post(
                        "/api/v1/orders/", json={},
                        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
                    )  # fmt: skip
                    if added.status_code in (200, 201) and order.status_code == 201:
                        created.append((order.json()["id"], token))
                    else:
                        failures.append(
                            f"{added.status_code}/{order.status_code} {order.text[:120]}"
                        )

        started = time.monotonic()
        threads = [threading.Thread(target=shopper, args=(i,)) for i in range(CHECKOUT_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        cpu_after = psutil.Process().cpu_times()
        generator_cpu = cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system
        paid_seconds = self._wait_until_paid(server, created)
        return {
            "orders": len(created),
            "failures": len(failures),
            "failure_examples": failures[:3],
            "orders_per_s": round(len(created) / elapsed, 2),
            "paid": len(paid_seconds),
            "paid_p50_s": _percentile(paid_seconds, 0.5),
            "paid_p95_s": _percentile(paid_seconds, 0.95),
            "generator_cpu_cores": round(generator_cpu / elapsed, 2),
        }

    @staticmethod
    def _wait_until_paid(server: WebServer, orders: list[tuple[int, str]]) -> list[float]:
        pending = dict(orders)
        paid: list[float] = []
        deadline = time.monotonic() + PAID_TIMEOUT
        with httpx.Client(base_url=server.url(), timeout=30) as client:
            while pending and time.monotonic() < deadline:
                for order_id, token in list(pending.items()):
                    order = client.get(
                        f"/api/v1/orders/{order_id}/", headers={"Authorization": f"Bearer {token}"}
                    ).json()
                    if order["status"] == "pending_payment":
                        continue
                    del pending[order_id]
                    if order["status"] == "paid":
                        paid.append(
                            (
                                datetime.fromisoformat(order["paid_at"])
                                - datetime.fromisoformat(order["created_at"])
                            ).total_seconds()
                        )
                if pending:
                    time.sleep(0.5)
        return paid

    def process_figures(self) -> dict[str, dict]:
        return {
            name: {"ready_seconds": server.ready_seconds, "worker_rss_mb": server.worker_rss_mb()}
            for name, server in self.servers.items()
        }


def _median_run(runs: list[dict]) -> dict:
    middle = sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]
    return {
        **middle,
        "rounds_rps": [run["rps"] for run in runs],
        "rounds_connections_per_worker": [run.get("connections_per_worker") for run in runs],
    }


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 3)


# --- results --------------------------------------------------------------------------------


def ratios(http: dict, checkout: dict, processes: dict, container: dict) -> dict[str, float | None]:
    def ratio(numerator: float | None, denominator: float | None) -> float | None:
        return round(numerator / denominator, 3) if numerator and denominator else None

    app_rss = max(processes["app"]["worker_rss_mb"])
    baseline_rss = max(processes["baseline"]["worker_rss_mb"])
    baseline_detail, baseline_list = http["baseline_detail"]["rps"], http["baseline_list"]["rps"]
    return {
        "detail_cached_vs_baseline": ratio(http["detail_cached"]["rps"], baseline_detail),
        "detail_uncached_vs_baseline": ratio(http["detail_uncached"]["rps"], baseline_detail),
        "list_cached_vs_baseline": ratio(http["list_cached"]["rps"], baseline_list),
        "list_uncached_vs_baseline": ratio(http["list_uncached"]["rps"], baseline_list),
        "pgbouncer_vs_direct": ratio(
            http["detail_uncached"]["rps"], http["detail_uncached_direct"]["rps"]
        ),
        "detail_uncached_replica_vs_primary": ratio(
            http["detail_uncached_replica"]["rps"], http["detail_uncached"]["rps"]
        ),
        "list_uncached_replica_vs_primary": ratio(
            http["list_uncached_replica"]["rps"], http["list_uncached"]["rps"]
        ),
        "checkout_orders_vs_baseline_requests": ratio(checkout["orders_per_s"], baseline_detail),
        "orders_paid_ratio": ratio(checkout["paid"], checkout["orders"]),
        "web_worker_rss_vs_baseline": ratio(app_rss, baseline_rss),
        "web_ready_vs_baseline": ratio(
            processes["app"]["ready_seconds"], processes["baseline"]["ready_seconds"]
        ),
        "container_ready_vs_process": ratio(
            container["ready_seconds"], processes["app"]["ready_seconds"]
        ),
        "container_worker_rss_vs_process": ratio(max(container["worker_rss_mb"]), app_rss),
    }


def targets(results: dict) -> dict[str, dict]:
    measured = {
        **results["ratios"],
        "web_worker_rss_mb": max(results["processes"]["app"]["worker_rss_mb"]),
        "web_ready_seconds": results["processes"]["app"]["ready_seconds"],
    }
    verdicts = {}
    for name, (operator, limit) in TARGETS.items():
        value = measured[name]
        met = value is not None and (value >= limit if operator == ">=" else value <= limit)
        verdicts[name] = {"measured": value, "target": f"{operator} {limit:g}", "met": met}
    return verdicts


def machine() -> dict:
    cpu_model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    return {
        "cpu": cpu_model,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
    }


def markdown(results: dict) -> str:
    http, checkout, processes = results["http"], results["checkout"], results["processes"]
    mode = "quick" if results["quick"] else "full"
    lines = [
        f"Run {results['started_at']} ({mode}): {results['machine']['cpu']}, "
        f"{results['machine']['cores']} cores, {results['machine']['memory_gb']} GB, "
        f"load average at start {results['machine']['load_average_at_start']}; "
        f"gunicorn {WEB_CONCURRENCY} workers x {GUNICORN_THREADS} threads per server; "
        f"wrk 1 thread, {WRK_CONNECTIONS} connections.",
        "",
        "| measurement | requests/s | p50 ms | p95 ms | p99 ms | errors | wrk CPU (cores) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in http.items():
        lines.append(
            f"| {name} | {run['rps']:.0f} | {run['p50_ms']} | {run['p95_ms']} | {run['p99_ms']} "
            f"| {run['errors']} "
            f"| {run['generator_cpu_cores']} |"
        )
    lines += [
        "",
        f"Checkout: {checkout['orders']} orders at {checkout['orders_per_s']} orders/s "
        f"({checkout['failures']} failed); {checkout['paid']} paid, checkout-to-paid "
        f"p50 {checkout['paid_p50_s']} s, p95 {checkout['paid_p95_s']} s.",
        "",
        f"Read replica: the read pool passed {results['replica']['queries_served']} queries to "
        "the standby during the app-replica runs.",
        "",
        "| process | ready (s) | RSS per worker (MB) |",
        "|---|---:|---:|",
    ]
    for name, figures in processes.items():
        rss = ", ".join(map(str, figures["worker_rss_mb"]))
        lines.append(f"| {name} | {figures['ready_seconds']} | {rss} |")
    container = results["container"]
    lines += [
        "",
        f"Container ({container['image']}, {container['image_size_mb']} MB, built in "
        f"{container['build_seconds']} s): hardened `bazaar web` ready in "
        f"{container['ready_seconds']} s from `docker run`, RSS per worker "
        f"{', '.join(map(str, container['worker_rss_mb']))} MB.",
    ]
    lines += ["", "| ratio | value |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in results["ratios"].items()]
    lines += ["", "| target | measured | target | met |", "|---|---:|---:|---|"]
    lines += [
        f"| {name} | {verdict['measured']} | {verdict['target']} | {'yes' if verdict['met'] else 'NO'} |"  # noqa: E501
        for name, verdict in results["targets"].items()
    ]
    return "\n".join(lines) + "\n"


def update_readme(table: str) -> None:
    text = README.read_text()
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    README.write_text(f"{text[:start]}\n{table}{text[end:]}")


def run(*, quick: bool, update_readme_table: bool) -> Path:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (make deps installs it)")
    ensure_stack_up()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = BENCH_DIR / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    results: dict = {"started_at": stamp, "quick": quick, "machine": machine()}
    bench = Bench(quick=quick, run_dir=run_dir)
    data_file = run_dir / "data.json"
    prepare_on_stack(
        accounts=CHECKOUT_THREADS * ACCOUNTS_PER_THREAD, out=data_file, account_prefix="bench"
    )
    data = json.loads(data_file.read_text())
    try:
        bench.start_servers()
        results["http"] = bench.http_benchmarks(data)
        results["checkout"] = bench.checkout_benchmark(data)
        results["processes"] = bench.process_figures()
        results["replica"] = {"queries_served": bench.replica.queries_served()}
    finally:
        bench.stop_servers()
    results["container"] = container_figures(
        stack_app_env(),
        run_dir=run_dir,
        first_port=FIRST_PORT + 50,
        gunicorn={"WEB_CONCURRENCY": WEB_CONCURRENCY, "GUNICORN_THREADS": GUNICORN_THREADS},
    )
    results["ratios"] = ratios(
        results["http"], results["checkout"], results["processes"], results["container"]
    )
    results["targets"] = targets(results)
    json_path = BENCH_DIR / f"{stamp}.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    json_path.with_suffix(".md").write_text(table)
    if update_readme_table:
        update_readme(table)
    print(table)
    print(f"results: {json_path} and {json_path.with_suffix('.md')}")
    return json_path
