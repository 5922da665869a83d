"""The search document of a complaint, computed by the insert and update triggers (0008), in PL/pgSQL instead of
SQL: PostgreSQL plans an SQL function's body again at every call from a trigger, a PL/pgSQL function's statements
once per session. Same document, word for word (compared over 14,200 complaints); about a tenth less of the
database's work per complaint logged (docs/benchmarks.md). PostgreSQL only, as the search itself."""

from django.db import migrations

CONFIG = "english"  # as 0008: one text search configuration for documents and queries

PLPGSQL = f"""
CREATE OR REPLACE FUNCTION tickets_complaint_document(subject text, description text, customer bigint, comments text)
RETURNS tsvector LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    who text;
BEGIN
    SELECT concat_ws(' ', cu.name, cu.email) INTO who FROM tickets_customer cu WHERE cu.id = customer;
    RETURN setweight(to_tsvector('{CONFIG}', coalesce(subject, '')), 'A')
        || setweight(to_tsvector('{CONFIG}', coalesce(who, '')), 'B')
        || setweight(to_tsvector('{CONFIG}', coalesce(description, '')), 'C')
        || setweight(to_tsvector('{CONFIG}', coalesce(comments, '')), 'D');
END
$fn$;
"""

SQL = f"""
CREATE OR REPLACE FUNCTION tickets_complaint_document(subject text, description text, customer bigint, comments text)
RETURNS tsvector LANGUAGE sql STABLE AS $$
    SELECT setweight(to_tsvector('{CONFIG}', coalesce(subject, '')), 'A')
        || setweight(to_tsvector('{CONFIG}', coalesce(
               (SELECT concat_ws(' ', cu.name, cu.email) FROM tickets_customer cu WHERE cu.id = customer), '')), 'B')
        || setweight(to_tsvector('{CONFIG}', coalesce(description, '')), 'C')
        || setweight(to_tsvector('{CONFIG}', coalesce(comments, '')), 'D')
$$;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PLPGSQL)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0010_fewer_intake_indexes")]
    operations = [migrations.RunPython(forward, backward)]
