"""Outcome windows are settled in place: no index covers the columns a settle writes.

The partial index on ends_at WHERE state = 'pending' and the (days, state) index made every settle
rewrite all indexes of the row; a plain ends_at index and fillfactor 40 (PostgreSQL) let PostgreSQL
update a window within its page without touching any index (a HOT update). A settled window is about a
quarter larger than a pending one (settled_at, returned_at, revenue filled in): at 50 a fifth of them no
longer fit their page; at 40 they all do. On 1,000,000 outcomes
(3,000,000 windows) on the CI machine that took one sweep from 76–120 s down to about 22 s
(docs/outcomes-and-metrics.md, "Benchmark").
The outcome_id index is dropped too: the unique (outcome, days) index already starts with it.
"""

import django.db.models.deletion
from django.db import migrations, models


def fillfactor(value):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return  # SQLite has no fillfactor; nothing to do there
        table = schema_editor.quote_name("recovery_outcomewindow")
        if value is None:
            schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")
        else:
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {int(value)})")

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("recovery", "0005_offers_approved_tier"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="outcomewindow", name="window_pending_due_idx"),
        migrations.RemoveIndex(model_name="outcomewindow", name="window_days_state_idx"),
        migrations.AddIndex(
            model_name="outcomewindow",
            index=models.Index(fields=["ends_at"], name="window_ends_idx"),
        ),
        migrations.AlterField(
            model_name="outcomewindow",
            name="outcome",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="windows",
                to="recovery.recoveryoutcome",
            ),
        ),
        migrations.RunPython(fillfactor(40), fillfactor(None)),
    ]
