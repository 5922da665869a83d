"""Input serializers take the JSON types their schema declares, and nothing DRF would quietly coerce.

DRF turns 0 into "0" for a CharField, "true" or 1 into True for a BooleanField and "5" or 5.0 into 5 for an
IntegerField. An integrator whose client sends the wrong type then gets a silently different request; the
schema (the contract) says otherwise. StrictInput refuses those with a 400 naming the field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.validators import ProhibitSurrogateCharactersValidator

# Text with something other than whitespace in it and no NUL (also the pattern the schema publishes).
NON_BLANK = r"^[^\u0000]*[^\u0000\s][^\u0000]*$"
# Any text without NUL: the pattern the schema gives every free-text field (DRF refuses NUL in a CharField).
NO_NUL = r"^[^\u0000]*$"

def decimal_pattern(field: serializers.DecimalField) -> str:
    """The strings a DecimalField accepts, as a regular expression (also published in the schema)."""
    whole = (field.max_digits - field.decimal_places) if field.max_digits is not None else None
    places = field.decimal_places or 0
    digits = f"\\d{{1,{whole}}}" if whole else "\\d+"
    sign = "" if field.min_value is not None and Decimal(field.min_value) >= 0 else "-?"
    fraction = f"(?:\\.\\d{{1,{places}}})?" if places else ""
    return f"^{sign}{digits}{fraction}$"


# A plain decimal; DRF then judges its digits, places and bounds with its own messages.
PLAIN_DECIMAL = re.compile(r"-?\d+(\.\d+)?")


def type_problem(field: serializers.Field, value: Any) -> str | None:
    """Why `value` (as parsed from JSON) is not of the type `field` declares, or None. (Lists and nested objects
    are DRF's own business: it already refuses the wrong type there.)"""
    if value is None or isinstance(field, serializers.JSONField):
        return None  # null is the field's own business (allow_null); JSON fields take any JSON
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be a valid boolean: true or false."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "A valid integer is required."
    if isinstance(field, serializers.DecimalField):
        if not isinstance(value, str) or not PLAIN_DECIMAL.fullmatch(value):
            return 'A valid number is required, written as a string such as "12.50".'
        if value.startswith("-") and field.min_value is not None and Decimal(field.min_value) >= 0:
            return f"Ensure this value is greater than or equal to {field.min_value}."
        return None
    if isinstance(field, serializers.CharField | serializers.ChoiceField | serializers.DateTimeField):
        return None if isinstance(value, str) else "Not a valid string."
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


class NoSurrogates(ProhibitSurrogateCharactersValidator):
    """DRF's check of every CharField, same message and code, with one regular expression instead of a Python loop
    over each character (a complaint's description made it a tenth of intake's validation)."""

    def __call__(self, value: Any) -> None:
        found = _SURROGATE.search(str(value))
        if found is not None:
            raise ValidationError(self.message.format(code_point=ord(found.group())), code=self.code)


def _fast_text_checks(field: serializers.Field) -> None:
    if isinstance(field, serializers.CharField):
        field.validators = [
            NoSurrogates() if type(v) is ProhibitSurrogateCharactersValidator else v for v in field.validators
        ]
    child = getattr(field, "child", None)
    if isinstance(child, serializers.CharField):
        _fast_text_checks(child)


class StrictInput(serializers.Serializer):
    # Base of the API's input serializers: the JSON type of every declared field is checked first. (A comment,
    # not a docstring: the schema would show it as every input's description.)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for field in fields.values():
            _fast_text_checks(field)
        return fields

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            errors: dict[str, list[str]] = {}
            for name, field in self.fields.items():
                if field.read_only or name not in data:
                    continue
                value = data[name]
                problem = type_problem(field, value)
                if problem is None and isinstance(field, serializers.ListField) and isinstance(value, list):
                    problem = next((p for p in (type_problem(field.child, item) for item in value) if p), None)
                if problem:
                    errors[name] = [problem]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
