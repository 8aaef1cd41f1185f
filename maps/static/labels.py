"""Place-name labels: greedy placement off other labels and markers, drawn with a white halo."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes

from maps.static.extent import _in_extent, _m_per_pt, _project_points
from maps.static.fonts import font, text_width
from maps.static.style import INK, Style, _halo
from viewmodel.mapspec import MapSpec


def _overlaps(b: Sequence[float], boxes: Sequence[Sequence[float]]) -> bool:
    return any(b[0] < p[2] and p[0] < b[2] and b[1] < p[3] and p[1] < b[3] for p in boxes)


def place_labels(
    labels: Sequence[tuple[float, float, str]],
    *,
    m_per_pt: float,
    size: float,
    obstacles: Sequence[Sequence[float]] = (),
) -> list[tuple[float, float, str]]:
    """Move labels off earlier labels and, where possible, off markers (greedy).

    Tries the anchor, then above/below, left/right and further out: the first spot clear of
    labels and ``obstacles`` (marker boxes) wins, else the first clear of labels, else the
    anchor. Positions in metres; text boxes measured in points.
    """
    placed: list[tuple[float, float, float, float]] = []
    out = []
    h = size * 1.25 * m_per_pt
    for x, y, text in labels:
        w = (text_width(text, size) + size * 0.5) * m_per_pt
        tries = [(0, 0), (0, h), (0, -h), (w * 0.6, 0), (-w * 0.6, 0), (0, 2 * h), (0, -2 * h)]
        tries += [(w * 0.6, h), (-w * 0.6, -h), (w * 0.6, -h), (-w * 0.6, h)]
        boxes = [
            (x + dx - w / 2, y + dy - h / 2, x + dx + w / 2, y + dy + h / 2) for dx, dy in tries
        ]
        free = [i for i, b in enumerate(boxes) if not _overlaps(b, placed)]
        clear = [i for i in free if not _overlaps(boxes[i], obstacles)]
        pick = clear[0] if clear else (free[0] if free else 0)
        placed.append(boxes[pick])
        out.append((x + tries[pick][0], y + tries[pick][1], text))
    return out


def _draw_labels(
    ax: Axes,
    spec: MapSpec,
    style: Style,
    *,
    hide_in: Sequence[float] | None = None,
    obstacles: Sequence[Sequence[float]] = (),
) -> list[tuple[float, float, str]]:
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    pts = [
        p
        for p in _project_points(spec.labels)
        if _in_extent(p[0], p[1], (x0, y0, x1, y1)) and not _in_extent(p[0], p[1], hide_in)
    ]
    pts = place_labels(pts, m_per_pt=_m_per_pt(ax), size=style.label, obstacles=obstacles)
    for x, y, text in pts:
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            color=INK,
            parse_math=False,
            fontproperties=font(style.label),
            path_effects=_halo(3.2 * style.scale),
            zorder=8,
            clip_on=True,
        )
    return pts
