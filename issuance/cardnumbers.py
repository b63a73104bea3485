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


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # 2·d with its digits summed


def luhn_ok(number: str) -> bool:
    """The Luhn check: from the right, every second digit doubled (digits summed); total % 10 == 0."""
    digits = [ord(c) - 48 for c in reversed(number)]
    return (sum(digits[0::2]) + sum(_DOUBLED[d] for d in digits[1::2])) % 10 == 0


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
