"""Every upload path gets the same hostile set (issue 11 findings 1, 2, 5; issue 12 item 4) and
refuses each file with the kernel's reason code and a Chinese message; this process (which runs
the views, services and tasks in-process, as the embedded default does) is still alive after the
far-cell files that used to abort it, and a valid file still reads afterwards."""

import io
import json
import re
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from rest_framework.test import APIClient

from benefits.models import Claim, ClaimProof, Disbursement
from benefits.seed import programmes_seed
from benefits.services.bankfiles import disbursement_confirm
from benefits.services.disbursements import disbursement_create
from benefits.services.member_claims import claim_submit_by_member
from benefits.services.payment_sheets import disbursement_import_sheet
from cardportal.errors import ApplicationError
from issuance.lifecycle import cards_transition
from issuance.models import BankFileImport, Card, IssuingPartner
from issuance.services.bankfiles import import_create
from issuance.services.batches import batch_create
from issuance.services.functions import function_handoff_open
from members.models import RegistrationSheet

from .factories import ROLE, make_member, make_staff
from .hostile import hostile_files, hostile_proofs, workbook_bytes
from .issuance.factories import card_number, make_card, make_partner
from .membersite.helpers import sign_in
from .merchants.factories import give_card

pytestmark = pytest.mark.django_db
LIMIT = 1024 * 1024  # UPLOAD_MAX_BYTES in these tests, so the "giant" file stays small
VALID = {
    "registration": workbook_bytes(
        [
            ["序号", "身份证号", "姓名", "性别", "手机号码", "所属单位"],
            [1, "11010519491231002X", "王芳", "", "13912345678", "财务处"],
        ]
    ),
    "return": workbook_bytes(
        [["证件号码", "姓名", "卡号", "状态", "失败原因"], ["11010519491231002X", "王芳", "", "失败", "x"]]
    ),
    "activation": workbook_bytes([["卡号", "激活日期"], ["6222020000000000000", "2026-01-01"]]),
    "function_return": workbook_bytes(
        [["卡号", "开通结果", "未开通原因"], ["6222020000000000000", "已开通", ""]]
    ),
    "payment_list": workbook_bytes([["身份证号", "姓名", "金额"], ["11010519491231002X", "王芳", "100"]]),
    "payment_result": workbook_bytes([["卡号", "金额", "结果"], ["6222020000000000000", "100", "成功"]]),
}
KINDS = list(hostile_files(VALID["registration"], max_bytes=LIMIT))
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def small_limit_and_media(settings, tmp_path):
    settings.UPLOAD_MAX_BYTES = LIMIT
    settings.MEDIA_ROOT = tmp_path / "media"


def hostile(path: str, kind: str) -> tuple[str, bytes, str]:
    return hostile_files(VALID[path], max_bytes=LIMIT)[kind]


def assert_refusal(code: str, message: str, expected: str) -> None:
    assert code == expected
    assert CHINESE.search(message), message


def upload(name: str, content: bytes) -> io.BytesIO:
    handle = io.BytesIO(content)
    handle.name = name
    return handle


@pytest.mark.parametrize("kind", KINDS)
def test_registration_sheet_page(
    kind, client, tree, clerk, run_tasks_inline, django_capture_on_commit_callbacks
):
    name, content, expected = hostile("registration", kind)
    client.force_login(clerk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/members/sheets/upload/",
            {
                "file": upload(name, content),
                "union": tree.unit_a1.pk,
                "declared_members": 1,
                "declared_id_copies": 1,
            },
        )
    sheet = RegistrationSheet.objects.first()
    if kind in ("giant", "empty"):  # refused at the upload itself: nothing kept
        assert response.status_code == 200 and sheet is None
        message = response.context["form"].errors["file"][0]
        code = "file_too_large" if kind == "giant" else "file_empty"
        assert_refusal(code, message, expected)
        if kind == "giant":
            assert message == "文件太大，上限为 1 MB"
        return
    assert response.status_code == 302
    assert sheet.status == RegistrationSheet.Status.REFUSED
    assert sheet.rows.count() == 0
    assert_refusal(sheet.job_error_code, sheet.job_message, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_import_sheet_command(kind, tree, tmp_path):
    name, content, expected = hostile("registration", kind)
    path = tmp_path / name
    path.write_bytes(content)
    out = io.StringIO()
    call_command("import_sheet", str(path), "--union", tree.unit_a1.code, "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["file"]["status"] == "refused"
    assert_refusal(result["file"]["reason"], result["file"]["message"], expected)


@pytest.fixture
def bank_batch(tree, city_staff, run_tasks_inline, django_capture_on_commit_callbacks):
    make_card(tree.unit_a1, id_number="11010519491231002X")
    with django_capture_on_commit_callbacks(execute=True):
        return batch_create(partner=make_partner(), union=tree.unit_a1, actor=city_staff)


@pytest.fixture
def bank_user(tree):
    return make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")


def refused_return(kind, table, *, client, batch, user, url, partner=None, capture):
    """A batch's hostile return file: refused by the service with the expected message, and
    through the page with the same message, nothing kept or queued."""
    name, content, expected = hostile(table, kind)
    with pytest.raises(ApplicationError) as refused:
        import_create(
            kind="function" if partner else "return",
            union=batch.union,
            batch=batch,
            partner=partner,
            file_name=name,
            data=content,
            actor=user,
        )
    assert_refusal(refused.value.code, refused.value.message, expected)
    client.force_login(user)
    with capture(execute=True):
        response = client.post(url, {"file": upload(name, content)})
    assert response.status_code == 302
    assert [m.message for m in get_messages(response.wsgi_request)] == [
        refused.value.message if kind != "giant" else "文件太大，上限为 1 MB"
    ]
    assert BankFileImport.objects.count() == 0


@pytest.mark.parametrize("kind", KINDS)
def test_bank_return_import(kind, client, bank_batch, bank_user, django_capture_on_commit_callbacks):
    refused_return(
        kind, "return", client=client, batch=bank_batch, user=bank_user,
        url=f"/issuance/batches/{bank_batch.pk}/return/", capture=django_capture_on_commit_callbacks,
    )  # fmt: skip


@pytest.fixture
def function_batch(bank_batch, bank_user):
    """The bank issued the batch's card and its list went to a transit partner (seeds 002/003)."""
    card = bank_batch.cards.get()
    cards_transition(
        cards=[card.pk], to_status=Card.Status.ISSUED, updates={card.pk: {"number": card_number()}}
    )
    transit = IssuingPartner.objects.create(
        code="transit", name="公交公司", is_primary=False, role="function", function_kind="transit"
    )
    function_handoff_open(batch=bank_batch, partner=transit, actor=bank_user)
    return bank_batch, transit


@pytest.mark.parametrize("kind", KINDS)
def test_function_partner_return(kind, client, function_batch, bank_user, django_capture_on_commit_callbacks):
    batch, transit = function_batch
    refused_return(
        kind, "function_return", client=client, batch=batch, user=bank_user, partner=transit,
        url=f"/issuance/batches/{batch.pk}/functions/{transit.pk}/return/",
        capture=django_capture_on_commit_callbacks,
    )  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_activation_import_api(kind, tree, bank_user, run_tasks_inline, django_capture_on_commit_callbacks):
    name, content, expected = hostile("activation", kind)
    client = APIClient()
    client.force_authenticate(bank_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/issuance/activations/", {"file": upload(name, content)}, format="multipart"
        )
    assert response.status_code == 400
    assert_refusal(response.json()["code"], response.json()["detail"], expected)
    assert BankFileImport.objects.count() == 0


@pytest.fixture
def disbursement(tree, city_staff):
    return disbursement_create(name="春节送温暖", kind="warmth", union=tree.city, actor=city_staff)


@pytest.mark.parametrize("kind", KINDS)
def test_payment_list_and_payment_result_imports(kind, client, tree, disbursement, city_staff):
    # four eyes: the bank's result is confirmed by someone who did not prepare the batch
    confirmer = make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
    name, content, expected = hostile("payment_list", kind)
    with pytest.raises(ApplicationError) as refused:
        disbursement_import_sheet(disbursement=disbursement, data=content, filename=name, actor=city_staff)
    assert_refusal(refused.value.code, refused.value.message, expected)
    assert disbursement.lines.count() == 0

    Disbursement.objects.filter(pk=disbursement.pk).update(state=Disbursement.State.EXPORTED)
    name, content, expected = hostile("payment_result", kind)
    with pytest.raises(ApplicationError) as refused:
        disbursement_confirm(disbursement=disbursement, data=content, filename=name, actor=confirmer)
    assert_refusal(refused.value.code, refused.value.message, expected)

    # the bank's result through the page: the refusal is shown
    client.force_login(confirmer)
    response = client.post(
        f"/benefits/disbursements/{disbursement.pk}/confirm/", {"file": upload(name, content)}
    )
    assert response.status_code == 302
    shown = [m.message for m in get_messages(response.wsgi_request)]
    assert shown == [refused.value.message if kind != "giant" else "文件太大，上限为 1 MB"]


@pytest.mark.parametrize("kind", list(hostile_proofs(max_bytes=LIMIT)))
def test_member_claim_proof(
    kind, client, tree, run_tasks_inline, django_capture_on_commit_callbacks, settings
):
    """A member's proof photo/PDF (cardportal/proofs.py), through the members' claim page: the
    refusal is shown on the form, and no claim, no proof row and no file are left."""
    programme = programmes_seed(union=tree.province)["cataract"]
    member = make_member(tree.unit_a1)
    give_card(member)
    sign_in(client, django_capture_on_commit_callbacks, member)
    name, content, expected = hostile_proofs(max_bytes=LIMIT)[kind]

    response = client.post(
        f"/me/benefits/{programme.pk}/claim/",
        {"incident_on": "2026-01-05", "facts": "白内障手术", "proof": upload(name, content)},
    )

    assert response.status_code == 400
    message = "文件太大，上限为 1 MB" if kind == "giant" else None
    if message is None:
        with pytest.raises(ApplicationError) as refused:
            claim_submit_by_member(
                programme=programme, member=member, incident_on=date(2026, 1, 5), facts="x", proof=content
            )
        assert_refusal(refused.value.code, refused.value.message, expected)
        message = refused.value.message
    assert response.context["error"] == message
    assert (Claim.objects.count(), ClaimProof.objects.count()) == (0, 0)
    assert not (settings.MEDIA_ROOT / "proofs").exists()


def test_valid_files_still_read_after_the_hostile_set(tree, disbursement, city_staff):
    """The far-cell files above are refused in this very process; it is alive and reads on."""
    give_card(make_member(tree.unit_a1, name="王芳", id_number="11010519491231002X"))
    added = disbursement_import_sheet(
        disbursement=disbursement, data=VALID["payment_list"], filename="名单.xlsx", actor=city_staff
    )
    assert added == 1
    assert disbursement.lines.get().amount == Decimal("100.00")


@pytest.mark.parametrize("kind", KINDS)
def test_usage_feed_import(kind, client, tree, bank_user, settings, django_capture_on_commit_callbacks):
    """The bank's transaction feed (merchants.usage): refused at the upload, nothing kept or queued."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from merchants.usage import services as usage
    from merchants.usage.models import PartnerFeed, TxnImport

    settings.USAGE_FEED_MAX_BYTES = LIMIT
    feed = PartnerFeed.objects.create(partner=make_partner(), code="daily", name="日交易明细", base="bank")
    name, content, expected = hostile("activation", kind)
    with pytest.raises(ApplicationError) as refused:
        usage.import_create(feed=feed, upload=SimpleUploadedFile(name, content), actor=bank_user)
    assert_refusal(refused.value.code, refused.value.message, expected)
    client.force_login(bank_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/usage/imports/", {"feed": feed.pk, "file": upload(name, content)})
    assert response.status_code == 200
    shown = refused.value.message if kind != "giant" else "文件太大，上限为 1 MB"
    assert shown in response.content.decode()
    assert TxnImport.objects.count() == 0
