"""How a helpdesk's words become ours, in one place for its webhooks and its history import.

A helpdesk sends names, not our values: a priority ("Urgent", "3 high", Freshdesk's code 4), a channel
("twitter", "feedback widget"), tags. The vocabulary below reads those names the same way for every vendor; a
`Mapping` then applies a connection's own settings (tags → cause, priority → severity), which a manager edits on
the connection. An import into a connection's source uses that connection's mapping, so a ticket imported last
year and one arriving by webhook today get the same cause for the same tags.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field
from typing import Any

from tickets.helpdesks.models import DEFAULT_CAUSE_MAP, DEFAULT_SEVERITY_MAP, DEFAULT_STATUS_MAPS
from tickets.models import Cause, Channel

__all__ = ["DEFAULT_CAUSE_MAP", "DEFAULT_SEVERITY_MAP", "DEFAULT_STATUS_MAPS", "DEFAULT_MAPPING", "HelpdeskMapping"]

# --- the vocabulary ----------------------------------------------------------------------------------


def tag_key(tag: Any) -> str:
    """Tags compare in lower case with '-' and ' ' as '_': 'No-Reply', 'no reply' and 'no_reply' are one tag."""
    return str(tag).strip().lower().replace("-", "_").replace(" ", "_")


PRIORITY_WORDS = ("urgent", "high", "medium", "normal", "low")


def priority_name(value: Any) -> str | None:
    """'HIGH', 'High', '3 high' → 'high'; None when no priority word is in it."""
    word = str(value if value is not None else "").strip().lower()
    return next((name for name in PRIORITY_WORDS if name in word), None)


# Checked in order: the first keyword found in the helpdesk's channel/source name wins.
CHANNEL_WORDS: list[tuple[tuple[str, ...], str]] = [
    (
        ("twitter", "facebook", "instagram", "social", "tweet", "whatsapp", "wechat", "telegram", "any_channel"),
        Channel.SOCIAL,
    ),
    (("chat", "messaging", "beacon", "sms", "messenger"), Channel.CHAT),
    (("phone", "voice", "call"), Channel.PHONE),
    (("mail",), Channel.EMAIL),
    (("api", "web_service", "webservice"), Channel.API),
    (("web", "portal", "form", "widget", "helpcenter", "help_center", "feedback", "mobile"), Channel.WEB),
    (("in_person", "walk", "store"), Channel.IN_PERSON),
]


def channel_from(value: Any) -> str | None:
    """Our channel for a helpdesk's channel or source name; None when nothing in it names one."""
    name = tag_key(value if value is not None else "")
    if not name or name in {"none", "null"}:
        return None
    for words, channel in CHANNEL_WORDS:
        if any(word in name for word in words):
            return channel
    return None


# --- one connection's settings ---------------------------------------------------------------------


@dataclass(frozen=True)
class HelpdeskMapping:
    """A connection's mapping settings, read once: tags (or a custom field) → cause, priority → severity."""

    cause_map: MappingType[str, str]
    default_cause: str = Cause.OTHER
    severity_map: MappingType[str, int] = field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    default_severity: int = 3
    cause_field: str = ""

    @classmethod
    def of(cls, connection: Any) -> HelpdeskMapping:
        return cls(
            cause_map={tag_key(k): v for k, v in (connection.cause_map or {}).items() if v in Cause.values},
            default_cause=connection.default_cause,
            severity_map={str(k).strip().lower(): v for k, v in (connection.severity_map or {}).items()},
            default_severity=connection.default_severity,
            cause_field=connection.cause_field,
        )

    def cause(self, tags: Iterable[str], custom_fields: MappingType[str, str] | None = None) -> str | None:
        """The cause named by the custom field, else by the first mapped tag; None when nothing maps."""
        if self.cause_field and custom_fields:
            value = tag_key(custom_fields.get(self.cause_field) or "")
            if value in Cause.values:
                return value
            if value in self.cause_map:
                return self.cause_map[value]
        for tag in tags:
            cause = self.cause_map.get(tag_key(tag))
            if cause:
                return cause
        return None

    def severity(self, priority: str | None) -> int | None:
        """Our severity for a priority name (see priority_name); None when the map has none for it."""
        if not priority:
            return None
        value = self.severity_map.get(priority)
        try:
            return min(5, max(1, int(value))) if value is not None else None
        except (TypeError, ValueError):
            return None


DEFAULT_MAPPING = HelpdeskMapping(cause_map=DEFAULT_CAUSE_MAP)
