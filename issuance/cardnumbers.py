"""UnionPay card numbers: 16–19 digits ending in a Luhn check digit. Pure functions, no Django."""

import re
import unicodedata

_DIGITS = re.compile(r"^\d{16,19}$")
_NOISE = re.compile(r"[\s\u3000\u00a0\-'’`]+")


def normalise_card_number(raw) -> str:
    """What a bank file or a scanner gives: full-width digits, spaces, dashes, Excel's leading '."""
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # only safe up to 15 digits; longer numbers must arrive as text
    return _NOISE.sub("", unicodedata.normalize("NFKC", str(raw)))


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_complete(prefix: str) -> str:
    """`prefix` plus the check digit that makes it pass (for test data and the demo)."""
    for digit in "0123456789":
        if luhn_ok(prefix + digit):
            return prefix + digit
    raise AssertionError("unreachable")


def card_number_error(number: str) -> str:
    """'' when `number` (normalised) is a valid UnionPay number, else the reason in Chinese."""
    if not number:
        return "卡号为空"
    if not _DIGITS.match(number):
        return f"卡号“{number}”应为16至19位数字"
    if not luhn_ok(number):
        return f"卡号“{number}”校验位错误"
    return ""
