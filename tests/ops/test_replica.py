"""Heavy pages read a real streaming replica; writes and the pages right after a write use the
primary. The proof: replay on the replica is paused (`pg_wal_replay_pause()`), so the replica keeps
an older state than the primary, and each page shows which one it read."""

import socket

import psycopg2
import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from cardportal import replica as replica_module
from cardportal.models import AuditEntry
from cardportal.replica import PIN_COOKIE, ReplicaRouter, reading_replica
from issuance.lifecycle import cards_transition
from members.models import Union
from quotas.models import AssessmentInput

from ..quotas.factories import at, make_cards, make_quota
from .conftest import REPLICA_DBS, wait_for_replay

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases=REPLICA_DBS)]


@pytest.fixture
def league(tree):
    make_quota(tree.county_a, 2016, target=10, members=100)
    make_quota(tree.county_b, 2016, target=20, members=200)
    cards = make_cards(tree.unit_a1, 4, applied=at(2016, 3), issued=at(2016, 4), received=at(2016, 4))
    return tree, cards


def _replica_paused(replica) -> None:
    wait_for_replay(replica, connections["default"])
    with replica.cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")


def _issued_in_april(client) -> dict[str, int]:
    response = client.get(reverse("quotas:league"), {"month": "2016-04"})
    assert response.status_code == 200
    return {r.union.name: r.issued for r in response.context["table"].rows}


def test_the_league_table_reads_the_replica_and_the_page_after_a_write_reads_the_primary(
    client, replica_db, league, city_staff
):
    tree, _ = league
    client.force_login(city_staff)
    _replica_paused(replica_db)
    # Given six more cards issued in county B, on the primary only (the replica is paused)
    make_cards(tree.unit_b1, 6, applied=at(2016, 3), issued=at(2016, 4))

    # The league table is read from the replica: B's six cards are not there yet.
    assert _issued_in_april(client) == {"甲县总工会": 4, "乙县总工会": 0}
    assert PIN_COOKIE not in client.cookies

    # When the staff member writes something (their assessment scores for county A)...
    p = f"u{tree.county_a.pk}"
    response = client.post(
        reverse("quotas:assessment_input", args=[2016, tree.county_a.pk]),
        {
            f"{p}-leadership": "2.5",
            f"{p}-measures": "4",
            f"{p}-missed_reports": "1",
            f"{p}-public_criticisms": "0",
        },
    )
    assert response.status_code == 302
    assert client.cookies[PIN_COOKIE]["max-age"] == 15

    # ...the page the form redirects to reads the primary: their own scores are on it,
    page = client.get(response["Location"])
    results = {r.facts.name: r for r, _ in page.context["results"]}
    assert results["甲县总工会"].parts["leadership"].points == 2.5
    # and so does every page for the next seconds, the league table included.
    assert _issued_in_april(client) == {"甲县总工会": 4, "乙县总工会": 6}

    # Another user's browser, not pinned, still reads the paused replica.
    other = Client()
    other.force_login(city_staff)
    assert _issued_in_april(other) == {"甲县总工会": 4, "乙县总工会": 0}
    assessment = other.get(reverse("quotas:assessment"), {"year": "2016"})
    assert {r.facts.name: r for r, _ in assessment.context["results"]}["甲县总工会"].parts[
        "leadership"
    ].points == 0

    # Once replay resumes, the replica catches up and shows the same figures.
    with replica_db.cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_resume()")
    wait_for_replay(replica_db, connections["default"])
    assert _issued_in_april(other) == {"甲县总工会": 4, "乙县总工会": 6}


def test_writes_on_a_replica_page_go_to_the_primary(client, replica_db, league, city_staff):
    tree, cards = league
    client.force_login(city_staff)
    _replica_paused(replica_db)
    # The league export (a replica page) writes its audit row: on the primary, not refused by the
    # read-only replica.
    response = client.get(reverse("quotas:league_export"), {"month": "2016-04"})
    assert response.status_code == 200
    assert AuditEntry.objects.using("default").filter(verb="league.exported").count() == 1
    assert AuditEntry.objects.using("replica").filter(verb="league.exported").count() == 0
    # Inside a replica block, a service's writes and its reads in its own transaction stay on the
    # primary.
    with reading_replica():
        assert Union.objects.filter(pk=tree.county_b.pk).first() is not None  # on the replica
        cards_transition(cards=cards[:2], to_status="distributed", at=at(2016, 4, 20))
        AssessmentInput.objects.create(union=tree.county_b, year=2016, leadership=1, measures=1)
        assert ReplicaRouter().db_for_read(AssessmentInput) == "replica"
        assert AssessmentInput.objects.filter(union=tree.county_b).count() == 0  # replica: paused
    assert AssessmentInput.objects.filter(union=tree.county_b).count() == 1  # primary
    assert AssessmentInput.objects.using("replica").filter(union=tree.county_b).count() == 0


def _replica_backend_killed(replica) -> None:
    """Ends this process's replica connection on the server side, as a replica restart would."""
    replica.ensure_connection()
    pid = replica.connection.info.backend_pid
    params = replica.get_connection_params()
    killer = psycopg2.connect(**{k: params[k] for k in ("host", "port", "user", "dbname")})
    killer.autocommit = True
    with killer.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    killer.close()


@pytest.fixture
def replica_resting_reset(settings):
    settings.REPLICA_RETRY_SECONDS = 30
    replica_module._resting_until = 0.0
    yield
    replica_module._resting_until = 0.0


def test_a_replica_that_drops_mid_page_leaves_the_page_on_the_primary(
    client, replica_db, league, city_staff, replica_resting_reset, caplog
):
    tree, _ = league
    client.force_login(city_staff)
    _replica_paused(replica_db)
    make_cards(tree.unit_b1, 6, applied=at(2016, 3), issued=at(2016, 4))
    assert _issued_in_april(client) == {"甲县总工会": 4, "乙县总工会": 0}  # the paused replica

    # The replica's server ends the connection (a restart, a fail-over): the league table is read
    # again from the primary instead of failing, and the failure is logged.
    _replica_backend_killed(replica_db)
    assert _issued_in_april(client) == {"甲县总工会": 4, "乙县总工会": 6}
    assert "read replica unavailable" in caplog.text

    # While it rests, pages read the primary without trying it; after the rest, the replica again.
    assert _issued_in_april(client) == {"甲县总工会": 4, "乙县总工会": 6}
    replica_module._resting_until = 0.0
    assert _issued_in_april(client) == {"甲县总工会": 4, "乙县总工会": 0}


def test_a_replica_that_refuses_connections_leaves_the_pages_on_the_primary(
    client, replica_db, league, city_staff, replica_resting_reset
):
    tree, _ = league
    client.force_login(city_staff)
    _replica_paused(replica_db)
    make_cards(tree.unit_b1, 6, applied=at(2016, 3), issued=at(2016, 4))
    replica_db.close()
    real_port = connections.settings["replica"]["PORT"]
    with socket.socket() as s:  # a port nothing listens on: the replica host is gone
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    connections.settings["replica"]["PORT"] = dead_port
    replica_db.settings_dict["PORT"] = dead_port
    try:
        assert _issued_in_april(client) == {"甲县总工会": 4, "乙县总工会": 6}
        assert client.get(reverse("quotas:league_export"), {"month": "2016-04"}).status_code == 200
    finally:
        connections.settings["replica"]["PORT"] = real_port
        replica_db.settings_dict["PORT"] = real_port
        replica_db.close()
