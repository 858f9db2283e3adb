"""Gunicorn settings for the ``web`` role, all from the environment.

gthread workers; a graceful timeout shorter than the pod's termination grace period; the worker
heartbeat file in memory; Prometheus multiprocess files wiped at start and marked dead when a
worker exits so counters stay correct across workers and restarts.
"""

import gc
import os
import shutil
from pathlib import Path

from gunicorn.glogging import Logger

from bazaar.common import gunicorn as gunicorn_errors
from bazaar.common.logging import configure_logging

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104
wsgi_app = "config.wsgi:application"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "25"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "0"))
# As long a request line as an ingress (nginx: 8k buffers) passes on; gunicorn's own 4 KiB
# default would answer long but legitimate filter URLs with a bare 414.
limit_request_line = int(os.environ.get("GUNICORN_LIMIT_REQUEST_LINE", "8190"))
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
proxy_allow_ips = forwarded_allow_ips
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Gunicorn's own lines (start, worker boot and exit) in the app's format, so that with JSON logs
# every line is a JSON object. Its access log stays off: the app writes one access line per
# request (``bazaar.http``) that carries the request id.
logconfig_dict = configure_logging(log_format=os.environ.get("LOG_FORMAT", "json"), level=loglevel)
logconfig_dict["loggers"] |= {
    "gunicorn.error": {"level": loglevel.upper(), "handlers": [], "propagate": True},
    "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
}


class AppLogger(Logger):
    def access(self, resp, req, environ, request_time):
        """Nothing: the access line is the app's. Gunicorn's own would work out every field of
        every request before finding its logger silenced."""


logger_class = AppLogger
gunicorn_errors.install()
proc_name = "bazaar-web"
control_socket_disable = True


def on_starting(server):
    """Start from an empty metrics folder: files of a previous run would be summed in."""
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if metrics_dir:
        path = Path(metrics_dir)
        path.mkdir(parents=True, exist_ok=True)
        for child in path.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()


def post_worker_init(worker):
    """Load the URLconf (and with it every view), then freeze what is loaded.

    ``gc.freeze`` moves the objects alive now (Django, DRF, the app: over 100 000 of them) out
    of the collector's reach. Without it every full collection walks them all, a stall of tens
    of milliseconds for the whole worker, and a cache-miss request costs about a tenth more CPU.
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the views
    gc.freeze()


def child_exit(server, worker):
    """Drop the live gauges of a worker that exited; its counters stay summed in."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
