"""Row rules of the registration sheet (附件4). Pure functions, no Django, no database.

`validate_rows(sheet_data, today=...)` turns every row after the header into a `RowResult`:
accepted (`ok` / `ok_normalised`, with normalised values), rejected (the first broken rule as a
reason code, the column, and a Chinese message naming every problem of the row), or skipped
(`blank`, `summary_row`, `notes_row`). Duplicates inside the sheet are found here; duplicates
against the registry and other pending sheets need the database (see `registration.py`).

Over 400 lines on purpose: every rule of the sheet, one function per column, in the order a row
is judged, so the reason codes and their messages read in one place.
"""

import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from .idcard import (
    CHECK_CHARS,
    ID_LIKE_MIN,
    MAX_AGE,
    MIN_AGE,
    PLAIN,
    PROVINCE_CODES,
    age_on,
    check_id_number,
    gender_of,
    looks_like_id,
    mask_id_like,
    normalise,
)
from .phones import MOBILE as _MOBILE
from .phones import is_mobile, normalise_phone
from .sheets import SheetData

ACCEPT, REJECT, SKIP = "accept", "reject", "skip"
REASON_CODES = (
    "id_missing",
    "id_format",
    "id_15digit",
    "id_excel_damaged",
    "id_region",
    "id_birthdate",
    "id_checksum",
    "duplicate_in_sheet",
    "duplicate_existing",
    "name_missing",
    "name_invalid",
    "name_id_like",
    "gender_invalid",
    "gender_mismatch",
    "phone_missing",
    "phone_invalid",
    "unit_missing",
    "unit_id_like",
    "employment_invalid",
    "dues_invalid",
    "blank",
    "summary_row",
    "notes_row",
)
FIELD_LABELS = {
    "id_number": "身份证号",
    "name": "姓名",
    "gender": "性别",
    "phone": "手机号码",
    "unit": "所属单位",
    "seq": "序号",
    "employment": "用工类型",
    "dues": "按时交纳会费",
}

_SPACES = re.compile(r"[\s\u3000\u00a0\u200b\ufeff]+")
# Dots people type between the parts of a name (维吾尔族、外国籍姓名): all become U+00B7.
_DOTS = re.compile(r"[\u00b7\u0387\u2022\u2027\u2219\u22c5\u30fb\uff65\u2e31\u16eb\ufe52\uff0e.]")
_CJK = re.compile(r"[\u3400-\u9fff\U00020000-\U0003134f]")
_NAME_OK = re.compile(
    r"^[\u3400-\u9fff\U00020000-\U0003134fA-Za-z][\u3400-\u9fff\U00020000-\U0003134fA-Za-z· ]*$"
)
_SUMMARY = re.compile(r"^(合计|总计|小计|共计|总人数|人数合计)")
_NOTES = re.compile(r"^(填表说明|填报说明|说明|注[:：]|注意|备注|填表人|审核人|制表人|联系人|经办人)")
MAX_UNIT = 100
HARDSHIP_YES = frozenset({"是", "√", "✓", "✔", "Y", "YES", "1", "困难", "困难职工", "TRUE"})
GENDERS = {"男": "M", "女": "F", "男性": "M", "女性": "F"}
GENDER_LABEL = {"M": "男", "F": "女"}
# 用工类型 (000 §三(1), 001 §二(三)): the values of Member.EmploymentType. Blank stays "unknown":
# a sheet that does not say is never taken for 在编.
UNKNOWN = "unknown"
EMPLOYMENT_TYPES = {
    "在编": "established",
    "编内": "established",
    "非在编": "non_established",
    "编外": "non_established",
    "劳务派遣": "agency",
    "派遣": "agency",
    "临时": "temporary",
    "临时工": "temporary",
    "临时用工": "temporary",
    "农民工": "migrant",
}
DUES_YES = frozenset({"是", "√", "✓", "✔", "Y", "YES", "1", "已交", "已缴", "TRUE"})
DUES_NO = frozenset({"否", "×", "✗", "X", "N", "NO", "0", "未交", "未缴", "FALSE"})
SEQ_MAX = 20
# What a clerk may have typed in the ID column, kept (masked on every page) for a row whose ID
# number is rejected, so the row shows which number it was instead of a blank.
_ID_TYPED = re.compile(r"\d{9,17}[\dX]")


@dataclass(slots=True)
class RowResult:
    row: int
    outcome: str
    reason: str
    field: str = ""
    message: str = ""
    id_number: str = ""
    name: str = ""
    gender: str = ""
    birth_date: date | None = None
    phone: str = ""
    unit: str = ""
    is_hardship: bool = False
    problems: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)  # (reason, field, message)
    seq: str = ""  # 序号 as typed (text): the ID copies of 附件5 are numbered by it
    employment: str = UNKNOWN
    dues_paid: bool | None = None  # None: the sheet does not say
    id_typed: str = ""  # a rejected ID number as typed (normalised), for its masked display

    @property
    def label(self) -> str:
        return row_label(self.row, self.seq)

    @property
    def accepted(self) -> bool:
        return self.outcome == ACCEPT

    def reject(self, reason: str, field_name: str, message: str, *, first: bool = False) -> None:
        """Record a problem; the first recorded (or one pushed `first`) names the row's reason.
        An ID-like run in the message (a 17-digit typo, an ID typed in the phone column) is
        masked: messages are stored and shown on the clerk's pages."""
        message = mask_id_like(message)
        if first:
            self.problems.insert(0, (reason, field_name, message))
        else:
            self.problems.append((reason, field_name, message))
        self.outcome = REJECT
        self.reason, self.field, _ = self.problems[0]
        self.message = "；".join(m for _r, _f, m in self.problems)

    def values(self) -> dict:
        return {
            "id_number": self.id_number,
            "name": self.name,
            "gender": GENDER_LABEL.get(self.gender, ""),
            "phone": self.phone,
            "unit": self.unit,
        }


def row_label(row: int, seq: str = "") -> str:
    """A row as clerks name it: the Excel row and, where the sheet has one, its 序号."""
    return f"第{row}行（序号{seq}）" if seq else f"第{row}行"


def seq_text(value) -> str:
    """序号 as text: "5" for 5, 5.0 and " ５ "; at most SEQ_MAX characters."""
    if type(value) is float and value.is_integer():  # the common cells, without normalising
        return str(int(value))[:SEQ_MAX]
    if type(value) is str and value.isascii() and value.isdigit():
        return value[:SEQ_MAX]
    return _SPACES.sub("", unicodedata.normalize("NFKC", text_of(value)))[:SEQ_MAX]


def _compact(value) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", text_of(value))).upper()


def read_optional(result: RowResult, cells: list, columns: tuple) -> None:
    """序号, 用工类型 and 按时交纳会费 of a judged row (`columns`: their indices or None, see
    `optional_columns`). A bad 用工类型 or 会费 value rejects the row; blank stays unknown."""
    seq_col, employment_col, dues_col = columns
    size = len(cells)
    if seq_col is not None and seq_col < size:
        result.seq = seq_text(cells[seq_col])
    if employment_col is not None and employment_col < size and not is_blank(cells[employment_col]):
        text = _compact(cells[employment_col])
        if text in EMPLOYMENT_TYPES:
            result.employment = EMPLOYMENT_TYPES[text]
        else:
            result.reject(
                "employment_invalid",
                "employment",
                f"{result.label}“用工类型”列填的“{text[:20]}”无效：只能填在编、劳务派遣、临时或农民工，不清楚的不填",
            )
    if dues_col is not None and dues_col < size and not is_blank(cells[dues_col]):
        text = _compact(cells[dues_col])
        if text in DUES_YES or text in DUES_NO:
            result.dues_paid = text in DUES_YES
        else:
            result.reject(
                "dues_invalid",
                "dues",
                f"{result.label}“按时交纳会费”列填的“{text[:20]}”无效：只能填“是”或“否”，不清楚的不填",
            )


def optional_columns(data: SheetData) -> tuple | None:
    """(序号, 用工类型, 会费) column indices, or None when the sheet has none of them."""
    columns = tuple(data.columns.get(f) for f in ("seq", "employment", "dues"))
    return None if columns == (None, None, None) else columns


def text_of(value) -> str:
    """A cell as text: None -> "", floats that are whole numbers without ".0"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def is_blank(value) -> bool:
    return not _SPACES.sub("", text_of(value))


def classify_skip(cells: list, seq_col: int | None) -> str | None:
    """`blank` for empty, whitespace-only and 序号-only rows; `summary_row` / `notes_row` for the
    合计 and 填表说明 lines people add at the end."""
    filled = [(i, text_of(c)) for i, c in enumerate(cells) if not is_blank(c)]
    for _i, text in filled:
        compact = _SPACES.sub("", text)
        if _SUMMARY.match(compact):
            return "summary_row"
        if _NOTES.match(compact):
            return "notes_row"
    if not filled or (len(filled) == 1 and filled[0][0] == seq_col):
        return "blank"
    return None


SKIP_MESSAGES = {
    "blank": "空行，已跳过",
    "summary_row": "合计/小计行，已跳过",
    "notes_row": "填表说明或签名行，已跳过",
}


_NAME_FAST = re.compile(r"[\u3400-\u9fff]{2,30}")  # fullmatch (`$` would let a trailing newline in)


def normalise_name(raw) -> tuple[str, str | None, str]:
    """(name, problem code or None, message)."""
    if isinstance(raw, str) and _NAME_FAST.fullmatch(raw):
        return raw, None, ""
    text = unicodedata.normalize("NFKC", text_of(raw)).strip()
    text = _DOTS.sub("·", text)
    # Spaces inside a Chinese name only align two-character names ("王  芳"); Latin names keep one.
    text = _SPACES.sub("", text) if _CJK.search(text) else _SPACES.sub(" ", text)
    text = re.sub(r"\s*·\s*", "·", text)
    if not text:
        return "", "name_missing", "姓名为空"
    if any(ch.isdigit() for ch in text):
        return text, "name_invalid", f"姓名“{text}”含有数字"
    if not 2 <= len(text) <= 30:
        return text, "name_invalid", f"姓名“{text}”长度应为2–30个字"
    if not _NAME_OK.match(text) or text.endswith("·") or "··" in text:
        return text, "name_invalid", f"姓名“{text}”含有不允许的字符（只能是汉字、字母和间隔号·）"
    return text, None, ""


def _is_plain_unit(text: str) -> bool:
    """Already what normalising gives (NFKC, single ASCII spaces inside, none around): the common
    case, checked without building a new string. `isprintable()` is False for every whitespace
    character but the ASCII space (separators and controls), which is what `_SPACES` matches."""
    return (
        0 < len(text) <= MAX_UNIT
        and text.isprintable()
        and text[0] != " "
        and text[-1] != " "
        and "  " not in text
        and unicodedata.is_normalized("NFKC", text)
    )


def plain_accept(row: int, raw: tuple, today: date, memo: "PlainMemo | None" = None) -> RowResult | None:
    """The common row, typed in normal form and valid, accepted in one pass; None for any other
    row, which `validate_row` then judges. The general rules give such a row the same result
    (tests hold the two paths to it); this only skips their normalising, about half the time of
    a 100,000-row sheet. `memo` keeps, for a chunk of rows, the verdicts that repeat (a birth date
    is shared by ~50 people in 100,000, a unit name by thousands)."""
    memo = memo or PlainMemo(today)
    raw_id, raw_name, raw_gender, raw_phone, raw_unit, raw_hardship = raw
    if not (
        type(raw_id) is str
        and PLAIN.fullmatch(raw_id)
        and int(raw_id[:2]) in PROVINCE_CODES
        and type(raw_name) is str
        and _NAME_FAST.fullmatch(raw_name)
        and type(raw_phone) is str
        and _MOBILE.fullmatch(raw_phone)
        and type(raw_unit) is str
        and memo.plain_unit(raw_unit)
        and not raw_hardship
        and (not raw_gender or raw_gender in GENDERS)
    ):
        return None
    # The weights of ISO 7064 MOD 11-2 are 2**k mod 11, and 13 = 2 (mod 11): the 17 digits read
    # as a base-13 number (one C call; PLAIN made them ASCII digits) give the weighted sum mod 11
    # once doubled, as `check_digit` computes it digit by digit.
    if CHECK_CHARS[int(raw_id[:17], 13) * 2 % 11] != raw_id[17]:
        return None
    birth = memo.birth(raw_id[6:14])
    if birth is None:
        return None
    derived = "M" if raw_id[16] in "13579" else "F"
    if raw_gender:
        if GENDERS[raw_gender] != derived:
            return None
        reason = "ok" if raw_gender in ("男", "女") else "ok_normalised"
    else:
        reason = "ok_normalised"  # gender filled in from the ID number
    return RowResult(
        row, ACCEPT, reason, "", "", raw_id, raw_name, derived, birth, raw_phone, raw_unit, False
    )


class PlainMemo:
    """`plain_accept`'s verdicts on values that repeat, for one chunk of rows (bounded by it)."""

    def __init__(self, today: date):
        self.today = today
        self.births: dict[str, date | None] = {}
        self.units: dict[str, bool] = {}

    def birth(self, digits: str) -> date | None:
        """The birth date of an ID number's YYYYMMDD, or None when it is no date or the age is
        outside the rules (the general path then says which)."""
        try:
            return self.births[digits]
        except KeyError:
            pass
        try:
            birth = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            birth = None
        if birth is not None and (birth > self.today or not MIN_AGE <= age_on(birth, self.today) <= MAX_AGE):
            birth = None
        self.births[digits] = birth
        return birth

    def plain_unit(self, unit: str) -> bool:
        ok = self.units.get(unit)
        if ok is None:
            ok = self.units[unit] = _is_plain_unit(unit) and (
                len(unit) < ID_LIKE_MIN or not looks_like_id(unit)
            )
        return ok


def validate_row(row: int, cells: list, data: SheetData, *, today: date, pick=None) -> RowResult:
    """The rules for a row `plain_accept` did not take: each column's rule in template order (ID
    number, name, gender, phone, unit, hardship), every problem recorded, the first naming the
    reason; an accepted row whose values needed normalising is `ok_normalised`."""
    result = RowResult(row=row, outcome=ACCEPT, reason="ok")
    raw_id, raw_name, raw_gender, raw_phone, raw_unit, raw_hardship = (pick or data.picker())(cells)

    def label() -> str:  # built only for the messages that name the row
        return _label_of(row, cells, data)

    normalised = _check_id(result, raw_id, today)
    normalised |= _check_name(result, raw_name, label)
    normalised |= _check_gender(result, raw_gender)
    normalised |= _check_phone(result, raw_phone)
    normalised |= _check_unit(result, raw_unit, label)
    hardship = _SPACES.sub("", text_of(raw_hardship)).upper() if raw_hardship is not None else ""
    result.is_hardship = hardship in HARDSHIP_YES
    if result.outcome == ACCEPT and normalised:
        result.reason = "ok_normalised"
    return result


def _check_id(result: RowResult, raw_id, today: date) -> bool:
    """The ID number's rules; True when the accepted number was normalised. A rejected number
    keeps what was typed (when it looks like one) so the results page can show it masked."""
    if isinstance(raw_id, float) and raw_id.is_integer() and len(str(int(raw_id))) == 15:
        result.reject("id_15digit", "id_number", "这是15位的第一代身份证号，请填写18位的第二代身份证号")
        return False
    check = check_id_number(raw_id, today=today)
    if check.ok:
        result.id_number = check.value
        result.birth_date = check.birth
        return check.reason == "ok_normalised"
    result.reject(check.reason, "id_number", check.message)
    typed = normalise(raw_id) if isinstance(raw_id, str) else ""
    if _ID_TYPED.fullmatch(typed):
        result.id_typed = typed
    return False


def _check_name(result: RowResult, raw_name, label) -> bool:
    name, problem, message = normalise_name(raw_name)
    result.name = name
    if looks_like_id(name):
        result.name = mask_id_like(name)
        result.reject("name_id_like", "name", _id_in_wrong_column(label(), "姓名", name, "本人姓名"))
    elif problem:
        result.reject(problem, "name", message)
    return name != raw_name


def _check_gender(result: RowResult, typed) -> bool:
    """Blank takes the gender from the ID number (normalised); a typed one must agree with it."""
    raw = typed if typed in GENDERS else _SPACES.sub("", unicodedata.normalize("NFKC", text_of(typed)))
    derived = gender_of(result.id_number) if result.id_number else ""
    if not raw:
        result.gender = derived
        return True
    if raw not in GENDERS:
        result.reject("gender_invalid", "gender", f"性别“{raw}”无效，只能填“男”或“女”")
        return False
    result.gender = GENDERS[raw]
    if derived and derived != result.gender:
        result.reject(
            "gender_mismatch",
            "gender",
            f"性别“{raw}”与身份证号不符（第17位表示{GENDER_LABEL[derived]}）",
        )
    return raw not in ("男", "女") or raw != typed


def _check_phone(result: RowResult, raw_phone) -> bool:
    phone = (
        raw_phone
        if isinstance(raw_phone, str) and _MOBILE.fullmatch(raw_phone)
        else normalise_phone(raw_phone)
    )
    if not phone:
        result.reject("phone_missing", "phone", "手机号码为空（办卡需要本人手机号）")
        return False
    if not is_mobile(phone):
        result.reject("phone_invalid", "phone", f"手机号码“{text_of(raw_phone).strip()}”不是有效的11位手机号")
        return False
    result.phone = phone
    return not isinstance(raw_phone, str) or phone != raw_phone


def _check_unit(result: RowResult, raw_unit, label) -> bool:
    raw_unit = text_of(raw_unit)
    unit = (
        raw_unit
        if _is_plain_unit(raw_unit)
        else _SPACES.sub(" ", unicodedata.normalize("NFKC", raw_unit)).strip()
    )
    if not unit:
        result.reject("unit_missing", "unit", "所属单位为空")
        return False
    if looks_like_id(unit):
        result.unit = mask_id_like(unit)[:MAX_UNIT]
        wanted = "本人所在单位（学院、处室或车间）"
        result.reject("unit_id_like", "unit", _id_in_wrong_column(label(), "所属单位", unit, wanted))
        return False
    result.unit = unit[:MAX_UNIT]
    return result.unit != raw_unit


def _label_of(row: int, cells: list, data: SheetData) -> str:
    seq_col = data.columns.get("seq")
    return row_label(row, seq_text(cells[seq_col]) if seq_col is not None and seq_col < len(cells) else "")


def _id_in_wrong_column(label: str, column: str, text: str, wanted: str) -> str:
    return (
        f"{label}“{column}”列填的是身份证号（{mask_id_like(text)}），不能作为{column}登记："
        f"请填写{wanted}，身份证号填在“身份证号”列"
    )


def validate_rows(data: SheetData, *, today: date, progress=None, every: int = 5000) -> list[RowResult]:
    """Every row of the sheet, in order. `progress(done)` is called every `every` rows."""
    results = validate_chunk(data, data.rows, today=today, progress=progress, every=every)
    mark_in_sheet_duplicates(results, {})
    return results


def validate_chunk(
    data: SheetData, rows, *, today: date, progress=None, every: int = 5000
) -> list[RowResult]:
    """The row rules for some rows of the sheet, in order; duplicates inside the sheet are left
    to `mark_in_sheet_duplicates` (they need every earlier row)."""
    results: list[RowResult] = []
    seq_col = data.columns.get("seq")
    id_col = data.columns["id_number"]
    pick = data.picker()
    optional = optional_columns(data)
    memo = PlainMemo(today)
    for done, (row, cells) in enumerate(rows, start=1):
        # A row whose ID cell starts with a digit (or is a number) is a data row: no 合计/说明 check.
        raw_id = cells[id_col] if id_col < len(cells) else None
        looks_like_data = isinstance(raw_id, float) or (isinstance(raw_id, str) and raw_id[:1].isdigit())
        skip = None if looks_like_data else classify_skip(cells, seq_col)
        if skip:
            results.append(RowResult(row=row, outcome=SKIP, reason=skip, message=SKIP_MESSAGES[skip]))
        else:
            result = plain_accept(row, pick(cells), today, memo) or validate_row(
                row, cells, data, today=today, pick=pick
            )
            if optional is not None:
                read_optional(result, cells, optional)
            results.append(result)
        if progress is not None and done % every == 0:
            progress(done)
    return results


def mark_in_sheet_duplicates(results: list[RowResult], first_row_of) -> list[int]:
    """Reject each row whose ID number an earlier row of the sheet has (`duplicate_in_sheet`).
    `first_row_of` maps an ID number to the first row that has it; the rows of `results` are
    added to it (a dict, or anything with `setdefault`). The earlier row is named by its Excel
    row only: a streamed import knows earlier chunks by keyed hash and row number, and the message
    must not depend on where a chunk ends (the row itself is shown with its 序号). Returns the
    indexes of the rows it rejected."""
    changed = []
    for index, result in enumerate(results):
        if result.id_number:
            earlier = first_row_of.setdefault(result.id_number, result.row)
            if earlier != result.row:
                result.reject(
                    "duplicate_in_sheet",
                    "id_number",
                    f"身份证号与本表第{earlier}行重复（同一人只登记一次）",
                    first=True,
                )
                changed.append(index)
    return changed


REASON_LABELS = {
    "ok": "通过",
    "ok_normalised": "通过（已规范化）",
    "id_missing": "身份证号为空",
    "id_format": "身份证号格式不对",
    "id_15digit": "15位旧身份证号",
    "id_excel_damaged": "身份证号被 Excel 损坏",
    "id_region": "身份证号地区码无效",
    "id_birthdate": "身份证号出生日期无效",
    "id_checksum": "身份证号校验位不对",
    "duplicate_in_sheet": "本表内重复",
    "duplicate_existing": "已登记或待审核",
    "name_missing": "姓名为空",
    "name_invalid": "姓名无效",
    "name_id_like": "姓名列填了身份证号",
    "gender_invalid": "性别无效",
    "gender_mismatch": "性别与身份证号不符",
    "phone_missing": "手机号码为空",
    "phone_invalid": "手机号码无效",
    "unit_missing": "所属单位为空",
    "unit_id_like": "所属单位列填了身份证号",
    "employment_invalid": "用工类型无效",
    "dues_invalid": "会费交纳情况无效",
    "blank": "空行",
    "summary_row": "合计行",
    "notes_row": "说明行",
}
