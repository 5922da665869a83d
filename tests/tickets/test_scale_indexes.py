"""The queue's urgency order reads its partial expression index on PostgreSQL (tickets 0009): if with_urgency's
expression changed, the index would silently stop matching and the queue would sort every open complaint again."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from tests.conftest import require_service
from tests.factories import ComplaintFactory
from tickets.selectors import complaint_queue_page

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("params", ["", "overdue=true"])
def test_the_urgency_order_is_read_from_its_index(agent, params):
    if connection.vendor != "postgresql":
        require_service("needs PostgreSQL (the index is PostgreSQL's): set DATABASE_URL=postgres://...")
    ComplaintFactory.create_batch(3)
    with CaptureQueriesContext(connection) as queries:
        complaint_queue_page(params=QueryDict(params), user=agent)
    page_sql = next(q["sql"] for q in queries.captured_queries if "urgent_due" in q["sql"])

    with connection.cursor() as cursor:
        # A handful of rows: tell the planner to avoid sorting, so the plan shows whether an index gives the order.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + page_sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "complaint_open_urgency_idx" in plan, plan


@pytest.mark.parametrize("params", ["status=new&status=in_progress&cause=late&grade=ugly&channel=email&tier=lead", "q=refund"])
def test_the_queue_page_asks_for_no_distinct(agent, params):
    """A DISTINCT would make the database sort every matching row before it could return one page."""
    ComplaintFactory.create_batch(2)
    with CaptureQueriesContext(connection) as queries:
        complaint_queue_page(params=QueryDict(params), user=agent)

    assert not any("DISTINCT" in q["sql"].upper() for q in queries.captured_queries), queries.captured_queries
