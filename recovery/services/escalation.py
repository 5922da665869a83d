"""Writes for escalation."""
