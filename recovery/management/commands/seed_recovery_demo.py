from django.core.management.base import BaseCommand
from django.db import transaction

from recovery.demo import escalation, offers, outcomes


class Command(BaseCommand):
    help = "Load recovery's demo data (escalations, offers, approvals, activity and outcomes). Each part loads once."

    def handle(self, *args, **options):
        with transaction.atomic():
            for area in (escalation, offers, outcomes):
                area.seed(self.stdout)
