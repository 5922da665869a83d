"""Full-text search and the indexes lists need at millions of complaints (PostgreSQL only; nothing on SQLite).

Search: each complaint carries `search_document`, a tsvector over its subject, its customer's name and email, its
description and the bodies of its comments (notes and replies), kept current by triggers in the same transaction
as the write: a complaint's insert or text change, a comment's insert (appended, no re-read), a comment's edit or
delete, a customer's rename. The column is not on the model: only the `q=` filter reads it (tickets/filters.py),
so lists never fetch it and the write path's Python code does not change. A GIN index answers `@@`.

The subject's trigram index (0003) served the old substring search of subjects only; full-text search replaces it,
so it goes, and intake stops paying for it. The customers' trigram indexes stay (substring search of name/email).

The backfill rewrites every complaint once (about a minute per million rows on a small machine).
"""

from django.db import migrations

CONFIG = "english"  # one text search configuration for documents and queries, so both stem alike

FORWARD = f"""
ALTER TABLE tickets_complaint ADD COLUMN IF NOT EXISTS search_document tsvector;

CREATE OR REPLACE FUNCTION tickets_complaint_document(subject text, description text, customer bigint, comments text)
RETURNS tsvector LANGUAGE sql STABLE AS $$
    SELECT setweight(to_tsvector('{CONFIG}', coalesce(subject, '')), 'A')
        || setweight(to_tsvector('{CONFIG}', coalesce(
               (SELECT concat_ws(' ', cu.name, cu.email) FROM tickets_customer cu WHERE cu.id = customer), '')), 'B')
        || setweight(to_tsvector('{CONFIG}', coalesce(description, '')), 'C')
        || setweight(to_tsvector('{CONFIG}', coalesce(comments, '')), 'D')
$$;

CREATE OR REPLACE FUNCTION tickets_complaint_comments_text(complaint bigint) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT string_agg(body, ' ' ORDER BY id) FROM tickets_comment WHERE complaint_id = complaint
$$;

CREATE OR REPLACE FUNCTION tickets_complaint_search_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_document := tickets_complaint_document(
        NEW.subject, NEW.description, NEW.customer_id,
        CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE tickets_complaint_comments_text(NEW.id) END);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION tickets_comment_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- the common case: append the new comment's words instead of re-reading the thread
        UPDATE tickets_complaint
           SET search_document = coalesce(search_document, ''::tsvector)
                                 || setweight(to_tsvector('{CONFIG}', NEW.body), 'D')
         WHERE id = NEW.complaint_id;
        RETURN NULL;
    END IF;
    UPDATE tickets_complaint c
       SET search_document = tickets_complaint_document(
               c.subject, c.description, c.customer_id, tickets_complaint_comments_text(c.id))
     WHERE c.id = OLD.complaint_id OR (TG_OP = 'UPDATE' AND c.id = NEW.complaint_id);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION tickets_customer_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tickets_complaint c
       SET search_document = tickets_complaint_document(
               c.subject, c.description, c.customer_id, tickets_complaint_comments_text(c.id))
     WHERE c.customer_id = NEW.id;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS complaint_search_insert ON tickets_complaint;
CREATE TRIGGER complaint_search_insert BEFORE INSERT ON tickets_complaint
    FOR EACH ROW EXECUTE FUNCTION tickets_complaint_search_row();

-- Django's save() names every column, so compare values: a status change must not rebuild the document.
DROP TRIGGER IF EXISTS complaint_search_update ON tickets_complaint;
CREATE TRIGGER complaint_search_update BEFORE UPDATE OF subject, description, customer_id ON tickets_complaint
    FOR EACH ROW WHEN (OLD.subject IS DISTINCT FROM NEW.subject OR OLD.description IS DISTINCT FROM NEW.description
                       OR OLD.customer_id IS DISTINCT FROM NEW.customer_id)
    EXECUTE FUNCTION tickets_complaint_search_row();

DROP TRIGGER IF EXISTS comment_search_insert ON tickets_comment;
CREATE TRIGGER comment_search_insert AFTER INSERT ON tickets_comment
    FOR EACH ROW EXECUTE FUNCTION tickets_comment_search();

DROP TRIGGER IF EXISTS comment_search_update ON tickets_comment;
CREATE TRIGGER comment_search_update AFTER UPDATE OF body, complaint_id ON tickets_comment
    FOR EACH ROW WHEN (OLD.body IS DISTINCT FROM NEW.body OR OLD.complaint_id IS DISTINCT FROM NEW.complaint_id)
    EXECUTE FUNCTION tickets_comment_search();

DROP TRIGGER IF EXISTS comment_search_delete ON tickets_comment;
CREATE TRIGGER comment_search_delete AFTER DELETE ON tickets_comment
    FOR EACH ROW EXECUTE FUNCTION tickets_comment_search();

DROP TRIGGER IF EXISTS customer_search_update ON tickets_customer;
CREATE TRIGGER customer_search_update AFTER UPDATE OF name, email ON tickets_customer
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.email IS DISTINCT FROM NEW.email)
    EXECUTE FUNCTION tickets_customer_search();

UPDATE tickets_complaint c
   SET search_document = tickets_complaint_document(
           c.subject, c.description, c.customer_id, tickets_complaint_comments_text(c.id));

CREATE INDEX IF NOT EXISTS complaint_search_idx ON tickets_complaint USING gin (search_document);
DROP INDEX IF EXISTS complaint_subject_trgm_idx;
"""

BACKWARD = """
CREATE INDEX IF NOT EXISTS complaint_subject_trgm_idx ON tickets_complaint USING gin ((UPPER(subject::text)) gin_trgm_ops);
DROP TRIGGER IF EXISTS complaint_search_insert ON tickets_complaint;
DROP TRIGGER IF EXISTS complaint_search_update ON tickets_complaint;
DROP TRIGGER IF EXISTS comment_search_insert ON tickets_comment;
DROP TRIGGER IF EXISTS comment_search_update ON tickets_comment;
DROP TRIGGER IF EXISTS comment_search_delete ON tickets_comment;
DROP TRIGGER IF EXISTS customer_search_update ON tickets_customer;
DROP FUNCTION IF EXISTS tickets_complaint_search_row();
DROP FUNCTION IF EXISTS tickets_comment_search();
DROP FUNCTION IF EXISTS tickets_customer_search();
DROP FUNCTION IF EXISTS tickets_complaint_document(text, text, bigint, text);
DROP FUNCTION IF EXISTS tickets_complaint_comments_text(bigint);
DROP INDEX IF EXISTS complaint_search_idx;
ALTER TABLE tickets_complaint DROP COLUMN IF EXISTS search_document;
"""

OPEN = "status IN ('new', 'in_progress', 'waiting_on_customer')"  # tickets.models.OPEN_STATUSES, as Django writes it

# Lists at millions of complaints (docs/benchmarks.md, "Two million complaints"): partial indexes over the open
# complaints in the queue's sort orders, so a page of them is read in order instead of sorting every open one.
SCALE_INDEXES: list[tuple[str, str]] = [
    ("complaint_open_risk_idx", f"tickets_complaint (risk_score DESC NULLS LAST, id DESC) WHERE {OPEN}"),
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FORWARD)
    for name, definition in SCALE_INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in SCALE_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0007_desk")]
    operations = [migrations.RunPython(forward, backward)]
