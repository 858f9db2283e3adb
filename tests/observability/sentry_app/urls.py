"""The production URLconf plus two test-only routes: an unhandled error in a view, and a view
that enqueues the failing task (so the task carries the request's id)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import *  # noqa: F403
from config.urls import urlpatterns as production_urlpatterns

from .tasks import fail_on_purpose


class ViewFailedOnPurpose(RuntimeError):
    pass


def failing_view(request: HttpRequest) -> JsonResponse:
    raise ViewFailedOnPurpose("a view failed on purpose for the Sentry test")


@csrf_exempt  # called by the test without a session
def enqueue_failing_task(request: HttpRequest) -> JsonResponse:
    fail_on_purpose.delay()
    return JsonResponse({"enqueued": True}, status=202)


urlpatterns = [
    path("sentry-test/failing-view/", failing_view),
    path("sentry-test/failing-task/", enqueue_failing_task),
    *production_urlpatterns,
]
