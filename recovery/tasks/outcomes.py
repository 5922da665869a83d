"""Celery tasks for outcomes."""
