"""`python manage.py import_activity FILE.csv`: load customer activity history, streaming, in batches of 1,000.

Columns (a header row is required; order does not matter; extra columns are ignored):

    customer_email         the customer's email          } at least one of the two
    customer_external_id   the customer's id in `source` }
    customer_source        optional: where customer_external_id comes from (default: source)
    source                 the reporting system, e.g. shopify               required
    external_id            the activity's id in that system                 required
    kind                   purchase, visit, booking, renewal, gesture_redemption
    occurred_at            ISO 8601, e.g. 2025-03-01T14:30:00Z (no offset: the site's TIME_ZONE)
    amount                 optional, e.g. 45.90 (default 0)
    currency               optional, ISO 4217 (default DEFAULT_CURRENCY)

Every row goes through the same intake as POST /api/v1/activity/, so a second import of the same file
adds nothing. Rows that cannot be accepted are reported by line number; the others are kept. The exit
status is 1 when any row was rejected. Progress goes to stderr.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recovery.outcomes import services

REQUIRED = ("source", "external_id", "kind", "occurred_at")
CUSTOMER = ("customer_email", "customer_external_id")
KNOWN = (*REQUIRED, *CUSTOMER, "customer_source", "amount", "currency")


class Progress:
    """A one-line progress bar on a terminal; a line every few seconds otherwise (logs, CI)."""

    def __init__(self, stream: IO[str], total_bytes: int | None) -> None:
        self.stream = stream
        self.total = total_bytes
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.started = self.last = time.monotonic()

    def update(self, done_bytes: int, rows: int, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < (0.1 if self.tty else 5.0):
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        rate = rows / elapsed
        if self.total:
            share = min(done_bytes / self.total, 1.0)
            filled = int(share * 30)
            eta = (elapsed / share - elapsed) if share > 0 else 0
            line = (
                f"Importing activity {share:4.0%} |{'█' * filled}{' ' * (30 - filled)}| "
                f"{rows:,} rows, {rate:,.0f} rows/s" + ("" if final else f", about {eta:,.0f}s left")
            )
        else:
            line = f"Importing activity: {rows:,} rows, {rate:,.0f} rows/s"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


class Command(BaseCommand):
    help = "Import customer activity from a CSV file (see the module docstring for the columns). Safe to re-run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV file with a header row; '-' reads standard input")
        parser.add_argument(
            "--batch-size", type=int, default=services.MAX_BATCH, help=f"rows per transaction (1–{services.MAX_BATCH})"
        )
        parser.add_argument("--delimiter", default=",", help="field separator (default ',')")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, file: str, batch_size: int, delimiter: str, quiet: bool, **options: Any) -> None:
        if not 1 <= batch_size <= services.MAX_BATCH:
            raise CommandError(f"--batch-size must be between 1 and {services.MAX_BATCH}.")
        if file == "-":
            raw, total = sys.stdin.buffer, None
        else:
            path = Path(file)
            if not path.is_file():
                raise CommandError(f"No such file: {file}")
            raw, total = path.open("rb"), os.path.getsize(path)
        # utf-8-sig: spreadsheets often start a CSV with a byte-order mark.
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            self._import(text, raw, total, batch_size, delimiter, quiet)
        finally:
            text.close()

    def _import(self, text: io.TextIOWrapper, raw: Any, total: int | None, batch_size: int, delimiter: str, quiet: bool) -> None:
        reader = csv.DictReader(text, delimiter=delimiter)
        reader.fieldnames = _checked_header(reader.fieldnames)
        progress = None if quiet else Progress(self.stderr._out, total)  # the real stream, for isatty()

        accepted = duplicates = rows = 0
        rejected: list[tuple[int, dict[str, list[str]]]] = []
        batch: list[dict[str, Any]] = []
        lines: list[int] = []

        def flush() -> None:
            nonlocal accepted, duplicates
            result = services.activity_intake(items=batch)
            accepted += result.accepted
            duplicates += result.duplicates
            rejected.extend((lines[r.index], r.errors) for r in result.rejected)
            batch.clear()
            lines.clear()

        line = reader.line_num
        for row in reader:
            rows += 1
            # The line the record starts on: the reader's count after the previous record, plus one.
            lines.append(line + 1)
            line = reader.line_num
            batch.append({key: row.get(key) for key in KNOWN if key in row})
            if len(batch) >= batch_size:
                flush()
                if progress:
                    progress.update(_position(raw), rows)
        if batch:
            flush()
        if progress:
            progress.update(total or 0, rows, final=True)

        for number, errors in rejected[:200]:
            detail = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
            self.stderr.write(f"line {number}: {detail}")
        if len(rejected) > 200:
            self.stderr.write(f"… and {len(rejected) - 200:,} more rejected rows.")
        summary = (
            f"{rows:,} rows read: {accepted:,} new, {duplicates:,} already imported, {len(rejected):,} rejected."
        )
        if rejected:
            raise CommandError(summary + " Fix the rejected lines and run the import again; the rest is kept.")
        self.stdout.write(self.style.SUCCESS(summary))


def _checked_header(fieldnames: Sequence[str] | None) -> list[str]:
    """The header's names, trimmed; CommandError naming what is missing (the required columns, a customer column)."""
    header = [name.strip() for name in (fieldnames or [])]
    missing = [name for name in REQUIRED if name not in header]
    if missing or not any(name in header for name in CUSTOMER):
        needed = missing + ([] if any(n in header for n in CUSTOMER) else ["customer_email or customer_external_id"])
        raise CommandError(f"The header row lacks: {', '.join(needed)}. It has: {', '.join(header) or 'nothing'}.")
    return header


def _position(raw: Any) -> int:
    try:
        return raw.tell()
    except (OSError, ValueError):
        return 0
