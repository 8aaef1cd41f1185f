"""Limits for uploaded files, safe reading of zip archives, and a time budget per upload.

An upload is bounded before anything parses it: its size in bytes; for a zip archive every name
(no absolute paths, no ``..``, no links), the number of members, the total uncompressed size and
the compression ratio (a zip bomb expands a few kilobytes into gigabytes); the number of columns
(from the header rows), rows and cells, workbook sheets looked at, features and vertices of
vector files (from their headers or metadata) and the nesting depth of JSON (by a scan before
parsing). Each limit is checked before the work it bounds, so a file past one is refused at
once, in one sentence that names the limit and the file. A deadline (:func:`time_budget`),
checked between stages and blocks of work, stops whatever the limits did not foresee. Nothing
from an upload is ever evaluated or unpickled.

Limits (see the constants below): bytes 20 MB for a registry, 100 MB for township boundaries;
unzipped 300 MB, 500 members, ratio 200:1; 500 columns; 200,000 rows; 5,000,000 cells;
20 sheets looked at, 16 MB of sheets that do not state their size; JSON nesting 64 levels;
site files 200,000 features and 2,000,000 vertices; boundary files 5,000 features and
3,000,000 vertices; 60 s for a registry, 120 s for boundaries.
"""

from __future__ import annotations

import contextlib
import io
import lzma
import stat
import time
import zipfile
import zlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from base.errors import InputError

MAX_UPLOAD_BYTES = 20 * 2**20  # a registry or a zipped boundary file as uploaded
MAX_BOUNDARY_BYTES = 100 * 2**20  # official township polygons can be detailed
MAX_UNZIPPED_BYTES = 300 * 2**20  # all members of one archive, uncompressed
MAX_ZIP_MEMBERS = 500
MAX_ZIP_RATIO = 200  # uncompressed / compressed: for each member above MIN_RATIO_CHECK, and for
MIN_RATIO_CHECK = 2 * 2**20  # the smaller members together once they pass MIN_RATIO_CHECK
MAX_COLUMNS = 500  # a registry has a few dozen; each column costs work on every row
MAX_ROWS = 200_000  # rows of a registry (CSV, XLSX, features of a vector file)
MAX_CELLS = 5_000_000  # rows x columns of one table (200,000 rows of 25): ~60 bytes each in memory
MAX_SHEETS_READ = 20  # workbook sheets looked at for a header when no sheet is named
# XML of workbook sheets that do not state their size (<dimension>; Excel and WPS always do):
# openpyxl parses each of them whole as it opens the workbook (about 4 MB/s), before any check.
MAX_UNSIZED_SHEET_BYTES = 16 * 2**20
# Shared texts of a workbook: openpyxl parses all of them as it opens it (about 1.5 MB/s, with
# ~200 bytes of memory per text), whether a cell uses them or not. A workbook holds at most as
# many as its cells; each cell takes at least MIN_CELL_XML bytes of sheet XML.
MAX_SHARED_STRINGS = MAX_CELLS
MAX_SHARED_STRINGS_BYTES = 64 * 2**20
MIN_CELL_XML = 16
MAX_JSON_DEPTH = 64  # GeoJSON needs 8 (a MultiPolygon in a FeatureCollection); Python's parser
#                      and everything that walks the result recurse once per level
_ZIP_CHUNK = 2**20  # members are verified in pieces of this size (their CRC at the end)


@dataclass(frozen=True)
class Limits:
    """What reading one upload may cost: its bytes, the features and vertices of a vector file
    (counted from its headers or metadata before the geometry is built), and seconds."""

    what: tuple[str, str]  # the kind of file, in Chinese and English, for messages
    bytes: int
    features: int
    vertices: int
    seconds: float


# A registry of sites is points (a few vertices each at most); township boundaries are detailed
# polygons of about 80 townships (a whole province's townships fit, a national file does not).
SITE_LIMITS = Limits(
    what=("站点名录", "site registry"),
    bytes=MAX_UPLOAD_BYTES,
    features=MAX_ROWS,
    vertices=2_000_000,
    seconds=60,
)
BOUNDARY_LIMITS = Limits(
    what=("乡镇界线文件", "boundary file"),
    bytes=MAX_BOUNDARY_BYTES,
    features=5_000,
    vertices=3_000_000,
    seconds=120,
)


def check_size(size: int, name: str, *, limit: int = MAX_UPLOAD_BYTES) -> None:
    """Refuse a file larger than ``limit`` with a message saying both sizes."""
    if size > limit:
        raise InputError(
            f"{name}: the file is {size / 2**20:.1f} MB, larger than the {limit // 2**20} MB "
            "limit. Split it, or remove columns and rows that are not needed.",
            zh=f"{name}: 文件大小 {size / 2**20:.1f} MB, 超过 {limit // 2**20} MB 的上限。"
            "请拆分文件, 或删去不需要的列和行。",
        )


def check_columns(count: int, name: str, *, row: int | None = None) -> None:
    """Refuse a table with more than :data:`MAX_COLUMNS` columns (counted in ``row``)."""
    if count > MAX_COLUMNS:
        at_en, at_zh = (f" in row {row}", f"(第 {row} 行)") if row else ("", "")
        raise InputError(
            f"{name}: {count:,} columns{at_en}, more than the limit of {MAX_COLUMNS} columns. "
            "Delete the columns that are not needed.",
            zh=f"{name}: 共 {count:,} 列{at_zh}, 超过 {MAX_COLUMNS} 列的上限。请删去不需要的列。",
        )


def check_cells(count: int, name: str) -> None:
    """Refuse a table of more than :data:`MAX_CELLS` cells (rows × columns; counted as it is
    read, or from a header)."""
    if count > MAX_CELLS:
        raise InputError(
            f"{name}: more than the limit of {MAX_CELLS:,} cells (rows × columns) in one table. "
            "Split the file, or remove the columns that are not needed.",
            zh=f"{name}: 单个表格超过 {MAX_CELLS:,} 个单元格(行数 × 列数)的上限。"
            "请拆分文件, 或删去不需要的列。",
        )


def check_rows(count: int, name: str) -> None:
    """Refuse a table with more than :data:`MAX_ROWS` rows (checked while the rows are read)."""
    if count > MAX_ROWS:
        raise InputError(
            f"{name}: more than the limit of {MAX_ROWS:,} rows. Split the file.",
            zh=f"{name}: 超过 {MAX_ROWS:,} 行的上限。请拆分文件。",
        )


def check_features(count: int, name: str, *, limits: Limits, at_least: bool = False) -> None:
    """Refuse a vector file with more features than ``limits`` allow (``at_least``: counting
    stopped past the limit, ``count`` is a lower bound)."""
    if count > limits.features:
        zh_kind, en_kind = limits.what
        more = ("至少 ", "at least ") if at_least else ("", "")
        raise InputError(
            f"{name}: {more[1]}{count:,} features, more than the limit of {limits.features:,} "
            f"for a {en_kind}. Keep only the features of Xining.",
            zh=f"{name}: 共 {more[0]}{count:,} 个要素, 超过{zh_kind} {limits.features:,} 个要素"
            "的上限。请只保留西宁市范围内的要素。",
        )


def check_vertices(count: int, name: str, *, limits: Limits) -> None:
    """Refuse a vector file with more vertices (coordinate pairs) than ``limits`` allow."""
    if count > limits.vertices:
        zh_kind, en_kind = limits.what
        raise InputError(
            f"{name}: {count:,} vertices, more than the limit of {limits.vertices:,} for a "
            f"{en_kind}. Simplify the geometry (e.g. to 1 m) before uploading it.",
            zh=f"{name}: 共 {count:,} 个节点, 超过{zh_kind} {limits.vertices:,} 个节点的上限。"
            "请先简化图形(例如容差 1 米)再上传。",
        )


def check_depth(depth: int, name: str) -> None:
    """Refuse JSON nested deeper than :data:`MAX_JSON_DEPTH` levels."""
    if depth > MAX_JSON_DEPTH:
        raise InputError(
            f"{name}: the JSON is nested {depth:,} levels deep, more than the limit of "
            f"{MAX_JSON_DEPTH} levels; it is not GeoJSON an office would write.",
            zh=f"{name}: JSON 嵌套 {depth:,} 层, 超过 {MAX_JSON_DEPTH} 层的上限, "
            "不是正常的 GeoJSON 文件。",
        )


# --- time budget ------------------------------------------------------------------------------

# (deadline on the monotonic clock, file name, seconds) of the upload being read in this thread
# or task; None outside an upload. A context variable: Streamlit reads uploads in threads.
_BUDGET: ContextVar[tuple[float, str, float] | None] = ContextVar("upload_budget", default=None)


@contextlib.contextmanager
def time_budget(name: str, *, seconds: float) -> Iterator[None]:
    """Give the reading of upload ``name`` ``seconds``: :func:`check_time` raises once they are
    spent. A budget inside another one (validation inside reading) shares the outer deadline."""
    if _BUDGET.get() is not None:
        yield
        return
    token = _BUDGET.set((time.monotonic() + seconds, name, seconds))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def check_time() -> None:
    """Raise :class:`InputError` when the upload being read is past its time budget (called
    between stages and every few thousand rows; nothing happens outside a budget)."""
    budget = _BUDGET.get()
    if budget is not None and time.monotonic() > budget[0]:
        _deadline, name, seconds = budget
        raise InputError(
            f"{name}: reading it took longer than the limit of {seconds:.0f} s and was stopped. "
            "Split the file or remove what is not needed.",
            zh=f"{name}: 读取超过 {seconds:.0f} 秒的时间上限, 已停止。"
            "请拆分文件或删去不需要的内容。",
        )


# --- zip archives ---------------------------------------------------------------------------


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name, re-decoded from GBK when the archive did not mark it as UTF-8."""
    name = info.filename
    if not info.flag_bits & 0x800:
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("gb18030")
    return name


def _unsafe_reason(name: str, info: zipfile.ZipInfo) -> tuple[str, str] | None:
    """Why a member may not be extracted, in English and Chinese (None: it may)."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return "an absolute path", "是绝对路径"
    if ".." in posix.parts:
        return "a path that climbs out of the folder ('..')", "的路径跳出了文件夹(“..”)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link", "是符号链接"
    return None


def _check_ratio(size: int, packed: int, name: str, what: tuple[str, str]) -> None:
    """Refuse ``size`` bytes packed into ``packed`` beyond :data:`MAX_ZIP_RATIO` (a zip bomb)."""
    if size > MAX_ZIP_RATIO * max(packed, 1):
        raise InputError(
            f"{name}: refused, {what[1]} expands {packed:,} bytes to {size:,}, more than the "
            f"limit of {MAX_ZIP_RATIO}:1 (a zip bomb?).",
            zh=f"{name}: 已拒绝, {what[0]}从 {packed:,} 字节解压为 {size:,} 字节, 超过 "
            f"{MAX_ZIP_RATIO}:1 的压缩比上限(疑似压缩炸弹)。",
        )


def _check_listing(infos: list[zipfile.ZipInfo], name: str, *, max_total: int) -> None:
    """Member names, count, total size and compression ratios, from the directory alone.

    Each member above :data:`MIN_RATIO_CHECK` is checked on its own; the smaller ones (a
    shapefile's .dbf of blank padding can pack 500:1) together, once they add up to more.
    """
    if len(infos) > MAX_ZIP_MEMBERS:
        raise InputError(
            f"{name}: the archive holds {len(infos)} files; at most {MAX_ZIP_MEMBERS} "
            "are accepted.",
            zh=f"{name}: 压缩包内有 {len(infos)} 个文件, 最多接受 {MAX_ZIP_MEMBERS} 个。",
        )
    total = small = small_packed = 0
    for info in infos:
        member = _member_name(info)
        reason = _unsafe_reason(member, info)
        if reason:
            raise InputError(
                f"{name}: refused, member '{member}' has {reason[0]}; nothing was extracted.",
                zh=f"{name}: 已拒绝, 成员“{member}”{reason[1]}, 未解压任何内容。",
            )
        total += info.file_size
        if info.file_size > MIN_RATIO_CHECK:
            _check_ratio(
                info.file_size, info.compress_size, name, (f"“{member}”", f"member '{member}'")
            )
        else:
            small += info.file_size
            small_packed += info.compress_size
    if small > MIN_RATIO_CHECK:
        together = ("其中较小的文件合计", "its smaller members together")
        _check_ratio(small, small_packed, name, together)
    if total > max_total:
        raise InputError(
            f"{name}: refused, the archive expands to {total / 2**20:.0f} MB; at most "
            f"{max_total // 2**20} MB are accepted.",
            zh=f"{name}: 已拒绝, 压缩包解压后为 {total / 2**20:.0f} MB, 最多接受 "
            f"{max_total // 2**20} MB。",
        )


def _skipped(member: str, info: zipfile.ZipInfo) -> bool:
    """Folders and the litter of macOS and Windows (``__MACOSX``, ``._x``, ``.DS_Store``)."""
    parts = PurePosixPath(member).parts
    return (
        info.is_dir()
        or "__MACOSX" in parts
        or parts[-1].startswith("._")
        or parts[-1] in (".DS_Store", "Thumbs.db")
    )


def _member_bytes(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, member: str, *, keep: bool
) -> bytes:
    """A member's content (b"" unless ``keep``), read in pieces up to its declared size + 1
    byte: one that lies about its size cannot expand further than the checks allowed, and
    zipfile checks its CRC at the end. A damaged member is one sentence, never a traceback."""
    pieces, size = [], 0
    try:
        with archive.open(info) as handle:
            while piece := handle.read(min(_ZIP_CHUNK, info.file_size + 1 - size)):
                size += len(piece)
                if size > info.file_size:
                    raise InputError(
                        f"{name}: member '{member}' is larger than it declares.",
                        zh=f"{name}: 成员“{member}”比它声明的大小更大。",
                    )
                if keep:
                    pieces.append(piece)
    except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError) as exc:
        raise InputError(
            f"{name}: member '{member}' is damaged ({exc}); make the archive again.",
            zh=f"{name}: 成员“{member}”已损坏({exc}), 请重新压缩。",
        ) from exc
    except NotImplementedError as exc:  # a compression method zipfile does not have
        raise InputError(
            f"{name}: member '{member}' is packed in a way that cannot be read ({exc}); "
            "make the archive again with ordinary zip (deflate).",
            zh=f"{name}: 成员“{member}”的压缩方式无法读取({exc}), 请用普通 zip 格式重新压缩。",
        ) from exc
    return b"".join(pieces)


def _walk_zip(data: bytes, name: str, *, max_total: int, keep: bool) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise InputError(
            f"{name}: not a readable zip archive ({exc}).",
            zh=f"{name}: 不是可读取的 zip 压缩包({exc})。",
        ) from exc
    with archive:
        infos = archive.infolist()
        _check_listing(infos, name, max_total=max_total)
        out: dict[str, bytes] = {}
        for info in infos:
            member = _member_name(info).replace("\\", "/")
            if _skipped(member, info):
                continue
            if info.flag_bits & 0x1:
                raise InputError(
                    f"{name}: the archive is password-protected.",
                    zh=f"{name}: 压缩包有密码保护。",
                )
            out[member] = _member_bytes(archive, info, name, member, keep=keep)
            check_time()
        return out


def read_zip(data: bytes, name: str, *, max_total: int = MAX_UNZIPPED_BYTES) -> dict[str, bytes]:
    """The files of a zip archive as ``{member path: bytes}``, after the safety checks.

    Folders, ``__MACOSX`` entries and ``.DS_Store`` are skipped. Raises :class:`InputError`
    naming the first member that is unsafe or damaged, or the limit that was exceeded.
    """
    return _walk_zip(data, name, max_total=max_total, keep=True)


def verify_zip(data: bytes, name: str) -> None:
    """The checks of :func:`read_zip` on an archive another library will read (an XLSX
    workbook), every member decompressed once and dropped: memory stays small."""
    _walk_zip(data, name, max_total=MAX_UNZIPPED_BYTES, keep=False)


_MARKDOWN_SPECIAL = frozenset("\\`*_{}[]()<>#+-.!|~$:")


def markdown_text(text: object) -> str:
    """``text`` as literal text inside Streamlit markdown (messages, captions).

    Names and file names come from uploads: escaped, ``[x](javascript:…)``, ``![](…)``,
    ``:red[…]`` or ``$…$`` are shown as typed, never turned into links, images, colours or maths.
    """
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in str(text))
