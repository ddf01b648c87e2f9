"""jitportal settings: one file, configured by environment variables through one small parser: a typed helper
per kind of value (string, true/false, whole number, pattern, list), each reading NAME or the file NAME_FILE names
(secrets mounted as files) and stopping the start with the variable's name on a bad value. (A settings library
would add a dependency and still need the minimums and the pattern check; django-environ's bool, for one, reads
a typo as false.)

With no AZURE_* variables set, the portal uses the local sandbox (the embedded default). Setting
AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_SECRET_FILE) points it at
real Azure; nothing else changes.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str | None = None) -> str | None:
    """A string from NAME, or from the file NAME_FILE names (for secrets mounted as files)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path} cannot be read: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}")
    return number


def env_pattern(name: str) -> str:
    """A regular expression from NAME ("" for none), checked now so that a typo stops the start, not a form."""
    value = env_str(name, "") or ""
    try:
        re.compile(value)
    except re.error as exc:
        raise ImproperlyConfigured(f"{name} is not a regular expression: {exc}") from None
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """Items separated by commas or new lines (a NAME_FILE holds one a line)."""
    value = env_str(name)
    return [item.strip() for item in re.split(r"[,\n]", value) if item.strip()] if value else list(default or [])


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE); DJANGO_DEBUG=1 allows a dev key."
        )
    SECRET_KEY = "dev-only-insecure-key-never-used-in-production-" + "x" * 16
if not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-")):
    # Django's own definition of weak (security.W009), made fatal: sessions and signed forms rest on it.
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is weak: use at least 50 characters, 5 or more of them different, "
        "e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# --- Azure: configuration only, the same for real Azure and for the local sandbox ------------------
# `make serve` and the tests start the sandbox and pass the settings it publishes (var/sandbox/
# connection.env) in the environment, as a real deployment does with its tenant's.
AZURE_TENANT_ID = env_str("AZURE_TENANT_ID") or ""
AZURE_CLIENT_ID = env_str("AZURE_CLIENT_ID") or ""
AZURE_CLIENT_SECRET = env_str("AZURE_CLIENT_SECRET") or ""
# A PEM file holding the app's certificate and its private key; used instead of a client secret.
AZURE_CLIENT_CERTIFICATE_PATH = env_str("AZURE_CLIENT_CERTIFICATE_PATH", "") or ""
if AZURE_TENANT_ID and not (AZURE_CLIENT_ID and (AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH)):
    raise ImproperlyConfigured(
        "With AZURE_TENANT_ID set, also set AZURE_CLIENT_ID and AZURE_CLIENT_SECRET(_FILE) "
        "or AZURE_CLIENT_CERTIFICATE_PATH."
    )
AZURE_AUTHORITY = env_str("AZURE_AUTHORITY") or f"https://login.microsoftonline.com/{AZURE_TENANT_ID}"
AZURE_ARM_URL = env_str("AZURE_ARM_URL") or "https://management.azure.com"
AZURE_CA_BUNDLE = env_str("AZURE_CA_BUNDLE")  # None: the system's trust store
# MSAL checks an authority it does not know with login.microsoftonline.com; off for a private authority.
AZURE_INSTANCE_DISCOVERY = env_bool("AZURE_INSTANCE_DISCOVERY", True)
AZURE_ARM_SCOPE = env_str("AZURE_ARM_SCOPE", "https://management.azure.com/user_impersonation")
AZURE_REDIRECT_URI = env_str("AZURE_REDIRECT_URI")  # None: built from the request
AZURE_TIMEOUT_SECONDS = env_int("AZURE_TIMEOUT_SECONDS", 30, minimum=1)
# The portal's own API (docs/api.md): tokens for api://<AZURE_CLIENT_ID>/access_as_user; the jit command's public
# client id marks its calls as the "cli" channel on the trail.
API_SCOPE = env_str("API_SCOPE", "access_as_user")
API_PATH = "/api/"  # where bearer tokens, not sessions, say who calls
AZURE_CLI_CLIENT_ID = env_str("AZURE_CLI_CLIENT_ID") or ""
API_RATE_PER_MINUTE = env_int("API_RATE_PER_MINUTE", 120, minimum=1)
API_WRITES_PER_MINUTE = env_int("API_WRITES_PER_MINUTE", 20, minimum=1)
AZURE_RETRIES = env_int("AZURE_RETRIES", 3)
AZURE_PARALLEL_CALLS = env_int("AZURE_PARALLEL_CALLS", 16, minimum=1)
INVENTORY_CACHE_SECONDS = env_int("INVENTORY_CACHE_SECONDS", 60)
# Where the fleet's resources are read (docs/architecture.md, "Fleet through Resource Graph"): "graph" (Azure
# Resource Graph, in batches of GRAPH_BATCH_SUBSCRIPTIONS, as the person) or "arm" (nine ARM lists per subscription).
FLEET_SOURCE = env_str("FLEET_SOURCE", "arm")  # Resource Graph waits out its quota: see docs (issue #27)
if FLEET_SOURCE not in ("graph", "arm"):
    raise ImproperlyConfigured(f"FLEET_SOURCE must be graph or arm, not {FLEET_SOURCE!r}.")
GRAPH_BATCH_SUBSCRIPTIONS = env_int("GRAPH_BATCH_SUBSCRIPTIONS", 10, minimum=1)
if GRAPH_BATCH_SUBSCRIPTIONS >= 300:
    raise ImproperlyConfigured("GRAPH_BATCH_SUBSCRIPTIONS must be under 300 (Microsoft's throttling guidance).")
# When Resource Graph refuses a batch (403, or 429 after retries), read its subscriptions through the ARM lists.
GRAPH_FALLBACK = env_bool("GRAPH_FALLBACK", True)
# Resource Graph's quota (15 queries per 5 s per person by default): a load waits for its reset up to this long, and
# reads the batch through the ARM lists when it is further off.
GRAPH_QUOTA_WAIT_SECONDS = env_int("GRAPH_QUOTA_WAIT_SECONDS", 10)
# Resource Graph may lag ARM: a subscription the portal wrote to is read through ARM lists for this long after.
GRAPH_SETTLE_SECONDS = env_int("GRAPH_SETTLE_SECONDS", 120, minimum=0)
# A cold VM tab waits this long for the fleet, then shows how far its load has come and looks again (each look
# waiting as long again): a thousand subscriptions show progress, not a blank page.
INVENTORY_PROGRESS_SECONDS = env_int("INVENTORY_PROGRESS_SECONDS", 3, minimum=1)
# A policy write holds a lease (not a database lock) over its Azure calls: a read, one write per policy
# and, after a lost answer, a read back; it expires on its own if its holder dies.
POLICY_LEASE_SECONDS = env_int("POLICY_LEASE_SECONDS", 4 * AZURE_TIMEOUT_SECONDS + 30, minimum=10)
POLICY_LEASE_WAIT_SECONDS = env_int("POLICY_LEASE_WAIT_SECONDS", 15)
# How long a change whose answer was lost keeps its policy's lease while reads look for it (vms/settle.py).
POLICY_SETTLE_SECONDS = env_int("POLICY_SETTLE_SECONDS", 2 * AZURE_TIMEOUT_SECONDS + 60, minimum=1)
# Access requests: is a justification required, and which proxies may tell us the client's IP.
JIT_REQUIRE_JUSTIFICATION = env_bool("JIT_REQUIRE_JUSTIFICATION", True)
# What a justification should hold, shown in the form (e.g. "Start with the ticket number: OPS-123"), and a
# pattern it must match (re.search, e.g. ^[A-Z]+-\d+); both empty by default.
JIT_JUSTIFICATION_HINT = env_str("JIT_JUSTIFICATION_HINT", "") or ""
JIT_JUSTIFICATION_PATTERN = env_pattern("JIT_JUSTIFICATION_PATTERN")
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])  # IPs or CIDRs whose X-Forwarded-For is believed
# The broadest source a requester may type (a policy that lists a broader prefix verbatim still allows it).
JIT_MAX_SOURCE_PREFIX_V4 = env_int("JIT_MAX_SOURCE_PREFIX_V4", 24)
JIT_MAX_SOURCE_PREFIX_V6 = env_int("JIT_MAX_SOURCE_PREFIX_V6", 64)
# "End now" replaces a window with one this long from Azure's clock: Azure takes any end after its own now,
# so a minute leaves room for the call's transit and the age of the portal's reading of Azure's clock.
JIT_END_NOW_SECONDS = env_int("JIT_END_NOW_SECONDS", 60, minimum=10)
# "10 minutes left — Extend?": how long before a window ends its requester is told (0: never).
JIT_REMIND_MINUTES = env_int("JIT_REMIND_MINUTES", 10, minimum=0)

# --- Django ----------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tables2",
    "django_tasks",
    "django_tasks_db",
    "ninja",  # the API's reference page from its own static files (no CDN)
    "core",
    "accounts",
    "trail",
    "vms",
    "requests_app",
    "audit",
    "jitportal",
]
MIDDLEWARE = [
    "core.logs.request_log",
    "core.health.probes",
    "core.middleware.nul_as_replacement_character",
    "django.middleware.security.SecurityMiddleware",
    # Static files from the portal itself (gunicorn), compressed and cached forever by their hashed names.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.content_security_policy",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.no_store_when_signed_in",
    "accounts.middleware.SessionPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.middleware.StyledNotFound",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.SignInRequiredMiddleware",
]
ROOT_URLCONF = "jitportal.urls"
WSGI_APPLICATION = "jitportal.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.portal_roles",
            ],
        },
    },
]
# PostgreSQL for a team (several instances, one database) when DATABASE_URL is set; else SQLite, one process.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    # Connections are kept a minute (per gunicorn thread) and checked before reuse, so a database restart
    # costs one retried connection, not an error page.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("DATABASE_PATH", str(BASE_DIR / "var" / "db.sqlite3")),
            # IMMEDIATE: a transaction takes SQLite's write lock when it begins, so the policy lock and
            # the audit chain (select_for_update elsewhere) serialize writers here too.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30},
        }
    }
# Redis when REDIS_URL is set: every instance sees the inventory's invalidation epochs (vms/inventory.py).
# Without it, this process's memory, which is all one process needs.
REDIS_URL = env_str("REDIS_URL")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # another portal (staging, say) may share the Redis under a prefix of its own
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "jitportal"),
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "jitportal"}
}
# Background work: Django's tasks framework (the django-tasks backport) with its database backend, so that
# any number of `manage.py db_worker` processes share one queue in the portal's own database.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# How often the worker runs the periodic clean-ups (jitportal/tasks.py).
HOUSEKEEPING_SECONDS = env_int("HOUSEKEEPING_SECONDS", 3600, minimum=10)
# How often the worker expires undecided requests and sends "10 minutes left" reminders.
WATCH_REQUESTS_SECONDS = env_int("WATCH_REQUESTS_SECONDS", 60, minimum=5)
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts-sign-in"
SESSION_ENGINE = "django.contrib.sessions.backends.db"  # Entra tokens are too large for cookies
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=60)
# However active a session is, it ends this long after its sign-in (the cookie age above slides).
SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 12 * 3600, minimum=60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"  # the OIDC redirect back from the authority is a top-level GET
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
# Preloading is a promise to browsers that is slow to take back: only when the operator asks for it.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]  # "SECURE_HSTS_PRELOAD is not True": deliberately opt-in
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
USE_I18N = False
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "static"
# Production serves what `collectstatic` gathered, under hashed names; DEBUG serves the sources as they are.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
DJANGO_TABLES2_TEMPLATE = "django_tables2/table.html"
# One JSON object per line on stdout (core/logs.py), for a log collector; every request gets one line.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"forbidden_in_one_line": {"()": "core.logs.forbidden_in_one_line"}},
    "formatters": {"json": {"()": "core.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # MSAL and azure-core log request details at DEBUG; keep them quiet so no token can reach a log.
    "loggers": {
        # Django's own console handler (DEBUG only) would print each of its records a second time.
        "django": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO"), "propagate": False},
        "django.request": {"filters": ["forbidden_in_one_line"]},
        # runserver's own line per request repeats the portal's (jitportal.request), without the person.
        "django.server": {"level": "WARNING"},
        "msal": {"level": "WARNING"},
        "azure": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}
logging.captureWarnings(True)  # Python's warnings become log records, so JSON lines too

# --- Audit trail: the key of its MACs lives outside the database ----------------------------------
# AUDIT_KEY (or AUDIT_KEY_FILE) seals new events; AUDIT_PREVIOUS_KEYS (comma-separated, or
# AUDIT_PREVIOUS_KEYS_FILE, one a line) verifies events sealed before a rotation. Unset, the key is
# derived from DJANGO_SECRET_KEY (docs/architecture.md, "The audit trail's seal").
AUDIT_KEY = env_str("AUDIT_KEY") or ""
AUDIT_PREVIOUS_KEYS = env_list("AUDIT_PREVIOUS_KEYS")
AUDIT_CHECKPOINT_EVERY = env_int("AUDIT_CHECKPOINT_EVERY", 100, minimum=1)  # events between logged checkpoints
# The archive of Azure's JIT history: kept AUDIT_RETENTION_DAYS (beyond PCI DSS's year), purged by `purge_archive`.
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 400, minimum=1)
# A person's audit page reads Azure's new Activity Log tail per subscription at most this often (0: every view).
AUDIT_COLLECT_SECONDS = env_int("AUDIT_COLLECT_SECONDS", 60, minimum=0)
# Optional read-only app identity (Reader + Activity Log read) that keeps the archive complete when nobody reads.
AUDIT_READER_CLIENT_ID = env_str("AUDIT_READER_CLIENT_ID") or ""
AUDIT_READER_CLIENT_SECRET = env_str("AUDIT_READER_CLIENT_SECRET") or ""

# --- The audit stream to SIEMs (audit/stream.py), delivered by the worker from a durable cursor ----------------
# Each sink is optional. Azure Monitor Logs Ingestion (Sentinel): a data collection endpoint (or the rule's own
# logsIngestion URL), the rule's immutableId, its stream, as an app identity with Monitoring Metrics Publisher on the
# rule (by default the archive's read-only reader). A signed webhook: a URL, and a secret for its HMAC.
AUDIT_INGESTION_ENDPOINT = (env_str("AUDIT_INGESTION_ENDPOINT") or "").rstrip("/")
AUDIT_INGESTION_RULE_ID = env_str("AUDIT_INGESTION_RULE_ID") or ""
AUDIT_INGESTION_STREAM = env_str("AUDIT_INGESTION_STREAM") or "Custom-JitPortalAudit_CL"
AUDIT_INGESTION_CLIENT_ID = env_str("AUDIT_INGESTION_CLIENT_ID") or AUDIT_READER_CLIENT_ID
AUDIT_INGESTION_CLIENT_SECRET = env_str("AUDIT_INGESTION_CLIENT_SECRET") or AUDIT_READER_CLIENT_SECRET
AUDIT_INGESTION_SCOPE = env_str("AUDIT_INGESTION_SCOPE") or "https://monitor.azure.com//.default"
if AUDIT_INGESTION_ENDPOINT and not (
    AUDIT_INGESTION_RULE_ID and AUDIT_INGESTION_CLIENT_ID and AUDIT_INGESTION_CLIENT_SECRET
):
    raise ImproperlyConfigured(
        "AUDIT_INGESTION_ENDPOINT needs AUDIT_INGESTION_RULE_ID and an app identity "
        "(AUDIT_INGESTION_CLIENT_ID/_SECRET, or AUDIT_READER_CLIENT_ID/_SECRET)."
    )
AUDIT_STREAM_WEBHOOK_URL = env_str("AUDIT_STREAM_WEBHOOK_URL") or ""
AUDIT_STREAM_WEBHOOK_SECRET = env_str("AUDIT_STREAM_WEBHOOK_SECRET") or ""
if AUDIT_STREAM_WEBHOOK_URL and not re.fullmatch(r"https?://[^\s]+", AUDIT_STREAM_WEBHOOK_URL):
    raise ImproperlyConfigured("AUDIT_STREAM_WEBHOOK_URL must be an http(s) URL.")
AUDIT_STREAM_BATCH = env_int("AUDIT_STREAM_BATCH", 1000, minimum=1)  # events per delivery (a commit each)
AUDIT_STREAM_SECONDS = env_int("AUDIT_STREAM_SECONDS", 15, minimum=1)  # the worker's pause when it has caught up
AUDIT_STREAM_TIMEOUT_SECONDS = env_int("AUDIT_STREAM_TIMEOUT_SECONDS", 30, minimum=1)
# /readyz?detail (from these addresses only; loopback always) adds each check and the stream's lag, as JSON.
HEALTH_DETAIL_FROM = env_list("HEALTH_DETAIL_FROM", [])
HEALTH_DETAILS = ["audit.stream.health"]  # callables returning {name: value}, read by /readyz?detail

# --- Notifications (core/notify.py): e-mail and webhooks, delivered by the worker ---------------------
# Links in what is sent are PORTAL_URL + a portal path, each to a page that asks for sign-in.
PORTAL_URL = (env_str("PORTAL_URL") or (f"http://127.0.0.1:{env_str('PORT', '8000')}" if DEBUG else "")).rstrip("/")
if PORTAL_URL and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", PORTAL_URL):
    raise ImproperlyConfigured(
        f"PORTAL_URL must be the portal's http(s) address, such as https://jit.example.com, not {PORTAL_URL!r}"
    )
# The console backend (on stdout, which `make serve` shows) when debugging, SMTP otherwise. With SMTP and no
# EMAIL_HOST, no e-mail is queued at all (webhooks only).
EMAIL_BACKEND = env_str("EMAIL_BACKEND") or (
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = env_str("EMAIL_HOST") or ""
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)  # STARTTLS, usually on port 587
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # implicit TLS, usually on port 465
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS (STARTTLS) or EMAIL_USE_SSL (implicit TLS), not both.")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "jitportal@localhost"
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Slack- and Teams-compatible incoming webhooks (comma-separated; or WEBHOOK_URLS_FILE, one a line: such URLs
# are secrets), each post signed with WEBHOOK_SECRET (docs/architecture.md, "Notifications").
WEBHOOK_URLS = env_list("WEBHOOK_URLS")
for _number, _url in enumerate(WEBHOOK_URLS, start=1):
    if not re.fullmatch(r"https?://[^/?#\s]+(/\S*)?", _url):
        raise ImproperlyConfigured(f"WEBHOOK_URLS item {_number} is not an http(s) URL.")  # it may hold a secret
WEBHOOK_SECRET = env_str("WEBHOOK_SECRET") or ""
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
