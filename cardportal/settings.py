"""Settings from environment variables.

With nothing set the portal runs embedded: a SQLite file and Celery tasks run in-process
(no broker server). DATABASE_URL and REDIS_URL move it onto PostgreSQL and Redis.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from django_guid.integrations import CeleryIntegration
from kombu import Queue

from cardportal import devkeys

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)

# Fixed development keys are only acceptable while DEBUG is on (the test suite passes them in:
# cardportal/settings_test.py).
SECRET_KEY = os.environ.get("SECRET_KEY") or (devkeys.SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "cardportal.admin_config.PortalAdminConfig",  # django.contrib.admin with a site that requires the second factor
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",  # partner API tokens, hashed and expiring (cardportal.api_tokens); before cardportal, whose admin replaces knox's
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "axes",  # before "cardportal": its failed-login receiver must run before ours (cardportal/signin.py)
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "django_guid",  # request id (observability below)
    "django_prometheus",
    "health_check",
    "cardportal",
    "members",
    "issuance",
    "merchants",
    "benefits",
    "quotas",
    "members.sms",  # the SMS outbox (label "sms"): members are who it texts
    "benefits.membersite",  # the members' site (label "membersite"): reads cards and benefits
    "benefits.drops",  # the one-cent ticket grab (label "drops"): docs/drops.md
    "merchants.usage",  # card transactions from the partners' feed (label "usage"): docs/usage.md
    "benefits.subsidies",  # subsidies on swipe (label "subsidies"): docs/subsidies.md
    "quotas.analytics",  # card usage analytics (label "analytics"): the top layer, reads usage
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",  # first: counts every request and its latency
    "django_guid.middleware.guid_middleware",  # the request id of every log line (and of the tasks it sends)
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "cardportal.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "cardportal.replica.ReplicaPinMiddleware",  # reads right after a write stay on the primary
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "cardportal.middleware.SecondFactorMiddleware",
    "benefits.membersite.auth.MemberMiddleware",  # request.member: the members' own sessions, apart from staff
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "cardportal.middleware.HtmxVaryMiddleware",  # page or fragment from one URL: Vary: HX-Request
    "axes.middleware.AxesMiddleware",  # turns a locked-out sign-in into the lockout page
    "django_prometheus.middleware.PrometheusAfterMiddleware",  # last: the response's status and view
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
            "builtins": ["cardportal.people"],
        },
    },
]

WSGI_APPLICATION = "cardportal.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'cardportal.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        # A kept connection is checked before a request reuses it: after a database restart or a
        # terminated backend the worker reconnects instead of answering one 500.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (runserver, in-process tasks) share one file: wait for locks instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# The PostgreSQL driver is psycopg2 (the dependency the design names). Django would take psycopg 3
# whenever it can import it (the test extra installs it to test the bulk paths on both drivers):
# unless CARDPORTAL_DB_DRIVER=psycopg asks for it, psycopg 3 is made unimportable here, before any
# database backend is loaded, so Django falls back to psycopg2.
if os.environ.get("CARDPORTAL_DB_DRIVER", "psycopg2") != "psycopg":
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pass
    else:
        sys.modules.setdefault("psycopg", None)  # type: ignore[assignment]
if os.environ.get("DATABASE_REPLICA_URL"):
    # A streaming replica for heavy reads (cardportal/replica.py). Tests mirror it onto default.
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"],
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["cardportal.replica.ReplicaRouter"]  # answers nothing without a replica
REPLICA_PIN_SECONDS = int(os.environ.get("REPLICA_PIN_SECONDS", "15"))
REPLICA_RETRY_SECONDS = int(os.environ.get("REPLICA_RETRY_SECONDS", "30"))  # rest a failed replica
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# AxesStandaloneBackend first: it refuses every authenticate() call (login form, admin, API token)
# while the account or the IP is locked out, before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
FORMAT_MODULE_PATH = ["cardportal.formats"]  # zh-hans numbers grouped by three with a comma
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
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "/media/"  # never served directly: uploads and exports go through scoped, audited views

LOGIN_URL = "login"  # the staff sign-in (/staff/login/); members sign in at /me/login/
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Uploaded files stream to a temporary file on disk (never into memory) and are stopped while
# they stream once past UPLOAD_MAX_BYTES (cardportal/uploads.py); the table kernel
# (cardportal/tables.py) enforces the same limit and the rest when it reads them.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", str(30 * 1024 * 1024)))
# A claim's proof (a photo of a receipt, a PDF): cardportal/proofs.py; never above UPLOAD_MAX_BYTES.
PROOF_MAX_BYTES = int(os.environ.get("PROOF_MAX_BYTES", str(10 * 1024 * 1024)))
# A registry migration (city or province staff, administrators: members.registration.may_migrate):
# a city's existing 2,000,000 members as one CSV of ~200 MB (an .xlsx sheet stops at 1,048,576 rows).
# Staged in chunks in bounded memory, so the limit is about disk and time, not the workers' memory.
MIGRATION_MAX_BYTES = int(os.environ.get("MIGRATION_MAX_BYTES", str(400 * 1024 * 1024)))
MIGRATION_MAX_ROWS = int(os.environ.get("MIGRATION_MAX_ROWS", "2500000"))
# A partner's daily transaction feed (merchants/usage): ~500,000 rows, ~60 MB as CSV.
USAGE_FEED_MAX_BYTES = int(os.environ.get("USAGE_FEED_MAX_BYTES", str(200 * 1024 * 1024)))
FILE_UPLOAD_HANDLERS = [
    "cardportal.uploads.BoundedUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- Security (manage.py check --deploy is clean with DEBUG off) ---------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Features no page uses are switched off for every page (cardportal/middleware.py).
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Probes and the metrics scraper talk plain http to the pod or port, never through the proxy.
    SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Sign-in throttling (django-axes) -------------------------------------------------------------
# An account or an IP address that fails AXES_FAILURE_LIMIT sign-ins is locked for the cool-off
# period; every further failure during the lock restarts it. The counts live in the database
# (axes' AccessAttempt), so every gunicorn worker sees them. Locked accounts are listed, and
# unlocked, in the admin ("Axes" section) or with `manage.py axes_reset_username <name>`.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one reaching the limit locks
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "cardportal.signin.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "cardportal.signin.throttle_client_ip"
# Reverse proxies in front of the app that append to X-Forwarded-For (nginx on the host: 1). One
# number for every reader of the client's address (cardportal.audit.client_ip): audit rows,
# sign-in lockouts, the member sign-in throttle, the API throttles. API_NUM_PROXIES, the API's
# older name for it, still works when PROXY_COUNT is not set.
PROXY_COUNT = int(os.environ.get("PROXY_COUNT") or os.environ.get("API_NUM_PROXIES") or "0")

# --- Second factor (django-otp) -------------------------------------------------------------------
OTP_TOTP_ISSUER = "工会会员卡门户"
OTP_TOTP_THROTTLE_FACTOR = 1  # after n failed codes the device waits 2^(n-1) s before the next try
OTP_STATIC_THROTTLE_FACTOR = 1

# --- Content-Security-Policy (django-csp 4.x format) -----------------------------------------
# No inline script anywhere (behaviour lives in static/cardportal/app.js; htmx may not eval).
# Inline styles stay allowed: many templates size progress bars with style="width: n%", Swagger
# UI's page carries a <style> block, and a style cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Personal data (ID numbers, phones) -------------------------------------------------------
# PII_KEYS: comma-separated keys in Fernet's format (urlsafe base64 of 32 random bytes); the first
# encrypts, all decrypt. crypto.py derives an AES-256-GCM key and a key id from each (HKDF); Fernet
# tokens written before that format still decrypt under the same keys. Rotation: put the new key
# first, run `manage.py pii_rotate`, then drop the old one. PII_HASH_KEY: secret for the keyed hash
# (HMAC-SHA256) that makes ID numbers and phones unique and searchable without decrypting.
PII_KEYS = [k.strip() for k in os.environ.get("PII_KEYS", "").split(",") if k.strip()]
PII_HASH_KEY = os.environ.get("PII_HASH_KEY", "")
if not PII_KEYS or not PII_HASH_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("PII_KEYS and PII_HASH_KEY must be set when DEBUG is off.")
    PII_KEYS = PII_KEYS or [devkeys.PII_KEY]
    PII_HASH_KEY = PII_HASH_KEY or devkeys.PII_HASH_KEY

# --- Members' site and SMS (docs/members-site.md) -------------------------------------------
MEMBER_SIGNIN = {
    "code_ttl_seconds": 5 * 60,
    "max_tries": 5,
    "codes_per_day": 10,  # per ID number asked for, and per registry phone
    "ip_requests_per_hour": int(os.environ.get("MEMBER_SIGNIN_IP_REQUESTS_PER_HOUR", "30")),
    "ip_verifies_per_hour": int(os.environ.get("MEMBER_SIGNIN_IP_VERIFIES_PER_HOUR", "60")),
}
MEMBER_LOSS_HOTLINE = os.environ.get("MEMBER_LOSS_HOTLINE", "发卡银行客服电话 400-612-9999")
# One class: members.sms.gateways.ConsoleGateway (default) logs and keeps messages in the outbox only.
SMS_GATEWAY = os.environ.get("SMS_GATEWAY", "members.sms.gateways.ConsoleGateway")
SMS_MAX_ATTEMPTS = int(os.environ.get("SMS_MAX_ATTEMPTS", "5"))
SMS_RETRY_BASE_SECONDS = 2

# --- Ticket grab (docs/drops.md) ---------------------------------------------------------------
# Redis decides claims when set (REDIS_URL by default); empty: the database path alone (embedded).
DROPS_REDIS_URL = os.environ.get("DROPS_REDIS_URL", os.environ.get("REDIS_URL", ""))
DROPS_REDIS_TTL_SECONDS = 3 * 24 * 3600  # a drop's Redis state outlives it by days; rebuilt if lost
DROPS_PAY_SECONDS = int(os.environ.get("DROPS_PAY_SECONDS", str(10 * 60)))  # unpaid: back to the pool
DROPS_SNAPSHOT_SECONDS = float(os.environ.get("DROPS_SNAPSHOT_SECONDS", "2"))  # per-process drop cache
DROPS_LAZY_EXPIRY_SECONDS = 5
# Claim presses per window: per member (a bot, or a thumb on the button) and per client IP
# (cardportal.audit.client_ip: many phones share a carrier's address, so it is generous).
DROPS_THROTTLE = {
    "seconds": 10,
    "member": int(os.environ.get("DROPS_THROTTLE_MEMBER", "10")),
    "ip": int(os.environ.get("DROPS_THROTTLE_IP", "300")),
}
# One class: benefits.drops.payments.InstantProvider (default) confirms at once and moves no money.
DROPS_PAYMENT_PROVIDER = os.environ.get("DROPS_PAYMENT_PROVIDER", "benefits.drops.payments.InstantProvider")
# The claim token the drop page hands a member (benefits/drops/fast.py): valid this long.
DROPS_CLAIM_TOKEN_SECONDS = int(os.environ.get("DROPS_CLAIM_TOKEN_SECONDS", str(30 * 60)))
# The lean press's winners share one COMMIT per batch (benefits/drops/winners.py).
DROPS_BATCH_WINNERS = os.environ.get("DROPS_BATCH_WINNERS", "1") == "1"
# Endpoints answered in front of Django (cardportal/earlywsgi.py): (method, path regex, WSGI callable).
WSGI_EARLY_ROUTES = [
    ("POST", r"/me/drops/(?P<drop_id>[0-9]{1,12})/grab/", "benefits.drops.fast.wsgi_grab"),
]

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
# Long jobs (docs/operations.md, "Long jobs"): a message is acknowledged only when its task has
# ended, and a worker lost mid-task puts it back; the job row's run token and lease (not the
# broker) decide whether a delivery may work, so a redelivery never doubles or blocks a job.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per worker process: a prefetched message would wait behind a long job
# (and be redelivered from the dead worker only after the visibility timeout).
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Queues (docs/operations.md, "Processes and queues"): each has its own workers, so a 100,000-row
# sheet never delays an SMS code. Routed by task name; a task not listed goes to "default".
# Time limits (soft, hard) in seconds per queue, for the tasks that do not declare their own
# (cardportal.celery.QueueTimeLimits): the soft limit fails a job plainly, the hard one kills it.
CELERY_QUEUES = {
    # a 30 MB sheet's import or registration takes minutes; an hour is a runaway
    "sheets": {"tasks": ["members.tasks.*"], "time_limits": (55 * 60, 60 * 60)},
    # hand-off files, return and activation files, payment files
    "bank": {
        "tasks": ["issuance.tasks.*", "benefits.tasks.disbursement_export_task", "merchants.usage.tasks.*"],
        "time_limits": (25 * 60, 30 * 60),
    },
    # texts waiting on a gateway: a member is waiting for the code
    "notify": {
        "tasks": ["members.sms.tasks.*", "benefits.membersite.tasks.signin_code_send_task"],
        "time_limits": (60, 90),
    },
    # beat's sweeps and everything else
    "default": {"tasks": [], "time_limits": (10 * 60, 15 * 60)},
}
CELERY_TASK_DEFAULT_QUEUE = "default"
# Declared, so the readiness check asks for a worker answering on each (cardportal/health.py).
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in CELERY_QUEUES]
CELERY_TASK_ROUTES = {
    pattern: {"queue": name} for name, queue in CELERY_QUEUES.items() for pattern in queue["tasks"]
}
CELERY_TASK_ANNOTATIONS = ["cardportal.celery.QueueTimeLimits"]
# Redis hands an unacknowledged message to another worker after this long. It must exceed the
# longest time limit, or a long job still running would be delivered twice; recovery of a dead
# worker's job does not wait for it (the lease below does that within minutes).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": max(q["time_limits"][1] for q in CELERY_QUEUES.values()) + 30 * 60
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = CELERY_BROKER_TRANSPORT_OPTIONS
# A running job's heartbeat is renewed this often; a job unheard of for JOB_LEASE_SECONDS is taken
# to have lost its worker and is re-run (beat task jobs_reap_task), at most JOB_MAX_ATTEMPTS starts.
JOB_HEARTBEAT_SECONDS = float(os.environ.get("JOB_HEARTBEAT_SECONDS", "15"))
JOB_LEASE_SECONDS = float(os.environ.get("JOB_LEASE_SECONDS", "120"))
JOB_MAX_ATTEMPTS = int(os.environ.get("JOB_MAX_ATTEMPTS", "3"))
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Files at rest (cardportal/retention.py, docs/security.md): days after which a file in MEDIA_ROOT
# that holds personal data is deleted. Each can be set as FILE_RETENTION_<NAME>_DAYS.
FILE_RETENTION_DAYS = {
    name: int(os.environ.get(f"FILE_RETENTION_{name.upper()}_DAYS", default))
    for name, default in {
        "sheet_done": 30,  # uploaded sheet, after it was registered or refused
        "sheet_any": 180,  # uploaded sheet, after upload, whatever became of it
        "handoff": 30,  # bank hand-off file (full ID numbers), after it was generated
        "bank_import": 30,  # bank return / activation file, after it was processed
        "payment_done": 30,  # aid payment file, after the bank's result closed the batch
        "payment_any": 180,  # aid payment file, after it was generated
        "claim_proof": 365,  # a member's proof of a claim (receipt photo), after the claim was decided
        "usage_feed": 30,  # a partner's transaction feed (card numbers), after upload
    }.items()
}

CELERY_BEAT_SCHEDULE: dict = {
    # Long jobs whose worker died are re-run (or failed) within a lease and a minute.
    "jobs-reap": {"task": "cardportal.tasks.jobs_reap_task", "schedule": 60.0},
    # The rolling review window moves every day even without new ratings.
    "merchant-scores": {
        "task": "merchants.tasks.merchant_scores_refresh_task",
        "schedule": crontab(hour=2, minute=30),
    },
    # Spent member sign-in challenges (benefits.membersite.services.signin_codes_purge).
    "member-signin-codes-purge": {
        "task": "benefits.membersite.tasks.signin_codes_purge_task",
        "schedule": crontab(hour=3, minute=40),
    },
    # Unpaid one-cent tickets back to the pool; Redis of live drops checked against the database.
    "drops-tickets-expire": {"task": "benefits.drops.tasks.tickets_expire_task", "schedule": 30.0},
    "drops-reconcile": {"task": "benefits.drops.tasks.drops_reconcile_task", "schedule": 60.0},
    # "提醒我": one SMS shortly before a drop opens, to members who asked (docs/drops.md).
    "drops-reminders": {"task": "benefits.drops.tasks.drop_reminders_task", "schedule": 60.0},
    # Last month's consumption subsidies become a draft disbursement batch per campaign (docs/subsidies.md).
    "subsidies-monthly-batches": {
        "task": "benefits.subsidies.tasks.subsidy_monthly_batches_task",
        "schedule": crontab(minute=0, hour=4, day_of_month=1),
    },
    # Card usage analytics: rebuild the snapshots the pages read (quotas/analytics/refresh.py).
    "analytics-refresh": {
        "task": "quotas.analytics.tasks.analytics_refresh_task",
        "schedule": crontab(minute=15, hour=2),
    },
    # Draft last month's bulletin (月通报) early on the 1st; idempotent per month.
    "quotas-bulletin-draft": {
        "task": "quotas.tasks.bulletin_draft_due_task",
        "schedule": crontab(minute=30, hour=1, day_of_month=1),
    },
    # Card transactions' month partitions created three months ahead (merchants/usage/partitions.py).
    "usage-partitions-ahead": {
        "task": "merchants.usage.tasks.partitions_ahead_task",
        "schedule": crontab(hour=0, minute=20),
    },
    # Delete files kept past their retention period (FILE_RETENTION_DAYS); idempotent.
    "files-purge": {
        "task": "cardportal.tasks.files_purge_task",
        "schedule": crontab(hour=3, minute=15),
    },
}
# quotas: the choices the seed leaves open (defaults and meanings in quotas/conf.py, docs/quotas.md).
QUOTAS: dict = {}

# The cache counts API throttles (cardportal/throttling.py): Redis so that every worker process
# counts together; in-process when embedded (and under the tests: cardportal/settings_test.py).
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes a refused or expired token a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cardportal.authentication.PartnerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Per signed-in user and per anonymous IP on every endpoint; /api/token/ has its own two
    # (per IP, per username). Counted in the `default` cache (cardportal/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": ["cardportal.throttling.UserThrottle", "cardportal.throttling.AnonThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": os.environ.get("API_THROTTLE_USER", "600/min"),
        "anon": os.environ.get("API_THROTTLE_ANON", "60/min"),
        "token_ip": os.environ.get("API_THROTTLE_TOKEN_IP", "20/hour"),
        "token_username": os.environ.get("API_THROTTLE_TOKEN_USERNAME", "10/hour"),
    },
    # Without it DRF counts per X-Forwarded-For as sent, which a client sets to anything it likes.
    # 0: the client is REMOTE_ADDR; behind N reverse proxies that append to the header, set N.
    "NUM_PROXIES": PROXY_COUNT,  # our throttles read client_ip (the same number) anyway
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "cardportal.errors.api_exception_handler",
}
# Partner API tokens (cardportal/api_tokens.py): knox stores a SHA-512 digest, never the token.
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=int(os.environ.get("API_TOKEN_TTL_DAYS", "90"))),
    "AUTO_REFRESH": False,  # an expiry is a date the partner plans a rotation for, not a sliding window
    "TOKEN_PREFIX": "cp_",  # recognisable in a leaked file or a secret scanner
    "AUTH_HEADER_PREFIX": "Token",  # the header partners already send
}
SPECTACULAR_SETTINGS = {
    "TITLE": "cardportal API",
    "DESCRIPTION": "工会会员卡门户 API: members, cards, merchants, benefits, league tables.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No badge image from validator.swagger.io (the CSP allows no outside host, and the schema is private).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Several models have a field called "status": name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "MemberStatusEnum": "members.models.Member.Status",
        "BulletinStatusEnum": "quotas.models.Bulletin.Status",
        "MerchantStatusEnum": "merchants.models.Merchant.Status",
        "CardStatusEnum": "issuance.models.Card.Status",
    },
}

# --- Health, logs, metrics, error reports (cardportal/health.py, cardportal/observability.py) ---
# Readiness waits this long for a Celery worker of each queue to answer a ping.
HEALTH_CELERY_PING_SECONDS = float(os.environ.get("HEALTH_CELERY_PING_SECONDS", "1"))
# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; without a token it does not exist.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# The request id: X-Request-ID when a proxy sends a valid one (a UUID), otherwise made; returned
# in X-Request-ID, written in every log line and carried into the Celery tasks a request sends.
DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Request-ID",
    "VALIDATE_GUID": True,
    "RETURN_HEADER": True,
    "INTEGRATIONS": [CeleryIntegration(use_django_logging=True, log_parent=True)],
    "IGNORE_URLS": ["health/live/", "health/ready/", "health/ready/web/", "metrics"],
}
# JSON lines (one object a line) unless LOG_FORMAT=text; text by default for DEBUG (and the tests:
# settings_test.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "django_guid.log_filters.CorrelationId"}},
    "formatters": {
        "json": {
            "()": "cardportal.logformat.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(correlation_id)s",
            "timestamp": "time",  # ISO 8601 in UTC, the same in every process
            "rename_fields": {"levelname": "level", "name": "logger", "correlation_id": "request_id"},
            "json_ensure_ascii": False,  # Chinese messages readable as they are
        },
        "text": {
            "()": "cardportal.logformat.TextFormatter",
            "format": "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # django-guid says "Setting GUID ..." at INFO for every task: noise
    "loggers": {"django_guid": {"level": "WARNING"}},
}
# Error reports to Sentry only when SENTRY_DSN is set (needs the prod extra's sentry-sdk).
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    from cardportal.observability import sentry_init

    sentry_init(SENTRY_DSN)
