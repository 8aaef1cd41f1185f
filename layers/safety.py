"""Limits for uploaded files and safe reading of zip archives.

An upload is bounded in size before anything parses it; a zip archive is read member by member
into memory after checking every name (no absolute paths, no ``..``, no links), the number of
members and the total uncompressed size, and the compression ratio (a zip bomb expands a few
kilobytes into gigabytes). Nothing from an upload is ever evaluated or unpickled.
"""

from __future__ import annotations

import contextlib
import io
import stat
import zipfile
from pathlib import PurePosixPath, PureWindowsPath

from base.errors import InputError

MAX_UPLOAD_BYTES = 20 * 2**20  # a registry or a zipped boundary file as uploaded
MAX_BOUNDARY_BYTES = 100 * 2**20  # official township polygons can be detailed
MAX_UNZIPPED_BYTES = 300 * 2**20  # all members of one archive, uncompressed
MAX_ZIP_MEMBERS = 500
MAX_ZIP_RATIO = 200  # uncompressed / compressed, for members above MIN_RATIO_CHECK
MIN_RATIO_CHECK = 2 * 2**20


def check_size(size: int, name: str, *, limit: int = MAX_UPLOAD_BYTES) -> None:
    """Refuse a file larger than ``limit`` with a message saying both sizes."""
    if size > limit:
        raise InputError(
            f"{name}: the file is {size / 2**20:.1f} MB, larger than the {limit // 2**20} MB "
            "limit. Split it, or remove columns and rows that are not needed."
        )


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name, re-decoded from GBK when the archive did not mark it as UTF-8."""
    name = info.filename
    if not info.flag_bits & 0x800:
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("gb18030")
    return name


def _unsafe_reason(name: str, info: zipfile.ZipInfo) -> str | None:
    posix = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return "an absolute path"
    if ".." in posix.parts:
        return "a path that climbs out of the folder ('..')"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    return None


def read_zip(data: bytes, name: str, *, max_total: int = MAX_UNZIPPED_BYTES) -> dict[str, bytes]:
    """The files of a zip archive as ``{member path: bytes}``, after the safety checks.

    Folders, ``__MACOSX`` entries and ``.DS_Store`` are skipped. Raises :class:`InputError`
    naming the first member that is unsafe, or the limit that was exceeded.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputError(f"{name}: not a readable zip archive ({exc}).") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise InputError(
                f"{name}: the archive holds {len(infos)} files; at most {MAX_ZIP_MEMBERS} "
                "are accepted."
            )
        total = 0
        for info in infos:
            member = _member_name(info)
            reason = _unsafe_reason(member, info)
            if reason:
                raise InputError(
                    f"{name}: refused, member '{member}' has {reason}; nothing was extracted."
                )
            total += info.file_size
            if info.file_size > MIN_RATIO_CHECK and info.file_size > MAX_ZIP_RATIO * max(
                info.compress_size, 1
            ):
                raise InputError(
                    f"{name}: refused, member '{member}' expands {info.compress_size:,} bytes "
                    f"to {info.file_size:,} (a zip bomb?)."
                )
        if total > max_total:
            raise InputError(
                f"{name}: refused, the archive expands to {total / 2**20:.0f} MB; at most "
                f"{max_total // 2**20} MB are accepted."
            )
        out: dict[str, bytes] = {}
        for info in infos:
            member = _member_name(info).replace("\\", "/")
            parts = PurePosixPath(member).parts
            if info.is_dir() or "__MACOSX" in parts or parts[-1].startswith("._"):
                continue
            if parts[-1] in (".DS_Store", "Thumbs.db"):
                continue
            if info.flag_bits & 0x1:
                raise InputError(f"{name}: the archive is password-protected.")
            with archive.open(info) as handle:
                # Read at most the declared size + 1 byte: a member that lies about its size
                # cannot expand further than the checks above allowed.
                content = handle.read(info.file_size + 1)
            if len(content) > info.file_size:
                raise InputError(f"{name}: member '{member}' is larger than it declares.")
            out[member] = content
        return out


_MARKDOWN_SPECIAL = frozenset("\\`*_{}[]()<>#+-.!|~$:")


def markdown_text(text: object) -> str:
    """``text`` as literal text inside Streamlit markdown (messages, captions).

    Names and file names come from uploads: escaped, ``[x](javascript:…)``, ``![](…)``,
    ``:red[…]`` or ``$…$`` are shown as typed, never turned into links, images, colours or maths.
    """
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in str(text))
