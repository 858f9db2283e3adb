from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from bazaar.common import errors, health
from bazaar.common.slices import path_regex

api_urlpatterns = [path("api/v1/", include("config.api_router"))]
# Every path a client reaches; bazaar/common/slices.py splits them between the web slices.
public_urlpatterns = [
    path("admin/", admin.site.urls),
    # The schema is built from the whole API, whichever slice serves it.
    path("api/schema/", SpectacularAPIView.as_view(urlconf=api_urlpatterns), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    *api_urlpatterns,
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", include("django_prometheus.urls")),
]
if settings.WEB_SLICE:
    urlpatterns.append(re_path(path_regex(settings.WEB_SLICE), include(public_urlpatterns)))
else:
    urlpatterns += public_urlpatterns
if settings.DEBUG:
    urlpatterns.append(path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}))

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
