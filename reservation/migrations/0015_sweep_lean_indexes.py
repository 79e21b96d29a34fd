"""Fewer indexes to write per row, for the expiry sweep (a million rows at once) and every write.

A reservation's status is in its partial indexes' predicates, so an update of it is never HOT:
each new row version enters every index that has no HELD predicate. Two of those, on
provider_id and client_id alone, only repeat the first column of (provider, start) and
(client, start). The nullable actor and link columns of audit entries and notifications were
indexed for every row, though most (all the system's) are NULL; only deleting the referenced
row reads them (SET_NULL), and a partial index on the rows that have one serves that. A
webhook delivery's webhook_id leads two other indexes already.

The new indexes are built CONCURRENTLY before the old ones are dropped (CONCURRENTLY too), so
a large table keeps taking writes and always has an index for each lookup.
"""

import django.db.models.deletion
from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

# The indexes Django made for the foreign keys (their names are derived from the table and
# column, so they are the same in every database this project created).
DROPPED = {
    ("reservation", "provider"): "reservation_reservation_provider_id_57b04fd0",
    ("reservation", "client"): "reservation_reservation_client_id_929ea86a",
    ("reservation", "cancelled_by"): "reservation_reservation_cancelled_by_id_551df3a3",
    ("auditentry", "actor_user"): "reservation_auditentry_actor_user_id_a6a2157a",
    ("auditentry", "actor_token"): "reservation_auditentry_actor_token_id_9b5bd1f9",
    ("auditentry", "actor_access_token"): "reservation_auditentry_actor_access_token_id_10ce7fc0",
    ("notification", "event"): "reservation_notification_event_id_4cc756dd",
    ("notification", "access_token"): "reservation_notification_access_token_id_6957f6e0",
    ("webhookdelivery", "webhook"): "reservation_webhookdelivery_webhook_id_9c0594f3",
}

FIELDS = {
    ("reservation", "provider"): models.ForeignKey(
        db_index=False,
        on_delete=django.db.models.deletion.PROTECT,
        related_name="reservations",
        to="reservation.provider",
    ),
    ("reservation", "client"): models.ForeignKey(
        db_index=False,
        on_delete=django.db.models.deletion.PROTECT,
        related_name="reservations",
        to="reservation.client",
    ),
    ("reservation", "cancelled_by"): models.ForeignKey(
        blank=True,
        db_index=False,
        null=True,
        on_delete=django.db.models.deletion.SET_NULL,
        related_name="+",
        to=settings.AUTH_USER_MODEL,
    ),
    ("auditentry", "actor_user"): models.ForeignKey(
        blank=True,
        db_index=False,
        null=True,
        on_delete=django.db.models.deletion.SET_NULL,
        related_name="+",
        to=settings.AUTH_USER_MODEL,
    ),
    ("auditentry", "actor_token"): models.ForeignKey(
        blank=True,
        db_index=False,
        null=True,
        on_delete=django.db.models.deletion.SET_NULL,
        related_name="+",
        to="reservation.apitoken",
    ),
    ("auditentry", "actor_access_token"): models.ForeignKey(
        blank=True,
        db_index=False,
        null=True,
        on_delete=django.db.models.deletion.SET_NULL,
        related_name="+",
        to="reservation.eventaccesstoken",
    ),
    ("notification", "event"): models.ForeignKey(
        blank=True,
        db_index=False,
        null=True,
        on_delete=django.db.models.deletion.SET_NULL,
        related_name="notifications",
        to="reservation.event",
    ),
    ("notification", "access_token"): models.ForeignKey(
        blank=True,
        db_index=False,
        null=True,
        on_delete=django.db.models.deletion.SET_NULL,
        related_name="notifications",
        to="reservation.eventaccesstoken",
    ),
    ("webhookdelivery", "webhook"): models.ForeignKey(
        db_index=False,
        on_delete=django.db.models.deletion.CASCADE,
        related_name="deliveries",
        to="reservation.webhook",
    ),
}

PARTIAL = [
    ("reservation", "cancelled_by", "reservation_cancelled_by"),
    ("auditentry", "actor_user", "audit_actor_user"),
    ("auditentry", "actor_token", "audit_actor_token"),
    ("auditentry", "actor_access_token", "audit_actor_access_token"),
    ("notification", "event", "notification_event"),
    ("notification", "access_token", "notification_access_token"),
]


class Migration(migrations.Migration):
    atomic = False  # CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("reservation", "0014_hooks_webhooks"),
    ]

    operations = [
        *(
            AddIndexConcurrently(
                model_name=model,
                index=models.Index(
                    condition=models.Q((f"{field}__isnull", False)), fields=[field], name=name
                ),
            )
            for model, field, name in PARTIAL
        ),
        *(
            migrations.SeparateDatabaseAndState(
                state_operations=[
                    migrations.AlterField(model_name=model, name=field, field=FIELDS[model, field])
                ],
                database_operations=[
                    migrations.RunSQL(
                        f'DROP INDEX CONCURRENTLY IF EXISTS "{index}"',
                        reverse_sql=(
                            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{index}" '
                            f'ON "reservation_{model}" ("{field}_id")'
                        ),
                    )
                ],
            )
            for (model, field), index in DROPPED.items()
        ),
    ]
