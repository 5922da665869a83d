"""Email addresses as the whole product takes them, and as the API's schema publishes them.

Django's EmailValidator alone takes what an integrator's JSON Schema validator refuses (a local part of 79
characters) and the schema's `format: email` alone lets through what Django refuses (`a@b.c`). One pattern closes
both gaps: a dot-atom local part of at most 64 characters (RFC 5321), dotted host labels of at most 63, and a
top-level domain of two or more letters. The API, the activity intake and the schema all use it.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

EMAIL_PATTERN = (
    r"^(?=[^@]{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
EMAIL_MAX_LENGTH = 254
EMAIL_MESSAGE = "Enter a valid email address, like name@example.com (at most 64 characters before the @)."
_EMAIL = re.compile(EMAIL_PATTERN)


def validate_email_address(value: str) -> None:
    """Raises ValidationError unless `value` is an address both Django and the published pattern accept."""
    if len(value) > EMAIL_MAX_LENGTH or not _EMAIL.match(value):
        raise ValidationError(EMAIL_MESSAGE, code="invalid")
    validate_email(value)
