"""Analysts' command line: ``python -m geo summarize|assign|attainment|qgis|actuals``.

Exit codes: 0 success; 1 some input rows were rejected or could not be placed in the city, or
some features of ``--boundaries`` matched no township (the good rows are still processed; the
bad ones are printed with row number and reason); 2 the input or the arguments are unusable.

``actuals template`` writes the workbook planners fill in with reported statistics; ``actuals
check FILE`` reads a filled one (or a long table) and prints the accepted, rejected and empty
rows and each rejection, in Chinese (``--lang en``: English); exit 0 all accepted, 1 some
rejected, 2 the file is unusable. ``actuals load FILE [--by NAME]`` checks it and saves the
accepted figures as a new version in the configured store (a figure of the same indicator,
county and year is replaced; the others stay); ``actuals export -o FILE.csv``, ``actuals
history`` and ``actuals undo`` work on the stored figures. ``attainment --as-of YEAR`` takes the
latest figure of YEAR or before for each reported target.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from base.errors import InputError, StoreError, message
from base.settings import PLAN_DIR
from geo.attainment import attainment
from geo.backends import get_backend
from geo.backends.saving import SaveOutcome, merge_figures, save_figures, undo_figures
from geo.boundaries import Units
from geo.classify import classify
from geo.coverage import LEVELS, METRICS, summarize
from geo.export import FORMATS, export, format_from_suffix, to_csv
from geo.loader import load_plan, load_sites, load_units
from geo.official import load_township_boundaries, report_lines
from geo.pipeline import Sites
from geo.qgis import qgis_project
from geo.report import REJECTED, assignment_rows, report_csv, sites_for_export
from layers.actuals import ActualsLoad, read_actuals, read_indicators, template_workbook
from layers.readers import load_source
from layers.schema import LAYERS

EXIT_OK, EXIT_ROWS, EXIT_UNUSABLE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 already; keep the message short
        self.print_usage(sys.stderr)
        self.exit(EXIT_UNUSABLE, f"{self.prog}: error: {message}\n")


def _add_site_args(p: argparse.ArgumentParser, *, required: bool = False) -> None:
    p.add_argument(
        "--sites",
        nargs="+",
        type=Path,
        default=[],
        required=required,
        metavar="FILE",
        help="registry files (CSV, XLSX, GeoJSON, zipped Shapefile, GeoPackage; canonical "
        "or Chinese headers); each replaces the bundled registry of the layers it contains",
    )
    p.add_argument(
        "--crs",
        metavar="NAME",
        help="coordinate system of the --sites files when a row does not say "
        "(WGS84, CGCS2000, GCJ-02, BD-09, EPSG:nnnn)",
    )
    p.add_argument("--sheet", metavar="NAME", help="XLSX sheet or GeoPackage layer to read")
    p.add_argument(
        "--boundaries",
        type=Path,
        metavar="FILE",
        help="official township polygons (zipped Shapefile, GeoPackage, GeoJSON) replacing the "
        "approximate zones of the units they cover",
    )
    p.add_argument(
        "--boundaries-crs", metavar="NAME", help="coordinate system of --boundaries if no .prj"
    )
    p.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="also write the validation report (every rejected row and warning) as CSV",
    )
    p.add_argument(
        "--include-samples",
        action="store_true",
        help="also count the clearly labelled sample records (left out by default)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m geo", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("summarize", help="one row per county or township with coverage fields")
    s.add_argument("--level", choices=LEVELS, default="county")
    s.add_argument(
        "--layer",
        nargs="+",
        choices=list(LAYERS),
        metavar="NAME",
        help=f"layers to summarise (default all: {', '.join(LAYERS)})",
    )
    _add_site_args(s)
    s.add_argument("--format", choices=FORMATS, help="default: from the output file suffix")
    s.add_argument("-o", "--output", type=Path, required=True)

    a = sub.add_parser("assign", help="every input site with its county and township")
    _add_site_args(a, required=True)
    a.add_argument("-o", "--output", type=Path, required=True, help=".geojson or .csv")

    t = sub.add_parser("attainment", help="the plan's targets against actuals")
    _add_site_args(t)
    t.add_argument(
        "--as-of",
        type=int,
        metavar="YEAR",
        help="count sites with year <= YEAR, and take figures of YEAR or before",
    )
    t.add_argument("--format", choices=("csv", "json"), help="default: from the output suffix")
    t.add_argument("-o", "--output", type=Path, required=True)

    q = sub.add_parser("qgis", help="a QGIS project (.qgz) and its GeoPackage, styled as the map")
    q.add_argument(
        "--layer", choices=list(LAYERS), default="incubator", help="layer counted per county"
    )
    q.add_argument("--lang", choices=("zh", "en"), default="zh")
    _add_site_args(q)
    q.add_argument("-o", "--output", type=Path, required=True, help="the .qgz to write")
    _add_actuals_args(sub)
    return parser


def _add_actuals_args(sub: argparse._SubParsersAction) -> None:
    """``actuals template`` and ``actuals check``: reported statistics in a workbook."""
    r = sub.add_parser("actuals", help="reported statistics: the fill-in workbook and its check")
    steps = r.add_subparsers(dest="actuals_command", required=True, parser_class=_Parser)
    t = steps.add_parser("template", help="write the XLSX workbook planners fill in (填报模板)")
    t.add_argument("-o", "--output", type=Path, required=True, help="the .xlsx to write")
    c = steps.add_parser(
        "check", help="read a filled workbook or a long table (CSV, XLSX); list every rejection"
    )
    c.add_argument("file", type=Path, metavar="FILE", help="the filled workbook or a long table")
    ld = steps.add_parser(
        "load",
        help="check FILE and save its figures as a new version (same indicator, county "
        "and year replaced; the others kept)",
    )
    ld.add_argument("file", type=Path, metavar="FILE", help="the filled workbook or a long table")
    ld.add_argument("--by", default="", help="your name, kept in the history")
    ex = steps.add_parser("export", help="write the current figures as CSV")
    ex.add_argument("-o", "--output", type=Path, required=True, help="the .csv to write")
    hi = steps.add_parser("history", help="every saved version of the figures")
    un = steps.add_parser("undo", help="go back to the figures before the latest save")
    un.add_argument("--by", default="", help="your name, kept in the history")
    for p in (t, c, ld, ex, hi, un):
        p.add_argument("--lang", choices=("zh", "en"), default="zh", help="message language")


def _units(args: argparse.Namespace) -> Units:
    """Bundled units, with official township polygons from ``--boundaries`` when given."""
    units = load_units()
    args.boundary_report = None
    if getattr(args, "boundaries", None):
        units, args.boundary_report = load_township_boundaries(
            args.boundaries, units=units, crs=args.boundaries_crs
        )
    return units


def _report(sites: Sites, args: argparse.Namespace) -> bool:
    """Print what was not used and why; write ``--report``. True when boundaries left features."""
    unmatched = False
    if args.boundary_report is not None:
        for line in report_lines(args.boundary_report):
            print(line, file=sys.stderr)
        unmatched = bool(args.boundary_report["kind"].eq("unmatched_feature").any())
    for line in sites.load.warnings:
        print(f"warning: {line}", file=sys.stderr)
    for r in sites.load.rejects.itertuples(index=False):
        value = f" ({r.value})" if str(r.value) else ""
        print(
            f"rejected: {r.file} row {r.row}, column {r.column}: {r.reason}{value}", file=sys.stderr
        )
    placed = assignment_rows(sites.load, sites.assigned)
    user_files = {p.name for p in args.sites}
    for r in placed.itertuples(index=False):
        if r.outcome == REJECTED:
            print(f"rejected: {r.file} row {r.row}, column {r.column}: {r.reason}", file=sys.stderr)
        elif r.file in user_files:
            print(f"warning: {r.file} row {r.row}: {r.reason}", file=sys.stderr)
    for r in sites.problems.itertuples(index=False):
        if "outside_city" in r.flags or "unplaced" in r.flags:
            continue  # printed above as rejected, with the distance
        print(f"problem: {r.file} row {r.row} '{r.name}': {r.flags}", file=sys.stderr)
    if args.report is not None:
        report = sites.report
        if user_files:  # the report is about the files given, not the bundled registries
            report = report[report["file"].isin(user_files)]
        _write(args.report, report_csv(report))
        print(f"wrote {args.report}", file=sys.stderr)
    return unmatched


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def _summarize(args: argparse.Namespace) -> Sites:
    units = _units(args)
    fmt = args.format or format_from_suffix(args.output)
    sites = load_sites(
        units,
        site_files=args.sites,
        layers=args.layer,
        include_samples=args.include_samples,
        crs=args.crs,
        sheet=args.sheet,
    )
    table = summarize(units, sites.assigned, level=args.level, layers=args.layer)
    if fmt in ("csv", "xlsx"):
        table = table.drop(columns="geometry")
    _write(args.output, export(table, fmt, layer=f"{args.level}_coverage"))
    return sites


def _assign(args: argparse.Namespace) -> Sites:
    units = _units(args)
    fmt = format_from_suffix(args.output)
    if fmt not in ("geojson", "csv"):
        raise InputError("assign writes .geojson or .csv")
    sites = load_sites(
        units, site_files=args.sites, include_samples=True, crs=args.crs, sheet=args.sheet
    )
    user_files = {p.name for p in args.sites}
    # lon/lat are WGS84 here: say so, so the file reads back to the same points.
    out = sites_for_export(sites.assigned[sites.assigned["file"].isin(user_files)])
    _write(args.output, export(out, fmt, layer="sites"))
    return sites


def _attainment(args: argparse.Namespace) -> Sites:
    units = _units(args)
    fmt = args.format or {".json": "json"}.get(args.output.suffix.lower(), "csv")
    sites = load_sites(
        units, site_files=args.sites, include_samples=False, crs=args.crs, sheet=args.sheet
    )
    table = attainment(units, sites.assigned, load_plan(), as_of=args.as_of)
    if fmt == "json":
        data = json.dumps(
            json.loads(table.to_json(orient="records", force_ascii=False)),
            ensure_ascii=False,
            indent=1,
        ).encode("utf-8")
    else:
        data = export(table, "csv")
    _write(args.output, data)
    return sites


def _qgis(args: argparse.Namespace) -> Sites:
    """Counties coloured by the number of sites of ``--layer`` with the map's classes, the
    townships and every mapped site, as a QGIS project with its GeoPackage beside it."""
    if args.output.suffix.lower() != ".qgz":
        raise InputError(f"-o {args.output}: a QGIS project is written as .qgz")
    units = _units(args)
    sites = load_sites(
        units,
        site_files=args.sites,
        include_samples=args.include_samples,
        crs=args.crs,
        sheet=args.sheet,
    )
    table = summarize(units, sites.assigned, level="county")
    classes = classify(table[f"n_{args.layer}"], lang=args.lang)
    table["fill"] = classes.color_of()
    zh, en, *_ = METRICS["count"]
    layer = LAYERS[args.layer]
    title = f"{layer.en}: {en}" if args.lang == "en" else f"{layer.zh}：{zh}"
    towns = summarize(units, sites.assigned, level="township")
    files = qgis_project(
        table,
        legend=classes.legend(),
        legend_title=title,
        sites=sites_for_export(sites.assigned),
        townships=towns,
        lang=args.lang,
        name=args.output.stem,
    )
    _, gpkg = files.write(args.output.parent)
    print(f"wrote {gpkg}", file=sys.stderr)
    return sites


def _vocabulary() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The indicators, the plan's targets and the counties that figures are checked against
    (the store's targets and units, so the workbook and the check agree with the dashboard)."""
    targets = load_plan().targets
    indicators = read_indicators(PLAN_DIR / "indicators.csv", targets=targets)
    return indicators, targets, load_units().counties


def _actuals_template(args: argparse.Namespace) -> int:
    """Write the fill-in workbook (``-o``, .xlsx)."""
    if args.output.suffix.lower() != ".xlsx":
        raise InputError(
            f"-o {args.output}: the workbook is written as .xlsx",
            zh=f"-o {args.output}: 填报模板须保存为 .xlsx",
        )
    indicators, targets, counties = _vocabulary()
    _write(args.output, template_workbook(indicators, targets, counties))
    print(f"已写入 {args.output}" if args.lang == "zh" else f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def _check_lines(load: ActualsLoad, name: str, *, lang: str) -> list[str]:
    """The counts, then one line per rejected row (sheet, row, column, reason)."""
    accepted, rejected = len(load.frame), len(load.rejects)
    if lang == "zh":
        lines = [
            f"{name}: 读取 {load.rows_read} 行: 接受 {accepted} 行, 拒绝 {rejected} 行, "
            f"空白 {load.empty} 行"
        ]
    else:
        lines = [
            f"{name}: {load.rows_read} rows read: {accepted} accepted, {rejected} rejected, "
            f"{load.empty} empty"
        ]
    for r in load.rejects.itertuples(index=False):
        if lang == "zh":
            sheet = f"工作表“{r.sheet}”" if r.sheet else ""
            lines.append(f"拒绝: {sheet}第 {r.row} 行, 列“{r.column}”: {r.reason_zh}")
        else:
            sheet = f"sheet '{r.sheet}' " if r.sheet else ""
            lines.append(f"rejected: {sheet}row {r.row}, column {r.column}: {r.reason_en}")
    return lines


def _actuals_check(args: argparse.Namespace) -> int:
    """Read FILE as figures and print every rejection; exit 1 when any row was rejected."""
    data, name, _path = load_source(args.file)
    indicators, _targets, counties = _vocabulary()
    load = read_actuals(data, filename=name, indicators=indicators, counties=counties)
    print("\n".join(_check_lines(load, name, lang=args.lang)))
    return EXIT_ROWS if len(load.rejects) else EXIT_OK


def _saved_line(out: SaveOutcome, *, lang: str) -> str:
    if out.saved and out.version == out.previous:
        return (
            f"与当前第 {out.version} 版相同, 未保存"
            if lang == "zh"
            else (f"same as the current version {out.version}; nothing saved")
        )
    if out.saved:
        return f"已保存为第 {out.version} 版" if lang == "zh" else f"saved as version {out.version}"
    why = message(out.reason, lang) if out.reason is not None else out.error
    return f"未保存: {why}" if lang == "zh" else f"not saved: {why}"


def _actuals_load(args: argparse.Namespace) -> int:
    """Check FILE, save its accepted figures over the current ones (a new version); exit 1
    when some rows were rejected (the others are saved), 2 when nothing could be saved."""
    data, name, _path = load_source(args.file)
    indicators, _targets, counties = _vocabulary()
    load = read_actuals(data, filename=name, indicators=indicators, counties=counties)
    print("\n".join(_check_lines(load, name, lang=args.lang)))
    if load.frame.empty:
        return EXIT_ROWS if len(load.rejects) else EXIT_OK
    store = get_backend()
    stored = store.load_actuals()
    merged = merge_figures(stored.frame, load.frame)
    out = save_figures(
        store, merged, base_version=stored.version, saved_by=args.by, message=f"load {name}"
    )
    print(_saved_line(out, lang=args.lang), file=sys.stderr)
    if not out.saved:
        return EXIT_UNUSABLE
    return EXIT_ROWS if len(load.rejects) else EXIT_OK


def _actuals_export(args: argparse.Namespace) -> int:
    """The current figures as CSV, with who entered each and when (the store's record)."""
    frame = get_backend().load_actuals().frame
    _write(args.output, to_csv(frame))
    print(f"已写入 {args.output}" if args.lang == "zh" else f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def _actuals_history(args: argparse.Namespace) -> int:
    print(get_backend().actuals_history().to_string(index=False))
    return EXIT_OK


def _actuals_undo(args: argparse.Namespace) -> int:
    out = undo_figures(get_backend(), saved_by=args.by)
    print(_saved_line(out, lang=args.lang), file=sys.stderr)
    return EXIT_OK if out.saved else EXIT_ROWS


ACTUALS = {
    "template": _actuals_template,
    "check": _actuals_check,
    "load": _actuals_load,
    "export": _actuals_export,
    "history": _actuals_history,
    "undo": _actuals_undo,
}


def _actuals(args: argparse.Namespace) -> int:
    """Run an ``actuals`` step; an unusable file or store is one sentence (exit 2)."""
    try:
        return ACTUALS[args.actuals_command](args)
    except (InputError, StoreError, OSError) as exc:
        label = "错误" if args.lang == "zh" else "error"
        print(f"{label}: {message(exc, args.lang)}", file=sys.stderr)
        return EXIT_UNUSABLE


COMMANDS = {
    "summarize": _summarize,
    "assign": _assign,
    "attainment": _attainment,
    "qgis": _qgis,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "actuals":
        return _actuals(args)
    try:
        sites = COMMANDS[args.command](args)
    except (InputError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except (OSError, pd.errors.EmptyDataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    unmatched = _report(sites, args)
    print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_ROWS if sites.has_issues or unmatched else EXIT_OK
