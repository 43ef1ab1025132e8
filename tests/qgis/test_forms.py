"""The algorithm dialogs as a GIS user sees them: Processing's own dialog, offscreen, at its default size."""

from __future__ import annotations

import pytest
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingParameterNumber
from qgis.PyQt.QtWidgets import QAbstractSpinBox, QScrollArea

#: The local chain's forms.
LOCAL = ("sampledata", "align", "screen", "train", "downscale", "validate", "workflow")
#: The Earth Engine forms.
EARTH_ENGINE = ("fetchgee", "downscalegee")


@pytest.fixture
def dialog_iface(qgis_iface, monkeypatch):
    """What Processing's dialog asks of iface, real objects instead of the mock's."""
    from qgis.gui import QgsBrowserGuiModel, QgsMapCanvas

    browser, canvas = QgsBrowserGuiModel(), QgsMapCanvas()
    monkeypatch.setattr(qgis_iface, "browserModel", lambda: browser)
    monkeypatch.setattr(qgis_iface, "mapCanvas", lambda: canvas)
    yield qgis_iface
    canvas.deleteLater()


def _dialog(alg_id: str):
    from processing.gui.AlgorithmDialog import AlgorithmDialog

    alg = QgsApplication.processingRegistry().createAlgorithmById(f"smdownscale:{alg_id}")
    return AlgorithmDialog(alg, False, None)


def _parameters_area(dialog) -> QScrollArea:
    areas = [a for a in dialog.findChildren(QScrollArea) if a.widget() is not None]
    return max(areas, key=lambda a: len(a.widget().children()))


@pytest.mark.parametrize("alg_id", LOCAL + EARTH_ENGINE)
def test_form_fits_without_horizontal_scrolling(plugin, dialog_iface, qgis_app, alg_id):
    dialog = _dialog(alg_id)
    try:
        dialog.show()
        qgis_app.processEvents()
        area = _parameters_area(dialog)
        assert area.horizontalScrollBar().maximum() == 0, \
            f"{alg_id}: the form needs {area.widget().minimumSizeHint().width()} px, has {area.viewport().width()}"
    finally:
        dialog.close()


@pytest.mark.parametrize("alg_id", LOCAL)
def test_decimal_fields_show_the_decimals_their_values_need(plugin, qgis_app, alg_id):
    from qgis.gui import QgsGui, QgsProcessingGui

    alg = QgsApplication.processingRegistry().algorithmById(f"smdownscale:{alg_id}")
    registry = QgsGui.processingGuiRegistry()
    context = QgsProcessingContext()
    shown = {}
    for definition in alg.parameterDefinitions():
        if not isinstance(definition, QgsProcessingParameterNumber) or \
                definition.dataType() != QgsProcessingParameterNumber.Type.Double or definition.defaultValue() is None:
            continue
        wrapper = registry.createParameterWidgetWrapper(definition, QgsProcessingGui.WidgetType.Standard)
        widget = wrapper.createWrappedWidget(context)
        wrapper.setParameterValue(definition.defaultValue(), context)
        spin = widget if isinstance(widget, QAbstractSpinBox) else widget.findChildren(QAbstractSpinBox)[0]
        shown[definition.name()] = spin.text()
        assert len(spin.text().partition(".")[2]) <= 4, (definition.name(), spin.text())  # not QGIS's 0.800000
    expected = {"screen": {"MAX_COLLINEARITY": "0.80", "SM_SCALE": "1.0000", "MIN_VALID_FRACTION": "0.50"},
                "sampledata": {"NOISE": "0.015", "SMAP_ERROR": "0.004"},
                "downscale": {"CLIP_MAX": "0.60"}, "workflow": {"smap_scale": "1.0000"}}.get(alg_id, {})
    assert {k: shown.get(k) for k in expected} == expected


@pytest.mark.parametrize("alg_id", ["screen", "train"])
def test_lists_or_manifest_checked_before_the_run(plugin, alg_id, tmp_path):
    """The inputs are optional for QGIS (lists or a manifest); the dialog still says which are missing."""
    alg = QgsApplication.processingRegistry().createAlgorithmById(f"smdownscale:{alg_id}")
    context = QgsProcessingContext()
    out = {"OUTPUT": str(tmp_path / "out.csv" if alg_id == "screen" else tmp_path / "m.smdmodel")}
    ok, msg = alg.checkParameterValues(out, context)
    assert not ok and msg == ("Give the SMAP soil moisture rasters and the factor stacks (one per date), or a "
                              "manifest from smdownscale:fetchgee.")
    smap, stack = (_tiny(str(tmp_path / name)) for name in ("smap_20230601.tif", "factors_20230601.tif"))
    ok, msg = alg.checkParameterValues({**out, "SOIL_MOISTURE": [smap]}, context)
    assert not ok and "or a manifest" in msg
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}")
    ok, msg = alg.checkParameterValues({**out, "MANIFEST": str(manifest),
                                        "FACTORS": [stack]}, context)
    assert not ok and msg.startswith("Give either a manifest or the lists")
    ok, msg = alg.checkParameterValues({**out, "MANIFEST": str(manifest)}, context)
    assert ok, msg
    ok, msg = alg.checkParameterValues({**out, "SOIL_MOISTURE": [smap], "FACTORS": [stack]}, context)
    assert ok, msg


def _tiny(path: str) -> str:
    import numpy as np

    from smdownscale.algorithms import raster

    grid = raster.Grid(raster.srs_from_user("EPSG:6933").ExportToWkt(), (0.0, 9000.0, 0.0, 0.0, 0.0, -9000.0), 2, 2)
    return raster.write_raster(path, grid, np.full((1, 2, 2), 0.2, dtype=np.float32), names=["soil_moisture"])


def test_workflow_form_does_not_fill_three_inputs_with_the_active_layer(plugin, dialog_iface, qgis_app, tmp_path,
                                                                      monkeypatch):
    from qgis.core import QgsProject, QgsRasterLayer

    from smdownscale.algorithms import sample

    scene = sample.make_sample(str(tmp_path / "scene"), size_km=20, n_dates=1, seed=1)
    layers = [QgsRasterLayer(scene.smap_files[0], "smap"), QgsRasterLayer(scene.truth_files[0], "truth")]
    QgsProject.instance().addMapLayers(layers)
    monkeypatch.setattr(dialog_iface, "activeLayer", lambda: layers[1])
    dialog = _dialog("workflow")
    try:
        dialog.show()
        qgis_app.processEvents()
        wrappers = dialog.mainWidget().wrappers
        values = {name: wrappers[name].parameterValue() for name in ("smap", "grid", "validation_reference")}
        assert values["grid"] in (None, "") and values["validation_reference"] in (None, ""), values
    finally:
        dialog.close()
        QgsProject.instance().removeMapLayers([layer.id() for layer in layers])
