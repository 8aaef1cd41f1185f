"""``python -m geo actuals load|export|history|undo`` on the embedded store, and attainment by
year from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.both_stores  # picks the embedded store itself (a data dir of its own)

ROOT = Path(__file__).resolve().parents[1]
TABLE = (
    "指标,县区,年份,数值,来源\n"
    "县域科技型企业总量,西宁市,2019,70,2019年统计公报\n"
    "县域科技型企业总量,西宁市,2020,85,2020年统计公报\n"
    "县域高新技术企业总量,全市,2020,18,2020年统计公报\n"
    "县域高新技术企业总量,全市,2030,30,无\n"  # after the plan: refused, the others saved
)


def _geo(*args: str, data: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XINING_DATABASE")}
    env |= {"PYTHONPATH": str(ROOT), "XINING_DATA_DIR": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "geo", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_load_export_attainment_by_year_and_undo(tmp_path):
    data = tmp_path / "var"
    table = tmp_path / "公报.csv"
    table.write_bytes(TABLE.encode("gbk"))
    load = _geo("actuals", "load", str(table), "--by", "统计局", data=data)
    assert load.returncode == 1, load.stderr  # one row refused, the other three saved
    assert "接受 3 行, 拒绝 1 行" in load.stdout and "第 5 行" in load.stdout
    assert "已保存为第 2 版" in load.stderr
    out = tmp_path / "figures.csv"
    assert _geo("actuals", "export", "-o", str(out), data=data).returncode == 0
    exported = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert sorted(exported["value"].astype(float)) == [18.0, 70.0, 85.0]
    assert set(exported["entered_by"]) == {"统计局"}
    table_2019 = tmp_path / "a2019.json"
    table_now = tmp_path / "now.json"
    for year, path in (("2019", table_2019), ("2023", table_now)):
        run = _geo("attainment", "--as-of", year, "--format", "json", "-o", str(path), data=data)
        assert run.returncode in (0, 1), run.stderr
    rows = {r["target_id"]: r for r in json.loads(table_now.read_text(encoding="utf-8"))}
    assert (rows["st_enterprises"]["actual"], rows["st_enterprises"]["status"]) == (85.0, "met")
    assert abs(rows["high_tech_share"]["actual"] - 100 * 18 / 85) < 1e-9
    assert rows["st_enterprises"]["actual_year"] == 2020 and rows["st_enterprises"]["stale"]
    then = {r["target_id"]: r for r in json.loads(table_2019.read_text(encoding="utf-8"))}
    assert (then["st_enterprises"]["actual"], then["st_enterprises"]["status"]) == (70.0, "behind")
    assert then["high_tech_share"]["status"] == "no_data"
    history = _geo("actuals", "history", data=data)
    assert "统计局" in history.stdout and "load 公报.csv" in history.stdout
    undo = _geo("actuals", "undo", "--by", "王工", data=data)
    assert undo.returncode == 0 and "已保存为第 3 版" in undo.stderr
    assert _geo("actuals", "export", "-o", str(out), data=data).returncode == 0
    assert pd.read_csv(out, encoding="utf-8-sig").empty
