"""Celery tasks for offers."""
