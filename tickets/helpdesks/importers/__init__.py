"""History import from helpdesk exports: `python manage.py import_helpdesk KIND FILE` (docs/import.md).

One reader per export format turns the file into rows, streaming; `run_import` gives each row the cause and
severity the connection's mapping reads in its tags and priority (the same mapping as the connection's webhooks:
tickets/helpdesks/mapping.py), then batches them into `services.history_import`, which writes each batch
set-based. Memory stays flat: one batch at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from tickets.helpdesks.importers import freshdesk, generic_csv, helpscout, zammad, zendesk
from tickets.helpdesks.importers.base import BadRow, Item, RowError, Skipped, TicketRow
from tickets.helpdesks.importers.services import IMPORT_ACTOR, MAX_BATCH, history_import
from tickets.helpdesks.mapping import DEFAULT_MAPPING, HelpdeskMapping

READERS: dict[str, Callable[[IO[bytes]], Iterator[Item]]] = {
    "zendesk": zendesk.read,
    "freshdesk": freshdesk.read,
    "zammad": zammad.read,
    "helpscout": helpscout.read,
    "csv": generic_csv.read,
}
KINDS = tuple(READERS)
DEFAULT_BATCH = 2000
KEPT_REJECTIONS = 1000


@dataclass
class ImportSummary:
    read: int = 0
    created: int = 0
    duplicates: int = 0
    closed: int = 0  # created complaints that were already resolved or closed: graded only
    skipped: int = 0  # records that are not complaints (deleted tickets, spam)
    rejected_count: int = 0
    # (line, message) of the first KEPT_REJECTIONS bad rows: a file of bad rows must not fill the memory.
    rejected: list[tuple[int, str]] = field(default_factory=list)

    @property
    def open(self) -> int:
        return self.created - self.closed


def run_import(
    kind: str,
    binary: IO[bytes],
    *,
    source: str,
    batch_size: int = DEFAULT_BATCH,
    on_batch: Callable[[ImportSummary], None] | None = None,
    mapping: HelpdeskMapping = DEFAULT_MAPPING,
) -> ImportSummary:
    """Read the export and import it batch by batch. Bad rows are collected with their line and skipped.

    Raises RowError when the file as a whole cannot be read (an unknown kind, a CSV header without the
    required columns). `on_batch` is called after each batch (for a progress bar). `mapping` is the
    connection's (HelpdeskMapping.of(connection)) when the source is a connection, else the defaults.
    """
    if kind not in READERS:
        raise RowError(f"Unknown kind '{kind}'. Choose one of: {', '.join(KINDS)}.")
    if not 1 <= batch_size <= MAX_BATCH:
        raise RowError(f"The batch size must be between 1 and {MAX_BATCH}.")
    summary = ImportSummary()
    batch: list[TicketRow] = []

    def flush() -> None:
        result = history_import(rows=batch, source=source, actor=IMPORT_ACTOR)
        summary.created += result.created
        summary.duplicates += result.duplicates
        summary.closed += result.closed
        batch.clear()
        if on_batch:
            on_batch(summary)

    for item in READERS[kind](binary):
        summary.read += 1
        if isinstance(item, BadRow):
            summary.rejected_count += 1
            if len(summary.rejected) < KEPT_REJECTIONS:
                summary.rejected.append((item.line, item.message))
        elif isinstance(item, Skipped):
            summary.skipped += 1
        else:
            if item.cause is None:
                item.cause = mapping.cause(item.tags) or mapping.default_cause
            if item.severity is None:
                item.severity = mapping.severity(item.priority) or mapping.default_severity
            batch.append(item)
            if len(batch) >= batch_size:
                flush()
    if batch:
        flush()
    elif on_batch:
        on_batch(summary)
    return summary


__all__ = ["KINDS", "ImportSummary", "RowError", "run_import"]
