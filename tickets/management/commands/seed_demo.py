"""Demo data for `make run`: one user per role, 40 written complaints across every cause and grade, and 60
everyday ones, in the mix a real team sees: most minor and answered within hours, a handful serious, a few
percent ugly (a safety fault, a lawyer, a public post, one case left unanswered for two days), two customers
who complain again. So most open cases stay with the front line and the executive's inbox holds a few.

Runs once: a second call sees the demo users and does nothing (use --force to add the complaints again).
"""

from __future__ import annotations

import os
import random
import re
import unicodedata
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from tickets import services
from tickets.actors import ActorRef
from tickets.models import Complaint, Status

DEMO_USERS = [
    # username, password, first, last, role
    ("agent", "agent-demo-pass", "Ana", "Ortiz", "agent"),
    ("agent2", "agent2-demo-pass", "Ben", "Walsh", "agent"),
    ("lead", "lead-demo-pass", "Leila", "Haddad", "lead"),
    ("manager", "manager-demo-pass", "Marcus", "Reid", "manager"),
    ("executive", "executive-demo-pass", "Evelyn", "Chao", "executive"),
]

CUSTOMERS = [
    # name, email, lifetime value, social reach
    ("Priya Raman", "priya.raman@example.com", "4200", 12400),
    ("Tom Becker", "tom.becker@example.com", "380", 140),
    ("Sofia Lindqvist", "sofia.l@example.com", "12800", 2300),
    ("Daniel Okafor", "d.okafor@example.com", "95", 60),
    ("Hannah Moore", "hannah.moore@example.com", "1560", 48000),
    ("Luis Ferreira", "luis.ferreira@example.com", "730", 310),
    ("Grace Kim", "grace.kim@example.com", "2210", 890),
    ("Oliver Hughes", "oliver.h@example.com", "150", 35),
    ("Amira Nasser", "amira.nasser@example.com", "6400", 5200),
    ("Jakub Nowak", "jakub.nowak@example.com", "510", 120),
    ("Chloe Martin", "chloe.martin@example.com", "88", 2100),
    ("Ravi Patel", "ravi.patel@example.com", "9100", 700),
    ("Emma Schulz", "emma.schulz@example.com", "260", 95),
    ("Kwame Mensah", "kwame.mensah@example.com", "1340", 16000),
    ("Isabel Costa", "isabel.costa@example.com", "3020", 410),
    ("Noah Williams", "noah.w@example.com", "45", 20),
    ("Yuki Tanaka", "yuki.tanaka@example.com", "1980", 1300),
    ("Fatima Zahra", "fatima.zahra@example.com", "720", 260),
    ("Sean O'Brien", "sean.obrien@example.com", "5600", 90),
    ("Marta Rossi", "marta.rossi@example.com", "410", 3800),
]

# cause, severity, channel, subject, description, loss, threatens public, says won't return, status, days ago
COMPLAINTS = [
    ("staff_conduct", 4, "chat", "Agent used foul language in chat",
     "During a chat about a download problem the agent sent a message full of swearing, clearly meant for a colleague. I was shocked.",
     "0", False, False, "in_progress", 0),
    ("staff_conduct", 3, "in_person", "Store manager laughed at my return request",
     "I brought back a faulty kettle with the receipt and the manager laughed and said 'good luck'. Other customers watched.",
     "49.99", False, False, "in_progress", 2),
    ("staff_conduct", 2, "phone", "Advisor did not know the basics of my plan",
     "The phone advisor could not tell me what my own contract includes and transferred me three times.",
     "0", False, False, "in_progress", 5),
    ("staff_conduct", 2, "email", "Curt reply to a simple question",
     "I asked when my order ships and got a one-line reply telling me to read the FAQ.",
     "0", False, False, "resolved", 12),
    ("staff_conduct", 3, "social", "Rude delivery driver threw parcel over fence",
     "The driver swore at me when I asked him to wait, then threw the parcel over the fence. I have a video.",
     "120", False, False, "in_progress", 1),
    ("product_quality", 3, "web", "Sofa fabric tearing after three weeks",
     "The seams of the new sofa are coming apart after three weeks of normal use. It cost a lot of money.",
     "1299", False, False, "in_progress", 4),
    ("product_quality", 2, "email", "Coffee machine leaks from the base",
     "Water pools under the machine after every use.",
     "189", False, False, "waiting_on_customer", 6),
    ("product_quality", 2, "web", "Shirt colour not as pictured",
     "The shirt is a much darker blue than on the website.",
     "35", False, False, "resolved", 20),
    ("product_quality", 5, "phone", "Child seat buckle snapped",
     "The buckle of the car seat snapped on the second day. This is a safety issue and I want it taken seriously.",
     "240", False, True, "new", 0),
    ("product_quality", 1, "web", "Scratched lid on a storage box",
     "Small scratch on the lid, not a big deal but thought you should know.",
     "0", False, False, "closed", 40),
    ("service_delay", 2, "email", "Installation postponed twice",
     "The engineer visit has been moved twice and I took two days off work for nothing.",
     "300", False, False, "in_progress", 3),
    ("service_delay", 3, "phone", "Wedding cake delivered two hours late",
     "The cake arrived after the speeches. Our guests left without dessert.",
     "450", False, False, "in_progress", 1),
    ("service_delay", 2, "web", "Refund took 12 days instead of 5",
     "The refund finally arrived but a week later than promised.",
     "0", False, False, "resolved", 15),
    ("service_delay", 2, "chat", "Order stuck in 'processing' for 9 days",
     "Nobody can tell me where my order is.",
     "89", False, False, "waiting_on_customer", 9),
    ("service_delay", 5, "social", "Flight rebooking left family stranded overnight",
     "We waited 14 hours at the airport with two small children and no hotel was offered. Posting this everywhere.",
     "780", True, False, "in_progress", 0),
    ("failed_fix", 3, "phone", "Boiler repaired three times, still no hot water",
     "Third visit this month and the boiler still fails every morning.",
     "210", False, False, "in_progress", 8),
    ("failed_fix", 2, "email", "Laptop back from repair with the same fault",
     "The screen flicker is back a day after the repair.",
     "0", False, False, "in_progress", 2),
    ("failed_fix", 5, "web", "Roof leak 'fixed' four times, ceiling now collapsed",
     "After four repair visits the ceiling of the bedroom has collapsed. I am talking to a lawyer.",
     "3400", False, False, "in_progress", 6),
    ("failed_fix", 2, "chat", "App sync bug returned after update",
     "The calendar sync issue you fixed in March is back.",
     "0", False, False, "resolved", 25),
    ("failed_fix", 1, "phone", "Washing machine drum noise again",
     "The noise came back two weeks after the engineer replaced the bearing.",
     "0", False, False, "waiting_on_customer", 11),
    ("pricing", 2, "email", "Charged twice for one subscription",
     "My card shows two charges for the same month.",
     "59.98", False, False, "in_progress", 2),
    ("pricing", 2, "web", "Promo code not applied at checkout",
     "The 20% code from your newsletter was rejected.",
     "18", False, False, "resolved", 18),
    ("pricing", 3, "phone", "Renewal price jumped 60% without notice",
     "My home insurance renewed at a much higher price and nobody told me.",
     "420", False, False, "in_progress", 1),
    ("pricing", 1, "email", "Price dropped the day after I bought",
     "Just a bit annoyed the price dropped the next day.",
     "25", False, False, "closed", 33),
    ("pricing", 2, "chat", "Hidden delivery fee added at the last step",
     "The delivery fee only appeared on the final page.",
     "7.99", False, False, "new", 0),
    ("ignored", 3, "email", "Four emails and no reply",
     "I have emailed four times over two weeks about a missing item and heard nothing.",
     "64", False, False, "new", 2),
    ("ignored", 3, "phone", "On hold for 70 minutes, then cut off",
     "I waited 70 minutes and the line went dead. Nobody called back.",
     "0", False, False, "in_progress", 3),
    ("ignored", 2, "web", "Contact form never answered",
     "Sent a question through the form a week ago.",
     "0", False, False, "in_progress", 7),
    ("ignored", 4, "social", "Nobody answers about my cancelled surgery kit",
     "My medical supplies order was cancelled and no one has answered in 10 days. My followers will hear about this.",
     "150", False, False, "resolved", 10),
    ("ignored", 2, "chat", "Chat closed while I was typing",
     "The chat session was closed on me twice without an answer.",
     "0", False, False, "waiting_on_customer", 4),
    ("other", 2, "web", "Website logs me out constantly",
     "I get logged out every few minutes.",
     "0", False, False, "in_progress", 5),
    ("other", 1, "email", "Newsletter keeps arriving after unsubscribing",
     "Unsubscribed twice.",
     "0", False, False, "resolved", 22),
    ("other", 2, "in_person", "Store closed during posted opening hours",
     "Drove 40 minutes to find the store closed at 3pm on a Saturday.",
     "15", False, False, "new", 0),
    ("product_quality", 3, "email", "Running shoes sole detached",
     "The sole came off after 50 km.",
     "110", False, False, "resolved", 30),
    ("service_delay", 1, "web", "Tracking page updated late",
     "Tracking showed 'not shipped' although the parcel had arrived.",
     "0", False, False, "closed", 45),
    ("staff_conduct", 3, "in_person", "Cashier ignored me to finish a phone call",
     "I waited while the cashier chatted on her phone.",
     "0", False, False, "resolved", 16),
    ("pricing", 5, "phone", "Charged £2,300 for a cancelled holiday",
     "You took the full balance for a holiday you cancelled yourselves. I will go to the press.",
     "2300", True, True, "resolved", 3),
    ("failed_fix", 3, "email", "Car gearbox warning after third repair",
     "The gearbox warning light came back on the motorway.",
     "650", False, False, "in_progress", 9),
    ("ignored", 3, "email", "Complaint about a damaged fridge unanswered for a month",
     "I reported the dent on delivery a month ago. Nothing since.",
     "899", False, False, "waiting_on_customer", 12),
    ("product_quality", 1, "chat", "Headphones crackle in the left ear",
     "Left side crackles at higher volume.",
     "79", False, False, "in_progress", 3),
]

# Customers for the written complaints beyond the first 20 (name, lifetime value, social reach).
MORE_CUSTOMERS = [
    ("Aoife Byrne", "640", 80), ("Mehmet Yilmaz", "1120", 150), ("Laura Petit", "310", 45), ("Samuel Adeyemi", "2750", 600),
    ("Julia Novak", "95", 30), ("Arjun Mehta", "4800", 220), ("Elena Popescu", "180", 70), ("Tomás Ruiz", "870", 1100),
    ("Freya Olsen", "430", 25), ("Hiroshi Sato", "1650", 340), ("Zainab Bello", "220", 90), ("Lukas Weber", "3900", 130),
    ("Camille Laurent", "560", 410), ("Diego Alvarez", "75", 15), ("Niamh Kelly", "1290", 260),
    ("Pavel Horak", "340", 55), ("Sara Lind", "990", 180), ("Adebayo Okoro", "150", 40), ("Lea Fontaine", "2100", 700),
    ("Marek Zielinski", "610", 65),
]
# Written complaints by a customer who complained before (index -> index of the earlier complaint).
REPEATS = {29: 27, 19: 16}

# Everyday complaints: (cause, severity, channel, subject, description, loss). Most are minor and answered quickly.
EVERYDAY = [
    ("product_quality", 1, "web", "Missing screw in the flat-pack shelf", "One of the screws was missing from the box.", "0"),
    ("product_quality", 2, "email", "Toaster browns one side only", "The left slot barely toasts.", "29"),
    ("product_quality", 2, "chat", "Phone case cracked at the corner", "Cracked after a small drop.", "15"),
    ("product_quality", 1, "web", "Label on the jar was smudged", "Could hardly read the best-before date.", "0"),
    ("service_delay", 2, "web", "Parcel arrived a day late", "It said next day, it came the day after.", "0"),
    ("service_delay", 1, "email", "Order confirmation email came hours later", "I thought the order had failed.", "0"),
    ("service_delay", 2, "phone", "Waited 20 minutes on the phone", "The queue was long before someone answered.", "0"),
    ("service_delay", 2, "chat", "Click-and-collect not ready at the time given", "Had to wait at the desk.", "0"),
    ("pricing", 1, "web", "Shelf price differed from the till", "The till charged 50p more than the shelf label.", "0.50"),
    ("pricing", 2, "email", "Loyalty points not added", "My last two orders earned no points.", "4"),
    ("pricing", 2, "chat", "Gift card balance looks wrong", "The balance is lower than it should be.", "10"),
    ("staff_conduct", 1, "in_person", "Nobody at the help desk", "I had to look for someone to help me.", "0"),
    ("staff_conduct", 2, "phone", "Advisor gave me the wrong opening hours", "I came to a closed branch.", "0"),
    ("ignored", 2, "email", "No reply to my question about sizes", "I asked which size to choose and heard nothing.", "0"),
    ("other", 1, "web", "Password reset email lands in spam", "Every time I reset it.", "0"),
    ("other", 1, "email", "Receipt shows the wrong store", "Just so you know.", "0"),
    ("other", 2, "web", "Wishlist emptied itself", "All my saved items disappeared.", "0"),
    ("failed_fix", 1, "web", "Coupon error came back", "The checkout error you fixed last week is back.", "0"),
]
EVERYDAY_COUNT = 60
FIRST_NAMES = ["Alice", "Bruno", "Carla", "Dmitri", "Eva", "Farid", "Greta", "Hugo", "Irene", "Jonas", "Kira", "Leon",
               "Mina", "Nils", "Olga", "Pedro", "Rosa", "Stefan", "Tara", "Umar"]
LAST_NAMES = ["Andersen", "Brennan", "Castro", "Dimitrov", "Eriksen", "Farah", "Gallo", "Horvat", "Iqbal", "Jansen",
              "Keller", "Larsen", "Moreau", "Novak", "Ortega", "Price", "Reyes", "Stone", "Torres", "Vogel"]
# Everyday statuses, weighted: most answered and done, some open with an answer given, a few just logged.
EVERYDAY_STATUSES = {"closed": 30, "resolved": 30, "in_progress": 22, "waiting_on_customer": 12, "new": 6}

STATUS_PATHS = {
    "new": [],
    "in_progress": [Status.IN_PROGRESS],
    "waiting_on_customer": [Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER],
    "resolved": [Status.IN_PROGRESS, Status.RESOLVED],
    "closed": [Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED],
}


def _email_local(name: str) -> str:
    """"Tomás Ruiz" -> "tomas.ruiz": the addresses every email rule accepts (the API's schema says format: email)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return ".".join(part for part in re.split(r"[^a-z0-9]+", plain.lower()) if part)


class Command(BaseCommand):
    help = "Load demo users (one per role) and 100 demo complaints, once."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Add the demo complaints even if demo users exist.")
        parser.add_argument("--quiet-users", action="store_true", help="Do not print the demo sign-ins.")

    def handle(self, *args, force: bool, quiet_users: bool, **options):
        User = get_user_model()
        first_time = not User.objects.filter(username="agent").exists()
        users = self._users()
        if first_time or force:
            self._complaints(users)
            self.stdout.write(self.style.SUCCESS(f"Loaded {len(COMPLAINTS) + EVERYDAY_COUNT} demo complaints."))
        if not quiet_users:
            port = os.environ.get("PORT", "8000")
            self.stdout.write(f"Demo sign-ins (http://127.0.0.1:{port}/accounts/login/):")
            for username, password, _, _, role in DEMO_USERS:
                self.stdout.write(f"  {role:<10} {username:<10} password: {password}")
            self.stdout.write("  admin      admin      password: admin-demo-pass (Django admin)")

    @transaction.atomic
    def _users(self) -> dict[str, object]:
        User = get_user_model()
        users = {}
        for username, password, first, last, role in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username}@cx-recovery.example"},
            )
            if created:
                user.set_password(password)
                user.save()
                user.groups.add(Group.objects.get(name=role))
            users[username] = user
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@cx-recovery.example", "admin-demo-pass")
        return users

    def _complaints(self, users: dict[str, object]) -> None:
        rng = random.Random(2026)
        now = timezone.now()
        agents = [users["agent"], users["agent2"], None]
        for index, row in enumerate(COMPLAINTS):
            cause, severity, channel, subject, description, loss, public, wont_return, status, days_ago = row
            who = REPEATS.get(index, index)
            if who < len(CUSTOMERS):
                name, email, ltv, reach = CUSTOMERS[who]
            else:
                name, ltv, reach = MORE_CUSTOMERS[who - len(CUSTOMERS)]
                email = f"{_email_local(name)}@example.com"
            fields = {
                "cause": cause, "severity": severity, "channel": channel, "subject": subject,
                "description": description, "monetary_loss": Decimal(loss),
                "threatens_public": public, "says_wont_return": wont_return,
            }
            customer = (email, name, ltv, reach, f"demo-customer-{who}")
            self._log(users, agents[index % 3], customer, fields, f"demo-{index + 1}", status, days_ago, rng, now)
        for index in range(EVERYDAY_COUNT):
            cause, severity, channel, subject, description, loss = EVERYDAY[index % len(EVERYDAY)]
            status = rng.choices(list(EVERYDAY_STATUSES), weights=list(EVERYDAY_STATUSES.values()))[0]
            days_ago = 0 if status == "new" else rng.randint(1, 6) if status != "closed" else rng.randint(8, 45)
            name = f"{FIRST_NAMES[index % 20]} {LAST_NAMES[(index * 3 + index // 20) % 20]}"
            email = f"{_email_local(name)}{index}@example.com"
            customer = (email, name, str(rng.choice([40, 120, 260, 480, 900, 1500])), rng.choice([0, 20, 60, 150, 400]),
                        f"demo-everyday-{index}")
            fields = {
                "cause": cause, "severity": severity, "channel": channel, "subject": subject,
                "description": description, "monetary_loss": Decimal(loss),
                "threatens_public": False, "says_wont_return": False,
            }
            assignee = [users["agent"], users["agent2"]][index % 2]
            self._log(users, assignee, customer, fields, f"demo-everyday-{index + 1}", status, days_ago, rng, now)

    def _log(self, users, assignee, customer, fields, external_id, status, days_ago, rng, now) -> None:
        email, name, ltv, reach, reference = customer
        data = services.ComplaintInput(
            customer=services.CustomerInput(
                email=email, name=name, lifetime_value=Decimal(ltv), social_reach=reach, external_id=reference,
            ),
            fields=fields,
            source="demo",
            external_id=external_id,
        )
        actor = ActorRef(user=users["agent"])
        with transaction.atomic():
            complaint = services.complaint_log(data=data, actor=actor).complaint
            if assignee is not None:
                services.complaint_assign(complaint=complaint, assignee=assignee, actor=actor)
            for step in STATUS_PATHS[status]:
                services.complaint_transition(complaint=complaint, to_status=step, actor=actor)
            # Spread the demo over the past weeks so lists and deadlines look lived-in. A case still new was
            # logged within the last two hours: a real team answers within the day.
            hours = rng.randint(0, 2) if status == "new" and days_ago == 0 else rng.randint(0, 20)
            created = now - timedelta(days=days_ago, hours=hours, minutes=rng.randint(0, 59))
            Complaint.objects.filter(pk=complaint.pk).update(created_at=created)
            complaint.events.update(created_at=created)
