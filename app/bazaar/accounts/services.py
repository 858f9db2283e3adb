import hashlib

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.db import IntegrityError, transaction

from bazaar.common.errors import Conflict

from .models import Address, User


def user_register(*, email: str, password: str, full_name: str = "") -> User:
    email = User.objects.normalize_email(email).lower()
    validate_password(password, user=User(email=email, full_name=full_name))
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, full_name=full_name)
    except IntegrityError as exc:
        raise Conflict("An account with this email already exists.", code="email_taken") from exc


def user_update_profile(*, user: User, full_name: str) -> User:
    user.full_name = full_name
    user.save(update_fields=["full_name"])
    return user


@transaction.atomic
def address_save(*, user: User, address: Address | None = None, **fields) -> Address:
    """Create or update an address; making it the default clears the previous default."""
    if fields.get("is_default"):
        Address.objects.filter(user=user, is_default=True).exclude(
            pk=getattr(address, "pk", None)
        ).update(is_default=False)
    if address is None:
        return Address.objects.create(user=user, **fields)
    for name, value in fields.items():
        setattr(address, name, value)
    address.save()
    return address


def address_delete(*, address: Address) -> None:
    address.delete()


# --- Login lockout -----------------------------------------------------------------------------
# Failures are counted in the shared cache (Redis), so the limit holds across every web worker
# and pod, not per process.


def _lockout_key(email: str) -> str:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"login-failures:{digest}"


def login_is_locked(*, email: str) -> bool:
    return (cache.get(_lockout_key(email)) or 0) >= settings.LOGIN_LOCKOUT_ATTEMPTS


def login_record_failure(*, email: str) -> int:
    key = _lockout_key(email)
    cache.add(key, 0, timeout=settings.LOGIN_LOCKOUT_SECONDS)
    try:
        return cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)
        return 1


def login_record_success(*, email: str) -> None:
    cache.delete(_lockout_key(email))
