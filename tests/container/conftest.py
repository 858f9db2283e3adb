"""The image, once a session.

``app_image`` builds the committed Dockerfile on the local twins of its base images, in the
session's ``docker_engine`` (``tests/plugins/docker.py``): a failed build fails the tests that
need it, with the build's log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.image import build
from tools.image.build import BuiltImage, ImageBuildError
from tools.image.engine import Engine

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
def app_image(docker_engine: Engine) -> BuiltImage:
    try:
        return build.app_image(docker_engine, "test")
    except ImageBuildError as error:
        pytest.fail(str(error), pytrace=False)
