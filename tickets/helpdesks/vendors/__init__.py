"""One module per helpdesk: how it signs a request, how its deliveries are named, and how its payload maps
onto a plain TicketChange. Each module exposes `verify`, `envelope` and `parse` (see base.py)."""

from __future__ import annotations

from types import ModuleType

from tickets.helpdesks.vendors import freshdesk, helpscout, zammad, zendesk

VENDORS: dict[str, ModuleType] = {
    "zendesk": zendesk,
    "freshdesk": freshdesk,
    "zammad": zammad,
    "helpscout": helpscout,
}
