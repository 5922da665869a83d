"""`python -m bench learning`: does the playbook learn which gesture brings customers back?

A simulation, in-process and without a database: the real `recovery.offers.ranking.rank_gestures` and
`recovery.outcomes.learning.cell_signal` rank six starter gestures for one kind of complaint; simulated
customers come back with a true rate per gesture (the best 60 %, the others 30–45 %), and each
outcome is known only 60 days after the offer. Ten complaints a day. Three scenarios put the best
gesture 1st, 4th and 6th in the static (fit-only) order.

Reported at 100, 500, 1,000 and 3,000 known outcomes, over several hundred seeded runs:
- best first: share of runs in which the playbook's top score is the best gesture;
- regret: expected returns lost so far against always offering the best gesture, next to the same
  figure for plain Beta(1,1) Thompson sampling under the same delay (the yardstick).
Target: best first in ≥ 80 % of runs by 1,000 outcomes in every scenario, and regret at most 1.2 ×
Thompson's.

The ranking's state changes once a day (when that day's outcomes come due), so it is ranked once a
day and that day's complaints draw first place from the propensities it returns — exactly the draw
`rank_gestures(..., rng=...)` makes for each of them.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from typing import Any

CAUSE = "product_quality"
PER_DAY = 10
DELAY_DAYS = 60
CHECKPOINTS = (100, 500, 1000, 3000)
BEST_RATE = 0.60
OTHER_RATES = (0.45, 0.40, 0.35, 0.30, 0.42)
SCENARIOS = (1, 4, 6)
TARGET_SHARE = 0.80
TARGET_REGRET_RATIO = 1.2


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxrecovery.settings")
    import django

    django.setup()


def _world(best_position: int) -> tuple[list[Any], Any, dict[str, float]]:
    from recovery.offers.playbook import ComplaintContext, GestureSpec
    from recovery.offers.ranking import rank_gestures
    from recovery.offers.starter_playbook import STARTER_GESTURES

    context = ComplaintContext(
        cause=CAUSE, grade="bad", monetary_loss=Decimal("80.00"), lifetime_value=Decimal("600.00")
    )
    specs = [GestureSpec.from_mapping(g, id=i) for i, g in enumerate(STARTER_GESTURES, 1)]
    static = rank_gestures(specs, context, limit=6).suggestions
    codes = [s.gesture_code for s in static]
    chosen = [spec for spec in specs if spec.code in codes]
    others = iter(OTHER_RATES)
    rates = {code: BEST_RATE if index == best_position - 1 else next(others) for index, code in enumerate(codes)}
    return chosen, context, rates


def _signals(counts: dict[str, list[int]]) -> dict[str, Any]:
    from recovery.outcomes.learning import cell_signal

    cause_s = sum(s for s, _ in counts.values())
    cause_n = sum(n for _, n in counts.values())
    # One cause in this world: a gesture's pooled record is its cell, so its prior is the cause's rest.
    return {
        code: cell_signal(s, n, s, n, cause_successes=cause_s, cause_trials=cause_n)
        for code, (s, n) in counts.items()
    }


def _run_playbook(best_position: int, seed: int) -> dict[str, Any]:
    from recovery.offers.ranking import rank_gestures

    specs, context, rates = _world(best_position)
    best = max(rates, key=rates.__getitem__)
    rng = random.Random(seed)
    counts = {code: [0, 0] for code in rates}
    due: dict[int, list[tuple[str, bool]]] = {}
    known = regret = 0.0
    checkpoints = list(CHECKPOINTS)
    result: dict[str, Any] = {"best_first": {}, "regret": {}}
    day = 0
    while checkpoints:
        for code, returned in due.pop(day, []):
            counts[code][1] += 1
            counts[code][0] += returned
            known += 1
            if checkpoints and known >= checkpoints[0]:
                top = rank_gestures(specs, context, _signals(counts), limit=1).suggestions[0].gesture_code
                result["best_first"][checkpoints[0]] = top == best
                result["regret"][checkpoints[0]] = regret
                checkpoints.pop(0)
        ranking = rank_gestures(specs, context, _signals(counts), limit=None)
        chances = [(s.gesture_code, s.propensity) for s in ranking.suggestions if s.in_band]
        for _ in range(PER_DAY):
            point, cumulative, code = rng.random(), 0.0, chances[-1][0]
            for candidate, chance in chances:
                cumulative += chance
                if point < cumulative:
                    code = candidate
                    break
            regret += rates[best] - rates[code]
            due.setdefault(day + DELAY_DAYS, []).append((code, rng.random() < rates[code]))
        day += 1
    return result


def _run_thompson(best_position: int, seed: int) -> dict[str, float]:
    _, _, rates = _world(best_position)
    best_rate = max(rates.values())
    rng = random.Random(seed + 10_000_019)
    counts = {code: [0, 0] for code in rates}
    due: dict[int, list[tuple[str, bool]]] = {}
    known = regret = 0.0
    checkpoints = list(CHECKPOINTS)
    result: dict[int, float] = {}
    day = 0
    while checkpoints:
        for code, returned in due.pop(day, []):
            counts[code][1] += 1
            counts[code][0] += returned
            known += 1
            if checkpoints and known >= checkpoints[0]:
                result[checkpoints[0]] = regret
                checkpoints.pop(0)
        for _ in range(PER_DAY):
            code = max(counts, key=lambda c: rng.betavariate(1 + counts[c][0], 1 + counts[c][1] - counts[c][0]))
            regret += best_rate - rates[code]
            due.setdefault(day + DELAY_DAYS, []).append((code, rng.random() < rates[code]))
        day += 1
    return result


def _job(args: tuple[int, int]) -> tuple[int, dict[str, Any], dict[int, float]]:
    _setup()
    best_position, seed = args
    return best_position, _run_playbook(best_position, seed), _run_thompson(best_position, seed)


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench learning", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="seeded runs per scenario (default 300)")
    parser.add_argument("--processes", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    _setup()
    started = time.monotonic()
    jobs = [(position, seed) for position in SCENARIOS for seed in range(args.runs)]
    results: dict[int, list[tuple[dict[str, Any], dict[int, float]]]] = {p: [] for p in SCENARIOS}
    with ProcessPoolExecutor(max_workers=args.processes) as pool:
        for position, playbook, thompson in pool.map(_job, jobs, chunksize=10):
            results[position].append((playbook, thompson))
    print(
        f"Learning benchmark: {args.runs} runs per scenario, {PER_DAY} complaints a day, outcomes known after "
        f"{DELAY_DAYS} days; best gesture {BEST_RATE:.0%}, others {min(OTHER_RATES):.0%}–{max(OTHER_RATES):.0%}."
    )
    header = f"{'best is':>10} {'outcomes':>9} {'best first':>11} {'regret':>8} {'Thompson':>9} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    ok = True
    for position in SCENARIOS:
        rows = results[position]
        for checkpoint in CHECKPOINTS:
            share = sum(p["best_first"][checkpoint] for p, _ in rows) / len(rows)
            regret = sum(p["regret"][checkpoint] for p, _ in rows) / len(rows)
            baseline = sum(t[checkpoint] for _, t in rows) / len(rows)
            ratio = regret / baseline if baseline else float("inf")
            marks = []
            if checkpoint >= 1000 and share < TARGET_SHARE:
                marks.append("share below target")
            if ratio > TARGET_REGRET_RATIO:
                marks.append("regret above target")
            ok = ok and not marks
            label = {1: "1st", 4: "4th", 6: "6th"}[position]
            print(
                f"{label:>10} {checkpoint:>9,} {share:>10.0%} {regret:>8.1f} {baseline:>9.1f} {ratio:>6.2f}"
                + (f"  <- {', '.join(marks)}" if marks else "")
            )
    print(f"\n{time.monotonic() - started:.0f}s. " + ("All targets met." if ok else "MISSED a target."))
    return 0 if ok else 2
