"""The desk's helpers: tags, bulk actions over many complaints, macros and saved queue views."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from tickets import signals
from tickets.actors import ActorRef
from tickets.errors import DomainError, InvalidInput, Unprocessable
from tickets.events import event_write
from tickets.models import (
    Complaint,
    Macro,
    SavedView,
    Status,
    TimelineEvent,
)
from tickets.permissions import complaint_change_refusal
from tickets.services.changes import complaint_assign, complaint_transition, locked

TAG_RE = re.compile(r"^[\w][\w .:/+-]{0,39}$")


def tag_clean(tag: str) -> str:
    """A tag as stored: trimmed, lower-case, at most 40 letters, digits, spaces or . : / + - _."""
    tag = (tag or "").strip().lower()
    if not TAG_RE.match(tag):
        raise InvalidInput(
            "A tag is 1 to 40 letters, digits, spaces or . : / + - _.", fields={"tag": ["Use a short tag, e.g. refund-sent."]}
        )
    return tag


@transaction.atomic
def complaint_tag_add(*, complaint: Complaint, tag: str, actor: ActorRef) -> Complaint:
    """Add a tag (no change when it is there already). Writes one 'tagged' event when the tags changed."""
    tag = tag_clean(tag)
    complaint = locked(complaint)
    tags = list(complaint.tags or [])
    if tag in tags:
        return complaint
    complaint.tags = [*tags, tag]
    complaint.save(update_fields=["tags", "updated_at"])
    event_write(
        complaint=complaint, kind=TimelineEvent.Kind.TAGGED, actor=actor, message=f"Tagged {tag}", data={"tag": tag}
    )
    signals.complaint_changed.send(sender=Complaint, complaint_id=complaint.pk, changed=frozenset({"tags"}), actor=actor)
    return complaint


BULK_MAX = 100


@dataclass(frozen=True)
class BulkOutcome:
    done: list[str]
    refused: list[tuple[str, str]]  # (reference, why)


def complaints_bulk_apply(
    *, complaints: Iterable[Complaint], action: str, value: Any, actor: ActorRef
) -> BulkOutcome:
    """Apply one action to each complaint, each in its own transaction, with the single action's checks.

    action: "assign" (value: a user or None), "status" (value: a status), "tag" (value: a tag). A complaint the
    person may not change (complaint_change_refusal) or whose status cannot make the move is refused and
    reported; the others go through. Adding a tag is open to everyone, like a note.
    """
    if action not in {"assign", "status", "tag"}:
        raise InvalidInput(f"Unknown bulk action '{action}'.", fields={"action": ["Choose assign, status or tag."]})
    if action == "tag":
        value = tag_clean(value)
    done: list[str] = []
    refused: list[tuple[str, str]] = []
    for complaint in complaints:
        user = actor.user
        if action != "tag":
            why = complaint_change_refusal(user, complaint)
            if why:
                refused.append((complaint.reference, why))
                continue
        try:
            if action == "assign":
                complaint_assign(complaint=complaint, assignee=value, actor=actor)
            elif action == "status":
                if complaint.status == value:
                    refused.append((complaint.reference, f"{complaint.reference} is {Status(value).label.lower()} already."))
                    continue
                complaint_transition(complaint=complaint, to_status=value, actor=actor)
            else:
                complaint_tag_add(complaint=complaint, tag=value, actor=actor)
        except DomainError as exc:
            refused.append((complaint.reference, exc.message))
            continue
        done.append(complaint.reference)
    return BulkOutcome(done=done, refused=refused)


@transaction.atomic
def macro_save(*, macro: Macro | None, title: str, kind: str, body: str, active: bool, actor: ActorRef) -> Macro:
    """Create (macro=None) or change a macro. The form has checked the placeholders."""
    if macro is None:
        macro = Macro(created_by=actor.user)
    macro.title, macro.kind, macro.body, macro.active = title.strip(), kind, body.strip(), active
    try:
        with transaction.atomic():
            macro.save()
    except IntegrityError as exc:
        raise Unprocessable(
            f"A macro called “{title.strip()}” exists already.", fields={"title": ["Choose another title."]}
        ) from exc
    return macro


@transaction.atomic
def saved_view_save(*, owner: Any, name: str, query: str, shared: bool) -> SavedView:
    """Save (or overwrite, by name) one of the owner's queue views."""
    view, _ = SavedView.objects.update_or_create(
        owner=owner, name=name.strip(), defaults={"query": query, "shared": shared}
    )
    return view
