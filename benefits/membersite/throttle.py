"""Fixed-window counters in Django's cache (Redis in production, so every web process shares
them): `allow(key, limit, seconds)` counts one hit and says whether it is within the limit."""

from django.core.cache import cache

PREFIX = "member-throttle:"


def allow(key: str, *, limit: int, seconds: int) -> bool:
    full = f"{PREFIX}{key}:{seconds}"
    if cache.add(full, 1, timeout=seconds):
        return limit >= 1
    try:
        count = cache.incr(full)
    except ValueError:  # expired between add and incr
        cache.add(full, 1, timeout=seconds)
        count = 1
    return count <= limit


def would_allow(key: str, *, limit: int, seconds: int) -> bool:
    """Whether one more hit would be allowed, without counting it."""
    return (cache.get(f"{PREFIX}{key}:{seconds}") or 0) < limit
