"""我的权益: the member's eligibility by the staff's rules, a claim with a proof photo, the
reviewer's decision, and nobody else's claim or proof reachable by changing an id."""

import io
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image

from benefits.models import BenefitProgramme, Claim, ClaimProof
from benefits.seed import programmes_seed
from benefits.selectors import member_eligibility
from cardportal.models import AuditEntry
from members.models import Member
from tests.factories import ROLE, make_member, make_staff
from tests.hostile import jpeg_bytes, pdf_bytes
from tests.merchants.factories import give_card

from .helpers import sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]
YESTERDAY = timezone.localdate() - timedelta(days=1)


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def programmes(tree):
    return programmes_seed(union=tree.province, valid_from=date(2016, 1, 1))


@pytest.fixture
def holder(tree):
    member = make_member(tree.unit_a1, name="王建国", dues_paid=True)
    give_card(member)
    return member


@pytest.fixture
def signed_in(client, holder, django_capture_on_commit_callbacks):
    sign_in(client, django_capture_on_commit_callbacks, holder)
    return client


def photo(name="receipt.jpg", content=None) -> io.BytesIO:
    handle = io.BytesIO(content if content is not None else jpeg_bytes(gps=True))
    handle.name = name
    return handle


def claim_post(client, programme, **fields):
    data = {"incident_on": YESTERDAY.isoformat(), "facts": "在市人民医院做白内障手术", "proof": photo()}
    data.update(fields)
    return client.post(f"/me/benefits/{programme.pk}/claim/", data)


def test_the_page_shows_the_staff_rules_result_amount_or_exact_reasons(
    client, tree, programmes, django_capture_on_commit_callbacks
):
    member = make_member(tree.unit_a1, name="未激活", dues_paid=False, employment_type="agency")
    give_card(member, to_status="distributed")
    Member.objects.filter(pk=member.pk).update(status=Member.Status.LEFT)
    BenefitProgramme.objects.filter(pk=programmes["accident-fire"].pk).update(
        employment_types=["established"]
    )
    programmes["accident-fire"].tiers.filter(requires_dues_paid=False).delete()
    member.refresh_from_db()
    sign_in(client, django_capture_on_commit_callbacks, member)

    html = client.get("/me/benefits/").content.decode()

    staff_view = {r.programme.code: r.reasons for r in member_eligibility(member=member)}
    assert staff_view["opening-bonus"] == [
        "会籍状态为“已离会”，不是在职在岗",
        "工会卡尚未激活（当前：已发放）",
        "不是2016-06-30前申请办卡的前期会员",
    ]
    assert staff_view["accident-fire"] == [
        "会籍状态为“已离会”，不是在职在岗",
        "用工类型为“劳务派遣”，本项目限在编",
        "未按时交纳会费（本项目须按时交纳会费）",
    ]
    for reasons in staff_view.values():
        for reason in reasons:
            assert reason.replace("“", "&ldquo;") in html or reason in html
    assert "/claim/" not in html  # no claim form offered: not eligible for anything claimed online
    assert "拨打职工服务热线12351" in html  # how to claim the free services


def test_an_eligible_member_sees_tier_and_amount_and_may_claim_online(signed_in, programmes):
    html = signed_in.get("/me/benefits/").content.decode()

    assert "您符合条件：按时交纳会费，<strong>30000.00元</strong>" in html
    assert "您符合条件：企业和企业化管理事业单位，<strong>500.00元</strong>" in html
    offered = {p.code for p in programmes.values() if f"/me/benefits/{p.pk}/claim/" in html}
    assert offered == {"cataract", "accident-fire"}  # the others are not claimed online
    assert "由家属持死亡证明" in html


def test_member_claims_with_a_photo_and_the_reviewer_sees_it_in_the_queue(
    signed_in, client, programmes, holder, tree, private_media
):
    response = claim_post(signed_in, programmes["cataract"])

    claim = Claim.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/me/claims/{claim.pk}/"
    assert (claim.member, claim.status, claim.amount, claim.by_member, claim.recorded_by) == (
        holder,
        "pending",
        Decimal("500.00"),
        True,
        None,
    )
    proof = claim.proofs.get()
    stored = Path(proof.file.path)
    assert stored.is_relative_to(private_media / "proofs") and stored.suffix == ".jpg"
    assert "王建国" not in str(stored) and "receipt" not in str(stored)
    assert dict(Image.open(stored).getexif()) == {}  # the GPS position is gone
    assert AuditEntry.objects.filter(verb="claim.submitted_by_member", target_id=str(claim.pk)).count() == 1
    page = signed_in.get(f"/me/claims/{claim.pk}/").content.decode()
    assert "工会正在审核您的申请" in page and f"/me/claims/{claim.pk}/proofs/{proof.pk}/" in page

    reviewer = make_staff(ROLE.COUNTY_REVIEWER, tree.county_a, username="reviewer-a")
    client.force_login(reviewer)
    queue = client.get("/benefits/claims/").content.decode()
    assert f'href="/benefits/claims/{claim.pk}/"' in queue and "会员本人（会员网站）" in queue
    detail = client.get(f"/benefits/claims/{claim.pk}/").content.decode()
    assert f"/benefits/claims/{claim.pk}/proofs/{proof.pk}/" in detail
    image = client.get(f"/benefits/claims/{claim.pk}/proofs/{proof.pk}/")
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert image["Cache-Control"] == "private, no-store" and "sandbox" in image["Content-Security-Policy"]
    assert image.content == stored.read_bytes()
    viewed = AuditEntry.objects.get(verb="claim.proof_viewed")
    assert (viewed.actor, viewed.data) == (reviewer, {"proof": proof.pk, "by_member": False})


def test_member_sees_the_reviewers_decision(signed_in, programmes, tree):
    claim_post(signed_in, programmes["cataract"])
    claim = Claim.objects.get()
    staff = Client()
    staff.force_login(make_staff(ROLE.COUNTY_REVIEWER, tree.county_a, username="reviewer-a"))
    staff.post(f"/benefits/claims/{claim.pk}/", {"decision": "reject", "note": "票据不清晰，请重新上传"})

    page = signed_in.get(f"/me/claims/{claim.pk}/").content.decode()

    assert "驳回理由：票据不清晰，请重新上传" in page
    assert "已驳回" in signed_in.get("/me/benefits/").content.decode()
    # a rejected claim does not block a new one
    assert claim_post(signed_in, programmes["cataract"]).status_code == 302
    assert Claim.objects.count() == 2


def test_a_second_claim_while_one_is_under_review_is_refused(signed_in, programmes):
    claim_post(signed_in, programmes["cataract"])

    response = claim_post(signed_in, programmes["cataract"])

    assert response.status_code == 400
    assert "您已有一笔申请正在审核，审核后才能再次申请" in response.content.decode()
    assert Claim.objects.count() == 1 and ClaimProof.objects.count() == 1


def test_a_programme_not_claimed_online_refuses_a_forged_post(signed_in, programmes):
    response = claim_post(signed_in, programmes["accidental-death"])

    assert response.status_code == 400
    assert "本项目不在网上申请，请按申领方式办理" in response.content.decode()
    assert Claim.objects.count() == 0


def test_an_incident_before_the_programme_began_is_refused_with_the_staff_reason(signed_in, programmes):
    BenefitProgramme.objects.filter(pk=programmes["cataract"].pk).update(valid_from=YESTERDAY)

    response = claim_post(
        signed_in, programmes["cataract"], incident_on=(YESTERDAY - timedelta(days=3)).isoformat()
    )

    assert response.status_code == 400
    day = YESTERDAY - timedelta(days=3)
    assert f"不符合申请条件：{day:%Y-%m-%d}不在项目保障期内或项目已停用" in response.content.decode()
    assert Claim.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"facts": ""}, "请填写事由"),
        ({"incident_on": ""}, "请填写事由日期"),
        ({"incident_on": (timezone.localdate() + timedelta(days=1)).isoformat()}, "事由日期不能晚于今天"),
        ({"proof": ""}, "请上传票据或证明的照片（.jpg、.png）或PDF文件"),
    ],
)
def test_a_form_error_is_named_and_nothing_is_stored(signed_in, programmes, fields, message, private_media):
    response = claim_post(signed_in, programmes["cataract"], **fields)

    assert response.status_code == 400 and message in response.content.decode()
    assert Claim.objects.count() == 0
    assert not (private_media / "proofs").exists()


def test_a_pdf_proof_is_downloaded_not_shown(signed_in, programmes):
    claim_post(signed_in, programmes["cataract"], proof=photo("bill.pdf", pdf_bytes(pages=2)))
    proof = ClaimProof.objects.get()

    response = signed_in.get(f"/me/claims/{proof.claim_id}/proofs/{proof.pk}/")

    assert (proof.content_type, proof.pages) == ("application/pdf", 2)
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert "下载凭证PDF（2页）" in signed_in.get(f"/me/claims/{proof.claim_id}/").content.decode()


def test_another_members_claim_and_proof_are_404_and_nothing_is_audited(
    client, tree, programmes, holder, signed_in, django_capture_on_commit_callbacks
):
    claim_post(signed_in, programmes["cataract"])
    claim = Claim.objects.get()
    proof = claim.proofs.get()
    other = make_member(tree.unit_a1, name="李四")
    give_card(other)
    own_claim_of_other = None
    signed_in.post("/me/logout/")
    sign_in(client, django_capture_on_commit_callbacks, other)
    claim_post(client, programmes["accident-fire"], facts="家中失火")
    own_claim_of_other = Claim.objects.get(member=other)
    own_proof_of_other = own_claim_of_other.proofs.get()
    audit_before = AuditEntry.objects.filter(verb="claim.proof_viewed").count()

    assert client.get(f"/me/claims/{claim.pk}/").status_code == 404
    assert client.get(f"/me/claims/{claim.pk}/proofs/{proof.pk}/").status_code == 404
    # their own claim id with someone else's proof id, and the other way round
    assert client.get(f"/me/claims/{own_claim_of_other.pk}/proofs/{proof.pk}/").status_code == 404
    assert client.get(f"/me/claims/{claim.pk}/proofs/{own_proof_of_other.pk}/").status_code == 404
    assert client.get("/me/claims/999999/").status_code == 404
    assert AuditEntry.objects.filter(verb="claim.proof_viewed").count() == audit_before
    assert (
        client.get(f"/me/claims/{own_claim_of_other.pk}/proofs/{own_proof_of_other.pk}/").status_code == 200
    )


def test_staff_of_another_county_cannot_open_the_proof(client, signed_in, programmes, tree):
    claim_post(signed_in, programmes["cataract"])
    proof = ClaimProof.objects.get()
    client.force_login(make_staff(ROLE.COUNTY_REVIEWER, tree.county_b, username="reviewer-b"))

    assert client.get(f"/benefits/claims/{proof.claim_id}/proofs/{proof.pk}/").status_code == 404
    assert AuditEntry.objects.filter(verb="claim.proof_viewed").count() == 0


def test_proofs_are_not_reachable_under_media_url(client, signed_in, programmes):
    claim_post(signed_in, programmes["cataract"])
    proof = ClaimProof.objects.get()

    assert client.get(f"/media/{proof.file.name}").status_code == 404


def test_benefits_page_queries_do_not_grow_with_claims(signed_in, programmes, django_assert_num_queries):
    claim_post(signed_in, programmes["cataract"])
    # session, member, live card, programmes, tiers, claims, proofs
    with django_assert_num_queries(7):
        signed_in.get("/me/benefits/")
    claim_post(signed_in, programmes["accident-fire"], facts="摔伤")
    with django_assert_num_queries(7):
        signed_in.get("/me/benefits/")
