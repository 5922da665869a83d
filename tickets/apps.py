from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = "Complaints"

    def ready(self) -> None:
        from tickets.api import auth  # noqa: F401  (registers the OpenAPI auth extension)
