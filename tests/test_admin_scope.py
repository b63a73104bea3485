"""Every model in the Django admin, tried by a county-level admin (StaffRole admin at 甲县, not
superuser) on a row outside their subtree or above their rank: it is hidden (404) or read-only
(403 on change and delete), and the row is unchanged after each attempt."""

from datetime import date, timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.forms import ModelChoiceField
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from benefits.drops.models import Drop, Ticket
from benefits.models import BenefitProgramme, Claim, Disbursement
from benefits.subsidies.models import SubsidyCampaign, SubsidyEarning
from cardportal.audit import audit_record
from cardportal.models import ApiToken
from issuance.models import (
    ActivationSession,
    BankBatch,
    BankFileImport,
    CardNotice,
    CardReceipt,
    IssuingPartner,
    Wave,
)
from members.models import RegistrationSheet, SubmissionGroup, Union
from merchants.models import EvaluationPolicy, MerchantCategory, MerchantEvaluation, MerchantReview
from merchants.usage.models import PartnerFeed
from quotas.models import AssessmentInput, Bulletin, Quota, WorkTeam

from .factories import ROLE, make_member, make_staff
from .issuance.factories import make_card, make_partner
from .merchants.factories import make_merchant

pytestmark = pytest.mark.django_db
User = get_user_model()

HIDDEN, READ_ONLY, NO_ACCESS = "hidden", "read-only", "no access"


def _user_outside(tree):
    return make_staff(ROLE.CLERK, tree.unit_b1, username="clerk-b1")


def _superuser_inside(tree):
    user = make_staff(ROLE.CLERK, tree.unit_a1, username="root-in-a1")
    User.objects.filter(pk=user.pk).update(is_superuser=True, is_staff=True)
    return user


def _peer_admin(tree):
    return make_staff(ROLE.ADMIN, tree.county_a, username="admin-a-peer")


def _member_b(tree):
    return make_member(tree.unit_b1, name="乙县会员")


def _drop(union):
    now = timezone.now()
    return Drop.objects.create(
        title="乙县滑雪票",
        venue="乙县滑雪场",
        union=union,
        tickets=10,
        price=0,
        opens_at=now,
        closes_at=now + timedelta(hours=1),
    )


def _campaign(union):
    return SubsidyCampaign.objects.create(
        name="乙县刷卡补贴",
        union=union,
        rule=SubsidyCampaign.Rule.PERCENT,
        percent=10,
        budget=1000,
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
    )


def _earning(tree):
    card = make_card(tree.unit_b1)
    return SubsidyEarning.objects.create(
        campaign=_campaign(tree.county_b),
        txn_id=1,
        txn_at=timezone.now(),
        month=date(2026, 11, 1),
        partner=make_partner(),
        reference="REF-B-1",
        card=card,
        member=card.member,
        union=tree.unit_b1,
        merchant=make_merchant(tree.county_b, name="乙县超市"),
        txn_amount=100,
        amount=10,
    )


def _programme(union, code="P-B"):
    return BenefitProgramme.objects.create(
        code=code, name="乙县送温暖", kind=BenefitProgramme.Kind.AID, union=union, valid_from=date(2026, 1, 1)
    )


def _token_of_city_bank(tree):
    bank = make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
    return ApiToken.objects.get(pk=AuthToken.objects.create(user=bank)[0].pk)


# label -> (builder of the row out of reach, what the county admin may do with it)
OUT_OF_REACH = {
    "auth.Group": (lambda tree: Group.objects.create(name="财务"), NO_ACCESS),
    # django-axes' records of sign-in attempts (usernames, addresses): superusers only
    "axes.AccessAttempt": (
        lambda tree: AccessAttempt.objects.create(
            username="clerk-b1", ip_address="10.0.0.9", failures_since_start=3, get_data="", post_data=""
        ),
        NO_ACCESS,
    ),
    "axes.AccessFailureLog": (
        lambda tree: AccessFailureLog.objects.create(username="clerk-b1", ip_address="10.0.0.9"),
        NO_ACCESS,
    ),
    "axes.AccessLog": (
        lambda tree: AccessLog.objects.create(username="clerk-b1", ip_address="10.0.0.9"),
        NO_ACCESS,
    ),
    "cardportal.AuditEntry": (
        lambda tree: audit_record(actor=None, verb="member.created", target=tree.unit_b1, union=tree.unit_b1),
        HIDDEN,
    ),
    "cardportal.ApiToken": (_token_of_city_bank, HIDDEN),
    "members.Union": (lambda tree: tree.county_b, HIDDEN),
    "members.Union/own": (lambda tree: tree.county_a, READ_ONLY),
    "members.Member": (_member_b, HIDDEN),
    "members.StaffRole": (lambda tree: _user_outside(tree).staff, HIDDEN),
    "members.StaffRole/peer": (lambda tree: _peer_admin(tree).staff, HIDDEN),
    "members.StaffRole/own": (lambda tree: User.objects.get(username="admin-a").staff, READ_ONLY),
    "auth.User": (_user_outside, HIDDEN),
    "auth.User/superuser": (_superuser_inside, HIDDEN),
    "auth.User/peer": (_peer_admin, HIDDEN),
    "members.RegistrationSheet": (
        lambda tree: RegistrationSheet.objects.create(
            union=tree.unit_b1, file="sheets/b.xlsx", original_name="b.xlsx", sha256="0" * 64
        ),
        HIDDEN,
    ),
    "members.SubmissionGroup": (
        lambda tree: SubmissionGroup.objects.create(
            name="乙县分组", due_date=date(2026, 12, 31), owner=tree.county_b
        ),
        HIDDEN,
    ),
    "issuance.IssuingPartner": (lambda tree: make_partner(), READ_ONLY),
    "issuance.Wave": (
        lambda tree: Wave.objects.create(
            name="乙县第一批",
            owner=tree.county_b,
            target=100,
            deadline=date(2026, 12, 31),
            partner=make_partner(),
        ),
        HIDDEN,
    ),
    "issuance.Card": (lambda tree: make_card(tree.unit_b1), HIDDEN),
    "issuance.BankBatch": (
        lambda tree: BankBatch.objects.create(code="B-B", partner=make_partner(), union=tree.county_b),
        HIDDEN,
    ),
    "issuance.BankFileImport": (
        lambda tree: BankFileImport.objects.create(
            kind=BankFileImport.Kind.RETURN,
            union=tree.county_b,
            file="r.xlsx",
            file_name="r.xlsx",
            sha256="1" * 64,
        ),
        HIDDEN,
    ),
    "issuance.CardReceipt": (
        lambda tree: CardReceipt.objects.create(
            union=tree.unit_b1, expected=1, selected=1, counted=1, at=timezone.now()
        ),
        HIDDEN,
    ),
    "issuance.ActivationSession": (
        lambda tree: ActivationSession.objects.create(union=tree.unit_b1, held_on=date(2026, 11, 1)),
        HIDDEN,
    ),
    "issuance.CardNotice": (
        lambda tree: CardNotice.objects.create(
            union=tree.unit_b1,
            card=make_card(tree.unit_b1),
            kind=CardNotice.Kind.LOST,
            message="补卡",
            created_at=timezone.now(),
        ),
        HIDDEN,
    ),
    "merchants.MerchantCategory": (
        lambda tree: MerchantCategory.objects.get_or_create(name="医疗保健")[0],
        READ_ONLY,
    ),
    "merchants.EvaluationPolicy": (
        lambda tree: EvaluationPolicy.objects.first() or EvaluationPolicy.objects.create(),
        READ_ONLY,
    ),
    "merchants.Merchant": (lambda tree: make_merchant(tree.county_b, name="乙县药房"), HIDDEN),
    "merchants.MerchantReview": (
        lambda tree: MerchantReview.objects.create(
            merchant=make_merchant(tree.county_b),
            member=_member_b(tree),
            period="2026Q3",
            rating=3,
            reviewed_on=date(2026, 8, 1),
        ),
        HIDDEN,
    ),
    "merchants.MerchantEvaluation": (
        lambda tree: MerchantEvaluation.objects.create(
            merchant=make_merchant(tree.county_b), rating=3, evaluated_on=date(2026, 8, 1)
        ),
        HIDDEN,
    ),
    "benefits.BenefitProgramme": (lambda tree: _programme(tree.county_b), HIDDEN),
    "benefits.BenefitProgramme/above": (lambda tree: _programme(tree.city, code="P-CITY"), HIDDEN),
    "benefits.Claim": (
        lambda tree: Claim.objects.create(
            programme=_programme(tree.county_b),
            member=_member_b(tree),
            union=tree.unit_b1,
            incident_on=date(2026, 6, 1),
            facts="住院",
            amount=500,
        ),
        HIDDEN,
    ),
    "benefits.Disbursement": (
        lambda tree: Disbursement.objects.create(
            name="乙县送温暖", kind=Disbursement.Kind.WARMTH, union=tree.county_b
        ),
        HIDDEN,
    ),
    "drops.Drop": (lambda tree: _drop(tree.county_b), HIDDEN),
    "subsidies.SubsidyCampaign": (lambda tree: _campaign(tree.county_b), HIDDEN),
    "subsidies.SubsidyEarning": (_earning, HIDDEN),
    "usage.PartnerFeed": (
        lambda tree: PartnerFeed.objects.create(partner=make_partner(), code="bank-b", name="乙县银行明细"),
        READ_ONLY,
    ),
    "drops.Ticket": (
        lambda tree: Ticket.objects.create(drop=_drop(tree.county_b), member=_member_b(tree), status="valid"),
        HIDDEN,
    ),
    "quotas.Quota": (
        lambda tree: Quota.objects.create(union=tree.county_b, year=2026, target=100, member_base=1000),
        HIDDEN,
    ),
    "quotas.Quota/own": (
        lambda tree: Quota.objects.create(union=tree.county_a, year=2026, target=100, member_base=1000),
        READ_ONLY,
    ),
    "quotas.AssessmentInput/own": (
        lambda tree: AssessmentInput.objects.create(union=tree.county_a, year=2026),
        READ_ONLY,
    ),
    "quotas.Bulletin": (
        lambda tree: Bulletin.objects.create(month=date(2026, 10, 1), drafted_at=timezone.now()),
        HIDDEN,
    ),
    "quotas.AssessmentInput": (
        lambda tree: AssessmentInput.objects.create(union=tree.county_b, year=2026),
        HIDDEN,
    ),
    "quotas.WorkTeam": (lambda tree: WorkTeam.objects.create(owner=tree.county_b, name="乙县推进组"), HIDDEN),
}


def _label(model) -> str:
    return model._meta.label


def test_every_registered_admin_model_has_an_out_of_reach_case():
    covered = {key.split("/")[0] for key in OUT_OF_REACH}
    assert sorted(_label(model) for model in admin.site._registry) == sorted(covered)


def _snapshot(obj):
    model = type(obj)
    return list(model._base_manager.filter(pk=obj.pk).values())


def _url(obj, view):
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])


@pytest.mark.parametrize("case", sorted(OUT_OF_REACH))
def test_county_admin_cannot_view_change_or_delete_out_of_reach_rows(client, tree, admin_user, case):
    build, expected = OUT_OF_REACH[case]
    obj = build(tree)
    before = _snapshot(obj)
    assert before, case
    client.force_login(admin_user)
    opts = obj._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")

    listed = client.get(changelist)
    change_get = client.get(_url(obj, "change"))
    change_post = client.post(
        _url(obj, "change"), {"name": "改掉", "union": tree.province.pk, "is_superuser": "on"}
    )
    delete_get = client.get(_url(obj, "delete"))
    delete_post = client.post(_url(obj, "delete"), {"post": "yes"})
    bulk_delete = client.post(
        changelist, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
    )

    if expected == NO_ACCESS:
        assert [listed.status_code, change_get.status_code, change_post.status_code] == [403, 403, 403]
        assert [delete_get.status_code, delete_post.status_code, bulk_delete.status_code] == [403, 403, 403]
    elif expected == HIDDEN:
        assert listed.status_code == 200
        assert obj.pk not in [row.pk for row in listed.context["cl"].result_list]
        assert [change_get.status_code, change_post.status_code] == [404, 404]
        assert [delete_get.status_code, delete_post.status_code] == [404, 404]
        # The bulk action acts on the visible rows only: the hidden one is not among them.
        assert bulk_delete.status_code in (200, 302, 403)
    else:  # READ_ONLY: the admin sees it, may not change or delete it
        assert listed.status_code == 200
        assert obj.pk in [row.pk for row in listed.context["cl"].result_list]
        assert change_get.status_code == 200
        assert not change_get.context["has_change_permission"]
        assert [change_post.status_code, delete_get.status_code, delete_post.status_code] == [403, 403, 403]
        assert bulk_delete.status_code in (200, 302, 403)  # no delete action offered, or refused
    assert _snapshot(obj) == before, case


def _admin_request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_every_select_on_every_admin_add_form_offers_only_rows_in_scope(tree, admin_user):
    """A posted id is checked against the field's choices: out-of-scope unions and accounts above
    the admin's rank are not among them on any add form or inline of any model."""
    outside_unions = {tree.province.pk, tree.city.pk, tree.county_b.pk, tree.unit_b1.pk}
    above = {_superuser_inside(tree).pk, _peer_admin(tree).pk, _user_outside(tree).pk}
    request = _admin_request(admin_user)
    checked = []
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_add_permission(request):
            continue
        forms = [model_admin.get_form(request, None)]
        forms += [
            inline.get_formset(request, None).form for inline in model_admin.get_inline_instances(request)
        ]
        for form in forms:
            for name, field in form.base_fields.items():
                if not isinstance(field, ModelChoiceField):
                    continue
                offered = set(field.queryset.values_list("pk", flat=True))
                if field.queryset.model is Union:
                    assert offered and not offered & outside_unions, (_label(model), name)
                if field.queryset.model is User:
                    assert not offered & above, (_label(model), name)
                checked.append(f"{_label(model)}.{name}")
    assert {"members.Union.parent", "auth.User.union", "benefits.BenefitProgramme.union"} <= set(checked)
    assert {"issuance.Wave.owner", "members.SubmissionGroup.unions", "merchants.Merchant.union"} <= set(
        checked
    )


def test_county_admin_cannot_import_a_plan_for_its_own_or_another_county(client, tree, admin_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(admin_user)
    plan = "union_name,members_2015,issued_2016,rate_2016\n甲县总工会,1000,900,90\n乙县总工会,2000,1,0\n"
    response = client.post(
        reverse("admin:quotas_quota_import"), {"file": SimpleUploadedFile("plan.csv", plan.encode())}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [
        "只能为本级以下的工会导入任务：第2行“甲县总工会”、第3行“乙县总工会”"
    ]
    assert not Quota.objects.exists()
    assert Union.objects.filter(declared_members__isnull=False).count() == 0


READ_ONLY_ADMINS = [
    "cardportal.AuditEntry",
    "members.RegistrationSheet",
    "issuance.Card",
    "issuance.BankBatch",
    "issuance.BankFileImport",
    "issuance.CardReceipt",
    "issuance.ActivationSession",
    "issuance.CardNotice",
    "merchants.MerchantReview",
    "merchants.MerchantEvaluation",
    "benefits.Claim",
    "benefits.Disbursement",
    "quotas.Bulletin",
]


def test_workflow_records_are_read_only_in_the_admin_even_in_scope(tree, admin_user):
    """These change only through their services (pages, API, tasks): no admin add or edit."""
    request = _admin_request(admin_user)
    by_label = {_label(model): model_admin for model, model_admin in admin.site._registry.items()}
    writable = [
        label
        for label in READ_ONLY_ADMINS
        if by_label[label].has_add_permission(request) or by_label[label].has_change_permission(request)
    ]
    assert writable == []


def test_whole_tree_admin_still_changes_shared_settings(client, tree):
    root_admin = make_staff(ROLE.ADMIN, tree.province, username="admin-root")
    partner = make_partner()
    client.force_login(root_admin)
    response = client.post(
        reverse("admin:issuance_issuingpartner_change", args=[partner.pk]),
        {
            "code": partner.code,
            "name": "改名银行",
            "role": "issuer",
            "handoff_layout": "{}",
            "return_layout": "{}",
        },
    )
    assert response.status_code == 302
    assert IssuingPartner.objects.get(pk=partner.pk).name == "改名银行"


def test_county_admin_cannot_create_a_programme_above_its_union(client, tree, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:benefits_benefitprogramme_add"),
        {
            "name": "全省普惠",
            "code": "P-ALL",
            "kind": "aid",
            "union": tree.province.pk,
            "valid_from": "2026-01-01",
            "card_requirement": "none",
            "tiers-TOTAL_FORMS": "0",
            "tiers-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "union" in response.context["adminform"].form.errors
    assert not BenefitProgramme.objects.exists()


def test_county_admin_cannot_add_a_union_outside_or_above_its_level(client, tree, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:members_union_add")
    outside = client.post(
        url, {"code": "G099", "name": "越界工会", "level": "grassroots", "parent": tree.county_b.pk}
    )
    above = client.post(
        url, {"code": "X01", "name": "假省总", "level": "province", "parent": tree.county_a.pk}
    )
    assert outside.status_code == 200 and "parent" in outside.context["adminform"].form.errors
    assert above.context["adminform"].form.errors["level"] == ["层级须低于上级工会（县级工会）"]
    assert not Union.objects.filter(code__in=["G099", "X01"]).exists()
    inside = client.post(
        url, {"code": "G013", "name": "甲县新工会", "level": "grassroots", "parent": tree.county_a.pk}
    )
    assert inside.status_code == 302
    assert Union.objects.get(code="G013").path == "P13/C1309/K01/G013/"
