"""Test data for a load run, made up front and never inside the measured loop.

Runs in the target's environment (the same settings and ``DATABASE_URL`` as its web pods)::

    python -m loadtests.prepare --accounts 40 --products 200 --out data.json

and, standing alone, inside a web pod of a cluster release (see ``loadtests/README.md``)::

    kubectl exec -i deploy/bazaar-web -- python - --out /tmp/data.json < loadtests/prepare.py

* products with deep stock: ``generate_fake_products N --stock 100000`` tops the catalog up
  until N products have at least ``STOCK_FLOOR`` units, so repeated checkouts never run dry;
* one shopper account per simulated user (get-or-create, so runs reuse them) and an access
  token for each, minted with the release's signing key: the auth endpoints are throttled per
  client address (``THROTTLE_AUTH``, 30/min), and one load generator is one address, so
  logging 40 users in through the API would measure the throttle rather than the shop;
* what the anonymous journeys browse: category slugs, product slugs and search words.

The JSON file is what ``loadtests/locustfile.py`` reads (``LOADTEST_DATA``).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import secrets
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

ACCOUNT_EMAIL = "{prefix}-{index:04d}@loadtest.bazaar.local"
STOCK_FLOOR = 10_000
DEEP_STOCK = 100_000
BROWSE_SAMPLE = 200
SEARCH_WORDS = 30


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")
    if importlib.util.find_spec("config") is None:  # a checkout; the image has /app on the path
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))
    import django

    django.setup()


def prepare(
    *, accounts: int, products: int, token_hours: int, account_prefix: str = "shopper"
) -> dict:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    from bazaar.accounts import services as account_services
    from bazaar.catalog.models import Category, Product

    stocked = Product.objects.visible().filter(stock__gte=STOCK_FLOOR)
    missing = products - stocked.count()
    if missing > 0:
        call_command(
            "generate_fake_products", missing, "--stock", DEEP_STOCK, "--seed", 6,
            stdout=io.StringIO(),
        )  # fmt: skip

    user_model = get_user_model()
    password = secrets.token_urlsafe(16)
    shoppers = []
    for index in range(accounts):
        email = ACCOUNT_EMAIL.format(prefix=account_prefix, index=index)
        user = user_model.objects.filter(email=email).first()
        if user is None:
            user = account_services.user_register(email=email, password=password)
        token = AccessToken.for_user(user)
        token.set_exp(lifetime=timedelta(hours=token_hours))
        shoppers.append({"email": email, "access": str(token)})

    names = Product.objects.visible().values_list("name", flat=True)[:2000]
    words = Counter(word.lower() for name in names for word in name.split() if len(word) > 3)
    return {
        "accounts": shoppers,
        "stocked_products": list(stocked.order_by("id").values_list("slug", flat=True)[:products]),
        "browse_products": list(
            Product.objects.visible().order_by("?").values_list("slug", flat=True)[:BROWSE_SAMPLE]
        ),
        "categories": list(
            Category.objects.filter(parent__isnull=False).values_list("slug", flat=True)
        ),
        "search_words": [word for word, _ in words.most_common(SEARCH_WORDS)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.prepare", description=__doc__)
    parser.add_argument("--accounts", type=int, default=40, help="shopper accounts (>= users)")
    parser.add_argument("--products", type=int, default=200, help="products with deep stock")
    parser.add_argument(
        "--account-prefix", default="shopper", help="separates the accounts of concurrent tools"
    )
    parser.add_argument("--token-hours", type=int, default=4, help="lifetime of the tokens")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    _setup_django()
    data = prepare(
        accounts=args.accounts,
        products=args.products,
        token_hours=args.token_hours,
        account_prefix=args.account_prefix,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    print(
        f"prepared {len(data['accounts'])} accounts, {len(data['stocked_products'])} stocked "
        f"products -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
