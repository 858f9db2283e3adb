from rest_framework.throttling import ScopedRateThrottle


class ScopedThrottle(ScopedRateThrottle):
    """Per-view scoped rates kept in the shared cache, so every web worker and pod counts
    together. Views without a ``throttle_scope`` are not throttled."""

    def allow_request(self, request, view) -> bool:
        if not getattr(view, "throttle_scope", None):
            return True
        return super().allow_request(request, view)
