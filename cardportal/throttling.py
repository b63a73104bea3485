"""API rate limits, on DRF's own cache-backed throttles (the `default` cache: Redis when REDIS_URL
is set, so every worker process counts together).

Rates live in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] and are read per request (DRF's
classes copy them once at import), so an environment or a test can change them.
"""

import hashlib

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from .audit import client_ip


class _LiveRate:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        # the address audit rows and sign-in lockouts use too (settings.PROXY_COUNT)
        return client_ip(request) or ""


class UserThrottle(_LiveRate, UserRateThrottle):
    """Per signed-in user (session or token), across every API endpoint."""


class AnonThrottle(_LiveRate, AnonRateThrottle):
    """Per client IP, for requests without a user."""


class TokenIpThrottle(_LiveRate, SimpleRateThrottle):
    """Token requests per client IP, whatever the username: one address guessing many accounts."""

    scope = "token_ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenUsernameThrottle(_LiveRate, SimpleRateThrottle):
    """Token requests per username, whatever the address: many addresses guessing one account."""

    scope = "token_username"

    def get_cache_key(self, request, view):
        username = str(request.data.get("username", "")).strip().lower()
        if not username:
            return None
        # A digest keeps the cache key short and free of whatever characters a username holds.
        ident = hashlib.sha256(username.encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": ident}
