from django.urls import include, path


def broken_view(request):
    raise RuntimeError("boom")


urlpatterns = [
    path("broken/", broken_view),
    path("", include("config.urls")),
]
