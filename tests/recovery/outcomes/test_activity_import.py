"""`manage.py import_activity FILE.csv`: streaming import through the intake, idempotent, rejected rows by line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from recovery.models import CustomerActivity
from tests.recovery.outcomes_factories import make_resolved_complaint, open_outcome, states
from tickets.models import Customer

pytestmark = pytest.mark.django_db

HEADER = "customer_email,customer_external_id,source,external_id,kind,occurred_at,amount,currency\n"


def write(tmp_path, body: str, header: str = HEADER):
    path = tmp_path / "activity.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def run(path, *args):
    out, err = StringIO(), StringIO()
    try:
        call_command("import_activity", str(path), *args, stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), str(error)
    return out.getvalue(), err.getvalue(), None


def test_import_stores_rows_and_reports_a_summary(tmp_path):
    path = write(
        tmp_path,
        "ann@example.com,,shop,o-1,purchase,2025-03-01T10:00:00Z,45.90,GBP\n"
        ",C-2,shop,o-2,visit,2025-03-02T10:00:00+01:00,,\n",
    )

    out, err, error = run(path)

    assert error is None
    assert "2 rows read: 2 new, 0 already imported, 0 rejected." in out
    assert "Importing activity 100%" in err
    visit = CustomerActivity.objects.get(external_id="o-2")
    assert visit.occurred_at == datetime(2025, 3, 2, 9, 0, tzinfo=UTC)
    assert Customer.objects.filter(email="ann@example.com").exists()


def test_import_twice_adds_nothing_the_second_time(tmp_path):
    path = write(tmp_path, "".join(f"c{n}@example.com,,shop,o-{n},purchase,2025-03-01T10:00:00Z,10,GBP\n" for n in range(2500)))

    run(path)
    out, _, error = run(path)

    assert error is None
    assert "2,500 rows read: 0 new, 2,500 already imported, 0 rejected." in out
    assert CustomerActivity.objects.count() == 2500


def test_import_reports_rejected_rows_by_line_number_and_keeps_the_rest(tmp_path):
    path = write(
        tmp_path,
        "a@example.com,,shop,o-1,purchase,2025-03-01T10:00:00Z,1,GBP\n"  # line 2
        'b@example.com,,shop,o-2,purchase,"2025-03-01T10:00:00Z",-4,GBP\n'  # line 3: negative amount
        'c@example.com,,shop,"o-3\nwith a line break",visit,2025-03-01T10:00:00Z,,\n'  # lines 4–5
        ",,shop,o-4,refund,yesterday,,\n",  # line 6: three problems
    )

    _, err, error = run(path, "--batch-size", "2")

    assert error is not None and "2 rejected" in error and "the rest is kept" in error
    assert "line 3: amount: Amounts cannot be negative; a refund is not a return." in err
    assert "line 6: kind: Choose one of" in err and "occurred_at:" in err and "customer:" in err
    assert set(CustomerActivity.objects.values_list("external_id", flat=True)) == {"o-1", "o-3\nwith a line break"}


def test_import_refuses_a_file_without_the_needed_columns(tmp_path):
    path = write(tmp_path, "x,y\n", header="email,when\n")

    _, _, error = run(path)

    assert error == (
        "The header row lacks: source, external_id, kind, occurred_at, customer_email or customer_external_id. "
        "It has: email, when."
    )


def test_import_accepts_a_byte_order_mark_and_columns_in_any_order(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "\ufeffkind,occurred_at,external_id,source,customer_external_id,customer_source\n"
        "renewal,2025-01-01T00:00:00Z,r-1,billing,77,crm\n".encode()
    )

    _, _, error = run(path)

    assert error is None
    assert CustomerActivity.objects.get().source == "billing"
    assert Customer.objects.get().references.get().source == "crm"


def test_import_refuses_a_missing_file(tmp_path):
    assert run(tmp_path / "nope.csv")[2] == f"No such file: {tmp_path / 'nope.csv'}"


def test_import_closes_windows_of_watched_customers(tmp_path, django_capture_on_commit_callbacks):
    anchor = datetime(2025, 3, 1, tzinfo=UTC)
    complaint = make_resolved_complaint(resolved_at=anchor)
    outcome = open_outcome(complaint, now=anchor)
    path = write(tmp_path, f"{complaint.customer.email},,shop,o-1,purchase,{(anchor + timedelta(days=45)).isoformat()},20,GBP\n")

    with django_capture_on_commit_callbacks(execute=True):
        run(path)

    assert states(outcome) == {30: "pending", 60: "returned", 90: "returned"}
