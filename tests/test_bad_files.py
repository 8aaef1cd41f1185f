"""The corpus of bad files (tests/bad_files/README.md): every expected outcome, nothing lost."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from base.errors import InputError
from geo.loader import load_sites
from geo.official import load_township_boundaries
from geo.report import REJECTED, report_summary
from layers.registry import read_sites

CORPUS = Path(__file__).parent / "bad_files"
README = (CORPUS / "README.md").read_text(encoding="utf-8")


def _tables() -> tuple[list[dict], list[dict]]:
    sites, towns, section = [], [], None
    for line in README.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        m = re.match(r"^\| `([^`]+)` \|(.*)\|\s*$", line)
        if not m:
            continue
        cells = [c.strip() for c in m.group(2).split(" | ")]
        if section == "Site registries":
            _fault, options, accepted, rejected, warnings = (cells + [""] * 5)[:5]
            sites.append(
                {
                    "file": m.group(1),
                    "options": options,
                    "accepted": accepted,
                    "rejected": [r for r in rejected.split("<br>") if r],
                    "warnings": [w for w in warnings.split("<br>") if w],
                }
            )
        elif section == "Township boundaries":
            _fault, options, expect = (cells + [""] * 3)[:3]
            towns.append({"file": m.group(1), "options": options, "expect": expect})
    return sites, towns


SITE_CASES, TOWN_CASES = _tables()


def _options(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


def test_corpus_is_big_and_listed():
    listed = {c["file"] for c in SITE_CASES} | {c["file"] for c in TOWN_CASES}
    on_disk = {p.name for p in CORPUS.iterdir()} - {"README.md", "make_corpus.py", "__pycache__"}
    assert listed == on_disk
    assert len(SITE_CASES) + len(TOWN_CASES) >= 25


@pytest.mark.parametrize("case", SITE_CASES, ids=[c["file"] for c in SITE_CASES])
def test_registry_file(case, units):
    path = CORPUS / case["file"]
    if case["accepted"] == "error":
        with pytest.raises(InputError, match=re.escape(case["rejected"][0])):
            read_sites(path, **_options(case["options"]))
        return
    load = read_sites(path, **_options(case["options"]))
    sites = load_sites(units, loads=[load], include_samples=True)
    report = sites.report
    report = report[report["file"].eq(path.name)]
    summary = report_summary(load, report)

    # Nothing is lost: every row read is accepted or rejected, with a reason.
    assert summary["accepted"] + summary["rejected"] == load.rows_read
    assert len(load.sites) + len(load.rejects) == load.rows_read
    assert summary["accepted"] == int(case["accepted"]), report.to_string()

    rejected = report[report["outcome"].eq(REJECTED)]
    got = {(int(r.row), r.column or "-"): r.reason for r in rejected.itertuples()}
    want = {}
    for entry in case["rejected"]:
        row, rest = entry.split(" ", 1)
        column, reason = rest.split(": ", 1)
        want[(int(row), column)] = reason
    assert set(got) == set(want), rejected.to_string()
    for key, reason in want.items():
        assert got[key].startswith(reason), (key, got[key])
    assert rejected["reason"].str.len().gt(0).all()

    said = [*load.warnings, *report.loc[report["outcome"].ne(REJECTED), "reason"]]
    for text in case["warnings"]:
        assert any(text in w for w in said), (text, said)


@pytest.mark.parametrize("case", TOWN_CASES, ids=[c["file"] for c in TOWN_CASES])
def test_boundary_file(case, units):
    path = CORPUS / case["file"]
    if case["expect"].startswith("error: "):
        with pytest.raises(InputError, match=re.escape(case["expect"][len("error: ") :])):
            load_township_boundaries(path, units=units, **_options(case["options"]))
        return
    new, report = load_township_boundaries(path, units=units, **_options(case["options"]))
    counts = report["kind"].value_counts()
    for item in case["expect"].split("<br>"):
        kind, n = item.split("=")
        assert int(counts.get(kind, 0)) == int(n), (kind, report.to_string())
    # Every matched unit now has its official polygon; all others are listed.
    matched = set(report.loc[report["kind"].eq("matched"), "code"])
    official = set(new.townships.loc[new.townships["geometry_source"].eq("official"), "code"])
    assert matched == official
    listed = set(report.loc[report["kind"].eq("unit_without_polygon"), "code"])
    assert matched | listed == set(units.townships["code"])
    assert report["detail"].str.len().gt(0).all()
