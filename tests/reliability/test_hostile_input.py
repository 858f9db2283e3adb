"""Hostile input against a live prod web process: schemathesis over the whole OpenAPI schema,
hand-written nasty bodies, another user's objects, fields a client must never set, and the
login lockout shared by every web worker."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from bazaar.accounts.models import Address, User
from bazaar.accounts.tests.factories import AddressFactory, UserFactory
from bazaar.carts.models import CartItem
from bazaar.catalog.models import Product
from bazaar.catalog.tests.factories import ProductFactory
from bazaar.orders.models import Order
from bazaar.orders.tests.factories import fill_cart
from bazaar.reviews.models import Review
from tests.plugins.services import APP_DIR, REPO_ROOT

from .conftest import checkout, client

pytestmark = pytest.mark.django_db(transaction=True)

COMMITTED_SCHEMA = REPO_ROOT / "docs" / "openapi.yaml"
SCHEMATHESIS_CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS_SEED = 20240607
SCHEMATHESIS_MAX_EXAMPLES = 15
UNUSUAL_TEXT = [
    "\u202eevil\u202c",  # right-to-left override
    "e\u0301\u0301\u0301",  # stacked combining marks
    "\U0001f600\U0001f468\u200d\U0001f469\u200d\U0001f467",  # emoji and a ZWJ sequence
    "\ufeff\u200b",  # BOM and zero-width space
    "\U000e0041",  # a tag character
    "\ud800",  # a lone surrogate: not encodable as UTF-8
]


def post_oversized(web, authorization: str, path: str) -> bytes:
    """Announce a body over the limit, send its first part and read the answer, as a client
    does whose upload is refused early (the server answers without reading it all)."""
    announced = 2 * 1024 * 1024
    head = (
        f"POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\n"
        f"X-Forwarded-Proto: https\r\nContent-Type: application/json\r\n"
        f"Content-Length: {announced}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as connection:
        connection.sendall(head.encode() + b'{"product": "' + b"x" * 65536)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def assert_envelope(response, *statuses: int) -> dict:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str)
    assert isinstance(error["details"], dict)
    return error


# --- the schema -----------------------------------------------------------------------------


def test_generated_schema_has_no_warnings_and_equals_the_committed_copy(tmp_path, figures):
    generated = tmp_path / "openapi.yaml"
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            generated,
        ],
        cwd=APP_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    warnings = [line for line in result.stderr.splitlines() if "Warning" in line]
    figures.record("hostile input", "schema warnings", len(warnings))
    assert result.returncode == 0, result.stderr
    assert warnings == []
    assert yaml.safe_load(generated.read_text()) == yaml.safe_load(COMMITTED_SCHEMA.read_text())


def test_schemathesis_finds_no_server_error_nor_conformance_failure(fresh_shop, tmp_path, figures):
    """Every operation, a fixed seed, all phases including the stateful one, signed in."""
    web = fresh_shop.webs[0]
    shopper = UserFactory()
    products = [ProductFactory(stock=1_000) for _ in range(3)]
    fill_cart(shopper, (products[0], 1))
    AddressFactory(user=shopper)
    report = tmp_path / "schemathesis.json"
    with client(web.base_url, shopper) as http:
        token = http.headers["Authorization"]
    result = subprocess.run(
        [
            Path(sys.executable).with_name("schemathesis"),
            "--config-file",
            SCHEMATHESIS_CONFIG,
            "run",
            f"{web.base_url}/api/schema/",
            "--url",
            web.base_url,
            "--header",
            f"Authorization: {token}",
            "--header",
            "X-Forwarded-Proto: https",
            # NUL is refused everywhere (the schema's description says so): its own tests
            # (test_parsers.py and the property test below) send it; schemathesis does not.
            "--generation-allow-x00",
            "false",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--seed",
            str(SCHEMATHESIS_SEED),
            "--max-examples",
            str(SCHEMATHESIS_MAX_EXAMPLES),
            "--workers",
            "2",
            "--suppress-health-check",
            "all",
            "--report",
            "json",
            "--report-json-path",
            report,
        ],
        capture_output=True,
        text=True,
        timeout=400,
    )
    output = result.stdout + result.stderr
    figures.record("hostile input", "schemathesis exit status", result.returncode)
    summary = [line for line in output.splitlines() if " in " in line and line.startswith("=")]
    figures.record("hostile input", "schemathesis summary", (summary or ["?"])[-1].strip("= "))
    assert result.returncode == 0, output[-60000:]


# --- explicit nasty requests ------------------------------------------------------------------


def test_malformed_oversized_and_absurd_requests_get_a_4xx_envelope(fresh_shop, figures):
    web = fresh_shop.webs[0]
    shopper = UserFactory()
    product = ProductFactory(stock=5)
    fill_cart(shopper, (product, 1))
    item = CartItem.objects.get(cart__user=shopper)
    cases = 0
    with client(web.base_url, shopper) as http:
        oversized = post_oversized(web, http.headers["Authorization"], "/api/v1/cart/items/")
        assert oversized.split(b" ")[1] == b"413", oversized[:200]
        assert b'"code": "request_too_large"' in oversized.replace(b'":"', b'": "'), oversized
        for body in (b"{", b'{"product": }', b"\x00\x01", b'{"product": "a\x00"}', b"[]"):
            response = http.post(
                "/api/v1/cart/items/", content=body, headers={"Content-Type": "application/json"}
            )
            assert_envelope(response, 400)
            cases += 1
        for quantity in (-1, 0, 10**6, 10**30, "1e9", 1.5, None, True):
            assert_envelope(
                http.post(
                    "/api/v1/cart/items/", json={"product": product.slug, "quantity": quantity}
                ),
                400,
            )
            assert_envelope(
                http.patch(f"/api/v1/cart/items/{item.pk}/", json={"quantity": quantity}), 400
            )
            cases += 2
        for page_size in ("1000000000", "9" * 40):  # clamped to the largest page
            response = http.get("/api/v1/products/", params={"page_size": page_size})
            assert response.status_code == 200, response.text
            assert len(response.json()["results"]) <= 100
            cases += 1
        for page_size in ("-5", "0", "abc", ""):
            response = http.get("/api/v1/products/", params={"page_size": page_size})
            assert_envelope(response, 400)
            cases += 1
        for params in ({"min_price": "-1e400"}, {"cursor": "\x00"}, {"ordering": "password"}):
            response = http.get("/api/v1/products/", params=params)
            assert response.status_code < 500, (params, response.text)
            if response.status_code >= 400:
                assert_envelope(response, response.status_code)
            cases += 1
        assert_envelope(
            http.post("/api/v1/orders/", json={}, headers={"Idempotency-Key": "k" * 256}), 400
        )
        cases += 1
    figures.record("hostile input", "malformed/oversized/absurd cases", cases + 1)


def raw_request(web, request: bytes) -> tuple[int, dict]:
    """Send bytes as they are and read the status and JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as connection:
        connection.sendall(request)
        response = http.client.HTTPResponse(connection)
        response.begin()
        assert response.getheader("Content-Type") == "application/json", response.headers
        return response.status, json.loads(response.read())


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /api/v1/products/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
         + b"a" * 20_000 + b"\r\n\r\n", 431),
        (b"GET /api/v1/products/?q=" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /api/v1/products/ HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400),
        (b"\x00\x01GARBAGE\r\n\r\n", 400),
        (b"POST /api/v1/cart/items/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"zz\r\n{}\r\n0\r\n\r\n", 400),
    ],
    ids=["header too large", "request line too long", "bad header name", "not HTTP", "bad chunk"],
)  # fmt: skip
def test_what_gunicorn_refuses_before_django_is_in_the_envelope_too(
    fresh_shop, request_bytes, status
):
    answered, body = raw_request(fresh_shop.webs[0], request_bytes)
    assert answered == status
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]


def text_fields_by_endpoint(product: Product) -> list[tuple[str, str, dict, list[str]]]:
    return [
        (
            "POST",
            "/api/v1/auth/register/",
            {"email": "u{n}@example.com", "password": "Xy7-long-pass!"},
            ["full_name"],
        ),
        ("PATCH", "/api/v1/auth/me/", {}, ["full_name"]),
        (
            "POST",
            "/api/v1/auth/me/addresses/",
            {"full_name": "A", "line1": "B", "city": "C", "postal_code": "1", "country": "DE"},
            ["full_name", "line1", "line2", "city", "postal_code", "country"],
        ),
        (
            "POST",
            f"/api/v1/products/{product.slug}/reviews/",
            {"rating": 4, "title": "t", "body": "b"},
            ["title", "body"],
        ),
        ("GET", "/api/v1/products/", {}, ["q", "category", "ordering"]),
    ]


def test_unusual_unicode_in_every_text_field_is_stored_intact_or_refused_in_the_envelope(
    fresh_shop, figures
):
    web = fresh_shop.webs[0]
    product = ProductFactory(stock=5)
    sent = 0
    for number, text in enumerate(UNUSUAL_TEXT):
        shopper = UserFactory()
        with client(web.base_url, shopper) as http:
            for method, path, base, fields in text_fields_by_endpoint(product):
                for field in fields:
                    body = {
                        k: (v.format(n=f"{number}-{field}") if isinstance(v, str) else v)
                        for k, v in base.items()
                    }
                    if method == "GET":
                        encoded = quote(text.encode("utf-8", "surrogatepass"))
                        response = http.get(f"{path}?{field}={encoded}")
                    else:
                        payload = json.dumps({**body, field: text}, ensure_ascii=True)
                        response = http.request(
                            method,
                            path,
                            content=payload,
                            headers={"Content-Type": "application/json"},
                        )
                    sent += 1
                    assert response.status_code < 500, (
                        method,
                        path,
                        field,
                        repr(text),
                        response.text,
                    )
                    if response.status_code >= 400:
                        assert_envelope(response, response.status_code)
                    elif method != "GET" and field in response.json():
                        assert response.json()[field] == text
                    if "reviews" in path:
                        Review.objects.filter(product=product).delete()
    figures.record("hostile input", "unusual-unicode requests", sent)


# --- another user's objects ---------------------------------------------------------------------


def test_every_operation_on_another_users_object_is_a_404(fresh_shop, figures):
    """Every path of the schema with an id of an owned object, every method it has."""
    web = fresh_shop.webs[0]
    owner, intruder = UserFactory(), UserFactory()
    product = ProductFactory(stock=5)
    address = AddressFactory(user=owner)
    fill_cart(owner, (product, 1))
    item = CartItem.objects.get(cart__user=owner)
    with client(web.base_url, owner) as http:
        order_id = checkout(http).json()["id"]
    fill_cart(owner, (product, 1))
    item = CartItem.objects.get(cart__user=owner)
    owned = {
        "/api/v1/auth/me/addresses/{id}/": address.pk,
        "/api/v1/cart/items/{id}/": item.pk,
        "/api/v1/orders/{id}/": order_id,
        "/api/v1/orders/{id}/cancel/": order_id,
    }
    schema = yaml.safe_load(COMMITTED_SCHEMA.read_text())
    id_paths = {path for path in schema["paths"] if "{id}" in path}
    assert id_paths == set(owned), "a new endpoint on owned objects needs its row here"
    bodies = {"patch": {"quantity": 2, "full_name": "x"}, "post": {}, "put": {}}
    checked = 0
    with client(web.base_url, intruder) as http:
        for path, object_id in owned.items():
            for method in schema["paths"][path]:
                if method not in {"get", "put", "patch", "post", "delete"}:
                    continue
                response = http.request(
                    method.upper(), path.format(id=object_id), json=bodies.get(method)
                )
                assert_envelope(response, 404)
                checked += 1
    assert Address.objects.filter(pk=address.pk).exists()
    assert CartItem.objects.get(pk=item.pk).quantity == 1
    assert Order.objects.get(pk=order_id).status == "pending_payment"
    figures.record("hostile input", "cross-user operations answered 404", checked)


# --- fields a client must never set -------------------------------------------------------------

FORBIDDEN = {
    "id": 999999,
    "user": 1,
    "owner": 1,
    "price": "0.01",
    "unit_price": "0.01",
    "line_total": "0.01",
    "total": "0.01",
    "status": "paid",
    "paid_at": "2020-01-01T00:00:00Z",
    "stock": 1_000_000,
    "is_staff": True,
    "is_superuser": True,
    "is_active": False,
    "email": "hijack@example.com",
}


def test_fields_a_client_must_never_set_cannot_be_set_through_any_endpoint(fresh_shop, figures):
    web = fresh_shop.webs[0]
    victim = UserFactory()
    product = ProductFactory(price=Decimal("20.00"), stock=5)
    attempts = 0
    with client(web.base_url) as anonymous:
        register = anonymous.post(
            "/api/v1/auth/register/",
            json={**FORBIDDEN, "email": "new@example.com", "password": "Xy7-long-pass!"},
        )
        assert register.status_code == 201, register.text
        attempts += 1
    created = User.objects.get(email="new@example.com")
    assert not (created.is_staff or created.is_superuser) and created.is_active

    shopper = UserFactory()
    with client(web.base_url, shopper) as http:
        forbidden = {**FORBIDDEN, "user": victim.pk, "owner": victim.pk}
        requests = [
            ("PATCH", "/api/v1/auth/me/", {**forbidden, "full_name": "Me"}),
            (
                "POST",
                "/api/v1/auth/me/addresses/",
                {
                    **forbidden,
                    "full_name": "A",
                    "line1": "B",
                    "city": "C",
                    "postal_code": "1",
                    "country": "DE",
                },
            ),
            ("POST", "/api/v1/cart/items/", {**forbidden, "product": product.slug, "quantity": 2}),
            (
                "POST",
                f"/api/v1/products/{product.slug}/reviews/",
                {**forbidden, "rating": 5, "title": "t", "body": "b"},
            ),
        ]
        for method, path, body in requests:
            response = http.request(method, path, json=body)
            assert response.status_code < 500, response.text
            attempts += 1
        item = CartItem.objects.get(cart__user=shopper)
        http.patch(f"/api/v1/cart/items/{item.pk}/", json={**forbidden, "quantity": 1})
        order = checkout(http).json()
        attempts += 2
        order_again = http.post(
            "/api/v1/orders/", json=forbidden, headers={"Idempotency-Key": "second"}
        )
        assert order_again.status_code in {400, 409}, order_again.text
        attempts += 1

    shopper.refresh_from_db()
    product.refresh_from_db()
    assert shopper.email != FORBIDDEN["email"] and not shopper.is_staff and shopper.is_active
    assert not Address.objects.filter(user=victim).exists()
    assert Address.objects.get(user=shopper).pk != FORBIDDEN["id"]
    assert not Review.objects.filter(user=victim).exists()
    placed = Order.objects.get(pk=order["id"])
    assert (placed.user_id, placed.status, placed.total) == (
        shopper.pk,
        "pending_payment",
        Decimal("20.00"),
    )
    assert placed.lines.get().unit_price == Decimal("20.00")
    assert (product.price, product.stock) == (Decimal("20.00"), 4)
    figures.record("hostile input", "attempts to set protected fields", attempts)


# --- lockout -------------------------------------------------------------------------------------


def test_wrong_passwords_lock_the_account_out_on_every_web_process(fresh_shop, figures):
    from django.conf import settings

    webs = fresh_shop.webs
    email, password = "locked@example.com", "Xy7-long-pass!"
    with client(webs[0].base_url) as http:
        assert (
            http.post(
                "/api/v1/auth/register/", json={"email": email, "password": password}
            ).status_code
            == 201
        )
    attempts = settings.LOGIN_LOCKOUT_ATTEMPTS
    for attempt in range(attempts):
        # Alternate processes (and with them gunicorn workers): only shared state can count.
        with client(webs[attempt % len(webs)].base_url) as http:
            wrong = http.post("/api/v1/auth/token/", json={"email": email, "password": "wrong"})
            assert_envelope(wrong, 401)
    for web in webs:
        with client(web.base_url) as http:
            locked = http.post("/api/v1/auth/token/", json={"email": email, "password": password})
            assert_envelope(locked, 429)
    figures.record("hostile input", "wrong passwords before lockout (all processes)", attempts)
