"""`python manage.py import_helpdesk KIND FILE [--source NAME]`: bring a helpdesk's ticket history in.

KIND is zendesk, freshdesk, zammad, helpscout or csv (the generic CSV); each format is described in
docs/import.md and in its reader under tickets/helpdesks/importers/. The complaints' source is NAME, by default
the kind: use the name of the helpdesk connection, so that the helpdesk's later webhooks update the imported
complaints instead of creating new ones, and the tags and priorities are read with that connection's mapping
(tags → cause, priority → severity, as set on /integrations/); any other source uses the default mapping.

Streaming and idempotent (a second run of the same file adds nothing); bad rows are reported with their line and
skipped; a progress bar goes to stderr and a summary to stdout. The exit status is 1 when any row was rejected.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tickets.helpdesks.importers import DEFAULT_BATCH, KINDS, ImportSummary, RowError, run_import
from tickets.helpdesks.importers.services import MAX_BATCH
from tickets.helpdesks.mapping import DEFAULT_MAPPING, HelpdeskMapping
from tickets.helpdesks.models import HelpdeskConnection

SHOWN_ERRORS = 200


class Progress:
    """A one-line bar on a terminal, a line every few seconds otherwise (logs, CI). Counts bytes read."""

    def __init__(self, stream: IO[str], raw: Any, total: int | None) -> None:
        self.stream, self.raw, self.total = stream, raw, total
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.started = self.last = time.monotonic()

    def update(self, summary: ImportSummary, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        rate = summary.created / elapsed
        counts = f"{summary.read:,} read, {summary.created:,} new, {rate:,.0f} complaints/s"
        if self.total:
            share = 1.0 if final else min(_position(self.raw) / self.total, 1.0)
            filled = int(share * 30)
            left = "" if final or share <= 0 else f", about {elapsed / share - elapsed:,.0f}s left"
            line = f"Importing {share:4.0%} |{'█' * filled}{' ' * (30 - filled)}| {counts}{left}"
        else:
            line = f"Importing: {counts}"
        self.stream.write(("\r" + line + ("\n" if final else "")) if self.tty else line + "\n")
        self.stream.flush()


class Command(BaseCommand):
    help = "Import a helpdesk's ticket history (zendesk, freshdesk, zammad, helpscout, csv). Safe to re-run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS, help="the export's format")
        parser.add_argument("file", help="the export file; '-' reads standard input")
        parser.add_argument(
            "--source", help="the complaints' source: the helpdesk connection's name (default: the kind)"
        )
        parser.add_argument(
            "--batch-size", type=int, default=DEFAULT_BATCH, help=f"tickets per transaction (1–{MAX_BATCH})"
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, kind: str, file: str, source: str | None, batch_size: int, quiet: bool, **options: Any) -> None:
        source = (source or kind).strip()
        if not source or len(source) > 50:
            raise CommandError("--source must be 1 to 50 characters.")
        if file == "-":
            raw, total = sys.stdin.buffer, None
        else:
            path = Path(file)
            if not path.is_file():
                raise CommandError(f"No such file: {file}")
            raw, total = path.open("rb"), os.path.getsize(path)
        connection = HelpdeskConnection.objects.filter(name=source).first()
        mapping = HelpdeskMapping.of(connection) if connection else DEFAULT_MAPPING
        progress = None if quiet else Progress(self.stderr._out, raw, total)  # the real stream, for isatty()
        started = time.monotonic()
        try:
            summary = run_import(
                kind,
                raw,
                source=source,
                batch_size=batch_size,
                on_batch=progress.update if progress else None,
                mapping=mapping,
            )
        except RowError as exc:
            raise CommandError(str(exc)) from None
        finally:
            if raw is not sys.stdin.buffer:
                raw.close()
        if progress:
            progress.update(summary, final=True)
        elapsed = max(time.monotonic() - started, 1e-6)

        for line, message in summary.rejected[:SHOWN_ERRORS]:
            self.stderr.write(f"line {line}: {message}")
        if summary.rejected_count > SHOWN_ERRORS:
            self.stderr.write(f"… and {summary.rejected_count - SHOWN_ERRORS:,} more rejected rows.")
        mapped_by = f"connection '{source}'" if connection else "the default mapping"
        text = (
            f"{summary.read:,} records read from {kind} into source '{source}' (causes and severities by {mapped_by}): {summary.created:,} new complaints "
            f"({summary.closed:,} closed, graded only; {summary.open:,} open, assessed normally), "
            f"{summary.duplicates:,} already imported, {summary.skipped:,} skipped, {summary.rejected_count:,} rejected. "
            f"{summary.created / elapsed:,.0f} complaints/s."
        )
        if summary.rejected_count:
            raise CommandError(text + " Fix the rejected lines and run the import again; the rest is kept.")
        self.stdout.write(self.style.SUCCESS(text))


def _position(raw: Any) -> int:
    try:
        return raw.tell()
    except (OSError, ValueError):
        return 0
