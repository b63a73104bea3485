"""Settings from environment variables.

With nothing set the portal runs embedded: a SQLite file and Celery tasks run in-process
(no broker server). DATABASE_URL and REDIS_URL move it onto PostgreSQL and Redis.
"""

import os
import sys
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
TESTING = "pytest" in sys.modules

# Fixed development keys are only acceptable while DEBUG is on or under the test suite.
DEV_KEYS_ALLOWED = DEBUG or TESTING
_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
SECRET_KEY = os.environ.get("SECRET_KEY") or (_DEV_SECRET if DEV_KEYS_ALLOWED else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "cardportal",
    "members",
    "issuance",
    "merchants",
    "benefits",
    "quotas",
    "sms",
    "membersite",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "membersite.auth.MemberMiddleware",  # request.member: the members' own sessions, apart from staff
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "cardportal.urls"

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
                "cardportal.context_processors.staff_role",
            ],
        },
    },
]

WSGI_APPLICATION = "cardportal.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'cardportal.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (runserver, in-process tasks) share one file: wait for locks instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "/media/"  # never served directly: uploads and exports go through scoped, audited views

LOGIN_URL = "login"  # the staff sign-in (/staff/login/); members sign in at /me/login/
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Uploaded registration sheets can be large; the sheet reader enforces its own limits.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", str(30 * 1024 * 1024)))

# --- Security (manage.py check --deploy is clean with DEBUG off) ---------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not TESTING)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = not TESTING  # the live-server browser tests talk plain http
    CSRF_COOKIE_SECURE = not TESTING
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Personal data (ID numbers, phones) -------------------------------------------------------
# PII_KEYS: comma-separated keys in Fernet's format (urlsafe base64 of 32 random bytes); the first
# encrypts, all decrypt. crypto.py derives an AES-256-GCM key and a key id from each (HKDF); Fernet
# tokens written before that format still decrypt under the same keys. Rotation: put the new key
# first, run `manage.py pii_rotate`, then drop the old one. PII_HASH_KEY: secret for the keyed hash
# (HMAC-SHA256) that makes ID numbers and phones unique and searchable without decrypting.
_DEV_PII_KEY = "ZGV2LW9ubHktcGlpLWtleS1ub3QtZm9yLXByb2QhISE="  # 32 bytes, urlsafe b64
PII_KEYS = [k.strip() for k in os.environ.get("PII_KEYS", "").split(",") if k.strip()]
PII_HASH_KEY = os.environ.get("PII_HASH_KEY", "")
if not PII_KEYS or not PII_HASH_KEY:
    if not DEV_KEYS_ALLOWED:
        raise ImproperlyConfigured("PII_KEYS and PII_HASH_KEY must be set when DEBUG is off.")
    PII_KEYS = PII_KEYS or [_DEV_PII_KEY]
    PII_HASH_KEY = PII_HASH_KEY or "dev-only-pii-hash-key"

# --- Cache (sign-in throttles): Redis when REDIS_URL is set, so every web process counts together.
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": "cardportal",
        }
    }

# --- Members' site and SMS (docs/members-site.md) -------------------------------------------
MEMBER_SIGNIN = {
    "code_ttl_seconds": 5 * 60,
    "max_tries": 5,
    "codes_per_day": 10,  # per ID number asked for, and per registry phone
    "ip_requests_per_hour": int(os.environ.get("MEMBER_SIGNIN_IP_REQUESTS_PER_HOUR", "30")),
    "ip_verifies_per_hour": int(os.environ.get("MEMBER_SIGNIN_IP_VERIFIES_PER_HOUR", "60")),
}
MEMBER_LOSS_HOTLINE = os.environ.get("MEMBER_LOSS_HOTLINE", "发卡银行客服电话 400-612-9999")
# One class: sms.gateways.ConsoleGateway (default) logs and keeps messages in the outbox only.
SMS_GATEWAY = os.environ.get("SMS_GATEWAY", "sms.gateways.ConsoleGateway")
SMS_MAX_ATTEMPTS = int(os.environ.get("SMS_MAX_ATTEMPTS", "5"))
SMS_RETRY_BASE_SECONDS = 2

# --- Celery ---------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    # Embedded mode: no broker server; tasks run in-process when enqueued (after the commit).
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 60 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 55 * 60
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict = {
    # The rolling review window moves every day even without new ratings.
    "merchant-scores": {
        "task": "merchants.tasks.merchant_scores_refresh_task",
        "schedule": crontab(hour=2, minute=30),
    },
    # Spent member sign-in challenges (membersite.services.signin_codes_purge).
    "member-signin-codes-purge": {
        "task": "membersite.tasks.signin_codes_purge_task",
        "schedule": crontab(hour=3, minute=40),
    },
    # Draft last month's bulletin (月通报) early on the 1st; idempotent per month.
    "quotas-bulletin-draft": {
        "task": "quotas.tasks.bulletin_draft_due_task",
        "schedule": crontab(minute=30, hour=1, day_of_month=1),
    },
}
# quotas: the choices the seed leaves open (defaults and meanings in quotas/conf.py, docs/quotas.md).
QUOTAS: dict = {}

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "cardportal.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "cardportal API",
    "DESCRIPTION": "工会会员卡门户 API: members, cards, merchants, benefits, league tables.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a field called "status": name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "MemberStatusEnum": "members.models.Member.Status",
        "BulletinStatusEnum": "quotas.models.Bulletin.Status",
        "MerchantStatusEnum": "merchants.models.Merchant.Status",
        "CardStatusEnum": "issuance.models.Card.Status",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
