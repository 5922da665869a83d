"""Run the periodic sweeps: the embedded mode's stand-in for Celery beat.

The sweeps are the ones in cxrecovery/sweeps.py, the registry CELERY_BEAT_SCHEDULE is built from. They run in
this process; work they fan out goes to the broker when one is configured, or runs right here (eager) when not.

- `run_sweeps` runs each once (cron, tests);
- `run_sweeps --loop` runs each on its own schedule, as beat would, until SIGTERM/SIGINT (bin/run starts it);
- `run_sweeps --every N` runs all of them every N seconds.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from cxrecovery.celery import app as celery_app
from cxrecovery.sweeps import SWEEPS, Sweep


class Command(BaseCommand):
    help = (
        "Run the periodic sweeps (SLA, approvals, emails, outcomes) once; with --loop keep running each on its "
        "beat schedule, with --every N run all of them every N seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0, help="repeat all sweeps every N seconds until stopped")
        parser.add_argument("--loop", action="store_true", help="run each sweep on its own schedule until stopped")

    def handle(self, *args, every: float, loop: bool, **options):
        self._stop = threading.Event()
        celery_app.loader.import_default_modules()  # the apps' tasks modules, so every sweep is registered
        if not (loop or every):
            for sweep in SWEEPS:
                self._run(sweep)
            return
        # SIGTERM/SIGINT end the current sweep and then the loop, so bin/run can stop it cleanly.
        previous = {signum: signal.signal(signum, lambda *_: self._stop.set()) for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            if loop:
                self._run_on_schedule()
            else:
                while not self._stop.is_set():
                    for sweep in SWEEPS:
                        self._run(sweep)
                    self._stop.wait(every)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _run_on_schedule(self) -> None:
        self.stdout.write(f"Running {len(SWEEPS)} sweeps on their schedule (Ctrl-C stops).")
        # Every sweep runs once at start (like a fresh beat) and then every `every` seconds after it was due.
        due = {sweep.key: time.monotonic() for sweep in SWEEPS}
        while not self._stop.is_set():
            now = time.monotonic()
            for sweep in SWEEPS:
                if self._stop.is_set():
                    break
                if due[sweep.key] <= now:
                    # A long-running loop must not reuse a connection the database dropped in the meantime.
                    close_old_connections()
                    self._run(sweep)
                    # Skip missed runs rather than stacking them, as beat's `expires` does.
                    due[sweep.key] = max(due[sweep.key] + sweep.every, time.monotonic())
            self._stop.wait(max(0.0, min(due.values()) - time.monotonic()))
        self.stdout.write("Sweeps stopped.")

    def _run(self, sweep: Sweep) -> Any:
        task = celery_app.tasks[sweep.task]
        try:
            result = task()
        except Exception as exc:  # noqa: BLE001 - one failing sweep must not stop the others
            self.stderr.write(self.style.ERROR(f"{task.name}: failed: {exc}"))
            result = None
        else:
            self.stdout.write(f"{task.name}: {result}")
        return result
