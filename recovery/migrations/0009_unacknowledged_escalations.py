"""An escalation nobody acknowledged in time moves the complaint one tier up, like a missed response deadline.

Adds the rule field `acknowledgement_overdue` to the shipped rule set as a fourth default rule, and a partial
index that lets the SLA sweep find open escalations past their acknowledgement deadline. A company still on the
shipped rules gets the new rule switched on; one that changed its rules gets it switched off, to review on
/rules/ (its behaviour does not change behind its back). The rule is copied here so this migration never changes
when recovery.escalation.rules does.
"""

from django.db import migrations, models

SHIPPED_NAMES = [
    "Ugly experience goes to an executive",
    "Bad experience goes to a team lead",
    "Missed deadline moves up one tier",
]

RULE = {
    "name": "Unacknowledged escalation moves up one tier",
    "order": 40,
    "match": "all",
    "conditions": [
        {"field": "acknowledgement_overdue", "operator": "eq", "value": True},
        {"field": "status", "operator": "not_in", "value": ["resolved", "closed"]},
    ],
    "actions": [{"type": "escalate_one_tier"}, {"type": "notify", "value": "escalation_tier"}],
    "stop_processing": False,
    "time_based": True,
}


def add_rule(apps, schema_editor):
    EscalationRule = apps.get_model("recovery", "EscalationRule")
    if EscalationRule.objects.filter(name=RULE["name"]).exists():
        return
    rules = list(EscalationRule.objects.values_list("name", flat=True))
    shipped = sorted(rules) == sorted(SHIPPED_NAMES) and EscalationRule.objects.filter(active=True).count() == 3
    last = max((r.order for r in EscalationRule.objects.all()), default=0)
    EscalationRule.objects.create(**{**RULE, "order": max(RULE["order"], last + 10)}, active=shipped)


def remove_rule(apps, schema_editor):
    apps.get_model("recovery", "EscalationRule").objects.filter(name=RULE["name"]).delete()


class Migration(migrations.Migration):
    dependencies = [("recovery", "0008_backtest_started_at")]

    operations = [
        migrations.AddIndex(
            model_name="escalation",
            index=models.Index(condition=models.Q(("status", "open")), fields=["ack_due_at"], name="escalation_open_ack_idx"),
        ),
        migrations.RunPython(add_rule, remove_rule),
    ]
