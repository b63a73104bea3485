"""Uploaded payment lists (ID number or card number, amount, optional name): reading them through
the upload kernel, parsing with row-and-column errors, and adding them to a batch all or nothing."""

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils import timezone

from cardportal import tables
from cardportal.errors import ApplicationError
from issuance.models import Card
from members.idcard import mask_id_like
from members.models import Member

from ..models import Disbursement
from .common import _refuse, _refuse_if
from .disbursements import Entry, _check_entries, disbursement_add_entries
from .four_eyes import disbursement_prepare_refusal

ID_HEADERS = ("身份证号", "身份证号码")
CARD_HEADERS = ("卡号", "会员卡号", "工会卡号")
AMOUNT_HEADERS = ("金额", "发放金额", "金额（元）", "金额(元)")
NAME_HEADERS = ("姓名",)


def read_rows(data: bytes, filename: str) -> list[list]:
    """Rows of the first visible sheet (.xlsx/.xls) or of a CSV file, as Python values, read
    through the upload kernel (`cardportal.tables`) with its reason codes; `filename` only
    names the file in messages elsewhere (the format comes from the bytes)."""
    try:
        return tables.read_table(data, limits=tables.Limits(max_bytes=settings.UPLOAD_MAX_BYTES)).rows
    except tables.TableRefused as refused:
        raise ApplicationError(refused.message, code=refused.code) from refused


def _column(headers: list[str], names: tuple[str, ...]) -> int | None:
    for i, h in enumerate(headers):
        if h in names:
            return i
    return None


def _col_letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _amount(value) -> Decimal | None:
    try:
        amount = Decimal(_text(value).replace(",", "").replace("元", ""))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def parse_payment_sheet(
    rows: list[list],
) -> tuple[list[tuple[int, str, str, Decimal | None, str]], list[str]]:
    """(row number, key kind "id"/"card", key, amount, name) per data row, and errors naming
    the row and column. Numbers stored as numbers in Excel lose digits beyond 15: refused."""
    if not rows:
        raise ApplicationError("文件是空的", code="file_empty")
    headers = [_text(h) for h in rows[0]]
    id_col, card_col = _column(headers, ID_HEADERS), _column(headers, CARD_HEADERS)
    amount_col, name_col = _column(headers, AMOUNT_HEADERS), _column(headers, NAME_HEADERS)
    if amount_col is None or (id_col is None and card_col is None):
        raise ApplicationError(
            "第1行须有表头：“身份证号”或“卡号”，以及“金额”（可选“姓名”）", code="header_not_found"
        )
    key_col, kind = (id_col, "id") if id_col is not None else (card_col, "card")
    header = headers[key_col]
    parsed, errors = [], []
    for n, row in enumerate(rows[1:], start=2):
        cells = list(row) + [None] * (len(headers) - len(row))
        if all(_text(c) == "" for c in cells):
            continue
        raw = cells[key_col]
        key = _text(raw).upper().replace(" ", "")
        where = f"第{n}行{_col_letter(key_col)}列（{header}）"
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):  # 16+ digits never survive
            errors.append(f"{where}：以数字格式保存会丢失位数，请将该列设为文本格式后重新填写")
            continue
        if not key:
            errors.append(f"{where}：不能为空")
            continue
        if kind == "id" and len(key) != 18:
            errors.append(f"{where}：“{mask_id_like(key)}”不是18位身份证号")  # a 17/19-digit typo, masked
            continue
        if kind == "card" and not (key.isascii() and key.isdigit() and 16 <= len(key) <= 19):
            errors.append(f"{where}：“{key}”不是16至19位卡号")
            continue
        amount = _amount(cells[amount_col])
        if amount is None:
            errors.append(
                f"第{n}行{_col_letter(amount_col)}列（{headers[amount_col]}）：“{_text(cells[amount_col])}”不是金额"
            )
            continue
        name = _text(cells[name_col]) if name_col is not None else ""
        parsed.append((n, kind, key, amount, name))
    return parsed, errors


def disbursement_import_sheet(*, disbursement: Disbursement, data: bytes, filename: str, actor) -> int:
    """An uploaded list (ID number or card number, amount, optional name). All or nothing."""
    from cardportal import crypto

    _refuse_if(disbursement_prepare_refusal(disbursement, actor))
    parsed, errors = parse_payment_sheet(read_rows(data, filename))
    by_hash = {crypto.keyed_hash(key): key for _, kind, key, _, _ in parsed if kind == "id"}
    members_by_hash = {
        m.id_hash: m for m in Member.objects.filter(id_hash__in=by_hash).select_related("union")
    }
    card_numbers = [key for _, kind, key, _, _ in parsed if kind == "card"]
    card_members = {
        c.number: c.member
        for c in Card.objects.filter(number__in=card_numbers).select_related("member", "member__union")
    }
    entries = []
    for n, kind, key, amount, name in parsed:
        member = members_by_hash.get(crypto.keyed_hash(key)) if kind == "id" else card_members.get(key)
        if member is None:
            errors.append(
                f"第{n}行：{'身份证号' if kind == 'id' else '卡号'}“{_mask(kind, key)}”未找到对应会员"
            )
            continue
        if name and name != member.name:
            errors.append(f"第{n}行：姓名“{name}”与登记的“{member.name}”不一致")
            continue
        entries.append(Entry(member=member, amount=amount, where=f"第{n}行"))
    if errors:
        # Report the batch-level problems of the readable rows too, so one upload shows them all.
        _, entry_errors = _check_entries(disbursement, entries, on=timezone.localdate())
        errors = sorted(errors + entry_errors, key=_row_number)
        _refuse(errors, code="invalid_rows", lead="文件未导入，请修改后重新上传")
    return disbursement_add_entries(
        disbursement=disbursement, entries=entries, actor=actor, source=f"upload:{filename}"
    )


def _row_number(message: str) -> int:
    digits = message.removeprefix("第").split("行", 1)[0]
    return int(digits) if digits.isdigit() else 0


def _mask(kind: str, key: str) -> str:
    return f"{key[:6]}********{key[-4:]}" if kind == "id" else f"****{key[-4:]}"
