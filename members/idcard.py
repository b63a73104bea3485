"""Rules of the 18-digit resident ID number (GB 11643-1999). Pure functions, no Django.

`check_id_number(raw, today=...)` normalises what a clerk typed or Excel stored and returns an
`IdCheck` with the normalised number or the first rule it breaks, as a reason code and a Chinese
message. The reason codes are the ones the registration-sheet import reports.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from operator import mul

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"

# Province-level codes in use (only the province is checked: holders of abolished county codes stay valid).
PROVINCE_CODES = frozenset(
    [*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66)]
)
MIN_AGE, MAX_AGE = 16, 80

_SPACES = re.compile(r"[\s\u3000\u00a0\u200b\ufeff]+")
_SCIENTIFIC = re.compile(r"^[0-9.]+[eE][+-]?\d+$")
_SHAPE = re.compile(r"^\d{17}[\dX]$")
PLAIN = re.compile(r"[0-9]{17}[0-9X]")  # already in normal form: ASCII, no spaces (fullmatch)


@dataclass(frozen=True)
class IdCheck:
    value: str  # normalised number ("" when it could not be normalised)
    reason: str  # "ok", "ok_normalised" or a rejection code
    message: str = ""
    birth: date | None = None  # the birth date, when the number is valid

    @property
    def ok(self) -> bool:
        return self.reason in ("ok", "ok_normalised")


_ASCII_ZEROS = ord("0") * sum(WEIGHTS)  # the weighted sum of seventeen "0" characters' codes


def check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of 17 digits (checked by the caller's shape). ASCII
    digits, the usual case, are weighted as their byte codes (no int() per digit: a third of the
    row rules' time at 100,000 rows); other Unicode digits that the shape admits, through int()."""
    if first17.isascii():
        total = sum(map(mul, first17.encode(), WEIGHTS)) - _ASCII_ZEROS
    else:
        total = sum(map(mul, map(int, first17), WEIGHTS))
    return CHECK_CHARS[total % 11]


def normalise(raw: str) -> str:
    """Full-width digits and letters to ASCII (NFKC), spaces of every kind removed, x upper-cased."""
    text = unicodedata.normalize("NFKC", raw)
    return _SPACES.sub("", text).upper()


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def birth_date_of(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def gender_of(id_number: str) -> str:
    """'M' when the 17th digit is odd, 'F' when even."""
    return "M" if int(id_number[16]) % 2 else "F"


def check_id_number(raw, *, today: date) -> IdCheck:  # noqa: C901 - one rule per branch, in order
    if isinstance(raw, bool):
        raw = str(raw)
    if isinstance(raw, int | float):
        # A numeric cell: Excel keeps 15 significant digits, so an 18-digit number is already damaged.
        return IdCheck(
            "",
            "id_excel_damaged",
            "身份证号被 Excel 存成了数字，末几位已丢失；请把该列设为“文本”格式后重新填写",
        )
    if type(raw) is str and PLAIN.fullmatch(raw):
        text = value = raw  # the common case: typed as text in normal form, nothing to normalise
    else:
        text = "" if raw is None else str(raw)
        value = normalise(text)
    if not value:
        return IdCheck("", "id_missing", "身份证号为空")
    if _SCIENTIFIC.match(value):
        return IdCheck(
            "",
            "id_excel_damaged",
            f"身份证号“{text.strip()}”被 Excel 的数字格式损坏（科学计数法）；请把该列设为“文本”格式后重新填写",
        )
    if len(value) == 15 and value.isdigit():
        return IdCheck("", "id_15digit", "这是15位的第一代身份证号，请填写18位的第二代身份证号")
    if not _SHAPE.match(value):
        return IdCheck(
            "", "id_format", f"身份证号“{text.strip()}”格式不对：应为18位，前17位是数字，最后一位是数字或X"
        )
    if int(value[:2]) not in PROVINCE_CODES:
        return IdCheck("", "id_region", f"身份证号前两位“{value[:2]}”不是有效的省级行政区代码")
    try:
        birth = birth_date_of(value)
    except ValueError:
        return IdCheck("", "id_birthdate", f"身份证号中的出生日期“{value[6:14]}”不是有效日期")
    if birth > today:
        return IdCheck("", "id_birthdate", f"身份证号中的出生日期“{value[6:14]}”晚于今天")
    age = age_on(birth, today)
    if not MIN_AGE <= age <= MAX_AGE:
        return IdCheck(
            "", "id_birthdate", f"按身份证号出生日期计算年龄为{age}岁，不在{MIN_AGE}–{MAX_AGE}岁之间"
        )
    if check_digit(value[:17]) != value[17]:
        return IdCheck("", "id_checksum", "身份证号校验位不对，可能有数字填错，请与身份证核对")
    reason = "ok" if value == text else "ok_normalised"
    return IdCheck(value, reason, birth=birth)


# Anything that looks like an ID number, valid or not: a run of 15, 17, 18 or 19 digits (the old
# 15-digit number, the 18-digit one, and an 18-digit one with a digit lost or doubled), the last may
# be X, the digits possibly split by single spaces ("1309 0219 9001 0112 3X"). 16 digits alone are
# left alone: that is a bank card number, not an ID. `\d` also matches full-width digits.
ID_LIKE_MIN = 15  # a text shorter than this cannot hold one (one character per digit)
_ID_RUN = re.compile(r"(?<!\d)\d(?:[ \u3000\u00a0]?\d){11,18}(?:[ \u3000\u00a0]?[XxＸｘ])?(?!\d)")
_ID_LIKE_LENGTHS = frozenset({15, 17, 18, 19})


def _id_like_digits(match: re.Match) -> str | None:
    compact = _SPACES.sub("", match.group())
    return compact if len(compact) in _ID_LIKE_LENGTHS else None


def looks_like_id(text: str) -> bool:
    """True when `text` holds something that looks like an ID number anywhere in it."""
    if len(text) < ID_LIKE_MIN or _ID_RUN.search(text) is None:  # one C call for nearly every text
        return False
    return any(_id_like_digits(m) for m in _ID_RUN.finditer(text))


def mask_id_like(text: str) -> str:
    """`text` with every ID-like run masked as pages show ID numbers: the first six and last four
    characters kept (`130902********123X` for 18 digits), the spaces inside dropped."""
    if len(text) < ID_LIKE_MIN:
        return text

    def mask(match: re.Match) -> str:
        compact = _id_like_digits(match)
        if compact is None:
            return match.group()
        return compact[:6] + "*" * (len(compact) - 10) + compact[-4:]

    return _ID_RUN.sub(mask, text)


def make_id_number(region: str, birth: date, sequence: int, *, male: bool) -> str:
    """A valid number for demo data and tests: region (6 digits), birth date, 3-digit sequence."""
    seq = sequence % 1000
    if (seq % 2 == 1) != male:
        seq = (seq + 1) % 1000
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + check_digit(first17)
