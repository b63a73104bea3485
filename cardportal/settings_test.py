"""Settings of the test suite (pyproject's DJANGO_SETTINGS_MODULE for pytest): the production
settings (cardportal/settings.py) with what the tests need switched on explicitly, instead of a
flag guessed from the running process.

- The development keys (cardportal/devkeys.py) unless the environment gives keys.
- Plain http: the live-server browser tests cannot use secure cookies or an HTTPS redirect.
- Static files found by the finders (no collectstatic before a run).
- An in-process cache, so each test starts from empty throttle counts even with REDIS_URL set.
- Text log lines (LOG_FORMAT=text unless the environment says otherwise).

A subprocess a test starts (a Celery worker, `manage.py check --deploy`) names the settings it
runs with itself (DJANGO_SETTINGS_MODULE=cardportal.settings), as production would.
"""

import os

from . import devkeys

os.environ.setdefault("SECRET_KEY", devkeys.SECRET_KEY)
os.environ.setdefault("PII_KEYS", devkeys.PII_KEY)
os.environ.setdefault("PII_HASH_KEY", devkeys.PII_HASH_KEY)
os.environ.setdefault("LOG_FORMAT", "text")  # readable pytest output; the JSON tests ask for json

from .settings import *  # noqa: E402, F403
from .settings import STORAGES  # noqa: E402

SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# One fast hasher for the accounts the fixtures create and sign in (Django's advice for test
# suites): production's PBKDF2 costs ~0.2 s a hash here, paid by every make_staff and every
# password sign-in. Production keeps its hashers (settings.py); the deploy check runs with those.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
