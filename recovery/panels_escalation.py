"""Complaint-page panels for escalation (registered with tickets.panels)."""
