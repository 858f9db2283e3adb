"""Web slices: the URL groups one web Deployment can serve on its own (``bazaar web --slice``).

The one image serves every path by default. Started with a slice, the URLconf mounts only that
slice's paths (plus the probes and ``/metrics``); any other path is a 404 in the error envelope.
This mapping is the one definition of the groups: the URLconf, the launcher, ``make stack``'s
load balancer and the chart's Ingress and HTTPRoute (through ``files/web-slices.yaml``, written
by ``make chart-sync``) all read it.

A prefix is a whole path segment: ``/api/v1/cart`` serves ``/api/v1/cart`` and
``/api/v1/cart/items/``, never ``/api/v1/carts``. Every public path belongs to exactly one slice.
The admin and the OpenAPI schema and docs live on ``accounts``: they are low-traffic, staff- or
developer-facing, and so kept off the read-heavy catalog pods and the checkout pods whose latency
customers feel. The schema still documents the whole API. Static files (the admin's) are served
by WhiteNoise in every process, before any URLconf, and reach ``accounts`` as unclaimed paths.
"""

import re

SLICES: dict[str, tuple[str, ...]] = {
    "catalog": ("/api/v1/products", "/api/v1/categories"),
    "checkout": ("/api/v1/cart", "/api/v1/orders", "/api/v1/payments"),
    "accounts": ("/api/v1/auth", "/admin", "/api/schema", "/api/docs"),
}
# Routers send every path no slice claims here, so it gets the envelope 404 of a Bazaar process.
DEFAULT_SLICE = "accounts"


def slice_of(path: str) -> str | None:
    """The slice whose prefixes cover ``path``, or None for a path no slice serves."""
    for name, prefixes in SLICES.items():
        if any(path == prefix or path.startswith(f"{prefix}/") for prefix in prefixes):
            return name
    return None


def path_regex(name: str) -> str:
    """A regex matching, without consuming, the paths of slice ``name`` as Django's resolver sees
    them (no leading slash): the URLconf includes every public route under it, so the routes
    keep their own definitions and only this slice's paths resolve (or reverse)."""
    alternatives = "|".join(re.escape(prefix.lstrip("/")) for prefix in SLICES[name])
    return rf"^(?=(?:{alternatives})(?:/|$))"
