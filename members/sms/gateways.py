"""Where an SMS leaves the portal. settings.SMS_GATEWAY names one class (dotted path); the
default, ConsoleGateway, sends nothing: it logs the text, and the outbox row the service wrote is
the record, so the demo works without a provider.

A real provider is one subclass of SmsGateway: `send` returns the provider's message id or raises
SmsGatewayError (retried with backoff by the task, marked failed after SMS_MAX_ATTEMPTS)."""

import logging
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from .templates import render_text

logger = logging.getLogger("cardportal.sms")


class SmsGatewayError(Exception):
    """The provider did not accept the message (network, quota, provider down): retry later."""


class SmsGateway:
    # True only for gateways that deliver nothing: their outbox page may show secret parameters
    # (the sign-in code), since that page is the only way a demo user can read them.
    shows_secrets = False

    def send(self, *, phone: str, template: str, params: dict, message_id: int) -> str:
        raise NotImplementedError


class ConsoleGateway(SmsGateway):
    shows_secrets = True

    def send(self, *, phone: str, template: str, params: dict, message_id: int) -> str:
        masked = f"{phone[:3]}****{phone[-4:]}"
        logger.warning("短信（演示通道，未真正发送）→ %s：%s", masked, render_text(template, params))
        return f"console-{message_id}"


@lru_cache(maxsize=4)
def _gateway_class(path: str) -> type[SmsGateway]:
    return import_string(path)


def get_gateway() -> SmsGateway:
    return _gateway_class(settings.SMS_GATEWAY)()
