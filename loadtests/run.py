"""``make loadtest``: a headless, SLO-gated Locust run.

    python -m loadtests.run --host http://127.0.0.1:8080 --users 40 --spawn-rate 10 \\
        --run-time 60s --workers 0 [--slo loadtests/slo.yaml] [--data FILE]

1. Test data: with ``--data FILE`` the file ``python -m loadtests.prepare`` wrote in the
   target's environment; otherwise it is prepared against the running ``make stack``.
2. Locust, headless: one process (``--workers 0``), or a master and W local worker processes,
   or a master that waits for W workers started elsewhere (``--external-workers W``, the
   in-cluster mode of ``loadtests/k8s/``).
3. Into ``loadtests/reports/<timestamp>/``: Locust's HTML report and CSV statistics,
   ``summary.json`` and ``timeseries.csv`` per route group, ``throughput.png`` and
   ``latency.png``.
4. The SLO gates: exit 0 when every gate holds, 1 naming each broken gate and by how much.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from loadtests import plots, slo

REPO_ROOT = Path(__file__).resolve().parents[1]
REPORTS_DIR = REPO_ROOT / "loadtests" / "reports"
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
# Locust master ports are probed from here: below the busy ephemeral range (32768-60999).
FIRST_MASTER_PORT = 21500
EXIT_GATE_BROKEN = 1
EXIT_RUN_FAILED = 2


def prepare_on_stack(*, accounts: int, out: Path, account_prefix: str = "shopper") -> None:
    """Run ``loadtests.prepare`` with the stack's app environment (its database and keys)."""
    from loadtests.stack_env import stack_app_env  # the repository's stack, not in the image

    env = {
        **stack_app_env(),
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO_ROOT),
    }
    subprocess.run(  # noqa: S603 - this interpreter with fixed arguments
        [sys.executable, "-m", "loadtests.prepare", "--accounts", str(accounts),
         "--account-prefix", account_prefix, "--out", str(out)],
        env=env, cwd=REPO_ROOT, check=True,
    )  # fmt: skip


def locust_command(args: argparse.Namespace, report_dir: Path, *role: str) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", args.host, "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
        "--run-time", args.run_time, "--stop-timeout", "10",
        "--html", str(report_dir / "report.html"), "--csv", str(report_dir / "locust"),
        "--csv-full-history", "--only-summary", "--loglevel", "WARNING", *role,
    ]  # fmt: skip


def run_locust(args: argparse.Namespace, report_dir: Path, data_file: Path) -> int:
    processes = args.workers or args.external_workers or 1
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "LOADTEST_DATA": str(data_file),
        "LOADTEST_REPORT_DIR": str(report_dir),
        "LOADTEST_PROCESSES": str(processes),
    }
    if not (args.workers or args.external_workers):
        single = subprocess.run(locust_command(args, report_dir), env=env, check=False)  # noqa: S603
        return single.returncode

    if not args.master_port:
        from tools.stack.processes import free_ports  # local runs only, never in the image

        args.master_port = free_ports(1, FIRST_MASTER_PORT)[0]
    port = args.master_port
    master = subprocess.Popen(  # noqa: S603 - this interpreter running Locust
        locust_command(
            args, report_dir, "--master", "--master-bind-host", args.master_bind_host,
            "--master-bind-port", str(port), "--expect-workers", str(processes),
        ),
        env=env,
    )  # fmt: skip
    worker_command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
        "--master-host", "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING",
    ]  # fmt: skip
    workers = [
        subprocess.Popen(worker_command, env=env)  # noqa: S603 - this interpreter running Locust
        for _ in range(args.workers)
    ]
    returncode = master.wait()
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    return returncode


def report(summary: dict, breaches: list[slo.Breach], report_dir: Path) -> None:
    print(f"\n{summary['requests']} requests in {summary['duration_s']} s "
          f"({summary['rps']} rps), {summary['failures']} failed")  # fmt: skip
    columns = ("requests", "failures", "rps", "p50", "p95", "p99")
    print(f"{'route group':14}" + "".join(f"{column:>10}" for column in columns))
    for group, measured in sorted(summary["groups"].items()):
        print(
            f"{group:14}{measured['requests']:>10}{measured['failures']:>10}{measured['rps']:>10}"
            f"{measured['median_ms']:>10}{measured['p95_ms']:>10}{measured['p99_ms']:>10}"
        )
    for error in summary["errors"][:10]:
        print(f"  error x{error['occurrences']} {error['name']}: {error['error'][:200]}")
    print(f"\nreports: {report_dir}")
    if breaches:
        print(f"SLO FAILED: {len(breaches)} gate(s) broken")
        for breach in breaches:
            print(f"  {breach}")
    else:
        print("SLO passed: every gate holds")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.run", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--host", default="http://127.0.0.1:8080")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--run-time", default="60s")
    parser.add_argument("--workers", type=int, default=0, help="local Locust worker processes")
    parser.add_argument(
        "--external-workers", type=int, default=0,
        help="run only the master and wait for this many workers started elsewhere",
    )  # fmt: skip
    parser.add_argument("--master-bind-host", default="127.0.0.1")
    parser.add_argument("--master-port", type=int, default=0, help="default: a free port")
    parser.add_argument("--slo", type=Path, default=slo.DEFAULT_GATES_FILE, help="gates file")
    parser.add_argument(
        "--data", type=Path, help="prepared test data (default: prepare on the stack)"
    )
    parser.add_argument("--report-dir", type=Path, help="default: loadtests/reports/<timestamp>")
    args = parser.parse_args(argv)

    gates = slo.load_gates(args.slo)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report_dir = (args.report_dir or REPORTS_DIR / stamp).resolve()
    report_dir.mkdir(parents=True, exist_ok=True)
    data_file = args.data
    if data_file is None:
        data_file = report_dir / "data.json"
        try:
            prepare_on_stack(accounts=args.users, out=data_file)
        except RuntimeError as error:  # stack_env.StackNotRunning: make stack is not up
            print(
                f"{error}; or, for another target, pass --data from `python -m loadtests.prepare`"
            )
            return EXIT_RUN_FAILED

    started = time.monotonic()
    returncode = run_locust(args, report_dir, data_file.resolve())
    summary_file = report_dir / "summary.json"
    if not summary_file.exists():
        print(f"Locust exited {returncode} without a summary; see the output above")
        return EXIT_RUN_FAILED
    summary = json.loads(summary_file.read_text())
    plots.plot_run(report_dir)
    breaches = slo.evaluate(summary, gates)
    (report_dir / "gates.json").write_text(
        json.dumps(
            {"gates_file": str(args.slo), "passed": not breaches,
             "breaches": [str(breach) for breach in breaches],
             "wall_seconds": round(time.monotonic() - started, 1)},
            indent=2,
        ) + "\n"
    )  # fmt: skip
    report(summary, breaches, report_dir)
    return EXIT_GATE_BROKEN if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
