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
