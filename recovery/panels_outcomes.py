"""Complaint-page panels for outcomes (registered with tickets.panels)."""
