"""``bazaar exporter``: queue depth and oldest-message age per queue, beat's last tick and
unapplied migrations, as Prometheus reads them."""

import os
import time

import httpx
import pytest
from django.core.cache import cache
from prometheus_client.parser import text_string_to_metric_families

from bazaar.common.celery import BEAT_TICK_CACHE_KEY
from config.celery_app import app as celery_app
from tests.plugins.processes import ManagedProcess, free_port
from tests.plugins.services import APP_DIR, TEST_SETTINGS_MODULE, launcher_command


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.django_db
def test_exporter_reports_queue_depth_age_beat_tick_and_migrations(services, tmp_path):
    services.redis.client(1).flushdb()
    with celery_app.connection_for_write() as connection:
        for _ in range(3):
            celery_app.send_task(
                "notifications.send_order_paid_email",
                kwargs={"order_id": "00000000-0000-0000-0000-000000000000"},
                queue="notifications",
                connection=connection,
            )
    cache.set(BEAT_TICK_CACHE_KEY, 1_700_000_000.0, timeout=None)
    time.sleep(1.1)

    port = free_port()
    exporter = ManagedProcess(
        "exporter",
        [*launcher_command(), "exporter"],
        log_dir=tmp_path,
        cwd=APP_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": TEST_SETTINGS_MODULE,
            "METRICS_PORT": str(port),
        },
        ready_url=f"http://127.0.0.1:{port}/healthz",
    ).start(60)
    try:
        scraped = samples(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
    finally:
        exporter.stop()
        services.redis.client(1).flushdb()

    assert scraped[("bazaar_celery_queue_length", (("queue", "notifications"),))] == 3
    assert scraped[("bazaar_celery_queue_length", (("queue", "payments"),))] == 0
    age = scraped[("bazaar_celery_queue_oldest_message_age_seconds", (("queue", "notifications"),))]
    assert 1.0 <= age < 120
    assert scraped[("bazaar_celery_queue_oldest_message_age_seconds", (("queue", "default"),))] == 0
    assert scraped[("bazaar_celery_beat_last_tick_timestamp_seconds", ())] == 1_700_000_000.0
    assert scraped[("django_migrations_unapplied_total", (("connection", "default"),))] == 0
