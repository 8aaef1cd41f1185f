"""Page style: sizes in points (:class:`Style`), colours, page and pixel sizes, the CRS.

The constants every other part of the static map reads; it imports nothing from the package.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from matplotlib.patheffects import withStroke

UTM = "EPSG:32647"  # UTM zone 47N: metres, for the scale bar (never degrees)
FORMATS = ("png", "pdf", "svg")
SLIDE_INCHES = (12.8, 7.2)  # a 16:9 slide; PNG pixel sizes set the dpi on this canvas
SIZES: dict[str, tuple[int, int]] = {"1080p": (1920, 1080), "4k": (3840, 2160)}
DEFAULT_SIZE = SIZES["1080p"]
PAPERS: dict[str, tuple[float, float]] = {  # landscape, inches
    "a4": (11.69, 8.27),
    "a3": (16.54, 11.69),
    "slide": SLIDE_INCHES,
}
MIN_PIXELS, MAX_PIXELS = (640, 360), (7680, 4320)
ASPECT_RANGE = (1.2, 2.5)  # width / height of a static map image

INK = "#1b1b1b"
MUTED = "#555555"
FRAME = "#8a8a8a"
STAR = "#c00000"
CREATOR = "Xining county innovation map (maps.static)"


@dataclass(frozen=True)
class Style:
    """Sizes in points for one canvas (``scale`` also multiplies line widths and gaps)."""

    scale: float = 1.0
    title: float = 26
    subtitle: float = 15
    meta: float = 12
    legend_title: float = 13.5
    legend: float = 12.5
    note: float = 11
    label: float = 13
    marker: float = 15  # site marker diameter
    footer: float = 9.5

    def scaled(self, factor: float) -> Style:
        """Every size times ``factor`` (a larger or smaller page with the same layout)."""
        values = {f.name: getattr(self, f.name) * factor for f in fields(self)}
        return replace(self, **values)


BRIEF_STYLE = Style(
    scale=1.0,
    title=18,
    subtitle=10,
    meta=9,
    legend_title=9.5,
    legend=8.8,
    note=8,
    label=9,
    marker=11,
    footer=7,
)


def _halo(width: float = 3.0) -> list:
    return [withStroke(linewidth=width, foreground="white")]
