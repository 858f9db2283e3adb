"""A steady load of HTTP requests from a few client threads, every outcome kept: what the
deploy, failure and cluster tests measure "0 failed requests" with."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

FAILURE_BACKOFF_SECONDS = 0.05


def plain_client(base_url: str, user: Any = None) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=30)


@dataclass
class Outcome:
    """One request of a load: when it ended, how long it took, what came back."""

    name: str
    ended: float
    seconds: float
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and self.status < 500


@dataclass
class SteadyLoad:
    """A few client threads cycling through ``requests`` until stopped or ``max_requests``.

    Each request is a ``(name, call)`` pair; ``call(client)`` returns the response. A status
    of 500 or more, or a transport error, is a failure; everything is kept for the report.
    ``expect`` may narrow success further (e.g. a 409 on checkout is fine, a 400 is not).
    """

    base_url: str
    requests: list[tuple[str, Callable[[httpx.Client], httpx.Response]]]
    users: list = field(default_factory=list)
    threads: int = 4
    max_requests: int = 20_000
    expect: Callable[[str, httpx.Response], bool] = lambda name, response: True
    # How a thread gets its client: ``make_client(base_url, user)``.
    make_client: Callable[[str, Any], httpx.Client] = plain_client
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def __enter__(self) -> SteadyLoad:
        for index in range(self.threads):
            user = self.users[index % len(self.users)] if self.users else None
            worker = threading.Thread(target=self._run, args=(index, user), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=60)

    def _run(self, index: int, user) -> None:
        with self.make_client(self.base_url, user) as http:
            step = index
            while not self._stop.is_set() and len(self.outcomes) < self.max_requests:
                name, call = self.requests[step % len(self.requests)]
                step += 1
                started = time.monotonic()
                try:
                    response = call(http)
                except Exception as exc:  # any error at all is a failed request, never a lost one
                    outcome = Outcome(
                        name, time.monotonic(), time.monotonic() - started, None, repr(exc)
                    )
                else:
                    outcome = Outcome(
                        name, time.monotonic(), time.monotonic() - started, response.status_code
                    )
                    if outcome.ok and not self.expect(name, response):
                        outcome.error = f"unexpected {response.status_code}: {response.text[:200]}"
                with self._lock:
                    self.outcomes.append(outcome)
                if not outcome.ok:
                    # A client backs off a little after an error instead of spinning on 503s.
                    time.sleep(FAILURE_BACKOFF_SECONDS)

    def wait_for_requests(self, count: int, timeout: float = 60) -> None:
        target = len(self.outcomes) + count
        deadline = time.monotonic() + timeout
        while len(self.outcomes) < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g}s waiting for {count} requests")
            time.sleep(0.1)

    @property
    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    def statuses(self) -> Counter:
        return Counter(outcome.status for outcome in self.outcomes)
