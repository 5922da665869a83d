from django.apps import AppConfig


class RecoveryConfig(AppConfig):
    name = "recovery"
    verbose_name = "Recovery"

    def ready(self) -> None:
        # Subscribe to tickets' domain events and add recovery's panels to the complaint page.
        from notifications.catalogue import event_types_register
        from recovery import panels_escalation, panels_offers, panels_outcomes, receivers  # noqa: F401
        from recovery.webhook_payloads import EVENTS

        event_types_register(EVENTS)
