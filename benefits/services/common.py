"""What the benefits services share: money to the cent, and refusing with every problem listed."""

from decimal import Decimal

from cardportal.errors import ApplicationError
from cardportal.scoping import scope_path
from members.models import Union

CENT = Decimal("0.01")
MAX_ERRORS_SHOWN = 20


def _visible(actor, union: Union) -> bool:
    path = scope_path(actor)
    return path is not None and union.path.startswith(path)


def _refuse(errors: list[str], *, code: str, lead: str) -> None:
    shown = errors[:MAX_ERRORS_SHOWN]
    more = f"（另有{len(errors) - len(shown)}处问题）" if len(errors) > len(shown) else ""
    raise ApplicationError(f"{lead}：" + "；".join(shown) + more, code=code, extra={"errors": errors})


def _refuse_if(refusal: str) -> None:
    if refusal:
        raise ApplicationError(refusal, code="forbidden")


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"
