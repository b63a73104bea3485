import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from cardportal.models import AuditEntry
from issuance.models import Card
from issuance.services.batches import batch_create

from ..factories import ROLE, make_staff
from .factories import card_number, make_card, xlsx_bytes

pytestmark = pytest.mark.django_db
S = Card.Status


@pytest.fixture
def token_client(bank_user):
    client = APIClient()
    response = client.post("/api/token/", {"username": "bank", "password": "pw-Cardportal-1"}, format="json")
    assert response.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


@pytest.fixture
def batch(tree, partner, city_staff, run_tasks_inline, django_capture_on_commit_callbacks):
    make_card(tree.unit_a1, id_number="11010519491231002X")
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_create(partner=partner, union=tree.county_a, actor=city_staff)
    return batch


def test_bank_lists_batches_downloads_handoff_and_uploads_return_with_a_token(
    token_client, batch, bank_user, django_capture_on_commit_callbacks
):
    listed = token_client.get("/api/issuance/batches/").json()["results"]
    assert [(b["code"], b["card_count"], b["handoff_ready"]) for b in listed] == [(batch.code, 1, True)]

    response = token_client.get(f"/api/issuance/batches/{batch.pk}/handoff/")
    assert response.status_code == 200 and b"".join(response.streaming_content)[:2] == b"PK"
    entry = AuditEntry.objects.get(verb="batch.handoff_downloaded")
    assert entry.actor == bank_user and entry.data["via"] == "api"

    number = card_number()
    upload = xlsx_bytes([["证件号码", "卡号", "状态"], ["11010519491231002X", number, "成功"]])
    from django.core.files.uploadedfile import SimpleUploadedFile

    with django_capture_on_commit_callbacks(execute=True):
        response = token_client.post(
            f"/api/issuance/batches/{batch.pk}/return/",
            {"file": SimpleUploadedFile("r.xlsx", upload)},
            format="multipart",
        )
    assert response.status_code == 202
    result = token_client.get(f"/api/issuance/imports/{response.json()['id']}/").json()
    assert result["job_status"] == "done" and result["counts"]["issued"] == 1
    assert Card.objects.get().number == number


def test_api_without_a_token_is_refused(batch):
    response = APIClient().get(f"/api/issuance/batches/{batch.pk}/handoff/")
    assert response.status_code in (401, 403)
    assert not AuditEntry.objects.filter(verb="batch.handoff_downloaded").exists()


def test_clerk_gets_no_token_cannot_download_and_nothing_is_logged(batch, tree):
    clerk = make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-api")
    client = APIClient()
    refused = client.post("/api/token/", {"username": "clerk-api", "password": "pw-Cardportal-1"})
    assert refused.status_code == 403
    assert (
        refused.json()["detail"]
        == "只有合作机构（银行）经办账号可以申请 API 令牌；工作人员请在浏览器中登录使用"
    )
    assert not AuthToken.objects.filter(user=clerk).exists()
    client.force_login(clerk)
    assert client.get("/api/issuance/batches/").status_code == 403
    response = client.get(f"/api/issuance/batches/{batch.pk}/handoff/")
    assert response.status_code == 404  # the batch is outside a clerk's subtree
    assert not AuditEntry.objects.filter(verb="batch.handoff_downloaded").exists()


def test_operator_of_another_city_gets_404(batch, tree):
    make_staff(ROLE.BANK_OPERATOR, tree.county_b, username="bank-b")
    client = APIClient()
    token = client.post("/api/token/", {"username": "bank-b", "password": "pw-Cardportal-1"}).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(f"/api/issuance/batches/{batch.pk}/handoff/").status_code == 404
    assert client.get("/api/issuance/batches/").json()["results"] == []
