"""`make run` (bin/run): starts and stops cleanly again and again, passes SIGTERM/SIGINT to every child, says which
child died and stops the rest, runs the sweeps in the embedded mode, and does not leak database connections."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from bench import procs
from tests.conftest import require_service
from tests.test_faults import free_port

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = "/usr/bin/redis-server"


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory) -> str:
    """A migrated SQLite file of its own: the test database may be in memory or PostgreSQL."""
    url = f"sqlite:///{tmp_path_factory.mktemp('run') / 'db.sqlite3'}"
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=_env(DATABASE_URL=url), check=True)
    return url


def _env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"CELERY_BROKER_URL", "CACHE_URL", "DATABASE_URL"}}
    env.update({"BIN": str(Path(sys.executable).parent), "PYTHONUNBUFFERED": "1", **overrides})
    return env


class Stack:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log_path = log
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [str(ROOT / "bin" / "run")], cwd=ROOT, env={**env, "PORT": str(self.port), "STOP_TIMEOUT": "15"},
            stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"bin/run did not answer within {timeout}s:\n{self.output()}")

    def children(self) -> dict[int, str]:
        """Direct children of bin/run (each leads its own process group) and their command lines."""
        pids = procs.children(self.proc.pid)
        return {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode() for pid in pids}

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()[-4000:]

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.log.closed:
            self.log.close()


def _wait_gone(pgids, timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(procs.group_alive(p) for p in pgids):
        time.sleep(0.1)
    return [p for p in pgids if procs.group_alive(p)]


def _reap(pgids) -> None:
    for pgid in pgids:
        if procs.group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)


def test_bin_run_starts_and_stops_cleanly_again_and_again(sqlite_url, tmp_path):
    for round_, signum in enumerate([signal.SIGTERM, signal.SIGINT, signal.SIGTERM]):
        stack = Stack(_env(DATABASE_URL=sqlite_url), tmp_path / f"run-{round_}.log")
        pgids: list[int] = []
        try:
            stack.wait_ready()
            children = stack.children()
            pgids = list(children)
            # embedded: the web server and the sweep loop, each leading its own group
            assert sorted(cmd.split("manage.py ")[1].split()[0] for cmd in children.values()) == ["run_sweeps", "runserver"]
            assert all(os.getpgid(pid) == pid for pid in children)

            code = stack.stop(signum)

            assert code == 0, stack.output()
            assert _wait_gone(pgids) == [], f"left running after {signum.name}: {stack.output()}"
            assert "stopped" in stack.output() and "Sweeps stopped." in stack.output()
        finally:
            stack.kill()
            _reap(pgids)


def test_bin_run_says_which_child_died_and_stops_the_others(sqlite_url, tmp_path):
    stack = Stack(_env(DATABASE_URL=sqlite_url), tmp_path / "run.log")
    pgids: list[int] = []
    try:
        stack.wait_ready()
        children = stack.children()
        pgids = list(children)
        sweeps = next(pid for pid, cmd in children.items() if "run_sweeps" in cmd)

        os.killpg(sweeps, signal.SIGKILL)

        assert stack.proc.wait(30) == 1
        assert f"sweeps (pid {sweeps}) exited with status 137; stopping the others" in stack.output()
        assert _wait_gone(pgids) == [], stack.output()
    finally:
        stack.kill()
        _reap(pgids)


def test_bin_run_runs_the_sweeps_on_their_schedule_without_a_broker(sqlite_url, tmp_path):
    stack = Stack(_env(DATABASE_URL=sqlite_url), tmp_path / "run.log")
    try:
        stack.wait_ready()
        deadline = time.monotonic() + 30
        while "recovery.tasks.outcomes.outcome_metrics_refresh_task" not in stack.output() and time.monotonic() < deadline:
            time.sleep(0.2)
        out = stack.output()
        assert "recovery.sla_sweep: {'due': 0" in out
        assert "notifications.tasks.notification_email_sweep_task: 0" in out
    finally:
        stack.stop()
        stack.kill()


def test_bin_run_with_a_broker_starts_and_stops_the_workers_and_beat(sqlite_url, tmp_path):
    if not Path(REDIS_SERVER).exists():
        require_service(f"needs {REDIS_SERVER} to start a Redis of the test's own")
    redis_port = free_port()
    redis = subprocess.Popen([REDIS_SERVER, "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL)
    broker = f"redis://127.0.0.1:{redis_port}/0"
    stack = Stack(_env(DATABASE_URL=sqlite_url, CELERY_BROKER_URL=broker), tmp_path / "run.log")
    pgids: list[int] = []
    try:
        stack.wait_ready()
        deadline = time.monotonic() + 60
        while stack.output().count("ready.") < 2 and time.monotonic() < deadline:  # both workers are up
            time.sleep(0.3)
        children = stack.children()
        pgids = list(children)
        cmds = " | ".join(children.values())
        assert "-Q cxrecovery" in cmds and "-Q email" in cmds and " beat " in cmds and "runserver" in cmds
        assert "run_sweeps" not in cmds  # beat runs them

        assert stack.stop() == 0, stack.output()
        assert _wait_gone(pgids, timeout=20) == [], stack.output()
    finally:
        stack.kill()
        _reap(pgids)
        redis.terminate()
        redis.wait(10)


@pytest.mark.django_db(transaction=True)
def test_dev_server_keeps_database_connections_bounded_across_many_requests(tmp_path):
    from django.db import connection

    if connection.vendor != "postgresql":
        require_service("needs PostgreSQL to count connections: set DATABASE_URL=postgres://...")
    from tests.test_real_services import _db_url

    # libpq names every connection the stack opens (PGAPPNAME), so the count leaves out everyone else's: the
    # test's own, the suite's Celery worker finishing an earlier test's task.
    app_name = f"cx-dev-stack-{os.getpid()}"

    def app_connections() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
                [app_name],
            )
            return cursor.fetchone()[0]

    baseline = app_connections()
    stack = Stack(_env(DATABASE_URL=_db_url(), DB_CONN_MAX_AGE="60", PGAPPNAME=app_name), tmp_path / "run.log")
    try:
        stack.wait_ready()

        def hammer() -> None:
            for _ in range(30):
                with urllib.request.urlopen(f"http://127.0.0.1:{stack.port}/healthz", timeout=10) as response:
                    assert response.status == 200

        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)

        # 240 requests, each on a thread of its own: at most the sweep loop's connection stays open
        assert app_connections() - baseline <= 2, stack.output()
    finally:
        stack.stop()
        stack.kill()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_makefile_run_execs_bin_run_so_sigterm_reaches_it():
    recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]

    assert "exec bin/run" in recipe
