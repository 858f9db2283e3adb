import pytest
from django.conf import settings

from conftest import client_for

from .factories import PASSWORD, AddressFactory, UserFactory

pytestmark = pytest.mark.django_db


def assert_envelope(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    if code:
        assert error["code"] == code
    return error


def test_register_creates_an_account_that_can_log_in(api_client):
    response = api_client.post(
        "/api/v1/auth/register/", {"email": "New@Example.com", "password": PASSWORD}
    )
    assert response.status_code == 201
    assert response.json()["email"] == "new@example.com"
    assert "password" not in response.json()

    tokens = api_client.post(
        "/api/v1/auth/token/", {"email": "new@example.com", "password": PASSWORD}
    )
    assert tokens.status_code == 200
    assert {"access", "refresh"} <= tokens.json().keys()


def test_register_rejects_taken_email_and_weak_password(api_client, user):
    taken = api_client.post("/api/v1/auth/register/", {"email": user.email, "password": PASSWORD})
    assert_envelope(taken, 409, "email_taken")
    weak = api_client.post(
        "/api/v1/auth/register/", {"email": "x@example.com", "password": "12345678"}
    )
    error = assert_envelope(weak, 400, "invalid")
    assert "password" in error["details"]["fields"]
    malformed = api_client.post("/api/v1/auth/register/", {"email": "not-an-email"})
    assert set(assert_envelope(malformed, 400)["details"]["fields"]) == {"email", "password"}


def test_refresh_issues_a_new_access_token(api_client, user):
    tokens = api_client.post(
        "/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}
    ).json()
    refreshed = api_client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 200
    assert refreshed.json()["access"]
    bad = api_client.post("/api/v1/auth/token/refresh/", {"refresh": "garbage"})
    assert_envelope(bad, 401)


def test_profile_requires_authentication_and_updates_name(api_client, user_client, user):
    assert_envelope(api_client.get("/api/v1/auth/me/"), 401, "not_authenticated")
    response = user_client.patch(
        "/api/v1/auth/me/", {"full_name": "Ada Lovelace", "email": "x@y.z"}
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.full_name == "Ada Lovelace"
    assert user.email != "x@y.z", "the email is not writable through the profile"


def test_addresses_are_private_to_their_owner(user_client, other_client, user):
    created = user_client.post(
        "/api/v1/auth/me/addresses/",
        {
            "full_name": "A",
            "line1": "Main St 1",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "de",
            "is_default": True,
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["country"] == "DE"
    address_id = created.json()["id"]
    assert [a["id"] for a in user_client.get("/api/v1/auth/me/addresses/").json()["results"]] == [
        address_id
    ]

    url = f"/api/v1/auth/me/addresses/{address_id}/"
    for method in ("get", "patch", "delete"):
        assert_envelope(getattr(other_client, method)(url, {"city": "Paris"}), 404, "not_found")
    assert other_client.get("/api/v1/auth/me/addresses/").json()["results"] == []

    assert user_client.patch(url, {"city": "Hamburg"}).json()["city"] == "Hamburg"
    assert user_client.delete(url).status_code == 204


def test_a_new_default_address_replaces_the_old_default(user_client, user):
    first = AddressFactory(user=user, is_default=True)
    response = user_client.post(
        "/api/v1/auth/me/addresses/",
        {
            "full_name": "B",
            "line1": "x",
            "city": "y",
            "postal_code": "1",
            "country": "FR",
            "is_default": True,
        },
    )
    assert response.status_code == 201
    first.refresh_from_db()
    assert first.is_default is False


def test_repeated_wrong_passwords_lock_the_account_out(api_client):
    user = UserFactory()
    for _ in range(settings.LOGIN_LOCKOUT_ATTEMPTS):
        assert (
            api_client.post(
                "/api/v1/auth/token/", {"email": user.email, "password": "wrong"}
            ).status_code
            == 401
        )
    locked = api_client.post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD})
    assert_envelope(locked, 429, "throttled")
    # Another account is not affected.
    other = UserFactory()
    assert (
        api_client.post(
            "/api/v1/auth/token/", {"email": other.email, "password": PASSWORD}
        ).status_code
        == 200
    )


def test_authenticated_client_helper_really_authenticates(user):
    assert client_for(user).get("/api/v1/auth/me/").json()["email"] == user.email
