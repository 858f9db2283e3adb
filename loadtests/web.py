"""Web servers started for a measurement, and wrk to load them; shared by the benchmark suite
and the scale-out scenario.

Every server is ``bazaar web`` (the launcher, so the chart's gunicorn configuration) with the
running stack's app environment, on a free port, in its own process group, logging to a file.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from tools.stack.processes import RunningProcess, start_detached, wait_until

REPO_ROOT = Path(__file__).resolve().parents[1]
LAUNCHER = Path(sys.executable).with_name("bazaar")
READY_TIMEOUT = 60
# Two connections keep a worker busy: one request computes while the other waits on I/O.
MIN_CONNECTIONS_PER_WORKER = 2
SPREAD_ATTEMPTS = 30
SPREAD_PAUSE = 0.2


@dataclass
class WebServer:
    name: str
    port: int
    process: RunningProcess
    ready_seconds: float

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each gunicorn worker (the master's children)."""
        master = psutil.Process(self.process.pid)
        return [round(child.memory_info().rss / 2**20, 1) for child in master.children()]

    def connections_per_worker(self) -> list[int]:
        """Established client connections each gunicorn worker holds, fewest first."""
        workers = psutil.Process(self.process.pid).children()
        return sorted(
            sum(
                1
                for connection in worker.net_connections(kind="tcp")
                if connection.status == psutil.CONN_ESTABLISHED
                and connection.laddr.port == self.port
            )
            for worker in workers
        )

    def stop(self) -> None:
        self.process.stop(timeout=30)


def start_web(
    name: str,
    port: int,
    *,
    app_env: Mapping[str, str],
    run_dir: Path,
    ready_path: str = "/readyz",
    cpu_list: str | None = None,
) -> WebServer:
    """Start ``bazaar web`` and return once ``ready_path`` answers 200; ``ready_seconds`` is
    the time from the start of the process to that first 200. ``cpu_list`` pins the server
    to CPUs (``taskset``), as a pod's CPU limit would bound it."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "LOG_LEVEL": "WARNING",
        **app_env,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PYTHONPATH": str(REPO_ROOT),
        "PROMETHEUS_MULTIPROC_DIR": str(run_dir / "metrics" / name),
    }
    command = [LAUNCHER, "web"]
    if cpu_list is not None:
        command = ["taskset", "--cpu-list", cpu_list, *command]
    log_path = run_dir / "logs" / f"{name}.log"
    started = time.monotonic()
    process = start_detached(name, command, env=env, cwd=REPO_ROOT, log_path=log_path)
    url = f"http://127.0.0.1:{port}{ready_path}"
    if not wait_until(lambda: status(url) == 200 or not process.is_alive(), READY_TIMEOUT, 0.02):
        process.stop(timeout=10)
        raise RuntimeError(f"{name} was not ready in {READY_TIMEOUT}s; see {log_path}")
    if not process.is_alive():
        raise RuntimeError(f"{name} exited during start; see {log_path}")
    return WebServer(name, port, process, round(time.monotonic() - started, 2))


def status(url: str) -> int:
    """The HTTP status of a GET, 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local URLs
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return 0


# wrk's Lua hooks: cycle through the paths; at the end print the percentiles as one JSON line.
WRK_SCRIPT = """\
paths = {%s}
counter = 0
request = function()
  counter = counter %% #paths + 1
  return wrk.format("GET", paths[counter])
end
done = function(summary, latency, requests)
  io.write(string.format('WRK_JSON {"p50_us": %%d, "p95_us": %%d, "p99_us": %%d}\\n',
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def wrk(
    url: str,
    paths: Sequence[str],
    seconds: float,
    *,
    connections: int,
    cpu_list: str | None,
    spread_over: WebServer | None = None,
) -> dict:
    """One wrk run (one thread) cycling through ``paths``: requests per second, latency
    percentiles, errors, and the CPU the generator itself used in cores (1.0 is one saturated
    core), so a saturated load generator shows in the results.

    With ``spread_over``, the run is measured only once every worker of that server holds
    ``MIN_CONNECTIONS_PER_WORKER`` of wrk's connections. Gunicorn's workers share one listening
    socket and the kernel does not balance them: wrk opens its connections in one burst and the
    first worker to wake often accepts them all, which measures one worker, half the server.
    A run that starts lopsided is stopped and started again (``SPREAD_ATTEMPTS`` times at
    most); the spread it ran with is in the result.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % ", ".join(json.dumps(path) for path in paths))
    command = [
        "wrk", "--threads", "1", "--connections", str(connections), "--duration", f"{seconds:g}s",
        "--timeout", "10s", "--script", script.name, url,
    ]  # fmt: skip
    if cpu_list is not None:
        command = ["taskset", "--cpu-list", cpu_list, *command]
    try:
        for attempt in range(1, SPREAD_ATTEMPTS + 1):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            process = subprocess.Popen(  # noqa: S603
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            try:
                spread = None if spread_over is None else _spread(spread_over, connections)
            except BaseException:
                process.kill()
                process.communicate()
                raise
            lopsided = spread is not None and spread[0] < min(
                MIN_CONNECTIONS_PER_WORKER, connections // len(spread)
            )
            if not lopsided or attempt == SPREAD_ATTEMPTS:
                break  # a lopsided last try is measured as it is; its spread is in the result
            process.kill()
            process.communicate()
            time.sleep(SPREAD_PAUSE)  # the server finishes the requests in flight
        output, _ = process.communicate()
    finally:
        Path(script.name).unlink()
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command, output)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    percentiles = json.loads(re.search(r"^WRK_JSON (.*)$", output, re.M).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)  # fmt: skip  # noqa: E501
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        **{key.replace("_us", "_ms"): round(value / 1000, 2) for key, value in percentiles.items()},
        "errors": (int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
        "generator_cpu_cores": round(cpu / seconds, 2),
        **({} if spread is None else {"connections_per_worker": spread, "attempts": attempt}),
    }


def _spread(server: WebServer, connections: int) -> list[int]:
    """The server's connections per worker once all of wrk's are established (or after 2 s)."""
    wait_until(lambda: sum(server.connections_per_worker()) >= connections, 2, 0.02)
    spread = server.connections_per_worker()
    if not spread:
        raise RuntimeError(f"{server.name} has no workers; see its log")
    return spread


def generator_cpu() -> str | None:
    """The CPU to pin the load generator to: the last one, when there are several."""
    count = os.cpu_count() or 1
    return str(count - 1) if count > 1 else None
