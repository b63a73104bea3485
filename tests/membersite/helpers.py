from decimal import Decimal

from benefits.models import Disbursement
from benefits.services.bankfiles import disbursement_confirm
from benefits.services.disbursements import Entry, disbursement_add_entries, disbursement_create
from members.sms.models import SmsMessage
from members.sms.services import sms_secret_params


def request_code(client, django_capture_on_commit_callbacks, id_number: str, **extra):
    """POST the ID number and run what is enqueued after commit (the code's SMS)."""
    with django_capture_on_commit_callbacks(execute=True):
        return client.post("/me/login/", {"id_number": id_number}, **extra)


def last_code(member) -> str:
    message = SmsMessage.objects.filter(member=member, template="member_signin_code").latest("id")
    return sms_secret_params(message)["code"]


def sign_in(client, django_capture_on_commit_callbacks, member) -> None:
    request_code(client, django_capture_on_commit_callbacks, member.reveal_id_number())
    response = client.post("/me/login/code/", {"code": last_code(member)})
    assert response.status_code == 302 and response["Location"] == "/me/"


def batch_with(tree, preparer, name, kind, lines):
    batch = disbursement_create(name=name, kind=kind, union=tree.city, actor=preparer)
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=m, amount=Decimal(a), where=f"第{i}行") for i, (m, a) in enumerate(lines, 2)],
        actor=preparer,
        source="test",
    )
    return batch


def bank_result(batch, rows, confirmer):
    """The bank's result file for an exported batch: card number, amount, 成功/失败."""
    Disbursement.objects.filter(pk=batch.pk).update(state=Disbursement.State.EXPORTED)
    body = "卡号,金额,结果,失败原因\n" + "\n".join(",".join(r) for r in rows)
    disbursement_confirm(disbursement=batch, data=body.encode(), filename="回盘.csv", actor=confirmer)
