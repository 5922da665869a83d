"""The benchmark's pure helpers: percentiles, targets, the summary table, the intake payloads. No database."""

from __future__ import annotations

import pytest

from bench.data import CAUSES, complaint_payloads
from bench.stats import Row, Timing, format_results, format_value, percentile, target_row


@pytest.mark.parametrize(
    ("samples", "q", "expected"),
    [
        ([7.0], 95, 7.0),
        ([1, 2, 3, 4], 0, 1),
        ([1, 2, 3, 4], 100, 4),
        ([1, 2, 3, 4], 50, 2.5),
        ([4, 1, 3, 2], 50, 2.5),  # order of the samples does not matter
        (list(range(1, 21)), 95, 19.05),  # interpolates between the two slowest, not the slowest
        (list(range(1, 101)), 99, 99.01),
    ],
)
def test_percentile_interpolates_between_closest_ranks(samples, q, expected):
    assert percentile(samples, q) == pytest.approx(expected)


@pytest.mark.parametrize(("samples", "q"), [([], 50), ([1.0], -1), ([1.0], 101)])
def test_percentile_rejects_no_samples_and_out_of_range(samples, q):
    with pytest.raises(ValueError):
        percentile(samples, q)


def test_timing_rate_is_count_over_wall_time_not_over_summed_latency():
    # given 8 concurrent requests of 0.1 s each, all done in 0.2 s of wall time
    timing = Timing.of([0.1] * 8, wall=0.2)

    assert timing.rate == pytest.approx(40.0)
    assert timing.p50 == pytest.approx(0.1)
    assert Timing.of([0.1] * 8).rate == pytest.approx(10.0)  # sequential: wall is the sum


@pytest.mark.parametrize(
    ("kwargs", "value", "passed"),
    [
        ({"at_least": 50.0}, 50.0, True),  # the bound itself passes
        ({"at_least": 50.0}, 49.9, False),
        ({"at_most": 0.050}, 0.050, True),
        ({"at_most": 0.050}, 0.0501, False),
    ],
)
def test_target_row_passes_on_and_inside_the_bound(kwargs, value, passed):
    row = target_row("s", "m", value, "s" if "at_most" in kwargs else "%", **kwargs)

    assert row.passed is passed
    assert row.verdict == ("PASS" if passed else "MISS")


def test_target_row_needs_exactly_one_bound():
    with pytest.raises(ValueError):
        target_row("s", "m", 1.0, "s")
    with pytest.raises(ValueError):
        target_row("s", "m", 1.0, "s", at_least=0.5, at_most=2.0)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.0172, "s", "17.2 ms"),
        (0.00123, "s", "1.23 ms"),
        (0.263, "s", "263 ms"),
        (1348.2, "/s", "1,348 /s"),
        (54.46, "/s", "54.5 /s"),
        (19.24, "%", "19.2 %"),
        (5000, "count", "5,000"),
        (None, "s", "—"),
    ],
)
def test_format_value_reads_naturally_per_unit(value, unit, text):
    assert format_value(value, unit) == text


def test_format_results_aligns_values_and_shows_verdicts():
    rows = [
        Row("intake", "complaints/s", 131.4, "/s"),
        target_row("intake", "intake / floor", 9.7, "%", at_least=50.0),
        target_row("list", "default order p95", 0.0172, "s", at_most=0.050),
    ]

    lines = format_results(rows).splitlines()

    assert lines[0].split() == ["section", "metric", "value", "target", "result"]
    assert lines[3].endswith("MISS") and "≥ 50.0 %" in lines[3]
    assert lines[4].endswith("PASS") and "≤ 50.0 ms" in lines[4]
    assert lines[2].endswith("131 /s")  # no target, no verdict
    # values are right-aligned: they all end in the same column
    ends = {line.index(v) + len(v) for line, v in zip(lines[2:], ["131 /s", "9.7 %", "17.2 ms"], strict=True)}
    assert len(ends) == 1


def test_complaint_payloads_are_distinct_and_repeat_some_customers():
    payloads = complaint_payloads(2_000, seed=3)

    keys = [(p["source"], p["external_id"]) for p in payloads if "source" in p]
    assert len(keys) == len(set(keys)), "a repeated (source, external_id) would be a redelivery, not a new complaint"
    customers = [tuple(sorted(p["customer"].items())) for p in payloads]
    assert len(set(customers)) < len(customers) * 0.8, "about a third should come from returning customers"
    assert {p["cause"] for p in payloads} == set(CAUSES)
    assert all(p["customer"].get("email") or p["customer"].get("external_id") for p in payloads)
    assert complaint_payloads(2_000, seed=3) == payloads, "the same seed must give the same complaints"


def test_complaint_payloads_use_the_api_vocabulary():
    from tickets.models import Cause, Channel

    payloads = complaint_payloads(500, seed=5)

    assert set(CAUSES) == set(Cause.values)
    assert {p["channel"] for p in payloads} <= set(Channel.values)
    assert all(1 <= p["severity"] <= 5 for p in payloads)


def test_complaint_payloads_batches_never_collide():
    first = complaint_payloads(500, seed=7)
    later = complaint_payloads(500, seed=7, start=9_000_000)

    ids = {p.get("external_id") for p in first} - {None}
    assert ids.isdisjoint({p.get("external_id") for p in later})


def test_helpdesk_ticket_maps_a_complaint_onto_django_helpdesk_fields():
    from bench.section_helpdesk import helpdesk_ticket

    payload = complaint_payloads(1, seed=3)[0] | {"severity": 5, "customer": {"email": "a@example.com"}}

    ticket = helpdesk_ticket(payload)

    assert ticket["title"] == payload["subject"]
    assert ticket["priority"] == 1  # severity 5 is django-helpdesk's "critical"
    assert ticket["submitter_email"] == "a@example.com"
    assert set(ticket) <= {"queue", "title", "description", "priority", "submitter_email"}


def test_helpdesk_database_defaults_to_dh_bench_on_the_bench_server(monkeypatch):
    from bench.section_helpdesk import helpdesk_database_url

    monkeypatch.delenv("BENCH_HELPDESK_DATABASE_URL", raising=False)
    assert helpdesk_database_url("postgres://u@db:5433/cxr_bench") == "postgres://u@db:5433/dh_bench"
    monkeypatch.setenv("BENCH_HELPDESK_DATABASE_URL", "postgres://x@y/other_bench")
    assert helpdesk_database_url("postgres://u@db:5433/cxr_bench") == "postgres://x@y/other_bench"


def test_scale_template_is_named_after_the_bench_database(monkeypatch):
    from bench.scale_seed import template_name

    monkeypatch.delenv("BENCH_SCALE_TEMPLATE", raising=False)
    assert template_name("cxr_bench") == "cxr_bench_2m"
    monkeypatch.setenv("BENCH_SCALE_TEMPLATE", "cxr_scale_2m")
    assert template_name("cxr_bench") == "cxr_scale_2m"
