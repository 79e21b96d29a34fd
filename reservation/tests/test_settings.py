"""Settings refuse unsafe combinations at start-up (checked in a fresh interpreter)."""

import subprocess

import pytest

from reservation.tests.interpreter import run_python


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    return run_python(
        "import django; django.setup(); from django.conf import settings;"
        " print(settings.DEBUG, settings.TIME_ZONE)",
        env=env,
        without=("DEBUG", "SECRET_KEY"),
    )


def test_refuses_default_secret_with_debug_off() -> None:
    result = load_settings(DEBUG="0")

    assert result.returncode == 1
    assert "SECRET_KEY is the insecure default while DEBUG is off" in result.stderr


def test_starts_with_debug_off_and_a_real_secret() -> None:
    result = load_settings(DEBUG="0", SECRET_KEY="x" * 50)

    assert (result.returncode, result.stdout) == (0, "False UTC\n")


def test_starts_in_debug_with_the_default_secret() -> None:
    result = load_settings(DEBUG="1")

    assert (result.returncode, result.stdout) == (0, "True UTC\n")


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_rejects_a_debug_value_that_is_not_a_boolean(value: str) -> None:
    result = load_settings(DEBUG=value, SECRET_KEY="x" * 50)

    assert result.returncode == 1
    assert f"DEBUG must be a boolean (1/0, true/false), got {value!r}" in result.stderr


# --- production hardening --------------------------------------------------------------------

PRODUCTION = {"DEBUG": "0", "SECRET_KEY": "s" * 50, "ALLOWED_HOSTS": "api.example.com"}
HARDENING_VARIABLES = {
    "ALLOWED_HOSTS",
    "SECURE_COOKIES",
    "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "CSRF_TRUSTED_ORIGINS",
    "CORS_ALLOWED_ORIGINS",
    "DATABASE_STATEMENT_TIMEOUT_MS",
    "REDIS_URL",
    "RATE_LIMIT_LOGIN",
}


def run_with_settings(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`code` after django.setup() in a fresh interpreter, with only `env` configuring it."""
    return run_python(
        f"import django; django.setup(); {code}",
        env=env,
        without={"DEBUG", "SECRET_KEY"} | HARDENING_VARIABLES,
    )


def test_refuses_a_short_secret_with_debug_off() -> None:
    result = run_with_settings("", **{**PRODUCTION, "SECRET_KEY": "s" * 31})

    assert result.returncode == 1
    assert "SECRET_KEY is shorter than 32 characters while DEBUG is off" in result.stderr


def test_refuses_any_host_with_debug_off() -> None:
    result = run_with_settings("", **{**PRODUCTION, "ALLOWED_HOSTS": "api.example.com,*"})

    assert result.returncode == 1
    assert "ALLOWED_HOSTS contains '*' while DEBUG is off" in result.stderr


def test_debug_allows_what_production_refuses() -> None:
    result = run_with_settings("", DEBUG="1", SECRET_KEY="short", ALLOWED_HOSTS="*")

    assert result.returncode == 0, result.stderr


PRINT_SECURITY = (
    "from django.conf import settings as s;"
    " print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS,"
    " s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER,"
    " s.SECURE_CONTENT_TYPE_NOSNIFF, s.X_FRAME_OPTIONS, s.CSRF_TRUSTED_ORIGINS,"
    " s.CORS_ALLOWED_ORIGINS, s.DATABASES['default']['OPTIONS'].get('options'),"
    " s.CACHES['default']['BACKEND'].rsplit('.', 1)[1], s.RATE_LIMITS['login'])"
)


def test_production_defaults_are_secure() -> None:
    result = run_with_settings(PRINT_SECURITY, **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "True True 31536000 True False None True DENY [] [] -c statement_timeout=5000"
        " LocMemCache (10, 60)\n"
    )


def test_production_is_configured_from_the_environment() -> None:
    result = run_with_settings(
        PRINT_SECURITY,
        **PRODUCTION,
        SECURE_HSTS_SECONDS="600",
        SECURE_SSL_REDIRECT="1",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        CSRF_TRUSTED_ORIGINS="https://app.example.com",
        CORS_ALLOWED_ORIGINS="https://app.example.com,https://admin.example.com",
        DATABASE_STATEMENT_TIMEOUT_MS="0",
        REDIS_URL="redis://127.0.0.1:6379/0",
        RATE_LIMIT_LOGIN="5/h",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "True True 600 True True ('HTTP_X_FORWARDED_PROTO', 'https') True DENY"
        " ['https://app.example.com'] ['https://app.example.com', 'https://admin.example.com']"
        " None RedisCache (5, 3600)\n"
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RATE_LIMIT_LOGIN", "ten a minute", "RATE_LIMIT_LOGIN must look like 10/m"),
        ("DATABASE_STATEMENT_TIMEOUT_MS", "-1", "DATABASE_STATEMENT_TIMEOUT_MS must be 0"),
        ("SECURE_PROXY_SSL_HEADER", "HTTP_X_FORWARDED_PROTO", "SECURE_PROXY_SSL_HEADER must be"),
    ],
)
def test_rejects_malformed_hardening_values(variable: str, value: str, message: str) -> None:
    result = run_with_settings("", **PRODUCTION, **{variable: value})

    assert result.returncode == 1
    assert message in result.stderr


SERVE_ONE_REQUEST = (
    "from django.test import Client;"
    " from api.wsgi import application;"
    " assert application is not None;"
    " r = Client().post('/graphql', data='{\"query\": \"{ __typename }\"}',"
    " content_type='application/json', HTTP_HOST='api.example.com', secure=True,"
    " HTTP_AUTHORIZATION='Bearer x');"
    " r2 = Client().get('/graphql', HTTP_HOST='evil.example.net', secure=True);"
    " print(r.status_code, r['Strict-Transport-Security'], r['X-Frame-Options'], r2.status_code)"
)


def test_the_app_starts_and_serves_with_production_settings() -> None:
    # The WSGI application loads, checks hosts and sends HSTS (an unknown Bearer token
    # answers 401 without needing a table: no migration is required for this check)
    result = run_with_settings(
        "from django.core.management import call_command; call_command('check', '--deploy',"
        " '--fail-level', 'ERROR'); " + SERVE_ONE_REQUEST,
        **PRODUCTION,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == ("401 max-age=31536000; includeSubDomains DENY 400")
