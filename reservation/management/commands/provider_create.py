from django.core.management.base import BaseCommand, CommandError

from reservation.actors import SYSTEM
from reservation.errors import DomainError
from reservation.services.accounts import provider_create


class Command(BaseCommand):
    help = "Make an e-mail address a provider (creating the user if needed)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="")
        parser.add_argument("--time-zone", default="UTC")

    def handle(self, *args: object, **options: str) -> None:
        try:
            provider = provider_create(
                email=options["email"],
                name=options["name"],
                time_zone=options["time_zone"],
                actor=SYSTEM,
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {' '.join(exc.messages)}") from exc
        self.stdout.write(f"provider {provider.pk}: {provider.user.email}")
