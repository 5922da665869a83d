"""Free-text search on PostgreSQL: trigram indexes for the `q=` filter of the queue and the API lists.

`icontains` becomes `UPPER(col::text) LIKE UPPER('%term%')`, which no B-tree index can answer; a GIN index with
pg_trgm's operator class over the same expression can, for terms of three characters or more. The indexes
are declared here rather than in the models' Meta because they only exist on PostgreSQL (SQLite has neither
GIN nor pg_trgm; there the search scans, which is fine at demo sizes). pg_trgm is a trusted extension since
PostgreSQL 13, so the database owner may create it.
"""

from django.db import migrations

INDEXES = [
    ("complaint_subject_trgm_idx", "tickets_complaint", "subject"),
    ("customer_name_trgm_idx", "tickets_customer", "name"),
    ("customer_email_trgm_idx", "tickets_customer", "email"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0002_roles")]
    operations = [migrations.RunPython(create, drop)]
