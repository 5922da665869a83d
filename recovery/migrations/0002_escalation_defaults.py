"""The rule set a new company starts with (the same as recovery.escalation.rules.DEFAULT_RULES, copied here so the
migration never changes when the code does): ugly → executive within 1 hour, bad → team lead within 24
hours, a missed response deadline moves the complaint one tier up (once)."""

from django.db import migrations

DEFAULT_RULES = [
    {
        "name": "Ugly experience goes to an executive",
        "order": 10,
        "active": True,
        "match": "all",
        "conditions": [{"field": "grade", "operator": "eq", "value": "ugly"}],
        "actions": [
            {"type": "escalate", "value": "executive"},
            {"type": "set_response_deadline", "value": 1},
            {"type": "notify", "value": "executive"},
        ],
        "stop_processing": False,
        "time_based": False,
    },
    {
        "name": "Bad experience goes to a team lead",
        "order": 20,
        "active": True,
        "match": "all",
        "conditions": [{"field": "grade", "operator": "eq", "value": "bad"}],
        "actions": [
            {"type": "escalate", "value": "lead"},
            {"type": "set_response_deadline", "value": 24},
            {"type": "notify", "value": "lead"},
        ],
        "stop_processing": False,
        "time_based": False,
    },
    {
        "name": "Missed deadline moves up one tier",
        "order": 30,
        "active": True,
        "match": "all",
        "conditions": [
            {"field": "response_overdue", "operator": "eq", "value": True},
            {"field": "status", "operator": "not_in", "value": ["resolved", "closed"]},
        ],
        "actions": [
            {"type": "escalate_one_tier"},
            {"type": "notify", "value": "escalation_tier"},
            {"type": "notify", "value": "assignee"},
        ],
        "stop_processing": False,
        "time_based": True,
    },
]


def load_rules(apps, schema_editor):
    EscalationRule = apps.get_model("recovery", "EscalationRule")
    if EscalationRule.objects.exists():
        return  # a company that already has rules keeps them
    for rule in DEFAULT_RULES:
        EscalationRule.objects.create(**rule)


def unload_rules(apps, schema_editor):
    EscalationRule = apps.get_model("recovery", "EscalationRule")
    EscalationRule.objects.filter(name__in=[r["name"] for r in DEFAULT_RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("recovery", "0001_initial")]
    operations = [migrations.RunPython(load_rules, unload_rules)]
