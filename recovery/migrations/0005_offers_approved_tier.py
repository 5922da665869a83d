"""Offers remember whose authority approved them (the spend report groups cost by it) and what was first
asked for (an approver may approve a different amount; `cost` then holds the approved one)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('recovery', '0003_starter_playbook'),
    ]

    operations = [
        migrations.AddField(
            model_name='offer',
            name='approved_tier',
            field=models.CharField(blank=True, choices=[('frontline', 'Frontline agent'), ('lead', 'Team lead'), ('manager', 'Manager'), ('executive', 'Executive')], default='', max_length=20),
        ),
        migrations.AddField(
            model_name='offer',
            name='offered_cost',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=12, null=True),
        ),
    ]
