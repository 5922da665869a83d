"""`make run` stopped and started again a hundred times: nothing is left behind (issue 12).

Each round starts bin/run (the web server and the sweep loop, the embedded mode) on the bench's PostgreSQL
database, waits until /healthz answers, sends it 20 requests, then stops it with SIGTERM or SIGINT (alternating).
After each round it checks what a leak would leave: bin/run's exit status, any process of its children's groups
still alive, and any database connection the stack opened still open (libpq tags them with PGAPPNAME). A round
that leaves anything behind fails the section; the rows say how long a start and a stop take.

`python -m bench restarts` runs it alone (about 8 minutes for 100 rounds on two cores); BENCH_SCALE shrinks it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg

from bench import procs
from bench.core import Context, section
from bench.server import free_port
from bench.stats import Timing

ROUNDS = 100
REQUESTS = 20
ROOT = Path(__file__).resolve().parent.parent


def _app_connections(database_url: str, app_name: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [app_name]).fetchone()[0]


def _get(url: str, timeout: float = 5) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        response.read()
        return response.status


def _wait_ready(proc: subprocess.Popen, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"bin/run exited with {proc.returncode} before answering")
        try:
            if _get(f"http://127.0.0.1:{port}/healthz", timeout=2) == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"bin/run did not answer within {timeout:.0f}s")


def _round(ctx: Context, number: int, log: Path) -> tuple[float, float, list[str]]:
    """One start, 20 requests and one stop; (seconds to ready, seconds to stop, what was left behind)."""
    app_name = f"cx-bench-restarts-{os.getpid()}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"CELERY_BROKER_URL", "CACHE_URL"}}
    env.update({
        "DATABASE_URL": ctx.config.database_url, "PGAPPNAME": app_name, "PORT": str(port), "STOP_TIMEOUT": "15",
        "BIN": str(Path(sys.executable).parent), "PYTHONUNBUFFERED": "1",
    })
    signum = signal.SIGTERM if number % 2 == 0 else signal.SIGINT
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen([str(ROOT / "bin" / "run")], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        pgids: list[int] = []
        try:
            _wait_ready(proc, port)
            ready = time.perf_counter() - started
            pgids = procs.children(proc.pid)
            for i in range(REQUESTS):
                _get(f"http://127.0.0.1:{port}/" + ("healthz" if i % 2 else "accounts/login/"))
            stopping = time.perf_counter()
            proc.send_signal(signum)
            code = proc.wait(60)
            stop = time.perf_counter() - stopping
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    left: list[str] = []
    if code != 0:
        left.append(f"bin/run exited with {code} after {signum.name}")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (any(procs.group_alive(g) for g in pgids) or _app_connections(ctx.config.database_url, app_name)):
        time.sleep(0.1)
    alive = [g for g in pgids if procs.group_alive(g)]
    if alive:
        left.append(f"process groups still alive: {alive}")
        for pgid in alive:
            os.killpg(pgid, signal.SIGKILL)
    connections = _app_connections(ctx.config.database_url, app_name)
    if connections:
        left.append(f"{connections} database connections still open")
    return ready, stop, left


@section("restarts", order=95, help="bin/run (make run) started and stopped 100 times: no process or connection left")
def restarts(ctx: Context) -> None:
    rounds = ctx.scaled(ROUNDS, minimum=2)
    ctx.close()  # no gunicorn of the bench's own while the stack serves
    starts, stops = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(rounds):
            log = Path(tmp) / "run.log"
            ready, stop, left = _round(ctx, number, log)
            starts.append(ready)
            stops.append(stop)
            if left:
                ctx.fail(f"round {number + 1}: " + "; ".join(left) + "\n" + log.read_text()[-3000:])
            if (number + 1) % 20 == 0:
                ctx.log(f"  {number + 1} rounds, nothing left behind")
    ctx.record("rounds without a leak", rounds)
    ctx.record_timing("start to first answer", Timing.of(starts))
    ctx.record_timing("stop (signal to exit)", Timing.of(stops))
