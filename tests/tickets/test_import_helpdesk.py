"""`manage.py import_helpdesk`: each vendor's export (fixtures written from the vendors' docs), the generic CSV,
idempotency, bad rows by line, and the backfill rules (closed tickets are graded, never escalated or notified)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from notifications.models import Notification
from recovery.models import Assessment, Escalation
from tests import test_real_services as real
from tests.factories import CustomerFactory
from tickets.helpdesks.importers import run_import
from tickets.helpdesks.models import HelpdeskConnection
from tickets.helpdesks.services import connection_create
from tickets.models import Complaint, Customer, CustomerReference, Status, TimelineEvent

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "helpdesk_exports"
pytestmark = pytest.mark.django_db


def _run(kind: str, name: str, *extra: str, expect_rejected: bool = False) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = ("import_helpdesk", kind, str(FIXTURES / name), *extra)
    if expect_rejected:
        with pytest.raises(CommandError) as caught:
            call_command(*args, stdout=out, stderr=err)
        return str(caught.value), err.getvalue()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _import(django_capture_on_commit_callbacks, kind: str, name: str, *extra: str, expect_rejected: bool = False):
    with django_capture_on_commit_callbacks(execute=True):
        return _run(kind, name, *extra, expect_rejected=expect_rejected)


def _complaint(source: str, external_id: str) -> Complaint:
    return Complaint.objects.select_related("customer").get(source=source, external_id=external_id)


# --- each format ------------------------------------------------------------------------------


def test_import_zendesk_incremental_export(django_capture_on_commit_callbacks):
    summary, errors = _import(django_capture_on_commit_callbacks, "zendesk", "zendesk_tickets.jsonl", expect_rejected=True)

    assert "3 new complaints" in summary and "1 skipped" in summary and "2 rejected" in summary
    assert "line 4: Not JSON" in errors
    assert "line 5: created_at 'not a time' is not a date and time" in errors
    kettle = _complaint("zendesk", "35436")
    assert (kettle.customer.email, kettle.customer.name) == ("jane.doe@example.com", "Jane Doe")
    assert CustomerReference.objects.get(source="zendesk", external_id="20978392").customer_id == kettle.customer_id
    assert (kettle.status, kettle.severity, kettle.cause, kettle.channel) == (Status.RESOLVED, 4, "product_quality", "email")
    assert kettle.created_at == datetime(2025, 6, 2, 9, 15, tzinfo=UTC)
    assert kettle.resolved_at == datetime(2025, 6, 4, 16, 40, tzinfo=UTC)
    rude = _complaint("zendesk", "35438")
    assert (rude.status, rude.severity, rude.cause, rude.channel) == (Status.CLOSED, 5, "staff_conduct", "social")
    # No email in the ticket and no side-loaded user: the requester id is the customer's reference.
    assert rude.customer.email is None
    assert CustomerReference.objects.get(source="zendesk", external_id="20978600").customer_id == rude.customer_id
    assert _complaint("zendesk", "35437").status == Status.NEW
    assert not Complaint.objects.filter(external_id="35439").exists()  # deleted in Zendesk


def test_import_freshdesk_csv_export(django_capture_on_commit_callbacks):
    summary, errors = _import(django_capture_on_commit_callbacks, "freshdesk", "freshdesk_tickets.csv", expect_rejected=True)

    assert "2 new complaints" in summary and "2 rejected" in summary
    assert "line 4: Ticket 103 has no requester" in errors
    assert "line 5: Created time 'yesterday-ish'" in errors
    late = _complaint("freshdesk", "101")
    assert (late.customer.email, late.customer.name) == ("maria.rossi@example.com", "Maria Rossi")
    assert (late.status, late.severity, late.cause, late.channel) == (Status.CLOSED, 4, "service_delay", "email")
    assert late.tags == ["delay", "shipping"]
    assert late.closed_at is not None and late.first_response_at is not None
    invoice = _complaint("freshdesk", "102")
    assert (invoice.status, invoice.severity, invoice.cause, invoice.channel) == (Status.IN_PROGRESS, 3, "pricing", "web")


def test_import_zammad_api_export(django_capture_on_commit_callbacks):
    summary, errors = _import(django_capture_on_commit_callbacks, "zammad", "zammad_tickets.json", expect_rejected=True)

    assert "2 new complaints" in summary and "1 rejected" in summary
    assert "line 3: Ticket 9 has no customer" in errors  # the third ticket of the array
    heater = _complaint("zammad", "7")
    assert heater.customer.email == "lena.meier@example.com"
    assert (heater.status, heater.severity, heater.cause) == (Status.CLOSED, 4, "failed_fix")
    assert heater.description == "The heater you repaired failed again."
    # The customer's later article is their comment, and grading reads it.
    comment = TimelineEvent.objects.get(complaint=heater, kind=TimelineEvent.Kind.COMMENTED)
    assert comment.data["by_customer"] is True and "cancel my contract" in comment.data["body"]
    heater.refresh_from_db()
    assert heater.grade == "ugly"
    assert any(r["text"].startswith("Customer wrote: 'I will cancel my contract'") for r in heater.grade_reasons)
    bill = _complaint("zammad", "8")
    assert (bill.customer.email, bill.customer.name, bill.channel) == ("omar.haddad@example.com", "Omar Haddad", "phone")


def test_import_helpscout_mailbox_api_export(django_capture_on_commit_callbacks):
    summary, errors = _import(django_capture_on_commit_callbacks, "helpscout", "helpscout_conversations.json", expect_rejected=True)

    assert "2 new complaints" in summary and "1 skipped" in summary and "1 rejected" in summary
    assert "line 4: 'not an email' is not an email address." in errors
    parcel = _complaint("helpscout", "2391938111")
    assert (parcel.customer.email, parcel.customer.name) == ("kim.park@example.com", "Kim Park")
    assert (parcel.status, parcel.cause, parcel.channel) == (Status.CLOSED, "product_quality", "email")
    assert parcel.description == "My parcel arrived damaged."
    codes = {r["code"] for r in parcel.grade_reasons}
    assert {"repeat_contact", "threatens_public"} <= codes
    assert _complaint("helpscout", "2391938112").channel == "chat"


def test_import_generic_csv(django_capture_on_commit_callbacks):
    summary, errors = _import(django_capture_on_commit_callbacks, "csv", "generic.csv", expect_rejected=True)

    assert "2 new complaints" in summary and "3 rejected" in summary
    assert "line 4: Give customer_email or customer_external_id." in errors
    assert "line 5: severity '9' must be a whole number from 1 to 5." in errors
    assert "line 6: cause 'weather' is not one of" in errors
    food = _complaint("csv", "G-1")
    assert (food.cause, food.severity, food.status, food.channel) == ("product_quality", 3, Status.CLOSED, "in_person")
    assert (food.monetary_loss, food.currency) == (Decimal("25.00"), "EUR")
    # Both rows of the same customer share one customer record.
    assert Customer.objects.filter(email="ana@example.com").count() == 1


# --- idempotency and source -------------------------------------------------------------------


def test_import_twice_adds_nothing(django_capture_on_commit_callbacks):
    _import(django_capture_on_commit_callbacks, "zendesk", "zendesk_tickets.jsonl", expect_rejected=True)
    counts = (Complaint.objects.count(), Customer.objects.count(), TimelineEvent.objects.count(), Assessment.objects.count())

    summary, _ = _import(django_capture_on_commit_callbacks, "zendesk", "zendesk_tickets.jsonl", expect_rejected=True)

    assert "0 new complaints" in summary and "3 already imported" in summary
    assert (Complaint.objects.count(), Customer.objects.count(), TimelineEvent.objects.count(), Assessment.objects.count()) == counts


def test_import_uses_the_source_given_and_finds_known_customers_by_email(django_capture_on_commit_callbacks):
    known = CustomerFactory(email="maria.rossi@example.com")

    _import(django_capture_on_commit_callbacks, "freshdesk", "freshdesk_tickets.csv", "--source", "acme-freshdesk", expect_rejected=True)

    assert set(Complaint.objects.values_list("source", flat=True)) == {"acme-freshdesk"}
    assert _complaint("acme-freshdesk", "101").customer_id == known.pk
    assert CustomerReference.objects.get(source="acme-freshdesk", external_id="5001").customer_id == known.pk


def test_import_into_a_connection_reads_tags_and_priorities_with_its_mapping(django_capture_on_commit_callbacks):
    """The same mapping as the connection's webhooks: its own tags, its default cause, its severities."""
    made = connection_create(kind="zendesk", name="acme-zendesk")
    HelpdeskConnection.objects.filter(pk=made.connection.pk).update(
        cause_map={"Kettle": "failed_fix"}, default_cause="ignored", severity_map={"high": 5, "normal": 1}
    )

    summary, _ = _import(
        django_capture_on_commit_callbacks, "zendesk", "zendesk_tickets.jsonl", "--source", "acme-zendesk",
        expect_rejected=True,
    )

    assert "by connection 'acme-zendesk'" in summary
    kettle = _complaint("acme-zendesk", "35436")  # tags broken, kettle; priority high
    assert (kettle.cause, kettle.severity) == ("failed_fix", 5)
    refund = _complaint("acme-zendesk", "35437")  # tag refund is not in this connection's map; priority normal
    assert (refund.cause, refund.severity) == ("ignored", 1)


def test_import_without_a_connection_uses_the_default_mapping(django_capture_on_commit_callbacks):
    summary, _ = _import(django_capture_on_commit_callbacks, "zendesk", "zendesk_tickets.jsonl", expect_rejected=True)

    assert "by the default mapping" in summary
    assert (_complaint("zendesk", "35437").cause, _complaint("zendesk", "35437").severity) == ("pricing", 3)


def test_import_keeps_the_last_row_of_a_ticket_within_a_batch():
    lines = (
        "external_id,created_at,customer_email,subject,status\n"
        "T-1,2025-01-01T10:00:00Z,a@example.com,First,new\n"
        "T-1,2025-01-01T10:00:00Z,a@example.com,Second,closed\n"
    )

    summary = run_import("csv", io.BytesIO(lines.encode()), source="csv")

    assert (summary.created, summary.duplicates) == (1, 1)
    assert Complaint.objects.get().subject == "Second"


def test_import_refuses_a_csv_without_the_required_columns():
    with pytest.raises(CommandError, match="The header row lacks: external_id, created_at, subject"):
        call_command("import_helpdesk", "csv", str(FIXTURES / "zendesk_tickets.jsonl"), stdout=io.StringIO(), stderr=io.StringIO())


def test_import_reads_zendesk_one_ticket_per_line_and_pages_alike(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text(
        '{"id": 1, "created_at": "2025-01-01T00:00:00Z", "subject": "A", "status": "open", "requester_id": 9}\n'
        '{"tickets": [{"id": 2, "created_at": "2025-01-01T00:00:00Z", "subject": "B", "status": "pending",'
        ' "requester_id": 9}], "users": [{"id": 9, "email": "nine@example.com", "name": "Nine"}]}\n'
    )

    with path.open("rb") as stream:
        summary = run_import("zendesk", stream, source="zendesk")

    assert summary.created == 2
    assert set(Complaint.objects.values_list("status", flat=True)) == {Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER}
    assert Customer.objects.get().email == "nine@example.com"


# --- backfill ---------------------------------------------------------------------------------


def test_import_closed_tickets_are_graded_but_never_escalated_or_notified(django_capture_on_commit_callbacks, lead, senior, executive):
    _import(django_capture_on_commit_callbacks, "zendesk", "zendesk_tickets.jsonl", expect_rejected=True)

    kettle = _complaint("zendesk", "35436")  # solved, with a legal threat: ugly
    assert kettle.grade == "ugly" and kettle.assessed_at is not None
    assert any(r["text"].startswith("Customer wrote: '") and "lawyer" in r["text"] for r in kettle.grade_reasons)
    closed = Complaint.objects.filter(status__in=(Status.RESOLVED, Status.CLOSED))
    assert closed.count() == 2
    assert not Escalation.objects.filter(complaint__in=closed).exists()
    assert not Assessment.objects.filter(complaint__in=closed).exists()
    assert set(closed.values_list("tier", flat=True)) == {"frontline"}
    assert not Notification.objects.filter(url__contains=kettle.reference).exists()
    logged = TimelineEvent.objects.get(complaint=kettle, kind=TimelineEvent.Kind.LOGGED)
    assert "graded ugly" in logged.message and logged.data["grade"] == "ugly"


def test_import_open_tickets_are_assessed_normally(django_capture_on_commit_callbacks):
    _import(django_capture_on_commit_callbacks, "csv", "generic.csv", expect_rejected=True)

    waiter = _complaint("csv", "G-2")  # open
    food = _complaint("csv", "G-1")  # closed
    assert Assessment.objects.filter(complaint=waiter, trigger="imported").exists()
    assert not Assessment.objects.filter(complaint=food).exists()
    assert waiter.grade and food.grade
    # The second complaint of the same customer within 90 days counts as a repeat.
    assert "repeat" in {r["code"] for r in waiter.grade_reasons}


def test_import_keeps_the_helpdesks_times_on_the_timeline(django_capture_on_commit_callbacks):
    _import(django_capture_on_commit_callbacks, "csv", "generic.csv", expect_rejected=True)

    food = _complaint("csv", "G-1")
    logged = TimelineEvent.objects.get(complaint=food, kind=TimelineEvent.Kind.LOGGED)
    assert food.created_at == logged.created_at == datetime(2025, 2, 1, 9, 0, tzinfo=UTC)
    assert logged.data["imported"] is True
    # The switch that keeps those times is off again for everybody else.
    assert Complaint._meta.get_field("created_at").auto_now_add is True
    assert Complaint._meta.get_field("updated_at").auto_now is True


@pytest.mark.parametrize(
    "body",
    [
        # A JSON array, one conversation per line, and a page per line: the shapes the docs allow.
        b'[{"id": 1, "status": "active", "subject": "A", "createdAt": "2025-01-01T00:00:00Z",'
        b' "primaryCustomer": {"id": 5, "email": "five@example.com"}}]',
        b'\n{"id": 1, "status": "active", "subject": "A", "createdAt": "2025-01-01T00:00:00Z",'
        b' "primaryCustomer": {"id": 5, "email": "five@example.com"}}\n',
        b'{"_embedded": {"conversations": [{"id": 1, "status": "active", "subject": "A",'
        b' "createdAt": "2025-01-01T00:00:00Z", "primaryCustomer": {"id": 5, "email": "five@example.com"}}]}}\n',
    ],
)
def test_import_reads_every_documented_json_layout(body):
    summary = run_import("helpscout", io.BytesIO(body), source="helpscout")

    assert (summary.created, summary.rejected) == (1, [])
    assert _complaint("helpscout", "1").customer.email == "five@example.com"


# --- with the real worker ---------------------------------------------------------------------

# The worker fixture lives with the other real-service tests; naming it here makes pytest offer it.
celery_worker_process = real.celery_worker_process


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True)
def test_import_open_tickets_are_assessed_by_the_worker_and_closed_ones_never(celery_worker_process, executive):
    _run("zendesk", "zendesk_tickets.jsonl", expect_rejected=True)  # commits each batch: the task goes to the broker

    worker_log = celery_worker_process / "worker.log"
    refund = Complaint.objects.get(source="zendesk", external_id="35437")  # new: open
    assert real.wait_for(lambda: Assessment.objects.filter(complaint=refund, trigger="imported").exists()), (
        worker_log.read_text()[-3000:]
    )
    assert "recovery.complaints_assess_many" in worker_log.read_text()
    closed = Complaint.objects.filter(status__in=(Status.RESOLVED, Status.CLOSED))
    assert closed.count() == 2 and not closed.filter(grade="").exists()
    assert not Assessment.objects.filter(complaint__in=closed).exists()
    assert not Escalation.objects.filter(complaint__in=closed).exists()
