import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, close_old_connections, connection
from django.urls import reverse

from cardportal.errors import ApplicationError
from cardportal.models import AuditEntry
from members import selectors, services
from members.models import Member, MemberTransfer

from ..factories import ROLE, make_member, make_staff, next_id_number

pytestmark = pytest.mark.django_db


def test_member_stores_no_clear_id_number_or_phone(tree):
    member = make_member(tree.unit_a1, id_number="11010519491231002X", phone="13800138000")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM members_member WHERE id = %s", [member.pk])
        row = " ".join(str(v) for v in cursor.fetchone())
    assert "11010519491231002X" not in row
    assert "13800138000" not in row
    assert member.masked_id == "110105********002X"
    assert member.masked_phone == "138****8000"
    assert (member.gender, str(member.birth_date)) == ("F", "1949-12-31")


def test_one_person_one_record_is_enforced_by_the_database(tree):
    make_member(tree.unit_a1, id_number="11010519491231002X")
    duplicate = services.member_build(
        id_number="11010519491231002x",
        name="李四",
        phone="13900000000",
        work_unit="乙单位",
        union=tree.unit_b1,
    )
    with pytest.raises(IntegrityError):
        duplicate.save()


def test_member_create_refuses_a_second_registration_with_a_clear_message(tree, clerk):
    services.member_create(
        actor=clerk,
        id_number="11010519491231002X",
        name="王五",
        phone="13900000001",
        work_unit="甲",
        union=tree.unit_a1,
    )
    with pytest.raises(ApplicationError) as exc:
        services.member_create(
            actor=clerk,
            id_number="11010519491231002X",
            name="王五",
            phone="13900000001",
            work_unit="甲",
            union=tree.unit_a2,
        )
    assert exc.value.code == "duplicate_existing"
    assert Member.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_inserts_of_the_same_person_leave_one_member(tree, clerk):
    id_number = next_id_number()
    barrier = threading.Barrier(2)
    outcomes = []

    def register(union):
        try:
            barrier.wait()
            services.member_create(
                actor=None,
                id_number=id_number,
                name="赵六",
                phone="13900000002",
                work_unit="单位",
                union=union,
            )
            outcomes.append("created")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=register, args=(u,)) for u in (tree.unit_a1, tree.unit_b1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created", "duplicate_existing"]
    assert Member.objects.count() == 1


def test_search_by_full_id_number_phone_and_name_prefix(tree, city_staff):
    target = make_member(tree.unit_b1, id_number="11010519491231002X", phone="13712345678", name="欧阳娜娜")
    make_member(tree.unit_a1, name="欧阳修")
    make_member(tree.unit_a1, name="李白")

    def found(q):
        return [m.name for m in selectors.member_list_for_user(user=city_staff, q=q)]

    assert found("11010519491231002x") == ["欧阳娜娜"]
    assert found("137-1234-5678") == ["欧阳娜娜"]
    assert sorted(found("欧阳")) == ["欧阳修", "欧阳娜娜"]
    assert found("110105********002X") == []  # a masked number finds nothing: no partial matching on IDs
    assert target.pk in [
        m.pk for m in selectors.member_list_for_user(user=city_staff, union_id=tree.county_b.pk)
    ]


def test_filters_by_union_subtree_employment_type_and_hardship(tree, city_staff):
    make_member(tree.unit_a1, employment_type="migrant", is_hardship=True, name="甲一")
    make_member(tree.unit_a2, employment_type="agency", name="甲二")
    make_member(tree.unit_b1, employment_type="migrant", name="乙一")
    names = lambda **kw: sorted(m.name for m in selectors.member_list_for_user(user=city_staff, **kw))  # noqa: E731
    assert names(union_id=tree.county_a.pk) == ["甲一", "甲二"]
    assert names(employment_type="migrant") == ["乙一", "甲一"]
    assert names(hardship=True) == ["甲一"]


def test_reveal_is_allowed_to_reviewers_and_audited(tree, reviewer):
    member = make_member(tree.unit_a1, id_number="11010519491231002X")
    assert services.member_reveal_id(member=member, actor=reviewer, ip="10.0.0.8") == "11010519491231002X"
    entry = AuditEntry.objects.get(verb="member.id_revealed")
    assert (entry.actor, entry.target_id, entry.ip, entry.union) == (
        reviewer,
        str(member.pk),
        "10.0.0.8",
        tree.unit_a1,
    )


def test_clerk_may_not_reveal_and_nothing_is_logged(client, tree, clerk):
    member = make_member(tree.unit_a1)
    client.force_login(clerk)
    response = client.post(reverse("members:member_reveal_id", args=[member.pk]))
    assert response.status_code == 403
    assert not AuditEntry.objects.filter(verb="member.id_revealed").exists()


def test_reveal_through_the_page_shows_the_number_once_and_logs_it(client, tree, reviewer):
    member = make_member(tree.unit_a2, id_number="11010519491231002X")
    client.force_login(reviewer)
    detail = client.get(member.get_absolute_url()).content.decode()
    assert "11010519491231002X" not in detail and "110105********002X" in detail
    revealed = client.post(reverse("members:member_reveal_id", args=[member.pk])).content.decode()
    assert "11010519491231002X" in revealed
    assert AuditEntry.objects.filter(verb="member.id_revealed", actor=reviewer).count() == 1


def test_transfer_keeps_history(tree, reviewer):
    member = make_member(tree.unit_a1)
    services.member_transfer(member=member, to_union=tree.unit_a2, actor=reviewer, note="调动")
    services.member_set_status(member=member, status=Member.Status.LEFT, actor=reviewer, note="退休")
    member.refresh_from_db()
    history = list(MemberTransfer.objects.filter(member=member).order_by("id"))
    assert member.union == tree.unit_a2 and member.status == "left"
    assert [(h.from_union_id, h.to_union_id, h.to_status) for h in history] == [
        (tree.unit_a1.pk, tree.unit_a2.pk, "active"),
        (tree.unit_a2.pk, tree.unit_a2.pk, "left"),
    ]


def test_member_list_page_runs_a_fixed_number_of_queries(client, tree, clerk, django_assert_num_queries):
    for _ in range(30):
        make_member(tree.unit_a1)
    client.force_login(clerk)
    # 8: session, user, role, scope union; unions under it (does the picker show), member count,
    # unions of the picker, the page of members (union joined)
    with django_assert_num_queries(8):
        response = client.get(reverse("members:member_list"))
    assert response.status_code == 200
    assert response.content.decode().count("/members/") >= 30


def test_user_without_a_role_sees_nothing(client, tree):
    make_member(tree.unit_a1)
    user = get_user_model().objects.create_user("norole", password="x")
    client.force_login(user)
    assert "没有符合条件的会员" in client.get(reverse("members:member_list")).content.decode()


def test_bank_operator_sees_members_of_its_city_masked(client, tree):
    member = make_member(tree.unit_b1, id_number="11010519491231002X")
    client.force_login(make_staff(ROLE.BANK_OPERATOR, tree.city))
    html = client.get(reverse("members:member_list")).content.decode()
    assert member.masked_id in html and "11010519491231002X" not in html


def test_list_count_is_capped_and_unordered(client, tree, clerk, settings):
    """The paginator counts at most 10,001 rows and without the list's ORDER BY (which made
    PostgreSQL sort a whole city before counting: see docs/benchmarks.md)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_member(tree.unit_a1)
    client.force_login(clerk)
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("members:member_list"))
    counts = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith("SELECT COUNT(*)") and "members_member" in q["sql"]
    ]
    assert len(counts) == 1
    assert "LIMIT 10001" in counts[0] and "ORDER BY" not in counts[0]


def test_every_audited_action_has_a_chinese_label():
    """Each verb passed to audit_record in the code shows as words on pages and in the admin."""
    import re
    from pathlib import Path

    from cardportal.audit import VERB_LABELS

    root = Path(__file__).resolve().parents[2]
    verbs = set()
    for app in ("members", "issuance", "merchants", "benefits", "quotas", "cardportal"):
        for path in (root / app).rglob("*.py"):
            verbs |= set(re.findall(r'verb="([a-z_.]+)"', path.read_text(encoding="utf-8")))
    assert len(verbs) > 30
    assert sorted(v for v in verbs if v not in VERB_LABELS) == []
