"""The expiry sweep's index: HELD rows in id order (the sweep resumes after its last batch).

Built CONCURRENTLY, so a large reservations table keeps taking bookings meanwhile.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("reservation", "0006_notification_drop_link"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="reservation",
            index=models.Index(
                condition=models.Q(("status", "HELD")),
                fields=["id"],
                include=("expires_at",),
                name="reservation_held_sweep",
            ),
        ),
    ]
