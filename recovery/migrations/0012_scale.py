"""Indexes for the inboxes' history views at millions of complaints (PostgreSQL only, like tickets 0003/0008).

Both views sort by a time no index held, so each sorted every decided approval or handled escalation to show
a page: at 2,000,000 complaints that is hundreds of thousands of rows per request. Partial indexes in the views'
own order let PostgreSQL read the newest rows and stop.
"""

from django.db import migrations

INDEXES = [
    # approval_inbox(show="decided"): status <> pending, newest decisions first
    (
        "approval_decided_idx",
        "recovery_approvalrequest (decided_at DESC, id DESC) WHERE NOT (status = 'pending')",
    ),
    # escalation_inbox(show="handled"): handled in the last 30 days, newest first
    (
        "escalation_handled_idx",
        "recovery_escalation (acknowledged_at DESC, id DESC) "
        "WHERE status IN ('acknowledged', 'taken_over', 'deescalated')",
    ),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("recovery", "0011_honest_outcomes")]
    operations = [migrations.RunPython(create, drop)]
