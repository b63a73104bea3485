"""A segment's SMS notice: the confirmation's count, one notice per member per key, large
segments in the Celery task."""

import pytest
from django.urls import reverse

from members.sms.models import Notice, SmsMessage
from quotas.analytics import services
from quotas.analytics.models import SegmentNotice
from quotas.analytics.segments import SEGMENTS

pytestmark = pytest.mark.django_db


def _post(client, slug, follow=False, **data):
    return client.post(reverse("analytics:segment_notify", args=[slug]), data, follow=follow)


def _ours():
    return Notice.objects.filter(key__startswith="seg:")


def test_confirmation_shows_how_many_will_get_it(city, client, city_staff):
    client.force_login(city_staff)
    body = client.get(reverse("analytics:segment", args=["hardship_unused"])).content.decode()
    assert "确认发送给 2 名会员" in body


def test_send_once_per_key(city, client, city_staff, django_capture_on_commit_callbacks):
    client.force_login(city_staff)
    data = {"title": "会员卡用卡指南讲座", "when": "12月10日下午在县总工会", "expected": 2}
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, "hardship_unused", **data)
    assert response.status_code == 302
    notices = Notice.objects.filter(kind=Notice.Kind.ACTIVITY)
    assert sorted(n.member.name for n in notices) == ["乙五", "甲二"]
    assert SmsMessage.objects.filter(key__startswith="seg:").count() == 2
    sent = SegmentNotice.objects.get()
    assert (sent.planned, sent.sent, sent.job_status) == (2, 2, "done")
    # the same notice again: refused, nobody texted twice
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, "hardship_unused", **data)
    assert Notice.objects.filter(kind=Notice.Kind.ACTIVITY).count() == 2
    assert SegmentNotice.objects.count() == 1
    # a re-run of the send (a redelivered task) adds nothing either
    services.segment_notice_send(sent.pk)
    assert SmsMessage.objects.filter(key__startswith="seg:").count() == 2


def test_a_changed_count_is_refused(city, client, city_staff):
    client.force_login(city_staff)
    response = _post(client, "hardship_unused", title="讲座", when="明天", expected=5, follow=True)
    assert "分群人数已变为2人" in response.content.decode()
    assert not _ours().exists()


def test_county_staff_notify_only_their_county(city, client, reviewer, django_capture_on_commit_callbacks):
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, "hardship_unused", title="讲座", when="明天", expected=1)
    assert [n.member.name for n in _ours()] == ["甲二"]


def test_large_segment_goes_through_the_task(
    city, city_staff, run_tasks_inline, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "INLINE_LIMIT", 1)
    with django_capture_on_commit_callbacks(execute=True):
        notice = services.segment_notify(
            actor=city_staff,
            segment=SEGMENTS["activated_unused"],
            params={},
            title="讲座",
            when="明天",
            expected=2,
        )
    notice.refresh_from_db()
    assert (notice.job_status, notice.sent, notice.progress_done) == ("done", 2, 2)
    assert _ours().count() == 2
