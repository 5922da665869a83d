"""CX Recovery settings: everything comes from the environment.

With nothing set the project runs embedded: SQLite file, Celery tasks run eagerly, console email.
Every variable is documented in docs/configuration.md and .env.example.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEV_SECRET_KEY = "dev-insecure-cxrecovery-key-do-not-use-in-production"
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DEBUG is off but SECRET_KEY is not set. Set SECRET_KEY to a long random value "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    SECRET_KEY = DEV_SECRET_KEY
elif not DEBUG and (SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured("DEBUG is off: SECRET_KEY must be a real secret of at least 32 characters.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

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
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "notifications",
    "tickets",
    "recovery",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "cxrecovery.urls"
WSGI_APPLICATION = "cxrecovery.wsgi.application"
ASGI_APPLICATION = "cxrecovery.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "cxrecovery" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cxrecovery.context.navigation",
            ],
        },
    },
]

# SQLite file unless DATABASE_URL names another database (PostgreSQL in production).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work while one writer writes; the timeout absorbs short write bursts. IMMEDIATE takes the
    # write lock when a transaction begins, so a second writer (the Celery worker beside the web server) waits
    # out the timeout instead of failing at once with "database is locked" when its read turns into a write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "cxrecovery"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "cxrecovery" / "static"]
# In development whitenoise serves straight from the app folders; production runs collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Production hardening: only when DEBUG is off, so the embedded default stays plain http.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Email: console by default; any Django backend via EMAIL_BACKEND, SMTP via EMAIL_HOST & co.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "CX Recovery <cx-recovery@localhost>")

# Celery: no broker means tasks run eagerly in-process (the embedded default).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "cxrecovery")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker outage must not hang a request: give up publishing quickly; sweeps pick the work up later.
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
CELERY_BEAT_SCHEDULE: dict = {
    # Escalation: deadlines passed, grades drifting as hours pass, complaints never assessed, reminders.
    "recovery-sla-sweep": {"task": "recovery.sla_sweep", "schedule": 60.0, "options": {"expires": 55}},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tickets.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tickets.permissions.ApiAccess"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "tickets.api.pagination.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["tickets.api.throttling.PrincipalRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"principal": os.environ.get("API_THROTTLE_RATE", "600/minute")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tickets.api.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_VERSIONING_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CX Recovery API",
    "DESCRIPTION": (
        "Log complaints from helpdesk tools, read grades, escalations and outcomes. "
        "Authenticate with `Authorization: Bearer <key>`; see docs/api.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {
        "securitySchemes": {"ApiKey": {"type": "http", "scheme": "bearer", "description": "API key"}}
    },
    "SECURITY": [{"ApiKey": []}],
    "ENUM_NAME_OVERRIDES": {
        "CommentKindEnum": "tickets.models.Comment.Kind",
        "TimelineEventKindEnum": "tickets.models.TimelineEvent.Kind",
    },
}

# Domain settings.
DEFAULT_CURRENCY = os.environ.get("DEFAULT_CURRENCY", "GBP")

# Outcome tracking (docs/outcomes-and-metrics.md): watch windows opened when a complaint is resolved,
# and how long computed outcome metrics are served from the cache (0 turns the cache off).
try:
    _windows = os.environ.get("OUTCOME_WINDOWS_DAYS") or "30,60,90"
    OUTCOME_WINDOWS_DAYS = tuple(sorted({int(days) for days in _windows.split(",") if days.strip()}))
except ValueError:
    raise ImproperlyConfigured("OUTCOME_WINDOWS_DAYS must be whole numbers of days separated by commas, e.g. 30,60,90.")
if not OUTCOME_WINDOWS_DAYS or not all(0 < days <= 3650 for days in OUTCOME_WINDOWS_DAYS):
    raise ImproperlyConfigured("OUTCOME_WINDOWS_DAYS needs at least one window between 1 and 3650 days.")
METRICS_CACHE_SECONDS = int(os.environ.get("METRICS_CACHE_SECONDS") or "600")
# Playbook gestures scoring within this many points of the top one are in equipoise: first place is
# drawn among them at random, with the chance logged (docs/outcomes-and-metrics.md). 0 turns the
# fixed band off (gestures the data cannot tell apart and those marked equivalent still share it).
try:
    RECOVERY_EQUIPOISE_POINTS = float(os.environ.get("RECOVERY_EQUIPOISE_POINTS") or "5")
except ValueError as exc:
    raise ImproperlyConfigured("RECOVERY_EQUIPOISE_POINTS must be a number of score points, e.g. 5.") from exc
if not 0 <= RECOVERY_EQUIPOISE_POINTS <= 50:
    raise ImproperlyConfigured("RECOVERY_EQUIPOISE_POINTS must be between 0 and 50 score points.")
CELERY_BEAT_SCHEDULE.update(
    {
        "recovery-outcomes-settle": {"task": "recovery.tasks.outcomes.outcome_windows_settle_task", "schedule": 900.0},
        "recovery-outcomes-reconcile": {"task": "recovery.tasks.outcomes.outcome_reconcile_task", "schedule": 600.0},
        "recovery-gesture-learning": {"task": "recovery.tasks.outcomes.gesture_learning_recompute_task", "schedule": 3600.0},
        "recovery-metrics-refresh": {"task": "recovery.tasks.outcomes.outcome_metrics_refresh_task", "schedule": 300.0},
    }
)

# Approvals (docs/playbook-and-approvals.md): a request not decided within REMIND hours reminds its
# approvers once; one not decided within ESCALATE hours moves one tier up.
try:
    APPROVAL_REMIND_AFTER_HOURS = float(os.environ.get("APPROVAL_REMIND_AFTER_HOURS", "24"))
    APPROVAL_ESCALATE_AFTER_HOURS = float(os.environ.get("APPROVAL_ESCALATE_AFTER_HOURS", "48"))
except ValueError:
    raise ImproperlyConfigured("APPROVAL_REMIND_AFTER_HOURS and APPROVAL_ESCALATE_AFTER_HOURS are hours, e.g. 24 or 0.5.")
if not 0 < APPROVAL_REMIND_AFTER_HOURS < APPROVAL_ESCALATE_AFTER_HOURS:
    raise ImproperlyConfigured(
        "APPROVAL_REMIND_AFTER_HOURS must be above 0 and below APPROVAL_ESCALATE_AFTER_HOURS (the reminder comes first)."
    )
CELERY_BEAT_SCHEDULE["recovery-approvals-sweep"] = {
    "task": "recovery.tasks.offers.approval_requests_sweep_task",
    "schedule": 900.0,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "INFO"},
    },
}
