"""Static map images and county briefs (maps.static, maps.brief, python -m maps).

Every image size and format is rendered and measured; PDFs are checked with poppler
(``pdfinfo``, ``pdffonts``) for page count and the embedded CJK font, and turned into PNG pages
with ``pdftoppm``. Renders are saved to tests/artifacts/ to be looked at.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image
from pyproj import Geod, Transformer

from base.errors import InputError
from geo.classify import STATUS_LABELS
from geo.coverage import summarize
from geo.loader import load_plan
from layers.schema import APPROXIMATE, LAYERS, PRECISION
from maps import brief, static
from maps.cli import main as cli_main
from maps.cli import parse_size, parse_view
from viewmodel.i18n import TEXT
from viewmodel.views import ViewState, build_view, plan_marks

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
POPPLER = {tool: shutil.which(tool) for tool in ("pdfinfo", "pdffonts", "pdftoppm")}
needs_poppler = pytest.mark.skipif(
    not all(POPPLER.values()),
    reason="poppler-utils (pdfinfo, pdffonts, pdftoppm) not installed: scripts/setup.sh --dev",
)
CJK_PS_NAME = "NotoSansCJKsc-Regular"


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def marks():
    return plan_marks(load_plan())


@pytest.fixture(scope="module")
def sites(bundled):
    return bundled.assigned


@pytest.fixture(scope="module")
def view_of(units, sites, marks):
    cache: dict = {}

    def make(**state) -> object:
        key = tuple(sorted(state.items()))
        if key not in cache:
            cache[key] = build_view(
                units,
                sites,
                ViewState(**state),
                plan=load_plan(),
                pilot_counties=marks[0],
                pilot_towns=marks[1],
            )
        return cache[key]

    return make


def missing_glyphs_are_errors():
    """Context in which matplotlib's "Glyph … missing from font(s)" warning raises."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.filterwarnings("error", message=r".*[Gg]lyph .* missing from.*")
    return ctx


def pdf_pages(path: Path) -> tuple[int, str]:
    out = subprocess.run(
        [POPPLER["pdfinfo"], str(path)], capture_output=True, text=True, check=True
    )
    pages = int(re.search(r"^Pages:\s+(\d+)", out.stdout, re.M).group(1))
    size = re.search(r"^Page size:\s+(.+)$", out.stdout, re.M).group(1)
    return pages, size


def pdf_fonts(path: Path) -> list[list[str]]:
    out = subprocess.run(
        [POPPLER["pdffonts"], str(path)], capture_output=True, text=True, check=True
    )
    rows = out.stdout.strip().splitlines()[2:]  # header and ruler
    return [r.split() for r in rows]


def pdftoppm(path: Path, stem: Path, dpi: int = 100) -> list[Path]:
    subprocess.run(
        [POPPLER["pdftoppm"], "-r", str(dpi), "-png", str(path), str(stem)],
        check=True,
        capture_output=True,
    )
    return sorted(stem.parent.glob(stem.name + "-*.png"))


def assert_only_cjk_font(path: Path) -> None:
    fonts = pdf_fonts(path)
    assert fonts, f"{path.name}: no font in the PDF"
    names = {row[0].split("+")[-1] for row in fonts}
    assert names == {CJK_PS_NAME}, f"{path.name}: fonts {names} (fallback font used?)"
    for row in fonts:
        emb = row[-5]  # columns: name type… encoding emb sub uni object ID
        assert emb == "yes", f"{path.name}: font not embedded: {row}"


def draw(fig: Figure) -> None:
    """Really rasterise (a bare Figure's canvas.draw() draws nothing)."""
    fig.savefig(io.BytesIO(), format="png", dpi=50)


def texts(fig: Figure) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_text()]


# ---------------------------------------------------------------- font ----------------------


def test_the_font_is_the_bundled_noto_sans_cjk_sc():
    import noto_cjk_sans_otc
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = static.cjk_font_path()
    assert Path(path.path) == Path(str(noto_cjk_sans_otc.FONT_PATH)).resolve()
    face = FT2Font(path.path, face_index=path.face_index)
    assert face.family_name == "Noto Sans CJK SC"
    assert face.postscript_name == CJK_PS_NAME
    registered = [e for e in font_manager.fontManager.ttflist if e.name == "Noto Sans CJK SC"]
    assert any(Path(e.fname).resolve() == Path(path.path) for e in registered)
    assert static.font(12).get_file() == path


def test_every_label_renders_in_the_cjk_font_without_missing_glyphs():
    words = [zh for zh, _ in TEXT.values()] + [en for _, en in TEXT.values()]
    words += [v for layer in LAYERS.values() for v in (layer.zh, layer.en, layer.glyph)]
    words += [v for zh, en in PRECISION.values() for v in (zh, en)]
    words += [*STATUS_LABELS["zh"].values(), "【示例】", "²", "–", "·", "…", "★", "“无数据”"]
    fig = Figure(figsize=(8, 30))
    for i, word in enumerate(words):
        fig.text(0.01, 1 - (i + 1) / (len(words) + 1), word, fontproperties=static.font(9))
    ctx = missing_glyphs_are_errors()
    try:
        draw(fig)
    finally:
        ctx.__exit__(None, None, None)


def test_a_missing_glyph_would_fail_the_check():
    fig = Figure()
    fig.text(0.1, 0.5, "\U0001f5fa", fontproperties=static.font(12))  # 🗺 is not in the font
    ctx = missing_glyphs_are_errors()
    try:
        with pytest.raises(Warning, match="missing from"):
            draw(fig)
    finally:
        ctx.__exit__(None, None, None)


def test_wrap_breaks_chinese_and_english_to_width():
    text = "当前地图含【示例数据】(非真实站点,仅演示用);目标完成情况不计入示例数据。"
    lines = static.wrap(text, 120, 10)
    assert "".join(lines) == text
    assert all(static.text_width(line, 10) <= 120 for line in lines)
    assert not any(line[0] in ",;。)" for line in lines[1:])
    english = static.wrap("Sample records are on screen (not real sites)", 100, 10)
    assert " ".join(english) == "Sample records are on screen (not real sites)"
    assert static.wrap("一二三四五六七八九十" * 5, 50, 10, max_lines=2)[-1].endswith("…")


# ---------------------------------------------------------------- map geometry ---------------


def test_scale_bar_is_in_true_metres_and_north_is_true_north(view_of):
    view = view_of()
    _, facts = static.map_figure(view.spec, title="t")
    assert facts["crs"] == static.UTM == "EPSG:32647"
    length = facts["scale_bar_m"]
    assert length in {1e3 * m * 10**k for m in (1, 2, 4, 5) for k in range(0, 3)}
    x0, x1, y0, _ = facts["extent"]
    assert 60_000 < x1 - x0 < 400_000  # metres, not degrees
    # the bar's length, measured on the ellipsoid, is its label (UTM scale error < 0.1 %)
    to_ll = Transformer.from_crs(static.UTM, "EPSG:4326", always_xy=True)
    lon0, lat0 = to_ll.transform(x0, y0)
    lon1, lat1 = to_ll.transform(x0 + length, y0)
    _, _, metres = Geod(ellps="WGS84").inv(lon0, lat0, lon1, lat1)
    assert metres == pytest.approx(length, rel=1e-3)
    # Xining lies ~2.4° east of zone 47's central meridian: grid convergence ≈ 1.4°
    assert 1.0 < facts["north_deg"] < 2.0
    assert static.north_angle_deg((99.0, 36.6)) == pytest.approx(0, abs=1e-6)


def test_nice_scale_lengths():
    assert static.nice_length_m(100_000) == 20_000
    assert static.nice_length_m(30_000) == 5_000
    assert static.nice_length_m(9_000) == 1_000
    assert static.nice_length_m(200_000) == 40_000


def test_units_have_the_interactive_maps_class_colours(view_of):
    view = view_of(level="township")
    fig, facts = static.map_figure(view.spec, title="t")
    ax = facts["map_axes"]
    fills = {
        tuple(np.round(c, 3))
        for coll in ax.collections
        if not isinstance(coll, PathCollection)
        for c in coll.get_facecolors()
        if c[3] > 0
    }
    from matplotlib.colors import to_rgba

    expected = {tuple(np.round(to_rgba(c), 3)) for c in view.spec.units["fill"]}
    assert expected <= fills
    legend_texts = {t.get_text() for t in texts(fig)}
    assert view.spec.legend_title in legend_texts
    for _, label in view.spec.legend:
        assert label in legend_texts
    for note in view.spec.notes:  # the caveats, maybe wrapped over lines
        flat = "".join(sorted(legend_texts, key=len))
        assert note[:6] in flat


def test_sites_keep_layer_colour_hollow_and_dashed_marks(view_of):
    from matplotlib.colors import to_rgba

    view = view_of()
    _, facts = static.map_figure(view.spec, title="t")
    ax = facts["map_axes"]
    sites = view.spec.sites[view.spec.sites.geometry.notna()]
    assert facts["n_sites_drawn"] == len(sites)
    markers = [c for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets())]
    colours = {tuple(to_rgba(layer.color)) for layer in LAYERS.values()}
    n_hollow = n_dashed = 0
    for coll in markers:
        edge = (*coll.get_edgecolors()[0][:3], 1.0)
        face = coll.get_facecolors()[0]
        if edge[:3] == (1.0, 1.0, 1.0):
            continue  # pilot-town stars (white edge)
        assert tuple(np.round(edge, 3)) in {tuple(np.round(c, 3)) for c in colours}
        hollow = tuple(face[:3]) == (1.0, 1.0, 1.0)
        dashed = coll.get_linestyles()[0][1] is not None
        n_hollow += hollow * len(coll.get_offsets())
        n_dashed += dashed * len(coll.get_offsets())
    assert n_hollow == int(sites["location_precision"].isin(APPROXIMATE).sum())
    assert n_dashed == int(sites["is_sample"].astype(bool).sum())
    glyphs = [t.get_text() for t in ax.texts]
    for key, layer in LAYERS.items():
        assert glyphs.count(layer.glyph) == int((sites["layer"] == key).sum())


def test_sites_at_one_seat_are_spread_not_stacked():
    import geopandas as gpd

    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy([500_000] * 9, [4_000_000] * 9))
    pos = static.site_positions(pts, spacing_m=100)
    dist = np.hypot(*(pos[:, None, :] - pos[None, :, :]).transpose(2, 0, 1))
    assert dist[~np.eye(9, dtype=bool)].min() >= 99
    pos = static.site_positions(pts.iloc[:1], spacing_m=100, reserved=[(500_000, 4_000_000)])
    assert np.hypot(*(pos[0] - (500_000, 4_000_000))) == pytest.approx(100)


def test_labels_do_not_overlap_each_other(view_of):
    labels = [(0.0, 0.0, "城西区"), (10.0, 0.0, "城中区"), (0.0, 5.0, "城北区")]
    placed = static.place_labels(labels, m_per_pt=10, size=12)
    boxes = []
    for x, y, text in placed:
        w = (static.text_width(text, 12) + 6) * 10
        boxes.append((x - w / 2, y - 75, x + w / 2, y + 75))
    for i in range(len(boxes)):
        for j in range(i):
            a, b = boxes[i], boxes[j]
            assert not (a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1)


def test_city_maps_get_an_inset_of_the_urban_districts(view_of):
    assert static.inset_extent(view_of().spec) is not None
    assert static.inset_extent(view_of(level="township").spec) is not None
    assert static.inset_extent(view_of(county="630121").spec) is None
    _, facts = static.map_figure(view_of().spec, title="t")
    inset = facts["inset"]
    assert inset["extent"][1] - inset["extent"][0] < 0.5 * (facts["extent"][1] - facts["extent"][0])
    inset_labels = {t for _, _, t in inset["labels"]}
    assert {"城东区", "城中区", "城西区", "城北区"} <= inset_labels
    assert not inset_labels & {t for _, _, t in facts["labels"]}  # each name once


# ---------------------------------------------------------------- images --------------------

RENDERS = [
    ("county", {}, "png", (1920, 1080)),
    ("county", {}, "png", (3840, 2160)),
    ("township", {"level": "township"}, "png", (1920, 1080)),
    ("attainment", {"mode": "attainment"}, "png", (3840, 2160)),
    ("datong_en", {"county": "630121", "lang": "en"}, "png", (1920, 1080)),
    ("chengdong", {"county": "630102"}, "png", (1920, 1080)),
    ("township", {"level": "township"}, "pdf", None),
    ("datong", {"county": "630121"}, "svg", None),
]


@pytest.mark.parametrize(("name", "state", "fmt", "size"), RENDERS)
def test_render_every_size_and_format(view_of, artifacts, name, state, fmt, size):
    view = view_of(**state)
    ctx = missing_glyphs_are_errors()
    try:
        data = static.render_view(view, fmt=fmt, size=size)
    finally:
        ctx.__exit__(None, None, None)
    stem = f"static_{name}_{size[0]}x{size[1]}" if size else f"static_{name}_a4"
    path = artifacts / f"{stem}.{fmt}"
    path.write_bytes(data)
    if fmt == "png":
        im = Image.open(path)
        assert im.size == size
        px = np.asarray(im.convert("L"), dtype=float)
        assert px.std() > 20  # not blank
        h = px.shape[0]
        assert (px[: int(h * 0.12)] < 80).mean() > 0.005  # a dark, large title at the top
    elif fmt == "svg":
        root = ET.fromstring(data)
        width, height = root.get("width"), root.get("height")
        assert width.endswith("pt") and height.endswith("pt")
        assert float(width[:-2]) == pytest.approx(static.PAPERS["a4"][0] * 72, abs=1)
        assert float(height[:-2]) == pytest.approx(static.PAPERS["a4"][1] * 72, abs=1)
        assert data.count(b"<path") > 100  # text as outlines: shows without the font
    else:
        assert data.startswith(b"%PDF")


def test_the_png_text_uses_only_the_cjk_font(view_of):
    fig, _ = static.map_figure(view_of(level="township").spec, title="西宁", subtitle="测试")
    files = {t.get_fontproperties().get_file() for t in texts(fig)}
    assert files == {static.cjk_font_path()}


@needs_poppler
def test_map_pdf_embeds_the_cjk_font_and_turns_into_a_png(view_of, artifacts):
    view = view_of(level="township")
    path = artifacts / "static_township_a4_check.pdf"
    path.write_bytes(static.render_view(view, fmt="pdf"))
    pages, size = pdf_pages(path)
    assert pages == 1
    assert size.startswith("841.68 x 595.44")  # A4 landscape in points
    assert_only_cjk_font(path)
    pngs = pdftoppm(path, artifacts / "static_township_a4_pdftoppm")
    assert len(pngs) == 1
    assert Image.open(pngs[0]).size == (1169, 827)  # A4 landscape at 100 dpi


@needs_poppler
def test_pdftoppm_text_is_chinese_not_boxes(view_of, tmp_path):
    """pdftotext reads the Chinese back: the glyphs carry their Unicode (no tofu)."""
    pdftotext = shutil.which("pdftotext")
    if not pdftotext:
        pytest.skip("pdftotext (poppler-utils) not installed")
    path = tmp_path / "m.pdf"
    path.write_bytes(static.render_view(view_of(), fmt="pdf"))
    out = subprocess.run([pdftotext, str(path), "-"], capture_output=True, text=True, check=True)
    assert "西宁市县域创新驱动发展监测图" in out.stdout
    assert "孵化载体" in out.stdout


def test_bad_sizes_and_formats_are_refused(view_of):
    spec = view_of().spec
    with pytest.raises(ValueError, match="outside"):
        static.render(spec, title="t", size=(100, 50))
    with pytest.raises(ValueError, match="landscape"):
        static.render(spec, title="t", size=(1080, 1920))
    with pytest.raises(ValueError, match="format"):
        static.render(spec, title="t", fmt="gif")
    with pytest.raises(ValueError, match="paper"):
        static.render(spec, title="t", fmt="pdf", paper="letter")


# ---------------------------------------------------------------- briefs --------------------


@pytest.fixture(scope="module")
def all_briefs(units, sites, artifacts) -> tuple[Path, dict]:
    """The 8-page PDF, written the way county_briefs writes it, with each page's layout facts."""
    from matplotlib.backends.backend_pdf import PdfPages

    facts: dict = {}
    buf = io.BytesIO()
    ctx = missing_glyphs_are_errors()
    try:
        with PdfPages(buf) as pdf:
            for code, fig, page in brief.brief_figures(units, sites, plan=load_plan()):
                facts[code] = page
                pdf.savefig(fig, facecolor="white")
    finally:
        ctx.__exit__(None, None, None)
    path = artifacts / "briefs_all.pdf"
    path.write_bytes(buf.getvalue())
    return path, facts


@needs_poppler
def test_all_briefs_are_8_a4_pages_in_the_cjk_font(all_briefs, artifacts):
    all_briefs, _ = all_briefs
    pages, size = pdf_pages(all_briefs)
    assert pages == 8  # the city + 7 counties
    assert size.startswith("595.44 x 841.68")  # A4 portrait
    assert_only_cjk_font(all_briefs)
    for old in artifacts.glob("briefs_all_page-*.png"):
        old.unlink()
    pngs = pdftoppm(all_briefs, artifacts / "briefs_all_page", dpi=100)
    assert len(pngs) == 8
    for png in pngs:
        im = Image.open(png)
        assert im.size == (827, 1169)
        assert np.asarray(im.convert("L")).std() > 20


@needs_poppler
def test_brief_text_names_each_county_and_its_caveats(all_briefs, units):
    all_briefs, _ = all_briefs
    pdftotext = shutil.which("pdftotext")
    if not pdftotext:
        pytest.skip("pdftotext (poppler-utils) not installed")
    out = subprocess.run(
        [pdftotext, str(all_briefs), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = out.split("\f")
    assert "西宁市" in pages[0]
    for page, name in zip(pages[1:8], units.counties["name"], strict=True):
        assert f"县域创新驱动发展简报·{name}" in re.sub(r"\s", "", page)
        assert "数据说明" in page
        assert "不等于 0" in page


def check_fit(code: str, facts: dict) -> None:
    assert facts["overflow_in"] == 0, f"{code} runs into the footer"
    assert facts["map_h_in"] > 3.0, f"{code}: map squeezed"
    assert facts["map"]["legend_overflow_pt"] == 0, f"{code}: legend too long"


def test_brief_pages_fit_on_the_page(all_briefs, units):
    _, facts = all_briefs
    assert list(facts) == ["630100", *units.counties["code"]]  # the city, then 7 counties
    for code, page in facts.items():
        check_fit(code, page)


def test_english_brief_pages_fit_on_the_page(units, sites):
    for code, _, facts in brief.brief_figures(
        units, sites, counties="city,湟中", lang="en", plan=load_plan()
    ):
        check_fit(code, facts)


def test_brief_kpis_are_the_views_attainment_and_coverage(units, sites, view_of):
    code = "630106"
    view = view_of(level="township", county=code)
    boxes, missing = brief.attainment_kpis(view, code, "zh")
    rows = view.attainment[view.attainment["scope_code"] == code]
    assert len(boxes) + len(missing) == len(rows)
    for box in boxes:
        row = rows[rows["indicator_zh"] == box.label].iloc[0]
        assert box.status == row["status"]
    counts = brief.site_counts(view).set_index("layer")
    table = summarize(units, view.sites, level="county").set_index("code")
    for key in LAYERS:
        assert counts.at[key, "n"] == table.at[code, f"n_{key}"]
        assert counts.at[key, "sample"] == table.at[code, f"n_{key}_sample"]
    notes = brief.caveats(view, code, counts.reset_index(), "zh")
    assert any("近似区域" in n for n in notes)
    assert any("示例" in n for n in notes)


def test_brief_scopes_by_code_name_and_alias(units):
    every = brief.resolve_scopes(units, None)
    assert len(every) == 8 and every[0] == "630100"
    assert brief.resolve_scopes(units, "all") == every
    assert brief.resolve_scopes(units, "大通") == ["630121"]
    assert brief.resolve_scopes(units, "630121,城西区") == ["630121", "630104"]
    assert brief.resolve_scopes(units, ["city", "湟中县"]) == ["630100", "630106"]
    with pytest.raises(InputError, match="Unknown county: 北京"):
        brief.resolve_scopes(units, "北京")


@needs_poppler
def test_one_county_brief_by_short_name(units, sites, artifacts):
    path = artifacts / "brief_datong_en.pdf"
    path.write_bytes(
        brief.county_briefs(units, sites, counties=["大通"], lang="en", plan=load_plan())
    )
    assert pdf_pages(path)[0] == 1
    assert_only_cjk_font(path)


# ---------------------------------------------------------------- command line --------------


def test_view_query_is_parsed_like_the_dashboard_link(units):
    s = parse_view("mode=coverage&level=township&layer=park&show=park&show=incubator", units)
    assert (s.mode, s.level, s.layer, s.show) == (
        "coverage",
        "township",
        "park",
        ("park", "incubator"),
    )
    s = parse_view("http://localhost:8501/?county=%E5%A4%A7%E9%80%9A&samples=false&lang=en", units)
    assert (s.county, s.samples, s.lang, s.level) == ("630121", False, "en", "township")
    assert parse_view("?show=park,ecommerce&k=4&year=2020", units).show == ("park", "ecommerce")
    assert parse_view("", units) == ViewState().normalized()
    for bad, msg in [
        ("leve=township", "unknown key leve"),
        ("mode=map", "mode='map'"),
        ("samples=maybe", "not true or false"),
        ("county=北京", "not a county"),
        ("k=12", "outside"),
        ("show=parks", "show='parks'"),
    ]:
        with pytest.raises(InputError, match=msg):
            parse_view(bad, units)


def test_size_argument():
    assert parse_size("1920x1080") == (1920, 1080)
    assert parse_size("4k") == (3840, 2160)
    assert parse_size("3840×2160") == (3840, 2160)
    for bad in ("big", "1920", "10x10"):
        with pytest.raises(InputError):
            parse_size(bad)


def test_cli_render_png_svg_pdf(tmp_path, capsys):
    png = tmp_path / "out" / "map.png"
    view = "mode=coverage&level=county&layer=incubator"
    assert cli_main(["render", "--view", view, "-o", str(png)]) == 0
    assert Image.open(png).size == (1920, 1080)
    assert cli_main(["render", "--view", "county=湟源", "-o", str(tmp_path / "m.svg")]) == 0
    assert ET.fromstring((tmp_path / "m.svg").read_bytes()).get("width").endswith("pt")
    assert cli_main(["render", "--paper", "a3", "-o", str(tmp_path / "m.pdf")]) == 0
    assert (tmp_path / "m.pdf").read_bytes().startswith(b"%PDF")
    assert "wrote" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["render", "--view", "level=city", "-o", "x.png"], "level='city'"),
        (["render", "--size", "1920x1080", "-o", "x.pdf"], "--size is for .png"),
        (["render", "--size", "huge", "-o", "x.png"], "--size"),
        (["render", "-o", "x.gif"], "must end in .png, .pdf or .svg"),
        (["render", "--view", "mode=attainment&target=nope", "-o", "x.png"], "target='nope'"),
        (["render", "--sites", "missing.csv", "-o", "x.png"], "no such file"),
        (["brief", "--county", "北京", "-o", "x.pdf"], "Unknown county"),
        (["brief", "-o", "x.png"], "written as .pdf"),
        (["brief", "--lang", "fr", "-o", "x.pdf"], "invalid choice"),
    ],
)
def test_cli_refuses_bad_arguments_with_exit_2(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    try:
        code = cli_main(args)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("x.*"))


def test_cli_help_and_a_real_process(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "maps", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0
    assert "render" in out.stdout and "brief" in out.stdout
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "maps",
            "brief",
            "--county",
            "630123",
            "-o",
            str(tmp_path / "b.pdf"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "1 pages" in out.stderr


@needs_poppler
def test_uploaded_names_are_plain_text_not_math(units, sites, tmp_path):
    """A '$' in a site name (a planner's upload) is printed as is, not parsed as mathtext."""
    odd = sites.copy()
    row = odd.index[(odd["county_code"] == "630121") & ~odd["is_sample"]][0]
    odd.loc[row, "name"] = "成本 $5$ 与 $\\alpha$ 园区"
    path = tmp_path / "odd.pdf"
    path.write_bytes(brief.county_briefs(units, odd, counties=["630121"], plan=load_plan()))
    assert_only_cjk_font(path)
    out = subprocess.run(
        [shutil.which("pdftotext"), str(path), "-"], capture_output=True, text=True, check=True
    )
    assert "成本 $5$ 与 $\\alpha$" in out.stdout
