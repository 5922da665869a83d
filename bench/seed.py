"""Fill the bench database fast, set-based: one INSERT … SELECT FROM generate_series per table.

Columns are taken from the models, so a column someone adds later is filled with its model default
without touching this file; only a NOT NULL column without a default needs an expression here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, models
from django.utils import timezone

from bench import data

STATUS_SQL = """
CASE
    WHEN age < interval '3 days' THEN
        CASE WHEN r_status < 0.5 THEN 'new' WHEN r_status < 0.8 THEN 'in_progress' ELSE 'waiting_on_customer' END
    WHEN age < interval '14 days' THEN
        CASE WHEN r_status < 0.1 THEN 'new' WHEN r_status < 0.45 THEN 'in_progress'
             WHEN r_status < 0.6 THEN 'waiting_on_customer' ELSE 'resolved' END
    ELSE CASE WHEN r_status < 0.02 THEN 'in_progress' WHEN r_status < 0.15 THEN 'resolved' ELSE 'closed' END
END
"""


def _count(model: type[models.Model]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(model._meta.db_table)}")
        return cursor.fetchone()[0]


def insert_select(model: type[models.Model], exprs: dict[str, str], source_sql: str, params: dict[str, Any]) -> int:
    """INSERT INTO <model's table> (every concrete column) SELECT <exprs or model defaults> <source_sql>."""
    columns, values = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key and isinstance(f, models.AutoField):
            continue
        columns.append(connection.ops.quote_name(f.column))
        if f.column in exprs:
            values.append(exprs[f.column])
            continue
        default = f.get_default()
        if default is None and not f.null:
            raise RuntimeError(
                f"bench.seed cannot fill {model.__name__}.{f.name}: it is NOT NULL without a default. "
                "Give it an expression in bench/seed.py."
            )
        key = f"default_{f.column}"
        params[key] = f.get_db_prep_save(default, connection)
        values.append(f"%({key})s")
    table = connection.ops.quote_name(model._meta.db_table)
    statement = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} {source_sql}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")  # the same data on every run
        cursor.execute(statement, params)
        return cursor.rowcount


_insert_select = insert_select  # the name section_outcomes.py first used


def customers(total: int) -> int:
    """Top the customers up to `total`; returns how many were inserted."""
    from tickets.models import Customer

    missing = total - _count(Customer)
    if missing <= 0:
        return 0
    exprs = {
        "name": "first || ' ' || last",
        # '.c<n>' keeps seeded addresses apart from the ones the intake section sends.
        "email": "lower(first || '.' || last || '.c' || g || '@' || domain)",
        "phone": "CASE WHEN r1 < 0.4 THEN '+44 7' || lpad(floor(random() * 1e9)::bigint::text, 9, '0') ELSE '' END",
        "lifetime_value": "round((exp(r2 * 7) * 5)::numeric, 2)",
        "social_reach": "floor(power(r3, 8) * 200000)::int",
        "segment": "''",
        "created_at": "now() - r4 * interval '1000 days'",
        "updated_at": "now() - r4 * interval '1000 days'",
    }
    source = """
    FROM (
        SELECT g,
               (%(first)s::text[])[1 + floor(random() * %(n_first)s)::int] AS first,
               (%(last)s::text[])[1 + floor(random() * %(n_last)s)::int] AS last,
               (%(domains)s::text[])[1 + floor(random() * %(n_domains)s)::int] AS domain,
               random() AS r1, random() AS r2, random() AS r3, random() AS r4
        FROM generate_series((SELECT coalesce(max(id), 0) + 1 FROM tickets_customer),
                             (SELECT coalesce(max(id), 0) FROM tickets_customer) + %(n)s) AS g
    ) s
    """
    params = {
        "first": data.FIRST_NAMES,
        "n_first": len(data.FIRST_NAMES),
        "last": data.LAST_NAMES,
        "n_last": len(data.LAST_NAMES),
        "domains": data.EMAIL_DOMAINS,
        "n_domains": len(data.EMAIL_DOMAINS),
        "n": missing,
    }
    return insert_select(Customer, exprs, source, params)


def agents(count: int = 12) -> list[int]:
    """Ids of `count` active agents (created when missing), to assign complaints to."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    User = get_user_model()
    group = Group.objects.get(name="agent")
    ids = []
    for i in range(count):
        first, last = data.FIRST_NAMES[i % len(data.FIRST_NAMES)], data.LAST_NAMES[(i * 7) % len(data.LAST_NAMES)]
        user, created = User.objects.get_or_create(
            username=f"bench_agent_{i}", defaults={"first_name": first, "last_name": last}
        )
        if created:
            user.set_unusable_password()  # hashing a real password costs ~0.3 s per user
            user.save(update_fields=["password"])
            user.groups.add(group)
        ids.append(user.pk)
    return ids


def complaints(
    total: int,
    *,
    customers_total: int = 50_000,
    span_days: int = 730,
    timeline: bool = True,
    assignees: int = 12,
) -> int:
    """Top the complaints up to `total`, spread over the `span_days` before the oldest existing one.

    Realistic shape: statuses follow age (recent ones open, old ones closed), causes and
    severities are weighted, a few customers complain often, most complaints carry a grade.
    The seeded ones are older than any complaint already there, and ids rise with created_at.
    With `timeline`, each gets its 'logged' timeline event. Returns how many were inserted.
    """
    from tickets.models import Complaint, TimelineEvent

    customers(customers_total)
    missing = total - _count(Complaint)
    if missing <= 0:
        return 0
    agent_ids = agents(assignees) if assignees else []
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(created_at), coalesce(max(id), 0) FROM tickets_complaint")
        oldest, max_id = cursor.fetchone()
    end = min(oldest or timezone.now(), timezone.now()) - dt.timedelta(minutes=1)
    step = dt.timedelta(days=span_days) / missing
    weighted_causes = [c for c, w in zip(data.CAUSES, data.CAUSE_WEIGHTS, strict=True) for _ in range(w)]

    exprs = {
        "customer_id": "cust[1 + floor(power(r_cust, 1.6) * array_length(cust, 1))::int]",
        "channel": "(%(channels)s::text[])[1 + floor(r_channel * %(n_channels)s)::int]",
        "source": "CASE WHEN r_source < 0.7 THEN (%(sources)s::text[])[1 + floor(r_source / 0.7 * 3)::int] ELSE '' END",
        "external_id": "CASE WHEN r_source < 0.7 THEN 'S-' || lpad((%(max_id)s + g)::text, 8, '0') END",
        "cause": "cause",
        "severity": "CASE WHEN r_sev < 0.1 THEN 1 WHEN r_sev < 0.4 THEN 2 WHEN r_sev < 0.75 THEN 3 "
        "WHEN r_sev < 0.93 THEN 4 ELSE 5 END",
        "monetary_loss": "CASE WHEN r_loss < 0.4 THEN round((r_loss * 1200)::numeric, 2) ELSE 0 END",
        "subject": "subject",
        "description": "subject || '. ' || (%(sentences)s::text[])[1 + floor(r_s1 * %(n_sentences)s)::int] || ' ' "
        "|| (%(sentences)s::text[])[1 + floor(r_s2 * %(n_sentences)s)::int]",
        "threatens_public": "r_loss > 0.93",
        "says_wont_return": "r_channel > 0.88",
        "occurred_at": "created - interval '1 day' * r_s1",
        "status": "status",
        "assignee_id": "CASE WHEN status <> 'new' AND cardinality(%(agents)s::bigint[]) > 0 "
        "THEN (%(agents)s::bigint[])[1 + floor(r_s2 * cardinality(%(agents)s::bigint[]))::int] END",
        "tier": "CASE WHEN grade = 'ugly' AND r_sev > 0.5 THEN 'manager' WHEN grade = 'ugly' THEN 'lead' "
        "ELSE 'frontline' END",
        "response_due_at": "created + interval '4 hours'",
        "resolution_due_at": "created + interval '5 days'",
        "first_response_at": "CASE WHEN status <> 'new' THEN created + interval '1 hour' * (1 + r_s1 * 20) END",
        "resolved_at": "CASE WHEN status IN ('resolved', 'closed') THEN created + interval '1 day' * (1 + r_s2 * 6) END",
        "closed_at": "CASE WHEN status = 'closed' THEN created + interval '1 day' * (8 + r_s2 * 6) END",
        "grade": "grade",
        "risk_score": "CASE WHEN grade <> '' THEN floor(r_grade * 100)::int END",
        "assessed_at": "CASE WHEN grade <> '' THEN created + interval '1 minute' END",
        "created_at": "created",
        "updated_at": "created + interval '1 hour' * (1 + r_s2 * 300)",
    }
    source = f"""
    FROM (
        SELECT *, {STATUS_SQL} AS status,
               (%(subjects)s::text[])[array_position(%(causes)s::text[], cause)][1 + floor(r_subject * 6)::int] AS subject,
               CASE WHEN r_grade < 0.05 THEN '' WHEN r_grade < 0.35 THEN 'good' WHEN r_grade < 0.75 THEN 'neutral'
                    WHEN r_grade < 0.95 THEN 'bad' ELSE 'ugly' END AS grade
        FROM (
            SELECT g, %(end)s::timestamptz - %(step)s::interval * (%(n)s - g) AS created,
                   %(step)s::interval * (%(n)s - g) AS age,
                   (%(weighted)s::text[])[1 + floor(random() * %(n_weighted)s)::int] AS cause,
                   random() AS r_cust, random() AS r_channel, random() AS r_source, random() AS r_sev,
                   random() AS r_loss, random() AS r_s1, random() AS r_s2, random() AS r_status,
                   random() AS r_subject, random() AS r_grade
            FROM generate_series(1, %(n)s) AS g
        ) raw
    ) s,
    (SELECT array_agg(id ORDER BY id) AS cust FROM tickets_customer) c
    ORDER BY g
    """
    params: dict[str, Any] = {
        "channels": data.CHANNELS,
        "n_channels": len(data.CHANNELS),
        "sources": [s for s in data.SOURCES if s],
        "max_id": max_id,
        "sentences": data.SENTENCES,
        "n_sentences": len(data.SENTENCES),
        "agents": agent_ids,
        "subjects": [data.SUBJECTS[c] for c in data.CAUSES],
        "causes": data.CAUSES,
        "weighted": weighted_causes,
        "n_weighted": len(weighted_causes),
        "end": end,
        "step": step,
        "n": missing,
    }
    inserted = insert_select(Complaint, exprs, source, params)
    if timeline:
        _logged_events(TimelineEvent, after_id=max_id)
    return inserted


def _logged_events(event_model: type[models.Model], *, after_id: int) -> int:
    """One 'logged' timeline event for every complaint with an id above after_id."""
    exprs = {
        "complaint_id": "c.id",
        "kind": "'logged'",
        "actor_type": "'integration'",
        "actor_user_id": "NULL",
        "actor_key_id": "NULL",
        "actor_label": "'Integration “bench seed”'",
        "message": "'Complaint logged via ' || c.channel",
        "data": "jsonb_build_object('source', c.source, 'external_id', c.external_id, 'customer_id', c.customer_id)",
        "created_at": "c.created_at",
    }
    source = "FROM tickets_complaint c WHERE c.id > %(after_id)s ORDER BY c.id"
    return insert_select(event_model, exprs, source, {"after_id": after_id})


def analyze() -> None:
    """VACUUM ANALYZE the seeded tables: fresh statistics and visibility maps, as autovacuum would leave them."""
    with connection.cursor() as cursor:
        for table in ("tickets_customer", "tickets_customerreference", "tickets_complaint", "tickets_timelineevent"):
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(table)}")
