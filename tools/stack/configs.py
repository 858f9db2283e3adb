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
    servers = {f"web-{index}": port for index, port in enumerate(web_ports, start=1)}
    return _haproxy_frontend(listen_port, ["default_backend web"]) + _haproxy_backend(
        "web", servers
    )


def haproxy_sliced_cfg(
    *,
    listen_port: int,
    servers: Mapping[str, int],
    prefixes: Mapping[str, Sequence[str]],
    default_backend: str,
) -> str:
    """One backend per web slice, chosen by path as the chart's Ingress does: a prefix matches
    whole segments (``/api/v1/cart`` and ``/api/v1/cart/…``, never ``/api/v1/carts``); every
    other path goes to ``default_backend``. ``servers`` maps each backend to its one process."""
    routing = []
    for backend, paths in prefixes.items():
        acl = backend.replace("-", "_")
        routing += [
            f"acl {acl} path {' '.join(paths)}",
            f"acl {acl} path_beg {' '.join(f'{path}/' for path in paths)}",
            f"use_backend {backend} if {acl}",
        ]
    routing.append(f"default_backend {default_backend}")
    return _haproxy_frontend(listen_port, routing) + "".join(
        _haproxy_backend(backend, {backend: port}) for backend, port in servers.items()
    )


def _haproxy_frontend(listen_port: int, routing: Sequence[str]) -> str:
    rules = "".join(f"    {line}\n" for line in routing)
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
{rules}"""


def _haproxy_backend(name: str, servers: Mapping[str, int]) -> str:
    lines = "".join(
        f"    server {server} 127.0.0.1:{port} check inter 2s fall 2 rise 1\n"
        for server, port in servers.items()
    )
    return f"""
backend {name}
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    http-response set-header X-Served-By %s
{lines}"""


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
