"""The bundled CJK font (Noto Sans CJK SC): registration, text widths and line wrapping.

Widths come from one private FT2Font, which is not thread-safe: glyph loads take
``_METRICS_LOCK`` (renders run in Streamlit's script threads).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from matplotlib import font_manager, ft2font

CJK_FAMILY = "Noto Sans CJK SC"


@lru_cache(maxsize=1)
def cjk_font_path() -> font_manager.FontPath:
    """The bundled CJK font file and the face index of Noto Sans CJK SC, registered once.

    Raises ``RuntimeError`` if the font package is missing: images without Chinese glyphs
    (rows of empty boxes) are worse than no image.
    """
    try:
        import noto_cjk_sans_otc
    except ImportError as exc:  # pragma: no cover - guarded by requirements.txt
        raise RuntimeError(
            "The CJK font package 'noto-cjk-sans-otc' is not installed: run scripts/setup.sh"
        ) from exc
    path = Path(str(noto_cjk_sans_otc.FONT_PATH)).resolve()
    if not path.is_file():  # pragma: no cover
        raise RuntimeError(f"CJK font file missing: {path}")
    font_manager.fontManager.addfont(str(path))
    for entry in font_manager.fontManager.ttflist:
        if entry.name == CJK_FAMILY and Path(entry.fname).resolve() == path:
            return font_manager.FontPath(str(path), entry.index)
    raise RuntimeError(f"{CJK_FAMILY} not found in {path}")  # pragma: no cover


def font(size: float) -> font_manager.FontProperties:
    """Noto Sans CJK SC at ``size`` points, selected by file and face (no fallback)."""
    return font_manager.FontProperties(fname=cjk_font_path(), size=size)


@lru_cache(maxsize=1)
def _metrics_font() -> ft2font.FT2Font:
    """A private FT2Font of the CJK face at 100 pt (for advance widths)."""
    path = cjk_font_path()
    face = ft2font.FT2Font(path.path, face_index=path.face_index)
    face.set_size(100, 72)
    return face


_METRICS_LOCK = threading.Lock()


@lru_cache(maxsize=8192)
def _advance(ch: str) -> float:
    """Advance width of one character at 1 pt."""
    with _METRICS_LOCK:
        glyph = _metrics_font().load_char(ord(ch), flags=ft2font.LoadFlags.NO_HINTING)
    return glyph.linearHoriAdvance / 65536 / 100


def text_width(text: str, size: float) -> float:
    """Width of ``text`` in points when set in the CJK font at ``size`` (sum of advances)."""
    return size * sum(_advance(ch) for ch in str(text))


_NO_LINE_START = set("，。、；：？！）》」』】〕,.;:?!)]%％·…")


def _tokens(text: str) -> list[str]:
    """Break points: every CJK character, latin words with their trailing space."""
    out: list[str] = []
    word = ""
    for ch in text:
        if ord(ch) < 0x2E80 and not ch.isspace():
            word += ch
            continue
        if word:
            out.append(word)
            word = ""
        if ch.isspace():
            if out:
                out[-1] += " "
        elif out and ch in _NO_LINE_START:
            out[-1] += ch
        else:
            out.append(ch)
    if word:
        out.append(word)
    # closing punctuation never starts a line
    merged: list[str] = []
    for tok in out:
        if merged and tok[0] in _NO_LINE_START:
            merged[-1] += tok
        else:
            merged.append(tok)
    return merged


def wrap(text: str, width_pt: float, size: float, *, max_lines: int | None = None) -> list[str]:
    """Greedy line breaking of Chinese and English text to ``width_pt`` points."""
    lines: list[str] = []
    for para in str(text).split("\n"):
        line = ""
        for tok in _tokens(para):
            trial = line + tok
            if line and text_width(trial.rstrip(), size) > width_pt:
                lines.append(line.rstrip())
                line = tok.lstrip()
            else:
                line = trial
        lines.append(line.rstrip())
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and text_width(last + "…", size) > width_pt:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines
