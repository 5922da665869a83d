"""Celery discovers recovery.tasks; each area keeps its tasks in its own module."""

from recovery.tasks.escalation import *  # noqa: F401,F403
from recovery.tasks.offers import *  # noqa: F401,F403
from recovery.tasks.outcomes import *  # noqa: F401,F403
