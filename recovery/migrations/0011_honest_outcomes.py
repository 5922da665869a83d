"""Issue 11: comparison groups fixed at resolution, equivalent gestures, logged propensities.

Existing outcomes get their group from the offers on record now (best effort: the state at their
resolution is not kept); their anchors are left as they are, so decided windows stay valid.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Exists, OuterRef, Subquery

# Offers not called off: put to the customer's case (waiting, approved, fulfilled or declined).
OFFERED = ("proposed", "pending_approval", "approved", "fulfilled", "declined")


def backfill_groups(apps, schema_editor):
    Offer = apps.get_model("recovery", "Offer")
    RecoveryOutcome = apps.get_model("recovery", "RecoveryOutcome")
    offers = Offer.objects.filter(complaint_id=OuterRef("complaint_id"))
    latest = offers.filter(status__in=OFFERED).order_by("-created_at", "-id").values("gesture_id")[:1]
    RecoveryOutcome.objects.update(
        offered=Exists(offers.filter(status__in=OFFERED)),
        declined=Exists(offers.filter(status="declined")) & ~Exists(offers.filter(status="fulfilled")),
    )
    RecoveryOutcome.objects.filter(gesture__isnull=False).update(offered=True, offered_gesture_id=models.F("gesture_id"))
    RecoveryOutcome.objects.filter(offered=True, offered_gesture__isnull=True).update(offered_gesture_id=Subquery(latest))
    RecoveryOutcome.objects.filter(offer__isnull=False).update(
        fulfilled_at=Subquery(Offer.objects.filter(pk=OuterRef("offer_id")).values("fulfilled_at")[:1])
    )


class Migration(migrations.Migration):

    dependencies = [
        ('recovery', '0009_unacknowledged_escalations'),
    ]

    operations = [
        migrations.AddField(
            model_name='gesture',
            name='equivalence_group',
            field=models.CharField(blank=True, help_text='Gestures with the same group name are treated as equally good: the playbook draws among them at random (and logs the chance), so their results can be compared fairly.', max_length=60),
        ),
        migrations.AddField(
            model_name='recoveryoutcome',
            name='declined',
            field=models.BooleanField(default=False, help_text='The customer declined the offer (still counted as offered).'),
        ),
        migrations.AddField(
            model_name='recoveryoutcome',
            name='fulfilled_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='recoveryoutcome',
            name='offered',
            field=models.BooleanField(default=False, help_text='A gesture was offered by the resolution (fixed then).'),
        ),
        migrations.AddField(
            model_name='recoveryoutcome',
            name='offered_gesture',
            field=models.ForeignKey(blank=True, help_text='The gesture offered.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='recovery.gesture'),
        ),
        migrations.AddField(
            model_name='suggestionlog',
            name='propensity',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='suggestionlog',
            name='randomised',
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(backfill_groups, migrations.RunPython.noop),
    ]
