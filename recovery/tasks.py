"""Celery's autodiscovery imports recovery.tasks; each sub-domain keeps its tasks in recovery/<sub-domain>/tasks.py."""

from recovery.escalation.tasks import *  # noqa: F401,F403
from recovery.offers.tasks import *  # noqa: F401,F403
from recovery.outcomes.tasks import *  # noqa: F401,F403
