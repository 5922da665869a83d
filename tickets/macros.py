"""Macro placeholders: {{customer_name}}, {{reference}}, ... filled in from the complaint.

Substitution is plain text replacement of known names, never Django's template engine: a macro body (or a value
put into it, such as a customer's name) cannot run template code, reach attributes or include other templates.
A customer named "{{reference}}" stays literally that, because replaced values are not scanned again.

Placeholders that need another app's data (the gesture's script lives in recovery) are named in
settings.MACRO_PLACEHOLDERS as dotted paths to functions (complaint) -> str, so tickets imports nothing above it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from tickets.models import Complaint

PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Placeholder:
    name: str
    help: str
    value: Callable[[Complaint, Any], str]


def _agent_name(complaint: Complaint, user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


BUILT_IN: list[Placeholder] = [
    Placeholder("customer_name", "the customer's name (or “there” when we have none)", lambda c, u: c.customer.name or "there"),
    Placeholder("customer_first_name", "the first word of the customer's name", lambda c, u: (c.customer.name or "there").split()[0]),
    Placeholder("reference", "the complaint's reference, e.g. CX-000123", lambda c, u: c.reference),
    Placeholder("subject", "the complaint's subject", lambda c, u: c.subject),
    Placeholder("agent_name", "your name", _agent_name),
]


def placeholders() -> list[Placeholder]:
    """Every placeholder a macro may use: the built-in ones and those configured in settings.MACRO_PLACEHOLDERS."""
    extra = [
        Placeholder(name, help_text, lambda c, u, path=path: str(import_string(path)(c) or ""))
        for name, (path, help_text) in getattr(settings, "MACRO_PLACEHOLDERS", {}).items()
    ]
    return [*BUILT_IN, *extra]


def placeholder_names(body: str) -> list[str]:
    return list(dict.fromkeys(PLACEHOLDER_RE.findall(body or "")))


def unknown_placeholders(body: str) -> list[str]:
    known = {p.name for p in placeholders()}
    return [name for name in placeholder_names(body) if name not in known]


def macro_render(body: str, *, complaint: Complaint, user: Any = None) -> str:
    """The macro's text for this complaint. Unknown placeholders are left as typed (the macro form refuses them)."""
    known = {p.name: p for p in placeholders()}
    values: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in known:
            return match.group(0)
        if name not in values:
            values[name] = known[name].value(complaint, user)
        return values[name]

    # One pass with re.sub: a value that itself looks like a placeholder is not replaced again.
    return PLACEHOLDER_RE.sub(replace, body or "")
