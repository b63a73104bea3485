import pytest

from quotas.analytics.refresh import refresh_all, spend_refresh

from .factories import NOV, OCT, TODAY, make_city


@pytest.fixture
def city(tree):
    city = make_city(tree)
    refresh_all(today=TODAY)
    spend_refresh(NOV)
    spend_refresh(OCT)
    return city
