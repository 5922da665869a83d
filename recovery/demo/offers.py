"""Demo data for offers, loaded once by `manage.py seed_recovery_demo` (called by `make run`)."""

from __future__ import annotations


def seed(stdout) -> None:
    """Add this area's demo data; called after tickets' seed_demo; must do nothing the second time."""
