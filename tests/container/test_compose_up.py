"""``docker compose up`` of the committed docker-compose.yml, for real.

Docker Compose v2 (built from its Go module) runs the committed file on the private engine, with
``compose.local.yml`` on top: it only swaps the third-party images for their local twins and
lets Docker pick the published ports. The app image is the one the image tests built, tagged as
the file names it. Every service must come up healthy (``up --wait``); a checkout through the
published web port must end paid with its email in Mailpit; ``down -v`` must leave no
container, volume or network of the project behind, even when a test fails.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.shopping import checkout_until_paid, wait_for
from tools.image import build, versions
from tools.image.engine import Engine

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
LOCAL_IMAGES = Path(__file__).with_name("compose.local.yml")
UP_TIMEOUT = 300
PAYMENT_TIMEOUT = 90


@dataclass
class ComposeProject:
    engine: Engine
    binary: Path
    name: str

    def run(self, *arguments: str, timeout: float = UP_TIMEOUT) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.binary), "--project-name", self.name, "--project-directory", str(REPO_ROOT),
             "--file", str(COMPOSE_FILE), "--file", str(LOCAL_IMAGES), *arguments],
            env=self.engine.env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def url(self, service: str, port: int) -> str:
        published = self.run("port", service, str(port), timeout=30).stdout.strip()
        assert published, f"{service}:{port} is not published"
        return f"http://{published}"

    def services(self) -> list[dict]:
        output = self.run("ps", "--all", "--format", "json", timeout=30).stdout
        return [json.loads(line) for line in output.splitlines() if line.strip()]

    def leftovers(self) -> dict[str, list[str]]:
        label = f"label=com.docker.compose.project={self.name}"
        found = {}
        for kind, listing in {
            "containers": ("ps", "--all", "--quiet"),
            "volumes": ("volume", "ls", "--quiet"),
            "networks": ("network", "ls", "--quiet"),
        }.items():
            found[kind] = self.engine.docker(*listing, "--filter", label).stdout.split()
        return found


@pytest.fixture(scope="module")
def compose_images(docker_engine: Engine, app_image) -> None:
    """The twins of the third-party images, and the app image under the name the file uses."""
    build.twins(docker_engine, tuple(versions.SERVICE_IMAGES))
    app = yaml.safe_load(COMPOSE_FILE.read_text())["x-app"]["image"]
    docker_engine.docker("tag", app_image.reference, app)


@pytest.fixture(scope="module")
def project(docker_engine: Engine, compose_images) -> Iterator[ComposeProject]:
    project = ComposeProject(
        docker_engine, build.compose_binary(), f"bazaar-test-{uuid.uuid4().hex[:8]}"
    )
    try:
        up = project.run("up", "--detach", "--wait", "--no-build", "--quiet-pull")
        if up.returncode != 0:
            logs = project.run("logs", "--no-color", "--tail", "30", timeout=60).stdout
            pytest.fail(f"compose up failed:\n{up.stderr}\n--- logs ---\n{logs}", pytrace=False)
        yield project
    finally:
        down = project.run("down", "--volumes", "--remove-orphans", "--timeout", "30")
        assert down.returncode == 0, down.stderr


def test_the_twins_are_the_versions_the_compose_file_pins(compose_images):
    """The Mailpit built from its module is the release the committed file pulls."""
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    assert services["mail"]["image"] == f"axllent/mailpit:{versions.MAILPIT}"


def test_every_service_comes_up_healthy_and_one_shots_exit_0(project):
    states = {s["Service"]: s for s in project.services()}
    expected = set(yaml.safe_load(COMPOSE_FILE.read_text())["services"])
    assert set(states) == expected
    one_shot = {"migrate", "bootstrap"}
    for name, state in states.items():
        if name in one_shot:
            assert (state["State"], state["ExitCode"]) == ("exited", 0), state
        else:
            assert state["State"] == "running", state
            assert state["Health"] in {"healthy", ""}, state  # "": no healthcheck (exporters)


def test_a_checkout_through_the_published_port_ends_paid_with_the_email_in_mailpit(project):
    with httpx.Client(base_url=project.url("web", 8000), timeout=15) as client:
        assert client.get("/readyz").status_code == 200
        checkout = checkout_until_paid(client, timeout=PAYMENT_TIMEOUT)
    mailpit = project.url("mail", 8025)

    def mail_to_the_shopper() -> list[dict]:
        messages = httpx.get(f"{mailpit}/api/v1/messages", timeout=10).json()["messages"]
        return [m for m in messages if checkout.email in {to["Address"] for to in m["To"]}]

    assert wait_for(mail_to_the_shopper, PAYMENT_TIMEOUT), "no email reached Mailpit"


def test_prometheus_scrapes_every_target_of_the_compose_file(project):
    prometheus = project.url("prometheus", 9090)

    def all_up() -> list[dict] | None:
        active = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]
        targets = active["activeTargets"]
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = wait_for(all_up, 60, interval=2)
    assert targets, httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()


def test_down_leaves_nothing_of_the_project(docker_engine, compose_images):
    """A project of its own, brought up to a running web and taken down with its volumes."""
    project = ComposeProject(
        docker_engine, build.compose_binary(), f"bazaar-down-{uuid.uuid4().hex[:8]}"
    )
    try:
        up = project.run("up", "--detach", "--wait", "--no-build", "redis", "postgres")
        assert up.returncode == 0, up.stderr
        assert project.leftovers()["volumes"], "postgres-data was not created"
    finally:
        down = project.run("down", "--volumes", "--remove-orphans", "--timeout", "30")
    assert down.returncode == 0, down.stderr
    assert project.leftovers() == {"containers": [], "volumes": [], "networks": []}
