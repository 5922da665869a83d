"""Create a helpdesk connection from the shell; the last line printed is the inbound URL path alone."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tickets.errors import DomainError
from tickets.helpdesks import services
from tickets.helpdesks.models import HelpdeskKind


class Command(BaseCommand):
    help = "Connect a helpdesk: helpdesk_connect KIND NAME [--secret SECRET]. Prints the webhook path last."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=HelpdeskKind.values)
        parser.add_argument("name", help="the connection's name, which becomes the complaints' source")
        parser.add_argument("--secret", default="", help="the signing secret / password (generated when omitted)")

    def handle(self, *args, kind: str, name: str, secret: str, **options):
        try:
            new = services.connection_create(kind=kind, name=name, secret=secret)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        connection = new.connection
        self.stdout.write(f"Connected {connection.get_kind_display()} as source '{connection.name}'.")
        if not secret:
            self.stdout.write(f"Generated secret (shown once): {new.secret}")
        self.stdout.write("Webhook URL path (prefix it with this site's address):")
        self.stdout.write(connection.inbound_path)
