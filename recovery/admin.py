"""Django's admin autodiscovery imports recovery.admin; each sub-domain registers its own models."""

from recovery.escalation import admin as escalation_admin  # noqa: F401
from recovery.offers import admin as offers_admin  # noqa: F401
from recovery.outcomes import admin as outcomes_admin  # noqa: F401
