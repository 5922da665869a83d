from django.apps import AppConfig


class HelpdeskSiteConfig(AppConfig):
    name = "helpdesk_site"

    def ready(self) -> None:
        # Email off, the generous way: a new ticket would render its notification templates even with the dummy
        # backend; CX Recovery's intake sends nothing either, so neither side pays for mail.
        from helpdesk.models import Ticket

        Ticket.send = lambda self, roles, *args, **kwargs: set()
