"""One row of a partner's feed, checked and normalised (pure: no ORM). A bad row gets a Chinese
error naming its line and column; a good one becomes the staging tuple `STAGE_COLUMNS`."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from .layouts import FIELDS, value_map

SH = ZoneInfo("Asia/Shanghai")
STAGE_COLUMNS = (
    "line", "reference", "card_number", "txn_at", "amount", "mid", "mcc", "channel", "kind", "original_reference",
)  # fmt: skip
_REFERENCE = re.compile(r"[0-9A-Za-z_\-./]{1,40}")
_CARD = re.compile(r"\d{16,19}")
_YUAN = re.compile(r"-?\d{1,10}(?:\.\d{1,2})?")
_FEN = re.compile(r"-?\d{1,12}")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
# A time that is surely valid: the fast path takes it without building a datetime. Every day of
# every month but 29 February (a leap year's: `stage` decides); days 29-31 used to be
# left out, which sent the last days of each month, 500,000 rows a day, down `stage`.
_SURE_TIME = re.compile(
    r"20\d\d-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
    r" (?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
)
_COMPACT = re.compile(r"\d{14}")
_MCC = re.compile(r"\d{4}")


class RowError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def mask_card(number: str) -> str:
    """A card number as the report shows it: first 6, last 4 (the bank's own masking)."""
    digits = re.sub(r"\D", "", str(number))
    if len(digits) < 12:
        return "*" * len(digits)
    return f"{digits[:6]}{'*' * (len(digits) - 10)}{digits[-4:]}"


def text(value) -> str:
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value).strip()


class RowReader:
    """Checks rows of one layout; `stage(cells, line)` returns the staging tuple or raises RowError."""

    def __init__(self, layout: dict, columns: dict[str, int], *, postgresql: bool):
        self.columns = columns
        self.channels = value_map(layout, "channel_values")
        self.kinds = value_map(layout, "kind_values")
        self.formats = layout["time_formats"]
        self.fen = layout["amount_unit"] == "fen"
        self.default_channel = layout.get("default_channel", "")
        self.postgresql = postgresql
        self.width = max(columns.values()) + 1 if columns else 0
        self.days: set[str] = set()  # the local days ("2026-11-30") of the rows taken so far

        self.copy_lines = self._copy_lines(layout, columns) if postgresql else None

    def _copy_lines(self, layout: dict, columns: dict[str, int]):
        """The fast path. `copy_lines(chunk) -> (text, taken, rest)`: the chunk's rows of the common
        case (text cells, a yuan amount, a time like 2026-11-15 12:30:00), all bound locally, as the
        staging table's COPY text written straight from the cells (no tuple, no per-value encoding;
        ~2.5x the rows a second of `stage` followed by `bulk.encode_copy`); `taken` how many; `rest`
        the (index, cells) that `stage` decides and names the problem of (blank rows, bad rows, any
        cell that is not text). Only the MID is free text: a chunk whose text has a
        tab, line break or backslash out of place is handed back whole to `stage`. None when the
        layout has no fast path (amounts in fen, a required column missing)."""
        need = ("reference", "card_number", "txn_at", "amount")
        if self.fen or not all(f in columns for f in need):
            return None
        ref_i, card_i, at_i, amt_i = (columns[f] for f in need)
        mid_i, mcc_i, chan_i, kind_i, orig_i = (
            columns.get(f) for f in ("mid", "mcc", "channel", "kind", "original_reference")
        )
        width = self.width
        ref_ok, card_ok, time_ok, yuan_ok, mcc_ok = (
            _REFERENCE.fullmatch,
            _CARD.fullmatch,
            _SURE_TIME.fullmatch,
            _YUAN.fullmatch,
            _MCC.fullmatch,
        )
        channels, kinds, default_channel = self.channels, self.kinds, self.default_channel
        day_seen = self.days.add

        def copy_lines(chunk: list) -> tuple[str, int, list]:
            lines, rest = [], []
            add, defer = lines.append, rest.append
            for item in chunk:
                index, cells = item
                if len(cells) < width:
                    defer(item)
                    continue
                try:
                    ref, card, at, amount = (
                        cells[ref_i].strip(),
                        cells[card_i].strip(),
                        cells[at_i].strip(),
                        cells[amt_i].strip(),
                    )
                    mid = cells[mid_i].strip() if mid_i is not None else ""
                    mcc = cells[mcc_i].strip() if mcc_i is not None else ""
                    channel = cells[chan_i].strip() if chan_i is not None else ""
                    kind = cells[kind_i].strip() if kind_i is not None else ""
                    original = cells[orig_i].strip() if orig_i is not None else ""
                except AttributeError:  # not text (an .xlsx number or date): `stage`
                    defer(item)
                    continue
                channel = channels.get(channel) if channel else default_channel
                kind = kinds.get(kind)
                if (
                    channel
                    and kind
                    and ref_ok(ref)
                    and card_ok(card)
                    and time_ok(at)
                    and yuan_ok(amount)
                    and len(mid) <= 32
                    and (not mcc or mcc_ok(mcc))
                    and (not original or ref_ok(original))
                    and (kind == "purchase" or amount.startswith("-"))
                ):
                    add(
                        f"{index + 1}\t{ref}\t{card}\t{at}+08\t{amount}\t{mid}\t{mcc}\t{channel}\t{kind}\t{original}"
                    )
                    day_seen(at[:10])
                else:
                    defer(item)
            if not lines:
                return "", 0, rest
            text = "\n".join(lines) + "\n"
            n = len(lines)
            if text.count("\t") != 9 * n or text.count("\n") != n or "\\" in text or "\r" in text:
                return "", 0, chunk  # a MID with a tab, break or backslash: every row the slow way
            # (the chunk's days stay in `days` when it goes the slow way: `stage` takes the same rows)
            return text, n, rest

        return copy_lines

    def cell(self, cells: list, field: str) -> str:
        col = self.columns.get(field)
        if col is None or col >= len(cells):
            return ""
        return text(cells[col])

    def stage(self, cells: list, line: int) -> tuple:
        """The staging tuple of a row, or RowError naming the first problem."""
        reference = self.cell(cells, "reference")
        if not _REFERENCE.fullmatch(reference):
            raise RowError("reference", "交易参考号为空或含有不允许的字符（最长40位字母数字）")
        card = self.card_number(cells)
        local = self.txn_at(self.cell(cells, "txn_at"))
        amount = self.amount(self.cell(cells, "amount"))
        mid = self.cell(cells, "mid")
        if len(mid) > 32:
            raise RowError("mid", f"商户号“{mid[:40]}”超过32位")
        mcc = self.cell(cells, "mcc")
        if mcc and not _MCC.fullmatch(mcc):
            raise RowError("mcc", f"MCC“{mcc[:10]}”应为4位数字")
        channel = self.channel(self.cell(cells, "channel"))
        kind = self.kinds.get(self.cell(cells, "kind"))
        if kind is None:
            raise RowError(
                "kind", f"交易类型“{self.cell(cells, 'kind')[:20]}”无法识别（应为消费、退货或冲正）"
            )
        original = self.cell(cells, "original_reference")
        if original and not _REFERENCE.fullmatch(original):
            raise RowError("original_reference", "原交易参考号含有不允许的字符")
        if kind != "purchase" and not amount.startswith("-"):
            amount = "-" + amount if amount.strip("0.") else amount  # a refund undoes money: negative
        self.days.add(local[:10])
        return (line, reference, card, self.stored_time(local), amount, mid, mcc, channel, kind, original)

    def card_number(self, cells: list) -> str:
        col = self.columns.get("card_number")
        raw = cells[col] if col is not None and col < len(cells) else ""
        if isinstance(raw, float) and raw >= 1e15:
            raise RowError(
                "card_number", "卡号被 Excel 存成了数字，后几位可能已丢失；请把卡号列设为文本后重新导出"
            )
        number = text(raw).replace(" ", "")
        if not _CARD.fullmatch(number):
            raise RowError("card_number", f"卡号“{mask_card(number) or '（空）'}”应为16至19位数字")
        return number

    def txn_at(self, value: str) -> str:
        """The time, checked, as local time (Asia/Shanghai) "YYYY-MM-DD HH:MM:SS"."""
        if _ISO.fullmatch(value):
            local = value
        elif _COMPACT.fullmatch(value):
            local = f"{value[:4]}-{value[4:6]}-{value[6:8]} {value[8:10]}:{value[10:12]}:{value[12:]}"
        else:
            local = None
            for fmt in self.formats:
                try:
                    local = datetime.strptime(value, fmt).strftime("%Y-%m-%d %H:%M:%S")
                    break
                except ValueError:
                    continue
            if local is None:
                raise RowError(
                    "txn_at", f"交易时间“{value[:30] or '（空）'}”无法识别（例如 2026-11-15 12:30:00）"
                )
        try:
            moment = datetime.fromisoformat(local)
        except ValueError as exc:
            raise RowError("txn_at", f"交易时间“{value[:30]}”不是有效的日期时间") from exc
        if not 2000 <= moment.year <= 2099:
            raise RowError("txn_at", f"交易时间“{value[:30]}”的年份不合理")
        return local

    def stored_time(self, local: str) -> str:
        """A valid local time as the database's staging column takes it."""
        if self.postgresql:
            return local + "+08"
        return (
            datetime.fromisoformat(local)
            .replace(tzinfo=SH)
            .astimezone(ZoneInfo("UTC"))
            .strftime("%Y-%m-%d %H:%M:%S")
        )

    def amount(self, value: str) -> str:
        value = value.replace(",", "")
        if self.fen:
            if not _FEN.fullmatch(value):
                raise RowError("amount", f"交易金额“{value[:20] or '（空）'}”应为整数（单位：分）")
            sign, fen = ("-", value[1:]) if value.startswith("-") else ("", value)
            fen = fen.rjust(3, "0")
            return f"{sign}{int(fen[:-2])}.{fen[-2:]}"
        if not _YUAN.fullmatch(value):
            raise RowError("amount", f"交易金额“{value[:20] or '（空）'}”应为数字（元，最多两位小数）")
        return value

    def channel(self, value: str) -> str:
        if not value and self.default_channel:
            return self.default_channel
        channel = self.channels.get(value)
        if channel is None:
            raise RowError("channel", f"渠道“{value[:20] or '（空）'}”无法识别（应为POS、线上、ATM或公交）")
        return channel


def column_title(field: str, columns: dict[str, int], header_row: list | None) -> str:
    """How the error names a column: the file's own header title, else its position and meaning."""
    col = columns.get(field)
    if col is None:
        return FIELDS.get(field, field)
    if header_row and col < len(header_row) and text(header_row[col]):
        return text(header_row[col])
    return f"第{col + 1}列（{FIELDS.get(field, field)}）"
