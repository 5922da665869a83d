from django.apps import AppConfig


class RecoveryConfig(AppConfig):
    name = "recovery"
    verbose_name = "Recovery"

    def ready(self) -> None:
        # Subscribe to tickets' domain events and add recovery's panels to the complaint page.
        from recovery import panels_escalation, panels_offers, panels_outcomes, receivers  # noqa: F401
