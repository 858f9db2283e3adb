"""Web slices (bazaar/common/slices.py): a slice resolves its own paths and no other."""

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from django.urls import Resolver404, resolve

from bazaar.common.slices import DEFAULT_SLICE, SLICES, path_regex, slice_of
from tests.plugins.services import APP_DIR, launcher_command

SCHEMA = Path(APP_DIR).parent / "docs" / "openapi.yaml"
NON_API_PATHS = ["/admin/", "/admin/login/", "/api/schema/", "/api/docs/"]
ALWAYS_SERVED = ["/healthz", "/readyz", "/metrics"]


def public_paths() -> list[str]:
    """One concrete path per operation path of the OpenAPI schema, and the non-API pages."""
    paths = yaml.safe_load(SCHEMA.read_text())["paths"]
    return [re.sub(r"\{[^}]+\}", "1", path) for path in paths] + NON_API_PATHS


def sliced_urlconf(settings, name: str):
    """config/urls.py as a process started with ``WEB_SLICE=name`` loads it."""
    settings.WEB_SLICE = name
    spec = importlib.util.find_spec("config.urls")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    settings.ROOT_URLCONF = module
    return module


def resolves(path: str, urlconf) -> bool:
    try:
        resolve(path, urlconf=urlconf)
    except Resolver404:
        return False
    return True


def test_every_public_path_belongs_to_exactly_one_slice():
    owners = {path: [n for n in SLICES if slice_of(path) == n] for path in public_paths()}
    assert {path: names for path, names in owners.items() if len(names) != 1} == {}
    prefixes = [prefix for group in SLICES.values() for prefix in group]
    assert len(prefixes) == len(set(prefixes))
    nested = [(a, b) for a in prefixes for b in prefixes if a != b and a.startswith(f"{b}/")]
    assert nested == [], "a prefix inside another slice's prefix would be routed twice"


def test_the_slices_split_the_shop_as_documented():
    assert slice_of("/api/v1/products/classic-tee/reviews/") == "catalog"
    assert slice_of("/api/v1/categories/") == "catalog"
    assert slice_of("/api/v1/cart/items/3/") == "checkout"
    assert slice_of("/api/v1/orders/7/cancel/") == "checkout"
    assert slice_of("/api/v1/payments/webhook/") == "checkout"
    assert slice_of("/api/v1/auth/token/") == "accounts"
    assert slice_of("/admin/") == "accounts"
    assert slice_of("/api/v1/carts/") is None, "a prefix is a whole path segment"
    assert DEFAULT_SLICE in SLICES


def test_the_path_regex_matches_whole_segments_without_consuming_them():
    pattern = re.compile(path_regex("checkout"))
    assert pattern.match("api/v1/cart/items/").end() == 0
    assert pattern.match("api/v1/cart")
    assert not pattern.match("api/v1/carts/")
    assert not pattern.match("api/v1/products/")


@pytest.mark.parametrize("name", sorted(SLICES))
def test_a_slice_resolves_its_own_paths_and_no_other(settings, name):
    urlconf = sliced_urlconf(settings, name)
    wrong = {
        path: resolves(path, urlconf)
        for path in public_paths()
        if resolves(path, urlconf) != (slice_of(path) == name)
    }
    assert wrong == {}, "True: served though foreign; False: own path not served"
    assert all(resolves(path, urlconf) for path in ALWAYS_SERVED), "probes and /metrics"


@pytest.mark.parametrize("name", sorted(SLICES))
def test_a_foreign_path_is_a_404_in_the_envelope(settings, client, name):
    sliced_urlconf(settings, name)
    foreign = next(path for path in public_paths() if slice_of(path) not in {name, None})
    response = client.get(foreign)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert client.get("/healthz").status_code == 200


def test_without_a_slice_every_path_is_served(settings):
    urlconf = sliced_urlconf(settings, "")
    assert [path for path in public_paths() + ALWAYS_SERVED if not resolves(path, urlconf)] == []


def test_the_schema_served_by_accounts_documents_the_whole_api(settings, client):
    sliced_urlconf(settings, "accounts")
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert response.status_code == 200
    assert yaml.safe_load(response.content) == yaml.safe_load(SCHEMA.read_text())


def test_the_launcher_refuses_an_unknown_slice_and_names_the_slices():
    result = subprocess.run(
        [*launcher_command(), "web", "--slice", "search"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "invalid choice: 'search'" in result.stderr
    assert all(f"'{name}'" in result.stderr for name in SLICES)


def test_settings_refuse_an_unknown_web_slice(tmp_path):
    result = subprocess.run(
        [*launcher_command(), "manage", "check"],
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.dev"}
        | {"WEB_SLICE": "search", "HOME": str(tmp_path)},
        cwd=APP_DIR,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "WEB_SLICE='search' is not a slice; choose one of catalog, checkout, accounts" in (
        result.stderr
    )
