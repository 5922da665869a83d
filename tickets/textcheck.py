"""Text no database can store safely: NUL characters (PostgreSQL refuses them) and lone UTF-16 surrogates
(not encodable as UTF-8, so every later read of the row fails). Rejected at the edge, named by field."""

from __future__ import annotations

import re
from typing import Any

_BAD = re.compile("[\x00\ud800-\udfff]")

NUL_MESSAGE = "Null characters are not allowed: remove the \\u0000 (NUL), it cannot be stored."
SURROGATE_MESSAGE = "Remove the lone surrogate (e.g. \\ud800): it is not valid Unicode text."


def text_problem(value: str) -> str | None:
    """The reason `value` cannot be stored, or None when it is fine."""
    found = _BAD.search(value)
    if found is None:
        return None
    return NUL_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE


def text_problems(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """Every string (keys too) in a parsed JSON value that cannot be stored, by path: {"customer.name": [...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(data, str):
        problem = text_problem(data)
        if problem:
            out[prefix or "non_field_errors"] = [problem]
    elif isinstance(data, dict):
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(key, str) and text_problem(key):
                # The key itself cannot be echoed back (it would break the answer too): name its parent.
                out[prefix or "non_field_errors"] = [f"A key here is not storable text. {text_problem(key)}"]
                continue
            out.update(text_problems(value, name))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            out.update(text_problems(item, f"{prefix}[{index}]"))
    return out
