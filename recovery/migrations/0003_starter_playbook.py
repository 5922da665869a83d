"""The playbook and approval limits a new company starts with.

Gestures: recovery.offers.starter_playbook.STARTER_GESTURES, about twenty plain dicts written for this product
(from a handwritten note to an executive's personal call with six months free). The module holds plain
data only, so importing it here never drags in code that may change; an install keeps the rows it was
given, and managers edit them from /playbook/ afterwards.

Approval limits — the money each tier may spend on one gesture without asking anyone. The research is
clear that speed of recovery beats ceremony, and that staff who may make it right on the spot recover
more customers (Ritz-Carlton's widely cited $2,000 per guest is the famous example). So the front line
gets a real budget, not zero: £50 covers the handwritten note, a voucher, an express replacement or a
redo of most services, which is what most bad cases need. A team lead (£250) covers a 150% refund of a
typical loss or six months free; a manager (£1,000) covers the large replacements; only above that does
an executive look at it, and executives have no limit. Amounts are in DEFAULT_CURRENCY; edit them in the
admin or on /playbook/.
"""

from decimal import Decimal

from django.db import migrations

from recovery.offers.starter_playbook import STARTER_GESTURES

DEFAULT_LIMITS = {
    "frontline": Decimal("50.00"),
    "lead": Decimal("250.00"),
    "manager": Decimal("1000.00"),
    "executive": None,  # no limit
}


def load(apps, schema_editor):
    Gesture = apps.get_model("recovery", "Gesture")
    ApprovalLimit = apps.get_model("recovery", "ApprovalLimit")
    for data in STARTER_GESTURES:
        pct = data.get("compensation_pct_of_loss")
        # get_or_create: a gesture a company already made under the same code is theirs; leave it alone.
        Gesture.objects.get_or_create(
            code=data["code"],
            defaults={
                "title": data["title"],
                "script": data["script"],
                "resource_kind": data["resource_kind"],
                "causes": list(data["causes"]),
                "cost": data["cost"],
                "cost_pct_of_loss": None if pct is None else Decimal(pct),
                "perceived_value": data["perceived_value"],
                "surprise": data["surprise"],
                "min_grade": data["min_grade"],
                "approval_tier": data["approval_tier"],
                "per_customer_per_year": data["per_customer_per_year"],
                "active": data.get("active", True),
            },
        )
    for tier, amount in DEFAULT_LIMITS.items():
        ApprovalLimit.objects.get_or_create(tier=tier, defaults={"amount": amount})


def unload(apps, schema_editor):
    Gesture = apps.get_model("recovery", "Gesture")
    ApprovalLimit = apps.get_model("recovery", "ApprovalLimit")
    # Gestures already offered stay: offers point at them (PROTECT) and are part of the audit trail.
    Gesture.objects.filter(code__in=[g["code"] for g in STARTER_GESTURES], offers__isnull=True).delete()
    ApprovalLimit.objects.filter(tier__in=list(DEFAULT_LIMITS)).delete()


class Migration(migrations.Migration):
    dependencies = [("recovery", "0002_escalation_defaults")]
    operations = [migrations.RunPython(load, unload)]
