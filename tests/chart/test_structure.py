"""Structural rules of the rendered chart: Pod Security "restricted", NetworkPolicy coverage,
objects that point at real workloads, autoscaling, probes, shutdown and migration ordering."""

from __future__ import annotations

import pytest

from tests.chart.helm import CHART_DIR, render
from tests.chart.manifests import (
    SCENARIOS,
    containers,
    pod_labels,
    pod_spec,
    rendered,
    selector_matches,
)

ALL = sorted(SCENARIOS)


def objects_of(scenario, *kinds, upgrade=False):
    return [obj for obj in rendered(scenario, upgrade=upgrade) if obj["kind"] in kinds]


def workloads(scenario, upgrade=False):
    return [obj for obj in rendered(scenario, upgrade=upgrade) if pod_spec(obj) is not None]


def by_component(scenario, component):
    return [
        obj
        for obj in workloads(scenario)
        if pod_labels(obj).get("app.kubernetes.io/component") == component
    ]


def env_of(container):
    return {item["name"]: item for item in container.get("env", [])}


@pytest.mark.parametrize("upgrade", [False, True])
@pytest.mark.parametrize("scenario", ALL)
def test_every_pod_meets_pod_security_restricted(scenario, upgrade):
    """Init containers, hook Jobs and the helm test pod included."""
    problems = []
    for obj in workloads(scenario, upgrade):
        spec = pod_spec(obj)
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        pod_ctx = spec.get("securityContext", {})
        if pod_ctx.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: pod seccompProfile")
        for volume in spec.get("volumes", []):
            if "hostPath" in volume:
                problems.append(f"{name}: hostPath volume")
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
            problems.append(f"{name}: host namespaces")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: service-account token mounted")
        for container in containers(obj):
            ctx = container.get("securityContext", {})
            where = f"{name}/{container['name']}"
            if ctx.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation")
            if ctx.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{where}: capabilities not dropped")
            if ctx.get("capabilities", {}).get("add"):
                problems.append(f"{where}: capabilities added")
            if ctx.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: writable root filesystem")
            if not (ctx.get("runAsNonRoot") or pod_ctx.get("runAsNonRoot")):
                problems.append(f"{where}: may run as root")
            if ctx.get("runAsUser", pod_ctx.get("runAsUser")) == 0:
                problems.append(f"{where}: runs as uid 0")
            if ctx.get("privileged"):
                problems.append(f"{where}: privileged")
            if "limits" not in container.get("resources", {}):
                problems.append(f"{where}: no resource limits")
            mounts = {mount["mountPath"] for mount in container.get("volumeMounts", [])}
            if container["image"].startswith("bazaar/bazaar") and "/tmp" not in mounts:
                problems.append(f"{where}: no writable /tmp for the probe files")
            if container["name"] == "web" and "/run/prometheus" not in mounts:
                problems.append(f"{where}: no writable metrics folder")
    assert problems == []


@pytest.mark.parametrize("scenario", ALL)
def test_every_pod_is_selected_by_a_network_policy(scenario):
    policies = objects_of(scenario, "NetworkPolicy")
    uncovered = [
        f"{obj['kind']}/{obj['metadata']['name']}"
        for obj in workloads(scenario) + workloads(scenario, upgrade=True)
        if not any(selector_matches(p["spec"]["podSelector"], pod_labels(obj)) for p in policies)
    ]
    assert uncovered == []


def test_network_policies_are_on_by_default_and_web_admits_only_the_ingress_namespace():
    (web,) = [
        p for p in objects_of("default", "NetworkPolicy") if p["metadata"]["name"] == "bazaar-web"
    ]
    sources = [peer for rule in web["spec"]["ingress"] for peer in rule["from"]]
    namespaces = [
        peer["namespaceSelector"]["matchLabels"] for peer in sources if "namespaceSelector" in peer
    ]
    assert {"kubernetes.io/metadata.name": "ingress-nginx"} in namespaces
    assert all("ipBlock" not in peer for peer in sources)


def test_app_pods_reach_the_database_only_through_pgbouncer():
    """With PgBouncer on, web/worker/beat egress names PgBouncer and never Postgres's port."""
    for name in ("bazaar-web", "bazaar-worker", "bazaar-beat"):
        (policy,) = [
            p for p in objects_of("default", "NetworkPolicy") if p["metadata"]["name"] == name
        ]
        ports = {
            port["port"] for rule in policy["spec"]["egress"] for port in rule.get("ports", [])
        }
        assert 6432 in ports
        assert 5432 not in ports


def test_pgbouncer_egress_reaches_only_postgres_and_dns():
    (policy,) = [
        p for p in objects_of("dev", "NetworkPolicy") if p["metadata"]["name"] == "bazaar-pgbouncer"
    ]
    ports = {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]}
    assert ports == {53, 5432}


@pytest.mark.parametrize("scenario", ALL)
def test_services_pdbs_and_autoscalers_match_a_workload(scenario):
    objects = rendered(scenario)
    pods = [obj for obj in objects if obj["kind"] in {"Deployment", "StatefulSet"}]
    deployments = {obj["metadata"]["name"] for obj in objects if obj["kind"] == "Deployment"}
    problems = []
    for obj in objects:
        if obj["kind"] == "Service":
            selector = {"matchLabels": obj["spec"]["selector"]}
        elif obj["kind"] == "PodDisruptionBudget":
            selector = obj["spec"]["selector"]
        elif obj["kind"] in {"HorizontalPodAutoscaler", "ScaledObject"}:
            if obj["spec"]["scaleTargetRef"]["name"] not in deployments:
                problems.append(f"{obj['kind']}/{obj['metadata']['name']} targets nothing")
            continue
        else:
            continue
        matched = [pod for pod in pods if selector_matches(selector, pod_labels(pod))]
        if len(matched) != 1:
            problems.append(
                f"{obj['kind']}/{obj['metadata']['name']} selects {len(matched)} workloads"
            )
        if obj["kind"] == "Service":
            ports = (
                {p["name"] for c in containers(matched[0]) for p in c.get("ports", [])}
                if matched
                else set()
            )
            problems += [
                f"Service/{obj['metadata']['name']} port {p['targetPort']} is not a container port"
                for p in obj["spec"]["ports"]
                if p["targetPort"] not in ports
            ]
    assert problems == []


@pytest.mark.parametrize("scenario", ALL)
def test_autoscaled_deployments_carry_no_replicas_and_one_autoscaler(scenario):
    objects = rendered(scenario)
    targets = [
        obj["spec"]["scaleTargetRef"]["name"]
        for obj in objects
        if obj["kind"] in {"HorizontalPodAutoscaler", "ScaledObject"}
    ]
    assert len(targets) == len(set(targets)), "a Deployment has two autoscalers"
    for obj in objects:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] in targets:
            assert "replicas" not in obj["spec"], obj["metadata"]["name"]


def test_production_pools_scale_on_queue_length_with_keda():
    scaled = {obj["metadata"]["name"]: obj for obj in objects_of("production", "ScaledObject")}
    assert set(scaled) == {
        "bazaar-worker-default",
        "bazaar-worker-payments",
        "bazaar-worker-notifications",
    }
    notifications = scaled["bazaar-worker-notifications"]["spec"]
    assert notifications["minReplicaCount"] == 0
    assert sorted(t["metadata"]["listName"] for t in notifications["triggers"]) == [
        "digests",
        "notifications",
    ]
    for trigger in notifications["triggers"]:
        assert trigger["type"] == "redis"
        assert trigger["authenticationRef"]["name"] == "bazaar-redis-auth"
        assert trigger["metadata"]["enableTLS"] == "true"
    (auth,) = objects_of("production", "TriggerAuthentication")
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "password", "name": "bazaar-redis", "key": "password"}
    ]
    hpas = {obj["metadata"]["name"] for obj in objects_of("production", "HorizontalPodAutoscaler")}
    assert "bazaar-worker-reports" in hpas and "bazaar-worker-default" not in hpas


@pytest.mark.parametrize("scenario", ALL)
def test_bazaar_containers_use_the_launcher_and_distinct_probes(scenario):
    """Readiness differs from liveness, and web's liveness never touches /readyz (the database)."""
    for obj in workloads(scenario):
        for container in containers(obj):
            if container.get("image", "").split(":")[0].split("@")[0] != "bazaar/bazaar":
                continue
            if not container["name"].startswith("readyz"):
                assert container["command"] == ["bazaar"], container["name"]
            liveness, readiness = container.get("livenessProbe"), container.get("readinessProbe")
            if liveness and readiness:
                assert {
                    k: v for k, v in liveness.items() if k in {"httpGet", "exec", "tcpSocket"}
                } != {
                    k: v for k, v in readiness.items() if k in {"httpGet", "exec", "tcpSocket"}
                }, f"{obj['metadata']['name']}/{container['name']}"
    webs = by_component(scenario, "web")
    assert webs
    for web in webs:
        (container,) = pod_spec(web)["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


@pytest.mark.parametrize("scenario", ALL)
def test_web_outlives_its_drain(scenario):
    for web in by_component(scenario, "web"):
        spec = pod_spec(web)
        (container,) = spec["containers"]
        pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
        graceful = int(env_of(container)["GUNICORN_GRACEFUL_TIMEOUT"]["value"])
        assert spec["terminationGracePeriodSeconds"] > pre_stop + graceful
        assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("scenario", ALL)
def test_web_spreads_softly_over_zones_and_hosts_by_default(scenario):
    for web in by_component(scenario, "web"):
        constraints = pod_spec(web).get("topologySpreadConstraints", [])
        if scenario in {"dev", "k8s-dev"}:
            assert constraints == []
            continue
        assert {c["topologyKey"] for c in constraints} == {
            "topology.kubernetes.io/zone",
            "kubernetes.io/hostname",
        }
        assert {c["whenUnsatisfiable"] for c in constraints} == {"ScheduleAnyway"}
        # Each Deployment spreads its own pods: a slice's spread counts only that slice.
        for constraint in constraints:
            assert selector_matches(constraint["labelSelector"], pod_labels(web))
            assert (
                constraint["labelSelector"]["matchLabels"] == web["spec"]["selector"]["matchLabels"]
            )


@pytest.mark.parametrize("scenario", ALL)
def test_beat_is_a_recreated_singleton_with_a_tick_liveness(scenario):
    (beat,) = by_component(scenario, "beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    (container,) = pod_spec(beat)["containers"]
    assert container["args"] == ["beat"]
    assert container["livenessProbe"]["exec"]["command"] == ["bazaar", "probe", "beat"]


@pytest.mark.parametrize("scenario", ALL)
def test_worker_pools_have_heartbeat_probes_and_a_long_grace_period(scenario):
    pools = by_component(scenario, "worker")
    assert pools
    for pool in pools:
        spec = pod_spec(pool)
        (container,) = spec["containers"]
        assert container["args"][:2] == [
            "worker",
            pool["metadata"]["name"].removeprefix("bazaar-worker-"),
        ]
        assert container["livenessProbe"]["exec"]["command"] == ["bazaar", "probe", "worker"]
        assert container["readinessProbe"]["exec"]["command"] == [
            "bazaar",
            "probe",
            "worker",
            "--ready",
        ]
        assert spec["terminationGracePeriodSeconds"] >= 60


@pytest.mark.parametrize("scenario", ALL)
def test_nothing_runs_new_code_on_an_old_schema(scenario):
    """web, every pool and beat wait in an init container for `migrate --check --wait`."""
    gated = (
        by_component(scenario, "web")
        + by_component(scenario, "worker")
        + by_component(scenario, "beat")
    )
    for obj in gated:
        (init,) = pod_spec(obj)["initContainers"]
        assert init["args"][:3] == ["migrate", "--check", "--wait"]
        assert init["args"][-1] == "900"


@pytest.mark.parametrize("scenario", ALL)
def test_migrations_run_first_on_a_direct_connection(scenario):
    (job,) = objects_of(scenario, "Job")
    (container,) = pod_spec(job)["containers"]
    assert container["args"] == ["migrate"]
    env = env_of(container)
    assert ":6432/" not in env["DATABASE_DIRECT_URL"]["value"], "migrations must bypass PgBouncer"
    assert job["spec"]["activeDeadlineSeconds"] == 900
    in_cluster_db = any(
        obj["kind"] == "Cluster" or obj["metadata"]["name"] == "bazaar-postgresql"
        for obj in rendered(scenario)
    )
    hooks = (job["metadata"].get("annotations") or {}).get("helm.sh/hook", "")
    if in_cluster_db:
        # A pre-install hook would wait forever for a Postgres that Helm creates after hooks.
        assert hooks == ""
    else:
        assert hooks == "pre-install,pre-upgrade"


def test_the_migrate_hook_finds_its_secret_and_service_account_first():
    objects = rendered("no-pgbouncer")
    weights = {
        obj["kind"]: int(obj["metadata"]["annotations"]["helm.sh/hook-weight"])
        for obj in objects
        if "helm.sh/hook" in (obj["metadata"].get("annotations") or {})
        and obj["kind"] in {"Secret", "ServiceAccount", "Job"}
    }
    assert weights["Secret"] < weights["Job"]
    assert weights["ServiceAccount"] < weights["Job"]


@pytest.mark.parametrize("scenario", ALL)
def test_app_gets_pooler_safe_settings_whenever_pgbouncer_is_on(scenario):
    pgbouncer_on = bool(by_component(scenario, "pgbouncer"))
    for obj in by_component(scenario, "web") + by_component(scenario, "worker"):
        env = env_of(pod_spec(obj)["containers"][0])
        assert env["DATABASE_POOLER"]["value"] == ("pgbouncer" if pgbouncer_on else "none")
        assert (":6432/" in env["DATABASE_URL"]["value"]) == pgbouncer_on


def test_pgbouncer_is_first_class():
    objects = rendered("default")
    names = {(obj["kind"], obj["metadata"]["name"]) for obj in objects}
    for kind in (
        "Deployment",
        "Service",
        "ConfigMap",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
    ):
        assert (kind, "bazaar-pgbouncer") in names
    (config,) = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "bazaar-pgbouncer"
    ]
    assert "pool_mode = transaction" in config["data"]["pgbouncer.ini"]
    (deployment,) = by_component("default", "pgbouncer")
    assert [c["name"] for c in pod_spec(deployment)["containers"]] == ["pgbouncer", "exporter"]
    password = env_of(pod_spec(deployment)["initContainers"][0])["DB_PASSWORD"]
    assert password["valueFrom"]["secretKeyRef"] == {"name": "bazaar-postgres", "key": "password"}


@pytest.mark.parametrize("scenario", ALL)
def test_pods_roll_when_their_secret_changes(scenario):
    for obj in (
        by_component(scenario, "web")
        + by_component(scenario, "worker")
        + by_component(scenario, "beat")
    ):
        assert obj["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]


@pytest.mark.parametrize("scenario", ALL)
def test_pod_templates_are_the_same_in_every_render_of_the_same_values(scenario):
    """No generated credential leaks into a pod template (as a checksum, say): the chart makes
    them at random on install and reads them back on upgrade, so a pod template that depended
    on them would change on the first ``helm upgrade`` and restart every pod, the databases
    with them (seen on the cluster: 500s during an upgrade that only changed the image tag)."""
    first, second = (render([SCENARIOS[scenario]]) for _ in range(2))
    templates = [
        [pod_spec(obj) and obj["spec"].get("template", obj.get("spec")) for obj in objects]
        for objects in (first, second)
    ]
    assert templates[0] == templates[1]


def test_credentials_come_from_secrets_never_inline():
    for scenario in ALL:
        for obj in workloads(scenario):
            for container in containers(obj):
                for item in container.get("env", []):
                    if any(
                        word in item["name"] for word in ("PASSWORD", "SECRET", "API_KEY", "DSN")
                    ):
                        assert "valueFrom" in item, (
                            f"{scenario}: {container['name']} {item['name']}"
                        )


def test_generated_secret_keeps_values_across_renders_only_through_lookup():
    """Offline nothing can be looked up, so each render generates; the template reads back first."""
    template = (CHART_DIR / "templates/config/secret.yaml").read_text()
    assert 'lookup "v1" "Secret"' in template
    for key in ("SECRET_KEY", "postgresql-password", "redis-password"):
        assert f'get $existing "{key}"' in template


def test_migrations_can_be_left_to_another_process():
    """migrations.enabled false drops the Job and the schema gate, and still renders valid pods."""
    objects = render([SCENARIOS["default"]], {"migrations": {"enabled": False}})
    assert not [obj for obj in objects if obj["kind"] == "Job"]
    for obj in objects:
        spec = pod_spec(obj)
        if spec is not None and obj["kind"] != "Pod":
            assert "initContainers" not in spec or obj["metadata"]["name"] == "bazaar-pgbouncer"
