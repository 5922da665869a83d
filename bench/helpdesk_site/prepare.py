"""Migrate django-helpdesk's database, make a staff user with a DRF token and one queue; print them as JSON."""

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk_site.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from helpdesk.models import Queue  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

call_command("migrate", interactive=False, verbosity=0)
user, _ = get_user_model().objects.get_or_create(
    username="bench", defaults={"is_staff": True, "is_superuser": True, "email": "bench@example.com"}
)
token, _ = Token.objects.get_or_create(user=user)
queue, _ = Queue.objects.get_or_create(
    slug="complaints", defaults={"title": "Complaints", "allow_email_submission": False}
)
print(
    json.dumps(
        {
            "token": token.key,
            "queue": queue.pk,
            "version": __import__("importlib.metadata").metadata.version("django-helpdesk"),
        }
    )
)
