"""The Docker engine and the image, once a session.

``docker_engine`` starts the private engine of ``tools/image`` (or reuses one that runs) and
stops it at the end of the session if it started it; its images and build cache stay in
``.cache/docker`` for the next run. ``app_image`` builds the committed Dockerfile on the local
twins of its base images: a failed build fails the tests that need it, with the build's log.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.image import build
from tools.image.build import BuiltImage, ImageBuildError
from tools.image.engine import Engine, EngineError

# A cold machine makes the base with debootstrap, builds Mailpit and Compose from their Go
# modules and the twins with apt: far beyond the suite's 300 s timeout, once.
BUILD_TIMEOUT = 1800


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).is_relative_to(Path(__file__).parent) and "docker_engine" in getattr(
            item, "fixturenames", ()
        ):
            item.add_marker(pytest.mark.timeout(BUILD_TIMEOUT))


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    engine = Engine()
    started_here = not engine.is_running()
    try:
        engine.up()
    except EngineError as error:
        pytest.fail(f"the Docker engine did not start: {error}", pytrace=False)
    yield engine
    if started_here:
        engine.down()


@pytest.fixture(scope="session")
def app_image(docker_engine: Engine) -> BuiltImage:
    try:
        return build.app_image(docker_engine, "test")
    except ImageBuildError as error:
        pytest.fail(str(error), pytrace=False)
