"""Demo data for escalation, loaded once by `manage.py seed_recovery_demo` (called by `make run`).

The tickets demo logs its complaints now and back-dates them afterwards, so the assessment that ran when
each was logged saw a complaint "answered days after it arrived". This replays recovery's part of the demo
as if it had run at the time: each demo complaint gets plausible first-response and resolution times, its
recovery rows from the load are cleared, and it is assessed as of two minutes after it was logged. Then one
real SLA sweep runs: complaints left unanswered for days drift to ugly and reach an executive, and missed
deadlines move cases up a tier. Finally a few escalations are handled (acknowledged, taken over,
de-escalated) so the inbox's "Handled" tab and the timelines show what that looks like.

Idempotent: a complaint replayed once (it has a "demo" assessment) is left alone, and the handled
examples are only added when no demo escalation has been handled yet.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from notifications.models import Notification
from recovery.escalation import services
from recovery.escalation.tasks import sla_sweep_task
from recovery.models import Assessment, Escalation, RuleFiring, SlaClock
from tickets.actors import ActorRef
from tickets.models import Complaint, Status, TimelineEvent

DEMO_SOURCE = "demo"
RECOVERY_EVENT_KINDS = (
    TimelineEvent.Kind.ASSESSED,
    TimelineEvent.Kind.ESCALATED,
    TimelineEvent.Kind.DEESCALATED,
    TimelineEvent.Kind.ACKNOWLEDGED,
    TimelineEvent.Kind.DEADLINE_SET,
    TimelineEvent.Kind.TAGGED,
)
# The demo complaints that threaten lawyers or the press carry the tag that makes them ugly by override.
LEGAL_WORDS = ("lawyer", "press", "solicitor", "court")


def seed(stdout) -> None:
    """Add this area's demo data; called after tickets' seed_demo; must do nothing the second time."""
    complaints = list(Complaint.objects.filter(source=DEMO_SOURCE).select_related("customer").order_by("pk"))
    if not complaints:
        stdout.write("Escalation demo: no demo complaints (run seed_demo first); nothing to do.")
        return
    replayed = set(
        Assessment.objects.filter(complaint__in=complaints, trigger="demo").values_list("complaint_id", flat=True)
    )
    todo = [c for c in complaints if c.pk not in replayed]
    rng = random.Random(4)
    for complaint in todo:
        _replay(complaint, rng)
    if todo:
        _acknowledge_in_time(todo, rng)
        result = sla_sweep_task()
        stdout.write(f"Escalation demo: replayed {len(todo)} complaints, then one SLA sweep: {result}.")
    handled = _handle_some(complaints)
    escalated = Escalation.objects.filter(complaint__source=DEMO_SOURCE, status=Escalation.Status.OPEN)
    stdout.write(
        f"Escalation demo: {escalated.filter(tier='executive').count()} waiting for an executive, "
        f"{escalated.filter(ack_due_at__lt=timezone.now()).count()} past their acknowledgement deadline"
        + (f", {handled} handled as examples." if handled else ".")
    )


def _replay(complaint: Complaint, rng: random.Random) -> None:
    created = complaint.created_at
    now = timezone.now()
    fields: dict = {
        "grade": "", "risk_score": None, "grade_reasons": [], "assessed_at": None, "tier": "frontline",
        "response_due_at": None, "resolution_due_at": None,
    }
    if complaint.first_response_at is not None:
        fields["first_response_at"] = min(now, created + timedelta(minutes=rng.randint(20, 300)))
    if complaint.resolved_at is not None:
        fields["resolved_at"] = min(now, created + timedelta(hours=rng.randint(20, 96)))
    if complaint.closed_at is not None:
        fields["closed_at"] = min(now, fields.get("resolved_at", created) + timedelta(days=1))
    tags = list(complaint.tags or [])
    if any(word in complaint.description.lower() for word in LEGAL_WORDS) and "legal-threat" not in tags:
        tags.append("legal-threat")
    fields["tags"] = tags
    # Clear what the load-time assessment produced for this demo complaint (demo data, minutes old).
    TimelineEvent.objects.filter(complaint=complaint, kind__in=RECOVERY_EVENT_KINDS).delete()
    Notification.objects.filter(dedupe_key__startswith=f"recovery:complaint:{complaint.pk}:").delete()
    Notification.objects.filter(
        dedupe_key__in=[f"recovery:escalation:{pk}:ack-{k}" for pk in complaint.escalations.values_list("pk", flat=True)
                        for k in ("near", "missed")]
    ).delete()
    Escalation.objects.filter(complaint=complaint).delete()
    Assessment.objects.filter(complaint=complaint).delete()
    RuleFiring.objects.filter(complaint=complaint).delete()
    SlaClock.objects.filter(complaint=complaint).delete()
    Complaint.objects.filter(pk=complaint.pk).update(**fields)

    moment = created + timedelta(minutes=2)
    started = timezone.now()
    services.complaint_assess(complaint_id=complaint.pk, trigger="demo", now=moment)
    # Date what the replay wrote to the moment it stands for.
    Assessment.objects.filter(complaint=complaint, created_at__gte=started).update(created_at=moment)
    Escalation.objects.filter(complaint=complaint, created_at__gte=started).update(created_at=moment)
    TimelineEvent.objects.filter(complaint=complaint, kind__in=RECOVERY_EVENT_KINDS, created_at__gte=started).update(
        created_at=moment
    )
    Notification.objects.filter(dedupe_key__startswith=f"recovery:complaint:{complaint.pk}:").update(created_at=moment)


def _acknowledge_in_time(complaints: list[Complaint], rng: random.Random) -> None:
    """A real team lead acknowledges an escalation within hours: do that for the older ones, as of then. The
    oldest stays unacknowledged, so the sweep shows what a missed acknowledgement does (it moves up a tier)."""
    lead = get_user_model().objects.filter(username="lead").first()
    if lead is None:
        return
    cutoff = timezone.now() - timedelta(hours=6)
    waiting = list(
        Escalation.objects.filter(
            complaint__in=complaints, status=Escalation.Status.OPEN, tier="lead", complaint__created_at__lt=cutoff
        ).order_by("complaint__created_at")
    )
    for escalation in waiting[1:]:
        moment = escalation.created_at + timedelta(minutes=rng.randint(15, 180))
        started = timezone.now()
        services.escalation_acknowledge(escalation_id=escalation.pk, actor=ActorRef(user=lead), note=ACK_NOTE, now=moment)
        # Date its event to that moment too, as the replay does (a timeline row is stamped when it is written).
        TimelineEvent.objects.filter(
            complaint_id=escalation.complaint_id, kind=TimelineEvent.Kind.ACKNOWLEDGED, created_at__gte=started
        ).update(created_at=moment)


ACK_NOTE = "Seen; the team has it in hand."


def _handle_some(complaints: list[Complaint]) -> int:
    """One acknowledged, one taken over, one de-escalated: so the inbox has handled examples. Once (the leads'
    own acknowledgements of the replay do not count)."""
    handled = Escalation.objects.filter(
        complaint__in=complaints, status__in=[Escalation.Status.TAKEN_OVER, Escalation.Status.DEESCALATED]
    )
    if handled.exists():
        return 0
    User = get_user_model()
    people = {u.username: u for u in User.objects.filter(username__in=["executive", "manager", "lead"])}
    waiting = Escalation.objects.filter(
        complaint__in=complaints, status=Escalation.Status.OPEN, complaint__status__in=[Status.NEW, Status.IN_PROGRESS]
    ).order_by("pk")
    count = 0
    executive = people.get("executive")
    at_exec = list(waiting.filter(tier="executive").exclude(complaint__status=Status.NEW)[:2])
    if executive and at_exec:
        services.escalation_acknowledge(
            escalation_id=at_exec[0].pk, actor=ActorRef(user=executive),
            note="Called the customer personally; a replacement and six months free are on their way.",
        )
        count += 1
    manager = people.get("manager")
    at_manager = waiting.filter(tier__in=["manager", "lead"]).first()
    if manager and at_manager:
        services.escalation_take_over(escalation_id=at_manager.pk, actor=ActorRef(user=manager),
                                      note="I will handle this one myself.")
        count += 1
    if executive and len(at_exec) > 1:
        services.escalation_deescalate(
            escalation_id=at_exec[1].pk, actor=ActorRef(user=executive),
            note="The customer accepted the team's fix on the phone; the team lead can close it out.",
        )
        count += 1
    return count
