"""Complaint-page panels for offers (registered with tickets.panels)."""
