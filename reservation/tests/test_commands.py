"""Management commands: seed_demo is idempotent, tokens and providers from the command line."""

import io
import re

import pytest
from django.core.management import CommandError, call_command

from reservation.models import ApiToken, Client, Provider, User, WorkingHours
from reservation.services.accounts import api_token_authenticate

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_seed_demo_twice_creates_the_demo_data_once_and_prints_working_tokens() -> None:
    run("seed_demo")
    output = run("seed_demo")

    assert User.objects.filter(email__in=["coach@example.com", "client@example.com"]).count() == 2
    provider = Provider.objects.get(user__email="coach@example.com")
    assert provider.user.time_zone == "Europe/Berlin"
    assert list(
        WorkingHours.objects.filter(user=provider.user).values_list("weekday", flat=True)
    ) == [0, 1, 2, 3, 4]
    assert Client.objects.filter(user__email="client@example.com").count() == 1
    lines = output.splitlines()
    assert [line.split()[0] for line in lines] == ["provider", "client"]
    secrets = [line.rsplit(" ", 1)[1] for line in lines]
    assert [api_token_authenticate(secret=s).user.email for s in secrets] == [
        "coach@example.com",
        "client@example.com",
    ]


def test_provider_create_command_makes_a_provider_in_its_zone() -> None:
    output = run(
        "provider_create", "Tutor@Example.com", "--name", "Tia", "--time-zone", "Asia/Kolkata"
    )

    provider = Provider.objects.get(user__email="tutor@example.com")
    assert output == f"provider {provider.pk}: tutor@example.com\n"
    assert (provider.display_name, provider.user.time_zone) == ("Tia", "Asia/Kolkata")


def test_provider_create_command_rejects_an_unknown_zone_and_writes_nothing() -> None:
    with pytest.raises(CommandError, match="INVALID_TIME_ZONE"):
        run("provider_create", "tutor@example.com", "--time-zone", "Mars/Olympus")

    assert not User.objects.filter(email="tutor@example.com").exists()


def test_api_token_create_command_prints_a_secret_that_authenticates() -> None:
    user = User.objects.create_user("ops@example.com", "pw-unused-here-123")

    secret = run("api_token_create", "ops@example.com", "--name", "deploy").strip()

    token = api_token_authenticate(secret=secret)
    assert (token.user, token.name) == (user, "deploy")
    assert ApiToken.objects.filter(user=user).count() == 1


def test_api_token_create_command_refuses_an_unknown_user() -> None:
    with pytest.raises(CommandError, match=re.escape("No active user 'nobody@example.com'")):
        run("api_token_create", "nobody@example.com")
    assert ApiToken.objects.count() == 0
