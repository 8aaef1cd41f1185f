"""The view on screen as a QGIS project: the map's units, classes, colours and legend words.

The project itself is written by :func:`geo.qgis.qgis_project`; this module only hands it the
view's pieces, so the dashboard's download and the map it shows cannot drift apart.
"""

from __future__ import annotations

import geopandas as gpd

from geo.qgis import QgisFiles, qgis_project
from geo.report import sites_for_export
from viewmodel.i18n import t
from viewmodel.views import View


def view_project(view: View, *, townships: gpd.GeoDataFrame | None, name: str) -> QgisFiles:
    """The project of ``view``: its units coloured as on the map, its sites, and ``townships``
    drawn as outlines (pass the register's townships over a county view, None otherwise)."""
    fill = view.spec.units.set_index("code")["fill"]
    return qgis_project(
        view.units.assign(fill=view.units["code"].map(fill)),
        legend=view.spec.legend,
        legend_title=view.spec.legend_title,
        sites=sites_for_export(view.sites),
        townships=townships,
        lang=view.state.lang,
        name=name,
        title=t("title", view.state.lang),
    )
