"""Celery tasks of outcomes: each run twice with one effect; beat schedule, run_sweeps and the complaint panel."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from cxrecovery.celery import app as celery_app
from recovery.models import GestureLearning, OutcomeWindow, RecoveryOutcome
from recovery.outcomes import tasks
from tests.recovery.outcomes_factories import add_activity, make_gesture, make_resolved_complaint, open_outcome, states
from tickets.models import TimelineEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def resolved():
    return make_resolved_complaint(resolved_at=timezone.now() - timedelta(days=40))


def test_open_task_twice_opens_one_outcome():
    resolved = make_resolved_complaint(resolved_at=timezone.now() - timedelta(days=5))

    assert tasks.outcome_open_task.delay(resolved.pk).get() == "opened"
    assert tasks.outcome_open_task.delay(resolved.pk).get() == "unchanged"

    assert RecoveryOutcome.objects.filter(complaint=resolved).count() == 1
    assert TimelineEvent.objects.filter(complaint=resolved, kind="outcome").count() == 1


def test_close_task_twice_closes_once(resolved):
    outcome = open_outcome(resolved, now=resolved.resolved_at)
    add_activity(resolved.customer, resolved.resolved_at + timedelta(days=2))

    first = tasks.outcome_windows_close_task.delay([resolved.customer_id]).get()
    second = tasks.outcome_windows_close_task.delay([resolved.customer_id]).get()

    assert (first, second) == (3, 0)
    assert states(outcome) == {30: "returned", 60: "returned", 90: "returned"}


def test_settle_task_twice_settles_once_and_relearns_only_when_something_changed(resolved, django_capture_on_commit_callbacks):
    open_outcome(resolved, now=resolved.resolved_at)

    with mock.patch.object(tasks.gesture_learning_recompute_task, "apply_async") as relearn, \
            mock.patch.object(tasks.outcome_metrics_refresh_task, "apply_async") as refresh, \
            django_capture_on_commit_callbacks(execute=True):
        first = tasks.outcome_windows_settle_task.delay().get()
        second = tasks.outcome_windows_settle_task.delay().get()

    assert first == {"returned": 0, "not_returned": 1}
    assert second == {"returned": 0, "not_returned": 0}
    assert relearn.call_count == 1 and refresh.call_count == 1
    assert OutcomeWindow.objects.filter(state="not_returned", days=30).count() == 1


def test_reconcile_task_twice_opens_once(resolved, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = tasks.outcome_reconcile_task.delay().get()
    with django_capture_on_commit_callbacks(execute=True):
        second = tasks.outcome_reconcile_task.delay().get()

    assert (first["missing"], second["missing"]) == (1, 0)
    assert RecoveryOutcome.objects.filter(complaint=resolved).count() == 1


def test_learning_task_twice_writes_once():
    gesture = make_gesture("refund")
    anchor = timezone.now() - timedelta(days=100)
    complaint = make_resolved_complaint(resolved_at=anchor, fulfilled_at=anchor, gesture=gesture, cost="15.00")
    open_outcome(complaint)

    assert tasks.gesture_learning_recompute_task.delay().get() == 1
    assert tasks.gesture_learning_recompute_task.delay().get() == 0
    assert GestureLearning.objects.get(gesture=gesture).trials == 1


def test_beat_schedule_names_registered_tasks_at_sensible_intervals():
    schedule = settings.CELERY_BEAT_SCHEDULE
    ours = {key: entry for key, entry in schedule.items() if entry["task"].startswith("recovery.tasks.outcomes.")}

    assert {entry["task"].rsplit(".", 1)[1] for entry in ours.values()} == {
        "outcome_windows_settle_task",
        "outcome_reconcile_task",
        "gesture_learning_recompute_task",
        "outcome_metrics_refresh_task",
    }
    for entry in ours.values():
        assert entry["task"] in celery_app.tasks
        assert 60 <= entry["schedule"] <= 3600


def test_run_sweeps_runs_the_outcome_sweeps(resolved, django_capture_on_commit_callbacks):
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_sweeps", stdout=out, stderr=StringIO())

    text = out.getvalue()
    assert "outcome_windows_settle_task" in text and "outcome_reconcile_task" in text
    assert RecoveryOutcome.objects.filter(complaint=resolved).exists()


# --- The complaint page panel ---------------------------------------------------------------------


def test_complaint_page_shows_the_outcome_panel(client, agent):
    gesture = make_gesture("exec_call")
    anchor = timezone.now() - timedelta(days=3)
    complaint = make_resolved_complaint(resolved_at=anchor, fulfilled_at=anchor, gesture=gesture, cost="40.00")
    open_outcome(complaint)
    add_activity(complaint.customer, anchor + timedelta(days=1))
    tasks.outcome_windows_close_task.delay([complaint.customer_id])
    client.force_login(agent)

    html = client.get(reverse("tickets:detail", args=[complaint.reference])).content.decode()

    assert 'data-panel="outcome"' in html
    assert "Offered <strong>Exec call</strong> by the resolution, fulfilled" in html
    assert "Came back" in html
    assert reverse("recovery:customer", args=[complaint.customer_id]) in html
    assert Decimal("40.00") == RecoveryOutcome.objects.get().gesture_cost


def test_complaint_page_panel_explains_watching_before_resolution(client, agent):
    from tests.factories import ComplaintFactory

    complaint = ComplaintFactory()
    client.force_login(agent)

    html = client.get(reverse("tickets:detail", args=[complaint.reference])).content.decode()

    assert "Once this complaint is resolved, we watch whether the customer comes back" in html
