"""Without DATABASE_REPLICA_URL (the default) the replica router and its middleware do nothing.
The routing itself is proven against a real streaming replica in tests/ops/test_replica.py."""

import pytest
from django.urls import reverse

from cardportal.replica import PIN_COOKIE, ReplicaRouter, reading_replica
from members.models import Union

pytestmark = pytest.mark.django_db


def test_without_a_replica_nothing_changes(client, tree, city_staff):
    client.force_login(city_staff)
    router = ReplicaRouter()
    with reading_replica():
        assert router.db_for_read(Union) is None
    assert router.db_for_write(Union) is None
    response = client.post(reverse("quotas:assessment_input", args=[2016, tree.county_a.pk]), {})
    assert response.status_code == 302
    assert PIN_COOKIE not in client.cookies
