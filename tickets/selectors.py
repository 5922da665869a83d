"""Every read the UI and the API need, with joins done up front."""

from __future__ import annotations

import base64
import json
import operator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import reduce
from types import SimpleNamespace
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    IntegerField,
    Max,
    Model,
    OrderBy,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.http import QueryDict
from django.utils import timezone

from tickets.filters import ComplaintFilter, customer_search_q
from tickets.models import (
    OPEN_STATUSES,
    Actor,
    Comment,
    Complaint,
    Customer,
    Grade,
    Macro,
    Role,
    SavedView,
    TimelineEvent,
    pk_from_reference,
)


def complaint_list() -> QuerySet[Complaint]:
    return Complaint.objects.select_related("customer", "assignee")


def complaint_get(*, reference: str) -> Complaint | None:
    pk = pk_from_reference(reference)
    if pk is None:
        return None
    return complaint_list().filter(pk=pk).first()


def complaint_timeline(*, complaint: Complaint) -> QuerySet[TimelineEvent]:
    return TimelineEvent.objects.filter(complaint=complaint).select_related("actor_user", "actor_key")


def complaint_comments(*, complaint: Complaint) -> QuerySet[Comment]:
    return Comment.objects.filter(complaint=complaint).select_related("author")


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.prefetch_related("references").annotate(complaint_count=Count("complaints"))


def customer_get(*, customer_id: int) -> Customer | None:
    recent = Complaint.objects.order_by("-created_at", "-id")
    return (
        Customer.objects.prefetch_related("references", Prefetch("complaints", queryset=recent))
        .filter(pk=customer_id)
        .first()
    )


# --- the agent's queue (browser) -----------------------------------------------------------------
# Keyset ("seek") pagination: a page starts where the previous one ended, found through the sort key and
# the id, so page 4,000 costs what page 1 costs. Never OFFSET and never COUNT(*) over the filtered set.

QUEUE_PAGE_SIZE = 50
CUSTOMER_SUGGESTION_LIMIT = 8
CUSTOMER_HISTORY_LIMIT = 10


@dataclass(frozen=True)
class KeysetKey:
    """One column of a keyset ordering. NULLs of a nullable column sort last (first when read backwards)."""

    field: str
    descending: bool
    nullable: bool = False
    nulls_last: bool = True
    # For an annotation (not a model field): the field type that reads its value back from a cursor.
    output: Any = None

    def order_expression(self) -> OrderBy:
        expression = F(self.field)
        nulls = {"nulls_last": True} if self.nulls_last else {"nulls_first": True}
        if not self.nullable:
            nulls = {}
        return expression.desc(**nulls) if self.descending else expression.asc(**nulls)

    def reversed(self) -> KeysetKey:
        return KeysetKey(self.field, not self.descending, self.nullable, not self.nulls_last, self.output)

    def after(self, value: Any) -> Q | None:
        """Rows strictly after `value` on this column alone; None when no row can be."""
        if value is None:
            return None if self.nulls_last else Q(**{f"{self.field}__isnull": False})
        condition = Q(**{f"{self.field}__{'lt' if self.descending else 'gt'}": value})
        if self.nullable and self.nulls_last:
            condition |= Q(**{f"{self.field}__isnull": True})
        return condition

    def at_or_after(self, value: Any) -> Q | None:
        """A looser bound that lets the database seek into an index (NOT NULL columns only)."""
        if self.nullable or value is None:
            return None
        return Q(**{f"{self.field}__{'lte' if self.descending else 'gte'}": value})

    def equal(self, value: Any) -> Q:
        return Q(**{f"{self.field}__isnull": True}) if value is None else Q(**{self.field: value})


@dataclass(frozen=True)
class KeysetPage:
    items: list[Any]
    next_cursor: str | None
    previous_cursor: str | None


def _cursor_value(value: Any) -> Any:
    # Full precision: DjangoJSONEncoder would cut datetimes to milliseconds and the seek would skip rows.
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def keyset_encode(*, direction: str, values: list[Any]) -> str:
    raw = json.dumps([direction, [_cursor_value(v) for v in values]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def keyset_decode(cursor: str | None, *, keys: tuple[KeysetKey, ...], model: type[Model]) -> tuple[str, list[Any]] | None:
    """The (direction, values) in a cursor, typed for the key columns; None for a missing or tampered cursor."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        direction, values = json.loads(raw)
        if direction not in ("next", "prev") or not isinstance(values, list) or len(values) != len(keys):
            return None
        typed = [
            None if value is None else (key.output or model._meta.get_field(key.field)).to_python(value)
            for key, value in zip(keys, values, strict=True)
        ]
    except (ValueError, TypeError, DjangoValidationError, FieldDoesNotExist):
        return None
    return direction, typed


def _keyset_after(keys: tuple[KeysetKey, ...], values: list[Any]) -> Q | None:
    """Rows after the row with these key values: (k1 after v1) or (k1 = v1 and k2 after v2) or ..."""
    branches: list[Q] = []
    prefix = Q()
    for key, value in zip(keys, values, strict=True):
        after = key.after(value)
        if after is not None:
            branches.append(prefix & after)
        prefix &= key.equal(value)
    if not branches:
        return None
    condition = reduce(operator.or_, branches)
    bound = keys[0].at_or_after(values[0])
    return condition & bound if bound is not None else condition


def _key_values(row: Any, keys: tuple[KeysetKey, ...]) -> list[Any]:
    return [getattr(row, key.field) for key in keys]


def keyset_page(
    queryset: QuerySet, *, keys: tuple[KeysetKey, ...], cursor: str | None, size: int = QUEUE_PAGE_SIZE
) -> KeysetPage:
    """One page of `queryset` in `keys` order (the last key must be unique, e.g. id), and cursors to its neighbours.

    One query per page (two only when paging back onto the first page). A cursor that no longer decodes
    starts from the top instead of failing.
    """
    decoded = keyset_decode(cursor, keys=keys, model=queryset.model)
    if decoded is not None and decoded[0] == "prev":
        backwards = tuple(key.reversed() for key in keys)
        condition = _keyset_after(backwards, decoded[1])
        rows = list(
            (queryset.filter(condition) if condition is not None else queryset.none()).order_by(
                *(key.order_expression() for key in backwards)
            )[: size + 1]
        )
        if len(rows) <= size:
            # Back at the top: show a full first page rather than a short one.
            return keyset_page(queryset, keys=keys, cursor=None, size=size)
        rows = rows[:size][::-1]
        return KeysetPage(
            items=rows,
            next_cursor=keyset_encode(direction="next", values=_key_values(rows[-1], keys)),
            previous_cursor=keyset_encode(direction="prev", values=_key_values(rows[0], keys)),
        )
    ordered = queryset.order_by(*(key.order_expression() for key in keys))
    if decoded is not None:
        condition = _keyset_after(keys, decoded[1])
        ordered = ordered.filter(condition) if condition is not None else ordered.none()
    rows = list(ordered[: size + 1])
    has_next = len(rows) > size
    rows = rows[:size]
    return KeysetPage(
        items=rows,
        next_cursor=keyset_encode(direction="next", values=_key_values(rows[-1], keys)) if has_next and rows else None,
        previous_cursor=(
            keyset_encode(direction="prev", values=_key_values(rows[0], keys)) if decoded is not None and rows else None
        ),
    )


# Sortable queue columns: URL value -> column. "-" in front sorts descending; the id breaks ties.
QUEUE_SORT_FIELDS: dict[str, tuple[str, bool]] = {
    # name: (model field, nullable)
    "created": ("created_at", False),
    "updated": ("updated_at", False),
    "severity": ("severity", False),
    "risk": ("risk_score", True),
    "due": ("response_due_at", True),
}
# "urgency": what needs action soonest. The nearest open deadline first (so everything overdue comes first, the
# longest overdue at the top), no deadline last; at the same deadline ugly before bad before neutral and good.
QUEUE_URGENCY = "urgency"
QUEUE_DEFAULT_SORT = QUEUE_URGENCY
GRADE_RANK = {Grade.UGLY: 0, Grade.BAD: 1, Grade.NEUTRAL: 2, Grade.GOOD: 3}
URGENCY_KEYS = (
    KeysetKey("urgent_due", False, nullable=True, output=DateTimeField()),
    KeysetKey("grade_rank", False, output=IntegerField()),
    KeysetKey("id", False),
)


def with_urgency(queryset: QuerySet[Complaint]) -> QuerySet[Complaint]:
    """Annotate `urgent_due` (the response deadline while unanswered, or the resolution deadline, whichever is
    sooner; None when neither applies) and `grade_rank` (0 ugly … 4 not graded).

    Spelled out with CASE because LEAST treats NULL differently on PostgreSQL and SQLite."""
    response_pending = Q(first_response_at__isnull=True, response_due_at__isnull=False)
    return queryset.annotate(
        urgent_due=Case(
            When(
                response_pending & (Q(resolution_due_at__isnull=True) | Q(response_due_at__lte=F("resolution_due_at"))),
                then=F("response_due_at"),
            ),
            default=F("resolution_due_at"),
            output_field=DateTimeField(),
        ),
        grade_rank=Case(
            *(When(grade=grade, then=Value(rank)) for grade, rank in GRADE_RANK.items()),
            default=Value(len(GRADE_RANK)),
            output_field=IntegerField(),
        ),
    )


def queue_sort_keys(sort: str) -> tuple[str, tuple[KeysetKey, ...]]:
    """The normalised sort name and its keyset keys; unknown names fall back to the default (urgency)."""
    if sort.lstrip("-") == QUEUE_URGENCY:
        return QUEUE_URGENCY, URGENCY_KEYS
    name = sort.lstrip("-")
    if name not in QUEUE_SORT_FIELDS:
        return QUEUE_URGENCY, URGENCY_KEYS
    descending = sort.startswith("-")
    field, nullable = QUEUE_SORT_FIELDS[name]
    return sort, (KeysetKey(field, descending, nullable), KeysetKey("id", descending))


@dataclass
class QueuePage:
    complaints: list[Complaint]
    filterset: Any
    sort: str
    next_cursor: str | None
    previous_cursor: str | None
    now: datetime


def complaint_is_overdue(complaint: Complaint, *, now: datetime) -> bool:
    """Open and past a deadline: no first response by the response deadline, or not resolved by the resolution one."""
    if not complaint.is_open:
        return False
    response_late = (
        complaint.response_due_at is not None and complaint.first_response_at is None and complaint.response_due_at < now
    )
    return response_late or (complaint.resolution_due_at is not None and complaint.resolution_due_at < now)


def complaint_next_due(complaint: Complaint) -> datetime | None:
    """The deadline that comes first while open: the response deadline until answered, the resolution deadline."""
    if not complaint.is_open:
        return None
    candidates = [complaint.resolution_due_at]
    if complaint.first_response_at is None:
        candidates.append(complaint.response_due_at)
    due = [moment for moment in candidates if moment is not None]
    return min(due) if due else None


def queue_filter_params(query: QueryDict) -> QueryDict:
    """The filter values of a queue URL as ComplaintFilter reads them.

    Empty fields are dropped (a submitted form sends them all). Without a status the queue shows open
    complaints; status=all shows every status.
    """
    params = QueryDict(mutable=True)
    for name in ComplaintFilter.base_filters:
        values = [value for value in query.getlist(name) if value.strip()]
        if values:
            params.setlist(name, values)
    if "all" in params.getlist("status"):
        del params["status"]
    elif "status" not in params and "is_open" not in params:
        params["is_open"] = "true"
    return params


def complaint_queue_page(
    *, params: QueryDict, user: Any, sort: str = QUEUE_DEFAULT_SORT, cursor: str | None = None,
    size: int = QUEUE_PAGE_SIZE,
) -> QueuePage:
    """One page of the browser queue, exactly as /complaints/?<params> shows it (without the status counts).

    `params` are the URL's query parameters: the API's ComplaintFilter values (open complaints unless a
    status is given; invalid values are reported on `filterset.errors` and ignored). `user` resolves
    assignee=me. Sorted by `sort` (see QUEUE_SORT_FIELDS) and keyset-paginated from `cursor`. One query.
    """
    filterset = ComplaintFilter(
        data=queue_filter_params(params), queryset=complaint_list(), request=SimpleNamespace(user=user)
    )
    queryset = filterset.qs  # no DISTINCT (tickets/filters.py): the page is read in index order
    sort, keys = queue_sort_keys(sort)
    if sort == QUEUE_URGENCY:
        queryset = with_urgency(queryset)
    page = keyset_page(queryset, keys=keys, cursor=cursor, size=size)
    now = timezone.now()
    for complaint in page.items:
        complaint.overdue = complaint_is_overdue(complaint, now=now)
        complaint.next_due = complaint_next_due(complaint)
    return QueuePage(
        complaints=page.items,
        filterset=filterset,
        sort=sort,
        next_cursor=page.next_cursor,
        previous_cursor=page.previous_cursor,
        now=now,
    )


# The queue counts open complaints per status up to this many; beyond it the page says "10000+". A busy desk
# with years of history has tens of thousands open, and counting them all cost over a second at 2,000,000.
STATUS_COUNT_CAP = 10_000


def complaint_open_status_counts(*, cap: int | None = None) -> dict[str, int]:
    """How many open complaints are in each open status, each counted up to `cap` (a count equal to `cap` means
    "at least"): one query reading at most `cap` entries of the status index per status."""
    cap = STATUS_COUNT_CAP if cap is None else cap
    table = connection.ops.quote_name(Complaint._meta.db_table)
    capped = f"SELECT %s, (SELECT count(*) FROM (SELECT 1 FROM {table} WHERE status = %s LIMIT %s) AS s)"
    params: list[Any] = []
    for status in OPEN_STATUSES:
        params += [str(status), str(status), cap]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join([capped] * len(OPEN_STATUSES)), params)
        rows = cursor.fetchall()
    counts = {status: 0 for status in OPEN_STATUSES}
    counts.update(dict(rows))
    return counts


def customer_suggest(*, text: str, limit: int = CUSTOMER_SUGGESTION_LIMIT) -> list[Customer]:
    """Customers whose email or name contains `text` (at least 2 characters), emails starting with it first."""
    text = (text or "").strip()
    if len(text) < 2:
        return []
    lowered = text.lower()
    return list(
        Customer.objects.filter(customer_search_q(text))
        .annotate(
            starts=Case(When(email__startswith=lowered, then=Value(0)), default=Value(1)),
            complaint_count=Count("complaints"),
        )
        .order_by("starts", "email", "id")[:limit]
    )


def customer_complaint_history(*, complaint: Complaint, limit: int = CUSTOMER_HISTORY_LIMIT) -> list[Complaint]:
    """The customer's other complaints, newest first (at most `limit` + 1, so callers can tell there are more)."""
    return list(
        Complaint.objects.filter(customer_id=complaint.customer_id)
        .exclude(pk=complaint.pk)
        .order_by("-created_at", "-id")[: limit + 1]
    )


def staff_assignable() -> QuerySet:
    """Active people with a support role (or superusers), who may be assigned complaints."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__name__in=Role.values) | Q(is_superuser=True))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


# --- queue views: presets, saved views, the team's workload ---------------------------------------------------

# The queue's preset views: (key, label, lowest role, the filter parameters they stand for).
QUEUE_VIEWS: list[tuple[str, str, str, dict[str, str]]] = [
    ("mine", "My open work", Role.AGENT, {"assignee": "me"}),
    ("unassigned", "Unassigned", Role.AGENT, {"assignee": "none"}),
    ("escalated", "Escalated", Role.LEAD, {"escalated": "true"}),
    ("team", "Team: all open", Role.AGENT, {}),
]
QUEUE_DEFAULT_VIEW = "mine"


def queue_view_params(view: str) -> dict[str, str] | None:
    return next((params for key, _, _, params in QUEUE_VIEWS if key == view), None)


def saved_views_for(*, user: Any) -> list[SavedView]:
    """The person's own views and everyone's shared ones, own first."""
    views = SavedView.objects.filter(Q(owner=user) | Q(shared=True)).select_related("owner")
    return sorted(views, key=lambda v: (v.owner_id != user.pk, v.name.lower(), v.pk))


def team_workload(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Open complaints per assignee (None: unassigned) with how many are overdue: one GROUP BY."""
    now = now or timezone.now()
    late = Q(response_due_at__lt=now, first_response_at__isnull=True) | Q(resolution_due_at__lt=now)
    rows = (
        Complaint.objects.filter(status__in=OPEN_STATUSES)
        .order_by()
        .values("assignee_id", "assignee__username", "assignee__first_name", "assignee__last_name")
        .annotate(open=Count("id"), overdue=Count("id", filter=late), ugly=Count("id", filter=Q(grade=Grade.UGLY)))
    )
    people = [
        {
            "assignee_id": row["assignee_id"],
            "name": (f"{row['assignee__first_name']} {row['assignee__last_name']}".strip() or row["assignee__username"])
            if row["assignee_id"] else "Unassigned",
            "open": row["open"],
            "overdue": row["overdue"],
            "ugly": row["ugly"],
        }
        for row in rows
    ]
    return sorted(people, key=lambda p: (-p["overdue"], -p["open"], p["name"]))


# --- the complaint's version (optimistic concurrency) -------------------------------------------------------


def complaint_version(*, complaint: Complaint) -> int:
    """The complaint's version: the id of its latest timeline event (0 before the first).

    Every change of a complaint writes one timeline event in the same transaction, whichever app makes it, so the
    newest event id moves with every change without a counter every writer must remember to bump."""
    return TimelineEvent.objects.filter(complaint_id=complaint.pk).aggregate(v=Max("id"))["v"] or 0


def complaint_changes_since(*, complaint: Complaint, version: int, user: Any) -> list[TimelineEvent]:
    """What other people and integrations changed on the complaint after `version`, oldest first."""
    return list(
        TimelineEvent.objects.filter(complaint_id=complaint.pk, id__gt=version)
        # The system's own bookkeeping (grading, deadlines, a reply's delivery) is no one's edit to collide with.
        .exclude(actor_type=Actor.SYSTEM)
        .exclude(actor_user_id=user.pk)
        .order_by("id")[:20]
    )


def macro_list(*, active_only: bool = False) -> QuerySet[Macro]:
    macros = Macro.objects.select_related("created_by")
    return macros.filter(active=True) if active_only else macros
