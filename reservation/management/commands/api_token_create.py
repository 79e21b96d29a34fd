from django.core.management.base import BaseCommand, CommandError

from reservation.actors import Actor
from reservation.models import User
from reservation.services.accounts import api_token_create


class Command(BaseCommand):
    help = "Create a personal API token for a user and print its secret (shown once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="cli")

    def handle(self, *args: object, **options: str) -> None:
        user = User.objects.filter(email=options["email"].strip().lower(), is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {options['email']!r}.")
        _, secret = api_token_create(actor=Actor(user=user), name=options["name"])
        self.stdout.write(secret)
