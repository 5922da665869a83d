"""Drive HTTP load: N concurrent keep-alive clients over a list of requests, or one client in sequence."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.client import Answer, Client
from bench.stats import Timing

Send = Callable[[Client, Any], Answer]
# Looks at an answer with the expected status; returns what is wrong with it, or None.
Check = Callable[[Answer], str | None]


@dataclass(frozen=True)
class Failure:
    index: int
    status: int | None  # None: no answer (connection error, timeout)
    detail: str


@dataclass
class LoadResult:
    timing: Timing
    failures: list[Failure] = field(default_factory=list)
    client_cpu: float = 0.0  # CPU seconds this process spent driving the load

    @property
    def ok(self) -> bool:
        return not self.failures

    def failure_summary(self, limit: int = 5) -> str:
        lines = [f"{len(self.failures)} of {self.timing.count} requests failed:"]
        for f in self.failures[:limit]:
            lines.append(f"  #{f.index}: {f.status or 'no answer'} {f.detail[:300]}")
        if len(self.failures) > limit:
            lines.append(f"  … and {len(self.failures) - limit} more")
        return "\n".join(lines)


def make_client(base_url: str, *, token: str | None = None, timeout: float = 30.0) -> Client:
    return Client(base_url, headers={"Authorization": f"Bearer {token}"} if token else None, timeout=timeout)


def _one(
    client: Client, send: Send, item: Any, index: int, expect: int, check: Check | None = None
) -> tuple[float, Answer | None, Failure | None]:
    """Send one request: its latency, its response, and a Failure if it was not what was expected."""
    t0 = time.perf_counter()
    try:
        response = send(client, item)
    except (OSError, http.client.HTTPException) as exc:
        return time.perf_counter() - t0, None, Failure(index, None, f"{type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - t0
    if response.status != expect:
        return elapsed, response, Failure(index, response.status, response.text)
    problem = check(response) if check else None
    if problem:
        return elapsed, response, Failure(index, response.status, problem)
    return elapsed, response, None


def run_concurrent(
    items: Sequence[Any],
    send: Send,
    *,
    base_url: str,
    token: str | None = None,
    concurrency: int = 8,
    expect: int = 201,
) -> LoadResult:
    """Send every item once through `concurrency` threads, each with its own keep-alive client.

    Threads take the next item as soon as they are free, so the server always has `concurrency`
    requests in flight; wall time runs from the moment all clients start to the last answer.
    """
    latencies: list[float] = [0.0] * len(items)
    failures: list[Failure] = []
    next_index = iter(range(len(items)))
    lock = threading.Lock()
    start = threading.Barrier(concurrency + 1)

    def worker() -> None:
        with make_client(base_url, token=token) as client:
            start.wait()
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                elapsed, _, failure = _one(client, send, items[index], index, expect)
                latencies[index] = elapsed
                if failure is not None:
                    with lock:
                        failures.append(failure)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    cpu0 = time.process_time()
    start.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    failures.sort(key=lambda f: f.index)
    return LoadResult(Timing.of(latencies, wall), failures, time.process_time() - cpu0)


def run_sequential(
    client: Client,
    requests: Sequence[Any],
    send: Send,
    *,
    expect: int = 200,
    check: Check | None = None,
    budget: float | None = None,
    minimum: int = 30,
) -> LoadResult:
    """One request after another on one keep-alive client (latency without queueing).

    With a `budget` in seconds, stops early once it is spent and `minimum` requests are done, so
    a slow endpoint cannot stretch the run; the timing then holds fewer samples.
    """
    latencies = []
    failures = []
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    for index, item in enumerate(requests):
        if budget is not None and index >= minimum and time.perf_counter() - t0 > budget:
            break
        elapsed, _, failure = _one(client, send, item, index, expect, check)
        latencies.append(elapsed)
        if failure is not None:
            failures.append(failure)
    return LoadResult(Timing.of(latencies, time.perf_counter() - t0), failures, time.process_time() - cpu0)


def follow_next(client: Client, first_url: str, pages: int, *, check: Check | None = None) -> LoadResult:
    """GET first_url, then follow each answer's `next` link until `pages` pages have been read."""
    latencies = []
    failures = []
    url: str | None = first_url
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    for index in range(pages):
        if url is None:
            failures.append(Failure(index, None, f"the list ended after {index} pages"))
            break
        elapsed, response, failure = _one(client, Client.get, url, index, 200, check)
        latencies.append(elapsed)
        if failure is not None:
            failures.append(failure)
            if response is None or response.status != 200:
                break
        url = response.json().get("next")
    return LoadResult(Timing.of(latencies, time.perf_counter() - t0), failures, time.process_time() - cpu0)
