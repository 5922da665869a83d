"""Against real PostgreSQL, Redis and a Celery worker process: activity posted through the API closes an outcome.

Skipped without those services; a failure in CI's service pass (CX_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from recovery.models import OutcomeWindow
from recovery.outcomes import services
from recovery.outcomes.tasks import outcome_windows_settle_task
from tests.recovery.outcomes_factories import make_resolved_complaint
from tests.test_real_services import celery_worker_process, wait_for  # noqa: F401 - the worker fixture
from tickets.models import ApiKey

pytestmark = [pytest.mark.real_services, pytest.mark.django_db(transaction=True)]


def _worker_log(path) -> str:
    return (path / "worker.log").read_text()[-3000:]


def test_activity_posted_through_the_api_closes_the_outcome_via_the_worker(celery_worker_process, make_key_client):  # noqa: F811
    # given: a complaint resolved yesterday, its windows open
    complaint = make_resolved_complaint(resolved_at=timezone.now() - timedelta(days=1))
    outcome = services.outcome_open(complaint_id=complaint.pk).outcome
    assert set(outcome.windows.values_list("state", flat=True)) == {"pending"}
    shop = make_key_client([ApiKey.Scope.ACTIVITY_WRITE])

    # when: the shop reports a redemption and then a purchase
    redemption = shop.post(
        "/api/v1/activity/",
        {"source": "shop", "external_id": "R-1", "kind": "gesture_redemption",
         "occurred_at": (timezone.now() - timedelta(hours=5)).isoformat(), "customer": {"email": complaint.customer.email}},
        format="json",
    )
    purchase = shop.post(
        "/api/v1/activity/",
        {"events": [{"source": "shop", "external_id": "O-1", "kind": "purchase", "amount": "64.00",
                     "occurred_at": (timezone.now() - timedelta(hours=2)).isoformat(),
                     "customer": {"email": complaint.customer.email}}]},
        format="json",
    )

    # then: the worker closes every window as returned, at the purchase, not the redemption
    assert (redemption.status_code, purchase.status_code) == (201, 201)
    returned = OutcomeWindow.objects.filter(outcome=outcome, state="returned")
    assert wait_for(lambda: returned.count() == 3), _worker_log(celery_worker_process)
    window = returned.get(days=30)
    assert window.returned_at > timezone.now() - timedelta(hours=3)
    assert str(window.revenue) == "64.00"


def test_settle_task_through_the_worker_settles_once(celery_worker_process):  # noqa: F811
    complaint = make_resolved_complaint(resolved_at=timezone.now() - timedelta(days=45))
    outcome = services.outcome_open(complaint_id=complaint.pk, now=complaint.resolved_at).outcome

    first = outcome_windows_settle_task.delay()
    second = outcome_windows_settle_task.delay()

    lapsed = OutcomeWindow.objects.filter(outcome=outcome, state="not_returned")
    assert wait_for(lambda: lapsed.count() == 1), _worker_log(celery_worker_process)
    assert first.id != second.id
    assert wait_for(lambda: "outcome_windows_settle_task" in _worker_log(celery_worker_process))
    settled_at = lapsed.get().settled_at
    assert wait_for(lambda: _worker_log(celery_worker_process).count("outcome_windows_settle_task[") >= 4)
    assert lapsed.get().settled_at == settled_at
    assert set(OutcomeWindow.objects.filter(outcome=outcome).values_list("days", "state")) == {
        (30, "not_returned"), (60, "pending"), (90, "pending"),
    }
