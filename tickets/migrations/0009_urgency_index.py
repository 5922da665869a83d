"""The queue's default order ("most urgent first": the nearest open deadline) read from an index at millions of
complaints (docs/benchmarks.md, "Two million complaints"). PostgreSQL only: a partial index over the open complaints
on the same expression tickets.selectors.with_urgency orders by, so a page is read in order instead of sorting every
open complaint (the overdue queue at 2,000,000 complaints: 183 ms of SQL -> about 1 ms)."""

from django.db import migrations

OPEN = "status IN ('new', 'in_progress', 'waiting_on_customer')"  # tickets.models.OPEN_STATUSES, as Django writes it
# with_urgency's `urgent_due`, as Django writes it (the planner matches the expression, not its text).
URGENT_DUE = (
    "(CASE WHEN (first_response_at IS NULL AND response_due_at IS NOT NULL AND (resolution_due_at IS NULL OR "
    "response_due_at <= resolution_due_at)) THEN response_due_at ELSE resolution_due_at END)"
)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS complaint_open_urgency_idx ON tickets_complaint ({URGENT_DUE}, id) WHERE {OPEN}"
        )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS complaint_open_urgency_idx")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0008_scale")]
    operations = [migrations.RunPython(forward, backward)]
