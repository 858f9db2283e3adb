"""Web slices in the chart: with web.slices, one web stack per slice, routed by path through the
Ingress and the HTTPRoute as the app splits its paths (app/bazaar/common/slices.py); without,
one web serves every path exactly as before."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bazaar.common.slices import DEFAULT_SLICE, SLICES, slice_of
from tests.chart.helm import CHART_DIR, render
from tests.chart.manifests import SCENARIOS, pod_labels, pod_spec, rendered, selector_matches

SLICED = "slices"
UNSLICED = sorted(name for name in SCENARIOS if name != SLICED)
SLICE_LABEL = "bazaar.dev/web-slice"
WEB_STACK = {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"}
OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
EVERY_SLICE = {"web": {"slices": [{"name": name} for name in SLICES]}}


def of_kind(objects, kind: str) -> dict[str, dict]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def is_web(obj: dict) -> bool:
    """bazaar-web, or one of its slices (bazaar-web-NAME)."""
    return re.fullmatch(r"bazaar-web(-[a-z]+)?", obj["metadata"]["name"]) is not None


def service_of(name: str) -> str:
    return f"bazaar-web-{name}"


def expected_routes() -> dict[str, str]:
    """Path prefix -> Service, from the app's slices: the one definition of the groups."""
    routes = {prefix: service_of(name) for name, prefixes in SLICES.items() for prefix in prefixes}
    return routes | {"/": service_of(DEFAULT_SLICE)}


def routed_to(routes: dict[str, str], path: str) -> str:
    """The backend a Prefix (Ingress) or PathPrefix (HTTPRoute) table picks: the longest prefix
    that matches whole path segments."""
    matching = [p for p in routes if p == "/" or path == p or path.startswith(f"{p.rstrip('/')}/")]
    return routes[max(matching, key=len)]


def api_paths() -> list[str]:
    paths = yaml.safe_load(OPENAPI.read_text())["paths"]
    return [re.sub(r"\{[^}]+\}", "1", path) for path in paths] + ["/admin/", "/api/docs/"]


def test_the_charts_slice_catalogue_is_the_apps():
    """The routers read files/web-slices.yaml: the app's slices, prefixes and default slice."""
    catalogue = yaml.safe_load((CHART_DIR / "files" / "web-slices.yaml").read_text())
    assert {s["name"]: tuple(s["prefixes"]) for s in catalogue["slices"]} == SLICES
    assert catalogue["default"] == DEFAULT_SLICE


def test_each_slice_is_its_own_deployment_service_hpa_pdb_and_network_policy():
    objects = rendered(SLICED)
    names = {(obj["kind"], obj["metadata"]["name"]) for obj in objects}
    for name in SLICES:
        assert {(kind, service_of(name)) for kind in WEB_STACK} <= names, name
    assert not {(kind, "bazaar-web") for kind in WEB_STACK | {"HorizontalPodAutoscaler"}} & names
    # ci/slices-values.yaml: catalog and checkout autoscale, accounts runs two fixed replicas.
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    assert {service_of("catalog"), service_of("checkout")} <= set(hpas)
    assert service_of("accounts") not in hpas
    assert of_kind(objects, "Deployment")[service_of("accounts")]["spec"]["replicas"] == 2


def test_each_slice_hpa_scales_its_own_deployment_within_its_own_bounds():
    objects = rendered(SLICED)
    deployments = of_kind(objects, "Deployment")
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    bounds = {}
    for name in ("catalog", "checkout"):
        spec = hpas[service_of(name)]["spec"]
        assert spec["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": service_of(name),
        }
        assert "replicas" not in deployments[service_of(name)]["spec"]
        bounds[name] = (spec["minReplicas"], spec["maxReplicas"])
    # The slice's own keys win; the rest falls back to web.autoscaling (min 2, max 10).
    assert bounds == {"catalog": (3, 30), "checkout": (2, 12)}
    assert hpas[service_of("checkout")]["spec"]["behavior"]["scaleDown"][
        "stabilizationWindowSeconds"
    ] == (300)


def test_a_slice_runs_its_slice_and_its_objects_select_only_its_pods():
    objects = rendered(SLICED)
    deployments = {
        name: obj
        for name, obj in of_kind(objects, "Deployment").items()
        if pod_labels(obj).get("app.kubernetes.io/component") == "web"
    }
    assert set(deployments) == {service_of(name) for name in SLICES}
    selectors = {
        "Service": lambda obj: {"matchLabels": obj["spec"]["selector"]},
        "PodDisruptionBudget": lambda obj: obj["spec"]["selector"],
        "NetworkPolicy": lambda obj: obj["spec"]["podSelector"],
    }
    for name in SLICES:
        deployment = deployments[service_of(name)]
        (container,) = pod_spec(deployment)["containers"]
        assert container["args"] == ["web", "--slice", name]
        assert pod_labels(deployment)[SLICE_LABEL] == name
        for kind, selector in selectors.items():
            obj = of_kind(objects, kind)[service_of(name)]
            selected = [
                other
                for other in deployments.values()
                if selector_matches(selector(obj), pod_labels(other))
            ]
            assert selected == [deployment], f"{kind}/{service_of(name)}"


def test_a_slice_takes_its_own_keys_over_web_and_web_for_the_rest():
    deployments = of_kind(rendered(SLICED), "Deployment")

    def web_container(name):
        (container,) = pod_spec(deployments[service_of(name)])["containers"]
        return container, {item["name"]: item.get("value") for item in container["env"]}

    catalog, catalog_env = web_container("catalog")
    checkout, checkout_env = web_container("checkout")
    assert (catalog_env["WEB_CONCURRENCY"], checkout_env["WEB_CONCURRENCY"]) == ("3", "2")
    assert checkout["resources"]["limits"] == {"memory": "1Gi"}
    assert catalog["resources"] == {
        "requests": {"cpu": "250m", "memory": "384Mi"},
        "limits": {"memory": "768Mi"},
    }
    # Shared by every slice: probes, drain and the hardened pod.
    assert catalog["readinessProbe"] == checkout["readinessProbe"]
    assert catalog["securityContext"] == checkout["securityContext"]


def test_the_ingress_routes_each_path_group_to_its_slice():
    (ingress,) = of_kind(rendered(SLICED), "Ingress").values()
    for rule in ingress["spec"]["rules"]:
        paths = rule["http"]["paths"]
        assert {path["pathType"] for path in paths} == {"Prefix"}
        routes = {path["path"]: path["backend"]["service"]["name"] for path in paths}
        assert routes == expected_routes()
        for path in api_paths():
            assert routed_to(routes, path) == service_of(slice_of(path)), path
        assert routed_to(routes, "/no/such/page/") == service_of(DEFAULT_SLICE)


def test_the_http_route_routes_each_path_group_to_its_slice():
    (route,) = of_kind(rendered(SLICED), "HTTPRoute").values()
    routes = {}
    for rule in route["spec"]["rules"]:
        (backend,) = rule["backendRefs"]
        assert backend["port"] == 80
        for match in rule["matches"]:
            assert match["path"]["type"] == "PathPrefix"
            routes[match["path"]["value"]] = backend["name"]
    assert routes == expected_routes()
    for path in api_paths():
        assert routed_to(routes, path) == service_of(slice_of(path)), path


def test_prometheus_labels_each_web_target_with_its_slice():
    monitor = of_kind(rendered(SLICED), "ServiceMonitor")["bazaar-web"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["relabelings"] == [
        {
            "sourceLabels": ["__meta_kubernetes_service_label_bazaar_dev_web_slice"],
            "targetLabel": "slice",
        }
    ]
    services = of_kind(rendered(SLICED), "Service")
    for name in SLICES:
        labels = services[service_of(name)]["metadata"]["labels"]
        assert selector_matches(monitor["spec"]["selector"], labels)
        assert labels[SLICE_LABEL] == name


def test_helm_test_checks_every_slice():
    (pod,) = [obj for obj in rendered(SLICED) if obj["kind"] == "Pod"]
    urls = {c["name"]: c["args"][-1] for c in pod["spec"]["containers"]}
    assert urls == {f"readyz-{name}": f"http://{service_of(name)}:80/readyz" for name in SLICES}


@pytest.mark.parametrize("scenario", UNSLICED)
def test_without_slices_one_web_serves_every_path_as_before(scenario):
    """Off by default: no slice label anywhere, the web objects keep their names, and the
    routers send every path to bazaar-web."""
    objects = rendered(scenario)
    labelled = [
        obj["metadata"]["name"]
        for obj in objects
        if SLICE_LABEL in obj["metadata"].get("labels", {})
        or (pod_spec(obj) is not None and SLICE_LABEL in pod_labels(obj))
    ]
    assert labelled == []
    web = {(obj["kind"], obj["metadata"]["name"]) for obj in objects if is_web(obj)}
    assert {name for _, name in web} == {"bazaar-web"}
    assert {"Deployment", "Service", "NetworkPolicy"} <= {kind for kind, _ in web}
    (container,) = pod_spec(of_kind(objects, "Deployment")["bazaar-web"])["containers"]
    assert container["args"] == ["web"]
    for ingress in of_kind(objects, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            assert [
                (p["path"], p["backend"]["service"]["name"]) for p in rule["http"]["paths"]
            ] == [("/", "bazaar-web")]
    for route in of_kind(objects, "HTTPRoute").values():
        (rule,) = route["spec"]["rules"]
        assert [m["path"]["value"] for m in rule["matches"]] == ["/"]
        assert [b["name"] for b in rule["backendRefs"]] == ["bazaar-web"]
    if monitor := of_kind(objects, "ServiceMonitor").get("bazaar-web"):
        assert all("relabelings" not in endpoint for endpoint in monitor["spec"]["endpoints"])


def test_turning_slices_on_changes_only_the_web_objects_and_the_test_pod():
    def by_key(objects):
        return {(obj["kind"], obj["metadata"]["name"]): obj for obj in objects}

    before = by_key(render([SCENARIOS["default"]]))
    after = by_key(render([SCENARIOS["default"]], EVERY_SLICE))
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    assert [key for key in changed if not is_web(before.get(key) or after[key])] == [
        ("Pod", "bazaar-test")
    ]
    assert {key for key in changed if key in before} == {
        (kind, "bazaar-web") for kind in WEB_STACK | {"HorizontalPodAutoscaler"}
    } | {("Pod", "bazaar-test")}
