"""Configuration files of the third-party servers, rendered from the stack's ports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml


def pgbouncer_ini(*, listen_port: int, postgres_port: int, userlist: Path, admin_user: str) -> str:
    """Transaction pooling, as the chart runs PgBouncer (see charts/bazaar/values.yaml)."""
    return f"""\
[databases]
* = host=127.0.0.1 port={postgres_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {userlist}
admin_users = {admin_user}
stats_users = {admin_user}
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 20
min_pool_size = 5
reserve_pool_size = 5
server_idle_timeout = 600
server_login_retry = 2
ignore_startup_parameters = extra_float_digits,options
"""


def haproxy_cfg(*, listen_port: int, web_ports: Sequence[int]) -> str:
    """Round robin over the web processes, health-checked on /readyz like the chart's readiness.

    ``X-Served-By`` names the backend that answered, so a client can see both are in rotation.
    """
    servers = "\n".join(
        f"    server web-{index} 127.0.0.1:{port} check inter 2s fall 2 rise 1"
        for index, port in enumerate(web_ports, start=1)
    )
    return f"""\
global
    maxconn 4096

defaults
    mode http
    option httplog
    option forwardfor
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 10s

frontend bazaar
    bind 127.0.0.1:{listen_port}
    default_backend web

backend web
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    http-response set-header X-Served-By %s
{servers}
"""


def prometheus_yml(
    *, jobs: Mapping[str, Sequence[tuple[str, Mapping[str, str]]]], rule_files: Sequence[Path]
) -> str:
    """One static job per component; ``jobs`` maps a job name to (target, labels) pairs."""
    config = {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": job,
                "static_configs": [
                    {"targets": [target], "labels": dict(labels)} for target, labels in targets
                ],
            }
            for job, targets in jobs.items()
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)
