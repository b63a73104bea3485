"""消息: card events notify the member once (a notice and an SMS under one key), whatever is
replayed; the member reads their own notices."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from issuance.lifecycle import cards_transition
from issuance.models import Card
from issuance.notices import card_notices_send
from members.sms.models import Notice, SmsMessage
from members.sms.notices import notice_send
from members.sms.tasks import sms_send_many_task
from tests.factories import make_member
from tests.issuance.factories import make_card
from tests.sms import gateways

from .helpers import sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]
S = Card.Status


def _receive(cards, capture):
    with capture(execute=True):
        return cards_transition(cards=[c.pk for c in cards], to_status=S.RECEIVED, strict=False)


def test_card_at_the_union_notifies_the_member_once(tree, django_capture_on_commit_callbacks):
    card = make_card(tree.unit_a1, status=S.ISSUED, phone="13912340001")

    _receive([card], django_capture_on_commit_callbacks)

    notice = Notice.objects.get()
    assert (notice.member, notice.kind, notice.key) == (card.member, "card_ready", f"card-ready:{card.pk}")
    assert notice.params == {"tail": card.number[-4:], "union": "甲县第一中学工会"}
    sms = SmsMessage.objects.get(key=f"card-ready:{card.pk}")
    assert (sms.template, sms.phone_masked, sms.status, sms.attempts) == (
        "notice_card_ready",
        "139****0001",
        SmsMessage.Status.SENT,
        1,
    )

    # the same event replayed: the transition moves nothing, a direct re-run of the hook adds nothing
    assert _receive([card], django_capture_on_commit_callbacks) == []
    with django_capture_on_commit_callbacks(execute=True):
        assert card_notices_send(card_ids=[card.pk], to_status=S.RECEIVED, at=timezone.now()) == 0
    assert (Notice.objects.count(), SmsMessage.objects.count()) == (1, 1)


def test_activation_notifies_and_earlier_stages_do_not(tree, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        card = make_card(tree.unit_a1, status=S.ACTIVATED)

    assert sorted(Notice.objects.values_list("kind", flat=True)) == ["card_activated", "card_ready"]
    assert sorted(SmsMessage.objects.values_list("template", flat=True)) == [
        "notice_card_activated",
        "notice_card_ready",
    ]
    assert set(SmsMessage.objects.values_list("status", flat=True)) == {"sent"}
    assert Notice.objects.filter(member=card.member).count() == 2


def test_many_cards_in_one_transition_one_notice_each(tree, django_capture_on_commit_callbacks):
    cards = [make_card(tree.unit_a1, status=S.ISSUED) for _ in range(3)]

    _receive(cards, django_capture_on_commit_callbacks)

    assert sorted(Notice.objects.values_list("key", flat=True)) == sorted(f"card-ready:{c.pk}" for c in cards)
    assert SmsMessage.objects.filter(status="sent").count() == 3


def test_outbox_key_is_unique_in_the_database(tree):
    member = make_member(tree.unit_a1)
    fields = {
        "phone_encrypted": member.phone_encrypted,
        "phone_hash": member.phone_hash,
        "phone_masked": member.masked_phone,
        "template": "notice_card_ready",
        "key": "card-ready:1",
    }
    SmsMessage.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        SmsMessage.objects.create(**fields)
    Notice.objects.create(member=member, kind="card_ready", key="card-ready:1", created_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Notice.objects.create(member=member, kind="card_ready", key="card-ready:1", created_at=timezone.now())


def test_notice_send_is_idempotent(tree, django_capture_on_commit_callbacks):
    member = make_member(tree.unit_a1)
    params = {"programme": "送温暖", "amount": "500.00", "tail": "1234"}
    with django_capture_on_commit_callbacks(execute=True):
        first = notice_send(member=member, kind="aid_paid", key="aid-paid:7", params=params)
        again = notice_send(member=member, kind="aid_paid", key="aid-paid:7", params=params)

    assert first is not None and again is None
    assert (Notice.objects.count(), SmsMessage.objects.filter(key="aid-paid:7").count()) == (1, 1)


def test_failing_provider_keeps_notice_sms_and_retries_it(tree, settings, django_capture_on_commit_callbacks):
    settings.SMS_GATEWAY = "tests.sms.gateways.FailingGateway"
    settings.SMS_MAX_ATTEMPTS = 3
    gateways.CALLS.clear()
    card = make_card(tree.unit_a1, status=S.ISSUED)

    _receive([card], django_capture_on_commit_callbacks)

    sms = SmsMessage.objects.get(key=f"card-ready:{card.pk}")
    assert (sms.status, sms.attempts) == (SmsMessage.Status.FAILED, 3)
    assert len(gateways.CALLS) == 3
    assert Notice.objects.filter(key=f"card-ready:{card.pk}").count() == 1  # the notice stands
    sms_send_many_task.delay([sms.pk])  # a re-delivered chunk sends nothing
    assert len(gateways.CALLS) == 3


def test_notices_page_shows_the_members_own_notices_and_marks_them_read(
    client, tree, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        card = make_card(tree.unit_a1, status=S.ACTIVATED)
        make_card(tree.unit_a1, status=S.ACTIVATED)  # someone else's
    sign_in(client, django_capture_on_commit_callbacks, card.member)

    html = client.get("/me/notices/").content.decode()

    tail = card.number[-4:]
    assert f"您的工会会员卡（尾号{tail}）已激活，可在特约商户享受会员优惠。" in html
    assert f"您的工会会员卡（尾号{tail}）已到甲县第一中学工会，请带本人身份证到工会领取。" in html
    assert html.index("已激活，可在") < html.index("已到甲县")  # newest first
    assert html.count('class="m-notice') == 2 and html.count("m-tag-new") == 2
    assert Notice.objects.filter(member=card.member, read_at__isnull=True).count() == 0
    assert Notice.objects.exclude(member=card.member).filter(read_at__isnull=True).count() == 2
    assert client.get("/me/notices/").content.decode().count("m-tag-new") == 0


def test_notices_page_without_notices(client, tree, django_capture_on_commit_callbacks):
    member = make_member(tree.unit_a1)
    sign_in(client, django_capture_on_commit_callbacks, member)

    assert "暂无消息" in client.get("/me/notices/").content.decode()


def test_notices_page_queries(client, tree, django_capture_on_commit_callbacks, django_assert_num_queries):
    with django_capture_on_commit_callbacks(execute=True):
        card = make_card(tree.unit_a1, status=S.ACTIVATED)
    sign_in(client, django_capture_on_commit_callbacks, card.member)
    client.get("/me/notices/")

    # session, member with union and county, notices (all read: nothing to mark)
    with django_assert_num_queries(3):
        assert client.get("/me/notices/").status_code == 200


def test_a_back_dated_event_gets_a_notice_but_no_sms(tree, django_capture_on_commit_callbacks):
    from datetime import timedelta

    card = make_card(tree.unit_a1, status=S.ISSUED)
    with django_capture_on_commit_callbacks(execute=True):
        cards_transition(cards=[card.pk], to_status=S.RECEIVED, at=timezone.now() - timedelta(days=31))

    assert Notice.objects.get().key == f"card-ready:{card.pk}"
    assert not SmsMessage.objects.exists()
