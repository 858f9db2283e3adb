"""The read pool: with ``postgresql.readReplica`` the chart adds a second PgBouncer Deployment in
front of the replica and gives the app ``DATABASE_REPLICA_URL``; without it nothing changes.

Why a second Deployment rather than a second ``[databases]`` entry in the one PgBouncer: the
read pool needs its own ``query_wait_timeout`` (a query waits that long for a replica that is
down, then the app reads the primary), and that setting is per PgBouncer process, while the
primary's pool must keep PgBouncer's long wait to ride out a Postgres restart. It also scales,
fails and is disrupted apart from the pool every write goes through.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.chart.helm import render
from tests.chart.manifests import SCENARIOS, containers, pod_labels, rendered, selector_matches
from tests.chart.test_schemas import kubernetes_errors

READ_POOL = "bazaar-pgbouncer-read"
READ_POOL_KINDS = {
    "Deployment",
    "Service",
    "ConfigMap",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
    "NetworkPolicy",
    "ServiceMonitor",
}
REPLICA_URL = "postgres://bazaar:$(DATABASE_PASSWORD)@bazaar-pgbouncer-read:6432/bazaar"
CNPG_WITH_REPLICA = {"postgresql": {"readReplica": {"enabled": True}}}


def named(objects, kind, name):
    (obj,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def ini(objects, name) -> dict[str, str]:
    text = named(objects, "ConfigMap", name)["data"]["pgbouncer.ini"]
    return dict(
        line.split(" = ", 1) for line in text.splitlines() if " = " in line and ";" not in line
    )


def egress_ports(policy) -> set[int]:
    return {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]}


def test_the_read_pool_is_a_second_pgbouncer_in_front_of_the_replica():
    objects = rendered("read-replica")
    assert {o["kind"] for o in objects if o["metadata"]["name"] == READ_POOL} == READ_POOL_KINDS
    read, primary = ini(objects, READ_POOL), ini(objects, "bazaar-pgbouncer")
    assert read["bazaar"] == "host=postgres-replica.example.internal port=5432 dbname=bazaar"
    assert primary["bazaar"] == "host=postgres.example.internal port=5432 dbname=bazaar"
    assert read["pool_mode"] == primary["pool_mode"] == "transaction"
    # readPool keys override pgbouncer's for the read pool only.
    assert (read["default_pool_size"], primary["default_pool_size"]) == ("30", "20")
    assert read["query_wait_timeout"] == "3" and "query_wait_timeout" not in primary
    hpa = named(objects, "HorizontalPodAutoscaler", READ_POOL)
    assert (hpa["spec"]["scaleTargetRef"]["name"], hpa["spec"]["maxReplicas"]) == (READ_POOL, 8)
    service = named(objects, "Service", READ_POOL)
    assert selector_matches(
        {"matchLabels": service["spec"]["selector"]},
        pod_labels(named(objects, "Deployment", READ_POOL)),
    )
    assert not selector_matches(
        {"matchLabels": service["spec"]["selector"]},
        pod_labels(named(objects, "Deployment", "bazaar-pgbouncer")),
    )


def test_app_pods_read_the_replica_through_the_read_pool():
    objects = rendered("read-replica")
    app_containers = [
        container
        for obj in objects
        for container in containers(obj)
        if any(item["name"] == "DATABASE_URL" for item in container.get("env", []))
    ]
    assert len(app_containers) >= 10
    for container in app_containers:
        env = {item["name"]: item for item in container.get("env", [])}
        assert env["DATABASE_REPLICA_URL"] == {"name": "DATABASE_REPLICA_URL", "value": REPLICA_URL}
        names = list(env)
        assert names.index("DATABASE_PASSWORD") < names.index("DATABASE_REPLICA_URL")
    web_policy = named(objects, "NetworkPolicy", "bazaar-web")
    read_pool_pods = pod_labels(named(objects, "Deployment", READ_POOL))
    assert any(
        selector_matches(peer["podSelector"], read_pool_pods)
        for rule in web_policy["spec"]["egress"]
        for peer in rule["to"]
        if "podSelector" in peer
    )


def test_the_read_pool_reaches_only_the_replica_and_dns():
    policy = named(rendered("read-replica"), "NetworkPolicy", READ_POOL)
    assert egress_ports(policy) == {53, 5432}
    replica_port = render(
        [SCENARIOS["read-replica"]], {"postgresql": {"readReplica": {"port": 6543}}}
    )
    assert egress_ports(named(replica_port, "NetworkPolicy", READ_POOL)) == {53, 6543}


def test_with_cloudnativepg_the_read_pool_uses_the_clusters_ro_service():
    objects = render([SCENARIOS["cnpg"]], CNPG_WITH_REPLICA)
    assert ini(objects, READ_POOL)["bazaar"] == "host=bazaar-pg-ro port=5432 dbname=bazaar"
    assert ini(objects, "bazaar-pgbouncer")["bazaar"] == "host=bazaar-pg-rw port=5432 dbname=bazaar"
    egress = named(objects, "NetworkPolicy", READ_POOL)["spec"]["egress"]
    assert {"podSelector": {"matchLabels": {"cnpg.io/cluster": "bazaar-pg"}}} in egress[1]["to"]
    instances = named(objects, "NetworkPolicy", "bazaar-pg")["spec"]["ingress"][0]["from"]
    read_pool_pods = pod_labels(named(objects, "Deployment", READ_POOL))
    assert any(selector_matches(peer["podSelector"], read_pool_pods) for peer in instances)
    assert kubernetes_errors(objects, "1.33") == []


def test_adding_the_read_pool_rolls_nothing_of_the_primary_pool():
    """The primary PgBouncer's objects, its config checksum included, stay as they were."""
    with_replica, without = (
        rendered("read-replica"),
        render([SCENARIOS["read-replica"]], {"postgresql": {"readReplica": {"enabled": False}}}),
    )
    for kind in READ_POOL_KINDS:
        assert named(with_replica, kind, "bazaar-pgbouncer") == named(
            without, kind, "bazaar-pgbouncer"
        ), kind


def comparable(objects) -> list[str]:
    """Objects as JSON, without what every render generates afresh (secrets and their hash)."""
    result = []
    for obj in objects:
        if obj["kind"] == "Secret":
            obj = {key: value for key, value in obj.items() if key != "data"}
        text = json.dumps(obj, sort_keys=True)
        result.append(re.sub(r'"checksum/secret": "\w+"', '"checksum/secret": ""', text))
    return sorted(result)


@pytest.mark.parametrize("scenario", sorted(set(SCENARIOS) - {"read-replica"}))
def test_without_a_replica_the_render_is_unchanged(scenario):
    """Read-replica values do nothing until it is enabled: no read pool, no replica URL."""
    untouched = render([SCENARIOS[scenario]])
    tuned = render(
        [SCENARIOS[scenario]],
        {
            "postgresql": {"readReplica": {"enabled": False, "port": 6543}},
            "pgbouncer": {"readPool": {"defaultPoolSize": 99, "queryWaitTimeout": 9}},
        },
    )
    assert comparable(tuned) == comparable(untouched)
    text = json.dumps(untouched)
    assert "pgbouncer-read" not in text and "DATABASE_REPLICA_URL" not in text
