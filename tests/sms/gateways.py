"""Fake providers for tests (named by dotted path in settings.SMS_GATEWAY)."""

from members.sms.gateways import SmsGateway, SmsGatewayError

CALLS: list[dict] = []


class FailingGateway(SmsGateway):
    def send(self, *, phone, template, params, message_id):
        CALLS.append({"phone": phone, "message_id": message_id})
        raise SmsGatewayError("provider unavailable (HTTP 503)")


class FlakyGateway(SmsGateway):
    """Fails twice, then accepts."""

    def send(self, *, phone, template, params, message_id):
        CALLS.append({"phone": phone, "message_id": message_id, "params": params})
        if len(CALLS) <= 2:
            raise SmsGatewayError("timeout")
        return f"provider-{message_id}"
