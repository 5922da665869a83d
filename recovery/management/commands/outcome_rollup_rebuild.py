"""`manage.py outcome_rollup_rebuild`: recompute the outcome metrics' rollup from scratch (docs/outcomes-and-metrics.md)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from recovery.outcomes.services.rollup import outcome_rollup_rebuild


class Command(BaseCommand):
    help = "Recompute the outcome metrics' rollup from the outcome tables (safe any time; the sweep keeps it after)."

    def handle(self, *args: object, **options: object) -> None:
        started = time.perf_counter()
        rows = outcome_rollup_rebuild()
        self.stdout.write(f"Rebuilt the metrics rollup: {rows} rows in {time.perf_counter() - started:.1f}s")
