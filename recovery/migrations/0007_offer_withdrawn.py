"""Offers can be withdrawn before they are given (proposed, waiting for approval or approved); a request still
waiting for approval is then closed as withdrawn. Choices only: no column or index changes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("recovery", "0006_outcomes_window_hot_updates"),
    ]

    operations = [
        migrations.AlterField(
            model_name="approvalrequest",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("approved", "Approved"),
                    ("rejected", "Rejected"),
                    ("escalated", "Moved to a higher tier"),
                    ("withdrawn", "Withdrawn"),
                ],
                default="pending",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="offer",
            name="status",
            field=models.CharField(
                choices=[
                    ("proposed", "Proposed"),
                    ("pending_approval", "Waiting for approval"),
                    ("approved", "Approved"),
                    ("rejected", "Rejected"),
                    ("fulfilled", "Fulfilled"),
                    ("declined", "Declined by the customer"),
                    ("withdrawn", "Withdrawn"),
                ],
                default="proposed",
                max_length=20,
            ),
        ),
    ]
