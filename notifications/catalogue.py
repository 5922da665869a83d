"""The names of the events the apps publish. notifications knows none of them itself: each app registers its
own at start-up (AppConfig.ready), so the API can refuse a subscription to an event that does not exist."""

from __future__ import annotations

_EVENT_TYPES: dict[str, str] = {}


def event_types_register(types: dict[str, str]) -> None:
    """Register {"complaint.logged": "what it means", ...}. Safe to call again."""
    _EVENT_TYPES.update(types)


def event_types() -> dict[str, str]:
    return dict(sorted(_EVENT_TYPES.items()))


def event_types_unknown(names: list[str]) -> list[str]:
    return sorted({name for name in names if name not in _EVENT_TYPES})
