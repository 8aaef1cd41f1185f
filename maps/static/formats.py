"""Output formats: PNG at exact slide pixel sizes, PDF and SVG on paper, with date-free metadata
so the same map gives the same file; :func:`render_view` draws a computed dashboard view."""

from __future__ import annotations

import io

from matplotlib.figure import Figure

from maps.static.captions import view_titles
from maps.static.figure import map_figure
from maps.static.style import (
    ASPECT_RANGE,
    CREATOR,
    DEFAULT_SIZE,
    FORMATS,
    MAX_PIXELS,
    MIN_PIXELS,
    PAPERS,
    SLIDE_INCHES,
)
from viewmodel.mapspec import MapSpec


def check_size(size: tuple[int, int]) -> None:
    """Raise ValueError for a pixel size a slide image cannot have."""
    w, h = size
    if not (MIN_PIXELS[0] <= w <= MAX_PIXELS[0] and MIN_PIXELS[1] <= h <= MAX_PIXELS[1]):
        raise ValueError(
            f"Image size {w}x{h} is outside {MIN_PIXELS[0]}x{MIN_PIXELS[1]}"
            f"–{MAX_PIXELS[0]}x{MAX_PIXELS[1]} pixels."
        )
    if not ASPECT_RANGE[0] <= w / h <= ASPECT_RANGE[1]:
        raise ValueError(
            f"Image size {w}x{h} is not a landscape slide (width/height between "
            f"{ASPECT_RANGE[0]} and {ASPECT_RANGE[1]}, e.g. 1920x1080)."
        )


def _figure_size(fmt: str, size: tuple[int, int] | None, paper: str) -> tuple[float, float, float]:
    """(width in, height in, dpi) for a format; PNG pixel sizes come out exact."""
    if fmt == "png":
        w_px, h_px = size or DEFAULT_SIZE
        check_size((w_px, h_px))
        dpi = w_px / SLIDE_INCHES[0]
        # a hair over exact, so matplotlib's rounding down never loses a pixel row
        return SLIDE_INCHES[0], (h_px + 1e-3) / dpi, dpi
    if paper not in PAPERS:
        raise ValueError(f"Unknown paper '{paper}'. Use one of {', '.join(PAPERS)}.")
    w, h = PAPERS[paper]
    return w, h, 72.0


def save_figure(fig: Figure, fmt: str, *, dpi: float = 72.0, title: str = "") -> bytes:
    """Figure → bytes; metadata without dates, so the same map gives the same file."""
    buf = io.BytesIO()
    if fmt == "pdf":
        metadata = {"Title": title, "Creator": CREATOR, "CreationDate": None}
    elif fmt == "svg":
        metadata = {"Title": title, "Creator": CREATOR, "Date": None}
    else:
        metadata = {"Title": title, "Software": CREATOR}
    fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white", metadata=metadata)
    return buf.getvalue()


def render(
    spec: MapSpec,
    *,
    fmt: str = "png",
    title: str,
    subtitle: str = "",
    data_date: str = "",
    source: str | None = None,
    size: tuple[int, int] | None = None,
    paper: str = "a4",
) -> bytes:
    """The map of ``spec`` as PNG (``size`` pixels, default 1920×1080), PDF or SVG (``paper``)."""
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"Unknown image format '{fmt}'. Use one of {', '.join(FORMATS)}.")
    width, height, dpi = _figure_size(fmt, size, paper)
    fig, _ = map_figure(
        spec,
        title=title,
        subtitle=subtitle,
        data_date=data_date,
        source=source,
        width_in=width,
        height_in=height,
    )
    return save_figure(fig, fmt, dpi=dpi, title=title)


def render_png(spec: MapSpec, *, title: str, size: tuple[int, int] = DEFAULT_SIZE, **kw) -> bytes:
    """PNG of exactly ``size`` pixels (1920×1080 or 3840×2160 for slides)."""
    return render(spec, fmt="png", title=title, size=size, **kw)


def render_pdf(spec: MapSpec, *, title: str, paper: str = "a4", **kw) -> bytes:
    """One-page vector PDF (A4 landscape by default; text in the embedded CJK font)."""
    return render(spec, fmt="pdf", title=title, paper=paper, **kw)


def render_svg(spec: MapSpec, *, title: str, paper: str = "a4", **kw) -> bytes:
    """Vector SVG (text as outlines, so it looks the same on machines without the font)."""
    return render(spec, fmt="svg", title=title, paper=paper, **kw)


def render_view(
    view,
    *,
    fmt: str = "png",
    size: tuple[int, int] | None = None,
    paper: str = "a4",
) -> bytes:
    """The static image of a computed dashboard view: what the app's download button serves."""
    title, subtitle, when = view_titles(view)
    return render(
        view.spec,
        fmt=fmt,
        title=title,
        subtitle=subtitle,
        data_date=when,
        size=size,
        paper=paper,
    )
