from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from tickets.apikeys import api_key_create
from tickets.models import ApiKey

DEFAULT_SCOPES = [s for s in ApiKey.Scope.values if s != ApiKey.Scope.ADMIN]


class Command(BaseCommand):
    help = "Create an API key for an integration and print it (alone, on the last line). It is shown only once."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=ApiKey.Scope.values,
            help=f"Repeat for several. Default: {', '.join(DEFAULT_SCOPES)}.",
        )
        parser.add_argument("--user", help="Username of the person the key acts for (needed to decide approvals).")

    def handle(self, *args, name, scopes, user, **options):
        person = None
        if user:
            person = get_user_model().objects.filter(username=user).first()
            if person is None:
                raise CommandError(f"No user named '{user}'.")
        new = api_key_create(name=name, scopes=scopes or DEFAULT_SCOPES, user=person)
        self.stderr.write(f"Created key '{name}' with scopes: {', '.join(new.api_key.scopes)}. Store it now:")
        self.stdout.write(new.secret)
