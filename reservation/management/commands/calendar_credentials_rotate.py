from django.core.management.base import BaseCommand, CommandError

from reservation.services.external_calendars import calendar_credentials_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored calendar password with the first key of "
        "CALENDAR_CREDENTIAL_KEYS (put the new key first, run this, then drop the old key)."
    )

    def handle(self, *args: object, **options: object) -> None:
        rotated, unreadable = calendar_credentials_rotate()
        self.stdout.write(f"rotated {rotated} calendar password(s)")
        if unreadable:
            raise CommandError(
                f"{unreadable} password(s) open with none of the keys: keep the old key listed "
                "until they are re-entered"
            )
