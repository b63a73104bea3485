"""Where a one-cent payment leaves the portal. settings.DROPS_PAYMENT_PROVIDER names one class
(dotted path), like the SMS gateway; the default, InstantProvider, moves no money: it confirms at
once, so the demo and the tests run without a provider.

A real provider is one subclass of PaymentProvider: `start` returns a PaymentStart whose
`redirect_url` sends the member to the provider's cashier (and `confirmed` False); the provider's
notification then calls services.ticket_payment_confirm(ticket=..., provider_ref=...), which is
idempotent."""

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string


class PaymentError(Exception):
    """The provider refused or could not be reached: the member may try again before the deadline."""


@dataclass(frozen=True)
class PaymentStart:
    provider_ref: str
    confirmed: bool
    redirect_url: str = ""


class PaymentProvider:
    label = ""

    def start(self, *, order_id: str, amount: Decimal, description: str) -> PaymentStart:
        raise NotImplementedError


class InstantProvider(PaymentProvider):
    """Simulated payment: confirmed as soon as it is started (no money moves)."""

    label = "模拟支付（演示）"

    def start(self, *, order_id: str, amount: Decimal, description: str) -> PaymentStart:
        return PaymentStart(provider_ref=f"sim-{order_id}", confirmed=True)


@lru_cache(maxsize=4)
def _provider_class(path: str) -> type[PaymentProvider]:
    return import_string(path)


def get_provider() -> PaymentProvider:
    return _provider_class(settings.DROPS_PAYMENT_PROVIDER)()
