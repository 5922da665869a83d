"""Celery finds tasks in <app>.tasks; the helpdesk tasks live with their package."""

from tickets.helpdesks.tasks import helpdesk_deliveries_sweep_task, helpdesk_delivery_process_task

__all__ = ["helpdesk_deliveries_sweep_task", "helpdesk_delivery_process_task"]
