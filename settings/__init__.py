"""Rendezvous settings: configuration only, every value read from the environment.

Defaults are safe for a developer's machine. With DEBUG off the process refuses to start on
the default secret key, so a production deploy cannot silently run with it.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

INSECURE_DEFAULT_SECRET_KEY = "django-insecure-rendezvous-local-development-only"


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


RATE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def env_rate(name: str, default: str) -> tuple[int, int]:
    """A rate limit written `10/m` (count per s, m, h or d) as (count, window seconds)."""
    value = os.environ.get(name, "") or default
    count, _, unit = value.partition("/")
    if not count.isdigit() or unit not in RATE_UNITS:
        raise ImproperlyConfigured(f"{name} must look like 10/m (per s, m, h or d), got {value!r}")
    return int(count), RATE_UNITS[unit]


def env_secret(name: str) -> str:
    """A secret from the environment, or read from the file named by <name>_FILE (compose's
    generated secrets, Docker/Kubernetes secrets); "" when neither is set."""
    value = os.environ.get(name, "")
    path = os.environ.get(f"{name}_FILE", "")
    if value or not path:
        return value
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from exc


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY") or INSECURE_DEFAULT_SECRET_KEY
if not DEBUG and SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the insecure default while DEBUG is off. Set SECRET_KEY to a long random "
        "value (python -c 'import secrets; print(secrets.token_urlsafe(50))'), or DEBUG=1 locally."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
if not DEBUG and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured(
        "SECRET_KEY is shorter than 32 characters while DEBUG is off; use a long random value."
    )
if not DEBUG and "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS contains '*' while DEBUG is off: name the hosts served (Host-header "
        "attacks, poisoned links in e-mails otherwise)."
    )

# The embedded PostgreSQL that `make run` / `make test` start under .local/ when DATABASE_URL
# is unset (see devops/scripts/embedded_db.py); it listens on a Unix socket only.
EMBEDDED_DATABASE_URL = f"postgresql://postgres@/postgres?host={BASE_DIR / '.local' / 'pg'}"
# DATABASE_POOL=1: psycopg's connection pool (Django's OPTIONS["pool"]), one pool per alias
# and process, instead of one persistent connection per thread. Django refuses a pool with
# persistent connections, so CONN_MAX_AGE is 0 then (a request hands its connection back).
DATABASE_POOL = env_bool("DATABASE_POOL", False)
DATABASE_POOL_MIN_SIZE = env_int("DATABASE_POOL_MIN_SIZE", 1)
DATABASE_POOL_MAX_SIZE = env_int("DATABASE_POOL_MAX_SIZE", 4)
if DATABASE_POOL and env_int("DATABASE_CONN_MAX_AGE", 0):
    raise ImproperlyConfigured(
        "DATABASE_CONN_MAX_AGE must be 0 (or unset) with DATABASE_POOL=1: the pool keeps the "
        "connections, Django must not."
    )
if not 1 <= DATABASE_POOL_MIN_SIZE <= DATABASE_POOL_MAX_SIZE:
    raise ImproperlyConfigured("Need 1 <= DATABASE_POOL_MIN_SIZE <= DATABASE_POOL_MAX_SIZE.")
DATABASE_CONN_MAX_AGE = 0 if DATABASE_POOL else env_int("DATABASE_CONN_MAX_AGE", 60)
# Every statement of every connection (web and worker) is cancelled after this long, so no
# query runs away with a worker or the database. 0 disables it (migrations on big tables:
# run `manage.py migrate` with DATABASE_STATEMENT_TIMEOUT_MS=0). Procrastinate's own queries
# are short and its LISTEN wait is not a statement, so the worker is unaffected.
DATABASE_STATEMENT_TIMEOUT_MS = env_int("DATABASE_STATEMENT_TIMEOUT_MS", 5000)
if DATABASE_STATEMENT_TIMEOUT_MS < 0:
    raise ImproperlyConfigured("DATABASE_STATEMENT_TIMEOUT_MS must be 0 (off) or positive.")
# Read replicas (streaming standbys of DATABASE_URL), comma-separated: aliases replica_0, ...
# reservation.dbrouting sends reads there (see README, Deployment, Read replicas). A replica
# that does not answer within the connect timeout is skipped, and remembered as down for
# DATABASE_REPLICA_RETRY_SECONDS, so it costs at most that timeout once per period.
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS", "")
DATABASE_REPLICA_CONNECT_TIMEOUT = env_int("DATABASE_REPLICA_CONNECT_TIMEOUT", 2)
DATABASE_REPLICA_RETRY_SECONDS = env_int("DATABASE_REPLICA_RETRY_SECONDS", 30)
# After a request writes, its client (API token, session or e-mailed link) reads from the
# primary for this long, across requests: longer than the replicas' usual lag. Kept in the
# cache (REDIS_URL: shared by every process; without it, per process). 0: per request only.
READ_YOUR_WRITES_SECONDS = env_int("READ_YOUR_WRITES_SECONDS", 15)
if DATABASE_REPLICA_CONNECT_TIMEOUT < 2:
    # libpq (and psycopg) treat anything below 2 s as 2 s, and 0 as "wait forever".
    raise ImproperlyConfigured("DATABASE_REPLICA_CONNECT_TIMEOUT must be at least 2 (seconds).")


def database_config(url: str, *, connect_timeout: int | None = None) -> dict:
    """One DATABASES entry: statement_timeout, and the pool when DATABASE_POOL is on."""
    config = dj_database_url.parse(url, conn_max_age=DATABASE_CONN_MAX_AGE, conn_health_checks=True)
    # Django's PostgreSQL backend whose health check skips the SELECT 1 when the connection's
    # socket shows it alive (reservation/db/base.py).
    config["ENGINE"] = "reservation.db"
    options = config.setdefault("OPTIONS", {})
    if DATABASE_STATEMENT_TIMEOUT_MS:
        # A connection parameter, so pooled connections get it too (the pool connects with
        # the same parameters).
        options["options"] = (
            f"{options.get('options', '')} -c statement_timeout={DATABASE_STATEMENT_TIMEOUT_MS}"
        ).strip()
    if connect_timeout:
        options["connect_timeout"] = connect_timeout
    if DATABASE_POOL:
        options["pool"] = {"min_size": DATABASE_POOL_MIN_SIZE, "max_size": DATABASE_POOL_MAX_SIZE}
        if connect_timeout:
            # How long a checkout waits for a connection: a dead replica costs no more.
            options["pool"]["timeout"] = connect_timeout
    return config


DATABASES = {"default": database_config(os.environ.get("DATABASE_URL") or EMBEDDED_DATABASE_URL)}
# The password may come from a file instead of DATABASE_URL (compose's generated secret).
if not DATABASES["default"].get("PASSWORD") and env_secret("DATABASE_PASSWORD"):
    DATABASES["default"]["PASSWORD"] = env_secret("DATABASE_PASSWORD")
for _index, _url in enumerate(DATABASE_REPLICA_URLS):
    DATABASES[f"replica_{_index}"] = database_config(
        _url, connect_timeout=DATABASE_REPLICA_CONNECT_TIMEOUT
    ) | {"TEST": {"MIRROR": "default"}}  # tests read the test database through it
DATABASE_ROUTERS = ["reservation.dbrouting.PrimaryReplicaRouter"]

# Rate-limit counters (and nothing else yet). Redis in production, so that every gunicorn
# worker and every host shares them; without REDIS_URL each process counts on its own.
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rdv"}
    )
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "corsheaders",
    "strawberry_django",
    "procrastinate.contrib.django",
    "reservation",
    "api",
]

MIDDLEWARE = [
    "api.observability.RequestIdMiddleware",  # first: its id is on every log line after it
    "api.metrics.HttpMetricsMiddleware",  # counts every response, whatever answered it
    "api.replica_middleware.ReadYourWritesMiddleware",  # around all that may write (sessions)
    "django.middleware.security.SecurityMiddleware",
    "api.csp.ContentSecurityPolicyMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "api.middleware.BearerTokenMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "api.middleware.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "api.urls"
WSGI_APPLICATION = "api.wsgi.application"
AUTH_USER_MODEL = "reservation.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # stored and computed in UTC; people's zones are data
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# In production static files get content-hashed names (collectstatic writes a manifest) and
# whitenoise serves those with far-future, immutable caching; while developing (DEBUG) the
# plain names, so nothing needs collecting first.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Every HTML page (api.csp): scripts from this origin only, no CDN, no inline script.
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
)

SESSION_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "api.views.csrf_failure"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
# TLS ends at the reverse proxy (nginx), which redirects http:// itself; it must then set
# X-Forwarded-Proto, named here as SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
_ssl_header = env_list("SECURE_PROXY_SSL_HEADER", "")
if _ssl_header and len(_ssl_header) != 2:
    raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER must be `HEADER,value`.")
SECURE_PROXY_SSL_HEADER = tuple(_ssl_header) if _ssl_header else None
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Origins (scheme://host) whose cookie-authenticated POSTs are accepted, e.g. a web app on
# another subdomain; same-origin needs nothing here.
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# Browser apps on these origins may call /graphql (with Bearer tokens: no cookies are sent
# cross-origin, CORS_ALLOW_CREDENTIALS stays off). Empty: same-origin only.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", "")
CORS_URLS_REGEX = r"^/graphql$"
CORS_ALLOW_CREDENTIALS = False

# GraphQL subscriptions (WebSocket, graphql-transport-ws on /graphql; see README,
# Subscriptions): served by their own gunicorn (devops/gunicorn_ws.conf.py reads
# SUBSCRIPTIONS_BIND, SUBSCRIPTIONS_WORKERS, SUBSCRIPTIONS_GRACEFUL_TIMEOUT).
SUBSCRIPTIONS_MAX_PER_CONNECTION = env_int("SUBSCRIPTIONS_MAX_PER_CONNECTION", 20)
SUBSCRIPTIONS_MAX_PER_USER = env_int("SUBSCRIPTIONS_MAX_PER_USER", 100)  # per serving process
SUBSCRIPTIONS_IDLE_TIMEOUT = env_int("SUBSCRIPTIONS_IDLE_TIMEOUT", 300)  # s without one: closed
SUBSCRIPTIONS_INIT_TIMEOUT = env_int("SUBSCRIPTIONS_INIT_TIMEOUT", 10)  # s to send connection_init
SUBSCRIPTIONS_PING_INTERVAL = env_int("SUBSCRIPTIONS_PING_INTERVAL", 20)  # WebSocket pings
SUBSCRIPTIONS_PING_TIMEOUT = env_int("SUBSCRIPTIONS_PING_TIMEOUT", 20)
SUBSCRIPTIONS_MAX_MESSAGE_BYTES = env_int("SUBSCRIPTIONS_MAX_MESSAGE_BYTES", 65536)
# Slots are recomputed at least this often with nothing written (besides the known instants:
# a hold lapsing, the minimum notice); the LISTEN connection is checked this often.
SUBSCRIPTIONS_RECHECK_SECONDS = env_int("SUBSCRIPTIONS_RECHECK_SECONDS", 300)
SUBSCRIPTIONS_LISTEN_CHECK_SECONDS = env_int("SUBSCRIPTIONS_LISTEN_CHECK_SECONDS", 15)
SUBSCRIPTIONS_DB_THREADS = env_int("SUBSCRIPTIONS_DB_THREADS", 4)

# Links in e-mails point here; access tokens in them expire after this many days.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
ACCESS_TOKEN_TTL_DAYS = env_int("ACCESS_TOKEN_TTL_DAYS", 5)

# Mail: printed to the console unless an SMTP server is configured.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Rendezvous <rendezvous@localhost>")
MAIL_DOMAIN = os.environ.get("MAIL_DOMAIN", "rendezvous.localhost")
# Inbound mail (iMIP REPLYs from calendar apps): POST /inbound/mail needs this shared secret
# (Authorization: Bearer <secret>); empty turns the endpoint off. `manage.py imip_fetch`
# reads a mailbox over IMAP instead (IMAP_* below; the password from IMAP_PASSWORD).
INBOUND_MAIL_SECRET = os.environ.get("INBOUND_MAIL_SECRET", "")
IMAP_HOST = os.environ.get("IMAP_HOST", "")
IMAP_PORT = env_int("IMAP_PORT", 993)
IMAP_USER = os.environ.get("IMAP_USER", "")
IMAP_PASSWORD = os.environ.get("IMAP_PASSWORD", "")
IMAP_SSL = env_bool("IMAP_SSL", True)
IMAP_MAILBOX = os.environ.get("IMAP_MAILBOX", "INBOX")
# A mail the SMTP server accepted while the database went away is recorded as sent once the
# database is back, tried for this long (services.mail.notification_send); past it the retry
# sends it again, with the same Message-ID.
MAIL_RECORD_SENT_TIMEOUT_SECONDS = env_int("MAIL_RECORD_SENT_TIMEOUT_SECONDS", 120)
# Retention (tasks.prune_old_data, every night): finished Procrastinate jobs are deleted, and
# sent notifications' bodies emptied, after this many days; 0 keeps them for ever.
RETENTION_JOBS_DAYS = env_int("RETENTION_JOBS_DAYS", 30)
RETENTION_NOTIFICATION_BODY_DAYS = env_int("RETENTION_NOTIFICATION_BODY_DAYS", 90)

# Reminders over HTTP channels (Telegram Bot API, an SMS gateway, webhooks, Slack).
TELEGRAM_API_URL = os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org")
TELEGRAM_BOT_TOKEN = os.environ.get("TELEGRAM_BOT_TOKEN", "")
SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL", "")
SMS_GATEWAY_USER = os.environ.get("SMS_GATEWAY_USER", "")
SMS_GATEWAY_PASSWORD = os.environ.get("SMS_GATEWAY_PASSWORD", "")
REMINDER_HTTP_TIMEOUT = env_int("REMINDER_HTTP_TIMEOUT", 10)
# Webhook and Slack URLs are set by users, so by default reminders are sent only to public
# addresses over https (no loopback, private, link-local such as 169.254.169.254, multicast,
# reserved or unspecified address: no SSRF into our own network), checked when the URL is set
# and again when it is used. On: http:// and private addresses are allowed too, for local
# testing against a receiver on this machine only; never in production.
REMINDER_ALLOW_PRIVATE_NETWORKS = env_bool("REMINDER_ALLOW_PRIVATE_NETWORKS", False)

# External calendars (CalDAV accounts and .ics subscriptions) as busy time, with bookings
# written back. Their passwords are encrypted at rest with Fernet keys: the first key of
# CALENDAR_CREDENTIAL_KEYS encrypts, every key decrypts, so a key is rotated by putting the
# new one first and running `manage.py calendar_credentials_rotate`. Unset, a key is derived
# from SECRET_KEY (rotating SECRET_KEY then makes stored passwords unreadable: set this).
CALENDAR_CREDENTIAL_KEYS = env_list("CALENDAR_CREDENTIAL_KEYS", "")
CALENDAR_SYNC_INTERVAL_MINUTES = env_int("CALENDAR_SYNC_INTERVAL_MINUTES", 10)
CALENDAR_HTTP_TIMEOUT = env_int("CALENDAR_HTTP_TIMEOUT", 15)
CALENDAR_MAX_BYTES = env_int("CALENDAR_MAX_BYTES", 10 * 1024 * 1024)
# The URLs are users': the same SSRF guard as reminders (REMINDER_ALLOW_PRIVATE_NETWORKS).

STRAWBERRY_DJANGO = {
    "MUTATIONS_DEFAULT_HANDLE_ERRORS": True,
    "PAGINATION_MAX_LIMIT": 100,
}
GRAPHIQL_ENABLED = env_bool("GRAPHIQL_ENABLED", True)
# Introspection lets anyone read the whole schema; off, codegen clients build from the
# checked-in schema.graphql instead.
GRAPHQL_INTROSPECTION = env_bool("GRAPHQL_INTROSPECTION", True)
GRAPHQL_MAX_DEPTH = env_int("GRAPHQL_MAX_DEPTH", 12)
GRAPHQL_MAX_ALIASES = env_int("GRAPHQL_MAX_ALIASES", 30)
GRAPHQL_MAX_TOKENS = env_int("GRAPHQL_MAX_TOKENS", 2000)
# Larger request bodies answer HTTP 413 REQUEST_TOO_LARGE before any parsing.
GRAPHQL_MAX_BODY_BYTES = env_int("GRAPHQL_MAX_BODY_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = GRAPHQL_MAX_BODY_BYTES
# On: only operations registered with `manage.py persisted_queries_load` are executed.
GRAPHQL_PERSISTED_ONLY = env_bool("GRAPHQL_PERSISTED_ONLY", False)

# --- edge (helper `edge`): request hygiene and the cost budget (see api/limits.py, api/cost.py)
# The standard introspection queries (graphql-js, graphql-core) are 15 fields deep.
GRAPHQL_MAX_INTROSPECTION_DEPTH = env_int("GRAPHQL_MAX_INTROSPECTION_DEPTH", 15)
# Estimated cost per operation (units in api/cost.py): signed-in callers, everyone else.
GRAPHQL_COST_LIMIT = env_int("GRAPHQL_COST_LIMIT", 10_000)
GRAPHQL_COST_LIMIT_ANONYMOUS = env_int("GRAPHQL_COST_LIMIT_ANONYMOUS", 2_000)
GRAPHQL_COST_LIST_SIZE = env_int("GRAPHQL_COST_LIST_SIZE", 5)  # lists with no page argument
GRAPHQL_COST_INTROSPECTION = env_int("GRAPHQL_COST_INTROSPECTION", 100)
# Where rate-limit counts live (a `limits` storage URL): default REDIS_URL, else per process.
RATE_LIMIT_STORAGE_URL = os.environ.get("RATE_LIMIT_STORAGE_URL", "")
# --- end of edge's block

# Rate limits (count per window) on the abusable operations, counted in the cache above.
# Keyed per client IP: behind N reverse proxies set TRUSTED_PROXY_COUNT=N, and the client's
# address is read from X-Forwarded-For as the N-th proxy from us recorded it (the rest of
# that header is the client's to forge). 0: REMOTE_ADDR, the direct peer.
RATE_LIMIT_ENABLED = env_bool("RATE_LIMIT_ENABLED", True)
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
RATE_LIMITS = {
    "login": env_rate("RATE_LIMIT_LOGIN", "10/m"),  # per IP and per e-mail address
    "account_register": env_rate("RATE_LIMIT_ACCOUNT_REGISTER", "5/m"),  # per IP
    "reservation_create": env_rate("RATE_LIMIT_RESERVATION_CREATE", "30/m"),  # per actor
    "event_notify": env_rate("RATE_LIMIT_EVENT_NOTIFY", "20/h"),  # per actor
    "event_page": env_rate("RATE_LIMIT_EVENT_PAGE", "60/m"),  # per IP
}

from settings.observability import *  # noqa: E402,F403  LOGGING, /readyz and /metrics
