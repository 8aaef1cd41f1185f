"""Open files, databases and projects with QGIS's own Python API and print what QGIS sees, as JSON.

Run by the tests with Debian's interpreter (``/usr/bin/python3`` with ``python3-qgis``), never
imported by the product: QGIS is the independent reader the analysts use.

    /usr/bin/python3 tests/qgis_probe.py layer ogr 'out/towns.gpkg|layername=towns'
    /usr/bin/python3 tests/qgis_probe.py layer postgres "dbname=... table=\"s\".\"t\" (geom)"
    /usr/bin/python3 tests/qgis_probe.py project out/西宁创新地图.qgz
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

from qgis.core import (
    QgsApplication,
    QgsProject,
    QgsVectorLayer,
    QgsWkbTypes,
)


def _layer_facts(layer: QgsVectorLayer) -> dict:
    facts = {
        "name": layer.name(),
        "valid": layer.isValid(),
        "provider": layer.providerType(),
        "source": layer.source(),
    }
    if not layer.isValid():
        return facts
    provider = layer.dataProvider()
    facts.update(
        {
            "features": layer.featureCount(),
            "wkb_type": QgsWkbTypes.displayString(layer.wkbType()),
            "crs": layer.crs().authid(),
            "fields": {f.name(): f.typeName() for f in layer.fields()},
            "primary_key": [layer.fields()[i].name() for i in provider.pkAttributeIndexes()],
            "null_geometries": sum(1 for f in layer.getFeatures() if not f.hasGeometry()),
            "invalid_geometries": sum(
                1 for f in layer.getFeatures() if f.hasGeometry() and not f.geometry().isGeosValid()
            ),
        }
    )
    renderer = layer.renderer()
    facts["renderer"] = renderer.type() if renderer else ""
    if renderer is not None and renderer.type() == "categorizedSymbol":
        facts["renderer_field"] = renderer.classAttribute()
        facts["categories"] = [
            {"value": c.value(), "label": c.label(), "color": c.symbol().color().name()}
            for c in renderer.categories()
        ]
    if renderer is not None and renderer.type() == "singleSymbol":
        facts["color"] = renderer.symbol().color().name()
    facts["labels"] = bool(layer.labelsEnabled())
    if layer.labelsEnabled() and layer.labeling() is not None:
        facts["label_field"] = layer.labeling().settings().fieldName
    return facts


def main(argv: list[str]) -> int:
    app = QgsApplication([], False)
    app.initQgis()
    if argv[1] == "layer":
        layer = QgsVectorLayer(argv[3], "probe", argv[2])
        out = _layer_facts(layer)
        del layer
    elif argv[1] == "project":
        project = QgsProject.instance()
        ok = project.read(argv[2])
        order = [node.layerId() for node in project.layerTreeRoot().findLayers()]
        layers = project.mapLayers()
        out = {
            "read": bool(ok),
            "title": project.title(),
            "crs": project.crs().authid(),
            "layers": [_layer_facts(layers[i]) for i in order if i in layers],
        }
        project.clear()
    else:
        raise SystemExit(f"unknown probe {argv[1]!r}")
    # printed before QGIS shuts down: its exit can crash after a database layer was open
    print(json.dumps(out, ensure_ascii=False), flush=True)
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
