"""``docker_engine``: the private Docker engine of ``tools/image``, once a session.

The fixture starts the engine (or reuses one that runs, e.g. after ``make image-local``) and
stops it at the end of the session if it started it; its images and build cache stay in
``.cache/docker`` for the next run. The image tests and the cluster release share it, so the
engine one of them starts is stopped whichever ran first.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.image.engine import Engine, EngineError


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
