"""One FilterSet per list, shared by the API viewset and the browser list page."""

from __future__ import annotations

from datetime import UTC, datetime

import django_filters
from django import forms
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from tickets.models import (
    OPEN_STATUSES,
    Cause,
    Channel,
    Comment,
    Complaint,
    Customer,
    Grade,
    Status,
    Tier,
    pk_from_reference,
)

# Up to this many customers whose email contains an email-like search term are matched by id; a term matching more
# is too common to narrow anything down.
SEARCH_CUSTOMER_IDS_MAX = 500

# Ids are 64-bit on PostgreSQL and SQLite. A larger number in a filter would overflow the driver (a 500 on SQLite)
# instead of matching nothing, so such a filter matches nothing without asking the database.
ID_MAX = 2**63 - 1


@extend_schema_field(OpenApiTypes.INT)
class IntegerFilter(django_filters.NumberFilter):
    """A whole number (1.5 or "x" is a field error). Out-of-range values are safe: Django answers an empty or full
    result for them on integer columns without sending them to the database."""

    field_class = forms.IntegerField

    def get_max_validator(self) -> None:
        return None  # NumberFilter caps at 1e50; any whole number is fine here


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(IntegerFilter):
    """An id (of a related row): any whole number, and one no id can have matches nothing."""

    def filter(self, qs: QuerySet, value: int | None) -> QuerySet:
        if value is not None and not 1 <= value <= ID_MAX:
            return qs.none()
        return super().filter(qs, value)


class StrictBooleanField(forms.Field):
    """true/false (or 1/0, any case); anything else is a field error instead of being read as "not given"."""

    def to_python(self, value: str | None) -> bool | None:
        text = (value or "").strip().lower()
        if not text:
            return None
        if text in {"true", "1"}:
            return True
        if text in {"false", "0"}:
            return False
        raise forms.ValidationError("Use true or false.")


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.Filter):
    field_class = StrictBooleanField


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time with any offset the format allows (PostgreSQL refuses offsets past ±15:59, so the value
    is compared in UTC); a time so near year 1 or 9999 that UTC is out of range compares as the edge of time."""

    def filter(self, qs: QuerySet, value: datetime | None) -> QuerySet:
        if value is None:
            return qs
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            early = value.year == 1
            before = self.lookup_expr in {"lt", "lte"}
            return qs.none() if early == before else qs
        return super().filter(qs, value)


def customer_search_q(value: str, prefix: str = "") -> Q:
    """The customer's name or email contains `value` (case-insensitive); `prefix` reaches them through a relation,
    e.g. "customer__" from a complaint."""
    return Q(**{f"{prefix}name__icontains": value}) | Q(**{f"{prefix}email__icontains": value.lower()})


# The text search configuration of the complaints' search_document (tickets/migrations/0008_scale.py).
SEARCH_CONFIG = "english"


def _document_matches(value: str) -> Q:
    """PostgreSQL: the complaint's full-text document (subject, description, comments, customer name and email)
    matches `value` as a web search (words stemmed and ANDed, "quoted phrases", -excluded words).

    The document column is maintained by triggers and is not a model field, so lists never fetch it."""
    from django.contrib.postgres.search import SearchQuery, SearchVectorExact, SearchVectorField
    from django.db.models.expressions import Col

    document = SearchVectorField()
    document.set_attributes_from_name("search_document")
    query = SearchQuery(value, config=SEARCH_CONFIG, search_type="websearch")
    return Q(SearchVectorExact(Col(Complaint._meta.db_table, document), query))


# A term matching at most this many complaints is answered by their ids. PostgreSQL cannot estimate how rare a
# word it has no statistics for is (an order number, a surname it did not sample) and guesses 0.5 % of the rows,
# so it walks the newest-first index hoping to fill a page soon: for a word in one complaint that reads all of
# them (14 s at 2,000,000). The ids come from the GIN index alone, at most this many rows read.
SEARCH_RARE_MAX = 1_000


def _words_in_statistics(value: str) -> bool:
    """Whether every word of `value` is among the search documents' most common words in PostgreSQL's statistics,
    so the planner knows how common it is (one catalog lookup)."""
    sql = """
        SELECT coalesce(bool_and(t.lexeme = ANY(coalesce(
            (SELECT most_common_elems::text::text[] FROM pg_stats
              WHERE tablename = %s AND attname = 'search_document' LIMIT 1), '{}'))), true)
        FROM unnest(to_tsvector(%s::regconfig, %s)) AS t
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [Complaint._meta.db_table, SEARCH_CONFIG, value])
        return bool(cursor.fetchone()[0])


def _rare_matches(value: str) -> Q | None:
    """Q(pk__in=<every match>) when `value` matches at most SEARCH_RARE_MAX complaints, else None."""
    from django.db import transaction

    sql = (
        f"SELECT id FROM {connection.ops.quote_name(Complaint._meta.db_table)} "
        f"WHERE search_document @@ websearch_to_tsquery(%s::regconfig, %s) LIMIT %s"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # Only this statement, only in this transaction: read the matches through the GIN index (a bitmap scan).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(sql, [SEARCH_CONFIG, value, SEARCH_RARE_MAX + 1])
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("SET LOCAL enable_seqscan = on")
        cursor.execute("SET LOCAL enable_indexscan = on")
    if len(ids) > SEARCH_RARE_MAX:
        return None
    return Q(pk__in=ids)


def _words_match(value: str) -> Q:
    """Elsewhere (SQLite): every word appears, case-insensitively, in the subject, the description, a comment or
    the customer's name or email."""
    condition = Q()
    for word in value.split():
        condition &= (
            Q(subject__icontains=word)
            | Q(description__icontains=word)
            | Q(Exists(Comment.objects.filter(complaint=OuterRef("pk"), body__icontains=word)))
            | customer_search_q(word, "customer__")
        )
    return condition


def _looks_like_email(value: str) -> bool:
    return "@" in value or ("." in value and " " not in value.strip())


def complaint_search_q(value: str) -> Q:
    """Complaints whose subject, description, comments (notes and replies), customer name or customer email
    match `value`: full-text on PostgreSQL (GIN-indexed), every word as a substring elsewhere.

    On PostgreSQL a term that looks like (part of) an email address also finds the customers whose email or name
    contains it (trigram-indexed; "grace.ki" finds grace.kim@…), matched by id, up to SEARCH_CUSTOMER_IDS_MAX.
    Other terms are words, which the full-text document already holds for names; looking them up as substrings
    too would scan the customers' trigram index for every search (a number matches thousands of addresses)."""
    if connection.vendor != "postgresql":
        return _words_match(value)
    # Only a word the planner has no statistics for may be rare: a common word must not pay for reading every
    # match through the GIN index first (a bitmap scan cannot stop early).
    condition = None if _words_in_statistics(value) else _rare_matches(value)
    if condition is None:
        condition = _document_matches(value)
    if _looks_like_email(value):
        customer_ids = list(
            Customer.objects.filter(customer_search_q(value)).values_list("pk", flat=True)[
                : SEARCH_CUSTOMER_IDS_MAX + 1
            ]
        )
        if 0 < len(customer_ids) <= SEARCH_CUSTOMER_IDS_MAX:
            condition |= Q(customer_id__in=customer_ids)
    return condition


class ComplaintFilter(django_filters.FilterSet):
    # distinct=False: these are the complaint's own columns (no to-many join), so rows are unique already, and a
    # DISTINCT over every column would make the database sort all matches before it can return one page.
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, distinct=False)
    cause = django_filters.MultipleChoiceFilter(choices=Cause.choices, distinct=False)
    grade = django_filters.MultipleChoiceFilter(choices=Grade.choices, distinct=False)
    channel = django_filters.MultipleChoiceFilter(choices=Channel.choices, distinct=False)
    tier = django_filters.MultipleChoiceFilter(choices=Tier.choices, distinct=False)
    severity_min = IntegerFilter(field_name="severity", lookup_expr="gte", label="Severity from")
    severity_max = IntegerFilter(field_name="severity", lookup_expr="lte", label="Severity to")
    assignee = django_filters.CharFilter(method="filter_assignee", label="Assignee (user id, 'me' or 'none')")
    escalated = StrictBooleanFilter(method="filter_escalated", label="Escalated above frontline")
    overdue = StrictBooleanFilter(method="filter_overdue", label="Past a deadline")
    is_open = StrictBooleanFilter(method="filter_open", label="Open (not resolved or closed)")
    customer = IdFilter(field_name="customer_id", label="Customer id")
    # A helpdesk finds its ticket's complaint: ?source=<connection name>&external_id=<ticket id>.
    source = django_filters.CharFilter(field_name="source", label="Source (helpdesk connection name)")
    external_id = django_filters.CharFilter(field_name="external_id", label="Id in the source system")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = django_filters.CharFilter(
        method="filter_search",
        label="Search: a reference, or words of the subject, description, notes, customer name or email",
    )

    class Meta:
        model = Complaint
        fields: list[str] = []

    def filter_assignee(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip().lower()
        if value in {"me", "mine"}:
            user = getattr(self.request, "user", None)
            return queryset.filter(assignee_id=user.pk if user and user.pk else -1)
        if value in {"none", "unassigned"}:
            return queryset.filter(assignee__isnull=True)
        if value.isdigit():
            user_id = int(value)
            return queryset.filter(assignee_id=user_id) if 1 <= user_id <= ID_MAX else queryset.none()
        return queryset.none()

    def filter_escalated(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        return queryset.exclude(tier=Tier.FRONTLINE) if value else queryset.filter(tier=Tier.FRONTLINE)

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        now = timezone.now()
        late = Q(status__in=OPEN_STATUSES) & (
            Q(response_due_at__lt=now, first_response_at__isnull=True) | Q(resolution_due_at__lt=now)
        )
        return queryset.filter(late) if value else queryset.exclude(late)

    def filter_open(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        return queryset.filter(status__in=OPEN_STATUSES) if value else queryset.exclude(status__in=OPEN_STATUSES)

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        pk = pk_from_reference(value)
        if pk is not None:
            return queryset.filter(pk=pk)
        return queryset.filter(complaint_search_q(value))


class CustomerFilter(django_filters.FilterSet):
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact")
    q = django_filters.CharFilter(method="filter_search", label="Search name or email")

    class Meta:
        model = Customer
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(customer_search_q(value))
