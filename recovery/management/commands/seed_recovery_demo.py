from django.core.management.base import BaseCommand
from django.db import transaction

from recovery.escalation import demo as escalation_demo
from recovery.offers import demo as offers_demo
from recovery.outcomes import demo as outcomes_demo


class Command(BaseCommand):
    help = "Load recovery's demo data (escalations, offers, approvals, activity and outcomes). Each part loads once."

    def handle(self, *args, **options):
        with transaction.atomic():
            for area in (escalation_demo, offers_demo, outcomes_demo):
                area.seed(self.stdout)
