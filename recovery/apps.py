from django.apps import AppConfig


class RecoveryConfig(AppConfig):
    name = "recovery"
    verbose_name = "Recovery"

    def ready(self) -> None:
        # Subscribe to tickets' domain events and add recovery's panels to the complaint page.
        from notifications.catalogue import event_types_register
        from recovery.escalation import panels as escalation_panels  # noqa: F401
        from recovery.escalation import receivers as escalation_receivers  # noqa: F401
        from recovery.offers import panels as offers_panels  # noqa: F401
        from recovery.outcomes import panels as outcomes_panels  # noqa: F401
        from recovery.outcomes import receivers as outcomes_receivers  # noqa: F401
        from recovery.webhook_payloads import EVENTS

        event_types_register(EVENTS)
