"""Each way a parser of client input can fail, one by one: the strict JSON loader on its own, then
every place that takes client input through the full middleware stack (Postgres via PgBouncer),
answered with a 400-class error envelope and nothing written."""

import base64
import json
import time
from decimal import Decimal

import pytest
from django.conf import settings

from bazaar.accounts.models import User
from bazaar.accounts.tests.test_api import assert_envelope
from bazaar.carts.models import CartItem
from bazaar.catalog.tests.factories import ProductFactory
from bazaar.common import parsers
from bazaar.common.parsers import MAX_DEPTH, InvalidJSON
from bazaar.orders.models import IdempotencyKey, Order
from bazaar.orders.tests.factories import fill_cart
from bazaar.payments.gateways import signatures
from bazaar.payments.models import WebhookEvent

pytestmark = pytest.mark.django_db

# Past the interpreter's recursion limit: json.loads itself raises RecursionError here.
RECURSION = 100_000

HOSTILE = {
    "deep arrays": b"[" * RECURSION + b"]" * RECURSION,
    "deep objects": b'{"a":' * RECURSION + b"1" + b"}" * RECURSION,
    "just past the depth limit": b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    "a 5,000-digit integer": b'{"quantity": ' + b"9" * 5000 + b"}",
    "a float beyond double": b'{"quantity": 1e400}',
    "a negative float beyond double": b'{"quantity": -1e400}',
    "NaN": b'{"quantity": NaN}',
    "Infinity": b'{"quantity": Infinity}',
    "a duplicate key": b'{"product": "a", "product": "b", "quantity": 1}',
    "a nested duplicate key": b'[{"x": 1, "y": 2, "x": 3}]',
    "an escaped NUL": b'{"product": "a\\u0000"}',
    "an escaped NUL in a key": b'{"a\\u0000": 1}',
    "a raw NUL": b'{"product": "a\x00"}',
    "a lone surrogate": b'{"product": "\\ud800"}',
    "a lone low surrogate in a key": b'{"\\udc00": 1}',
    "invalid UTF-8": b'{"product": "\xff\xfe"}',
    "an encoded surrogate (CESU-8)": b'{"product": "\xed\xa0\x80"}',
    "a byte-order mark": b'\xef\xbb\xbf{"product": "a"}',
    "not JSON": b"{",
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_strict_loader_refuses_each_class_with_invalid_json(body):
    with pytest.raises(InvalidJSON) as refused:
        parsers.loads(body)
    assert str(refused.value)


def nested_lists(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"title": "\\ud83d\\ude00 ok"}', {"title": "\U0001f600 ok"}),  # a surrogate *pair*
        (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, nested_lists(MAX_DEPTH)),
        (b'{"n": -9223372036854775808, "x": 1.5e300}', {"n": -(2**63), "x": 1.5e300}),
        (b'{"a": {"a": 1}, "b": [1, 1]}', {"a": {"a": 1}, "b": [1, 1]}),
    ],
    ids=["surrogate pair", "depth at the limit", "bigint and large float", "same key nested"],
)
def test_the_strict_loader_accepts_what_the_api_can_hold(body, expected):
    assert parsers.loads(body) == expected


def writes() -> tuple[int, ...]:
    return (
        User.objects.count(),
        CartItem.objects.count(),
        Order.objects.count(),
        IdempotencyKey.objects.count(),
        WebhookEvent.objects.count(),
    )


@pytest.fixture
def product():
    return ProductFactory(slug="tea", price=Decimal("4.00"), stock=10)


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize(
    "path", ["/api/v1/cart/items/", "/api/v1/auth/register/", "/api/v1/auth/token/"]
)
def test_every_class_in_a_json_body_is_a_400_envelope_and_writes_nothing(
    user_client, product, path, body
):
    before = writes()
    response = user_client.generic("POST", path, body, content_type="application/json")
    error = assert_envelope(response, 400, "parse_error")
    assert error["message"]
    assert writes() == before


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/json; charset=utf-16", '{"product": "tea"}'.encode("utf-16"), 201),
        ("application/json; charset=utf-16", b'{"product": "tea"}', 400),  # odd byte count
        ("application/json; charset=latin-1", b'{"product": "t\xe9a"}', 400),  # no such slug
        ("application/json; charset=no-such-codec", b'{"product": "tea"}', 201),  # ignored
        ("application/json; charset=utf-8", b'{"product": "t\xe9a"}', 400),
        ("text/plain", b'{"product": "tea"}', 415),
        ("application/x-www-form-urlencoded", b"product=tea", 415),
        ("multipart/form-data; boundary=x", b"--x\r\n\r\ntea\r\n--x--\r\n", 415),
    ],
    ids=[
        "utf-16",
        "broken utf-16",
        "latin-1",
        "unknown charset",
        "bad utf-8",
        "text",
        "form",
        "multipart",
    ],
)
def test_declared_encodings_and_content_types_never_fail_on_the_server(
    user_client, product, content_type, body, status
):
    response = user_client.generic("POST", "/api/v1/cart/items/", body, content_type=content_type)
    if status == 201:
        assert response.status_code == 201, response.content
        assert CartItem.objects.get().product == product
    else:
        assert_envelope(response, status)
        assert not CartItem.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/products/%00/",
        "/api/v1/products/tea%00/reviews/",
        "/api/v1/categories/%00/",
        "/api/v1/products/?q=%00",
        "/api/v1/products/?category=tea%00",
        "/api/v1/products/?ordering=%00name",
        "/api/v1/products/?%00=1",
    ],
)
def test_a_nul_in_the_path_or_the_query_string_is_a_400(user_client, product, path):
    assert_envelope(user_client.get(path), 400, "invalid_request")


@pytest.mark.parametrize(
    "query",
    ["/api/v1/products/%ED%A0%80/", "/api/v1/products/?q=%ED%A0%80", "/api/v1/products/?q=%FF"],
    ids=["surrogate in the path", "surrogate in the query", "invalid utf-8 in the query"],
)
def test_undecodable_bytes_in_the_url_are_not_a_server_error(user_client, product, query):
    response = user_client.get(query)
    assert response.status_code in {200, 404}, response.content
    if response.status_code == 404:
        assert_envelope(response, 404, "not_found")


def encoded_cursor(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        encoded_cursor("p=\x00"),
        encoded_cursor("p=tea%00"),
        encoded_cursor("o=" + "9" * 5000),
        encoded_cursor("r=1&p=" + "9" * 5000),
        "%FF%FE",
        "not base64!",
    ],
    ids=["raw NUL", "escaped NUL", "huge offset", "huge position", "bytes", "garbage"],
)
@pytest.mark.parametrize("ordering", ["name", "price", "-created_at"])
def test_a_hostile_cursor_is_an_invalid_cursor_or_an_empty_page(
    user_client, product, cursor, ordering
):
    response = user_client.get(f"/api/v1/products/?ordering={ordering}&cursor={cursor}")
    assert response.status_code in {200, 400, 404}, response.content
    if response.status_code != 200:
        assert_envelope(response, response.status_code)


DUPLICATE_ALG = b'{"alg": "HS256", "alg": "none"}'


def jwt_part(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {jwt_part(b'[' * 5000 + b']' * 5000)}.{jwt_part(b'{}')}.sig",
        f"Bearer {jwt_part(DUPLICATE_ALG)}.{jwt_part(b'{}')}.sig",
        "Bearer \xe9\xff",
        "Bearer a b",
        "Bearer " + "a" * 8000,
        "Basic " + base64.b64encode(b"\xff:\x00").decode(),
    ],
    ids=["deep header", "duplicate alg", "latin-1", "two parts", "long", "basic"],
)
def test_a_hostile_authorization_header_is_a_401_envelope(api_client, product, authorization):
    response = api_client.get("/api/v1/cart/", HTTP_AUTHORIZATION=authorization)
    assert_envelope(response, 401)


@pytest.mark.parametrize("key", ["", "\x00", "a\x7f", "a\nb", " ", "k" * 256], ids=repr)
def test_a_hostile_idempotency_key_is_a_400_and_no_order(user, user_client, product, key):
    fill_cart(user, (product, 1))
    before = writes()
    response = user_client.post("/api/v1/orders/", {}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert_envelope(response, 400, "idempotency_key_required")
    assert writes() == before


def signed_post(api_client, body: bytes, header: str | None = None):
    if header is None:
        header = signatures.sign(body, settings.PAYMENT_WEBHOOK_SECRET, int(time.time()))
    return api_client.generic(
        "POST",
        "/api/v1/payments/webhook/",
        body,
        content_type="application/json",
        HTTP_BAZAAR_SIGNATURE=header,
    )


def event(**changes) -> dict:
    return {
        "id": "evt_hostile",
        "type": "charge.succeeded",
        "data": {
            "object": {
                "id": "ch_1",
                "status": "succeeded",
                "amount": "1.00",
                "currency": "EUR",
                "reference": "00000000-0000-0000-0000-000000000000",
            }
        },
        **changes,
    }


@pytest.mark.parametrize(
    "header",
    [
        "t=" + "9" * 4000 + ",v1=ab",
        "t=-" + "9" * 400 + ",v1=ab",
        "t=1e9,v1=ab",
        "t=\xff,v1=\xff",
        "v1=ab",
        "",
    ],
    ids=["huge timestamp", "huge negative timestamp", "float", "latin-1", "no timestamp", "none"],
)
def test_a_hostile_webhook_signature_header_is_a_401(api_client, header):
    before = writes()
    response = signed_post(api_client, json.dumps(event()).encode(), header)
    error = assert_envelope(response, 401, "invalid_signature")
    assert error["message"].startswith("Invalid webhook signature")
    assert response["WWW-Authenticate"] == 'Bazaar-Signature realm="payments"'
    assert writes() == before


@pytest.mark.parametrize(
    "body",
    [
        *(HOSTILE[name] for name in ("deep objects", "an escaped NUL", "a lone surrogate")),
        HOSTILE["a duplicate key"],
        json.dumps(event(id="e" * 101)).encode(),
        json.dumps(event(id=7)).encode(),
        json.dumps(event(type=None)).encode(),
        json.dumps(event(data={"object": {"id": "ch_1"}})).encode(),
        json.dumps(event(id="evt_\u0000")).encode(),
        json.dumps([event()]).encode(),
    ],
    ids=[
        "deep",
        "NUL",
        "surrogate",
        "duplicate key",
        "long id",
        "numeric id",
        "no type",
        "charge without fields",
        "NUL in the id",
        "an array",
    ],
)
def test_a_signed_but_malformed_webhook_event_is_a_400_and_not_stored(api_client, body):
    response = signed_post(api_client, body)
    error = assert_envelope(response, 400, "parse_error")
    assert error["message"].startswith("Malformed webhook event")
    assert not WebhookEvent.objects.exists()


def test_a_signed_well_formed_event_for_no_order_is_still_accepted(api_client):
    """The control for the cases above: the signing helper and the event shape are right."""
    response = signed_post(api_client, json.dumps(event()).encode())
    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.get().event_id == "evt_hostile"
