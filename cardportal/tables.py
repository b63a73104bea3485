"""The one kernel for reading uploaded tables (.xlsx, .xls, .csv). Stdlib and calamine only: no
Django, nothing written, and this file also runs as the child process that parses (see below).

    read_table(data, limits=..., header=HeaderSpec(...)) -> Table      or raises TableRefused

Every upload path (registration sheets, bank return and activation files, payment results)
reads through here and is refused with the same whole-file reason codes:

    file_not_spreadsheet  file_corrupt  file_encrypted  archive_bomb  file_too_large
    file_empty            too_many_cells  header_not_found  no_data_rows (the caller's)

Order of the checks, all before anything is inflated into a grid:

1. size (`Limits.max_bytes`), then the format from the bytes, never the name: a zip is an .xlsx,
   an OLE2 compound file an .xls or an encrypted OOXML package, anything that decodes as text
   (UTF-8, UTF-8/UTF-16 with BOM, GB18030) a CSV; known non-spreadsheet magic numbers are refused.
2. zip (.xlsx): member count, declared total and ratio from the central directory; ZipCrypto
   (`zip -P`, flag bit 0) is `file_encrypted`; then every member is inflated through a stream that
   stops at its declared size, and while the worksheets stream past, their cell references are
   scanned to bound the used range. calamine sizes its dense grid from the real cell positions
   (not from `<dimension>`), so the scan reads every `<c r="…">`; a cell without `r` widens the
   bound by one in both directions (calamine places it after the previous one). A sheet whose
   rows x columns exceeds the limits is `too_many_cells` before calamine sees it.
3. the parse itself (calamine, or the csv module) runs in a child Python process under
   RLIMIT_AS/RLIMIT_CPU (`parse_in_child`). A native abort (a Rust allocation failure), a hang or
   any bug there kills the child only; the caller gets `too_many_cells` or `file_corrupt`. The
   child checks the grid again (rows, columns, cells) before converting it to Python values.
4. streamed (`stream_table`), a CSV is read line by line, and a large .xlsx (more than
   `STREAM_XLSX_ABOVE` of worksheet and shared-strings XML) by expat a buffer at a time instead
   of calamine whole: the same cells, the child's peak independent of the rows (38 MB at
   1,000,000 rows against calamine's 514 MB). expat refuses a DOCTYPE (no entity can be declared).
   Below that, an .xlsx whose cells hold their own text (no large shared-strings part) is given
   to calamine a part at a time (`_SheetInParts`): the first rows go out while the rest is parsed.
"""

from __future__ import annotations

import csv
import gc
import io
import os
import pickle
import re
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache

MAX_BYTES = 30 * 1024 * 1024
MAX_ROWS = 200_000
HEADER_SEARCH_ROWS = 30
# No upload in the portal has more than a dozen columns; 256 is Excel 2003's width. The cell
# budget is what a dense grid may cost: 6,000,000 cells are ~200 MB in calamine plus ~50 MB of
# Python lists, against 550 GB for one cell at XFD1048576. It is above 26 x (200,000 + 30) so
# the fast scan's bound (26 columns for single-letter references) never refuses a full sheet.
MAX_COLUMNS = 256
MAX_CELLS = 6_000_000
# An .xlsx of 100,000 rows inflates to about 33 MB at a ratio near 10; bombs reach 1000 and more.
MAX_UNCOMPRESSED = 400 * 1024 * 1024
MAX_RATIO = 200
RATIO_APPLIES_ABOVE = 1024 * 1024
MAX_ZIP_MEMBERS = 2000
# The child's address space and CPU time. A 100,000-row sheet peaks near 300 MB of address space.
CHILD_MEMORY = 1536 * 1024 * 1024
CHILD_CPU_SECONDS = 120
CHILD_WALL_SECONDS = 180

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
NOT_SPREADSHEET_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"Rar!",
    b"7z\xbc\xaf",
    b"\x1f\x8b",
    b"BZh",
    b"MZ",
    b"\x7fELF",
    b"{\\rtf",
)
ENCRYPTED_OOXML_STREAMS = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))
_SPACES = re.compile(r"[\s\u3000\u00a0\u200b\ufeff]+")
_PARENS = re.compile(r"[（(【\[].*?[)）】\]]")
HEADER_TEXT_MAX = 200  # characters: the longest header label with its notes is a few dozen
# Every <c> tag of a worksheet: (column letters, row digits) from its r attribute, or ("", "")
# when it has none. `(?=>)` ends a tag without r; XML escapes "<" in text, so text never matches.
# The attribute scan stops at "<" too (no attribute holds a raw one): with `[^>]*?`, a buffer of
# unclosed `<c ` tags and no ">" made every tag scan to the buffer's end, quadratic in the
# buffer (hours of the web process's CPU for one 1 MB chunk of an uploaded file).
_CELL_TAG = re.compile(
    rb"<(?:[A-Za-z_][\w.\-]*:)?c(?=[\s/>])[^<>]*?"
    rb"""(?:\sr\s*=\s*["']([A-Za-z]{1,3})([0-9]{1,7})["']|(?=>))"""
)
# The fast scan: a chunk in which every cell tag is written `<c r="A12345"` (one letter, at most
# five digits: what Excel, WPS, LibreOffice and openpyxl write for the sheets we expect) is
# bounded by two regex searches that find nothing, with no Python object per cell; its rows by
# the longest such reference. Any other chunk (wider, taller, prefixed, r not first) is read
# reference by reference with _CELL_TAG. On the 100,000-row sheet: ~0.05 s instead of ~0.2 s.
_ODD_CELL = re.compile(rb'<c(?=[\s/>])(?! r="[A-Z][0-9]{1,5}")')
_PREFIXED_CELL = re.compile(rb":c[\s/>]")
_ROW_TIERS = [(re.compile(rb'<c r="[A-Z][0-9]{%d}"' % n), 10**n - 1) for n in (5, 4, 3, 2)]
_MAX_OPEN_TAG = 4 * 1024 * 1024
_SCAN_CHUNK = 1024 * 1024

MESSAGES = {
    "file_not_spreadsheet": "上传的文件不是电子表格（请上传 .xlsx、.xls 或 .csv 文件）",
    "file_encrypted": "文件设置了打开密码，请取消密码后重新上传",
    "file_corrupt": "文件已损坏或不完整，无法读取，请重新保存后上传",
    "file_empty": "表格里没有任何内容",
}


class TableRefused(Exception):
    """The whole file is refused; `code` is one of the reason codes above, `message` Chinese."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Limits:
    max_bytes: int = MAX_BYTES
    max_rows: int = MAX_ROWS  # data rows; the header search rows come on top
    max_columns: int = MAX_COLUMNS
    max_cells: int = MAX_CELLS

    @property
    def max_height(self) -> int:
        return self.max_rows + HEADER_SEARCH_ROWS


@dataclass(frozen=True)
class HeaderSpec:
    """Which header row to look for: `aliases` maps a label (normalised with `header_text`) to a
    field; the header is the first of the first `search_rows` rows naming every `required` field.
    Without a spec the first sheet is read whole and nothing is located."""

    aliases: dict[str, str]
    required: tuple[str, ...]
    search_rows: int = HEADER_SEARCH_ROWS
    missing_message: str = "找不到表头"
    # Text files without a header row (a bank's fixed-width or delimited feed): the fields in
    # column order ("" for a column not read); `aliases` and `required` are then not used.
    positional: tuple[str, ...] = ()

    def plain(self) -> dict:
        return {
            "aliases": {header_text(k): v for k, v in self.aliases.items()},
            "required": list(self.required),
            "search_rows": self.search_rows,
            "missing_message": self.missing_message,
            "positional": list(self.positional),
        }


@dataclass(frozen=True)
class TextLayout:
    """How a text file (.txt, .csv) is cut into cells when a partner says so, instead of the
    comma/tab guess: a `delimiter` ("|", "\t", ","), or fixed `widths` as (start, end) byte spans
    of each line in the file's encoding (0-based, end excluded: the banks' record layouts count
    bytes, a Chinese character is 2 in GBK); each cell is stripped. `skip_lines` lines (a file
    header record) are skipped before the data of a positional file."""

    delimiter: str = ""
    widths: tuple[tuple[int, int], ...] = ()
    skip_lines: int = 0

    def plain(self) -> dict:
        return {
            "delimiter": self.delimiter,
            "widths": [list(w) for w in self.widths],
            "skip_lines": self.skip_lines,
        }


@dataclass
class Table:
    file_format: str  # "xlsx", "xls" or "csv"
    rows: list[list] = field(default_factory=list)  # the whole grid of the sheet read
    sheet_name: str = ""
    encoding: str = ""
    header_index: int | None = None  # 0-based index into rows, when a HeaderSpec was given
    columns: dict[str, int] = field(default_factory=dict)  # field -> 0-based column
    child_peak_mb: int = 0  # the parsing child's peak resident memory (VmHWM), for the benchmarks
    height: int = 0  # rows in the sheet, header included (streaming: for progress)


def refuse(code: str, message: str | None = None) -> TableRefused:
    return TableRefused(code, message or MESSAGES[code])


def header_text(value) -> str | None:
    """A header cell as compared with the aliases: padded (" 身份证号 ", "姓  名"), full-width,
    "*", ":" and "(必填)" tolerated. A cell longer than any label (HEADER_TEXT_MAX) is not one:
    it is not normalised at all, since `_PARENS` on a long run of unclosed brackets in an
    uploaded preamble would be quadratic (hours for 1 MB)."""
    if not isinstance(value, str) or len(value) > HEADER_TEXT_MAX:
        return None
    text = _SPACES.sub("", unicodedata.normalize("NFKC", value)).strip("*＊:：")
    return _PARENS.sub("", text)


# a character `_SPACES` does not take: a text holding one is not blank
_NOT_SPACE = re.compile(r"[^\s\u3000\u00a0\u200b\ufeff]")


def present(value) -> bool:
    """Not None, and for a text not only spaces (`_SPACES`). Searched for the first other
    character, not by removing the spaces: a row's first cell decides at once (the reading
    child asks this of every row)."""
    return value is not None and (not isinstance(value, str) or _NOT_SPACE.search(value) is not None)


# --- the parent's side -----------------------------------------------------------------------------
def read_table(data: bytes, *, limits: Limits = Limits(), header: HeaderSpec | None = None) -> Table:
    """Check `data` (size, format, archive bombs, encryption, used range) here, then parse it in a
    child process. Raises TableRefused; never lets a hostile file take this process down."""
    file_format = check_file(data, limits=limits)
    return parse_in_child(data, file_format=file_format, limits=limits, header=header)


def check_size(size: int, *, max_bytes: int) -> None:
    if size == 0:
        raise refuse("file_empty", "上传的文件是空的（0 字节）")
    if size > max_bytes:
        raise refuse(
            "file_too_large", f"文件太大（{size / 1048576:.1f} MB），上限为 {max_bytes / 1048576:.0f} MB"
        )


def check_file(data: bytes, *, limits: Limits = Limits()) -> str:
    """Everything that can be decided without building a grid. Returns "xlsx", "xls" or "csv"."""
    check_size(len(data), max_bytes=limits.max_bytes)
    if data.startswith(ZIP_MAGIC):
        check_zip(data, limits=limits)
        return "xlsx"
    if data.startswith(OLE2_MAGIC):
        if all(name in data for name in ENCRYPTED_OOXML_STREAMS):  # MS-OFFCRYPTO container
            raise refuse("file_encrypted")
        return "xls"
    if data.startswith(NOT_SPREADSHEET_MAGIC):
        raise refuse("file_not_spreadsheet")
    return "csv"


def check_path(path: str, *, limits: Limits = Limits()) -> str:
    """`check_file` for a file on disk, read in pieces (a migration's CSV is hundreds of MB):
    the same checks in the same order, the archive inflated through the same bounded stream."""
    file_format = sniff_path(path, limits=limits)
    check_content(path, file_format=file_format, limits=limits)
    return file_format


def sniff_path(path: str, *, limits: Limits = Limits()) -> str:
    """`check_path`'s first half, from the size and the first bytes: "xlsx", "xls" or "csv"."""
    size = os.path.getsize(path)
    check_size(size, max_bytes=limits.max_bytes)
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if head.startswith(OLE2_MAGIC):
        return "xls"
    if head.startswith(NOT_SPREADSHEET_MAGIC):
        raise refuse("file_not_spreadsheet")
    return "csv"


def check_content(path: str, *, file_format: str, limits: Limits = Limits()) -> None:
    """`check_path`'s second half, which reads the whole file: the archive's bounds for an
    .xlsx, the encrypted-workbook test for an .xls."""
    if file_format == "xlsx":
        check_zip(path, limits=limits)
    elif file_format == "xls":
        with open(path, "rb") as handle:  # an .xls holds at most 65,536 rows: a few MB
            data = handle.read()
        if all(name in data for name in ENCRYPTED_OOXML_STREAMS):
            raise refuse("file_encrypted")


def check_zip(data: bytes | str, *, limits: Limits = Limits()) -> None:
    """Refuse archive bombs, encrypted members and oversized worksheets before calamine inflates
    anything: declared sizes and ratios from the central directory first, then each member
    inflated through a stream that stops at its declared size (zipfile verifies the CRC at the
    end, so a member that lies about its size is corrupt), worksheets scanned as they stream."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes | bytearray) else data)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise refuse("file_corrupt", "文件已损坏或不完整（无法按 .xlsx 打开），请重新保存后上传") from exc
    if len(infos) > MAX_ZIP_MEMBERS:
        raise refuse("archive_bomb", "文件内部结构异常（压缩包成员过多），已拒收")
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if total > MAX_UNCOMPRESSED or (info.file_size > RATIO_APPLIES_ABOVE and ratio > MAX_RATIO):
            raise refuse("archive_bomb", "文件解压后体积异常（疑似压缩炸弹），已拒收")
    if any(info.flag_bits & 0x1 for info in infos):  # ZipCrypto or AES: `zip -P`, 7-Zip
        raise refuse("file_encrypted")
    names = {info.filename for info in infos}
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        raise refuse(
            "file_not_spreadsheet", "上传的压缩文件不是 Excel 工作簿（请上传 .xlsx、.xls 或 .csv 文件）"
        )
    if "xl/workbook.bin" in names:
        raise refuse("file_not_spreadsheet", "不支持 .xlsb 格式，请另存为 .xlsx 后上传")
    try:
        for info in infos:
            scan = _RangeScan(limits) if _is_worksheet(info.filename) else None
            with archive.open(info) as stream:
                inflated = 0
                while chunk := stream.read(_SCAN_CHUNK):
                    inflated += len(chunk)
                    if inflated > info.file_size:
                        raise refuse("archive_bomb", "文件解压后体积与声明不符（疑似压缩炸弹），已拒收")
                    if scan is not None:
                        scan.feed(chunk)
            if scan is not None:
                scan.finish()
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        ValueError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        # RuntimeError: zipfile's "password required" for an encrypted member the flags missed
        raise refuse("file_corrupt", "文件已损坏或不完整（压缩数据校验失败），请重新保存后上传") from exc


def _is_worksheet(name: str) -> bool:
    # Every XML part of the workbook but the shared strings, not only xl/worksheets/: the
    # relationships may place a sheet anywhere, and the other parts are small.
    return name.startswith("xl/") and name.endswith(".xml") and name != "xl/sharedStrings.xml"


class _RangeScan:
    """The used range of one worksheet from its cell references, fed chunk by chunk."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.carry = b""
        self.max_col = 0
        self.max_row = 0
        self.unreferenced = 0

    def feed(self, chunk: bytes) -> None:
        buffer = self.carry + chunk
        # A tag cut at the chunk's end is carried over whole; a complete one is not rescanned.
        cut = buffer.rfind(b"<")
        if cut != -1 and buffer.find(b">", cut) == -1:
            self.carry, buffer = buffer[cut:], buffer[:cut]
            if len(self.carry) > _MAX_OPEN_TAG:
                raise refuse("file_corrupt", "文件内部结构异常（单元格标记过长），请重新保存后上传")
        else:
            self.carry = b""
        if _ODD_CELL.search(buffer) is None and _PREFIXED_CELL.search(buffer) is None:
            self._bound_plain(buffer)
        else:
            self._bound_exact(buffer)
        self.check()

    def _bound_plain(self, buffer: bytes) -> None:
        if b'<c r="' not in buffer:
            return
        self.max_col = max(self.max_col, 26)
        for pattern, bound in _ROW_TIERS:
            if pattern.search(buffer):
                self.max_row = max(self.max_row, bound)
                return
        self.max_row = max(self.max_row, 9)

    def _bound_exact(self, buffer: bytes) -> None:
        refs = _CELL_TAG.findall(buffer)
        if not refs:
            return
        columns, row_numbers = zip(*refs, strict=True)  # at C speed: 600,000 cells in 100,000 rows
        letters, numbers = set(columns), set(row_numbers)
        if b"" in letters:
            self.unreferenced += columns.count(b"")
            letters.discard(b"")
            numbers.discard(b"")
        if letters:
            self.max_col = max(self.max_col, max(map(_column_number, letters)))
            self.max_row = max(self.max_row, max(map(int, numbers)))

    def finish(self) -> None:
        if self.carry:
            self.feed(b"")
        self.check()

    def check(self) -> None:
        check_range(self.max_row + self.unreferenced, self.max_col + self.unreferenced, self.limits)


def _column_number(letters: bytes) -> int:
    number = 0
    for byte in letters.upper():
        number = number * 26 + byte - 64
    return number


def check_range(height: int, width: int, limits: Limits) -> None:
    if width > limits.max_columns:
        raise refuse(
            "too_many_cells",
            f"表格太宽（用到第 {width} 列），每个文件最多 {limits.max_columns} 列；请删除表格右侧的多余内容后重新上传",
        )
    if height > limits.max_height:
        raise refuse("file_too_large", f"表格行数太多（{height} 行），每个文件最多 {limits.max_rows} 行")
    if height * width > limits.max_cells:
        raise refuse(
            "too_many_cells",
            f"表格范围太大（{height} 行 × {width} 列），单元格总数上限为 {limits.max_cells}；请删除多余的行列后重新上传",
        )


def parse_in_child(data: bytes, *, file_format: str, limits: Limits, header: HeaderSpec | None) -> Table:
    """Parse in a fresh Python (`-I`: no script directory on sys.path, so no Django) whose own
    first act is to cap its address space and CPU time. Request and answer (one pickle of plain
    values each) pass through two files in a private temporary directory, not pipes: 11 MB
    through 64 KB pipe buffers took a context switch per buffer, which cost ~0.5 s on a loaded
    machine."""
    request = {
        "data": data,
        "format": file_format,
        "limits": [limits.max_bytes, limits.max_rows, limits.max_columns, limits.max_cells],
        "header": header.plain() if header else None,
        "memory": CHILD_MEMORY,
        "cpu": CHILD_CPU_SECONDS,
    }
    with tempfile.TemporaryDirectory(prefix="cardportal-table-") as folder:
        asked, answered = os.path.join(folder, "request"), os.path.join(folder, "answer")
        with open(asked, "wb") as handle:
            pickle.dump(request, handle, protocol=pickle.HIGHEST_PROTOCOL)
        del request
        try:
            done = subprocess.run(
                [sys.executable, "-I", os.path.abspath(__file__), asked, answered],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={**os.environ, "RUST_BACKTRACE": "0"},  # the log wants the one-line reason
                timeout=CHILD_WALL_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise refuse("too_many_cells", "表格读取超时（内容过多或结构异常），已拒收") from exc
        if done.returncode != 0 or not os.path.exists(answered):
            _log_child_failure(done)
            raise refuse("too_many_cells", "表格内容过多或结构异常，读取时超出了内存或时间上限，已拒收")
        with open(answered, "rb") as handle:
            try:
                answer = _loads_without_gc(handle.read())
            except pickle.UnpicklingError as exc:
                _log_child_failure(done)
                raise refuse("file_corrupt") from exc
    if "refused" in answer:
        raise refuse(*answer["refused"])
    # Only the fields this process knows: after a deploy, a running process may start the new
    # child file (a field more or less must not break every upload until it restarts).
    known = Table.__dataclass_fields__
    return Table(**{key: value for key, value in answer["table"].items() if key in known})


# --- streaming: a table of any height in bounded memory -------------------------------------------
STREAM_CHUNK_ROWS = 20_000


class TableStream:
    """A table read as a head (format, header located, the rows down to the header) and then its
    data rows in chunks, so neither process ever holds the Python grid: the child sends one pickle
    per chunk through a pipe and the caller works on a chunk while the child reads the next (the
    second core). The child's limits are those of `parse_in_child`; at most a few chunks wait in
    the pipe, so this process holds at most a few chunks.

        with stream_table(path, limits=..., header=...) as stream:
            stream.head.columns ...
            for chunk in stream.chunks():   # [(0-based grid index, cells), ...]
                ...

    A refusal can still come after some chunks (too many rows, a sheet damaged near its end):
    callers write nothing they cannot take back until the stream has ended. Trailing blank rows
    are not sent.

    The whole-file checks (`check_content`) run here while the child starts and parses: the
    child is capped in memory and CPU as for any file, so a file they refuse (an archive bomb)
    costs it at most its caps, and their refusal is raised before any of its answers is read.
    On the 100,000-row .xlsx they took 0.15 s of the 0.9 s before the first rows."""

    def __init__(
        self,
        path: str,
        *,
        file_format: str,
        limits: Limits,
        header: HeaderSpec,
        chunk_rows: int,
        text: TextLayout | None = None,
    ):
        self.path, self.file_format, self.limits = path, file_format, limits
        self.header, self.chunk_rows, self.text = header, chunk_rows, text
        self.head: Table | None = None
        self.child_peak_mb = 0
        self._folder = None
        self._child = None

    def __enter__(self) -> TableStream:
        self._folder = tempfile.TemporaryDirectory(prefix="cardportal-table-")
        asked = os.path.join(self._folder.name, "request")
        request = {
            "path": os.path.abspath(self.path),
            "format": self.file_format,
            "limits": [
                self.limits.max_bytes,
                self.limits.max_rows,
                self.limits.max_columns,
                self.limits.max_cells,
            ],
            "header": self.header.plain(),
            "memory": CHILD_MEMORY,
            "cpu": CHILD_CPU_SECONDS,
            "stream": self.chunk_rows,
            "xlsx_stream_above": STREAM_XLSX_ABOVE,
            "xlsx_in_parts": XLSX_IN_PARTS,
            "text": self.text.plain() if self.text else None,
        }
        with open(asked, "wb") as handle:
            pickle.dump(request, handle, protocol=pickle.HIGHEST_PROTOCOL)
        self._child = subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__), asked, "-"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "RUST_BACKTRACE": "0"},
            bufsize=1024 * 1024,
        )
        try:
            check_content(self.path, file_format=self.file_format, limits=self.limits)
            kind, payload = self._next()
            if kind != "head":
                raise refuse("file_corrupt")
            known = Table.__dataclass_fields__
            self.head = Table(**{key: value for key, value in payload.items() if key in known})
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def chunks(self):
        while True:
            kind, payload = self._next()
            if kind == "end":
                self.child_peak_mb = payload
                return
            yield payload

    def _next(self) -> tuple[str, object]:
        try:
            with collector_paused():
                kind, payload = _from_child(self._child.stdout)
        except (EOFError, pickle.UnpicklingError) as exc:
            self._child.kill()
            stderr = self._child.stderr.read()
            self._child.wait()
            _log_child_failure(
                subprocess.CompletedProcess(self._child.args, self._child.returncode, b"", stderr)
            )
            raise refuse(
                "too_many_cells", "表格内容过多或结构异常，读取时超出了内存或时间上限，已拒收"
            ) from exc
        if kind == "refused":
            raise refuse(*payload)
        return kind, payload

    def __exit__(self, *exc) -> None:
        if self._child is not None:
            if self._child.poll() is None:
                self._child.kill()
            self._child.wait()
            self._child.stdout.close()
            self._child.stderr.close()
            self._child = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None


def stream_table(
    path: str,
    *,
    limits: Limits = Limits(),
    header: HeaderSpec,
    chunk_rows: int = STREAM_CHUNK_ROWS,
    text: TextLayout | None = None,
) -> TableStream:
    """`read_table` for a file on disk, streamed (see TableStream). The whole-file checks are
    those of `read_table`: the size and the kind of file here, the rest as the stream opens,
    beside the child. `text` cuts a text file as its partner's layout says."""
    file_format = sniff_path(path, limits=limits)
    return TableStream(
        path, file_format=file_format, limits=limits, header=header, chunk_rows=chunk_rows, text=text
    )


@contextmanager
def collector_paused():
    """The cyclic garbage collector off for a burst of allocation that makes no cycles (row
    lists, row results), and back on after as it was. Allocating 100,000 such objects sets off
    collection after collection, each walking every object the process holds, for nothing:
    unpickling the benchmark sheet took 0.27-0.43 s with it, 0.13-0.23 s without. Memory is
    still freed by reference counting."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _loads_without_gc(payload: bytes) -> dict:
    with collector_paused():
        return _from_child(io.BytesIO(payload))


def _from_child(handle):
    """One pickle from the reading child, which may name no callable but the date and time types
    its cells hold. The child parses untrusted files; a pickle is a program, and one naming
    `os.system` (or any function) would run it here, in the web or worker process, if a file
    ever took the child over. Whatever else is named is refused (`pickle.UnpicklingError`)."""
    return _PlainValues(handle).load()


@cache
def _plain_types() -> dict[tuple[str, str], type]:
    import datetime  # here, not at the top: the child imports datetime only when a cell needs it

    kinds = (datetime.date, datetime.datetime, datetime.time, datetime.timedelta)
    return {("datetime", kind.__name__): kind for kind in kinds}


class _PlainValues(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _plain_types()[module, name]
        except KeyError:
            raise pickle.UnpicklingError(
                f"the reading child sent {module}.{name}, not a plain value"
            ) from None


def _log_child_failure(done: subprocess.CompletedProcess) -> None:
    import logging

    logging.getLogger(__name__).warning(
        "table reader child failed: exit %s, stderr %s", done.returncode, done.stderr[:500]
    )


# --- the child's side ------------------------------------------------------------------------------
def parse(data: bytes, *, file_format: str, limits: Limits, header: dict | None) -> Table:
    """The parse proper (runs in the child). `header` is `HeaderSpec.plain()`."""
    if file_format == "csv":
        rows, encoding = csv_rows(data, limits=limits)
        table = Table("csv", rows, "", encoding)
        if header is not None:
            _require_header(table, header)
        return table
    return _read_workbook(data, file_format=file_format, limits=limits, header=header)


def decode_text(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise refuse("file_corrupt", "UTF-16 文本不完整，请重新保存后上传") from exc
    if b"\x00" in data[:4096]:
        raise refuse("file_not_spreadsheet")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError as exc:
        raise refuse(
            "file_not_spreadsheet", "无法识别文件的文字编码（CSV 请用 UTF-8 或 GBK 保存），或文件不是电子表格"
        ) from exc


def csv_rows(data: bytes, *, limits: Limits) -> tuple[list[list], str]:
    text, encoding = decode_text(data)
    head = text.lstrip()[:200].lower()
    if head.startswith(("<html", "<!doctype", "<?xml", "<table")):
        raise refuse(
            "file_not_spreadsheet", "上传的文件是网页或 XML，不是电子表格；请在 Excel 中另存为 .xlsx"
        )
    if not text.strip():
        raise refuse("file_empty", "文件里没有任何内容")
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    rows, width = [], 0
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            rows.append(row)
            if len(row) > width:
                width = len(row)
                check_range(1, width, limits)
            if len(rows) > limits.max_height:
                check_range(len(rows), width, limits)
    except csv.Error as exc:
        raise refuse("file_corrupt", f"CSV 文件格式有误：{exc}") from exc
    check_range(len(rows), width, limits)
    return rows, encoding


def _open_workbook(source):
    """calamine's workbook from a path or a file-like object, its errors as refusals."""
    from python_calamine import CalamineWorkbook, PasswordError

    try:
        if isinstance(source, str):
            return CalamineWorkbook.from_path(source)
        return CalamineWorkbook.from_filelike(source)
    except PasswordError as exc:
        raise refuse("file_encrypted") from exc
    except Exception as exc:  # calamine raises several error types for damaged files
        if "password" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise refuse("file_encrypted") from exc
        raise refuse("file_corrupt") from exc


def _read_workbook(data: bytes, *, file_format: str, limits: Limits, header: dict | None) -> Table:
    book = _open_workbook(io.BytesIO(data))
    found_any_cell = False
    try:
        for index in _visible_sheets(book):
            sheet = book.get_sheet_by_index(index)
            # for .xls nothing bounded the grid before this point: the child's rlimit did
            check_range(sheet.height, sheet.width, limits)
            grid = sheet.to_python(skip_empty_area=False)
            table = Table(file_format, grid, sheet.name)
            if header is None:
                return table
            search = header["search_rows"]
            if len(grid) > search or any(any(present(c) for c in row) for row in grid[:search]):
                found_any_cell = True
            if _locate_header(table, header):
                return table
    except TableRefused:
        raise
    except Exception as exc:  # damaged sheet XML inside a sound zip
        raise refuse("file_corrupt") from exc
    if header is None or not found_any_cell:
        raise refuse("file_empty")
    raise refuse("header_not_found", header["missing_message"])


def _visible_sheets(book) -> list[int]:
    indices = [
        i
        for i, meta in enumerate(book.sheets_metadata)
        if str(meta.visible).lower().endswith("visible") and "worksheet" in str(meta.typ).lower()
    ]
    return indices or list(range(len(book.sheet_names)))


def _locate_header(table: Table, header: dict) -> bool:
    aliases, required = header["aliases"], header["required"]
    for index, row in enumerate(table.rows[: header["search_rows"]]):
        columns: dict[str, int] = {}
        for col, value in enumerate(row):
            key = aliases.get(header_text(value))
            if key is not None and key not in columns:
                columns[key] = col
        if all(k in columns for k in required):
            table.header_index, table.columns = index, columns
            return True
    return False


def _require_header(table: Table, header: dict) -> None:
    if not any(any(present(c) for c in row) for row in table.rows):
        raise refuse("file_empty")
    if not _locate_header(table, header):
        raise refuse("header_not_found", header["missing_message"])


def _child_main() -> None:
    import resource

    gc.disable()  # a short-lived process building 100,000 lists: the collector only costs (~25%)
    asked, answered = sys.argv[1], sys.argv[2]
    with open(asked, "rb") as handle:
        request = pickle.load(handle)
    for which, wanted in ((resource.RLIMIT_AS, request["memory"]), (resource.RLIMIT_CPU, request["cpu"])):
        hard = resource.getrlimit(which)[1]  # a container may already cap it lower
        limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(which, (limit, limit))
    if "stream" in request:
        _stream_main(request)
        return
    data = request.pop("data")
    try:
        table = parse(
            data, file_format=request["format"], limits=Limits(*request["limits"]), header=request["header"]
        )
        table.child_peak_mb = _peak_mb()
        answer = {"table": table.__dict__}
    except TableRefused as refused:
        answer = {"refused": [refused.code, refused.message]}
    except MemoryError:
        answer = {"refused": ["too_many_cells", "表格内容过多，读取时超出了内存上限，已拒收"]}
    del data
    # written whole, then renamed: a child killed while writing leaves no answer behind
    with open(answered + ".part", "wb") as handle:
        pickler = pickle.Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.fast = True  # no memo: a grid holds no cycles; 0.01 s instead of 0.10 s to dump
        pickler.dump(answer)
    os.replace(answered + ".part", answered)


def _stream_main(request: dict) -> None:
    """The child's side of TableStream: frames ("head", fields) ("rows", chunk)… ("end", peak MB)
    or ("refused", [code, message]) pickled to stdout."""
    out = sys.stdout.buffer

    def send(kind: str, payload) -> None:
        pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.fast = True
        pickler.dump((kind, payload))
        out.flush()

    global STREAM_XLSX_ABOVE
    STREAM_XLSX_ABOVE = request.get("xlsx_stream_above", STREAM_XLSX_ABOVE)  # the parent's setting
    limits, header, size = Limits(*request["limits"]), request["header"], request["stream"]
    chunk: list = []

    def send_chunk() -> None:
        """Send the rows so far: every `size` rows, at the end, and as each of calamine's parts
        ends, so a part's rows go before the next part is parsed (the first chunk after one part)."""
        if chunk:
            send("rows", chunk)
            chunk.clear()

    try:
        if request["format"] == "csv":
            fields, rows = _csv_stream(
                request["path"], limits=limits, header=header, layout=request.get("text")
            )
        else:
            fields, rows = _workbook_stream(
                request["path"],
                file_format=request["format"],
                limits=limits,
                header=header,
                part_rows=size if request.get("xlsx_in_parts") else 0,
                part_done=send_chunk,
            )
        send("head", fields)
        blanks: list = []  # blank rows are held back until a row with content follows them
        count = 0
        for index, cells in rows:
            count += 1
            if count > limits.max_rows:
                raise refuse(
                    "file_too_large",
                    f"表格行数太多（超过 {limits.max_rows} 行），每个文件最多 {limits.max_rows} 行",
                )
            # blank? The first cell starting with text answers for the row (a generator per row
            # was 0.3-0.5 s of a 500,000-row feed's 2.4 s in this child)
            first = cells[0] if cells else None
            if not (first.__class__ is str and _NOT_SPACE.match(first)) and not any(
                present(c) for c in cells
            ):
                blanks.append((index, cells))
                continue
            if blanks:
                chunk.extend(blanks)
                blanks.clear()
            chunk.append((index, cells))
            if len(chunk) >= size:
                send_chunk()
        send_chunk()
        send("end", _peak_mb())
    except TableRefused as refused:
        send("refused", [refused.code, refused.message])
    except MemoryError:
        send("refused", ["too_many_cells", "表格内容过多，读取时超出了内存上限，已拒收"])


def _workbook_stream(
    path: str, *, file_format: str, limits: Limits, header: dict, part_rows: int = 0, part_done=None
):
    """(head fields, iterator of (index, cells)) of the first visible sheet with the header.
    calamine holds the sheet's cells (its own compact form); Python rows are made one at a time.
    A large .xlsx is read by the streaming reader instead (`STREAM_XLSX_ABOVE`), and any other
    .xlsx in parts of `part_rows` rows where that applies (`_SheetInParts`; `part_done()` is
    called after each part's last row)."""
    from itertools import islice

    if file_format == "xlsx" and _xlsx_streams(path):
        return _xlsx_stream(path, limits=limits, header=header)

    book = _open_workbook(path)
    found_any_cell = False
    try:
        for index in _visible_sheets(book):
            parts = (
                _SheetInParts.open(path, index, part_rows) if file_format == "xlsx" and part_rows else None
            )
            sheet = parts.sheet if parts is not None else book.get_sheet_by_index(index)
            check_range(sheet.height, sheet.width, limits)
            if parts is not None:
                rows, height = parts.rows(limits, part_done), parts.height_estimate()
            else:
                rows = iter(sheet.iter_rows())
                # iter_rows gives every row from the first, but its cells from the first used
                # column: put the empty columns back, so the column numbers are the grid's (as
                # to_python's).
                left = (sheet.start or (0, 0))[1]
                if left:
                    rows = ([""] * left + cells for cells in rows)
                height = (sheet.start or (0, 0))[0] + sheet.height
            search = header["search_rows"]
            first = list(islice(rows, search))
            table = Table(file_format, first, sheet.name, height=height)
            if sheet.height > search or any(any(present(c) for c in row) for row in first):
                found_any_cell = True
            if _locate_header(table, header):
                return _head_fields(table), _numbered(first, rows, table.header_index, damaged=True)
    except TableRefused:
        raise
    except Exception as exc:  # damaged sheet XML inside a sound zip
        raise refuse("file_corrupt") from exc
    if not found_any_cell:
        raise refuse("file_empty")
    raise refuse("header_not_found", header["missing_message"])


# --- calamine a part at a time: the first rows out while the rest is parsed ------------------------
# calamine gives no row before it has parsed the whole worksheet: 0.45-0.57 s of the 100,000-row
# benchmark sheet during which the caller had nothing to work on. `_SheetInParts` cuts the
# worksheet's XML after every `part_rows`-th row into workbooks of their own (the same other
# members, the sheet's head, those rows) and parses one at a time, so the first rows go out after
# ~0.1 s. Only where a part is cheap to make and means the same as in the whole sheet:
# - the members every part carries (shared strings, styles, …) are at most `PART_SHARED_MAX`: each
#   part parses them again (a sheet saved by Excel keeps its text in shared strings; five parts
#   of the benchmark sheet saved that way were no faster than the whole);
# - a cut is made only at a `</row>` followed by a `<row r="…">` and only where no comment,
#   CDATA or processing instruction comes before it (only there can `</row>` be other than the
#   end tag); past one, the rest is one part;
# - each part's cells must lie between its first row and the next part's first (rows written
#   out of order, or a cell placed in another row): the first part falls back to the whole sheet,
#   a later one is refused as the streaming reader refuses it (no writer we know of does that).
# Rows of different parts may differ in width (a part's grid is as wide as its own widest row):
# a missing cell is an empty one, as in a CSV line.
XLSX_IN_PARTS = True  # the parent's setting, sent to the child (tests compare with the whole)
PART_SHARED_MAX = 512 * 1024
_PART_READ = 1 << 20
_PART_WINDOW = 64 * 1024
_PART_NEXT_ROW = re.compile(rb'[ \t\r\n]*<row r="([0-9]{1,7})"')
_PART_DIMENSION = re.compile(rb'<dimension ref="[A-Z]{1,3}[0-9]{1,7}:[A-Z]{1,3}([0-9]{1,7})"')
ROWS_OUT_OF_ORDER = "文件内部结构异常（行的顺序错乱），请在 Excel 中重新保存后上传"


class _SheetInParts:
    """One worksheet of an .xlsx parsed by calamine a part at a time (see above). `sheet` is the
    current part's; `rows()` gives the rows from the grid's first, as `_workbook_stream` does."""

    def __init__(self, archive: zipfile.ZipFile, part: str, index: int, shared: list, part_rows: int):
        self.archive, self.part, self.index, self.shared = archive, part, index, shared
        self.part_rows = part_rows
        self.sheet = None
        self._source = archive.open(part)
        self._size = archive.getinfo(part).file_size
        self._buffer = bytearray()
        self._eof = False
        self._consumed = 0  # bytes of the worksheet in the parts made so far
        self._head = b""
        self._cutting = True
        self._first_row = 0  # the current part's first row (0-based), as its XML says
        self._next_row: int | None = None  # the next part's first row; None after the last part
        self._made = 0  # parts made so far

    @classmethod
    def open(cls, path: str, index: int, part_rows: int) -> _SheetInParts | None:
        """The sheet at calamine's `index` with its first part parsed, or None where it is read
        whole: shared members over PART_SHARED_MAX, a head not as writers write it, a first part
        whose cells stray from its rows or that calamine cannot read."""
        archive = zipfile.ZipFile(path)
        try:
            sheets, _1904 = _xlsx_sheets(archive)
            if index >= len(sheets) or sheets[index][1] not in archive.NameToInfo:
                raise LookupError
            worksheets = {part for _name, part, _visible in sheets}
            shared, size = [], 0
            for info in archive.infolist():
                if info.filename in worksheets or info.is_dir():
                    continue  # the other sheets are not read: calamine opens a sheet when asked
                size += info.file_size
                if size > PART_SHARED_MAX:
                    raise LookupError
                shared.append(info.filename)
            parts = cls(archive, sheets[index][1], index, [(n, archive.read(n)) for n in shared], part_rows)
            if parts._start():
                return parts
        except MemoryError:
            archive.close()
            raise
        except Exception:  # LookupError above, or a first part calamine refuses: the whole path says why
            pass
        archive.close()
        return None

    def _fill(self, wanted: int) -> None:
        """Read on until the buffer holds `wanted` bytes or the worksheet has ended."""
        while len(self._buffer) < wanted and not self._eof:
            block = self._source.read(_PART_READ)
            if block:
                self._buffer += block
            else:
                self._eof = True

    def _start(self) -> bool:
        buffer = self._buffer
        while (found := buffer.find(b"<sheetData>")) < 0 and not self._eof:
            self._fill(len(buffer) + _PART_READ)
        if found < 0:
            return False
        head = bytes(buffer[: found + len(b"<sheetData>")])
        if b"<worksheet" not in head or b"<!" in head:  # a prefixed root, or a comment in the head
            return False
        self._head = head
        self._consumed = len(head)
        del buffer[: len(head)]
        return self._next() and not self._strays()

    def _cut(self) -> int | None:
        """Where the current part's rows end in the buffer (the next part's first row in
        `_next_row`), or None for the last part."""
        at, wanted = 0, self.part_rows
        while self._cutting:
            at, missing = self._past_rows(at, wanted)
            if missing:
                return None  # the worksheet ends first
            self._fill(at + 64)
            following = _PART_NEXT_ROW.match(self._buffer, at)
            if following is None:
                wanted = 1  # the end of the rows, or a row without r: cut at a later one
                continue
            if not self._plain(at):
                self._cutting = False  # a comment, CDATA or instruction: the rest is one part
                return None
            self._next_row = int(following.group(1)) - 1
            return at
        return None

    def _plain(self, end: int) -> bool:
        """No comment, CDATA or processing instruction in the buffer before `end`. "!" and "?"
        are looked for first, one memchr each (cell text seldom has them): "<" comes every few
        bytes of XML, and a search for "<!" stops at each (0.06 s of the benchmark sheet)."""
        buffer = self._buffer
        return all(
            buffer.find(mark[1:], 0, end) < 0 or buffer.find(mark, 0, end) < 0 for mark in (b"<!", b"<?")
        )

    def _past_rows(self, at: int, wanted: int) -> tuple[int, int]:
        """The position just past the `wanted`-th `</row>` from `at` (reading on as needed), and
        0; or, where the worksheet ends first, the position past the last one and how many are
        missing. Whole windows are counted in C (one `find` per row was 0.19 s of the benchmark
        sheet); a window starts 5 bytes before the last one's end, so a tag across the edge is
        counted once, in the second."""
        buffer, start = self._buffer, at
        while True:
            stop = start + _PART_WINDOW
            if stop > len(buffer) and not self._eof:
                self._fill(stop)
                continue
            stop = min(stop, len(buffer))
            seen = buffer.count(b"</row>", start, stop)
            if seen >= wanted:
                for _ in range(wanted):
                    start = buffer.find(b"</row>", start, stop) + 6
                return start, 0
            if seen:
                at = buffer.rfind(b"</row>", start, stop) + 6
                wanted -= seen
            if stop == len(buffer) and self._eof:
                return at, wanted
            start = stop - 5

    def _next(self) -> bool:
        """Parse the next part into `sheet`; False when the sheet has no more."""
        if self._head is None:
            return False
        self._first_row = self._next_row if self._made else 0
        self._made += 1
        cut = self._cut()
        made = io.BytesIO()
        with zipfile.ZipFile(made, "w", zipfile.ZIP_STORED) as book:
            for name, data in self.shared:
                book.writestr(name, data)
            with book.open(self.part, "w") as sheet:
                sheet.write(self._head)
                if cut is not None:
                    with memoryview(self._buffer) as rows:
                        sheet.write(rows[:cut])
                    sheet.write(b"</sheetData></worksheet>")
                else:  # the last part: the rest of the worksheet as written
                    sheet.write(self._buffer)
                    while block := self._source.read(_PART_READ):
                        sheet.write(block)
                    self._eof = True
        if cut is not None:
            del self._buffer[:cut]
            self._consumed += cut
        else:
            self._buffer.clear()
            self._next_row = None
            self._head = None  # nothing after this part
        made.seek(0)
        self.sheet = _open_workbook(made).get_sheet_by_index(self.index)
        return True

    def _strays(self) -> bool:
        """Whether the current part has cells outside its own rows (rows written out of order,
        or a cell placed in another row)."""
        start, end = self.sheet.start, self.sheet.end
        if start is None:
            return False
        return start[0] < self._first_row or (self._next_row is not None and end[0] >= self._next_row)

    def height_estimate(self) -> int:
        """Rows in the sheet, for progress only: the last row `<dimension>` names where the head
        has one (writers keep it), else the first part's end scaled by its share of the XML."""
        end = (self.sheet.end or (0, 0))[0] + 1
        if self._head is None:
            return end
        named = _PART_DIMENSION.search(self._head)
        if named is not None:
            return max(end, int(named.group(1)))
        return max(end, end * self._size // max(self._consumed, 1))

    def rows(self, limits: Limits, part_done=None):
        """Every row from the grid's first, each part's cells from column A (blank rows where
        the XML has none, as calamine's grid has them); the next part parsed once this one's
        rows are out and `part_done()` has been called."""
        from itertools import islice

        done = 0
        try:
            while True:
                sheet = self.sheet
                if sheet.start is not None:
                    # iter_rows gives every row from the grid's first (blank up to the part's),
                    # its cells from the part's first used column, as for the whole sheet
                    top, left = sheet.start
                    rows = islice(sheet.iter_rows(), done, None)
                    yield from ([""] * left + cells for cells in rows) if left else rows
                    done = top + sheet.height
                self.sheet = None  # the part's grid goes before the next one is made
                if part_done is not None:
                    part_done()
                if not self._next():
                    return
                check_range(self.sheet.height, self.sheet.width, limits)
                if self._strays():
                    raise refuse("file_corrupt", ROWS_OUT_OF_ORDER)
        finally:
            self.archive.close()


# --- the streaming .xlsx reader: a worksheet of any height in bounded memory ----------------------
# calamine holds a whole worksheet: ~1.5 x the sheet's XML (67 MB at 100,000 rows, 514 MB at
# 1,000,000). Above this much XML (the worksheet and the shared strings, as the zip's central
# directory declares them: known before anything is inflated, and held to by `check_zip`'s bounded
# inflation) the child reads the sheet with expat instead, one buffer at a time. Below it calamine
# stays: it is ~4x faster. 64 MB is ~200,000 rows of the registration sheet (calamine ~130 MB).
STREAM_XLSX_ABOVE = 64 * 1024 * 1024
_STREAM_BUFFER = 256 * 1024
_XML_SPACE = " \t\r\n"
_EXCEL_EPOCH = None  # datetime(1899, 12, 30), made on first use (the child imports datetime late)
# A cell that holds something, for the first pass (the used range): its tag, written as every
# writer we know writes it (r first), then a formula, a value that is not empty or an inline
# string; or a formula's text result, even empty (`t="str"` with a <v>: calamine keeps "" there,
# as Excel writes `=IF(…,"",…)`). Its column and row from r. A chunk with any other cell tag (r
# later or missing, a namespace prefix) takes the exact pass. Attribute scans stop at the next
# "<" as well as ">" (no attribute holds a raw "<"): with `[^>]*` a hostile run of unclosed
# `<c r="A1" ` tags made the pass quadratic (9 s for 100 KB).
_FORMULA = rb"(?:<f\b[^<>]*/>|<f\b[^<>]*>[^<]*</f>)?"
_CONTENT_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})([0-9]{1,7})"(?:[^<>]*>' + _FORMULA + rb"(?:<v>[^<]|<is>)"
    rb'|[^<>]*\bt="str"[^<>]*>' + _FORMULA + rb"<v\b)"
)
_UNPLACED_CELL = re.compile(rb'<c(?=[\s/>])(?! r="[A-Z]{1,3}[0-9]{1,7}")')
_ESCAPED_CHAR = re.compile(r"_x([0-9A-Fa-f]{4})_")
_DATE_KINDS = {14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 47}


def _xlsx_streams(path: str) -> bool:
    """Whether `path` (a checked .xlsx) is read by the streaming reader rather than calamine."""
    with zipfile.ZipFile(path) as archive:
        size = sum(
            info.file_size
            for info in archive.infolist()
            if _is_worksheet(info.filename) or info.filename == "xl/sharedStrings.xml"
        )
    return size > STREAM_XLSX_ABOVE


def _expat(start=None, end=None, text=None):
    """An expat parser that refuses any DOCTYPE: no spreadsheet writer emits one, and without it
    no entity can be declared (no "billion laughs", no external entity). Element names without
    their namespace prefix (`x:c` is `c`)."""
    from xml.parsers import expat

    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def doctype(*_args):
        raise refuse(
            "file_corrupt", "文件内部结构异常（含有 DTD 声明），已拒收；请在 Excel 中另存为 .xlsx 后上传"
        )

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    if start:
        parser.StartElementHandler = start
    if end:
        parser.EndElementHandler = end
    if text:
        parser.CharacterDataHandler = text
    return parser


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _feed(parser, stream) -> None:
    """Parse a zip member through `parser`, a buffer at a time (its size bounded by check_zip)."""
    while piece := stream.read(_STREAM_BUFFER):
        parser.Parse(piece, False)
    parser.Parse(b"", True)


def _parse_part(archive, name: str, start) -> None:
    if name not in archive.NameToInfo:
        return
    with archive.open(name) as stream:
        _feed(_expat(start=start), stream)


def _xlsx_sheets(archive) -> tuple[list[tuple[str, str, bool]], bool]:
    """([(name, part, visible worksheet)], 1904 dates) from the workbook and its relationships,
    in the workbook's order (as calamine lists them)."""
    sheets, targets, flags = [], {}, {"1904": False}

    def book(name, attrs):
        name = _local(name)
        if name == "sheet":
            rid = next((v for k, v in attrs.items() if _local(k) == "id" and k != "sheetId"), "")
            sheets.append((attrs.get("name", ""), rid, attrs.get("state", "visible")))
        elif name == "workbookPr":
            flags["1904"] = attrs.get("date1904", "").lower() in ("1", "true")

    def rels(name, attrs):
        if _local(name) == "Relationship":
            targets[attrs.get("Id", "")] = (attrs.get("Target", ""), attrs.get("Type", ""))

    _parse_part(archive, "xl/workbook.xml", book)
    _parse_part(archive, "xl/_rels/workbook.xml.rels", rels)
    listed = []
    for name, rid, state in sheets:
        target, kind = targets.get(rid, ("", ""))
        part = target.lstrip("/") if target.startswith("/") else "xl/" + target
        worksheet = kind.endswith("/worksheet")
        listed.append((name, os.path.normpath(part).replace(os.sep, "/"), worksheet and state == "visible"))
    return listed, flags["1904"]


def _xlsx_styles(archive) -> list[int]:
    """Per cell style (`s`): 0 a number, 1 a date or time, 2 a duration; calamine's rules
    (its builtin date formats, and a custom format read as a date if its first section has
    d, m, h, y or s outside quotes and brackets, a duration if it has [h], [m] or [s])."""
    formats: dict[int, int] = {}
    kinds: list[int] = []
    depth = {"cellXfs": False}

    def start(name, attrs):
        name = _local(name)
        if name == "numFmt":
            number = attrs.get("numFmtId", "")
            if number.isdigit():
                formats[int(number)] = _format_kind(attrs.get("formatCode", ""))
        elif name == "cellXfs":
            depth["cellXfs"] = True
        elif name == "xf" and depth["cellXfs"]:
            try:
                number = int(attrs.get("numFmtId", "0"))
            except ValueError:
                number = 0
            kinds.append(formats.get(number, 1 if number in _DATE_KINDS else 2 if number == 46 else 0))

    def end(name):
        if _local(name) == "cellXfs":
            depth["cellXfs"] = False

    if "xl/styles.xml" in archive.NameToInfo:
        with archive.open("xl/styles.xml") as stream:
            _feed(_expat(start=start, end=end), stream)
    return kinds


def _format_kind(code: str) -> int:
    """calamine's `detect_custom_number_format`: 1 date/time, 2 duration, 0 neither."""
    escaped = quoted = ampm = hms = False
    brackets = 0
    previous = " "
    for char in code:
        if escaped:
            escaped = False
        elif char in "_\\*":
            escaped = True
        elif quoted:
            quoted = char != '"'
        elif char == '"':
            quoted = True
        elif char == ";":
            return 0
        elif char == "[":
            brackets += 1
        elif char == "]" and brackets == 1 and hms:
            return 2
        elif char == "]":
            brackets = max(brackets - 1, 0)
        elif char in "aA" and not ampm and brackets == 0:
            ampm = True
        elif brackets == 0 and (char in "pm/PM" if ampm else char in "dmhysDMHYS"):
            return 1
        elif not (hms and char.lower() == previous.lower()):
            hms = previous == "[" and char in "mhsMHS"
        previous = char
    return 0


class _SharedStrings:
    """The shared strings, compact: one UTF-8 buffer and an array of end offsets (a str object
    costs ~60 bytes more than its text: 2,000,000 strings would be ~150 MB as a list)."""

    def __init__(self, archive):
        from array import array

        self.blob = bytearray()
        self.ends = array("I", [0])
        parts: list[str] = []
        state = {"in_t": 0, "phonetic": 0, "preserve": False, "text": []}

        def start(name, attrs):
            name = _local(name)
            if name == "t" and not state["phonetic"]:
                state["in_t"] = 1
                state["preserve"] = attrs.get("xml:space") == "preserve"
                state["text"] = []
            elif name == "rPh":
                state["phonetic"] += 1

        def text(data):
            if state["in_t"]:
                state["text"].append(data)

        def end(name):
            name = _local(name)
            if name == "t" and state["in_t"]:
                state["in_t"] = 0
                value = "".join(state["text"])
                parts.append(value if state["preserve"] else value.strip(_XML_SPACE))
            elif name == "rPh":
                state["phonetic"] -= 1
            elif name == "si":
                value = "".join(parts)
                parts.clear()
                if "_x" in value:
                    value = _unescape_x(value)
                self.blob += value.encode("utf-8", "surrogatepass")
                self.ends.append(len(self.blob))

        if "xl/sharedStrings.xml" in archive.NameToInfo:
            with archive.open("xl/sharedStrings.xml") as stream:
                _feed(_expat(start=start, end=end, text=text), stream)

    def __getitem__(self, index: int) -> str:
        ends = self.ends
        if not 0 <= index < len(ends) - 1:
            raise refuse("file_corrupt")
        return self.blob[ends[index] : ends[index + 1]].decode("utf-8", "surrogatepass")


def _unescape_x(value: str) -> str:
    return _ESCAPED_CHAR.sub(lambda m: chr(int(m.group(1), 16)), value)


def _sheet_extent(archive, part: str, **cells) -> tuple[int, int, int, int] | None:
    """The used range (first row, last row, first column, last column; 0-based) of a worksheet,
    from the cells that hold something, by one regex pass over the inflated XML (no Python object
    per cell). None when no cell holds anything. A sheet with a cell tag the regex cannot place
    is read by the exact pass instead (`cells`: `_sheet_rows`'s arguments)."""
    first_row = last_row = first_col = last_col = -1
    carry = b""
    with archive.open(part) as stream:
        while True:
            piece = stream.read(_SCAN_CHUNK)
            buffer = carry + piece
            if piece:
                cut = max(buffer.rfind(b"<c "), buffer.rfind(b":c "))
                carry = buffer[cut:] if cut != -1 and len(buffer) - cut < _MAX_OPEN_TAG else b""
                buffer = buffer[: len(buffer) - len(carry)]
            if _UNPLACED_CELL.search(buffer) or _PREFIXED_CELL.search(buffer):
                return _exact_extent(archive, part, **cells)
            found = _CONTENT_CELL.findall(buffer)
            if found:
                columns, rows = zip(*found, strict=True)
                numbers = [int(r) for r in set(rows)]
                letters = [_column_number(c) for c in set(columns)]
                if first_row == -1:
                    first_row, first_col = min(numbers), min(letters)
                first_row, last_row = min(first_row, *numbers), max(last_row, *numbers)
                first_col, last_col = min(first_col, *letters), max(last_col, *letters)
            if not piece:
                break
    if last_row == -1:
        return None
    return first_row - 1, last_row - 1, first_col - 1, last_col - 1


def _exact_extent(archive, part: str, **cells) -> tuple[int, int, int, int] | None:
    top = bottom = left = right = -1
    for index, row in enumerate(_sheet_rows(archive, part, width=0, fill=None, **cells)):
        used = [col for col, value in enumerate(row) if value is not None]
        if used:
            top = index if top == -1 else top
            bottom = index
            left = min(used) if left == -1 else min(left, min(used))
            right = max(right, max(used))
    return None if top == -1 else (top, bottom, left, right)


def _excel_date(value: float, kind: int, is_1904: bool):
    """A serial as python-calamine gives it: a duration as timedelta; a date-time serial below 1
    as a time, a whole one as a date, else a datetime (to the millisecond, rounded half away from
    zero); the 1900 leap-year bug mirrored (serials below 60 shifted a day)."""
    import math
    from datetime import datetime, timedelta

    global _EXCEL_EPOCH
    if _EXCEL_EPOCH is None:
        _EXCEL_EPOCH = datetime(1899, 12, 30)
    try:
        if kind == 2:
            return timedelta(milliseconds=_round_half_away(value * 86_400_000))
        shifted = value + 1462 if is_1904 else value
        if shifted < 60:
            shifted += 1
        moment = _EXCEL_EPOCH + timedelta(milliseconds=_round_half_away(shifted * 86_400_000))
    except (OverflowError, ValueError):
        return value
    if value < 1.0:
        return moment.time()
    if math.isfinite(value) and value == float(int(value)):
        return moment.date()
    return moment


def _round_half_away(value: float) -> int:
    import math

    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _number(text: str):
    """A value as Rust's f64 parse reads it (Python's float() also takes spaces and "1_0")."""
    if not text or not text.isascii() or text[0] in _XML_SPACE or text[-1] in _XML_SPACE or "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _iso_date(text: str):
    from datetime import date, datetime

    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        return text


def _sheet_rows(archive, part: str, *, width: int, strings, styles: list[int], is_1904: bool, fill=""):
    """The rows of a worksheet from the first (0) on, each a list of `width` cells (at least) as
    calamine's grid has them: `fill` ("") for nothing; blank rows for the rows the XML skips. Rows
    come a buffer's worth at a time; a row written before an earlier one is refused as damaged
    (calamine would sort it in; no writer we know of does that)."""
    reader = _SheetReader(width=width, strings=strings, styles=styles, is_1904=is_1904, fill=fill)
    parser = _expat(start=reader.start, end=reader.end, text=reader.chars)
    done = reader.done
    with archive.open(part) as stream:
        while piece := stream.read(_STREAM_BUFFER):
            parser.Parse(piece, False)
            yield from done
            done.clear()
        parser.Parse(b"", True)
    if reader.cells is not None:
        done.append(reader.cells)
    yield from done


_CELL_REFERENCE = re.compile(r"([A-Z]{1,3})([0-9]{1,7})\Z")


class _LocalNames(dict):
    """Element name as written -> its local name, made once per name."""

    def __missing__(self, name: str) -> str:
        self[name] = local = _local(name)
        return local


class _SheetReader:
    """expat's handlers for one worksheet: cells as python-calamine converts them."""

    def __init__(self, *, width: int, strings, styles: list[int], is_1904: bool, fill):
        self.width, self.strings, self.styles, self.is_1904, self.fill = width, strings, styles, is_1904, fill
        self.done: list[list] = []
        self.row, self.col, self.cells = -1, -1, None
        self.kind, self.style, self.raw = "n", 0, None
        self.inline: list[str] | None = None  # the <is> runs of the current cell
        self.text: list[str] = []
        self.reading = 0  # 1 inside <v>, 2 inside an inline <t>
        self.preserve = False
        self.phonetic = 0
        self.names = _LocalNames()
        self.columns: dict[str, int] = {}  # "AB" -> 27, for the references seen
        self.row_digits = ""  # the current row as its references end (1-based)
        self.convert = {
            "n": self._number,
            "s": self._shared,
            "str": lambda raw: raw,  # no <v>: nothing (calamine's Empty)
            "b": self._boolean,
            "e": lambda raw: None if raw is None else "",
            "d": lambda raw: _iso_date(raw) if raw else None,
            "inlineStr": lambda raw: None,
        }

    def start(self, name, attrs):
        local = self.names[name]
        if local == "c":
            ref = attrs.get("r")
            if ref:
                self._place(ref)
            else:
                self.col += 1
            self.kind = attrs.get("t", "n")
            style = attrs.get("s")
            self.style = int(style) if style else 0
            self.raw = self.inline = None
        elif local == "v":
            self.reading = 1
            self.text.clear()
        elif local == "row":
            ref = attrs.get("r")
            self._open(int(ref) - 1 if ref else self.row + 1)
            self.col = -1
        elif local == "is":
            self.inline = []
        elif local == "t" and self.inline is not None and not self.reading and not self.phonetic:
            self.reading = 2
            self.preserve = attrs.get("xml:space") == "preserve"
            self.text.clear()
        elif local == "rPh":
            self.phonetic += 1

    def _place(self, ref: str) -> None:
        digits = self.row_digits
        if ref.endswith(digits):  # a cell of the current row, in a column seen before
            col = self.columns.get(ref[: len(ref) - len(digits)])
            if col is not None:
                self.col = col
                return
        match = _CELL_REFERENCE.match(ref)
        if match is None:
            raise refuse("file_corrupt")
        letters, row = match.group(1), int(match.group(2)) - 1
        self.col = self.columns.setdefault(letters, _column_number(letters.encode()) - 1)
        if row != self.row:
            self._open(row)

    def _open(self, row: int) -> None:
        if row == self.row and self.cells is not None:
            return  # the same row written twice: calamine merges its cells
        if row < self.row:
            raise refuse("file_corrupt", ROWS_OUT_OF_ORDER)
        if self.cells is not None:
            self.done.append(self.cells)
        for _ in range(self.row + 1, row):
            self.done.append([self.fill] * self.width)
        self.row = row
        self.row_digits = str(row + 1)
        self.cells = [self.fill] * self.width

    def chars(self, data):
        if self.reading:
            self.text.append(data)

    def end(self, name):
        local = self.names[name]
        if local == "c":
            self._store()
        elif local == "v" and self.reading == 1:
            self.reading = 0
            self.raw = "".join(self.text)
        elif local == "t" and self.reading == 2:
            self.reading = 0
            value = "".join(self.text)
            self.inline.append(value if self.preserve else value.strip(_XML_SPACE))
        elif local == "rPh":
            self.phonetic -= 1

    def _store(self) -> None:
        if self.inline is not None:
            value = "".join(self.inline)
            value = _unescape_x(value) if "_x" in value else value
        else:
            convert = self.convert.get(self.kind)
            if convert is None:
                raise refuse("file_corrupt")
            value = convert(self.raw)
            if value is None:
                return
        if self.cells is None:
            self._open(max(self.row, 0))
        cells, col = self.cells, self.col
        if col >= len(cells):
            cells.extend([self.fill] * (col + 1 - len(cells)))
        cells[col] = value

    def _number(self, raw):
        if not raw:
            return None
        number = _number(raw)
        if number is None:
            return raw
        style = self.style
        kind = self.styles[style] if style < len(self.styles) else 0
        return _excel_date(number, kind, self.is_1904) if kind else number

    def _shared(self, raw):
        if raw is None:
            return None
        try:
            return self.strings[int(raw)]
        except ValueError as exc:
            raise refuse("file_corrupt") from exc

    @staticmethod
    def _boolean(raw):
        if not raw:
            return None
        if raw in ("1", "true"):
            return True
        if raw in ("0", "false"):
            return False
        raise refuse("file_corrupt")


def _xlsx_stream(path: str, *, limits: Limits, header: dict):
    """`_workbook_stream`'s streaming twin: the same head fields and the same (index, cells), for
    a worksheet calamine would hold whole. Two passes over each sheet read: the used range first
    (calamine's rows are as wide as the widest row, which the first row cannot tell), then the
    cells."""
    from itertools import islice
    from xml.parsers.expat import ExpatError

    archive = zipfile.ZipFile(path)
    found_any_cell = False
    try:
        sheets, is_1904 = _xlsx_sheets(archive)
        visible = [entry for entry in sheets if entry[2]] or sheets
        strings = styles = None
        for name, part, _visible in visible:
            if part not in archive.NameToInfo:
                raise refuse("file_corrupt")
            if strings is None:
                strings, styles = _SharedStrings(archive), _xlsx_styles(archive)
            cells = {"strings": strings, "styles": styles, "is_1904": is_1904}
            extent = _sheet_extent(archive, part, **cells)
            top, bottom, left, right = extent or (0, -1, 0, -1)
            height, width = bottom - top + 1, right - left + 1
            check_range(height, width, limits)
            rows = _sheet_rows(archive, part, width=right + 1, **cells)
            search = header["search_rows"]
            first = list(islice(rows, search))
            table = Table("xlsx", first, name, height=bottom + 1 if extent else 0)
            if height > search or any(any(present(c) for c in row) for row in first):
                found_any_cell = True
            if _locate_header(table, header):
                return _head_fields(table), _numbered(first, rows, table.header_index, damaged=True)
            rows.close()
    except TableRefused:
        raise
    except (ExpatError, zipfile.BadZipFile, zlib.error, KeyError, ValueError, OSError, EOFError) as exc:
        raise refuse("file_corrupt") from exc
    if not found_any_cell:
        raise refuse("file_empty")
    raise refuse("header_not_found", header["missing_message"])


def _head_fields(table: Table) -> dict:
    fields = dict(table.__dict__)
    fields["rows"] = table.rows[: table.header_index + 1]  # the preamble, header included
    return fields


def _numbered(first: list, rest, header_index: int, *, damaged: bool):
    index = header_index
    for cells in first[header_index + 1 :]:
        index += 1
        yield index, cells
    try:
        for cells in rest:
            index += 1
            yield index, cells
    except TableRefused:
        raise
    except csv.Error as exc:
        raise refuse("file_corrupt", f"CSV 文件格式有误：{exc}") from exc
    except UnicodeDecodeError as exc:
        raise refuse(
            "file_not_spreadsheet", "无法识别文件的文字编码（CSV 请用 UTF-8 或 GBK 保存），或文件不是电子表格"
        ) from exc
    except Exception as exc:
        if not damaged:
            raise
        raise refuse("file_corrupt") from exc


def _text_encoding(path: str) -> str:
    """The CSV's encoding, decided as `decode_text` decides it, reading the file in pieces."""
    import codecs

    with open(path, "rb") as handle:
        head = handle.read(4096)
        if head.startswith(b"\xef\xbb\xbf"):
            return "utf-8-sig"
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            return "utf-16"
        if b"\x00" in head:
            raise refuse("file_not_spreadsheet")
        for encoding in ("utf-8", "gb18030"):
            handle.seek(0)
            decoder = codecs.getincrementaldecoder(encoding)()
            try:
                while piece := handle.read(1024 * 1024):
                    decoder.decode(piece)
                decoder.decode(b"", final=True)
                return encoding
            except UnicodeDecodeError:
                continue
    raise refuse(
        "file_not_spreadsheet", "无法识别文件的文字编码（CSV 请用 UTF-8 或 GBK 保存），或文件不是电子表格"
    )


def _line_count(path: str) -> int:
    lines = 0
    with open(path, "rb") as handle:
        while piece := handle.read(4 * 1024 * 1024):
            lines += piece.count(b"\n")
    return lines


def _fixed_rows(path: str, encoding: str, widths: list, limits: Limits):
    """The lines of a fixed-width file cut at byte spans, each cell decoded and stripped."""
    check_range(1, len(widths), limits)
    spans = [slice(a, b) for a, b in widths]
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    with open(path, "rb") as handle:
        first = True
        for line in handle:
            if first and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            first = False
            line = line.rstrip(b"\r\n")
            yield [line[span].decode(codec, errors="replace").strip() for span in spans]


def _csv_stream(path: str, *, limits: Limits, header: dict, layout: dict | None = None):
    from itertools import islice

    encoding = _text_encoding(path)
    errors = "replace" if encoding == "utf-8-sig" else "strict"
    text = open(path, encoding=encoding, errors=errors, newline="")  # noqa: SIM115 - the generator reads it
    start = text.read(4096)
    head = start.lstrip()[:200].lower()
    if head.startswith(("<html", "<!doctype", "<?xml", "<table")):
        raise refuse(
            "file_not_spreadsheet", "上传的文件是网页或 XML，不是电子表格；请在 Excel 中另存为 .xlsx"
        )
    first_line = start.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    text.seek(0)
    layout = layout or {}
    if layout.get("widths"):
        text.close()
        reader = _fixed_rows(path, encoding, layout["widths"], limits)
    else:
        reader = csv.reader(text, delimiter=layout.get("delimiter") or delimiter)
    width = 0

    def rows():
        nonlocal width
        for row in reader:
            if len(row) > width:
                width = len(row)
                check_range(1, width, limits)
            yield row

    numbered = rows()
    try:
        first = list(islice(numbered, header["search_rows"]))
    except csv.Error as exc:
        raise refuse("file_corrupt", f"CSV 文件格式有误：{exc}") from exc
    table = Table("csv", first, "", "gbk" if encoding == "gb18030" else encoding, height=_line_count(path))
    if header.get("positional"):
        return _positional(table, first, numbered, header, layout.get("skip_lines", 0))
    if not any(any(present(c) for c in row) for row in first):
        # nothing in the first rows: empty if nothing anywhere, else no header where we look
        if not any(any(present(c) for c in row) for row in numbered):
            raise refuse("file_empty", "文件里没有任何内容")
        raise refuse("header_not_found", header["missing_message"])
    if not _locate_header(table, header):
        raise refuse("header_not_found", header["missing_message"])
    return _head_fields(table), _numbered(first, numbered, table.header_index, damaged=False)


def _positional(table: Table, first: list, numbered, header: dict, skip: int):
    """A headerless text file: the columns are the layout's order; data from line `skip` on."""
    if len(first) < header["search_rows"] and not any(any(present(c) for c in row) for row in first[skip:]):
        raise refuse("file_empty", "文件里没有任何内容")  # the whole file was read into `first`
    table.columns = {name: col for col, name in enumerate(header["positional"]) if name}
    table.header_index = skip - 1
    return _head_fields(table), _numbered(first, numbered, table.header_index, damaged=False)


def _peak_mb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return 0


if __name__ == "__main__":
    _child_main()
