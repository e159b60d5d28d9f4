"""Django settings for citychain, all from the environment (see docs/deployment.md).

Development (the default) needs nothing set: SQLite in WAL mode, a Celery broker
on the file system, and secrets generated once into var/. Production
(CITYCHAIN_ENV=production) refuses to start without strong values.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from citychain import config

CONFIG = config.load_or_exit()
BASE_DIR = config.BASE_DIR
VAR_DIR = config.VAR_DIR
VAR_DIR.mkdir(exist_ok=True)
PRODUCTION = CONFIG.production

SECRET_KEY = CONFIG.secret_key
DEBUG = not PRODUCTION and os.environ.get("CITYCHAIN_DEBUG", "1") == "1"
ALLOWED_HOSTS = CONFIG.allowed_hosts
CITYCHAIN_DATA_KEYS = CONFIG.data_keys
CITYCHAIN_LEDGER_SIGNING_KEY = CONFIG.ledger_signing_key
CITYCHAIN_REQUIRE_SERVICES = os.environ.get("CITYCHAIN_REQUIRE_SERVICES") == "1"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "citychain",
    "identity",
    "ledger",
    "voting",
    "energy",
    "credit",
]

MIDDLEWARE = [
    # First: every throttle keys on REMOTE_ADDR, which behind a proxy must be rewritten.
    "citychain.middleware.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # CSP and Permissions-Policy; before WhiteNoise so static files get them too.
    "citychain.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After sessions, auth and locale: a 429 page is rendered in the visitor's language.
    "citychain.middleware.LoginThrottleMiddleware",
    "citychain.middleware.ApiAuthFailureThrottleMiddleware",
]

ROOT_URLCONF = "citychain.urls"
WSGI_APPLICATION = "citychain.wsgi.application"
AUTH_USER_MODEL = "identity.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "citychain.context_processors.navigation",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASES = {"default": dj_database_url.parse(CONFIG.database_url, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at
    # BEGIN so a web process and a worker queue up instead of failing with
    # "database is locked" half-way through a transaction (see FIELD-NOTES).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so worker processes started by tests see the same data;
    # one per test run, so two runs side by side do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-citychain-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (throttles, sessions' neighbours) ---------------------------------
if CONFIG.redis_url:
    CACHES = {
        "default": {
            "BACKEND": "citychain.cache.RedisCache",
            "LOCATION": CONFIG.redis_url,
            "KEY_PREFIX": "citychain",
            # A Redis that hangs costs a request one second, not a worker: see
            # citychain/cache.py, which answers as a miss while Redis is unreachable.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Passwords and sessions --------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_AGE = 8 * 60 * 60  # one shift at a service-provider desk
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "citychain.views.csrf_failure"

# --- Internationalization ----------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("CITYCHAIN_TIME_ZONE", "America/Chicago")
USE_I18N = True
USE_TZ = True

# --- Static files (served by whitenoise; no CDN) -----------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = not PRODUCTION  # no collectstatic needed in development
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "media")},
    },
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Email -------------------------------------------------------------------
if os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = True
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "citychain <no-reply@localhost>")

# --- REST API ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "citychain.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "citychain.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # DRF's throttles key on REMOTE_ADDR only (with None they would trust whatever
    # X-Forwarded-For a client sends); ClientAddressMiddleware sets REMOTE_ADDR behind
    # CITYCHAIN_TRUSTED_PROXIES proxies.
    "NUM_PROXIES": 0,
    "DEFAULT_THROTTLE_RATES": {
        "identity-api": "120/minute",
        # per client address; behind a proxy set CITYCHAIN_TRUSTED_PROXIES so voters are
        # told apart
        "voting-cast": os.environ.get("CITYCHAIN_VOTING_CAST_RATE", "60/minute"),
        # per meter token: a meter sends a batch every 15 minutes, retries included
        "energy-meter": "120/minute",
        "energy-operator": "600/minute",
        "credit-api": "120/minute",
        # per client address: anyone may check a report's verification code
        "credit-verify": "60/minute",
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "citychain API",
    "DESCRIPTION": "Identity, voting, energy, credit and the public ledger of citychain.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RecordCategoryEnum": "identity.models.RecordCategory",
        # "kind" and "status" are also fields of energy and credit serializers; without a
        # name of their own these get hashed names and check --deploy warns (W001).
        "EncounterKindEnum": "identity.models.Encounter.Kind",
        "ElectionStatusEnum": "voting.models.Election.Status",
    },
    # No validator badge: Swagger UI would load it from validator.swagger.io (a CDN). No
    # deep links: they put a link inside each operation's button (WCAG 4.1.2, axe-core's
    # nested-interactive).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "validatorUrl": None},
}

# --- Celery ------------------------------------------------------------------
if CONFIG.redis_url:
    CELERY_BROKER_URL = CONFIG.redis_url
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    # No server needed: kombu's file-system transport (see FIELD-NOTES).
    _broker_dir = Path(os.environ.get("CITYCHAIN_BROKER_DIR") or VAR_DIR / "broker")
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost/"  # a host silences a kombu warning
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request that records an event must not hang when the broker is down: publish
# fails fast, and beat's periodic tasks catch up once the broker is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "citychain.tasks.heartbeat", "schedule": 30.0},
    # Catches anything an on-commit request missed (broker down, debounced).
    "ledger-seal": {"task": "ledger.seal_pending", "schedule": 2.0, "options": {"expires": 10}},
    # Clears every interval that has closed and not been cleared (idempotent; late
    # intervals are re-cleared by the readings that make them late).
    "energy-clear": {
        "task": "energy.clear_due_intervals",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Expired report share links stop working on their own; this deletes them.
    "credit-share-links-purge": {"task": "credit.share_links_purge", "schedule": 24 * 3600.0},
}
LEDGER_SEAL_BATCH = int(os.environ.get("CITYCHAIN_LEDGER_SEAL_BATCH", "10000"))
# HUD HMIS export: the Continuum of Care code (e.g. "IL-510") and the HMIS implementation id.
CITYCHAIN_HMIS_COC_CODE = os.environ.get("CITYCHAIN_HMIS_COC_CODE", "")
CITYCHAIN_HMIS_IMPLEMENTATION_ID = os.environ.get("CITYCHAIN_HMIS_IMPLEMENTATION_ID", "")
# The voting methods this city's state allows (some states ban ranked-choice or approval).
CITYCHAIN_VOTING_METHODS = [
    m.strip()
    for m in os.environ.get(
        "CITYCHAIN_VOTING_METHODS", "plurality,approval,ranked,referendum"
    ).split(",")
    if m.strip()
]
CITYCHAIN_CITY_NAME = os.environ.get("CITYCHAIN_CITY_NAME", "City of Citychain")
LEDGER_ORIGIN = os.environ.get("CITYCHAIN_LEDGER_ORIGIN", "citychain.example/ledger")

# --- Security ----------------------------------------------------------------
# How many proxies (load balancer, TLS terminator) append to X-Forwarded-For in front of
# gunicorn; 0 when clients connect directly. See citychain.middleware and docs/security.md.
CITYCHAIN_TRUSTED_PROXIES = int(os.environ.get("CITYCHAIN_TRUSTED_PROXIES", "0"))
# The WSGI fast lane for casting ballots (voting/fast_lane.py); "0" sends every cast
# through Django's whole request stack instead.
CITYCHAIN_CAST_FAST_LANE = os.environ.get("CITYCHAIN_CAST_FAST_LANE", "1") != "0"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = os.environ.get("CITYCHAIN_SSL_REDIRECT", "1") == "1"
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # A load balancer probes health over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    LANGUAGE_COOKIE_HTTPONLY = True
    LANGUAGE_COOKIE_SAMESITE = "Lax"
    # __Host- cookies are refused by browsers unless Secure, for this host only and path /,
    # so a sibling subdomain cannot plant a session or CSRF cookie.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    CSRF_TRUSTED_ORIGINS = [f"https://{h.lstrip('.')}" for h in ALLOWED_HOSTS]

# --- Logging: no personal data goes into logs (ids and pseudonyms only) -------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
