"""Service tests of grading and escalation: the assessment, its fingerprint, tiers, deadlines, pauses,
notifications, and what people do with escalations."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from notifications.models import Notification
from recovery.escalation import services
from recovery.escalation.rules import DEFAULT_RULES
from recovery.models import Assessment, Escalation, EscalationRule, GradingSettings, RuleFiring, SlaClock
from tests.factories import ComplaintFactory, CustomerFactory
from tickets import services as ticket_services
from tickets.actors import ActorRef
from tickets.errors import InvalidInput
from tickets.models import Complaint, Status, TimelineEvent

pytestmark = pytest.mark.django_db
SHIPPED_RULES = len(DEFAULT_RULES)  # the rules a new install starts with


def assess(complaint: Complaint, trigger: str = "logged", now=None) -> services.AssessResult:
    result = services.complaint_assess(complaint_id=complaint.pk, trigger=trigger, now=now)
    complaint.refresh_from_db()
    return result


def ugly_complaint(**fields) -> Complaint:
    return ComplaintFactory(says_wont_return=True, **fields)


def bad_complaint(**fields) -> Complaint:
    # severity 4 (40) + product quality (5) = 45: bad, far from ugly
    return ComplaintFactory(severity=4, **fields)


def aged(complaint: Complaint, hours: float) -> Complaint:
    Complaint.objects.filter(pk=complaint.pk).update(created_at=timezone.now() - timedelta(hours=hours))
    complaint.refresh_from_db()
    return complaint


def kinds(complaint: Complaint) -> list[str]:
    return list(complaint.events.order_by("created_at", "id").values_list("kind", flat=True))


# --- grading and the stored assessment ---------------------------------------------------------


def test_complaint_assess_grades_and_stores_reasons_on_the_complaint():
    complaint = ugly_complaint()

    result = assess(complaint)

    assert result.outcome == "assessed"
    assert (complaint.grade, complaint.risk_score) == ("ugly", 70)
    assert complaint.grade_reasons[0] == {
        "code": "says_wont_return", "text": "Customer said they will not come back", "points": 0, "forces_ugly": True,
    }
    assert complaint.assessed_at is not None
    assessment = Assessment.objects.get()
    assert (assessment.grade, assessment.score, assessment.trigger) == ("ugly", 70, "logged")
    assert assessment.reasons == complaint.grade_reasons
    assert assessment.facts["grade"] == "ugly" and assessment.facts["tier"] == "frontline"


def test_complaint_assess_keeps_a_trace_of_every_rule():
    complaint = ugly_complaint()

    assess(complaint)

    traces = {t["name"]: t for t in Assessment.objects.get().traces}
    ugly_rule = traces["Ugly experience goes to an executive"]
    assert ugly_rule["matched"] is True
    assert ugly_rule["conditions"][0]["explanation"] == "grade is ugly (needs ugly)"
    assert "escalate to executive" in ugly_rule["actions"]
    assert traces["Bad experience goes to a team lead"]["matched"] is False
    decision = Assessment.objects.get().decision
    assert decision["target_tier"] == "executive"
    assert decision["applied"]["tier"] == {"from": "frontline", "to": "executive"}


@pytest.mark.parametrize(
    ("fields", "customer", "grade"),
    [
        ({"severity": 1, "cause": "other", "monetary_loss": Decimal("0")}, {}, "good"),
        ({"severity": 2, "cause": "pricing", "monetary_loss": Decimal("0")}, {}, "neutral"),
        ({"severity": 4}, {}, "bad"),
        ({"says_wont_return": True}, {}, "ugly"),
        ({"channel": "social", "threatens_public": True, "severity": 1}, {}, "ugly"),  # public post
        ({"threatens_public": True, "severity": 1}, {"social_reach": 50_000}, "ugly"),  # threat to a large audience
        ({"tags": ["legal-threat"], "severity": 1}, {}, "ugly"),
    ],
)
def test_complaint_assess_builds_the_signals_from_the_complaint_and_customer(fields, customer, grade):
    complaint = ComplaintFactory(customer=CustomerFactory(**{"lifetime_value": Decimal("0"), "social_reach": 0, **customer}), **fields)

    assess(complaint)

    assert complaint.grade == grade


def test_complaint_assess_counts_repeat_complaints_of_the_customer_in_90_days():
    customer = CustomerFactory()
    old = ComplaintFactory(customer=customer)
    Complaint.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=120))
    ComplaintFactory(customer=customer)
    complaint = ComplaintFactory(customer=customer)

    assess(complaint)

    repeat = next(r for r in complaint.grade_reasons if r["code"] == "repeat")
    assert repeat["text"].startswith("Repeat failure: 1 earlier complaint")
    assert Assessment.objects.get().facts["repeat"] is True


def test_complaint_assess_uses_the_stored_grading_settings():
    GradingSettings.objects.create(config={"ugly_threshold": 40, "bad_threshold": 30, "neutral_threshold": 10})
    complaint = bad_complaint()

    assess(complaint)

    assert complaint.grade == "ugly"


def test_complaint_assess_writes_one_assessed_event_per_grade_change():
    complaint = bad_complaint()
    assess(complaint)

    ticket_services.complaint_update(complaint=complaint, changes={"says_wont_return": True}, actor=ActorRef.system())
    assess(complaint, "changed")

    events = complaint.events.filter(kind="assessed").order_by("created_at", "id")
    assert [e.message.split(" (")[0] for e in events] == ["Graded bad", "Grade bad → ugly"]


# --- idempotency -------------------------------------------------------------------------------


def test_complaint_assess_twice_on_an_unchanged_complaint_changes_and_sends_nothing(executive, lead):
    complaint = ugly_complaint()
    assess(complaint)
    before = (
        Assessment.objects.count(), Escalation.objects.count(), TimelineEvent.objects.count(),
        Notification.objects.count(), Complaint.objects.values_list("updated_at", flat=True).get(),
    )

    second = assess(complaint, "changed")
    third = assess(complaint, "sweep")

    assert (second.outcome, third.outcome) == ("unchanged", "unchanged")
    after = (
        Assessment.objects.count(), Escalation.objects.count(), TimelineEvent.objects.count(),
        Notification.objects.count(), Complaint.objects.values_list("updated_at", flat=True).get(),
    )
    assert after == before


def test_complaint_assess_minutes_later_changes_nothing_but_a_new_hour_regrades():
    complaint = aged(bad_complaint(), hours=2.2)
    now = timezone.now()
    assess(complaint, now=now)

    assert assess(complaint, "sweep", now=now + timedelta(minutes=20)).outcome == "unchanged"
    assert assess(complaint, "sweep", now=now + timedelta(minutes=50)).outcome == "assessed"  # 3 hours now
    assert Assessment.objects.count() == 2


def test_complaint_assess_does_not_announce_a_change_so_it_cannot_trigger_itself(django_capture_on_commit_callbacks):
    from tickets import signals

    seen = []
    signals.complaint_changed.connect(lambda **kw: seen.append(kw), weak=False, dispatch_uid="esc-test")
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            assess(ugly_complaint())
    finally:
        signals.complaint_changed.disconnect(dispatch_uid="esc-test")

    assert seen == []
    assert all("complaint_assess" not in repr(cb) for cb in callbacks)


def test_complaint_assess_of_a_missing_complaint_is_a_no_op():
    assert services.complaint_assess(complaint_id=999_999, trigger="sweep").outcome == "missing"


# --- tiers -------------------------------------------------------------------------------------


def test_escalation_opens_with_an_acknowledgement_deadline_from_the_rule():
    complaint = ugly_complaint()
    before = timezone.now()

    result = assess(complaint)

    escalation = result.escalation
    assert (escalation.tier, escalation.from_tier, escalation.status) == ("executive", "frontline", "open")
    assert escalation.reason == "Ugly experience goes to an executive"
    assert escalation.rule.name == "Ugly experience goes to an executive"
    assert timedelta(minutes=59) < escalation.ack_due_at - before <= timedelta(hours=1, seconds=5)
    assert complaint.tier == "executive"
    assert kinds(complaint) == ["deadline_set", "escalated", "assessed"] or set(kinds(complaint)) == {
        "assessed", "escalated", "deadline_set"
    }


def test_a_higher_escalation_supersedes_the_open_one():
    complaint = bad_complaint()
    first = assess(complaint).escalation
    assert first.tier == "lead"

    ticket_services.complaint_update(complaint=complaint, changes={"says_wont_return": True}, actor=ActorRef.system())
    second = assess(complaint, "changed").escalation

    first.refresh_from_db()
    assert first.status == "superseded"
    assert (second.tier, second.from_tier, second.status) == ("executive", "lead", "open")
    assert Escalation.objects.filter(complaint=complaint, status="open").count() == 1


def test_rules_never_move_a_complaint_down_a_tier():
    complaint = ugly_complaint()
    assess(complaint)

    ticket_services.complaint_update(complaint=complaint, changes={"says_wont_return": False, "severity": 1}, actor=ActorRef.system())
    assess(complaint, "changed")

    assert complaint.grade in ("good", "neutral")
    assert complaint.tier == "executive"
    assert Escalation.objects.filter(complaint=complaint).count() == 1


def test_resolved_complaints_are_graded_but_never_escalated():
    complaint = ugly_complaint(status=Status.RESOLVED)

    assess(complaint)

    assert complaint.grade == "ugly"
    assert complaint.tier == "frontline"
    assert not Escalation.objects.exists()
    assert "resolved" in Assessment.objects.get().decision["applied"]["not_applied"]


# --- deadlines and tags ------------------------------------------------------------------------


def test_deadlines_only_tighten():
    complaint = bad_complaint()
    assess(complaint)
    bad_due = complaint.response_due_at  # 24 h

    ticket_services.complaint_update(complaint=complaint, changes={"says_wont_return": True}, actor=ActorRef.system())
    assess(complaint, "changed")
    ugly_due = complaint.response_due_at  # 1 h

    assert ugly_due < bad_due
    # Hours later the ugly rule still says "1 hour", but the deadline never moves on.
    assess(complaint, "sweep", now=timezone.now() + timedelta(minutes=30))
    assert complaint.response_due_at == ugly_due


def test_no_response_deadline_is_set_once_the_customer_was_answered():
    complaint = bad_complaint(first_response_at=timezone.now())

    assess(complaint)

    assert complaint.tier == "lead"
    assert complaint.response_due_at is None


def test_rule_tags_and_resolution_deadlines_are_applied_with_one_event_each():
    EscalationRule.objects.create(
        name="Failed fixes", order=5,
        conditions=[{"field": "cause", "operator": "eq", "value": "failed_fix"}],
        actions=[{"type": "tag", "value": "second-failure"}, {"type": "set_resolution_deadline", "value": 48}],
    )
    complaint = ComplaintFactory(cause="failed_fix", severity=1, tags=["vip"])

    assess(complaint)

    assert complaint.tags == ["vip", "second-failure"]
    assert complaint.resolution_due_at is not None
    assert complaint.events.filter(kind="tagged").get().message == "Tagged second-failure"
    assert complaint.events.filter(kind="deadline_set").count() == 1


# --- the SLA clock -----------------------------------------------------------------------------


def test_waiting_on_customer_pauses_the_clock_and_resuming_moves_the_deadlines_on(agent):
    actor = ActorRef(user=agent)
    t0 = timezone.now() - timedelta(hours=5)
    complaint = ComplaintFactory(severity=4, status=Status.IN_PROGRESS, first_response_at=t0)
    EscalationRule.objects.create(
        name="Resolve bad ones in 2 days", order=1,
        conditions=[{"field": "grade", "operator": "eq", "value": "bad"}],
        actions=[{"type": "set_resolution_deadline", "value": 48}],
    )
    assess(complaint, now=t0)
    assert complaint.resolution_due_at == t0 + timedelta(hours=48)

    # Waiting on the customer from t0 + 1 h to t0 + 4 h (the task may run late: the event's time counts).
    ticket_services.complaint_transition(complaint=complaint, to_status=Status.WAITING_ON_CUSTOMER, actor=actor)
    TimelineEvent.objects.filter(complaint=complaint, data__to="waiting_on_customer").update(created_at=t0 + timedelta(hours=1))
    assess(complaint, "changed", now=t0 + timedelta(hours=2))
    clock = SlaClock.objects.get(complaint=complaint)
    assert clock.paused_at == t0 + timedelta(hours=1)
    ticket_services.complaint_transition(complaint=complaint, to_status=Status.IN_PROGRESS, actor=actor)
    TimelineEvent.objects.filter(complaint=complaint, data__from="waiting_on_customer").update(created_at=t0 + timedelta(hours=4))
    assess(complaint, "changed")

    clock.refresh_from_db()
    assert (clock.paused_at, clock.paused_seconds) == (None, 3 * 3600)
    assert complaint.resolution_due_at == t0 + timedelta(hours=51)
    moved = complaint.events.filter(kind="deadline_set", data__reason="resumed").get()
    assert moved.message.startswith("Deadlines moved on by 3 h (paused while waiting on the customer)")


def test_a_deadline_set_while_paused_counts_from_the_start_of_the_pause():
    paused_at = timezone.now() - timedelta(hours=2)
    complaint = ComplaintFactory(severity=4, status=Status.WAITING_ON_CUSTOMER, first_response_at=paused_at)
    SlaClock.objects.create(complaint=complaint, paused_at=paused_at)
    EscalationRule.objects.create(
        name="Resolve bad ones in 2 days", order=1,
        conditions=[{"field": "grade", "operator": "eq", "value": "bad"}],
        actions=[{"type": "set_resolution_deadline", "value": 48}],
    )

    assess(complaint)

    # Moved on by the whole pause at resume, this gives the full 48 hours from the resume.
    assert complaint.resolution_due_at == paused_at + timedelta(hours=48)


def test_a_paused_complaint_is_never_overdue():
    complaint = ComplaintFactory(status=Status.WAITING_ON_CUSTOMER, resolution_due_at=timezone.now() - timedelta(hours=1),
                                 first_response_at=timezone.now())

    assess(complaint)

    assert Assessment.objects.get().facts["resolution_overdue"] is False


def test_hours_unanswered_leave_out_paused_time():
    complaint = aged(ComplaintFactory(severity=1, cause="other"), hours=30)
    SlaClock.objects.create(complaint=complaint, paused_seconds=20 * 3600)

    assess(complaint)

    unanswered = next(r for r in complaint.grade_reasons if r["code"] == "unanswered")
    assert unanswered["text"] == "No first response for 10 hours"


# --- time rules and the de-escalation hold ------------------------------------------------------


def test_a_missed_response_deadline_moves_the_complaint_up_one_tier_once(lead, senior):
    complaint = bad_complaint()
    assess(complaint)
    assert complaint.tier == "lead"
    Complaint.objects.filter(pk=complaint.pk).update(response_due_at=timezone.now() - timedelta(minutes=1))

    moved = assess(complaint, "sweep")
    again = assess(complaint, "sweep", now=timezone.now() + timedelta(minutes=1))

    assert moved.escalation.tier == "manager"
    assert again.outcome == "unchanged"
    assert RuleFiring.objects.filter(complaint=complaint).count() == 1
    assert complaint.tier == "manager"


def test_rules_do_not_undo_a_persons_de_escalation_unless_things_get_worse(executive, senior):
    complaint = bad_complaint(first_response_at=timezone.now())
    assess(complaint)
    ticket_services.complaint_update(complaint=complaint, changes={"says_wont_return": True}, actor=ActorRef.system())
    escalation = assess(complaint, "changed").escalation
    services.escalation_deescalate(escalation_id=escalation.pk, actor=ActorRef(user=executive), note="Handled by phone")
    complaint.refresh_from_db()
    assert complaint.tier == "lead"
    notices = Notification.objects.count()

    held = assess(complaint, "rules_changed", now=timezone.now() + timedelta(hours=2))

    assert complaint.tier == "lead"
    assert held.assessment.decision["applied"]["held"].startswith("Held at team lead: Erin Executive de-escalated it")
    assert Notification.objects.count() == notices
    assert assess(complaint, "sweep", now=timezone.now() + timedelta(hours=2)).outcome == "unchanged"


def test_a_missed_deadline_lifts_the_de_escalation_hold(executive, senior):
    complaint = ugly_complaint()
    escalation = assess(complaint).escalation
    services.escalation_deescalate(escalation_id=escalation.pk, actor=ActorRef(user=executive), note="Not exec level")
    Complaint.objects.filter(pk=complaint.pk).update(response_due_at=timezone.now() - timedelta(minutes=1))

    again = assess(complaint, "sweep")

    assert again.escalation is not None and complaint.tier == "executive"


# --- notifications -----------------------------------------------------------------------------


def test_the_target_tier_is_notified_once_per_escalation(executive, senior, lead, agent, mailoutbox,
                                                         django_capture_on_commit_callbacks):
    complaint = ugly_complaint(assignee=agent)

    with django_capture_on_commit_callbacks(execute=True):
        assess(complaint)
        assess(complaint, "sweep", now=timezone.now() + timedelta(minutes=5))

    notice = Notification.objects.get()
    assert notice.recipient == executive
    assert notice.title == f"{complaint.reference} escalated to executive: ugly experience"
    assert "Customer said they will not come back" in notice.body and "Acknowledge by" in notice.body
    assert notice.url == f"/complaints/{complaint.reference}/"
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [executive.email]


def test_a_new_escalation_notifies_again_but_never_twice(executive, lead):
    complaint = bad_complaint()
    assess(complaint)
    assess(complaint, "sweep")
    ticket_services.complaint_update(complaint=complaint, changes={"says_wont_return": True}, actor=ActorRef.system())
    assess(complaint, "changed")
    assess(complaint, "changed")

    assert list(Notification.objects.order_by("pk").values_list("recipient__username", flat=True)) == [
        lead.username, executive.username,
    ]


def test_missed_deadline_notifies_the_assignee(agent, lead, senior):
    complaint = bad_complaint(assignee=agent)
    assess(complaint)
    Complaint.objects.filter(pk=complaint.pk).update(response_due_at=timezone.now() - timedelta(minutes=1))

    assess(complaint, "sweep")

    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {
        lead.username, senior.username, agent.username,
    }


def test_reminders_go_once_when_an_acknowledgement_is_near_or_missed(executive):
    complaint = ugly_complaint()
    escalation = assess(complaint).escalation
    Notification.objects.all().delete()

    assert services.escalation_reminders_send(now=timezone.now()) == 0  # a full hour left
    near = escalation.ack_due_at - timedelta(minutes=10)
    assert services.escalation_reminders_send(now=near) == 1
    assert services.escalation_reminders_send(now=near) == 0
    late = escalation.ack_due_at + timedelta(minutes=10)
    assert services.escalation_reminders_send(now=late) == 1
    assert services.escalation_reminders_send(now=late) == 0
    assert sorted(Notification.objects.values_list("title", flat=True)) == [
        f"{complaint.reference}: acknowledge within 10 min",
        f"{complaint.reference}: acknowledgement overdue",
    ]


def test_no_reminder_for_an_acknowledgement_missed_days_ago(executive):
    escalation = assess(ugly_complaint()).escalation
    Notification.objects.all().delete()

    assert services.escalation_reminders_send(now=escalation.ack_due_at + timedelta(days=2)) == 0


def test_reminders_tell_the_assignee_a_response_is_due_within_the_hour(agent):
    ComplaintFactory(assignee=agent, response_due_at=timezone.now() + timedelta(minutes=30))
    ComplaintFactory(assignee=agent, response_due_at=timezone.now() + timedelta(hours=5))

    assert services.escalation_reminders_send() == 1
    assert services.escalation_reminders_send() == 0
    assert "first response due" in Notification.objects.get(recipient=agent).title


# --- acknowledge, take over, de-escalate -------------------------------------------------------


def test_acknowledge_records_who_and_writes_one_event(executive):
    escalation = assess(ugly_complaint()).escalation

    done = services.escalation_acknowledge(escalation_id=escalation.pk, actor=ActorRef(user=executive), note="On it")

    assert (done.status, done.acknowledged_by, done.note) == ("acknowledged", executive, "On it")
    event = done.complaint.events.get(kind="acknowledged")
    assert event.actor_user == executive
    assert event.message == "Acknowledged the escalation to executive: On it"


def test_acknowledge_as_of_a_moment_records_it_then_and_judges_lateness_then(executive):
    escalation = assess(ugly_complaint()).escalation
    in_time = escalation.ack_due_at - timedelta(minutes=5)

    done = services.escalation_acknowledge(escalation_id=escalation.pk, actor=ActorRef(user=executive), now=in_time)

    assert done.acknowledged_at == in_time
    event = done.complaint.events.get(kind="acknowledged")
    assert (event.message, event.data["late"]) == ("Acknowledged the escalation to executive", False)


def test_acknowledge_after_the_deadline_says_how_late(executive):
    escalation = assess(ugly_complaint()).escalation
    late = escalation.ack_due_at + timedelta(minutes=30)

    done = services.escalation_acknowledge(escalation_id=escalation.pk, actor=ActorRef(user=executive), now=late)

    event = done.complaint.events.get(kind="acknowledged")
    assert (event.message, event.data["late"]) == ("Acknowledged the escalation to executive, 30 min late", True)


def test_acknowledging_twice_is_a_conflict_naming_who_did_it(executive):
    escalation = assess(ugly_complaint()).escalation
    services.escalation_acknowledge(escalation_id=escalation.pk, actor=ActorRef(user=executive))

    with pytest.raises(services.EscalationConflict) as exc:
        services.escalation_acknowledge(escalation_id=escalation.pk, actor=ActorRef(user=executive))

    assert "already handled: Acknowledged by Erin Executive" in exc.value.message
    assert TimelineEvent.objects.filter(kind="acknowledged").count() == 1


@pytest.mark.parametrize(("who", "allowed"), [("lead", False), ("senior", False), ("executive", True)])
def test_only_the_escalations_tier_or_above_may_acknowledge(request, who, allowed):
    escalation = assess(ugly_complaint()).escalation
    actor = ActorRef(user=request.getfixturevalue(who))

    if allowed:
        services.escalation_acknowledge(escalation_id=escalation.pk, actor=actor)
    else:
        with pytest.raises(services.EscalationNotYours):
            services.escalation_acknowledge(escalation_id=escalation.pk, actor=actor)
    escalation.refresh_from_db()
    assert escalation.status == ("acknowledged" if allowed else "open")


def test_a_manager_may_handle_a_lead_escalation(senior):
    escalation = assess(bad_complaint()).escalation

    services.escalation_acknowledge(escalation_id=escalation.pk, actor=ActorRef(user=senior))

    escalation.refresh_from_db()
    assert escalation.acknowledged_by == senior


def test_take_over_acknowledges_and_assigns_to_me(executive, agent):
    complaint = ugly_complaint(assignee=agent)
    escalation = assess(complaint).escalation

    services.escalation_take_over(escalation_id=escalation.pk, actor=ActorRef(user=executive))

    escalation.refresh_from_db()
    complaint.refresh_from_db()
    assert (escalation.status, escalation.acknowledged_by) == ("taken_over", executive)
    assert complaint.assignee == executive
    assert set(complaint.events.values_list("kind", flat=True)) >= {"acknowledged", "assigned"}


def test_deescalate_needs_a_note_and_returns_to_the_previous_tier(executive):
    complaint = ugly_complaint()
    escalation = assess(complaint).escalation

    with pytest.raises(InvalidInput):
        services.escalation_deescalate(escalation_id=escalation.pk, actor=ActorRef(user=executive), note=" ")
    services.escalation_deescalate(escalation_id=escalation.pk, actor=ActorRef(user=executive), note="Not exec level")

    complaint.refresh_from_db()
    escalation.refresh_from_db()
    assert complaint.tier == "frontline"
    assert (escalation.status, escalation.note) == ("deescalated", "Not exec level")
    event = complaint.events.get(kind="deescalated")
    assert event.message == "De-escalated from executive to frontline agent: Not exec level"
    assert event.data["grade"] == "ugly"


def test_a_superseded_escalation_cannot_be_deescalated(executive):
    complaint = bad_complaint()
    first = assess(complaint).escalation
    ticket_services.complaint_update(complaint=complaint, changes={"says_wont_return": True}, actor=ActorRef.system())
    assess(complaint, "changed")

    with pytest.raises(services.EscalationConflict):
        services.escalation_deescalate(escalation_id=first.pk, actor=ActorRef(user=executive), note="x")


# --- rules and settings ------------------------------------------------------------------------

VALID_RULE = {
    "name": "Severity 5 to a manager",
    "conditions": [{"field": "severity", "operator": "eq", "value": 5}],
    "actions": [{"type": "escalate", "value": "manager"}],
}


def test_rule_create_validates_and_goes_last(senior):
    rule = services.rule_create(data=VALID_RULE, actor=ActorRef(user=senior))

    assert rule.order == 10 * (SHIPPED_RULES + 1) and rule.updated_by == senior and rule.active


def test_rule_create_refuses_an_invalid_rule_with_field_messages(senior):
    with pytest.raises(InvalidInput) as exc:
        services.rule_create(
            data={**VALID_RULE, "conditions": [{"field": "grdae", "operator": "eq", "value": "ugly"}]},
            actor=ActorRef(user=senior),
        )

    assert "Did you mean 'grade'?" in exc.value.fields["conditions[0].field"][0]
    assert EscalationRule.objects.count() == SHIPPED_RULES


def test_rule_update_revalidates_the_whole_rule(senior):
    rule = EscalationRule.objects.get(order=10)

    with pytest.raises(InvalidInput) as exc:
        services.rule_update(rule=rule, changes={"actions": [{"type": "escalate", "value": "ceo"}]}, actor=ActorRef(user=senior))

    assert "actions[0].value" in exc.value.fields
    rule.refresh_from_db()
    assert rule.actions[0]["value"] == "executive"


def test_rule_move_swaps_neighbours_and_renumbers(senior):
    last = EscalationRule.objects.get(order=30)

    services.rule_move(rule=last, direction="up", actor=ActorRef(user=senior))

    assert list(EscalationRule.objects.order_by("order").values_list("name", "order")) == [
        ("Ugly experience goes to an executive", 10),
        ("Missed deadline moves up one tier", 20),
        ("Bad experience goes to a team lead", 30),
        ("Unacknowledged escalation moves up one tier", 40),
    ]


def test_changing_the_rules_reassesses_open_complaints(senior, django_capture_on_commit_callbacks):
    complaint = ComplaintFactory(severity=5)
    closed = ComplaintFactory(severity=5, status=Status.CLOSED)

    with django_capture_on_commit_callbacks(execute=True):
        services.rule_create(data=VALID_RULE, actor=ActorRef(user=senior))

    complaint.refresh_from_db()
    assert complaint.tier == "manager"
    assert Assessment.objects.filter(complaint=complaint, trigger="rules_changed").exists()
    assert not Assessment.objects.filter(complaint=closed).exists()


def test_grading_settings_update_refuses_invalid_settings(senior):
    with pytest.raises(InvalidInput) as exc:
        services.grading_settings_update(config={"ugly_threshold": "high", "colour": 1}, actor=ActorRef(user=senior))

    assert set(exc.value.fields) == {"ugly_threshold", "colour"}
    assert not GradingSettings.objects.exists()

    services.grading_settings_update(config={"ugly_threshold": 65}, actor=ActorRef(user=senior))
    assert GradingSettings.objects.get().config == {"ugly_threshold": 65}


def test_rule_changes_take_effect_at_the_next_assessment(senior):
    from recovery.escalation import selectors

    assert bad_complaint() and assess(bad_complaint()).escalation.tier == "lead"
    bad_rule = EscalationRule.objects.get(order=20)
    services.rule_update(rule=bad_rule, changes={"active": False}, actor=ActorRef(user=senior))

    assert assess(bad_complaint()).escalation is None
    services.rule_move(rule=EscalationRule.objects.get(order=30), direction="up", actor=ActorRef(user=senior))
    assert [r.name for r in selectors.rule_set().specs] == [
        "Ugly experience goes to an executive", "Missed deadline moves up one tier",
        "Unacknowledged escalation moves up one tier",
    ]
