"""Run the simulator inside the current process, for test fixtures.

The listening socket is bound before uvicorn starts and handed to it, so no other process can
take the port between choosing and serving it. Ports are probed from 20000 upward because the
kernel's ephemeral range (where port 0 lands) is busy on the machines this project runs on.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

from bazaar.payments.simulator.app import SimulatorSettings, create_app

FIRST_PROBED_PORT = 20000
LAST_PROBED_PORT = 32767
STARTUP_TIMEOUT_SECONDS = 10.0


def bind_free_port(host: str = "127.0.0.1", *, listen: bool = True) -> socket.socket:
    """Return a TCP socket bound to the first free port from FIRST_PROBED_PORT upward.

    With `listen=False` the port stays reserved but refuses connections, which is how a test
    gets an address that is certainly unreachable.
    """
    for port in range(FIRST_PROBED_PORT, LAST_PROBED_PORT + 1):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            continue
        if listen:
            sock.listen(128)
        return sock
    raise RuntimeError(f"no free port between {FIRST_PROBED_PORT} and {LAST_PROBED_PORT}")


@contextlib.contextmanager
def running_simulator(
    settings: SimulatorSettings | None = None, host: str = "127.0.0.1"
) -> Iterator[str]:
    """Serve the simulator on a background thread; yields its base URL."""
    sock = bind_free_port(host)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", lifespan="on")
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"psp-simulator-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the payment simulator did not start")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        sock.close()
