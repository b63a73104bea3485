import pytest

from tests.factories import ROLE, make_staff

from .factories import make_partner


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def partner(db):
    return make_partner()


@pytest.fixture
def bank_user(tree):
    return make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")


@pytest.fixture
def clerk_b(tree):
    return make_staff(ROLE.CLERK, tree.unit_b1, username="clerk-b1")
