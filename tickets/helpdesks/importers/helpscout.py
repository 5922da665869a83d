"""Help Scout: conversations as the Mailbox API 2.0 returns them (`GET /v2/conversations?status=all&embed=threads`).

Save the pages as they come (one page per line, or one page as a document: the conversations sit under
`_embedded.conversations`), or one conversation object per line, or a JSON array of conversations.

Fields used (Help Scout's names): `id`, `subject`, `preview`, `status` (active, pending, closed; `spam` is
skipped), `type` (email, chat, phone), `createdAt`, `closedAt`, `userUpdatedAt`, `primaryCustomer` (`id`,
`first`, `last`, `email`), `tags` (objects with `tag`), and with `embed=threads` the threads under
`_embedded.threads`: a thread of `type` "customer" is the customer writing (`body`, `createdAt`); the first is
the description, the later ones the customer's comments.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

from tickets.helpdesks.importers.base import (
    BadRow,
    Item,
    RowError,
    Skipped,
    TicketRow,
    email_from,
    json_records,
    plain,
    status_from,
    subject_from,
    tags_from,
    text_id,
    when,
)
from tickets.helpdesks.mapping import channel_from
from tickets.models import Channel, Status

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def read(binary: IO[bytes]) -> Iterator[Item]:
    for line, record in json_records(binary, page_keys=("_embedded.conversations",)):
        if isinstance(record, RowError):
            yield BadRow(line, str(record))
            continue
        page = record.get("_embedded") if isinstance(record, dict) else None
        if isinstance(page, dict) and isinstance(page.get("conversations"), list):
            for conversation in page["conversations"]:
                yield _safe(line, conversation)
        else:
            yield _safe(line, record)


def _safe(line: int, conversation: Any) -> Item:
    try:
        return _row(line, conversation)
    except RowError as exc:
        return BadRow(line, str(exc))


def _row(line: int, conversation: Any) -> Item:
    if not isinstance(conversation, dict):
        raise RowError("Expected a conversation object.")
    external_id = text_id(conversation.get("id"), "The conversation's id")
    status_word = str(conversation.get("status") or "").lower()
    if status_word == "spam":
        return Skipped(line, f"conversation {external_id} is spam")
    customer = conversation.get("primaryCustomer") or conversation.get("customer") or {}
    email = email_from(customer.get("email"))
    ref = str(customer.get("id")) if customer.get("id") not in (None, "") else None
    if not email and not ref:
        raise RowError(f"Conversation {external_id} has no primaryCustomer with an id or email.")
    name = " ".join(str(customer.get(k) or "") for k in ("first", "last")).strip()
    status = status_from(status_word, line_hint="Help Scout status")
    tags = tags_from([t.get("tag") if isinstance(t, dict) else t for t in conversation.get("tags") or []])
    threads = ((conversation.get("_embedded") or {}).get("threads")) or []
    written = [
        (when(t.get("createdAt"), "thread createdAt"), plain(t.get("body")))
        for t in threads
        if isinstance(t, dict) and t.get("type") == "customer"
    ]
    # The API lists threads newest first; the customer's first message is the description.
    written = sorted((w for w in written if w[1]), key=lambda w: w[0] or EPOCH)
    description = written[0][1] if written else plain(conversation.get("preview"))
    closed = when(conversation.get("closedAt"), "closedAt")
    updated = when(conversation.get("userUpdatedAt"), "userUpdatedAt")
    return TicketRow(
        line=line,
        external_id=external_id,
        created_at=when(conversation.get("createdAt"), "createdAt", required=True),
        updated_at=updated,
        subject=subject_from(conversation.get("subject"), description),
        description=description,
        customer_email=email,
        customer_name=name[:200],
        customer_external_id=ref,
        status=status,
        # Help Scout has no priority: the connection's default severity applies.
        channel=channel_from(conversation.get("type")) or Channel.EMAIL,
        tags=tags,
        resolved_at=(closed or updated) if status in (Status.RESOLVED, Status.CLOSED) else None,
        closed_at=(closed or updated) if status == Status.CLOSED else None,
        customer_comments=written[1:],
    )
