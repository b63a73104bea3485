"""The outbox with Redis and a real Celery worker."""

import time

import pytest

from members.sms.models import SmsMessage
from members.sms.services import sms_queue
from tests.factories import make_member

from . import gateways

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def _wait_until_settled(message, timeout: float = 30) -> None:
    """Poll the row the worker (another thread) updates until it is failed or sent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if message.status != SmsMessage.Status.QUEUED:
            return
        time.sleep(0.2)


def test_failing_provider_through_a_real_worker(tree, settings, celery_worker_thread):
    """Through Redis and a real worker: the retries are real Celery retries (countdown 0 here)."""
    gateways.CALLS.clear()
    settings.SMS_GATEWAY = "tests.sms.gateways.FailingGateway"
    settings.SMS_MAX_ATTEMPTS = 3
    settings.SMS_RETRY_BASE_SECONDS = 0
    member = make_member(tree.unit_a1)
    message = sms_queue(member=member, template="member_signin_code", params={"code": "111111"})
    # transactional test: the on_commit enqueue has already run

    _wait_until_settled(message)
    assert (message.status, message.attempts) == (SmsMessage.Status.FAILED, 3)
    assert len(gateways.CALLS) == 3


def test_notice_sms_of_a_card_event_retried_by_a_real_worker(tree, settings, celery_worker_thread):
    """The chunk task of a card event's SMS, through Redis and a real worker: the provider fails,
    the message is retried by its own task and marked failed after N tries; the notice stands."""
    from issuance.lifecycle import cards_transition
    from issuance.models import Card
    from members.sms.models import Notice
    from tests.issuance.factories import make_card

    card = make_card(tree.unit_a1, status=Card.Status.ISSUED)  # before the provider breaks
    gateways.CALLS.clear()
    settings.SMS_GATEWAY = "tests.sms.gateways.FailingGateway"
    settings.SMS_MAX_ATTEMPTS = 3
    settings.SMS_RETRY_BASE_SECONDS = 0

    cards_transition(cards=[card.pk], to_status=Card.Status.RECEIVED)

    message = SmsMessage.objects.get(key=f"card-ready:{card.pk}")
    _wait_until_settled(message)
    assert (message.status, message.attempts) == (SmsMessage.Status.FAILED, 3)
    assert len(gateways.CALLS) == 3
    assert Notice.objects.filter(key=f"card-ready:{card.pk}").count() == 1
