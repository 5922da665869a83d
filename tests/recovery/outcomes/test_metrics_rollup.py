"""The metrics rollup gives exactly the numbers of the direct queries: after a rebuild, at other moments than its
mark, after writes that came later (through the services that keep it), and for every filter the dashboard has."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from recovery.models import Offer, OutcomeRollup, OutcomeRollupMark
from recovery.outcomes import services
from recovery.outcomes.metrics import MetricsFilter, recovery_metrics_compute
from recovery.outcomes.services.rollup import outcome_rollup_rebuild
from tests.factories import ComplaintFactory, CustomerFactory
from tests.recovery.outcomes_factories import add_activity, make_gesture, make_resolved_complaint, open_outcome
from tickets.models import Complaint
from tickets.signals import complaint_logged, complaints_imported

NOW = datetime(2025, 9, 1, 12, 0, tzinfo=UTC)
D = timedelta(days=1)
CAUSES = ["pricing", "service_delay", "staff_conduct"]
GRADES = ["bad", "ugly", ""]
TIERS = ["frontline", "lead", "manager"]


def _complaint(customer, index: int, resolved_at: datetime, gestures):
    """Every third complaint offered and fulfilled, every fifth offered and declined, the rest not offered."""
    fields = {"cause": CAUSES[index % 3], "grade": GRADES[(index // 3) % 3], "tier": TIERS[(index // 2) % 3]}
    gesture = gestures[index % len(gestures)]
    if index % 3 == 0:
        fulfilled = resolved_at + timedelta(hours=-2 if index % 2 else 5)  # some fulfilled after the resolution
        return make_resolved_complaint(resolved_at=resolved_at, customer=customer, fulfilled_at=fulfilled,
                                       gesture=gesture, cost=f"{10 + index}.00", **fields)
    complaint = make_resolved_complaint(resolved_at=resolved_at, customer=customer, **fields)
    if index % 5 == 0:
        Offer.objects.create(complaint=complaint, gesture=gesture, cost=Decimal("12.00"), status=Offer.Status.DECLINED)
    return complaint


@pytest.fixture
def population(db):
    """Nine customers with one to four complaints each, resolved from eight months to a few days before NOW, and
    activity that brings some of them back (some returns after windows were settled: late reports)."""
    gestures = [make_gesture("refund", cost="20.00"), make_gesture("handwritten_note", cost="5.00")]
    counter = itertools.count()
    customers = []
    for c in range(9):
        customer = CustomerFactory()
        customers.append(customer)
        for j in range(1 + c % 4):
            index = next(counter)
            resolved_at = NOW - (240 - 23 * c - 47 * j) * D - index * timedelta(hours=5)
            open_outcome(_complaint(customer, index, resolved_at, gestures), now=resolved_at + D)
        if c % 2 == 0:
            add_activity(customer, NOW - (200 - 20 * c) * D, amount="30.00")
        if c % 3 == 0:
            add_activity(customer, NOW - (100 - 7 * c) * D, amount="12.50", currency="EUR")
    services.outcome_windows_close(customer_ids=[c.pk for c in customers], now=NOW - 2 * D)
    services.outcome_windows_settle(now=NOW - D)
    browsers = []
    for b in range(7):  # never complained: anchored at their first purchase, some back within 30/60/90 days
        browser = CustomerFactory()
        browsers.append(browser)
        first = NOW - (230 - 31 * b) * D
        add_activity(browser, first - timedelta(hours=b))
        add_activity(browser, first + (20 + 25 * (b % 4)) * D, kind="visit" if b % 2 else "purchase")
    return {"customers": customers, "gestures": gestures, "browsers": browsers}


_reports = itertools.count()


def report(customer, at: datetime, *, now: datetime) -> None:
    """Activity as intake receives it (the rollup follows intake, not rows written behind its back)."""
    item = {"source": "shop", "external_id": f"r-{next(_reports)}", "kind": "purchase", "occurred_at": at.isoformat(),
            "amount": "15.00", "currency": "GBP", "customer": {"email": customer.email}}
    assert services.activity_intake(items=[item], now=now).accepted == 1


def filters() -> list[MetricsFilter]:
    """Every kind of filter the dashboard offers (forms.py), alone and together, with each window."""
    variants = [
        MetricsFilter(), MetricsFilter(cause="pricing"), MetricsFilter(grade="ugly"), MetricsFilter(grade="bad"),
        MetricsFilter(tier="lead"), MetricsFilter(gesture="refund"), MetricsFilter(month_from=date(2025, 3, 1)),
        MetricsFilter(month_to=date(2025, 5, 1)), MetricsFilter(month_from=date(2025, 2, 1), month_to=date(2025, 6, 1)),
        MetricsFilter(cause="service_delay", tier="manager", gesture="handwritten_note", month_from=date(2025, 1, 1)),
    ]
    return [MetricsFilter(**{**f.__dict__, "window_days": days}) for f in variants for days in (None, 30, 60, 90)]


DEFAULT = MetricsFilter()


def assert_same(now: datetime, f: MetricsFilter = DEFAULT) -> dict:
    direct = recovery_metrics_compute(f, now=now, source="direct")
    assert recovery_metrics_compute(f, now=now) == direct, f
    if f.is_default:
        assert recovery_metrics_compute(f, now=now, source="rollup") == direct
    return direct


def rollup_rows() -> list[tuple]:
    return sorted(OutcomeRollup.objects.exclude(windows=0, n=0).values_list(
        "grouping", "days", "offered", "declined", "key", "windows", "n", "s", "k", "fulfilled", "late", "cost", "revenue"
    ))


def test_rollup_equals_direct_for_every_filter(population):
    outcome_rollup_rebuild(now=NOW)

    for f in filters():
        assert_same(NOW, f)

    default = assert_same(NOW)  # the data are not trivial: every group has decided windows and some still open
    windows = {w["days"]: w for w in default["windows"]}
    assert windows[60]["offered"]["customers"] > 0 and windows[60]["not_offered"]["customers"] > 0
    assert windows[90]["watching"]["offered"] + windows[90]["watching"]["not_offered"] > 0
    assert any(w["offered"]["effective_n"] < w["offered"]["customers"] for w in default["windows"])
    assert all(w["never_complained"]["customers"] > 0 for w in default["windows"])


def test_rollup_equals_direct_at_other_moments_than_its_mark(population):
    outcome_rollup_rebuild(now=NOW)

    for moment in (NOW - 40 * D, NOW - D, NOW + timedelta(minutes=5), NOW + 20 * D, NOW + 95 * D, NOW + 400 * D):
        assert_same(moment)


def test_rollup_follows_writes_made_after_it_was_built(population):
    # given: a rollup, then new resolutions (one already elapsed: a backfill), late activity and a later sweep
    outcome_rollup_rebuild(now=NOW)
    customers, gestures = population["customers"], population["gestures"]
    newcomer = CustomerFactory()
    for index, (customer, ago) in enumerate([(customers[0], 3), (customers[4], 70), (newcomer, 10), (newcomer, 130)]):
        open_outcome(_complaint(customer, 30 + index, NOW - ago * D, gestures), now=NOW)
    report(customers[1], NOW - 150 * D, now=NOW)  # inside windows settled 'not returned' earlier
    report(newcomer, NOW + 4 * D, now=NOW + 4 * D)
    services.outcome_windows_close(customer_ids=[customers[1].pk, newcomer.pk], now=NOW + 5 * D)

    # then: equal right away, after the sweep moves the mark, and again after later sweeps
    assert_same(NOW + 5 * D)
    for sweep_at in (NOW + 6 * D, NOW + 45 * D, NOW + 45 * D, NOW + 200 * D):
        services.outcome_windows_settle(now=sweep_at)
        assert OutcomeRollupMark.objects.get().rolled_to == sweep_at
        for f in filters()[:4]:
            assert_same(sweep_at + timedelta(hours=1), f)

    # and a rebuild from scratch at the same mark finds the rows the writes kept
    kept = rollup_rows()
    outcome_rollup_rebuild(now=NOW + 200 * D)
    assert rollup_rows() == kept


def test_never_complained_follows_activity_and_complaints(population):
    outcome_rollup_rebuild(now=NOW)
    browsers = population["browsers"]
    fresh = CustomerFactory()

    report(fresh, NOW - 100 * D, now=NOW)  # a new anchor
    report(fresh, NOW - 80 * D, now=NOW)  # came back within 30 days
    report(browsers[3], NOW - 300 * D, now=NOW)  # history: an earlier first purchase moves the anchor
    ahead = CustomerFactory()
    report(ahead, NOW + timedelta(minutes=3), now=NOW)  # a first purchase stamped a little ahead of the clock
    report(browsers[5], NOW - 5 * D, now=NOW)  # back within 30 days, a late report
    assert_same(NOW)

    # a complaint logged at the anchor ends it (its anchor was stamped ahead); one imported from history ends an
    # older anchor
    logged = ComplaintFactory(customer=ahead)
    Complaint.objects.filter(pk=logged.pk).update(created_at=NOW + timedelta(minutes=1))
    complaint_logged.send(sender=Complaint, complaint_id=logged.pk, actor=None)
    history = ComplaintFactory(customer=browsers[2])
    Complaint.objects.filter(pk=history.pk).update(created_at=NOW - 400 * D)
    complaints_imported.send(sender=Complaint, complaints=[history], actor=None)

    for moment in (NOW, NOW + 10 * D, NOW + 31 * D, NOW + 70 * D):  # the mark stays at NOW: reads check the anchors
        assert_same(moment)
    services.outcome_windows_settle(now=NOW + 35 * D)  # the sweep recomputes the anchors that start to count
    for moment in (NOW + 35 * D, NOW + 100 * D):
        assert_same(moment)
    never = assert_same(NOW + 100 * D)["windows"][0]["never_complained"]
    assert never["customers"] >= 5


def test_a_late_fulfilment_after_a_window_was_decided_moves_the_rollup_too(population):
    outcome_rollup_rebuild(now=NOW)
    complaint = make_resolved_complaint(resolved_at=NOW - 80 * D, customer=population["customers"][2])
    open_outcome(complaint, now=NOW)
    assert_same(NOW)

    Offer.objects.create(complaint=complaint, gesture=population["gestures"][0], cost=Decimal("44.00"),
                         status=Offer.Status.FULFILLED, fulfilled_at=NOW)
    open_outcome(complaint, now=NOW + D)

    assert assert_same(NOW + D)["spend"]["gesture_cost"] != "0.00"


def test_rebuild_and_sweep_are_idempotent(population):
    outcome_rollup_rebuild(now=NOW)
    first = rollup_rows()
    outcome_rollup_rebuild(now=NOW)
    assert rollup_rows() == first

    services.outcome_windows_settle(now=NOW + 50 * D)
    once = rollup_rows()
    services.outcome_windows_settle(now=NOW + 50 * D)
    assert rollup_rows() == once
    assert_same(NOW + 50 * D)


def test_without_a_rollup_the_default_view_is_computed_directly(population):
    assert OutcomeRollupMark.objects.count() == 0
    with pytest.raises(LookupError):
        recovery_metrics_compute(MetricsFilter(), now=NOW, source="rollup")
    assert recovery_metrics_compute(MetricsFilter(), now=NOW) == recovery_metrics_compute(
        MetricsFilter(), now=NOW, source="direct"
    )


def test_the_rollup_view_reads_a_fixed_number_of_queries(population, django_assert_max_num_queries):
    outcome_rollup_rebuild(now=NOW)
    # mark, rows, customers moving since the mark (windows, anchors), gestures' titles, randomised
    with django_assert_max_num_queries(6):
        recovery_metrics_compute(MetricsFilter(), now=NOW)


def test_the_demo_builds_its_rollup_and_the_dashboard_reads_the_same_numbers(db):
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    call_command("seed_demo", "--quiet-users", stdout=StringIO())
    call_command("seed_recovery_demo", stdout=StringIO())

    assert OutcomeRollupMark.objects.exists()
    assert_same(timezone.now())


def test_a_sweep_over_many_customers_rebuilds_instead_and_stays_equal(population, monkeypatch):
    from recovery.outcomes.services import rollup

    outcome_rollup_rebuild(now=NOW)
    monkeypatch.setattr(rollup, "REBUILD_ABOVE", 2)  # a backlog: more customers than shares are worth computing for

    services.outcome_windows_settle(now=NOW + 95 * D)

    assert OutcomeRollupMark.objects.get().rebuilt_at == NOW + 95 * D
    assert_same(NOW + 95 * D)
    assert_same(NOW + 130 * D)
