"""附件6: units hand in a sheet by their group's due date and three paper deliverables (stamped
letter, paper sheet, ID copies); a unit done after the date shows 逾期完成, not 已完成."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cardportal.errors import ApplicationError
from cardportal.models import AuditEntry
from members.models import RegistrationSheet, SubmissionDelivery, SubmissionGroup
from members.selectors import submission_states
from members.services import submission_delivery_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(tree):
    group = SubmissionGroup.objects.create(
        name="第一组", due_date=timezone.localdate() - timedelta(days=10), owner=tree.city
    )
    group.unions.set([tree.unit_a1, tree.unit_a2])
    return group


def _done(union, *, submitted_days_ago: int, clerk):
    return RegistrationSheet.objects.create(
        union=union,
        original_name="a.csv",
        sha256=f"{union.pk:064d}",
        status=RegistrationSheet.Status.REGISTERED,
        submitted_at=timezone.now() - timedelta(days=submitted_days_ago),
    )


def test_done_after_the_due_date_is_late_done(tree, group, clerk):
    _done(tree.unit_a1, submitted_days_ago=12, clerk=clerk)  # before the date
    _done(tree.unit_a2, submitted_days_ago=3, clerk=clerk)  # after it
    states = {s.union.pk: s.label for s in submission_states(group=group, today=timezone.localdate())}
    assert states == {tree.unit_a1.pk: "已完成", tree.unit_a2.pk: "逾期完成"}


def test_the_owner_ticks_deliverables_received_and_can_undo(tree, group, city_staff, clerk, reviewer):
    submission_delivery_set(group=group, union=tree.unit_a1, item="letter", received=True, actor=city_staff)
    submission_delivery_set(
        group=group, union=tree.unit_a1, item="id_copies", received=True, actor=city_staff
    )
    state = next(
        s for s in submission_states(group=group, today=timezone.localdate()) if s.union == tree.unit_a1
    )
    got = {item: on for item, _label, on in state.delivered}
    assert got == {"letter": timezone.localdate(), "paper_sheet": None, "id_copies": timezone.localdate()}
    submission_delivery_set(group=group, union=tree.unit_a1, item="letter", received=False, actor=city_staff)
    assert list(SubmissionDelivery.objects.values_list("item", flat=True)) == ["id_copies"]
    assert AuditEntry.objects.filter(verb__startswith="submission.delivery").count() == 3
    # a clerk or a county reviewer of a unit does not sign for the city's group
    for outsider in (clerk, reviewer):
        with pytest.raises(ApplicationError, match="设置该分组的工会"):
            submission_delivery_set(
                group=group, union=tree.unit_a1, item="letter", received=True, actor=outsider
            )
    with pytest.raises(ApplicationError, match="不在第一组中"):
        submission_delivery_set(
            group=group, union=tree.unit_b1, item="letter", received=True, actor=city_staff
        )


def test_ticking_from_the_groups_page(client, tree, group, city_staff, clerk):
    client.force_login(city_staff)
    url = f"/members/sheets/groups/{group.pk}/units/{tree.unit_a2.pk}/paper_sheet/"
    assert client.post(url, {"received": "1"}).status_code == 302
    page = client.get("/members/sheets/groups/").content.decode()
    assert "纸质登记表" in page and "✓" in page
    client.force_login(clerk)
    assert client.post(url, {"received": "0"}).status_code in (403, 404)
    assert SubmissionDelivery.objects.count() == 1
