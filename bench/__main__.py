"""`python -m bench [SECTION …]`: set up a fresh database and server, run the sections, print a summary.

Exit status: 0 when every target is met, 1 when a section failed (errors, wrong answers), 2 when
the run was sound but a target was missed, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

import bench
from bench.core import Context, SectionFailed, SectionSkipped, ordered_sections, warn
from bench.stats import format_results, format_table

# Above this share of CPU taken by other processes during a measurement, the run says it was disturbed.
DISTURBED = 0.10


def discover() -> None:
    """Import every bench/section_*.py so its @section functions register."""
    for module in pkgutil.iter_modules(bench.__path__):
        if module.name.startswith("section_"):
            importlib.import_module(f"bench.{module.name}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="CX Recovery benchmarks on PostgreSQL through gunicorn. Drops and re-creates the bench database.",
    )
    parser.add_argument("sections", nargs="*", help="sections to run (default: all, in order)")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply data sizes and counts (0.1 for a quick try)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"], help="default sync")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE plans of the list queries")
    return parser.parse_args(argv)


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM/SIGHUP unwind like Ctrl-C, so `finally` stops gunicorn.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    if raw[:1] == ["learning"]:
        # A pure simulation of the playbook's learning: no database, no server (bench/learning.py).
        from bench.learning import run

        return run(raw[1:])
    args = parse_args(raw)
    discover()
    sections = ordered_sections()
    if args.list:
        print(format_table(["section", "what it measures"], [[s.name, s.help] for s in sections]))
        return 0
    known = {s.name for s in sections}
    unknown = [name for name in args.sections if name not in known]
    if unknown:
        print(f"Unknown section(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}.", file=sys.stderr)
        return 1
    chosen = [s for s in sections if not args.sections or s.name in args.sections]

    from bench import environment
    from bench.server import Gunicorn

    config = environment.Config.from_env()
    use_redis = environment.redis_reachable(config.redis_url)
    if config.redis_url and not use_redis:
        warn(f"Redis at {config.redis_url} is not reachable: tasks run eagerly and the cache is in-process.")
    env = environment.server_env(config, use_redis=use_redis)
    workdir = Path(tempfile.mkdtemp(prefix="cxr-bench-"))

    def make_server() -> Gunicorn:
        return Gunicorn(
            env=env,
            log_path=workdir / "gunicorn.log",
            workers=args.workers,
            worker_class=args.worker_class,
            threads=args.threads if args.worker_class == "gthread" else 1,
        )

    ctx = Context(config=config, server_factory=make_server, scale=args.scale, explain=args.explain)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    failed: list[str] = []
    interrupted = False
    lock = environment.RunLock(config)
    try:
        lock.acquire(
            timeout=float(os.environ.get("BENCH_LOCK_TIMEOUT", "1800")),
            on_wait=lambda: ctx.log(f"another benchmark run is using {config.database_name}: waiting for it to finish"),
        )
    except KeyboardInterrupt:
        return 130
    ctx.reset_clock()
    try:
        ctx.log(f"database {config.database_name} (dropped and re-created), migrating")
        environment.recreate_database(config)
        environment.django_setup(env)
        environment.prepare_database()
        ctx.log(
            f"Celery broker and cache: {config.redis_url if use_redis else 'none (eager tasks, local memory cache)'}; "
            f"{os.cpu_count()} CPUs; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        for s in chosen:
            ctx.current = s.name
            started = time.monotonic()
            ctx.log(f"— {s.help}")
            try:
                s.fn(ctx)
            except SectionSkipped as exc:
                ctx.record(f"skipped: {exc}", None)
                ctx.log(f"SKIPPED: {exc}")
            except SectionFailed as exc:
                failed.append(s.name)
                ctx.log(f"FAILED: {exc}")
            except Exception:
                failed.append(s.name)
                ctx.log("FAILED with an error:")
                traceback.print_exc()
                print(ctx.server_log(), file=sys.stderr)
            ctx.log(f"done in {time.monotonic() - started:.1f}s")
            ctx.current = ""
    except KeyboardInterrupt:
        interrupted = True
        print("\nInterrupted.", file=sys.stderr)
    finally:
        ctx.current = ""
        ctx.close()
        environment.redis_cleanup(config)
        lock.release()

    if failed or interrupted:
        print(f"gunicorn's log is kept in {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(format_results(ctx.rows) if ctx.rows else "No results.")
    missed = [r for r in ctx.rows if r.passed is False]
    print()
    if ctx.disturbed > DISTURBED:
        print(
            f"WARNING: other processes took up to {ctx.disturbed:.0%} of the CPU during a measurement; "
            "the figures are lower than this machine gives when quiet. Run again when it is idle."
        )
    if interrupted:
        print("INTERRUPTED: the figures above are incomplete.")
        return 130
    if failed:
        print(f"FAILED: section(s) {', '.join(failed)} did not complete correctly; their figures are not valid.")
        return 1
    if missed:
        print(f"MISSED {len(missed)} target(s): " + "; ".join(f"{r.section} {r.metric}" for r in missed))
        return 2
    print("All targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
