from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "loadtests.bench"
    label = "bench_baseline"
    default_auto_field = "django.db.models.BigAutoField"
