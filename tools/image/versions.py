"""What the image tools build, pinned in one place. The upstream images users pull stay pinned
where users read them: the Dockerfile's ``ARG``s and docker-compose.yml."""

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"

COMPOSE = "v2.40.3"  # tools/image/gomod/compose
MAILPIT = "v1.27.11"  # tools/image/gomod/mailpit

# The local twins: the Dockerfile's bases, and the services docker-compose.yml and the chart run.
DEBIAN_IMAGE = f"bazaar.local/debian:{DEBIAN_SUITE}"
PYTHON_IMAGE = f"bazaar.local/python:3.11-{DEBIAN_SUITE}"
SERVICE_IMAGES = {
    # target in services/Dockerfile -> the reference it is tagged with
    "postgres": f"bazaar.local/postgres:15-{DEBIAN_SUITE}",
    "pgbouncer": f"bazaar.local/pgbouncer:1-{DEBIAN_SUITE}",
    "pgbouncer-exporter": f"bazaar.local/pgbouncer-exporter:{DEBIAN_SUITE}",
    "redis": f"bazaar.local/redis:7-{DEBIAN_SUITE}",
    "redis-exporter": f"bazaar.local/redis-exporter:{DEBIAN_SUITE}",
    "prometheus": f"bazaar.local/prometheus:2-{DEBIAN_SUITE}",
    "mailpit": f"bazaar.local/mailpit:{MAILPIT}",
}
APP_IMAGE = "bazaar.local/bazaar"
