"""`make bench`: throughput and latency benchmarks of CX Recovery on PostgreSQL through gunicorn.

Sections live in bench/section_*.py and register with @bench.core.section; see bench/core.py
for how to add one and docs/benchmarks.md for what each measures. Importing this package does
not touch Django, so the pure helpers (bench.stats, bench.data) are usable anywhere.
"""
