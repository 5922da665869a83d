"""Template helpers of the agent's desk: deadlines in words, grade reasons, badges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.forms import BoundField
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

SOON_SECONDS = 2 * 3600  # a deadline this close is shown as "due soon"


def duration_words(seconds: float) -> str:
    """A span of time the way an agent says it: '40 min', '3 h', '5 h 20 min', '4 days'."""
    minutes = int(abs(seconds) // 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {rest} min" if rest and hours < 10 else "")
    days = hours // 24
    return f"{days} days"


@register.filter
def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in the largest unit only: 'just now', '52 min ago', '3 h ago', '4 days ago'."""
    if moment is None:
        return ""
    seconds = ((now or timezone.now()) - moment).total_seconds()
    minutes = int(seconds // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // (24 * 60)} days ago"


@register.simple_tag
def deadline(due: datetime | None, done_at: datetime | None = None, now: datetime | None = None) -> SafeString:
    """A deadline with the time left, or how late it is; met deadlines say when they were met.

    Lateness is said in words ("overdue by 3 h") as well as shown in colour.
    """
    if due is None:
        return mark_safe('<span class="due none">No deadline</span>')
    if done_at is not None:
        if done_at <= due:
            return format_html('<span class="due met">Met ({} early)</span>', duration_words((due - done_at).total_seconds()))
        return format_html('<span class="due missed">Missed by {}</span>', duration_words((done_at - due).total_seconds()))
    now = now or timezone.now()
    left = (due - now).total_seconds()
    # data-due lets app.js keep the words ticking without a reload.
    iso = due.isoformat()
    if left <= 0:
        return format_html('<span class="due late" data-due="{}"><strong>Overdue</strong> by {}</span>', iso, duration_words(left))
    css = "due soon" if left <= SOON_SECONDS else "due ok"
    return format_html('<span class="{}" data-due="{}">{} left</span>', css, iso, duration_words(left))


@register.filter
def reason_text(reason: Any) -> str:
    """A grade reason as stored by recovery ({"code", "text", "points", "forces_ugly"}) or a plain string."""
    if isinstance(reason, dict):
        return str(reason.get("text") or reason.get("code") or "")
    return str(reason)


@register.filter
def reason_points(reason: Any) -> str:
    if isinstance(reason, dict):
        if reason.get("forces_ugly"):
            return "makes it ugly"
        points = reason.get("points")
        if isinstance(points, (int, float)) and points:
            return f"{points:+g}"
    return ""


@register.simple_tag
def grade_badge(grade: str, label: str = "") -> SafeString:
    """The experience grade in colour and in words; an empty grade reads 'Not graded'."""
    if not grade:
        return mark_safe('<span class="badge grade grade-none">Not graded</span>')
    return format_html('<span class="badge grade grade-{}">{}</span>', grade, label or grade.capitalize())


@register.simple_tag
def status_badge(status: str, label: str) -> SafeString:
    return format_html('<span class="badge status status-{}">{}</span>', status, label)


@register.simple_tag
def quick_select(field: BoundField) -> SafeString:
    """A bound ChoiceField as a plain <select>, built in Python.

    The queue draws seven of these on every page; Django's widget templates render one template per
    option, which costs more than the whole page of complaints.
    """
    value = field.value()
    chosen = {str(v) for v in value} if isinstance(value, (list, tuple)) else {"" if value is None else str(value)}
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((choice, mark_safe(" selected") if str(choice) in chosen else "", label) for choice, label in field.field.choices),
    )
    return format_html('<select name="{}" id="{}">{}</select>', field.html_name, field.auto_id, options)
