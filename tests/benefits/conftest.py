import pytest

from ..factories import ROLE, make_staff


@pytest.fixture
def province_staff(tree):
    return make_staff(ROLE.PROVINCE_STAFF, tree.province, username="province")


@pytest.fixture
def bank_operator(tree):
    return make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
