from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("recovery", "0002_escalation_defaults")]
    operations: list = []
