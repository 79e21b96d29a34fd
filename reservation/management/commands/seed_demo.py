"""Load demo data (idempotent): a provider with working hours, a client, and their tokens."""

from datetime import time

from django.core.management.base import BaseCommand
from django.db import transaction

from reservation.actors import SYSTEM, Actor
from reservation.models import BookingPolicy, Client, User, WorkingHours
from reservation.services.accounts import api_token_create, provider_create

PROVIDER_EMAIL = "coach@example.com"
CLIENT_EMAIL = "client@example.com"
DEMO_PASSWORD = "rendezvous-demo"


class Command(BaseCommand):
    help = "Create a demo provider (Mon–Fri 09:00–17:00 Europe/Berlin) and a demo client, and "
    "print a fresh API token for each. Safe to run again."

    def handle(self, *args: object, **options: object) -> None:
        with transaction.atomic():
            BookingPolicy.objects.get_or_create(provider=None)
            provider = provider_create(
                email=PROVIDER_EMAIL,
                name="Dana Coach",
                time_zone="Europe/Berlin",
                password=DEMO_PASSWORD,
                actor=SYSTEM,
            )
            if not WorkingHours.objects.filter(user=provider.user).exists():
                WorkingHours.objects.bulk_create(
                    WorkingHours(user=provider.user, weekday=day, start=time(9), end=time(17))
                    for day in range(5)
                )
            client_user = User.objects.filter(email=CLIENT_EMAIL).first()
            if client_user is None:
                client_user = User.objects.create_user(
                    CLIENT_EMAIL, DEMO_PASSWORD, name="Casey Client", time_zone="America/New_York"
                )
            Client.objects.get_or_create(user=client_user)
            _, provider_secret = api_token_create(actor=Actor(user=provider.user), name="demo")
            _, client_secret = api_token_create(actor=Actor(user=client_user), name="demo")
        self.stdout.write(
            f"provider {PROVIDER_EMAIL} (password {DEMO_PASSWORD}) token: {provider_secret}"
        )
        self.stdout.write(
            f"client   {CLIENT_EMAIL} (password {DEMO_PASSWORD}) token: {client_secret}"
        )
