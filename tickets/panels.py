"""Extra panels on the complaint page, contributed by apps that build on tickets.

tickets must not import recovery, yet the complaint page shows what recovery knows (why it was escalated,
suggested gestures, offers, the outcome). So recovery registers a render function per panel in its
AppConfig.ready(), and the page renders whatever is registered, in order, in its side column:

    from tickets.panels import register_complaint_panel
    register_complaint_panel("why_escalated", 10, render_why_escalated)

A render function takes (request, complaint) and returns an HTML snippet (usually render_to_string of a
template) or None to show nothing for this complaint. The snippet is trusted markup: escape what you render.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from tickets.models import Complaint

logger = logging.getLogger(__name__)

PanelRender = Callable[[HttpRequest, Complaint], "str | None"]


@dataclass(frozen=True)
class ComplaintPanel:
    key: str
    order: int
    render: PanelRender


_panels: dict[str, ComplaintPanel] = {}


def register_complaint_panel(key: str, order: int, render: PanelRender) -> None:
    """Show `render`'s snippet on every complaint page, sorted by `order` (then key).

    Registering the same key again replaces the earlier panel, so a module imported twice does no harm.
    """
    if not key or not callable(render):
        raise ValueError("A complaint panel needs a key and a callable render(request, complaint).")
    _panels[key] = ComplaintPanel(key=key, order=order, render=render)


def unregister_complaint_panel(key: str) -> None:
    _panels.pop(key, None)


def registered_complaint_panels() -> list[ComplaintPanel]:
    return sorted(_panels.values(), key=lambda panel: (panel.order, panel.key))


def complaint_panels(request: HttpRequest, complaint: Complaint) -> list[SafeString]:
    """The rendered panels for this complaint, in order; panels that return nothing are left out.

    A panel that raises is logged and replaced by a short notice: one broken panel must not take the
    agent's page down with it.
    """
    rendered: list[SafeString] = []
    for panel in registered_complaint_panels():
        try:
            html = panel.render(request, complaint)
        except Exception:
            logger.exception("Complaint panel %r failed for complaint %s", panel.key, complaint.pk)
            rendered.append(
                format_html(
                    '<section class="card panel panel-failed" data-panel="{}"><p>This panel could not be shown '
                    "right now. The rest of the page is up to date.</p></section>",
                    panel.key,
                )
            )
            continue
        if html:
            rendered.append(mark_safe(html))  # noqa: S308 - panels are trusted server-side templates
    return rendered


# The panel (registered by recovery) that lists the grade's reasons; when it is there the grade card does not.
GRADE_REASONS_PANEL = "why_escalated"
