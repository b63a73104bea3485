"""The outbox with Redis and a real Celery worker."""

import time

import pytest

from members.sms.models import SmsMessage
from members.sms.services import sms_queue
from tests.factories import make_member

from . import gateways

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_failing_provider_through_a_real_worker(tree, settings, celery_worker_thread):
    """Through Redis and a real worker: the retries are real Celery retries (countdown 0 here)."""
    gateways.CALLS.clear()
    settings.SMS_GATEWAY = "tests.sms.gateways.FailingGateway"
    settings.SMS_MAX_ATTEMPTS = 3
    settings.SMS_RETRY_BASE_SECONDS = 0
    member = make_member(tree.unit_a1)
    message = sms_queue(member=member, template="member_signin_code", params={"code": "111111"})
    # transactional test: the on_commit enqueue has already run

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if message.status == SmsMessage.Status.FAILED:
            break
        time.sleep(0.2)
    assert (message.status, message.attempts) == (SmsMessage.Status.FAILED, 3)
    assert len(gateways.CALLS) == 3
