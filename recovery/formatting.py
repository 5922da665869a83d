"""How recovery writes money and time for people (reasons, timeline messages, emails) and money for machines
(API and webhook JSON). The one place for each: pure, no database."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

CENT = Decimal("0.01")
CURRENCY_SYMBOL = {"GBP": "£", "EUR": "€", "USD": "$"}


def money(amount: Decimal | None, currency: str = "") -> str:
    """£1,234.50 (or "CHF 1,234.50" for a currency without a symbol here); an absent limit reads "no limit".
    Without a currency, the installation's DEFAULT_CURRENCY."""
    if amount is None:
        return "no limit"
    currency = currency or settings.DEFAULT_CURRENCY
    text = f"{Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP):,}"
    symbol = CURRENCY_SYMBOL.get(currency)
    return f"{symbol}{text}" if symbol else f"{currency} {text}"


def money_str(amount: Decimal | None) -> str:
    """An amount as JSON carries it: a string with two decimals, "0.00" when there is none."""
    return str(Decimal(amount or 0).quantize(CENT, rounding=ROUND_HALF_UP))


def when(moment: datetime | None) -> str:
    """14:05 on 3 Mar 2025, in the installation's time zone; "" for no moment."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    return f"{local:%H:%M} on {local.day} {local:%b %Y}"


def duration(seconds: float) -> str:
    """2 d 3 h 5 min: a span of time, to the minute."""
    minutes = max(0, round(seconds / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes or not (days or hours))
    return " ".join(parts)


def hours_text(hours: float) -> str:
    """1 hour, 2.5 hours."""
    return f"{hours:g} hour" + ("" if hours == 1 else "s")
