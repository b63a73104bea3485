"""Mobile phone normalisation (pure): numeric cells, +86/86 prefixes, spaces and dashes."""

import re
import unicodedata

_STRIP = re.compile(r"[\s\u3000\u00a0\-–—()（）]+")
# ASCII digits only, whole string (`\d` would take full-width digits, `$` a trailing newline).
MOBILE = re.compile(r"1[3-9][0-9]{9}")


def normalise_phone(raw) -> str:
    if raw is None:
        return ""
    if isinstance(raw, float):
        if not raw.is_integer():
            return str(raw)
        raw = int(raw)
    text = _STRIP.sub("", unicodedata.normalize("NFKC", str(raw)))
    if text.endswith(".0") and text[:-2].isdigit():  # a numeric cell read as text
        text = text[:-2]
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    return text


def is_mobile(value: str) -> bool:
    return bool(MOBILE.fullmatch(value))
