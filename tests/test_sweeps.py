"""The one registry of periodic sweeps: beat's schedule and `manage.py run_sweeps` are the same list."""

from __future__ import annotations

import os
import signal
import threading
from io import StringIO
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command

from cxrecovery.celery import app as celery_app
from cxrecovery.management.commands import run_sweeps
from cxrecovery.sweeps import SWEEPS, Sweep


def test_beat_schedule_is_built_from_the_sweep_registry():
    assert settings.CELERY_BEAT_SCHEDULE == {sweep.key: sweep.beat_entry() for sweep in SWEEPS}
    assert celery_app.conf.beat_schedule == settings.CELERY_BEAT_SCHEDULE


def test_sweep_registry_names_registered_tasks_once_each():
    celery_app.loader.import_default_modules()
    tasks = [sweep.task for sweep in SWEEPS]

    assert len(set(tasks)) == len(tasks)
    assert all(task in celery_app.tasks for task in tasks)
    # The email sweep was once left out of beat: an email whose task was lost was never sent.
    assert "notifications.tasks.notification_email_sweep_task" in tasks


@pytest.mark.django_db
def test_run_sweeps_runs_exactly_the_beat_schedule(monkeypatch):
    celery_app.loader.import_default_modules()
    ran: list[str] = []
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        monkeypatch.setattr(celery_app.tasks[entry["task"]], "run", lambda *a, _n=entry["task"], **k: ran.append(_n))

    call_command("run_sweeps", stdout=StringIO(), stderr=StringIO())

    assert sorted(ran) == sorted(entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values())


def test_run_sweeps_loop_runs_each_sweep_on_its_own_schedule_until_sigterm(monkeypatch):
    # given: a fast sweep and a slow one
    fast, slow = Sweep("fast", "t.fast", 0.1), Sweep("slow", "t.slow", 3600.0)
    monkeypatch.setattr(run_sweeps, "SWEEPS", (fast, slow))
    monkeypatch.setattr(run_sweeps, "close_old_connections", lambda: None)
    ran: list[str] = []
    monkeypatch.setattr(run_sweeps.Command, "_run", lambda self, sweep: ran.append(sweep.key))
    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.75, os.kill, args=(os.getpid(), signal.SIGTERM))

    # when
    timer.start()
    call_command("run_sweeps", "--loop", stdout=StringIO())

    # then: the fast one ran every 0.1 s, the slow one once, and SIGTERM ended the loop, not the process
    assert 5 <= ran.count("fast") <= 9
    assert ran.count("slow") == 1
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.django_db
def test_run_sweeps_keeps_going_when_one_sweep_fails(monkeypatch):
    celery_app.loader.import_default_modules()
    first = celery_app.tasks[SWEEPS[0].task]
    err = StringIO()

    with mock.patch.object(first, "run", side_effect=RuntimeError("boom")):
        out = StringIO()
        call_command("run_sweeps", stdout=out, stderr=err)

    assert f"{first.name}: failed: boom" in err.getvalue()
    assert celery_app.tasks[SWEEPS[-1].task].name in out.getvalue()
