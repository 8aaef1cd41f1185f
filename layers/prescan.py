"""Cheap passes over an upload's bytes that count what parsing it would cost, before parsing.

* :func:`json_shape`: the nesting depth of a JSON text and the number of coordinate positions
  in it, without building it (``json.loads`` recurses once per level and builds ~120 bytes of
  Python objects per position).
* :func:`shp_counts` / :func:`dbf_counts`: features, vertices and fields of a shapefile from its
  record and table headers, without building a geometry.
* :func:`unsized_sheet_bytes`: the XML of workbook sheets that do not state their size, which
  openpyxl parses whole as it opens the workbook.

Each is linear in the input and runs in C or numpy over large blocks, so a file past a limit of
:mod:`layers.safety` is refused in well under a second.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile

import numpy as np

# A JSON string (escapes included). Strings are removed before brackets are counted: a name may
# hold "[" or "}". The form "[^"\\]*(?:\\.[^"\\]*)*" runs without backtracking.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_WHITESPACE = b" \t\r\n"
_BLOCK = 8 * 2**20  # bytes per numpy block: bounded memory whatever the file's size

_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_CLOSE = np.zeros(256, dtype=np.int8)
_CLOSE[[ord("]"), ord("}")]] = 1
_NUMBER_START = np.zeros(256, dtype=bool)
_NUMBER_START[list(b"-0123456789")] = True

_WORKSHEET = re.compile(rb"<(?:\w+:)?worksheet[\s>]")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension[\s/>]")
_STREAM_CHUNK = 2**20
_XML_HEAD = 4096  # bytes of a part read to see what it is: the root and a sheet's first element

# Shapefile shape types (ESRI whitepaper): where a record says how many points it holds.
_POINT_TYPES = {1, 11, 21}
_MULTIPOINT_TYPES = {8, 18, 28}  # numPoints after the bounding box
_PARTS_TYPES = {3, 5, 13, 15, 23, 25, 31}  # numParts, then numPoints, after the bounding box


def json_shape(raw: bytes) -> tuple[int, int]:
    """(deepest nesting of arrays and objects, number of arrays that start with a number) of
    UTF-8 JSON text; the second counts GeoJSON positions (``[101.7, 36.6]``), an upper bound
    (a property holding a list of numbers counts once too). Malformed text gives some numbers;
    the parser reports the error after."""
    compact = _JSON_STRING.sub(b'""', raw).translate(None, _WHITESPACE)
    data = np.frombuffer(compact, dtype=np.uint8)
    depth = deepest = positions = 0
    for start in range(0, len(data), _BLOCK):
        block = data[start : start + _BLOCK + 1]  # one byte of overlap: "[" then its number
        head = block[:_BLOCK]
        level = np.cumsum(_OPEN[head] - _CLOSE[head], dtype=np.int64) + depth
        if len(level):
            deepest = max(deepest, int(level.max()))
            depth = int(level[-1])
        positions += int(np.count_nonzero((block[:-1] == ord("[")) & _NUMBER_START[block[1:]]))
    return deepest, positions


def shp_counts(shp: bytes, *, cap: int) -> tuple[int, int]:
    """(records, vertices) of a ``.shp`` from its record headers, counting stopped after
    ``cap`` + 1 records (the caller refuses the file then). Truncated records count what their
    headers declare: GDAL would try to read that much."""
    records = vertices = 0
    pos, size = 100, len(shp)
    while pos + 12 <= size and records <= cap:
        (length,) = struct.unpack_from(">i", shp, pos + 4)
        (kind,) = struct.unpack_from("<i", shp, pos + 8)
        vertices += _record_points(shp, pos + 8, kind)
        records += 1
        pos += 8 + 2 * max(length, 0)
    return records, vertices


def _record_points(shp: bytes, content: int, kind: int) -> int:
    """Points one shapefile record declares (its content starting at byte ``content``)."""
    if kind in _POINT_TYPES:
        return 1
    offset = 36 if kind in _MULTIPOINT_TYPES else 40 if kind in _PARTS_TYPES else None
    if offset is None or content + offset + 4 > len(shp):
        return 0
    (points,) = struct.unpack_from("<i", shp, content + offset)
    return max(points, 0)


def dbf_counts(dbf: bytes) -> tuple[int, int]:
    """(records, fields) a ``.dbf`` declares in its header ((0, 0) when it is too short)."""
    if len(dbf) < 12:
        return 0, 0
    records, header = struct.unpack_from("<IH", dbf, 4)
    return records, max((header - 33) // 32, 0)


def unsized_sheet_bytes(data: bytes) -> int:
    """Uncompressed bytes of an XLSX's worksheets with no ``<dimension>`` near their start,
    found from the first bytes of each XML part (the archive was already checked)."""
    total = 0
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if not info.filename.lower().endswith(".xml") or info.file_size == 0:
                continue
            with archive.open(info) as handle:
                head = handle.read(_XML_HEAD)
            if _WORKSHEET.search(head) and not _DIMENSION.search(head):
                total += info.file_size
    return total


def shared_strings(data: bytes) -> tuple[int, int, int]:
    """(texts in ``xl/sharedStrings.xml``, its uncompressed bytes, uncompressed bytes of all
    worksheets) of an XLSX, counted by streaming the XML (the archive was already checked):
    openpyxl parses every shared text as it opens a workbook, used by a cell or not."""
    texts = size = sheets = 0
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            name = info.filename.lower()
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                sheets += info.file_size
            if not name.endswith("sharedstrings.xml"):
                continue
            size += info.file_size
            tail = b""  # 3 bytes: a tag cut by a chunk's end is counted once, with the next
            with archive.open(info) as handle:
                while chunk := handle.read(_STREAM_CHUNK):
                    block = tail + chunk
                    texts += block.count(b"<si>") + block.count(b"<si ")
                    tail = block[-3:]
    return texts, size, sheets
