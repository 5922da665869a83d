"""Create a helpdesk connection from the shell; the last line printed is the inbound URL path alone."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tickets.errors import DomainError
from tickets.helpdesks import services
from tickets.helpdesks.models import HelpdeskKind


class Command(BaseCommand):
    help = (
        "Connect a helpdesk: helpdesk_connect KIND NAME [--secret SECRET] [--api-url URL --api-user USER "
        "--api-token TOKEN]. Prints the webhook path last."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=HelpdeskKind.values)
        parser.add_argument("name", help="the connection's name, which becomes the complaints' source")
        parser.add_argument("--secret", default="", help="the signing secret / password (generated when omitted)")
        parser.add_argument(
            "--api-url", default="", help="write-back: the helpdesk's API address, e.g. https://yourco.zendesk.com"
        )
        parser.add_argument(
            "--api-user", default="", help="write-back: Zendesk agent email; Help Scout OAuth App ID; unused otherwise"
        )
        parser.add_argument(
            "--api-token",
            default="",
            help="write-back: Zendesk API token, Freshdesk API key, Zammad access token, Help Scout App Secret",
        )

    def handle(self, *args, kind: str, name: str, secret: str, api_url: str, api_user: str, api_token: str, **options):
        writes_back = bool(api_url or api_user or api_token)
        try:
            with transaction.atomic():
                new = services.connection_create(kind=kind, name=name, secret=secret)
                if writes_back:
                    services.connection_set_api(
                        connection=new.connection, api_url=api_url, api_user=api_user, api_token=api_token
                    )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        connection = new.connection
        connection.refresh_from_db()
        self.stdout.write(f"Connected {connection.get_kind_display()} as source '{connection.name}'.")
        if not secret:
            self.stdout.write(f"Generated secret (shown once): {new.secret}")
        if writes_back:
            self.stdout.write(f"Write-back on: notes and tags go to {connection.api_url} (the token is stored encrypted).")
        self.stdout.write("Webhook URL path (prefix it with this site's address):")
        self.stdout.write(connection.inbound_path)
