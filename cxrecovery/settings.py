"""CX Recovery settings: everything comes from the environment.

With nothing set the project runs embedded: SQLite file, Celery tasks run eagerly, console email.
Every variable is documented in docs/configuration.md and .env.example.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from cxrecovery.sweeps import beat_schedule

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = (os.environ.get(name) or "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, e.g. {default}; got {value!r}.")
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be {minimum} or more; got {number}.")
    return number


def header_meta_key(name: str, value: str) -> str:
    """An HTTP header as written by people (X-Forwarded-For) → its request.META key (HTTP_X_FORWARDED_FOR)."""
    value = value.strip()
    if not value:
        return ""
    if not all(ch.isalnum() or ch in "-_" for ch in value):
        raise ImproperlyConfigured(f"{name} must be a header name such as X-Forwarded-For; got {value!r}.")
    key = value.upper().replace("-", "_")
    return key if key.startswith("HTTP_") or key == "REMOTE_ADDR" else f"HTTP_{key}"


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
# Links in emails and webhook payloads. Without SITE_URL, the address `make run` serves on (its PORT, passed on by
# bin/run), so a link never points at a port nothing listens on.
SITE_URL = (os.environ.get("SITE_URL") or f"http://127.0.0.1:{os.environ.get('PORT') or '8000'}").rstrip("/")

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
    "axes",
    "csp",
    "notifications",
    "tickets",
    "recovery",
    # The project itself, for its management commands (run_sweeps runs the sweep registry in cxrecovery/sweeps.py).
    "cxrecovery",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tickets.api.middleware.ApiBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "cxrecovery.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cxrecovery.urls"
# Largest request body read (Django's own limit for forms; the API's JSON parser and middleware use it too: 413).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# POST /api/v1/complaints/batch/ takes up to 1,000 complaints: about 10 KB each on average.
API_BATCH_MAX_BODY_SIZE = int(os.environ.get("API_BATCH_MAX_BODY_SIZE") or 10 * 1024 * 1024)
# Seconds an integration key's row may come from the shared cache; unset: 30 with a Redis CACHE_URL, else 0.
API_KEY_CACHE_SECONDS = int(os.environ["API_KEY_CACHE_SECONDS"]) if os.environ.get("API_KEY_CACHE_SECONDS") else None
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
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's cursors bind parameters on the client and never prepare; this lets tickets.prepared's cursors
    # prepare the few statements every complaint runs (psycopg prepares nothing by itself before this many runs of
    # one statement). DB_PREPARED_STATEMENTS=off (behind a pooler that cannot keep them) prepares nothing at all.
    if os.environ.get("DB_PREPARED_STATEMENTS", "on").lower() not in {"off", "false", "0", "no"}:
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 1_000_000)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": (
        {
            # Django's RedisCache, reusing one redis-py client per pool (cxrecovery/cache.py).
            "BACKEND": "cxrecovery.cache.RedisCache",
            "LOCATION": CACHE_URL,
            # A hung or unreachable Redis must cost a request at most a second: the throttle then fails open.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
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

# HTTPS in production (docs/operations.md, "HTTPS and security headers"): only when DEBUG is off, so the embedded
# default stays plain http. The defaults suit a site served only over HTTPS behind a proxy that sets
# X-Forwarded-Proto; HSTS starts at one hour so a mistake is cheap to undo.
if not DEBUG:
    _proxy_ssl = os.environ.get("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto: https").strip()
    if _proxy_ssl.lower() not in {"", "none", "off"}:
        _name, _sep, _value = _proxy_ssl.partition(":")
        if not _sep or not _value.strip():
            raise ImproperlyConfigured(
                "SECURE_PROXY_SSL_HEADER must look like 'X-Forwarded-Proto: https' (or 'none' without a proxy)."
            )
        SECURE_PROXY_SSL_HEADER = (header_meta_key("SECURE_PROXY_SSL_HEADER", _name), _value.strip())
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain http
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Sign-in lockout (django-axes; docs/operations.md, "Sign-in lockout"). After LOGIN_FAILURE_LIMIT failed sign-ins
# for one username from one address, that pair is refused, even with the right password, until
# LOGIN_COOLOFF_MINUTES pass without a try. The browser form and the admin's both go through it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("LOGIN_LOCKOUT_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "cxrecovery.security.lockout_response"
AXES_CLIENT_IP_CALLABLE = "cxrecovery.security.client_ip"
# Behind a proxy: the header carrying the client's address, and how many proxies of ours append to it.
LOGIN_CLIENT_IP_META = header_meta_key("LOGIN_CLIENT_IP_HEADER", os.environ.get("LOGIN_CLIENT_IP_HEADER", ""))
LOGIN_TRUSTED_PROXIES = env_int("LOGIN_TRUSTED_PROXIES", 1, minimum=1)

# Content-Security-Policy (django-csp; docs/operations.md, "Content-Security-Policy"). Every page's scripts and
# styles come from our own static files: no inline <script>, <style>, style="" or on*="" anywhere. DRF's browsable
# API may also use inline styles (cxrecovery/security.py, cxrecovery/urls.py); Swagger UI is strict.
_csp = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
if os.environ.get("CSP_REPORT_URI", "").strip():
    _csp["DIRECTIVES"]["report-uri"] = [os.environ["CSP_REPORT_URI"].strip()]
if env_bool("CSP_REPORT_ONLY", False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _csp
    CONTENT_SECURITY_POLICY = None
else:
    CONTENT_SECURITY_POLICY = _csp

# Email: console by default; any Django backend via EMAIL_BACKEND, SMTP via EMAIL_HOST & co.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "CX Recovery <cx-recovery@localhost>")
# Seconds an SMTP connect or command may take. Without it a mail server that accepts and never answers holds
# the email worker forever; with it the send fails, is retried with backoff, and the row's lease runs out.
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT") or "10")
if EMAIL_TIMEOUT <= 0:
    raise ImproperlyConfigured("EMAIL_TIMEOUT is seconds and must be above 0, e.g. 10.")

# Celery: no broker means tasks run eagerly in-process (the embedded default).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# kombu's Redis transport, reusing one redis-py client per channel (cxrecovery/broker.py).
CELERY_BROKER_TRANSPORT = "cxrecovery.broker:Transport" if CELERY_BROKER_URL.startswith("redis://") else None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "cxrecovery")
# Emails have their own queue (and, under bin/run, their own worker), so a slow mail server never delays
# grading, escalation or the sweeps. Every worker command must name both queues (or run one worker per queue).
CELERY_EMAIL_QUEUE = os.environ.get("CELERY_EMAIL_QUEUE", "email")
CELERY_TASK_ROUTES = {"notifications.tasks.notification_email_task": {"queue": CELERY_EMAIL_QUEUE}}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# No task is lost with its worker: a task is acknowledged only after it ran (every task here is safe to run
# twice), and one whose pool process was killed goes back to the queue instead of being dropped. With late
# acknowledgement a worker should hold only what it is working on.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The longest task (a rule backtest over a large history) is stopped after CELERY_TASK_TIME_LIMIT seconds, and a
# retry waits at most 600 s (Celery's retry_backoff_max; with at most 5 retries the real waits stay under a
# minute). Redis hands an unacknowledged task to another worker after the visibility timeout, so it must exceed
# both added together (a task waiting for its retry countdown is held unacknowledged too), or a slow task runs
# twice at once. It is also how long the tasks reserved by a killed worker wait before they are delivered again:
# 30 minutes by default instead of Redis's hour.
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT") or "900")
CELERY_TASK_SOFT_TIME_LIMIT = max(CELERY_TASK_TIME_LIMIT - 30, 1)
CELERY_VISIBILITY_TIMEOUT = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT") or "1800")
# A broker outage must not hang a request: give up publishing quickly; sweeps pick the work up later.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
}
# Celery beat's schedule comes from the one registry of periodic sweeps, which `manage.py run_sweeps` runs too.
CELERY_BEAT_SCHEDULE = beat_schedule()
# Webhook deliveries have a queue of their own, so a slow receiver never delays grading: workers consume it
# with `-Q <default queue>,webhooks` (bin/run does). Customer reply emails share the email queue.
CELERY_TASK_ROUTES["notifications.tasks.webhook_delivery_task"] = {"queue": "webhooks"}
CELERY_TASK_ROUTES["notifications.tasks.outbound_email_task"] = {"queue": CELERY_EMAIL_QUEUE}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tickets.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tickets.permissions.ApiAccess"],
    "DEFAULT_FILTER_BACKENDS": ["tickets.api.filtering.ApiFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "tickets.api.pagination.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["tickets.api.throttling.PrincipalRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"principal": os.environ.get("API_THROTTLE_RATE", "600/minute")},
    "DEFAULT_SCHEMA_CLASS": "tickets.api.schema.ContractAutoSchema",
    # JSON only: a form or multipart body answers 415 (and the schema advertises JSON alone).
    "DEFAULT_PARSER_CLASSES": ["tickets.api.parsers.ApiJSONParser"],
    "EXCEPTION_HANDLER": "tickets.api.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "cxrecovery.security.BrowsableAPIRenderer",  # DRF's, with its own style policy (CSP)
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
        # One name per status set, so generated clients get ComplaintStatusEnum rather than Status148Enum.
        "ComplaintStatusEnum": "tickets.models.Status",
        "OfferStatusEnum": "recovery.models.Offer.Status",
        "EscalationStatusEnum": "recovery.models.Escalation.Status",
        "ApprovalStatusEnum": "recovery.models.ApprovalRequest.Status",
        "TierEnum": "tickets.models.Tier",
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

# Escalation (docs/configuration.md): the rules page and backtests warn when the rules take more than this share
# of complaints to an executive. If everything escalates, nothing does.
try:
    ESCALATION_EXECUTIVE_SHARE_WARNING = float(os.environ.get("ESCALATION_EXECUTIVE_SHARE_WARNING") or "0.10")
except ValueError as exc:
    raise ImproperlyConfigured("ESCALATION_EXECUTIVE_SHARE_WARNING must be a share between 0 and 1, e.g. 0.10.") from exc
if not 0 < ESCALATION_EXECUTIVE_SHARE_WARNING <= 1:
    raise ImproperlyConfigured("ESCALATION_EXECUTIVE_SHARE_WARNING must be a share above 0 and at most 1, e.g. 0.10.")

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
# Helpdesk connections (docs/integrations.md): the Fernet key(s) that encrypt signing secrets (derived from
# SECRET_KEY when unset), the largest webhook body accepted, and how long raw deliveries are kept.
HELPDESK_SECRETS_KEY = os.environ.get("HELPDESK_SECRETS_KEY", "")
HELPDESK_MAX_BODY_BYTES = int(os.environ.get("HELPDESK_MAX_BODY_BYTES", str(1024 * 1024)))
HELPDESK_DELIVERY_RETENTION_DAYS = int(os.environ.get("HELPDESK_DELIVERY_RETENTION_DAYS", "30"))

# Outbound webhooks (docs/webhooks.md).
WEBHOOK_SECRETS_KEY = os.environ.get("WEBHOOK_SECRETS_KEY", "")
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)
try:
    WEBHOOKS_CONNECT_TIMEOUT = float(os.environ.get("WEBHOOKS_CONNECT_TIMEOUT") or "3")
    WEBHOOKS_READ_TIMEOUT = float(os.environ.get("WEBHOOKS_READ_TIMEOUT") or "10")
    WEBHOOKS_DISABLE_AFTER_DAYS = float(os.environ.get("WEBHOOKS_DISABLE_AFTER_DAYS") or "3")
except ValueError:
    raise ImproperlyConfigured("WEBHOOKS_CONNECT_TIMEOUT, WEBHOOKS_READ_TIMEOUT and WEBHOOKS_DISABLE_AFTER_DAYS are numbers.")
# Seconds to wait after the 1st, 2nd, … failed attempt (±20% jitter): about a day in all, then failed.
WEBHOOKS_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000)
# Macro placeholders filled from other apps: name -> (dotted path of a function(complaint) -> str, help text).
MACRO_PLACEHOLDERS = {
    "gesture_script": ("cxrecovery.wiring.gesture_script", "the playbook's script for the gesture offered (empty if none)"),
}
# Who may manage webhook endpoints in the browser, and who hears that one was switched off: notifications
# knows no roles, so it asks the app that does.
WEBHOOKS_MANAGER_CHECK = "tickets.permissions.can_manage_integrations"
WEBHOOKS_MANAGERS = "tickets.permissions.integration_managers"

# Replies to customers (docs/webhooks.md#replies): the Reply-To of reply emails (empty: none).
REPLY_TO_EMAIL = os.environ.get("REPLY_TO_EMAIL", "")

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
