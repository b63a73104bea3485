import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Sign-in throttles live in the cache (Redis db of this test run when REDIS_URL is set)."""
    cache.clear()
    yield
    cache.clear()
