"""Slide images and county briefs from the command line: ``python -m maps render|brief``.

    python -m maps render --view "mode=coverage&level=county&layer=incubator" \\
        --size 1920x1080 -o out/map.png
    python -m maps render --view "county=630121" -o out/datong.pdf
    python -m maps brief --county all -o out/briefs.pdf

``--view`` takes the dashboard's URL query string (or the whole link), so a view can be pasted
from the browser. The output suffix picks the format: .png (``--size``), .pdf or .svg
(``--paper``). Exit codes: 0 written; 1 written, but some rows of ``--sites`` files were
rejected or lie outside Xining; 2 unusable arguments or input (nothing written).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd

from base.errors import InputError, StoreError
from geo.boundaries import Units
from geo.classify import SCHEMES
from geo.loader import load_plan, load_sites, load_units
from layers.schema import LAYERS
from maps import brief, static
from maps.static import SIZES, check_size
from viewmodel.views import (
    DEFAULT_YEAR,
    METRICS,
    MODES,
    UNIT_LEVELS,
    ViewState,
    build_view,
    plan_marks,
)

EXIT_OK, EXIT_ROWS, EXIT_UNUSABLE = 0, 1, 2
SUFFIXES = {".png": "png", ".pdf": "pdf", ".svg": "svg"}
IGNORED_KEYS = {"basemap", "meeting", "embed", "embed_options"}  # no tiles in a static map
TRUE, FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.print_usage(sys.stderr)
        self.exit(EXIT_UNUSABLE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m maps",
        description="Static map images (PNG for slides, PDF/SVG for print) and county briefs.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser(
        "render",
        help="one map image of a dashboard view",
        description="One map image of a dashboard view (.png, .pdf or .svg by the output suffix).",
    )
    r.add_argument(
        "--view",
        default="",
        metavar="QUERY",
        help="the dashboard's query string or link, e.g. "
        "'mode=coverage&level=township&layer=incubator' or 'county=大通&lang=en' "
        f"(keys: {', '.join(_view_keys())})",
    )
    r.add_argument(
        "--size",
        metavar="WxH",
        help="PNG pixels: 1920x1080 (default), 3840x2160, or 1080p / 4k",
    )
    r.add_argument(
        "--paper",
        choices=("a4", "a3", "slide"),
        default="a4",
        help="page for .pdf/.svg (landscape; default a4)",
    )
    _add_sites(r)
    r.add_argument("-o", "--output", type=Path, required=True, help=".png, .pdf or .svg")

    b = sub.add_parser(
        "brief",
        help="county briefs as one PDF (one A4 page per county, plus the city)",
        description="County briefs: one A4 page per county and one for the city, as one PDF.",
    )
    b.add_argument(
        "--county",
        default="all",
        metavar="WHICH",
        help="'all' (city + 7 counties, the default), 'city', or counties by code or name, "
        "comma-separated: 630121 / 大通 / 大通回族土族自治县",
    )
    b.add_argument("--lang", choices=("zh", "en"), default="zh")
    b.add_argument("--year", type=int, metavar="YEAR", help="count sites known by YEAR")
    b.add_argument(
        "--layer",
        choices=list(LAYERS),
        default="incubator",
        help="layer that colours the townships (default incubator)",
    )
    _add_sites(b)
    b.add_argument("-o", "--output", type=Path, required=True, help=".pdf")
    return parser


def _add_sites(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sites",
        nargs="+",
        type=Path,
        default=[],
        metavar="FILE",
        help="registry files (canonical schema); each replaces the bundled registry of its layers",
    )


def _view_keys() -> list[str]:
    return [f.name for f in fields(ViewState)]


def _bool(key: str, value: str) -> bool:
    v = value.strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise InputError(f"--view: {key}={value!r} is not true or false")


def _choice(key: str, value: str, options) -> str:
    if value not in options:
        raise InputError(f"--view: {key}={value!r} is not one of {', '.join(options)}")
    return value


def _int(key: str, value: str, lo: int, hi: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise InputError(f"--view: {key}={value!r} is not a whole number") from None
    if not lo <= n <= hi:
        raise InputError(f"--view: {key}={n} is outside {lo}–{hi}")
    return n


def parse_view(query: str, units: Units) -> ViewState:
    """A :class:`ViewState` from the dashboard's query string (or a whole link).

    Values are checked one by one (a typo is an error, not silently another view); the county
    may be a code or a name. Combinations are then normalised as the dashboard does.
    """
    params = _query_params(query)
    last = {k: v[-1] for k, v in params.items()}
    kw: dict = _choice_values(last)
    if "show" in params:
        kw["show"] = _shown_layers(params["show"])
    kw.update(_typed_values(last))
    if last.get("county", "").strip():
        kw["county"] = _county_code(last["county"], units)
    return ViewState(**kw).normalized()


def _query_params(query: str) -> dict[str, list[str]]:
    """The query string's values per key (of a whole link too, fragment dropped); an unknown
    key is an error, so a typo is not silently ignored."""
    text = query.strip()
    if "?" in text:  # a whole link: keep its query string
        text = text.split("?", 1)[1]
    text = text.split("#", 1)[0]
    params = parse_qs(text, keep_blank_values=True)
    known = set(_view_keys())
    unknown = sorted(k for k in params if k not in known and k not in IGNORED_KEYS)
    if unknown:
        raise InputError(
            f"--view: unknown key {', '.join(unknown)}; use {', '.join(sorted(known))}"
        )
    return params


def _choice_values(last: dict[str, str]) -> dict[str, str]:
    """The named choices the query sets (mode, level, metric, layer, scheme, lang, checked in
    that order), each one of its options."""
    options = (
        ("mode", MODES),
        ("level", UNIT_LEVELS),
        ("metric", list(METRICS)),
        ("layer", list(LAYERS)),
        ("scheme", list(SCHEMES)),
        ("lang", ["zh", "en"]),
    )
    return {key: _choice(key, last[key], opts) for key, opts in options if key in last}


def _shown_layers(values: list[str]) -> tuple[str, ...]:
    """The layers to show, from every ``show`` value (comma-separated), each a known layer."""
    shown = [s for v in values for s in v.split(",") if s.strip()]
    return tuple(_choice("show", s.strip(), list(LAYERS)) for s in shown)


def _typed_values(last: dict[str, str]) -> dict[str, object]:
    """The flag, numbers and target the query sets (samples, year, k, target), each checked."""
    kw: dict[str, object] = {}
    if "samples" in last:
        kw["samples"] = _bool("samples", last["samples"])
    if "year" in last:
        kw["year"] = _int("year", last["year"], 1980, 2100)
    if "k" in last:
        kw["k"] = _int("k", last["k"], 2, 7)
    if "target" in last:
        kw["target"] = last["target"]
    return kw


def _county_code(text: str, units: Units) -> str:
    """The code of the county named (by code or name); an error naming Xining's counties."""
    code = units.resolve_county(text)
    if code is None:
        raise InputError(
            f"--view: county={text!r} is not a county of Xining "
            f"({'、'.join(units.counties['name'])})"
        )
    return code


def parse_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    t = text.strip().lower()
    if t in SIZES:
        return SIZES[t]
    parts = t.replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise InputError(f"--size {text!r}: use WIDTHxHEIGHT, e.g. 1920x1080, or 1080p / 4k")
    size = (int(parts[0]), int(parts[1]))
    try:
        check_size(size)
    except ValueError as exc:
        raise InputError(f"--size: {exc}") from None
    return size


def _load(units: Units, files: list[Path]):
    for path in files:
        if not path.is_file():
            raise InputError(f"--sites: no such file {path}")
    return load_sites(units, site_files=files, include_samples=True)


def _report(sites) -> int:
    """Print rejected rows and placement problems; EXIT_ROWS if there were any."""
    if not sites.has_issues:
        return EXIT_OK
    for r in sites.load.rejects.itertuples(index=False):
        print(f"rejected: {r.file} row {r.row}, column {r.column}: {r.reason}", file=sys.stderr)
    for r in sites.problems.itertuples(index=False):
        print(f"problem: {r.file} row {r.row} '{r.name}': {r.flags}", file=sys.stderr)
    return EXIT_ROWS


def map_targets_of_plan(targets: pd.DataFrame) -> list[str]:
    """Targets that colour a county map: those every county must reach on its own (the
    targets ``viewmodel.views.map_targets`` finds in an attainment table)."""
    return list(dict.fromkeys(targets.loc[targets["aggregate"] == "each", "target_id"]))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def _render(args: argparse.Namespace) -> int:
    fmt = SUFFIXES.get(args.output.suffix.lower())
    if fmt is None:
        raise InputError(f"-o {args.output}: the file must end in .png, .pdf or .svg")
    size = parse_size(args.size)
    if size is not None and fmt != "png":
        raise InputError("--size is for .png; a .pdf or .svg takes --paper (a4, a3, slide)")
    units = load_units()
    plan = load_plan()
    state = parse_view(args.view, units)
    if state.mode == "attainment":
        targets = map_targets_of_plan(plan.targets)
        if state.target not in targets:
            raise InputError(
                f"--view: target={state.target!r} cannot colour a county map; "
                f"use one of {', '.join(targets)}"
            )
    sites = _load(units, args.sites)
    pilot_counties, pilot_towns = plan_marks(plan)
    view = build_view(
        units,
        sites.assigned,
        state,
        plan=plan,
        pilot_counties=pilot_counties,
        pilot_towns=pilot_towns,
    )
    data = static.render_view(view, fmt=fmt, size=size, paper=args.paper)
    _write(args.output, data)
    if fmt == "png":
        w, h = size or static.DEFAULT_SIZE
        what = f"{w}x{h} px"
    else:
        what = f"{args.paper} landscape"
    print(f"wrote {args.output} ({fmt}, {what}, {len(data) // 1024} KB)", file=sys.stderr)
    return _report(sites)


def _brief(args: argparse.Namespace) -> int:

    if args.output.suffix.lower() != ".pdf":
        raise InputError(f"-o {args.output}: briefs are written as .pdf")
    if args.year is not None and not 1980 <= args.year <= 2100:
        raise InputError(f"--year {args.year} is outside 1980–2100")
    units = load_units()
    scopes = brief.resolve_scopes(units, args.county)
    sites = _load(units, args.sites)
    data = brief.county_briefs(
        units,
        sites.assigned,
        counties=scopes,
        lang=args.lang,
        year=args.year or DEFAULT_YEAR,
        layer=args.layer,
        plan=load_plan(),
    )
    _write(args.output, data)
    print(f"wrote {args.output} ({len(scopes)} pages, {len(data) // 1024} KB)", file=sys.stderr)
    return _report(sites)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _render(args) if args.command == "render" else _brief(args)
    except (InputError, StoreError) as exc:
        print(f"python -m maps {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    sys.exit(main())
