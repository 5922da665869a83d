"""Celery tasks for escalation."""
