from recovery.admin import escalation, offers, outcomes  # noqa: F401
