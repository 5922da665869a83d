"""Reads for escalation."""
