"""One FilterSet per list, shared by the API viewset and the browser list page."""

from __future__ import annotations

import django_filters
from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q, QuerySet
from django.utils import timezone

from tickets.models import OPEN_STATUSES, Cause, Channel, Complaint, Customer, Grade, Status, Tier, pk_from_reference

# Above this many matching customers the search joins instead of listing their ids: a term that common finds a
# page of newest complaints quickly by walking the created_at index.
SEARCH_CUSTOMER_IDS_MAX = 500

# Ids are 64-bit on PostgreSQL and SQLite; a larger number in a filter would overflow the driver (a 500) instead of
# simply matching nothing, so it is refused as invalid input (400 in the API, a field error on the page).
ID_MAX = 2**63 - 1


def assignee_value_validate(value: str) -> None:
    value = (value or "").strip()
    if value.isdigit() and int(value) > ID_MAX:
        raise forms.ValidationError("No user has an id this large; give a user id, 'me' or 'none'.")


class IntegerFilter(django_filters.Filter):
    """A whole number (a decimal like 1.5 or a huge number is a field error, never a database error)."""

    field_class = forms.IntegerField


def id_filter(**kwargs) -> IntegerFilter:
    """A whole-number id filter, refused (not overflowed) outside 1..ID_MAX."""
    return IntegerFilter(validators=[MinValueValidator(1), MaxValueValidator(ID_MAX)], **kwargs)


def customer_search_q(value: str, prefix: str = "") -> Q:
    """The customer's name or email contains `value` (case-insensitive); `prefix` reaches them through a relation,
    e.g. "customer__" from a complaint."""
    return Q(**{f"{prefix}name__icontains": value}) | Q(**{f"{prefix}email__icontains": value.lower()})


def complaint_search_q(value: str) -> Q:
    """Subject, customer name or customer email contains `value` (case-insensitive).

    The customers are looked up first (one small query, trigram-indexed on PostgreSQL) and matched by id, so the
    database can combine the subject's trigram index with the complaints-by-customer index instead of joining
    every complaint to its customer to test the text."""
    customer_ids = list(
        Customer.objects.filter(customer_search_q(value)).values_list("pk", flat=True)[: SEARCH_CUSTOMER_IDS_MAX + 1]
    )
    if len(customer_ids) > SEARCH_CUSTOMER_IDS_MAX:
        by_customer = customer_search_q(value, "customer__")
    else:
        by_customer = Q(customer_id__in=customer_ids)
    return Q(subject__icontains=value) | by_customer


class ComplaintFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    cause = django_filters.MultipleChoiceFilter(choices=Cause.choices)
    grade = django_filters.MultipleChoiceFilter(choices=Grade.choices)
    channel = django_filters.MultipleChoiceFilter(choices=Channel.choices)
    tier = django_filters.MultipleChoiceFilter(choices=Tier.choices)
    severity_min = IntegerFilter(field_name="severity", lookup_expr="gte", label="Severity from", min_value=1, max_value=5)
    severity_max = IntegerFilter(field_name="severity", lookup_expr="lte", label="Severity to", min_value=1, max_value=5)
    assignee = django_filters.CharFilter(
        method="filter_assignee", label="Assignee (user id, 'me' or 'none')", validators=[assignee_value_validate]
    )
    escalated = django_filters.BooleanFilter(method="filter_escalated", label="Escalated above frontline")
    overdue = django_filters.BooleanFilter(method="filter_overdue", label="Past a deadline")
    is_open = django_filters.BooleanFilter(method="filter_open", label="Open (not resolved or closed)")
    customer = id_filter(field_name="customer_id", label="Customer id")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="filter_search", label="Search reference, customer, subject")

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
            return queryset.filter(assignee_id=int(value))
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
