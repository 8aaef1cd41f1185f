"""MapSpec → static map images: PNG for slides, PDF and SVG for print. No streamlit.

The interactive map (maps.render) and these images draw the same :class:`~maps.render.MapSpec`,
computed once by ``viewmodel.views.build_view``. Drawing happens in UTM 47N (EPSG:32647), so the
scale bar is in true metres and the north arrow is turned by the grid convergence.

Chinese text is set in the bundled Noto Sans CJK SC (``noto-cjk-sans-otc``); a missing font is an
error, never a silent fallback to empty boxes. Only ``matplotlib.figure.Figure`` is used (no
pyplot, no global rcParams changes), so renders are safe in Streamlit's script threads.

Modules, bottom up: ``style`` (sizes, colours, papers, CRS) and ``fonts`` (font, widths,
wrapping), ``captions`` (title, data date, source line), ``extent`` (metres, bounds, limits);
the pieces ``units``, ``sites``, ``labels``, ``inset``, ``scalebar``, ``legend``; then
``figure`` (map, panel, page) and ``formats`` (PNG/PDF/SVG, views).
"""

from maps.static.captions import data_date_text, source_text, view_titles
from maps.static.figure import draw_map, map_figure, map_panel
from maps.static.fonts import cjk_font_path, font, text_width, wrap
from maps.static.formats import (
    check_size,
    render,
    render_pdf,
    render_png,
    render_svg,
    render_view,
    save_figure,
)
from maps.static.inset import inset_extent
from maps.static.labels import place_labels
from maps.static.legend import draw_legend, draw_notes
from maps.static.scalebar import nice_length_m, north_angle_deg
from maps.static.sites import site_positions
from maps.static.style import (
    BRIEF_STYLE,
    CREATOR,
    DEFAULT_SIZE,
    FORMATS,
    INK,
    MUTED,
    PAPERS,
    SIZES,
    UTM,
    Style,
)

__all__ = [
    "BRIEF_STYLE",
    "CREATOR",
    "DEFAULT_SIZE",
    "FORMATS",
    "INK",
    "MUTED",
    "PAPERS",
    "SIZES",
    "UTM",
    "Style",
    "check_size",
    "cjk_font_path",
    "data_date_text",
    "draw_legend",
    "draw_map",
    "draw_notes",
    "font",
    "inset_extent",
    "map_figure",
    "map_panel",
    "nice_length_m",
    "north_angle_deg",
    "place_labels",
    "render",
    "render_pdf",
    "render_png",
    "render_svg",
    "render_view",
    "save_figure",
    "site_positions",
    "source_text",
    "text_width",
    "view_titles",
    "wrap",
]
