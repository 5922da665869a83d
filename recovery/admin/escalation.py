"""Admin for escalation."""
