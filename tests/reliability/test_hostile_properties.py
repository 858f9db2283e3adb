"""Property-based hostile input: hypothesis generates bodies, query strings, path segments and
headers that parsers choke on, and sends them to every operation of the committed OpenAPI
schema on a live prod web process (Postgres behind PgBouncer in transaction mode, Redis).

Each generated request must be answered below 500, every 4xx in the error envelope, and a
refused request must write nothing. ``derandomize`` makes the examples the same on every run,
so a failure here is a reproducible one.
"""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from urllib.parse import quote, quote_from_bytes

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bazaar.accounts.models import Address, User
from bazaar.accounts.tests.factories import AddressFactory, UserFactory
from bazaar.carts.models import CartItem
from bazaar.catalog.models import Product
from bazaar.catalog.tests.factories import ProductFactory
from bazaar.common.parsers import MAX_DEPTH
from bazaar.orders.models import IdempotencyKey, Order
from bazaar.orders.tests.factories import fill_cart
from bazaar.payments.models import WebhookEvent
from bazaar.reviews.models import Review

from .conftest import client, token_for
from .test_hostile_input import COMMITTED_SCHEMA, assert_envelope

pytestmark = pytest.mark.django_db(transaction=True)

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
EXAMPLES_PER_OPERATION = 40
SCHEMA = yaml.safe_load(COMMITTED_SCHEMA.read_text())
OPERATIONS = sorted(
    (method, path)
    for path, item in SCHEMA["paths"].items()
    for method in item
    if method in HTTP_METHODS
)


def request_fields(method: str, path: str) -> list[str]:
    """The names a body of this operation may carry, from its JSON request schema."""
    body = SCHEMA["paths"][path][method].get("requestBody", {})
    schema = body.get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return sorted(schema.get("properties", {}))


def query_names(method: str, path: str) -> list[str]:
    parameters = SCHEMA["paths"][path][method].get("parameters", [])
    return sorted(p["name"] for p in parameters if p["in"] == "query")


# --- what a parser can choke on -----------------------------------------------------------------

# Any text, lone surrogates and NUL included (JSON escapes them as \udxxx and \u0000), and
# often one of the characters no database, encoder or comparison takes.
any_text = st.one_of(
    st.text(st.characters(codec=None), max_size=40),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfff", "\ufeff", "\u202e", ""]),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**18, max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)


def as_json(value) -> bytes:
    return json.dumps(value, ensure_ascii=True, default=str).encode()


# Around the API's limit, and past the interpreter's recursion limit.
DEPTHS = st.sampled_from([MAX_DEPTH, MAX_DEPTH + 1, 1_000, 5_000, 100_000])


def raw_json(fields: list[str]) -> st.SearchStrategy[bytes]:
    """JSON text Python's json module parses in its own way, or not at all."""
    name = st.sampled_from(fields or ["product"])
    return st.one_of(
        DEPTHS.map(lambda n: b"[" * n + b"]" * n),
        DEPTHS.map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
        st.tuples(name, st.integers(15, 6_000)).map(
            lambda t: b'{"%s": %s}' % (t[0].encode(), b"9" * t[1])
        ),
        st.tuples(name, st.sampled_from([b"1e400", b"-1e400", b"NaN", b"Infinity", b"-0"])).map(
            lambda t: b'{"%s": %s}' % (t[0].encode(), t[1])
        ),
        st.tuples(name, json_values, json_values).map(
            lambda t: (
                b'{"%s": %s, "%s": %s}' % (key := t[0].encode(), as_json(t[1]), key, as_json(t[2]))
            )
        ),
        st.tuples(name, st.binary(max_size=12)).map(
            lambda t: b'{"%s": "%s"}' % (t[0].encode(), t[1].replace(b'"', b""))
        ),
        st.binary(max_size=64),
    )


def bodies(fields: list[str]) -> st.SearchStrategy[bytes]:
    """Bodies shaped like the operation's own (its fields, any values), and hostile text."""
    shaped = st.dictionaries(st.sampled_from(fields), json_values, max_size=len(fields)).map(
        as_json
    ) if fields else json_values.map(as_json)  # fmt: skip
    # Half the bodies are text the parsers themselves must refuse.
    return st.one_of(st.one_of(shaped, json_values.map(as_json)), raw_json(fields))


# Half of them JSON as the API takes it, so that bodies reach the JSON parser.
CONTENT_TYPES = st.one_of(
    st.just("application/json"),
    st.sampled_from(
        [
            "application/json; charset=utf-16",
            "application/json; charset=latin-1",
            "application/json; charset=no-such-codec",
            "application/json; charset=",
            "application/vnd.api+json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "multipart/form-data",
            "",
        ]
    ),
)


def url_text() -> st.SearchStrategy[str]:
    """A percent-encoded value: any text (as UTF-8, surrogates passed through) or raw bytes."""
    return st.one_of(
        any_text.map(lambda t: quote(t.encode("utf-8", "surrogatepass"), safe="")),
        st.binary(max_size=24).map(lambda b: quote_from_bytes(b, safe="")),
    )


def query_strings(names: list[str]) -> st.SearchStrategy[str]:
    name = st.sampled_from([*names, "cursor", "page_size", "ordering", "x"])
    pairs = st.lists(st.tuples(name, url_text()), max_size=4)
    return pairs.map(lambda ps: "&".join(f"{n}={v}" for n, v in ps))


# What HTTP lets through to the application at all: no control bytes, no surrounding space
# (h11 and gunicorn refuse those before Django), but any obs-text byte (0x80-0xff).
FORBIDDEN_IN_HEADERS = bytes([*range(0x20), 0x7F]).replace(b"\t", b"")


def header_safe(value: bytes) -> bytes:
    return value.translate(None, FORBIDDEN_IN_HEADERS).strip(b" \t")


header_values = st.one_of(
    st.binary(max_size=300),
    any_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
).map(header_safe)


def hostile_headers(valid_token: str) -> st.SearchStrategy[dict[str, bytes]]:
    authorization = st.one_of(
        st.just(f"Bearer {valid_token}".encode()),
        header_values.map(lambda v: header_safe(b"Bearer " + v)),
        header_values,
        st.just(b"Bearer " + b"a." * 5000),
    )
    signature = st.one_of(
        header_values,
        st.tuples(st.integers(-(10**30), 10**30), st.text("0123456789abcdef", max_size=80)).map(
            lambda t: f"t={t[0]},v1={t[1]}".encode()
        ),
        st.integers(0, 5000).map(lambda n: b"t=" + b"9" * n + b",v1=00"),
    )
    return st.fixed_dictionaries(
        {"Authorization": authorization},
        optional={
            "Idempotency-Key": st.one_of(header_values, st.uuids().map(lambda u: str(u).encode())),
            "Bazaar-Signature": signature,
            "Accept-Language": header_values,
            "If-None-Match": header_values,
        },
    )


def path_segments() -> st.SearchStrategy[str]:
    return st.one_of(url_text(), st.integers(-(10**30), 10**30).map(str))


# --- the property ---------------------------------------------------------------------------------


def writes() -> tuple[int, ...]:
    return (
        User.objects.count(),
        Address.objects.count(),
        CartItem.objects.count(),
        Order.objects.count(),
        IdempotencyKey.objects.count(),
        WebhookEvent.objects.count(),
        Review.objects.count(),
        Product.objects.count(),
    )


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_hostile_requests_to_every_operation_are_never_a_server_error(fresh_shop, method, path):
    web = fresh_shop.webs[0]
    shopper = UserFactory()
    product = ProductFactory(price=Decimal("5.00"), stock=1_000)
    address = AddressFactory(user=shopper)
    fill_cart(shopper, (product, 1))
    item = CartItem.objects.get(cart__user=shopper)
    token = token_for(shopper)
    with client(web.base_url, shopper) as http:
        placed = http.post("/api/v1/orders/", json={}, headers={"Idempotency-Key": "seed"})
        assert placed.status_code == 201, placed.text
    fill_cart(shopper, (product, 1))
    owned = {"id": placed.json()["id"], "slug": product.slug}
    if "addresses" in path:
        owned["id"] = address.pk
    elif "cart/items" in path:
        owned["id"] = CartItem.objects.get(cart__user=shopper).pk
    del item
    fields = request_fields(method, path)
    seen: dict[int, int] = {}

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        segment=st.one_of(st.none(), path_segments()),
        query=query_strings(query_names(method, path)),
        body=st.none() if method in ("get", "delete") else bodies(fields),
        content_type=CONTENT_TYPES,
        headers=hostile_headers(token),
    )
    def send(segment, query, body, content_type, headers):
        url = re.sub(
            r"\{(\w+)\}", lambda m: segment if segment is not None else str(owned[m[1]]), path
        )
        request_headers = {**headers, "X-Forwarded-Proto": b"https"}
        if content_type:
            request_headers["Content-Type"] = content_type.encode()
        before = writes()
        with httpx.Client(base_url=web.base_url, timeout=30) as raw:
            response = raw.request(
                method.upper(),
                f"{url}?{query}" if query else url,
                content=body if method != "get" else None,
                headers=request_headers,
            )
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, (method, url, query, body, headers, response.text)
        if response.status_code >= 400:
            assert_envelope(response, response.status_code)
            assert writes() == before, ("a refused request wrote", method, url, body)

    send()
    refused = sum(count for status, count in seen.items() if status >= 400)
    assert refused, f"no generated request to {method} {path} was refused: {seen}"


def test_a_refused_body_is_logged_once_with_its_request_id(fresh_shop):
    """One log line per refused request (the access line, with the request id) and nothing at
    error level, on a web process that logs at INFO."""
    web = fresh_shop.start_web(LOG_LEVEL="INFO")
    request_id = f"hostile-{uuid.uuid4().hex}"
    with client(web.base_url, UserFactory()) as http:
        response = http.post(
            "/api/v1/cart/items/",
            content=b"[" * 100_000 + b"]" * 100_000,
            headers={"Content-Type": "application/json", "X-Request-ID": request_id},
        )
        assert_envelope(response, 400)
    web.stop()
    output = web.output_of_last_run()
    lines = [json.loads(line) for line in output.splitlines() if request_id in line]
    assert len(lines) == 1, lines
    assert (lines[0]["event"], lines[0]["status"], lines[0]["level"]) == (
        "http_request",
        400,
        "info",
    )
    assert not [line for line in output.splitlines() if '"level": "error"' in line]
    assert "Traceback" not in output
