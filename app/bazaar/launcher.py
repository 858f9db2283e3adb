"""``bazaar ROLE``: the one place the process commands are written.

The Helm chart, docker-compose, skaffold, ``make stack`` and the tests all start Bazaar through
this launcher; none of them repeats a gunicorn or celery command line. Long-running roles
``exec`` their server so that it is PID 1 of the container and receives SIGTERM itself.
"""

import argparse
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bazaar.common.slices import SLICES

APP_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SETTINGS = "config.settings.prod"
WORKER_METRICS_DIR = "/tmp/bazaar-metrics"  # noqa: S108 - an emptyDir in the chart


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS)
    if str(APP_DIR) not in sys.path:
        sys.path.insert(0, str(APP_DIR))
    import django

    django.setup()


def _exec(argv: list[str]) -> None:
    """Replace this process with ``argv`` (found next to this interpreter first)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(APP_DIR), os.environ.get("PYTHONPATH")])
    )
    program = Path(sys.executable).with_name(argv[0])
    executable = str(program) if program.exists() else shutil.which(argv[0]) or argv[0]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(executable, [executable, *argv[1:]])  # noqa: S606


def _fresh_metrics_dir(path: str) -> None:
    directory = Path(path)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


def role_web(args: argparse.Namespace) -> None:
    if args.slice:
        os.environ["WEB_SLICE"] = args.slice
    _exec(["gunicorn", "--config", str(APP_DIR / "config" / "gunicorn.py")])


def role_worker(args: argparse.Namespace) -> None:
    queues = args.queues or args.pool
    os.environ["BAZAAR_WORKER_POOL"] = args.pool
    # Prefork children write their metrics to files the main process serves; a fresh folder
    # per start so the counters of a previous run are not summed in.
    metrics_dir = os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", f"{WORKER_METRICS_DIR}-{args.pool}"
    )
    _fresh_metrics_dir(metrics_dir)
    argv = [
        "celery",
        # No startup banner: with JSON logs every line on stdout must be a JSON object.
        "--quiet",
        "--app",
        "config.celery_app",
        "worker",
        "--hostname",
        f"{args.pool}@%h",
        "--queues",
        queues,
        "--concurrency",
        str(args.concurrency),
        "--loglevel",
        os.environ.get("LOG_LEVEL", "INFO"),
        "--without-gossip",
        "--without-mingle",
    ]
    if args.max_tasks_per_child:
        argv += ["--max-tasks-per-child", str(args.max_tasks_per_child)]
    _exec(argv)


def role_beat(args: argparse.Namespace) -> None:
    _setup_django()
    from django.conf import settings

    _exec(
        [
            "celery",
            "--quiet",
            "--app",
            "config.celery_app",
            "beat",
            "--scheduler",
            "bazaar.common.celery:TickingScheduler",
            "--schedule",
            settings.CELERY_BEAT_SCHEDULE_FILENAME,
            "--loglevel",
            os.environ.get("LOG_LEVEL", "INFO"),
        ]
    )


def role_exporter(args: argparse.Namespace) -> None:
    _setup_django()
    from bazaar.common.exporter import serve

    serve()


def role_migrate(args: argparse.Namespace) -> int:
    _setup_django()
    from bazaar.common.schema import migrate_under_lock, unapplied_migrations, wait_for_schema

    if args.check:
        if args.wait:
            return 0 if wait_for_schema(timeout=args.timeout) else 1
        pending = unapplied_migrations()
        for app_label, name in pending:
            print(f"unapplied: {app_label}.{name}", file=sys.stderr)
        return 1 if pending else 0
    migrate_under_lock(lock_timeout=args.timeout)
    return 0


def role_check(args: argparse.Namespace) -> int:
    _setup_django()
    from django.core.management import call_command

    call_command("check", deploy=True, fail_level="WARNING")
    return 0


def role_bootstrap(args: argparse.Namespace) -> int:
    _setup_django()
    from django.core.management import call_command

    call_command("bootstrap")
    return 0


def role_psp_simulator(args: argparse.Namespace) -> None:
    # Not a Django process, but the signature code it shares with the gateway imports DRF, which
    # reads Django settings on import: the base settings, which need no secret, always do.
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    from bazaar.payments.simulator.app import main as simulator_main

    simulator_main()


def role_manage(args: argparse.Namespace) -> None:
    _setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["bazaar manage", *args.arguments])


def role_probe(args: argparse.Namespace) -> int:
    """Exec probes for the processes that serve no HTTP: fresh file → healthy."""
    _setup_django()
    from django.conf import settings

    if args.process == "worker":
        path = settings.CELERY_READY_FILE if args.ready else settings.CELERY_HEARTBEAT_FILE
    else:
        path = settings.CELERY_BEAT_TICK_FILE
    try:
        age = time.time() - Path(path).stat().st_mtime
    except FileNotFoundError:
        print(f"{path} does not exist", file=sys.stderr)
        return 1
    if not args.ready and age > args.max_age:
        print(f"{path} is {age:.0f}s old (max {args.max_age}s)", file=sys.stderr)
        return 1
    return 0


def role_dev(args: argparse.Namespace) -> None:
    """``make run``: the payment-provider simulator beside Django's development server."""
    import subprocess

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    os.environ.setdefault("PSP_WEBHOOK_URL", f"http://{args.addr}/api/v1/payments/webhook/")
    _setup_django()
    from django.core.management import call_command

    if os.environ.get("RUN_MAIN") == "true":
        # The autoreloader's child: the parent already bootstrapped and runs the simulator.
        call_command("runserver", args.addr)
        return
    call_command("bootstrap")
    simulator = subprocess.Popen([sys.executable, "-m", "bazaar.launcher", "psp-simulator"])
    try:
        call_command("runserver", args.addr)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bazaar", description=__doc__.splitlines()[0])
    roles = parser.add_subparsers(dest="role", required=True, metavar="ROLE")

    web = roles.add_parser("web", help="gunicorn serving the API")
    web.add_argument(
        "--slice",
        choices=list(SLICES),
        help="serve only this slice's paths (bazaar/common/slices.py); default: every path",
    )
    web.set_defaults(run=role_web)

    worker = roles.add_parser("worker", help="a Celery worker for one pool of queues")
    worker.add_argument("pool", help="pool name, e.g. default, payments, notifications")
    worker.add_argument("--queues", help="comma-separated queues (default: the pool name)")
    worker.add_argument(
        "--concurrency", type=int, default=int(os.environ.get("CELERY_CONCURRENCY", "2"))
    )
    worker.add_argument("--max-tasks-per-child", type=int, default=0)
    worker.set_defaults(run=role_worker)

    roles.add_parser("beat", help="Celery beat (run exactly one)").set_defaults(run=role_beat)
    roles.add_parser("exporter", help="queue and beat metrics").set_defaults(run=role_exporter)

    migrate = roles.add_parser("migrate", help="migrate under an advisory lock")
    migrate.add_argument("--check", action="store_true", help="exit 1 if any is unapplied")
    migrate.add_argument("--wait", action="store_true", help="with --check: wait until none is")
    migrate.add_argument("--timeout", type=float, default=600.0, help="seconds")
    migrate.set_defaults(run=role_migrate)

    roles.add_parser("check", help="Django's deploy checks").set_defaults(run=role_check)
    roles.add_parser("bootstrap", help="migrate, admin, demo data").set_defaults(run=role_bootstrap)
    roles.add_parser("psp-simulator", help="the payment-provider simulator").set_defaults(
        run=role_psp_simulator
    )

    manage = roles.add_parser("manage", help="manage.py passthrough")
    manage.add_argument("arguments", nargs=argparse.REMAINDER)
    manage.set_defaults(run=role_manage)

    probe = roles.add_parser("probe", help="exec probe for worker or beat")
    probe.add_argument("process", choices=["worker", "beat"])
    probe.add_argument("--ready", action="store_true", help="readiness instead of liveness")
    probe.add_argument("--max-age", type=float, default=60.0, help="seconds")
    probe.set_defaults(run=role_probe)

    dev = roles.add_parser("dev", help="make run: dev server with the simulator")
    dev.add_argument("--addr", default="127.0.0.1:8000")
    dev.set_defaults(run=role_dev)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
