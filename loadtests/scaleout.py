"""Scale-out evidence: the highest read throughput that still meets the p95 gate with 1, then
2 web processes behind a load balancer, and the scaling efficiency between them.

    python -m loadtests.scaleout [--quick]

Each web process stands for one pod: ``bazaar web`` with one gunicorn worker
(``WEB_CONCURRENCY=1``), pinned to its own CPU as a 1-CPU limit would bound the pod, behind
its own HAProxy configured as ``make stack`` configures its load balancer (the shared stack's
own web processes are left alone). For each size the load steps up by doubling wrk's
connections until the p95 of the read mix (product detail and list, the ``read`` gate of
``slo.yaml``) breaks the gate; the best throughput within the gate is the capacity. Both
sizes run side by side and are measured in interleaved rounds (three; one with ``--quick``),
and a size's capacity is the median of its rounds: measured once, a size's capacity swung by
±8 % between runs on a shared machine.

    scaling efficiency = capacity(2 processes) / (2 x capacity(1 process))

Every step also measures where the CPU went: the web processes' own CPU per request, and the
CPU per request of everything else on the machine (load balancer, load generator, Redis, the
kernel's loopback). With one process its core is the bound and the rest fits on the other
core; with two, everything shares both cores, so on this machine the efficiency cannot exceed

    bound = web CPU per request / (web CPU per request + shared CPU per request)

and ``per_web_cpu_efficiency`` (requests per second of web CPU at 2 processes over 1) shows
whether the app itself scales, with the machine's share taken out.

Results go to ``loadtests/reports/scaleout/<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import psutil

from loadtests import slo
from loadtests.run import REPORTS_DIR, prepare_on_stack
from loadtests.stack_env import ensure_stack_up, stack_app_env
from loadtests.web import WebServer, start_web, status, wrk
from tools.stack import configs
from tools.stack.processes import free_ports, port_accepts, start_detached, wait_until

SCALEOUT_DIR = REPORTS_DIR / "scaleout"
# Probed from here: clear of the stack (29000), the benchmark suite (23000) and the tests.
FIRST_PORT = 24000
CONNECTION_STEPS = (2, 4, 8, 16, 32, 64)
QUICK_CONNECTION_STEPS = (1, 8)
ROUNDS = 3


def read_paths(data: dict) -> list[str]:
    """The read mix: one catalog page for every two product pages."""
    paths = []
    for index, slug in enumerate(data["browse_products"][:40]):
        if index % 2 == 0:
            paths.append("/api/v1/products/")
        paths.append(f"/api/v1/products/{slug}/")
    return paths


def _cpu_seconds(servers: Sequence[WebServer]) -> tuple[float, float]:
    """CPU seconds used so far by the web processes (masters and workers), and by the whole
    machine (every CPU's busy time)."""
    web = 0.0
    for server in servers:
        master = psutil.Process(server.process.pid)
        for process in [master, *master.children(recursive=True)]:
            times = process.cpu_times()
            web += times.user + times.system
    machine = psutil.cpu_times()
    return web, machine.user + machine.nice + machine.system + machine.irq + machine.softirq


def capacity(
    url: str,
    paths: list[str],
    *,
    servers: Sequence[WebServer],
    p95_gate_ms: float,
    seconds: float,
    steps,
) -> dict:
    """Step the load up until the p95 breaks the gate; the best throughput within it."""
    runs = []
    for connections in steps:
        web_before, machine_before = _cpu_seconds(servers)
        result = wrk(url, paths, seconds, connections=connections, cpu_list=None)
        web_after, machine_after = _cpu_seconds(servers)
        requests = max(result["rps"] * seconds, 1)
        web_ms = (web_after - web_before) / requests * 1000
        run = {
            "connections": connections,
            **result,
            "web_cpu_ms_per_request": round(web_ms, 3),
            "shared_cpu_ms_per_request": round(
                max((machine_after - machine_before) / requests * 1000 - web_ms, 0.0), 3
            ),
        }
        runs.append(run)
        print(f"    {connections:3} connections: {run['rps']:8.1f} rps, p95 {run['p95_ms']} ms, "
              f"{run['errors']} errors, wrk {run['generator_cpu_cores']} cores, CPU per request "
              f"{run['web_cpu_ms_per_request']} ms web + {run['shared_cpu_ms_per_request']} ms "
              "shared")  # fmt: skip
        if run["p95_ms"] > p95_gate_ms or run["errors"]:
            break
    within = [run for run in runs if run["p95_ms"] <= p95_gate_ms and not run["errors"]]
    best = max(within, key=lambda run: run["rps"], default=None)
    return {"capacity_rps": best["rps"] if best else 0.0, "best": best, "steps": runs}


def start_load_balancer(port: int, web_ports: list[int], run_dir: Path):
    config = run_dir / f"haproxy-{len(web_ports)}.cfg"
    config.write_text(configs.haproxy_cfg(listen_port=port, web_ports=web_ports))
    process = start_detached(
        f"haproxy-{len(web_ports)}",
        ["haproxy", "-db", "-f", config],
        env={"PATH": os.environ.get("PATH", "")},
        cwd=run_dir,
        log_path=run_dir / "logs" / f"haproxy-{len(web_ports)}.log",
    )
    if not wait_until(
        lambda: port_accepts(port) and status(f"http://127.0.0.1:{port}/readyz") == 200, 30
    ):
        process.stop(timeout=10)
        raise RuntimeError(f"the load balancer did not come up; see {run_dir / 'logs'}")
    return process


class Deployment:
    """``processes`` web processes, each pinned to its own CPU, behind their own HAProxy."""

    def __init__(self, processes: int, *, app_env: dict, run_dir: Path, paths: list[str]):
        self.servers: list[WebServer] = []
        self.load_balancer = None
        cores = os.cpu_count() or 1
        lb_port, *web_ports = free_ports(processes + 1, FIRST_PORT)
        try:
            for index, port in enumerate(web_ports):
                self.servers.append(
                    start_web(f"web-{processes}-{index + 1}", port, app_env=app_env,
                              run_dir=run_dir, cpu_list=str(index % cores))
                )  # fmt: skip
            self.load_balancer = start_load_balancer(lb_port, web_ports, run_dir)
        except BaseException:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{lb_port}"
        for path in paths:  # fill the cache and load every worker's code before measuring
            status(self.url + path)

    def stop(self) -> None:
        if self.load_balancer is not None:
            self.load_balancer.stop(timeout=10)
        for server in self.servers:
            server.stop()


def measure(*, app_env: dict, run_dir: Path, paths: list[str], gate: float, quick: bool) -> dict:
    """Both sizes, in interleaved rounds (1, 2, 1, 2, …) so that drift on the machine hits
    both alike; each size's capacity is the median of its rounds."""
    deployments: dict[int, Deployment] = {}
    rounds: dict[int, list[dict]] = {1: [], 2: []}
    try:
        for count in rounds:
            deployments[count] = Deployment(count, app_env=app_env, run_dir=run_dir, paths=paths)
        for number in range(1, (1 if quick else ROUNDS) + 1):
            for count, deployment in deployments.items():
                print(f"  round {number}, {count} web process(es):")
                rounds[count].append(
                    capacity(
                        deployment.url, paths, servers=deployment.servers, p95_gate_ms=gate,
                        seconds=2 if quick else 8,
                        steps=QUICK_CONNECTION_STEPS if quick else CONNECTION_STEPS,
                    )
                )  # fmt: skip
    finally:
        for deployment in deployments.values():
            deployment.stop()
    return {count: _median_round(runs) for count, runs in rounds.items()}


def _median_round(runs: list[dict]) -> dict:
    middle = sorted(runs, key=lambda run: run["capacity_rps"])[len(runs) // 2]
    return {**middle, "rounds_capacity_rps": [run["capacity_rps"] for run in runs]}


def run(*, quick: bool) -> Path:
    ensure_stack_up()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = SCALEOUT_DIR / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    gate = slo.load_gates()["route_groups"]["read"]["p95_ms"]
    data_file = run_dir / "data.json"
    prepare_on_stack(accounts=0, out=data_file, account_prefix="scaleout")
    paths = read_paths(json.loads(data_file.read_text()))
    app_env = {**stack_app_env(), "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4"}
    sizes = measure(app_env=app_env, run_dir=run_dir, paths=paths, gate=gate, quick=quick)
    one, two = sizes[1]["capacity_rps"], sizes[2]["capacity_rps"]
    results = {
        "started_at": stamp,
        "quick": quick,
        "cores": os.cpu_count(),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
        "p95_gate_ms": gate,
        "capacity_rps": {"1": one, "2": two},
        "scaling_efficiency": round(two / (2 * one), 3) if one else None,
        **cpu_figures(sizes[1]["best"], sizes[2]["best"]),
        "sizes": {str(count): figures for count, figures in sizes.items()},
    }
    path = SCALEOUT_DIR / f"{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"capacity within p95 <= {gate:g} ms: 1 process {one:.0f} rps, 2 processes {two:.0f} rps; "
        f"scaling efficiency {results['scaling_efficiency']} (this machine's bound "
        f"{results['efficiency_bound']}; per web CPU {results['per_web_cpu_efficiency']})\n"
        f"results: {path}"
    )
    return path


def cpu_figures(one: dict | None, two: dict | None) -> dict:
    """What the machine lets the efficiency be, and the efficiency per web CPU (see above)."""
    if not one or not two:
        return {"efficiency_bound": None, "per_web_cpu_efficiency": None}
    web, shared = two["web_cpu_ms_per_request"], two["shared_cpu_ms_per_request"]
    return {
        "efficiency_bound": round(web / (web + shared), 3) if web + shared else None,
        "per_web_cpu_efficiency": (round(one["web_cpu_ms_per_request"] / web, 3) if web else None),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.scaleout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="two load steps of 2 s per size")
    run(quick=parser.parse_args(argv).quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
