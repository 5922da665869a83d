"""Customers: who complained, found by their id in the source's system or their email, or created."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tickets.bulk import BULK_BATCH, insert_unless_known
from tickets.errors import InvalidInput
from tickets.models import Customer, CustomerReference
from tickets.prepared import prepared_cursor


@dataclass(frozen=True)
class CustomerInput:
    """Who complained. At least one of email and external_id identifies them; None means 'not sent'."""

    email: str | None = None
    external_id: str | None = None
    name: str | None = None
    phone: str | None = None
    lifetime_value: Decimal | None = None
    social_reach: int | None = None


def normalise_email(email: str | None) -> str | None:
    return email.strip().lower() if email else None


def customer_resolve(*, data: CustomerInput, source: str = "") -> Customer:
    """Find the customer by (source, external id), then by email, or create them. Safe under concurrency."""
    email = normalise_email(data.email)
    if not email and not data.external_id:
        raise InvalidInput(
            "Tell us who complained: give the customer's email or their id in your system (external_id).",
            fields={"customer": ["Give an email or an external_id."]},
        )
    created = False
    by_ref, by_email = _customer_lookup(source, data.external_id, email)
    customer = by_ref
    if customer is None:
        # A new customer is created with everything the source sent, so it needs no update afterwards. Rows go in
        # with INSERT … ON CONFLICT DO NOTHING (no savepoint): a new customer with a reference costs its SELECT and
        # one statement on PostgreSQL (the customer and the reference together); when someone was first (a
        # concurrent request) theirs is read.
        fields = customer_fields(data)
        ref = CustomerReference(source=source, external_id=data.external_id) if data.external_id else None
        if by_email is not None:
            customer = by_email
        else:
            candidate = Customer(email=email, **fields)
            if insert_unless_known(candidate, then=ref, link="customer"):
                customer, created = candidate, True
            elif email:
                customer, created = Customer.objects.get_or_create(email=email, defaults=fields)
            else:
                # Without an email nothing can conflict: SQLite's OR IGNORE skipped a row the database refuses, and a
                # plain INSERT raises its real error.
                customer, created = Customer.objects.create(**fields), True
        if ref is not None and ref._state.adding:
            ref.customer = customer
            if not insert_unless_known(ref):
                ref, _ = CustomerReference.objects.select_related("customer").get_or_create(
                    source=source, external_id=data.external_id, defaults={"customer": customer}
                )
                if ref.customer_id != customer.pk:
                    # Another request attached this external id first: use theirs.
                    customer, created = ref.customer, False
    if not created:
        _customer_refresh(customer, data, email)
    return customer


def _customer_lookup(source: str, external_id: str | None, email: str | None) -> tuple[Customer | None, Customer | None]:
    """(the customer with this reference, the customer with this email), in one query: both are unique keys, so
    it reads at most two rows, each through its unique index."""
    parts, params = [], []
    if external_id:
        parts.append(_LOOKUP_BY_REF)
        params += [source, external_id]
    if email:
        parts.append(_LOOKUP_BY_EMAIL)
        params.append(email)
    if not parts:
        return None, None
    by_ref = by_email = None
    for customer, found_by in _customers_found(" UNION ALL ".join(parts), params):
        if found_by == "ref":
            by_ref = customer
        else:
            by_email = customer
    return by_ref, by_email


def _customers_found(sql: str, params: list[str]) -> list[tuple[Customer, str]]:
    """The lookup's rows as (customer, found_by). On PostgreSQL with a plain cursor and Model.from_db, as the ORM
    builds an instance from a row: psycopg returns every column as its field holds it (a raw() queryset would
    work out its columns, converters and annotations again for every lookup). Elsewhere a column can need the
    ORM's converters (SQLite's decimals and times), so raw() does it."""
    if connection.vendor != "postgresql":
        return [(customer, customer.found_by) for customer in Customer.objects.raw(sql, params)]
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [(Customer.from_db(connection.alias, _CUSTOMER_FIELDS, values), found_by) for *values, found_by in rows]


def _lookup_sql() -> tuple[str, str]:
    customers, refs = Customer._meta.db_table, CustomerReference._meta.db_table
    columns = ", ".join(f"c.{connection.ops.quote_name(f.column)}" for f in Customer._meta.concrete_fields)
    return (
        f"SELECT {columns}, 'ref' AS found_by FROM {refs} r JOIN {customers} c ON c.id = r.customer_id "
        "WHERE r.source = %s AND r.external_id = %s",
        f"SELECT {columns}, 'email' AS found_by FROM {customers} c WHERE c.email = %s",
    )


_LOOKUP_BY_REF, _LOOKUP_BY_EMAIL = _lookup_sql()
_CUSTOMER_FIELDS = [f.attname for f in Customer._meta.concrete_fields]


def customer_fields(data: CustomerInput) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": data.name or "", "phone": data.phone or ""}
    if data.lifetime_value is not None:
        fields["lifetime_value"] = data.lifetime_value
    if data.social_reach is not None:
        fields["social_reach"] = data.social_reach
    return fields


def _customer_refresh(customer: Customer, data: CustomerInput, email: str | None) -> None:
    """Fill in what the source now knows about the customer; values sent win over stored ones."""
    updates: dict[str, Any] = {}
    if data.name and data.name != customer.name:
        updates["name"] = data.name
    if data.phone and data.phone != customer.phone:
        updates["phone"] = data.phone
    if email and not customer.email:
        updates["email"] = email
    if data.lifetime_value is not None and data.lifetime_value != customer.lifetime_value:
        updates["lifetime_value"] = data.lifetime_value
    if data.social_reach is not None and data.social_reach != customer.social_reach:
        updates["social_reach"] = data.social_reach
    if updates:
        for name, value in updates.items():
            setattr(customer, name, value)
        try:
            with transaction.atomic():
                customer.save(update_fields=[*updates, "updated_at"])
        except IntegrityError:
            # The email belongs to another customer record; keep this one as it was.
            customer.refresh_from_db()


CustomerKey = tuple[str, str | None, str | None]  # (source of the external id, external id, email)


def customers_resolve_bulk(
    keys: Iterable[CustomerKey],
    names: Mapping[CustomerKey, str] | None = None,
    details: Mapping[CustomerKey, Mapping[str, Any]] | None = None,
) -> dict[CustomerKey, int]:
    """Customer id for each (source, external_id, email): by reference, then by email, else a new customer.
    A new customer is created with its name (`names`) or with everything `details` gives (name, phone,
    lifetime_value, social_reach: what customer_fields makes of a CustomerInput).

    The same rules as customer_resolve, for a whole batch in a few queries. Keys that name the same external id
    or email end up on the same customer. If a concurrent request creates one of the same customers first, the
    batch falls back to customer_resolve one by one.
    """
    keys = list(dict.fromkeys(keys))
    plan = _BulkPlan(*_known_customers(keys))
    for key in keys:
        plan.place(key)
    if plan.slots:
        _slots_fill(plan, names or {}, details or {})
        created = _customers_create(plan.slots)
        if created is None:
            # A concurrent request created one of these customers: resolve them safely one by one.
            for key in plan.pending:
                plan.resolved[key] = _resolve_one(key, names or {}, details or {})
        else:
            for key, slot in plan.pending.items():
                plan.resolved[key] = created[slot]
            for slot, data in enumerate(plan.slots):
                for ref in data["refs"]:
                    plan.to_attach[ref] = created[slot]
    if plan.to_attach:
        _references_attach(plan.to_attach, plan.resolved)
    return plan.resolved


def _known_customers(keys: list[CustomerKey]) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """The customer ids the keys' references and emails already have: one query per source, one for the emails."""
    refs: dict[tuple[str, str], int] = {}
    by_source: dict[str, set[str]] = {}
    for source, external_id, _ in keys:
        if external_id:
            by_source.setdefault(source, set()).add(external_id)
    for source, external_ids in by_source.items():
        for ref_source, ref_external_id, customer_id in CustomerReference.objects.filter(
            source=source, external_id__in=external_ids
        ).values_list("source", "external_id", "customer_id"):
            refs[(ref_source, ref_external_id)] = customer_id
    emails = {email for _, _, email in keys if email}
    by_email = dict(Customer.objects.filter(email__in=emails).values_list("email", "pk")) if emails else {}
    return refs, by_email


class _BulkPlan:
    """Where each key's customer comes from. New customers get one slot per distinct external id or email; keys
    sharing either share the slot."""

    def __init__(self, refs: dict[tuple[str, str], int], by_email: dict[str, int]) -> None:
        self.refs, self.by_email = refs, by_email
        self.resolved: dict[CustomerKey, int] = {}
        self.to_attach: dict[tuple[str, str], int] = {}
        self.slots: list[dict[str, Any]] = []
        self.slot_of_ref: dict[tuple[str, str], int] = {}
        self.slot_of_email: dict[str, int] = {}
        self.pending: dict[CustomerKey, int] = {}

    def place(self, key: CustomerKey) -> None:
        """In the batch's order, as if customer_resolve ran once per key: a reference wins over an email, and a
        reference attached earlier in the batch counts as known."""
        source, external_id, email = key
        ref = (source, external_id) if external_id else None
        if ref and (ref in self.refs or ref in self.to_attach):
            self.resolved[key] = self.refs.get(ref) or self.to_attach[ref]
        elif ref and ref in self.slot_of_ref:
            slot = self.slot_of_ref[ref]
            if email and self.slots[slot]["email"] is None and email not in self.slot_of_email and email not in self.by_email:
                self.slots[slot]["email"] = email  # a new customer learns the email the batch gives later
                self.slot_of_email[email] = slot
            self.pending[key] = slot
        elif email and email in self.by_email:
            self.resolved[key] = self.by_email[email]
            if ref:
                self.to_attach[ref] = self.by_email[email]
        else:
            self.pending[key] = self._slot_for(ref, email)

    def _slot_for(self, ref: tuple[str, str] | None, email: str | None) -> int:
        slot = self.slot_of_email.get(email) if email else None
        if slot is None:
            self.slots.append({"email": email, "refs": []})
            slot = len(self.slots) - 1
            if email:
                self.slot_of_email[email] = slot
        if ref:
            self.slot_of_ref[ref] = slot
            self.slots[slot]["refs"].append(ref)
        return slot


def _slots_fill(plan: _BulkPlan, names: Mapping[CustomerKey, str], details: Mapping[CustomerKey, Mapping[str, Any]]) -> None:
    """Give each new customer the name or details of the first key that has them."""
    for key, slot in plan.pending.items():
        if names.get(key) and not plan.slots[slot].get("name"):
            plan.slots[slot]["name"] = names[key][:200]
        if details.get(key) and not plan.slots[slot].get("fields"):
            plan.slots[slot]["fields"] = dict(details[key])


def _resolve_one(key: CustomerKey, names: Mapping[CustomerKey, str], details: Mapping[CustomerKey, Mapping[str, Any]]) -> int:
    source, external_id, email = key
    sent = dict(details.get(key) or {})
    data = CustomerInput(
        email=email, external_id=external_id, name=sent.get("name") or names.get(key) or None,
        phone=sent.get("phone") or None, lifetime_value=sent.get("lifetime_value"), social_reach=sent.get("social_reach"),
    )
    return customer_resolve(data=data, source=source).pk


def _references_attach(to_attach: dict[tuple[str, str], int], resolved: dict[CustomerKey, int]) -> None:
    """Attach the new references; where another request attached the same external id first, theirs wins, as in
    customer_resolve, and the keys naming it resolve to that customer."""
    CustomerReference.objects.bulk_create(
        [CustomerReference(source=s, external_id=e, customer_id=c) for (s, e), c in to_attach.items()],
        ignore_conflicts=True,
    )
    winners: dict[tuple[str, str], int] = {}
    for source in {s for s, _ in to_attach}:
        winners.update(
            {
                (s, e): c
                for s, e, c in CustomerReference.objects.filter(
                    source=source, external_id__in=[e for s2, e in to_attach if s2 == source]
                ).values_list("source", "external_id", "customer_id")
            }
        )
    for key in resolved:
        source, external_id, _ = key
        if external_id and (source, external_id) in winners:
            resolved[key] = winners[(source, external_id)]


def _customers_create(slots: list[dict[str, Any]]) -> list[int] | None:
    """Create one customer per slot and return their ids in order; None if an email was taken meanwhile."""
    if not connection.features.can_return_rows_from_bulk_insert:
        return None
    rows = [Customer(**{"name": slot.get("name") or "", **slot.get("fields", {}), "email": slot["email"]}) for slot in slots]
    try:
        with transaction.atomic():
            Customer.objects.bulk_create(rows, batch_size=BULK_BATCH)
    except IntegrityError:
        return None
    return [row.pk for row in rows]


def customers_refresh_bulk(customers: Mapping[int, Customer], sent: Mapping[int, CustomerInput]) -> None:
    """_customer_refresh for a batch, in one UPDATE: the values sent win over stored ones (an email is only ever
    added by single intake, where a clash with another customer's can be handled row by row)."""
    changed: dict[int, Customer] = {}
    fields: set[str] = set()
    for customer_id, data in sent.items():
        customer = customers[customer_id]
        for name in ("name", "phone", "lifetime_value", "social_reach"):
            value = getattr(data, name)
            if value not in (None, "") and value != getattr(customer, name):
                setattr(customer, name, value)
                changed[customer_id] = customer
                fields.add(name)
    if changed:
        now = timezone.now()
        for customer in changed.values():
            customer.updated_at = now
        Customer.objects.bulk_update(list(changed.values()), [*sorted(fields), "updated_at"], batch_size=BULK_BATCH)
