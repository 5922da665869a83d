"""Statements PostgreSQL parses and plans once per connection: for the few that every complaint logged runs.

Django sends every statement with its parameters bound into the text (psycopg's client-side binding), so
PostgreSQL parses and plans each one afresh: for intake's INSERT of a complaint with its timeline event that is
about a quarter of the database's work per complaint. `prepared_cursor()` gives a Django cursor (query logging,
execute wrappers and error translation as usual) over a psycopg cursor that binds on the server and prepares
every statement it runs; psycopg keeps the prepared statements per connection and re-prepares after a reconnect.
Use it only for fixed SQL texts run over and over (each distinct text is one prepared statement, psycopg keeps
the last 100). Behind a pooler in transaction mode (PgBouncer), prepared statements need PgBouncer 1.21 or newer
with max_prepared_statements set (docs/operations.md). Elsewhere than PostgreSQL, a plain cursor.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorDebugWrapper


class _PreparingCursor(psycopg.Cursor):
    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None) -> Any:
        return super().execute(query, params, prepare=True, binary=binary)


class _DebugWrapper(CursorDebugWrapper):
    # The query log (DEBUG, tests counting statements) shows a statement with its values, which Django reads from
    # the last query of a client-side cursor: this one binds on the server, so the values are put in here.
    def debug_sql(self, sql: Any = None, params: Any = None, use_last_executed_query: bool = False, many: bool = False) -> Any:
        if use_last_executed_query and not many:
            try:
                sql = self.db.ops.compose_sql(sql, params)
            except Exception:  # noqa: BLE001 - only the log's text: show the statement without its values
                pass
            use_last_executed_query = False
        return super().debug_sql(sql, params, use_last_executed_query, many)


@contextmanager
def prepared_cursor(conn: BaseDatabaseWrapper) -> Iterator[Any]:
    if conn.vendor != "postgresql":
        with conn.cursor() as cursor:
            yield cursor
        return
    conn.close_if_health_check_failed()
    conn.ensure_connection()
    conn.validate_thread_sharing()
    with conn.wrap_database_errors:
        raw = _PreparingCursor(conn.connection)
    wrapped = _DebugWrapper(raw, conn) if conn.queries_logged else conn.make_cursor(raw)
    with wrapped as cursor:
        yield cursor
