"""Hostile uploads (issue #13): each is refused at once in one sentence naming the limit (or read
as it should be), within 5 s and 500 MB, never with a traceback.

Every case runs the product's own entry point in a fresh subprocess (:data:`RUNNER`): the
registry reader (:func:`layers.registry.read_sites`, what the upload panel and ``--sites``
call) or the official boundaries (:func:`geo.official.load_township_boundaries`, what the panel
and ``--boundaries`` call), timed around the call, its peak memory (``ru_maxrss``) compared
with the same process without the call; a few go through ``python -m geo summarize`` too
(exit code 2, one line on stderr), and the dashboard's upload panel shows the sentence in the
page's language. The files are built here (the largest, a million polygons, once per session
in about 2 s): the whole file runs in about a minute on 2 cores.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
import pytest
import shapely
from streamlit.testing.v1 import AppTest

from base.errors import InputError
from base.settings import PLAN_DIR
from geo.loader import load_units
from layers.actuals import read_actuals, read_indicators
from layers.readers import _unique_headers, read_table
from layers.safety import (
    BOUNDARY_LIMITS,
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_JSON_DEPTH,
    MAX_SHEETS_READ,
    MAX_UNSIZED_SHEET_BYTES,
    MAX_ZIP_RATIO,
    MIN_RATIO_CHECK,
    Limits,
    check_time,
    time_budget,
)

pytestmark = pytest.mark.store_free

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 5.0  # the work one hostile file may cost before it is refused (or read)
PEAK_MB = 500.0
XINING = (101.5, 36.5)  # south-west corner of the tiny test squares, in degrees

# --- builders ---------------------------------------------------------------------------------


def wide_csv(columns: int, *, rows: int = 1) -> bytes:
    """A registry with ``columns`` columns: the four a site needs, then c5, c6, …"""
    header = ["名称", "经度", "纬度", "类型"] + [f"c{i}" for i in range(5, columns + 1)]
    row = ["站点{}", "101.78", "36.62", "众创空间"] + ["x"] * (columns - 4)
    lines = [",".join(header)] + [",".join(row).format(i) for i in range(1, rows + 1)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _xlsx(sheets: list[bytes], *, shared: bytes | None = None) -> bytes:
    """A minimal XLSX workbook (the parts openpyxl needs) holding the given sheet XML, and
    ``shared`` as its shared texts."""
    n = len(sheets)
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    types = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        + "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, n + 1)
        )
        + (
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            if shared
            else ""
        )
        + "</Types>"
    )
    root_rels = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )
    book = (
        f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
        + "".join(f'<sheet name="表{i}" sheetId="{i}" r:id="rId{i}"/>' for i in range(1, n + 1))
        + "</sheets></workbook>"
    )
    book_rels = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(
            f'<Relationship Id="rId{i}" Type="{rel}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, n + 1)
        )
        + (
            f'<Relationship Id="rIdS" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
            if shared
            else ""
        )
        + "</Relationships>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", types)
        zf.writestr("_rels/.rels", root_rels)
        zf.writestr("xl/workbook.xml", book)
        zf.writestr("xl/_rels/workbook.xml.rels", book_rels)
        for i, sheet in enumerate(sheets, start=1):
            zf.writestr(f"xl/worksheets/sheet{i}.xml", sheet)
        if shared:
            zf.writestr("xl/sharedStrings.xml", shared)
    return buf.getvalue()


def shared_texts(n: int) -> bytes:
    """``n`` short distinct shared texts (compress ~27:1, so every archive check passes)."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    body = "".join(f"<si><t>{i:x}</t></si>" for i in range(n))
    return f'<sst xmlns="{main}" count="{n}" uniqueCount="{n}">{body}</sst>'.encode()


def small_sheet() -> bytes:
    """名称 and 县区 over one site, in inline texts, its size stated."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    cells = [("A1", "名称"), ("B1", "县区"), ("A2", "甲站"), ("B2", "湟中区")]
    row = "".join(f'<c r="{r}" t="inlineStr"><is><t>{v}</t></is></c>' for r, v in cells[:2])
    row2 = "".join(f'<c r="{r}" t="inlineStr"><is><t>{v}</t></is></c>' for r, v in cells[2:])
    return (
        f'<worksheet xmlns="{main}"><dimension ref="A1:B2"/><sheetData>'
        f'<row r="1">{row}</row><row r="2">{row2}</row></sheetData></worksheet>'
    ).encode()


def _sheet_xml(rows: int, cols: int, *, seed: int) -> bytes:
    """A header-less sheet of numbers (no 名称 anywhere), its size stated as Excel does."""
    letters = [chr(ord("A") + j) for j in range(cols)]
    body = "".join(
        f'<row r="{r}">'
        + "".join(
            f'<c r="{c}{r}"><v>{(r * 7919 + j * 104729 + seed) % 99991}</v></c>'
            for j, c in enumerate(letters)
        )
        + "</row>"
        for r in range(1, rows + 1)
    )
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    size = f'<dimension ref="A1:{letters[-1]}{rows}"/>'
    return f'<worksheet xmlns="{main}">{size}<sheetData>{body}</sheetData></worksheet>'.encode()


def many_sheets_xlsx(sheets: int, *, rows: int, cols: int) -> bytes:
    return _xlsx([_sheet_xml(rows, cols, seed=i) for i in range(sheets)])


def packed_sheet() -> bytes:
    """A sheet just below the per-member ratio check, of one cell repeated (packs ~500:1)."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    row = "<row>" + "<c><v>1</v></c>" * 10 + "</row>"
    rows = (MIN_RATIO_CHECK - 200) // len(row)
    return f'<worksheet xmlns="{main}"><sheetData>{row * rows}</sheetData></worksheet>'.encode()


def _dbf(records: int) -> bytes:
    """A .dbf with one text field (XZQMC) numbering the records."""
    header = struct.pack("<BBBBIHH20x", 3, 124, 1, 1, records, 32 + 32 + 1, 1 + 8)
    descriptor = struct.pack("<11sc4xBB14x", b"XZQMC", b"C", 8, 0)
    body = b"".join(b" %08d" % k for k in range(records))
    return header + descriptor + b"\r" + body + b"\x1a"


def _shp_header(words: int, kind: int, box: tuple[float, float, float, float]) -> bytes:
    return struct.pack(">7i", 9994, 0, 0, 0, 0, 0, words) + struct.pack(
        "<2i8d", 1000, kind, *box, 0, 0, 0, 0
    )


def polygons_shapefile(n: int, *, points: int = 5, size: float = 5e-5) -> dict[str, bytes]:
    """``n`` polygons near Xining as shapefile parts, written with numpy (10^6 in about 1 s):
    squares when ``points`` is 5, else one ring of ``points`` vertices per polygon."""
    i = np.arange(n)
    x0 = XINING[0] + (i % 1000) * 1e-4
    y0 = XINING[1] + (i // 1000) * 1e-4
    if points == 5:
        dx = np.array([0, 0, 1, 1, 0]) * size
        dy = np.array([0, 1, 1, 0, 0]) * size
    else:
        t = np.linspace(0, 2 * np.pi, points)
        dx, dy = size * np.cos(-t), size * np.sin(-t)
    rec = np.dtype(
        [
            ("num", ">i4"),
            ("len", ">i4"),
            ("kind", "<i4"),
            ("box", "<f8", 4),
            ("parts", "<i4"),
            ("points", "<i4"),
            ("part0", "<i4"),
            ("xy", "<f8", (points, 2)),
        ]
    )
    out = np.zeros(n, dtype=rec)
    out["num"] = i + 1
    out["len"] = (rec.itemsize - 8) // 2
    out["kind"] = 5
    out["box"] = np.column_stack([x0 + dx.min(), y0 + dy.min(), x0 + dx.max(), y0 + dy.max()])
    out["parts"] = 1
    out["points"] = points
    out["xy"][:, :, 0] = x0[:, None] + dx
    out["xy"][:, :, 1] = y0[:, None] + dy
    box = (float(x0.min()), float(y0.min()), float(x0.max() + size), float(y0.max() + size))
    shp = _shp_header((100 + n * rec.itemsize) // 2, 5, box) + out.tobytes()
    index = np.zeros(n, dtype=[("offset", ">i4"), ("len", ">i4")])
    index["offset"] = (100 + i * rec.itemsize) // 2
    index["len"] = (rec.itemsize - 8) // 2
    shx = _shp_header((100 + 8 * n) // 2, 5, box) + index.tobytes()
    return {".shp": shp, ".shx": shx, ".dbf": _dbf(n), ".cpg": b"UTF-8"}


def points_shapefile(n: int, *, prj: bytes | None = None, blank: int = 1) -> dict[str, bytes]:
    """``n`` sites (points near Xining) as shapefile parts: a name field, then ``blank`` empty
    text fields 254 characters wide (as office exports leave them)."""
    i = np.arange(n)
    rec = np.dtype([("num", ">i4"), ("len", ">i4"), ("kind", "<i4"), ("xy", "<f8", 2)])
    out = np.zeros(n, dtype=rec)
    out["num"] = i + 1
    out["len"] = 10
    out["kind"] = 1
    out["xy"][:, 0] = 101.70 + i * 1e-4
    out["xy"][:, 1] = 36.60 + i * 1e-4
    box = (101.70, 36.60, 101.70 + n * 1e-4, 36.60 + n * 1e-4)
    shp = _shp_header((100 + 28 * n) // 2, 1, box) + out.tobytes()
    index = np.zeros(n, dtype=[("offset", ">i4"), ("len", ">i4")])
    index["offset"] = (100 + 28 * i) // 2
    index["len"] = 10
    shx = _shp_header((100 + 8 * n) // 2, 1, box) + index.tobytes()
    dbf = struct.pack("<BBBBIHH20x", 3, 124, 1, 1, n, 32 + 32 * (1 + blank) + 1, 13 + 254 * blank)
    dbf += struct.pack("<11sc4xBB14x", b"NAME", b"C", 12, 0)
    dbf += b"".join(struct.pack("<11sc4xBB14x", b"NOTE%d" % j, b"C", 254, 0) for j in range(blank))
    dbf += b"\r" + b"".join(
        b" " + f"site{k}".encode().ljust(12) + b" " * (254 * blank) for k in range(n)
    )
    parts = {".shp": shp, ".shx": shx, ".dbf": dbf + b"\x1a", ".cpg": b"UTF-8"}
    if prj is not None:
        parts[".prj"] = prj
    return parts


def zipped(parts: dict[str, bytes], *, stem: str = "layer", level: int = 1) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for ext, content in parts.items():
            zf.writestr(stem + ext, content)
    return buf.getvalue()


def nested_geojson(depth: int) -> bytes:
    """One site whose property is an array nested ``depth`` levels (2 KB for 1,000)."""
    deep = "[" * depth + "]" * depth
    return (
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        f'{{"名称":"站点一","类型":"众创空间","x":{deep}}},'
        '"geometry":{"type":"Point","coordinates":[101.78,36.62]}}]}'
    ).encode()


def bad_crc_zip() -> bytes:
    """A zipped point shapefile whose .dbf fails its CRC (stored, so only the CRC is wrong)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for ext, content in points_shapefile(3).items():
            zf.writestr("sites" + ext, content)
    data = buf.getvalue()
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("sites.dbf")
    crc = struct.pack("<I", info.CRC)
    assert data.count(crc) == 2  # the local header and the central directory
    return data.replace(crc, struct.pack("<I", info.CRC ^ 1))


def damaged_deflate_zip() -> bytes:
    """A zipped point shapefile whose .shp's compressed stream is garbled (a zlib error)."""
    data = bytearray(zipped(points_shapefile(200), stem="sites"))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("sites.shp")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for k in range(start + 2, start + 12):
        data[k] ^= 0x55
    return bytes(data)


def small_member_bomb() -> bytes:
    """150 members of 1.9 MB of zeros each: every one below the per-member ratio check."""
    zeros = b"\0" * (19 * 2**20 // 10)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for k in range(150):
            zf.writestr(f"part{k}.csv", zeros)
    return buf.getvalue()


# --- running a case ---------------------------------------------------------------------------

RUNNER = r"""
import json, resource, signal, sys, time
from base.errors import InputError

entry, path, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
fsize = options.pop("fsize", None)
if entry == "boundaries":
    from geo.loader import load_units
    from geo.official import load_township_boundaries

    units = load_units()
    call = lambda: load_township_boundaries(path, units=units, **options)
else:
    from layers.registry import read_sites

    call = lambda: read_sites(path, **options)
if path == "-":  # the process without the call: what imports and units cost
    print("{}")
    sys.exit()
if fsize is not None:  # a full disk: writes fail with an OSError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
start = time.perf_counter()
try:
    result = call()
except InputError as exc:
    out = {"refused": True, "en": exc.text("en"), "zh": exc.text("zh")}
else:
    if entry == "boundaries":
        report = result[1]
        out = {"refused": False, "notes": report[report["kind"].eq("note")]["detail"].tolist(),
               "matched": int(report["kind"].eq("matched").sum())}
    else:
        out = {"refused": False, "notes": result.warnings, "rows": result.sites["row"].tolist(),
               "names": result.sites["name"].tolist()}
out["seconds"] = time.perf_counter() - start
print(json.dumps(out, ensure_ascii=False))
"""


# Starts ``python ARGS`` and reports its peak memory. A process started straight from pytest
# would count pytest's own memory (a child's high-water mark starts at its parent's size when
# it execs); from this small launcher it starts at ~10 MB, and is read as the child exits.
LAUNCHER = r"""
import resource, subprocess, sys
code = subprocess.call([sys.executable, *sys.argv[2:]], timeout=float(sys.argv[1]))
print(f"\nMAXRSS_KB={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}", file=sys.stderr)
sys.exit(code)
"""


def run(args: list[str], *, timeout: float = 120) -> tuple[int, str, str, float, float]:
    """(exit code, stdout, stderr, seconds, peak MB) of ``python ARGS`` run from the checkout."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", LAUNCHER, str(timeout), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout + 10,
    )
    took = time.perf_counter() - start
    stderr, _, peak = proc.stderr.rpartition("\nMAXRSS_KB=")
    return proc.returncode, proc.stdout, stderr, took, int(peak) / 1024


@pytest.fixture(scope="session")
def idle() -> dict[str, float]:
    """Peak MB of the case runner without the call (imports, units) and of the command line
    asked for its help: what a case's peak is compared with."""
    peaks = {entry: run(["-c", RUNNER, entry, "-", "{}"])[4] for entry in ("sites", "boundaries")}
    peaks["cli"] = run(["-m", "geo", "--help"])[4]
    return peaks


def run_case(idle: dict[str, float], entry: str, path: Path, **options: object) -> dict:
    """Run ``entry`` ('sites' or 'boundaries') on ``path`` in a fresh process: its outcome,
    the seconds the call took and the memory it added (``peak_mb``), within the limits."""
    code, stdout, stderr, _took, peak = run(["-c", RUNNER, entry, str(path), json.dumps(options)])
    assert code == 0, stderr
    assert "Traceback" not in stderr, stderr
    out = json.loads(stdout.strip().splitlines()[-1])
    out["peak_mb"] = peak - idle[entry]
    assert out["seconds"] < SECONDS, out
    assert out["peak_mb"] < PEAK_MB, out
    return out


def refused(idle: dict[str, float], entry: str, path: Path, *words: str, **options: object) -> dict:
    """The case is refused at once; its English sentence holds ``words`` and the file's name,
    and it has its Chinese sentence too."""
    out = run_case(idle, entry, path, **options)
    assert out["refused"], out
    assert path.name in out["en"] and path.name in out["zh"], out
    for word in words:
        assert word in out["en"], out
    assert out["zh"] != out["en"], out
    return out


@pytest.fixture(scope="session")
def cli_startup() -> float:
    """Seconds ``python -m geo`` needs to start (imports) on this machine, measured once."""
    return run(["-m", "geo", "--help"])[3]


def cli_refuses(idle: dict, args: list[str], tmp_path: Path, startup: float, *words: str) -> str:
    """``python -m geo summarize`` exits 2 with one line on stderr naming the limit, within
    the time and memory of a case on top of what starting the command line costs."""
    code, _out, stderr, took, peak = run(
        ["-m", "geo", "summarize", *args, "-o", str(tmp_path / "out.csv")]
    )
    assert code == 2, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert took < startup + SECONDS, (took, startup)
    assert peak - idle["cli"] < PEAK_MB, (peak, idle)
    return lines[0]


# --- the corpus, built once per session -------------------------------------------------------


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """The folder the large files are written to (each built the first time a test asks)."""
    return tmp_path_factory.mktemp("hostile")


def _built(folder: Path, name: str, build) -> Path:
    path = folder / name
    if not path.exists():
        path.write_bytes(build())
    return path


@pytest.fixture(scope="session")
def polygons_1e6(corpus) -> Path:
    return _built(corpus, "乡镇界线_1e6.zip", lambda: zipped(polygons_shapefile(10**6)))


# --- columns ----------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [10**4, 10**6])
def test_a_csv_with_too_many_columns_is_refused_at_once(idle, tmp_path, columns):
    path = tmp_path / f"wide_{columns}.csv"
    path.write_bytes(wide_csv(columns))
    out = refused(idle, "sites", path, f"{columns:,} columns", f"limit of {MAX_COLUMNS} columns")
    assert f"{MAX_COLUMNS} 列的上限" in out["zh"]


def test_a_csv_within_the_column_limit_reads_fast(idle, tmp_path):
    path = tmp_path / "wide_400.csv"
    path.write_bytes(wide_csv(400, rows=300))
    out = run_case(idle, "sites", path, layer="incubator")
    assert not out["refused"], out
    assert out["rows"] == list(range(2, 302))
    assert out["seconds"] < 2.0, out


def test_unique_headers_are_linear_and_unchanged():
    assert _unique_headers(["a", "a", "", "a (2)", "a", " "]) == [
        "a",
        "a (2)",
        "column_3",
        "a (2) (2)",
        "a (3)",
        "column_6",
    ]
    start = time.perf_counter()
    assert len(set(_unique_headers(["x"] * 20_000))) == 20_000
    assert time.perf_counter() - start < 1.0


def test_geojson_with_too_many_properties_is_refused(idle, tmp_path):
    props = ", ".join(f'"p{i}": 1' for i in range(10_000))
    path = tmp_path / "wide.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        f'{{"名称":"a",{props}}},"geometry":{{"type":"Point","coordinates":[101.7,36.6]}}}}]}}'
    )
    refused(idle, "sites", path, "10,001 columns", f"limit of {MAX_COLUMNS} columns")


def test_a_table_of_too_many_cells_is_refused_while_it_is_read(idle, tmp_path):
    path = tmp_path / "cells.csv"
    path.write_bytes(wide_csv(100, rows=60_000))  # 6,000,000 cells in 12 MB
    refused(idle, "sites", path, f"limit of {MAX_CELLS:,} cells")


def test_a_shapefile_of_too_many_cells_is_refused_from_its_header(idle, tmp_path):
    parts = points_shapefile(200_000, blank=0)
    fields = 26
    header = struct.pack("<BBBBIHH20x", 3, 124, 1, 1, 200_000, 32 + 32 * fields + 1, 1 + fields)
    names = b"".join(struct.pack("<11sc4xBB14x", b"F%d" % j, b"C", 1, 0) for j in range(fields))
    parts[".dbf"] = header + names + b"\r" + (b" " + b"x" * fields) * 200_000 + b"\x1a"
    path = tmp_path / "sites.zip"
    path.write_bytes(zipped(parts))
    refused(idle, "sites", path, f"limit of {MAX_CELLS:,} cells")


# --- sheets -----------------------------------------------------------------------------------


def test_a_workbook_of_many_header_less_sheets_is_refused_after_the_first_ones(idle, tmp_path):
    path = tmp_path / "many_sheets.xlsx"
    path.write_bytes(many_sheets_xlsx(140, rows=300, cols=10))
    refused(idle, "sites", path, f"first {MAX_SHEETS_READ} of its 140 sheets", "名称")


def test_a_workbook_of_sheets_that_do_not_state_their_size_is_refused_before_opening(
    idle, tmp_path
):
    """140 sheets of 2 MB of one cell repeated, no <dimension> (2 MB in all): openpyxl would
    parse all 280 MB just to open the workbook."""
    path = tmp_path / "packed_sheets.xlsx"
    path.write_bytes(_xlsx([packed_sheet()] * 140))
    refused(
        idle, "sites", path, "do not state their size", f"{MAX_UNSIZED_SHEET_BYTES // 2**20} MB"
    )


def test_a_workbook_of_a_million_unused_shared_texts_is_refused_before_opening(idle, tmp_path):
    """A 2 MB workbook whose shared texts no cell uses: openpyxl would parse them all (the
    reviewer's 3 million took 36 s and 589 MB)."""
    path = tmp_path / "shared_texts.xlsx"
    path.write_bytes(_xlsx([small_sheet()], shared=shared_texts(10**6)))
    out = refused(idle, "sites", path, "shared texts", "more than its sheets can use")
    assert "共享文本" in out["zh"]


def test_a_workbook_of_many_distinct_texts_in_its_cells_reads(tmp_path):
    """20,000 rows of distinct names and addresses, as Excel writes them (shared texts)."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["名称", "县区", "详细地址"])
    for i in range(20_000):
        ws.append([f"电商站{i}", "湟中区", f"鲁沙尔镇{i}号"])
    buf = io.BytesIO()
    book.save(buf)
    table = read_table(buf.getvalue(), filename="many.xlsx")
    assert len(table.frame) == 20_000


# --- vector files: features and vertices ------------------------------------------------------


def test_a_boundary_file_of_100_000_polygons_is_refused_at_once(idle, tmp_path):
    path = tmp_path / "乡镇界线_1e5.zip"
    path.write_bytes(zipped(polygons_shapefile(10**5)))
    limit = f"{BOUNDARY_LIMITS.features:,}"
    out = refused(idle, "boundaries", path, "100,000 features", f"limit of {limit}")
    assert "要素" in out["zh"]


def test_a_boundary_file_of_a_million_polygons_is_refused_at_once(idle, polygons_1e6):
    refused(idle, "boundaries", polygons_1e6, "1,000,000 features")


def test_a_boundary_file_with_too_many_vertices_is_refused_at_once(idle, tmp_path):
    path = tmp_path / "dense.zip"
    path.write_bytes(zipped(polygons_shapefile(2, points=1_600_001, size=0.01), level=0))
    refused(idle, "boundaries", path, "3,200,002 vertices", f"{BOUNDARY_LIMITS.vertices:,}")


def test_a_geopackage_of_too_many_features_is_refused_from_its_metadata(idle, tmp_path):
    squares = shapely.box(101.7, 36.6, 101.7001, 36.6001)
    gdf = gpd.GeoDataFrame({"XZQMC": ["乡"] * 6000}, geometry=[squares] * 6000, crs=4326)
    path = tmp_path / "乡镇界线.gpkg"
    pyogrio.write_dataframe(gdf, path)
    refused(idle, "boundaries", path, "6,000 features", f"limit of {BOUNDARY_LIMITS.features:,}")


# --- JSON depth -------------------------------------------------------------------------------


def test_geojson_nested_a_thousand_levels_is_refused_before_parsing(idle, tmp_path):
    path = tmp_path / "deep.geojson"
    path.write_bytes(nested_geojson(1000))
    assert path.stat().st_size < 2500
    refused(idle, "sites", path, "nested 1,004 levels", f"limit of {MAX_JSON_DEPTH} levels")


def test_geojson_nested_within_the_limit_is_read(idle, tmp_path):
    path = tmp_path / "nested.geojson"
    path.write_bytes(nested_geojson(20))
    out = run_case(idle, "sites", path, layer="incubator")
    assert not out["refused"] and out["names"] == ["站点一"], out


# --- damaged archives -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "words"),
    [(bad_crc_zip, ["sites.dbf", "damaged", "Bad CRC"]), (damaged_deflate_zip, ["damaged"])],
    ids=["bad_crc", "bad_deflate"],
)
def test_a_damaged_zip_member_is_one_sentence(idle, tmp_path, build, words):
    path = tmp_path / "sites.zip"
    path.write_bytes(build())
    refused(idle, "sites", path, *words)


def test_small_members_together_are_checked_for_their_ratio(idle, tmp_path):
    path = tmp_path / "small_bomb.zip"
    path.write_bytes(small_member_bomb())
    refused(idle, "sites", path, "smaller members together", "zip bomb")


def test_an_ordinary_small_zipped_shapefile_that_packs_well_is_read(idle, tmp_path):
    """A .dbf of wide, mostly blank text fields packs far beyond 200:1; under 2 MB it is fine."""
    parts = points_shapefile(1500, blank=4)
    data = zipped(parts, level=9)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("layer.dbf")
    assert info.file_size > MAX_ZIP_RATIO * info.compress_size
    path = tmp_path / "sites.zip"
    path.write_bytes(data)
    out = run_case(idle, "sites", path, layer="incubator")
    assert not out["refused"] and len(out["names"]) == 1500, out


# --- coordinate systems -----------------------------------------------------------------------

GARBAGE_PRJ = {
    "words": b"this is not a projection",
    "bad_unit": b'GEOGCS["x",DATUM["y",SPHEROID["z",1,0]],PRIMEM["G",0],UNIT["degree",1e400]]',
    "unknown_projection": b'PROJCS["nonsense",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID['
    b'"WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]'
    b'],PROJECTION["Not_A_Projection"],UNIT["metre",1]]',
    "local": b'LOCAL_CS["foo"]',
}


@pytest.mark.parametrize("prj", list(GARBAGE_PRJ), ids=list(GARBAGE_PRJ))
def test_a_nonsensical_prj_is_noted_and_the_system_guessed(idle, tmp_path, prj):
    path = tmp_path / "sites.zip"
    path.write_bytes(zipped(points_shapefile(3, prj=GARBAGE_PRJ[prj])))
    out = run_case(idle, "sites", path, layer="incubator")
    assert not out["refused"], out
    assert out["names"] == ["site0", "site1", "site2"]
    assert any(".prj file is not a coordinate system" in n for n in out["notes"]), out
    assert not any(".cpg" in n for n in out["notes"]), out  # its 254-wide field is no reason


@pytest.mark.filterwarnings("ignore:'crs' was not provided")  # on purpose: no .prj written
def test_a_boundary_file_with_a_nonsensical_prj_is_read_as_degrees_with_a_note(
    idle, units, tmp_path
):
    zones = units.townships[units.townships.geometry.notna()]
    gdf = gpd.GeoDataFrame(
        {"XZQDM": zones["code"], "XZQMC": zones["name"]}, geometry=zones.geometry.to_numpy()
    )
    pyogrio.write_dataframe(gdf, tmp_path / "towns.shp", encoding="UTF-8")
    parts = {
        ext: (tmp_path / f"towns{ext}").read_bytes() for ext in (".shp", ".shx", ".dbf", ".cpg")
    }
    path = tmp_path / "乡镇界线.zip"
    path.write_bytes(zipped({**parts, ".prj": GARBAGE_PRJ["words"]}))
    out = run_case(idle, "boundaries", path)
    assert not out["refused"] and out["matched"] == len(zones), out
    assert any(".prj file is not a coordinate system" in n for n in out["notes"]), out
    assert any("degrees read as WGS84" in n for n in out["notes"]), out


# --- text cells -------------------------------------------------------------------------------


def test_a_first_line_of_200_000_characters_is_read(idle, tmp_path):
    path = tmp_path / "long_title.csv"
    title = "说明" * 100_000
    path.write_text(f"{title}\n名称,经度,纬度,类型\n站点一,101.78,36.62,众创空间\n")
    out = run_case(idle, "sites", path, layer="incubator")
    assert not out["refused"] and out["names"] == ["站点一"] and out["rows"] == [3], out


def test_a_cell_of_any_size_within_the_byte_limit_is_read(idle, tmp_path):
    path = tmp_path / "long_cell.csv"
    note = "y" * (5 * 2**20)
    path.write_text(f"名称,经度,纬度,类型,备注\n站点一,101.78,36.62,众创空间,{note}\n")
    out = run_case(idle, "sites", path, layer="incubator")
    assert not out["refused"] and out["names"] == ["站点一"], out


def test_a_name_with_a_line_break_inside_quotes_is_one_row(idle, tmp_path):
    path = tmp_path / "crlf.csv"
    path.write_bytes(
        '名称,经度,纬度,类型\r\n"站点\r\n一号",101.78,36.62,众创空间\r\n'
        '"站点\n二号",101.70,36.60,众创空间\r\n站点三,101.71,36.61,众创空间\r\n'.encode()
    )
    out = run_case(idle, "sites", path, layer="incubator")
    assert not out["refused"], out
    assert out["names"] == ["站点\r\n一号", "站点\n二号", "站点三"]
    assert out["rows"] == [2, 3, 4]  # the rows Excel shows, not the lines of the file


# --- disk full and time -----------------------------------------------------------------------


def test_a_full_disk_while_unpacking_is_one_sentence(idle, tmp_path):
    path = tmp_path / "sites.zip"
    path.write_bytes(zipped(points_shapefile(500)))
    out = refused(idle, "sites", path, "could not write the temporary copy", fsize=4096)
    assert "磁盘" in out["zh"]


def test_the_time_budget_stops_the_work_with_one_sentence():
    with time_budget("slow.csv", seconds=0.0):
        time.sleep(0.01)
        with pytest.raises(InputError, match=r"slow.csv: reading it took longer than the limit"):
            check_time()
    check_time()  # outside a budget nothing happens


def test_the_time_budget_covers_reading():
    spent = Limits(
        what=("站点名录", "site registry"), bytes=2**20, features=9, vertices=9, seconds=-1
    )
    with pytest.raises(InputError, match=r"a\.csv: reading it took longer") as exc:
        read_table(wide_csv(10, rows=10), filename="a.csv", limits=spent)
    assert "秒的时间上限" in exc.value.text("zh")


# --- the command line -------------------------------------------------------------------------


def test_the_command_line_refuses_a_million_columns_in_one_line(idle, tmp_path, cli_startup):
    path = tmp_path / "wide.csv"
    path.write_bytes(wide_csv(10**6))
    cli_refuses(idle, ["--sites", str(path)], tmp_path, cli_startup, "1,000,000 columns")


def test_the_command_line_refuses_a_million_polygons_in_one_line(
    idle, tmp_path, cli_startup, polygons_1e6
):
    cli_refuses(idle, ["--boundaries", str(polygons_1e6)], tmp_path, cli_startup, "features")


def test_the_command_line_refuses_deep_json_in_one_line(idle, tmp_path, cli_startup):
    path = tmp_path / "deep.geojson"
    path.write_bytes(nested_geojson(1000))
    cli_refuses(idle, ["--sites", str(path)], tmp_path, cli_startup, "nested")


# --- the dashboard ----------------------------------------------------------------------------


def _upload_panel() -> None:
    """The dashboard's upload panel alone (an AppTest script: it imports what it uses)."""
    import streamlit as st

    from dashboard import upload
    from geo.loader import load_units

    lang = st.query_params.get("lang", "zh")
    upload.apply(upload.panel(lang), load_units(), lang)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_dashboard_shows_the_refusal_in_the_page_language(lang):
    at = AppTest.from_function(_upload_panel, default_timeout=60)
    at.query_params["lang"] = lang
    at.run()
    at.file_uploader(key="upload_sites").upload("wide.csv", wide_csv(10**4), "text/csv")
    at.run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.sidebar.error]
    sentence = "共 10,000 列" if lang == "zh" else "10,000 columns in row 1"
    assert any(sentence in e and "wide\\.csv" in e for e in errors), errors  # markdown-escaped


def test_a_figures_workbook_of_many_filled_sheets_is_refused_at_once(tmp_path):
    """Each sheet of a figures workbook is read on its own: more than the sheet limit is one
    sentence, at once (a reviewer's 450 sheets ran into the 60 s budget)."""
    data = _xlsx([small_sheet()] * (MAX_SHEETS_READ + 10))
    indicators = read_indicators(PLAN_DIR / "indicators.csv")
    counties = load_units().counties
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        read_actuals(data, filename="表.xlsx", indicators=indicators, counties=counties)
    assert time.monotonic() - started < 5
    assert f"超过读取上限 {MAX_SHEETS_READ} 个" in caught.value.text("zh")
