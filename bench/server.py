"""Start and stop gunicorn serving the project (with the floor view) on a free local port."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.client import Client
from bench.system import children, processes_cpu

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the bench process dies, even by SIGKILL (Linux only)."""
    with contextlib.suppress(Exception):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Gunicorn:
    """gunicorn on 127.0.0.1:<free port> running cxrecovery.wsgi (or `app` with another `python`) with the given
    environment; it is ready when every worker is up and /healthz answers 200.

    Use as a context manager, or call start()/stop(); stop() is safe to call twice and always
    leaves no process behind (SIGTERM for a graceful stop, SIGKILL after `grace` seconds).
    """

    def __init__(
        self,
        *,
        env: dict[str, str],
        log_path: Path,
        workers: int = 2,
        worker_class: str = "sync",
        threads: int = 1,
        grace: float = 10.0,
        python: str = sys.executable,
        app: str = "cxrecovery.wsgi:application",
        cwd: Path = BASE_DIR,
    ) -> None:
        self.env = env
        self.python = python
        self.app = app
        self.cwd = cwd
        self.log_path = log_path
        self.workers = workers
        self.worker_class = worker_class
        self.threads = threads
        self.grace = grace
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def describe(self) -> str:
        threads = f" × {self.threads} threads" if self.worker_class == "gthread" else ""
        return f"gunicorn {self.workers} {self.worker_class} workers{threads} on {self.url}"

    def start(self, timeout: float = 30.0) -> Gunicorn:
        self.port = free_port()
        command = [
            self.python, "-m", "gunicorn", self.app,
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--worker-class", self.worker_class,
            "--threads", str(self.threads),
            "--backlog", "256",
            "--timeout", "60",
            "--graceful-timeout", str(int(self.grace)),
            "--keep-alive", "5",
            "--log-level", "warning",
            "--error-logfile", str(self.log_path),
        ]  # fmt: skip
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own session: a Ctrl-C in the terminal reaches only us, and we stop it in order.
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited during start-up:\n{self.log_tail()}")
            try:
                with Client(self.url, timeout=2) as client:
                    answer = client.get("/healthz")
                # Every worker must be up, not only the first to answer.
                if answer.status == 200 and len(self.worker_pids()) >= self.workers:
                    return
                last_error = f"healthz answered {answer.status}"
            except (OSError, http.client.HTTPException) as exc:
                last_error = str(exc)
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn was not ready after {timeout:.0f}s ({last_error}):\n{self.log_tail()}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def worker_pids(self) -> list[int]:
        return children(self.process.pid) if self.process else []

    def cpu_seconds(self) -> float:
        """CPU time used so far by the workers (the master only supervises)."""
        return processes_cpu(self.worker_pids())

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=self.grace + 2)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
