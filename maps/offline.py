"""Draw folium maps with no internet: Leaflet and its plugins come from ``static/vendor``.

folium (and streamlit-folium, which reads the same lists) links every JS/CSS dependency
from a CDN through each element's ``default_js``/``default_css`` lists of ``(name, url)``.
On an offline intranet the st_folium iframe stops at the first failed CDN script and the
map stays blank. :func:`localize` points those links at the files that
``scripts/vendor_assets.py`` committed under ``static/vendor`` (served by Streamlit's
``server.enableStaticServing`` under ``/app/static/``) and drops what nothing on the
map uses. :func:`standalone_html` inlines the same files for a single HTML file that
opens from disk, and :func:`external_urls` lists what a page would still fetch from
outside (for tests).

Per ``folium.Map`` default asset, as decided from folium 0.20's templates:

* vendored, always: ``leaflet`` / ``leaflet_css`` (Leaflet 1.9.4, incl. its marker and
  layers images), and for ``MarkerCluster``/``FastMarkerCluster`` the three
  leaflet.markercluster 1.5.3 files;
* vendored, linked only when needed: ``jquery`` (3.7.1). ``folium.Popup`` (every
  ``popup=`` on Marker/CircleMarker/...) builds its content with ``$(...)``, as do
  ``Map(...).keep_in_front(...)`` and ``GeoJson(embed=False)``. GeoJsonPopup,
  GeoJsonTooltip, Tooltip, LayerControl, DivIcon and the marker clusters do not;
* dropped: ``bootstrap`` JS and ``bootstrap_css`` (no folium template we use calls
  Bootstrap), and ``awesome_markers``, ``awesome_markers_css``, ``glyphicons_css``,
  ``awesome_markers_font_css`` (Font Awesome) and ``awesome_rotate_css``: only
  ``folium.Icon`` (Leaflet.awesome-markers) uses them. Use ``folium.DivIcon`` or the
  default Leaflet marker instead; :func:`localize` raises on a ``folium.Icon``, and on a
  ``FastMarkerCluster`` with folium's default callback (it draws ``L.AwesomeMarkers``
  icons): pass ``callback=FAST_MARKER_CALLBACK``.

No branca colormaps on our maps: a ``branca.colormap.ColorMap`` links d3 from a CDN when
rendered, and streamlit-folium adds two more d3 CDN links whenever one is on the map.
Draw legends as plain HTML (``folium.Element``/``MacroElement``) instead;
:func:`localize` raises on a colormap.

This module does not import streamlit.
"""

from __future__ import annotations

import base64
import functools
import json
import mimetypes
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import branca.colormap
import folium
import folium.plugins
from branca.element import CssLink, Element, JavascriptLink, MacroElement
from folium.template import Template

__all__ = [
    "ASSET_BASE_URL",
    "FAST_MARKER_CALLBACK",
    "VENDOR_DIR",
    "external_urls",
    "localize",
    "standalone_html",
    "vendored_files",
]

#: URL under which Streamlit serves ``static/vendor`` (``server.enableStaticServing``).
ASSET_BASE_URL = "/app/static/vendor"

#: The committed vendored files (``<repo>/static/vendor``), located from this module.
VENDOR_DIR = Path(__file__).resolve().parent.parent / "static" / "vendor"

# folium link name -> (npm package, file inside static/vendor/<package>-<version>/).
# folium de-duplicates links by name across the page, so a name means one resource.
_VENDORED: dict[str, tuple[str, str]] = {
    "leaflet": ("leaflet", "leaflet.js"),
    "leaflet_css": ("leaflet", "leaflet.css"),
    "jquery": ("jquery", "jquery.min.js"),
    "markerclusterjs": ("leaflet.markercluster", "leaflet.markercluster.js"),
    "markerclustercss": ("leaflet.markercluster", "MarkerCluster.css"),
    "markerclusterdefaultcss": ("leaflet.markercluster", "MarkerCluster.Default.css"),
}

# folium.Map defaults that nothing we draw needs (see the module docstring).
_DROPPED_MAP_DEFAULTS: frozenset[str] = frozenset(
    {
        "bootstrap",
        "bootstrap_css",
        "awesome_markers",
        "awesome_markers_css",
        "awesome_markers_font_css",
        "glyphicons_css",
        "awesome_rotate_css",
    }
)

# Linked on the map only if some element on it needs it.
_CONDITIONAL_MAP_DEFAULTS: frozenset[str] = frozenset({"jquery"})

#: ``FastMarkerCluster(data, callback=FAST_MARKER_CALLBACK)``: default Leaflet markers.
#: folium's default callback uses ``L.AwesomeMarkers.icon()``, which is not vendored.
FAST_MARKER_CALLBACK = "function (row) { return L.marker(L.latLng(row[0], row[1])); }"

_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)


# --------------------------------------------------------------------------- manifest


@functools.cache
def _manifest(vendor_dir: Path) -> dict[str, Any]:
    path = vendor_dir / "MANIFEST.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RuntimeError(f"{path} is missing: run scripts/vendor_assets.py") from None


def vendored_files(*, vendor_dir: Path = VENDOR_DIR) -> frozenset[str]:
    """Every vendored file, as a path relative to ``static/vendor`` (MANIFEST.json's list)."""
    return frozenset(_manifest(vendor_dir)["files"])


def _vendored_path(link_name: str, vendor_dir: Path = VENDOR_DIR) -> str:
    """Path (relative to ``static/vendor``) of the file serving folium link ``link_name``."""
    package, filename = _VENDORED[link_name]
    manifest = _manifest(vendor_dir)
    rel = f"{manifest['packages'][package]['dir']}/{filename}"
    if rel not in manifest["files"]:
        raise RuntimeError(f"{rel} is not in MANIFEST.json: run scripts/vendor_assets.py")
    return rel


# --------------------------------------------------------------------------- localize

_LEAFLET_ICON_FILES = {
    "iconUrl": "marker-icon.png",
    "iconRetinaUrl": "marker-icon-2x.png",
    "shadowUrl": "marker-shadow.png",
}


class _LeafletDefaultIcon(MacroElement):
    """Tells Leaflet where its default marker images are, before any marker is made.

    Leaflet guesses the folder from leaflet.css; in st_folium the CSS may load after the
    markers are created and the fallback guess drops a slash ("leaflet-1.9.4marker-
    icon.png", broken image). In a standalone page the images are ``data:`` URIs.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.Icon.Default.imagePath = {{ this.image_path|tojson }};
            {%- if this.icon_urls %}
            L.Icon.Default.mergeOptions({{ this.icon_urls|tojson }});
            {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(self, image_path: str, icon_urls: dict[str, str] | None = None) -> None:
        super().__init__()
        self._name = "LeafletDefaultIcon"
        self.image_path = image_path
        self.icon_urls = icon_urls or {}


def _set_default_icon(
    m: folium.Map, image_path: str, icon_urls: dict[str, str] | None = None
) -> None:
    """Make a :class:`_LeafletDefaultIcon` the map's first child (replacing any earlier)."""
    for key, child in list(m._children.items()):
        if isinstance(child, _LeafletDefaultIcon):
            del m._children[key]
    m.add_child(_LeafletDefaultIcon(image_path, icon_urls), index=0)


def _walk(element: Element) -> Iterator[Element]:
    """Yield ``element`` and every descendant (``_children``, plus the header/html/script
    sub-elements of Figures and Popups), each once."""
    seen: set[int] = set()
    stack = [element]
    while stack:
        el = stack.pop()
        if id(el) in seen:
            continue
        seen.add(id(el))
        yield el
        kids = list(getattr(el, "_children", {}).values())
        for attr in ("header", "html", "script"):
            sub = getattr(el, attr, None)
            if isinstance(sub, Element):
                kids.append(sub)
        stack.extend(reversed(kids))


def _is_awesome_icon(icon: object) -> bool:
    # CustomIcon subclasses Icon but renders a plain L.icon.
    return isinstance(icon, folium.Icon) and not isinstance(icon, folium.CustomIcon)


def _check_and_collect_needs(el: Element) -> set[str]:
    """Raise for elements whose needs we do not vendor; return conditional link names."""
    name = type(el).__name__
    if isinstance(el, branca.colormap.ColorMap):
        raise ValueError(
            f"{name}: branca colormaps load d3 from a CDN (and st_folium adds more d3 CDN "
            "links); draw the legend as HTML instead"
        )
    marker = getattr(el, "marker", None) if isinstance(el, folium.GeoJson) else None
    if _is_awesome_icon(el) or _is_awesome_icon(getattr(marker, "icon", None)):
        raise ValueError(
            f"{name}: folium.Icon needs Leaflet.awesome-markers, Bootstrap glyphicons and "
            "Font Awesome, which are not vendored; use folium.DivIcon or the default marker"
        )
    if isinstance(el, folium.plugins.FastMarkerCluster) and "L.AwesomeMarkers" in el.callback:
        raise ValueError(
            f"{name}: the default callback draws L.AwesomeMarkers icons (Leaflet.awesome-"
            "markers is not vendored); pass callback=maps.offline.FAST_MARKER_CALLBACK"
        )
    needs: set[str] = set()
    if isinstance(el, folium.Popup):
        needs.add("jquery")
    if isinstance(el, folium.Map) and getattr(el, "objects_to_stay_in_front", None):
        needs.add("jquery")
    if isinstance(el, folium.GeoJson) and not el.embed:
        needs.add("jquery")
    return needs


def _local_links(
    el: Element,
    links: list[tuple[str, str]],
    *,
    base_url: str,
    needs: set[str],
    vendor_dir: Path,
    suffix: str,
) -> list[tuple[str, str]]:
    """Local version of one ``default_js``/``default_css`` list (``suffix`` .js/.css)."""
    is_map = isinstance(el, folium.Map)
    manifest_files = _manifest(vendor_dir)["files"]
    out: list[tuple[str, str]] = []
    for name, url in links:
        if is_map and (
            name in _DROPPED_MAP_DEFAULTS
            or (name in _CONDITIONAL_MAP_DEFAULTS and name not in needs)
        ):
            continue
        if name in _VENDORED:
            out.append((name, f"{base_url}/{_vendored_path(name, vendor_dir)}"))
        elif url.startswith(base_url + "/") and url[len(base_url) + 1 :] in manifest_files:
            out.append((name, url))  # already points at a vendored file
        else:
            raise ValueError(
                f"{type(el).__name__} needs {name!r} from {url}, which is not vendored: add "
                "its package to scripts/vendor_assets.py and its link name to maps/offline.py"
            )
    if is_map:
        present = {n for n, _ in out}
        for name in sorted(needs - present):
            if name in _VENDORED and _VENDORED[name][1].endswith(suffix):
                out.append((name, f"{base_url}/{_vendored_path(name, vendor_dir)}"))
    return out


def localize(m: folium.Map, *, base_url: str = ASSET_BASE_URL) -> folium.Map:
    """Point every JS/CSS link of ``m`` and its descendants at the vendored files.

    Sets per-instance ``default_js``/``default_css`` lists (the folium classes are left
    untouched, so other maps in the process keep folium's defaults), drops the defaults
    nothing on the map needs, forgets links an earlier render left in the page header,
    and tells Leaflet where its default marker images are (its own guess fails in
    st_folium). Call it after adding every element (a Popup added later may need
    jQuery). Groups given to st_folium as ``feature_group_to_add`` are outside ``m``'s
    tree and are not localized: their plugins would still link CDN files.

    Raises ``ValueError`` naming the element class and URL when an element needs an
    asset that is not vendored (e.g. a plugin such as Fullscreen, ``folium.Icon``, a
    branca colormap), and when a marker cluster would fail for want of a max zoom.
    Returns ``m`` for chaining.
    """
    base_url = base_url.rstrip("/")
    root = m.get_root()
    elements = list(_walk(root))

    needs: set[str] = set()
    for el in elements:
        needs |= _check_and_collect_needs(el)

    if any(isinstance(el, folium.plugins.MarkerCluster) for el in elements):
        has_tiles = any(isinstance(el, folium.TileLayer) for el in elements)
        if "max_zoom" not in m.options and "maxZoom" not in m.options and not has_tiles:
            raise ValueError(
                "MarkerCluster on a map without tiles needs a max zoom "
                "(leaflet.markercluster: 'Map has no maxZoom specified'); "
                'set m.options["max_zoom"]'
            )

    for el in elements:
        for attr, suffix in (("default_js", ".js"), ("default_css", ".css")):
            links = getattr(el, attr, None)
            if links is None:
                continue
            new = _local_links(
                el,
                list(links),
                base_url=base_url,
                needs=needs,
                vendor_dir=VENDOR_DIR,
                suffix=suffix,
            )
            setattr(el, attr, new)  # instance attribute: the class list stays as it was

    images = _vendored_path("leaflet_css", VENDOR_DIR).rsplit("/", 1)[0] + "/images/"
    for el in elements:
        if isinstance(el, folium.Map):
            _set_default_icon(el, f"{base_url}/{images}")

    # A previous render() put folium's CDN links into the page header by name; drop
    # those we manage (render() re-adds the local ones) and reject any other remote link.
    header = getattr(root, "header", None)
    if header is not None:
        managed = _VENDORED.keys() | _DROPPED_MAP_DEFAULTS
        for key, child in list(header._children.items()):
            if not isinstance(child, (JavascriptLink, CssLink)):
                continue
            if key in managed:
                del header._children[key]
            elif _REMOTE.match(child.url):
                raise ValueError(f"page header links {key!r} from {child.url}, not vendored")
    return m


# ---------------------------------------------------------------------- external_urls

_CSS_URL = re.compile(r"""url\(\s*\\?(["']?)\s*((?:https?:)?//[^"'\\)\s]+)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+\\?["']((?:https?:)?//[^"'\\\s]+)""", re.IGNORECASE)
# Inside scripts: HTML/CSS in JS strings (popups, DivIcon html) and tile URL templates.
_JS_SRC = re.compile(r"""\bsrc\s*=\s*\\?["']((?:https?:)?//[^"'\\\s<>]+)""", re.IGNORECASE)
_JS_TILES = re.compile(
    r"""L\.tileLayer(?:\.wms)?\(\s*["']((?:https?:)?//[^"'\\\s]+)""", re.IGNORECASE
)

_LOADING_ATTRS: dict[str, tuple[str, ...]] = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "image": ("href", "xlink:href"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "input": ("src",),
}


class _UrlCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._raw_tag: str | None = None
        self._raw: list[str] = []

    def _add(self, url: str) -> None:
        if _REMOTE.match(url):
            self.urls.append(url.strip())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = _LOADING_ATTRS.get(tag, ())
        for key, value in attrs:
            if value is None:
                continue
            if key == "srcset" and key in wanted:
                for candidate in value.split(","):  # "url 1x, url 2x"
                    self._add(candidate.strip().split(" ")[0])
            elif key in wanted:
                self._add(value)
            elif key == "style":
                self.urls += [u for _, u in _CSS_URL.findall(value)]
        if tag in ("script", "style"):
            self._raw_tag, self._raw = tag, []

    def handle_data(self, data: str) -> None:
        if self._raw_tag is not None:
            self._raw.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != self._raw_tag:
            return
        text = "".join(self._raw)
        self.urls += [u for _, u in _CSS_URL.findall(text)]
        if tag == "style":
            self.urls += _CSS_IMPORT.findall(text)
        else:
            self.urls += _JS_SRC.findall(text)
            self.urls += _JS_TILES.findall(text)
        self._raw_tag, self._raw = None, []


def external_urls(html: str) -> list[str]:
    """Every http(s) (or protocol-relative) URL the page would load from outside.

    Covers ``src``/``href`` of script, link, img (and other embedding tags), ``url(...)``
    and ``@import`` in inline CSS and style attributes, and, inside inline scripts,
    ``src=``/``url(...)`` in HTML strings and ``L.tileLayer`` URL templates, without
    duplicates. Meant for tests: an offline page returns ``[]``.
    """
    collector = _UrlCollector()
    collector.feed(html)
    collector.close()
    return list(dict.fromkeys(collector.urls))


# -------------------------------------------------------------------- standalone_html

_SCRIPT_TAG = re.compile(r"""<script\s+src=["']([^"']+)["']\s*>\s*</script>""", re.IGNORECASE)
_CSS_TAG = re.compile(
    r"""<link\s+rel=["']stylesheet["']\s+href=["']([^"']+)["']\s*/?>""", re.IGNORECASE
)
_CSS_REF = re.compile(r"""url\(\s*(["']?)([^"')]+?)\1\s*\)""")
_JS_SOURCEMAP = re.compile(r"^//# sourceMappingURL=\S+\s*$", re.MULTILINE)
_CSS_SOURCEMAP = re.compile(r"/\*# sourceMappingURL=\S+\s*\*/")


def _vendor_file(rel: str, vendor_dir: Path) -> Path:
    files = _manifest(vendor_dir)["files"]
    if rel not in files:
        raise ValueError(f"{rel} is not a vendored file (not in MANIFEST.json)")
    return vendor_dir / rel


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _inline_css(rel: str, vendor_dir: Path) -> str:
    css = _vendor_file(rel, vendor_dir).read_text(encoding="utf-8")
    css = _CSS_SOURCEMAP.sub("", css)
    folder = rel.rsplit("/", 1)[0] if "/" in rel else ""

    def to_data(match: re.Match[str]) -> str:
        ref = match.group(2).strip()
        if ref.startswith(("#", "data:")):
            return match.group(0)
        if _REMOTE.match(ref):
            raise ValueError(f"{rel} references {ref}, which is not vendored")
        target = "/".join(p for p in f"{folder}/{ref}".split("/") if p not in ("", "."))
        return f'url("{_data_uri(_vendor_file(target, vendor_dir))}")'

    css = _CSS_REF.sub(to_data, css)
    if re.search(r"</style", css, re.IGNORECASE):
        raise ValueError(f"{rel} contains '</style' and cannot be inlined")
    return f"<style>/* {rel} */\n{css}\n</style>"


def _inline_js(rel: str, vendor_dir: Path) -> str:
    js = _vendor_file(rel, vendor_dir).read_text(encoding="utf-8")
    js = _JS_SOURCEMAP.sub("", js)
    if "<!--" in js:
        raise ValueError(f"{rel} contains '<!--' and cannot be inlined safely")
    js = re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)
    return f"<script>/* {rel} */\n{js}\n</script>"


def standalone_html(m: folium.Map) -> str:
    """Full HTML of ``m`` with every vendored script and stylesheet inlined.

    Localizes ``m`` first (in place, see :func:`localize`), renders the page, and
    replaces each ``<script src>``/``<link rel=stylesheet>`` pointing at the vendored
    files with the file's content (CSS ``url(images/...)`` become ``data:`` URIs). The
    result opens from disk with no server and no internet. Files are read from
    :data:`VENDOR_DIR`.
    """
    localize(m, base_url=ASSET_BASE_URL)
    images = _vendored_path("leaflet_css", VENDOR_DIR).rsplit("/", 1)[0] + "/images"
    icon_urls = {
        key: _data_uri(_vendor_file(f"{images}/{name}", VENDOR_DIR))
        for key, name in _LEAFLET_ICON_FILES.items()
    }
    for el in list(_walk(m.get_root())):
        if isinstance(el, folium.Map):
            _set_default_icon(el, "", icon_urls)
    html = m.get_root().render()
    prefix = ASSET_BASE_URL + "/"

    def inline(match: re.Match[str], kind: str) -> str:
        url = match.group(1)
        if not url.startswith(prefix):
            return match.group(0)
        rel = url[len(prefix) :]
        return _inline_js(rel, VENDOR_DIR) if kind == "js" else _inline_css(rel, VENDOR_DIR)

    html = _SCRIPT_TAG.sub(lambda mt: inline(mt, "js"), html)
    html = _CSS_TAG.sub(lambda mt: inline(mt, "css"), html)
    if prefix in html:
        raise ValueError(f"{ASSET_BASE_URL} is still referenced after inlining")
    return html
