"""History import: `manage.py import_helpdesk` of 200,000 tickets in the generic CSV and 200,000 in a Zendesk
incremental export (JSON lines), on PostgreSQL, in this process, as an operator runs it.

The files are written first (untimed) from bench.data's vocabulary: 40,000 customers, nine tickets in ten closed
(history: graded in bulk, never escalated), one in ten open (graded, then queued for the normal assessment;
the bench queue has no worker), one in twenty with words that grading reads ("third time I write", "my lawyer").
Then each import is timed end to end (reading, parsing, customers, complaints, timeline, grading, commit), and the
CSV is imported a second time to show that a re-run adds nothing.
"""

from __future__ import annotations

import csv
import io
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import data
from bench.core import Context, section

ROWS = 200_000
CUSTOMERS = 40_000
TARGET = 2_000.0  # complaints/s (issue 9)
WORDS = (
    "This is the third time I write.",
    "My lawyer will hear about this.",
    "I'll post this on Twitter.",
    "Never again.",
    "Still no answer from anyone.",
)
CAUSE_TAGS = {"staff_conduct": "rude", "product_quality": "broken", "service_delay": "delay", "failed_fix": "recurring",
              "pricing": "refund", "ignored": "no_reply", "other": "misc"}


def _ticket(rng: random.Random, n: int, start: datetime) -> dict:
    cause = rng.choice(list(data.SUBJECTS))
    created = start + timedelta(minutes=n * 2 + rng.randrange(60))
    closed = rng.random() < 0.9
    text = rng.choice(data.SUBJECTS[cause])
    if rng.random() < 0.05:
        text += " " + rng.choice(WORDS)
    customer = rng.randrange(CUSTOMERS)
    return {
        "n": n,
        "cause": cause,
        "created": created,
        "resolved": created + timedelta(hours=rng.randrange(1, 120)) if closed else None,
        "closed": closed,
        "severity": rng.choice((1, 2, 2, 3, 3, 3, 4, 5)),
        "subject": rng.choice(data.SUBJECTS[cause]),
        "text": text,
        "customer": customer,
    }


def _write_csv(path: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["external_id", "created_at", "customer_email", "customer_name", "subject", "description",
                      "cause", "severity", "status", "resolved_at", "channel", "tags"])
        for n in range(count):
            t = _ticket(rng, n, start)
            out.writerow([
                f"CSV-{n}", t["created"].isoformat(), f"customer{t['customer']}@example.com", f"Customer {t['customer']}",
                t["subject"], t["text"], t["cause"], t["severity"], "closed" if t["closed"] else "new",
                t["resolved"].isoformat() if t["resolved"] else "", "email", CAUSE_TAGS[t["cause"]],
            ])


def _write_zendesk(path: Path, count: int, seed: int) -> None:
    """Pages of 1,000 tickets with their requesters side-loaded, one page per line, as the cursor export returns."""
    rng = random.Random(seed)
    start = datetime(2024, 6, 1, tzinfo=UTC)
    priorities = {1: "low", 2: "low", 3: "normal", 4: "high", 5: "urgent"}
    with path.open("w") as f:
        for page_start in range(0, count, 1000):
            tickets, users = [], {}
            for n in range(page_start, min(count, page_start + 1000)):
                t = _ticket(rng, n, start)
                requester = 900_000 + t["customer"]
                users[requester] = {"id": requester, "name": f"Customer {t['customer']}",
                                    "email": f"customer{t['customer']}@example.com", "role": "end-user"}
                stamp = (t["resolved"] or t["created"]).strftime("%Y-%m-%dT%H:%M:%SZ")
                tickets.append({
                    "url": f"https://example.zendesk.com/api/v2/tickets/{n}.json", "id": n,
                    "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}},
                    "created_at": t["created"].strftime("%Y-%m-%dT%H:%M:%SZ"), "updated_at": stamp,
                    "subject": t["subject"], "raw_subject": t["subject"], "description": t["text"],
                    "priority": priorities[t["severity"]], "status": "closed" if t["closed"] else "open",
                    "requester_id": requester, "submitter_id": requester, "tags": [CAUSE_TAGS[t["cause"]]],
                    "custom_fields": [],
                })
            f.write(json.dumps({"tickets": tickets, "users": list(users.values()), "end_of_stream": False}) + "\n")


def _import(kind: str, path: Path, source: str) -> tuple[float, str]:
    from django.core.management import call_command

    out = io.StringIO()
    started = time.monotonic()
    call_command("import_helpdesk", kind, str(path), "--source", source, "--quiet", stdout=out, stderr=io.StringIO())
    return time.monotonic() - started, out.getvalue().strip()


@section("import", order=70, help="manage.py import_helpdesk: 200,000 generic-CSV rows and 200,000 Zendesk tickets")
def history_import(ctx: Context) -> None:
    from tickets.models import Complaint

    count = ctx.scaled(ROWS, minimum=1000)
    workdir = Path(tempfile.mkdtemp(prefix="cxr-bench-import-"))
    csv_path, zendesk_path = workdir / "tickets.csv", workdir / "tickets.jsonl"
    _write_csv(csv_path, count, seed=9)
    _write_zendesk(zendesk_path, count, seed=10)
    ctx.log(f"wrote {count:,} rows to {csv_path.name} ({csv_path.stat().st_size / 1e6:.0f} MB) and "
            f"{zendesk_path.name} ({zendesk_path.stat().st_size / 1e6:.0f} MB)")

    for label, kind, path, source in (("generic CSV", "csv", csv_path, "bench-csv"),
                                      ("Zendesk JSONL", "zendesk", zendesk_path, "bench-zendesk")):
        meter = ctx.cpu_meter()
        seconds, summary = _import(kind, path, source)
        cpu = meter.stop()
        created = Complaint.objects.filter(source=source).count()
        if created != count:
            ctx.fail(f"{label}: {created:,} complaints stored, expected {count:,}. {summary}")
        ctx.log(summary)
        each = cpu.per(count)
        ctx.record(f"{label}: {count:,} tickets", seconds, "s")
        ctx.check(f"{label} import rate", created / seconds, "complaints/s", at_least=TARGET)
        ctx.record(f"{label}: CPU per complaint, importer", each.client * 1000, "ms")
        ctx.record(f"{label}: CPU per complaint, PostgreSQL", each.database * 1000, "ms")
        # The import is one sequential pipeline (parse, grade, COPY, wait for PostgreSQL): on a machine where it
        # has a core to itself, its rate is one over the CPU both sides spend per complaint.
        ctx.record(f"{label} rate, CPU-bound (a quiet core)", 1 / max(each.client + each.database, 1e-9), "complaints/s")
        ctx.note_others(label, cpu)

    seconds, summary = _import("csv", csv_path, "bench-csv")
    if "0 new complaints" not in summary:
        ctx.fail(f"The second import of the same CSV added complaints: {summary}")
    ctx.record(f"generic CSV again (adds nothing): {count:,} rows", seconds, "s")
    for path in (csv_path, zendesk_path):
        path.unlink()
    workdir.rmdir()
