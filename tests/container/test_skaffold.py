"""skaffold.yaml builds this Dockerfile and deploys this chart with values files that exist."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from tests.container.contract import ROOT, chart_values
from tests.container.dockerfile import Dockerfile

PROFILES = {"dev", "staging", "production", "loadtest"}


@pytest.fixture(scope="module")
def skaffold() -> dict:
    return yaml.safe_load((ROOT / "skaffold.yaml").read_text())


def _apply_patches(config: dict, patches: list[dict]) -> dict:
    """Skaffold profile patches are JSON Patch (RFC 6902); add, replace and remove suffice here."""
    patched = copy.deepcopy(config)
    for patch in patches:
        *parents, last = patch["path"].strip("/").split("/")
        node = patched
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        key = int(last) if isinstance(node, list) else last
        if patch["op"] == "remove":
            del node[key]
        elif patch["op"] == "add" and isinstance(node, list):
            node.insert(key, patch["value"])
        else:
            assert patch["op"] in {"add", "replace"}, patch["op"]
            if patch["op"] == "replace":
                assert key in node if isinstance(node, dict) else key < len(node), patch["path"]
            node[key] = patch["value"]
    return patched


@pytest.fixture(scope="module")
def configurations(skaffold) -> dict[str, dict]:
    """The effective configuration of each profile (and of no profile)."""
    base = {k: v for k, v in skaffold.items() if k != "profiles"}
    effective = {"(none)": base}
    for profile in skaffold["profiles"]:
        effective[profile["name"]] = _apply_patches(base, profile.get("patches", []))
    return effective


def _sanitized(image: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", image)


def _values_path_exists(dotted: str) -> bool:
    node = chart_values()
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _nested(dotted_values: dict[str, object]) -> dict:
    nested: dict = {}
    for dotted, value in dotted_values.items():
        *parents, last = dotted.split(".")
        node = nested
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return nested


def test_schema_version_and_profiles(skaffold):
    """A current skaffold schema, with the dev, staging, production and loadtest profiles."""
    assert re.fullmatch(r"skaffold/v4beta\d+", skaffold["apiVersion"])
    assert skaffold["kind"] == "Config"
    assert {p["name"] for p in skaffold["profiles"]} == PROFILES


def test_builds_the_charts_image_from_a_real_stage(configurations):
    """The artifact is the chart's image repository, built from a stage the Dockerfile has."""
    stages = {stage.name for stage in Dockerfile.parse(ROOT / "Dockerfile").stages}
    for name, config in configurations.items():
        (artifact,) = config["build"]["artifacts"]
        assert artifact["image"] == chart_values()["image"]["repository"], name
        assert (ROOT / artifact["context"] / artifact["docker"]["dockerfile"]).is_file(), name
        assert artifact["docker"]["target"] in stages, name


def test_skaffold_dev_uses_the_dev_stage_with_file_sync(skaffold, configurations):
    """`skaffold dev` activates the dev profile: dev image and Python sources synced to /app."""
    dev_profile = next(p for p in skaffold["profiles"] if p["name"] == "dev")
    assert {"command": "dev"} in dev_profile["activation"]
    (artifact,) = configurations["dev"]["build"]["artifacts"]
    assert artifact["docker"]["target"] == "dev"
    for other in PROFILES - {"dev"}:
        (built,) = configurations[other]["build"]["artifacts"]
        assert built["docker"]["target"] == "runtime", other
        assert "sync" not in built, other


def test_synced_files_land_where_the_dev_image_has_them(configurations):
    """Each sync rule matches Python sources, and strip+dest maps them onto the dev stage's copy."""
    dev_stage = Dockerfile.parse(ROOT / "Dockerfile").stage("dev")
    copies = [c.flags_and_rest()[1].split() for c in dev_stage.all("COPY")]
    image_source_dirs = {
        source.rstrip("/") + "/": Path(target) for *sources, target in copies for source in sources
    }
    (artifact,) = configurations["dev"]["build"]["artifacts"]
    rules = artifact["sync"]["manual"]
    assert rules
    for rule in rules:
        matched = [p for p in ROOT.glob(rule["src"]) if "__pycache__" not in p.parts]
        assert matched, rule["src"]
        assert rule["strip"] in image_source_dirs, rule
        assert Path(rule["dest"]) == image_source_dirs[rule["strip"]], rule
        settings = ROOT / "app" / "config" / "settings" / "base.py"
        relative = settings.relative_to(ROOT).as_posix()
        assert settings in matched
        synced_to = Path(rule["dest"]) / relative.removeprefix(rule["strip"])
        assert synced_to == Path("/app/config/settings/base.py")


def test_dev_profile_makes_the_synced_folder_writable(configurations):
    """File sync writes into the container, which the chart's read-only root would refuse."""
    release = configurations["dev"]["deploy"]["helm"]["releases"][0]
    assert release["setValues"]["containerSecurityContext.readOnlyRootFilesystem"] is False
    assert chart_values()["containerSecurityContext"]["readOnlyRootFilesystem"] is True


def test_releases_name_the_chart_and_values_files_that_exist(configurations):
    """Each profile deploys charts/bazaar with existing per-environment values files."""
    expected_values = {
        "(none)": "k8s/values/dev.yaml",
        "dev": "k8s/values/dev.yaml",
        "staging": "k8s/values/staging.yaml",
        "production": "k8s/values/production.yaml",
        "loadtest": "k8s/values/production.yaml",
    }
    for name, config in configurations.items():
        (release,) = config["deploy"]["helm"]["releases"]
        assert release["chartPath"] == "charts/bazaar"
        assert (ROOT / release["chartPath"] / "Chart.yaml").is_file()
        assert release["valuesFiles"][0] == expected_values[name], name
        for values_file in release["valuesFiles"]:
            assert (ROOT / values_file).is_file(), f"{name}: {values_file} is missing"


def test_image_values_point_at_the_built_artifact(configurations):
    """setValueTemplates fill the chart's image keys from the artifact skaffold built."""
    for name, config in configurations.items():
        (artifact,) = config["build"]["artifacts"]
        (release,) = config["deploy"]["helm"]["releases"]
        templates = release["setValueTemplates"]
        suffix = _sanitized(artifact["image"])
        assert templates["image.repository"] == f"{{{{.IMAGE_REPO_{suffix}}}}}", name
        assert templates["image.tag"] == f"{{{{.IMAGE_TAG_{suffix}}}}}", name
        for key in [*templates, *release.get("setValues", {})]:
            assert _values_path_exists(key), f"{name}: {key} is not a chart value"


def test_each_profile_renders_and_forwards_to_the_web_service(configurations):
    """The chart renders with each profile's values; the forwarded service and port exist."""
    from tests.chart.helm import RELEASE_NAME, render

    local_ports = {"(none)": 8000, "dev": 8000, "staging": 8000, "production": 8000}
    local_ports["loadtest"] = 8080
    for name, config in configurations.items():
        (release,) = config["deploy"]["helm"]["releases"]
        assert release["name"] == RELEASE_NAME
        overrides = _nested(
            {
                **release.get("setValues", {}),
                "image.repository": config["build"]["artifacts"][0]["image"],
                "image.tag": "skaffold-test",
            }
        )
        objects = render([ROOT / f for f in release["valuesFiles"]], overrides)
        services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
        web_forward = config["portForward"][0]
        assert web_forward["namespace"] == release["namespace"], name
        service = services[web_forward["resourceName"]]
        assert web_forward["port"] in {p["port"] for p in service["spec"]["ports"]}, name
        assert web_forward["localPort"] == local_ports[name], name
