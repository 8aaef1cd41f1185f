"""Hostile text through every CSV/XLSX the product writes: no smuggled rows, no formulas.

A name such as ``站点甲\\r=1+1`` used to be written unquoted (Python's csv writer with ``\\n``
line endings leaves a bare CR as it is); the csv module, Excel and LibreOffice then start a
new row at the CR, one beginning ``=1+1``. Checked on the writers themselves, on the
registry export, on the dashboard's site download and on the check report: Python's csv
module and LibreOffice (when installed) read exactly the rows and fields written, no cell
would run as a formula (also after leading whitespace or control characters), XLSX holds no
formula cell, and our own registry export reads back to the same names.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import unicodedata
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import geo.export
from geo.export import registry_csv, to_csv, to_xlsx
from geo.loader import load_plan, load_sites
from geo.report import report_csv, sites_for_export, validation_report
from layers.registry import SiteLoad, read_sites, registry_frame
from viewmodel.views import ViewState, build_view

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_libreoffice = pytest.mark.skipif(
    SOFFICE is None,
    reason="LibreOffice is not installed (Debian: apt-get install libreoffice-calc-nogui)",
)

# name -> how our CSV must write it (hand-written: the test's own oracle, not the product's rule)
WRITTEN = {
    "站点甲\r=1+1": "站点甲\r=1+1",  # a CR inside a cell: quoted, one cell
    "站点乙\n=2+2": "站点乙\n=2+2",
    "站点丙\r\n@SUM(A1)": "站点丙\r\n@SUM(A1)",
    "\t=3+3": "'\t=3+3",
    " =4+4": "' =4+4",
    "\r=5+5": "'\r=5+5",
    "\n+6+6": "'\n+6+6",
    "\x00@SUM(A1:A9)": "'\x00@SUM(A1:A9)",
    "\u3000=7+7": "'\u3000=7+7",  # ideographic space
    "\u200b-8+8": "'\u200b-8+8",  # zero-width space
    '=HYPERLINK("http://example.invalid","点我")': '\'=HYPERLINK("http://example.invalid","点我")',
    "'=9+9": "''=9+9",  # a user's own leading quote survives the round trip
    "-众创空间": "'-众创空间",
    "普通站点": "普通站点",
}
NAMES = list(WRITTEN)
HEADER = "=备注\r1"  # a user's extra column whose label is a formula with a CR in it
SIGNS = "=+-@"


def _runs_as_formula(cell: str) -> bool:
    """Would a spreadsheet run ``cell``? Text starting ``= + - @`` after any whitespace or
    control/format characters, or starting with a tab or CR, unless it starts with ``'``."""
    if cell[:1] == "'":
        return False
    if cell[:1] in ("\t", "\r"):
        return True
    rest = cell.lstrip("".join(c for c in set(cell) if unicodedata.category(c)[0] in "CZ"))
    return rest[:1] != "" and rest[0] in SIGNS


def _user_file() -> bytes:
    """The hostile names as a user's registry file would hold them (every cell quoted), with a
    row rejected for a formula as its layer and one for a formula as its longitude."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(["name", "layer", "county", "lon", "lat", HEADER])
    for i, name in enumerate(NAMES):
        writer.writerow([name, "ecommerce", "城北区", f"{101.75 + i / 1000:.3f}", "36.64", name])
    writer.writerow(["坏行", "=cmd|' /C calc'!A0", "城北区", "", "", "=1+1"])
    writer.writerow(["坏坐标", "ecommerce", "城北区", "=1+1", "36.64", "@x"])
    return buf.getvalue().encode("utf-8")


@pytest.fixture(scope="module")
def load() -> SiteLoad:
    return read_sites(_user_file(), filename="hostile.csv")


@pytest.fixture(scope="module")
def written(units, load) -> dict[str, tuple[pd.DataFrame, bytes]]:
    """Each CSV the product writes, with the frame it was written from."""
    direct = pd.DataFrame({"name": NAMES, HEADER: NAMES[::-1], "n": range(len(NAMES))})
    sites = load_sites(units, loads=[load])
    view = build_view(units, sites.assigned, ViewState(layer="ecommerce"), plan=load_plan())
    download = sites_for_export(view.sites)
    report = validation_report(load, sites.assigned)
    return {
        "to_csv": (direct, to_csv(direct)),
        "registry_csv": (registry_frame(load.sites), registry_csv(load.sites)),
        "dashboard_sites_download": (download, to_csv(download)),
        "check_report": (report, report_csv(report)),
    }


def _shape(frame: pd.DataFrame) -> tuple[int, int]:
    """Rows (with the header) and fields the CSV of ``frame`` must have (geometry dropped)."""
    return len(frame) + 1, len([c for c in frame.columns if c != "geometry"])


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _libreoffice(src: Path, target: str, *, profile: Path, infilter: str = "") -> Path:
    """``src`` converted by LibreOffice headless (own profile: runs beside other users')."""
    out = src.parent / f"lo_{src.suffix[1:]}"
    command = [SOFFICE, f"-env:UserInstallation={profile.as_uri()}", "--headless"]
    command += [f"--infilter={infilter}"] if infilter else []
    command += ["--convert-to", target, "--outdir", str(out), str(src)]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    result = out / f"{src.stem}.{target.split(':')[0]}"
    assert result.exists(), f"LibreOffice wrote no {result.name}"
    return result


@pytest.fixture(scope="module")
def lo_profile(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("libreoffice_profile")


CSV_WRITERS = ["to_csv", "registry_csv", "dashboard_sites_download", "check_report"]


def test_the_hostile_file_is_read_whole(load):
    assert load.rows_read == len(NAMES) + 2
    assert len(load.sites) == len(NAMES) and len(load.rejects) == 2
    assert "站点甲\r=1+1" in set(load.sites["name"])


@pytest.mark.parametrize("writer", CSV_WRITERS)
def test_python_csv_reads_the_rows_and_fields_written(written, writer):
    frame, data = written[writer]
    rows, fields = _shape(frame)
    table = _csv_rows(data)
    assert len(table) == rows
    assert {len(row) for row in table} == {fields}


@pytest.mark.parametrize("writer", CSV_WRITERS)
def test_no_csv_cell_runs_as_a_formula(written, writer):
    _, data = written[writer]
    cells = [cell for row in _csv_rows(data) for cell in row]
    assert [c for c in cells if _runs_as_formula(c)] == []


def test_each_hostile_name_is_one_cell_neutralised_as_expected(written):
    table = _csv_rows(written["to_csv"][1])
    assert table[0] == ["name", "'" + HEADER, "n"]
    assert [row[0] for row in table[1:]] == list(WRITTEN.values())
    assert [row[1] for row in table[1:]] == list(WRITTEN.values())[::-1]


def test_a_bare_cr_in_a_cell_is_quoted():
    data = to_csv(pd.DataFrame({"name": ["站点甲\r=1+1"], "n": [1]}))
    assert data == '\ufeffname,n\r\n"站点甲\r=1+1",1\r\n'.encode()


def test_our_registry_export_reads_back_to_the_same_names(load):
    back = read_sites(registry_csv(load.sites), filename="again.csv")
    assert back.rejects.empty and back.rows_read == len(load.sites)
    assert list(back.sites["name"]) == list(load.sites["name"])
    assert list(back.sites[HEADER]) == list(load.sites[HEADER])  # the label too
    again = read_sites(registry_csv(back.sites), filename="third.csv")
    assert list(again.sites["name"]) == list(load.sites["name"])
    assert HEADER in again.sites.columns


def test_a_registry_with_the_names_as_written_reads_back_exactly(bundled):
    # Names that no validation step touches (no leading whitespace): exact through our writer.
    exact = [n for n in NAMES if n == n.strip()]
    sites = bundled.assigned.head(len(exact)).copy()
    sites["name"] = exact
    back = read_sites(registry_csv(sites), filename="exact.csv")
    assert back.rejects.empty
    assert list(back.sites["name"]) == exact


def _xlsx_cells(data: bytes) -> list[openpyxl.cell.cell.Cell]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    return [cell for row in sheet.iter_rows() for cell in row]


XLSX_WRITERS: dict[str, Callable[[SiteLoad], pd.DataFrame]] = {
    "direct": lambda _: pd.DataFrame({"name": NAMES, HEADER: NAMES, "n": range(len(NAMES))}),
    "registry": lambda load: registry_frame(load.sites),
}


@pytest.mark.parametrize("which", XLSX_WRITERS)
def test_xlsx_holds_no_formula_and_no_cell_runs_as_one(load, which):
    frame = XLSX_WRITERS[which](load)
    data = to_xlsx(frame, sheet="名录")
    cells = _xlsx_cells(data)
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert [t for t in texts if _runs_as_formula(t)] == []
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet.max_row == len(frame) + 1


def test_xlsx_stores_text_even_when_a_formula_reaches_the_writer(monkeypatch):
    # The last line of defence: whatever the neutralising rule misses is stored as text.
    monkeypatch.setattr(geo.export, "neutralize_formulas", lambda frame: frame)
    data = to_xlsx(pd.DataFrame({"name": ["=1+1", '=HYPERLINK("http://x")']}))
    cells = _xlsx_cells(data)
    assert [c.data_type for c in cells] == ["s", "s", "s"]
    assert [c.value for c in cells][1:] == ["=1+1", '=HYPERLINK("http://x")']


def test_xlsx_takes_control_characters_xml_cannot_hold():
    cells = _xlsx_cells(to_xlsx(pd.DataFrame({"name": ["a\x00b\x1fc"]})))
    assert cells[1].value == "a\ufffdb\ufffdc"


@needs_libreoffice
@pytest.mark.parametrize("writer", CSV_WRITERS)
def test_libreoffice_reads_the_rows_written_and_runs_no_formula(
    written, writer, tmp_path, lo_profile
):
    frame, data = written[writer]
    src = tmp_path / f"{writer}.csv"
    src.write_bytes(data)
    # comma, double quote, UTF-8, from line 1 (the options of LibreOffice's CSV dialog)
    book = _libreoffice(src, "xlsx", profile=lo_profile, infilter="CSV:44,34,76,1")
    sheet = openpyxl.load_workbook(book).worksheets[0]
    rows, fields = _shape(frame)
    assert sheet.max_row == rows
    assert sheet.max_column == fields
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert [t for t in texts if _runs_as_formula(t)] == []


@needs_libreoffice
def test_libreoffice_opens_our_xlsx_as_text(tmp_path, lo_profile):
    frame = XLSX_WRITERS["direct"](None)
    src = tmp_path / "direct.xlsx"
    src.write_bytes(to_xlsx(frame))
    converted = _libreoffice(src, "csv:Text - txt - csv (StarCalc):44,34,76,1", profile=lo_profile)
    table = _csv_rows(converted.read_bytes())
    assert len(table) == len(frame) + 1
    expected = [_xlsx_cells(to_xlsx(frame))[3 * i + 3].value for i in range(len(frame))]
    assert [row[0] for row in table[1:]] == expected  # the text itself, nothing computed
