"""The algorithm dialogs as a GIS user sees them: Processing's own dialog, offscreen, at its default size."""

from __future__ import annotations

import pytest
from qgis.core import (
    QgsApplication,
    QgsProcessingContext,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterNumber,
)
from qgis.PyQt.QtWidgets import QAbstractSpinBox, QScrollArea

#: The local chain's forms.
LOCAL = ("sampledata", "align", "screen", "train", "downscale", "validate", "workflow")
#: The Earth Engine forms.
EARTH_ENGINE = ("fetchgee", "downscalegee")
#: The NASA Earthdata form.
EARTHDATA = ("importsmap",)


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


@pytest.mark.parametrize("alg_id", LOCAL + EARTH_ENGINE + EARTHDATA)
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


@pytest.mark.parametrize("alg_id", LOCAL + EARTH_ENGINE + EARTHDATA)
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


#: The dialog labels of the inputs given one way among several: what replaces them, never "[optional]".
CHOICE_LABELS = {
    "screen": {"SOIL_MOISTURE": "SMAP rasters, one per date [or a manifest]",
               "FACTORS": "Factor stacks, one per date [or a manifest]",
               "MANIFEST": "Or instead: fetch manifest"},
    "downscale": {"FACTORS": "Factor stack (1 km) [or a time series]",
                  "SOIL_MOISTURE": "SMAP of the same date [for residual correction]",
                  "FACTORS_SERIES": "Time series: factor stacks [or a manifest or folder]",
                  "SOIL_MOISTURE_SERIES": "Time series: SMAP rasters [for residual correction]",
                  "MANIFEST": "Time series: fetch manifest [or factor stacks or folder]",
                  "INPUT_FOLDER": "Time series: input folder [or factor stacks or manifest]"},
    "validate": {"INPUT": "Soil moisture estimate [or a time series]", "REFERENCE": "Reference raster [or stations]",
                 "INPUT_SERIES": "Time series: estimates [or one estimate]",
                 "REFERENCE_SERIES": "Time series: reference rasters [or stations]"},
    "fetchgee": {"EXTENT": "Extent [or a polygon layer]", "AREA": "Area (polygon layer) [or an extent]"},
    "importsmap": {"GRANULES": "SMAP granules (.h5) [or a folder, or download]",
                   "GRANULE_FOLDER": "Folder of SMAP granules [or granules, or download]",
                   "START_DATE": "Start date (YYYY-MM-DD) [optional]", "END_DATE": "End date (YYYY-MM-DD) [optional]",
                   "FACTORS": "Factor rasters [optional]"},
}
CHOICE_LABELS["train"] = CHOICE_LABELS["screen"]
CHOICE_LABELS["downscalegee"] = CHOICE_LABELS["fetchgee"]


def _labels(dialog) -> dict[str, str]:
    """The label text beside each input of a Processing dialog, by parameter name (checkboxes have none)."""
    labels = {}
    for name, wrapper in dialog.mainWidget().wrappers.items():
        label = wrapper.wrappedLabel()
        if label is not None:
            labels[name] = label.text()
    return labels


@pytest.mark.parametrize("alg_id", sorted(CHOICE_LABELS))
def test_inputs_given_one_way_among_several_say_what_replaces_them(plugin, dialog_iface, qgis_app, alg_id):
    """QGIS marks optional inputs "[optional]"; the either-or inputs instead name their alternative, so the
    form shows what is required. Every other optional input keeps QGIS's "[optional]"."""
    dialog = _dialog(alg_id)
    try:
        labels = _labels(dialog)
        assert {name: labels[name] for name in CHOICE_LABELS[alg_id]} == CHOICE_LABELS[alg_id]
        for definition in dialog.algorithm().parameterDefinitions():
            name = definition.name()
            if name not in labels or name in CHOICE_LABELS[alg_id]:
                continue
            optional = bool(definition.flags() & QgsProcessingParameterDefinition.Flag.FlagOptional)
            assert labels[name].endswith(" [optional]") == optional, (name, labels[name])
    finally:
        dialog.close()


def _stock_value(definition, value, context):
    """What QGIS's own widget wrapper for the definition gives back for a value set on it."""
    from qgis.core import QgsProject
    from qgis.gui import QgsGui, QgsProcessingGui, QgsProcessingParameterWidgetContext

    stock = QgsGui.processingGuiRegistry().createParameterWidgetWrapper(definition,
                                                                        QgsProcessingGui.WidgetType.Standard)
    widget_context = QgsProcessingParameterWidgetContext()
    widget_context.setProject(QgsProject.instance())
    stock.setWidgetContext(widget_context)
    widget = stock.createWrappedWidget(context)  # Python owns it: held until the value is read
    stock.setParameterValue(value, context)
    value = stock.parameterValue()
    widget.deleteLater()
    return value


def _choice_values(tmp_path) -> dict[str, dict]:
    """A value for every either-or input of each algorithm: real files, as a user picks them."""
    smap = [_tiny(str(tmp_path / f"smap_2023060{d}.tif")) for d in (1, 2)]
    stacks = [_tiny(str(tmp_path / f"factors_2023060{d}.tif")) for d in (1, 2)]
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}")
    area = tmp_path / "area.geojson"
    area.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": '
                    '{"type": "Polygon", "coordinates": [[[116, 40], [117, 40], [117, 41], [116, 40]]]}}]}')
    model = tmp_path / "m.smdmodel"
    model.write_bytes(b"")
    pair = {"SOIL_MOISTURE": smap, "FACTORS": stacks, "MANIFEST": str(manifest)}
    gee = {"EXTENT": "116.0,117.0,40.0,41.0 [EPSG:4326]", "AREA": str(area)}
    return {"screen": pair, "train": pair, "fetchgee": gee, "downscalegee": gee,
            # (not GRANULES: QGIS's own file-list wrapper keeps only files it can load as layers when a value
            # is set from code, so .h5 granules are picked in its file dialog only)
            "importsmap": {"GRANULE_FOLDER": str(tmp_path), "START_DATE": "2023-06-01",
                           "END_DATE": "2023-06-02", "FACTORS": stacks},
            "downscale": {"FACTORS": stacks[0], "SOIL_MOISTURE": smap[0], "FACTORS_SERIES": stacks,
                          "SOIL_MOISTURE_SERIES": smap, "MANIFEST": str(manifest), "INPUT_FOLDER": str(tmp_path)},
            "validate": {"INPUT": stacks[0], "REFERENCE": smap[0], "INPUT_SERIES": stacks,
                         "REFERENCE_SERIES": smap}}


@pytest.mark.parametrize("alg_id", sorted(CHOICE_LABELS))
def test_values_set_in_the_dialog_reach_processing_as_with_qgis_own_widgets(plugin, dialog_iface, qgis_app,
                                                                             alg_id, tmp_path):
    """The labelled inputs keep QGIS's widgets and value handling: a value set in the dialog comes out of it,
    into the parameters Processing runs with, exactly as from the wrapper QGIS would have made."""
    values = _choice_values(tmp_path)[alg_id]
    required = {"downscale": {"MODEL": str(tmp_path / "m.smdmodel")},
                "fetchgee": {"START_DATE": "2023-06-01", "END_DATE": "2023-06-02"},
                "downscalegee": {"START_DATE": "2023-06-01", "END_DATE": "2023-06-02"}}.get(alg_id, {})
    definitions = QgsApplication.processingRegistry().algorithmById(f"smdownscale:{alg_id}")
    dialog = _dialog(alg_id)
    try:
        panel = dialog.mainWidget()
        panel.setParameters({**values, **required})
        parameters = panel.createProcessingParameters()
        context = QgsProcessingContext()
        for name, value in values.items():
            wrapper = panel.wrappers[name]
            stock = _stock_value(definitions.parameterDefinition(name), value, context)
            assert stock not in (None, "", []), (name, value)  # QGIS's own wrapper takes the value
            assert parameters[name] == stock, (name, parameters[name], stock)
            if name in CHOICE_LABELS[alg_id] and not CHOICE_LABELS[alg_id][name].endswith("[optional]"):
                assert wrapper.wrappedWidget() is wrapper.stock.wrappedWidget()  # QGIS's own widget, not a copy
        for name in ("SOIL_MOISTURE", "FACTORS", "FACTORS_SERIES", "SOIL_MOISTURE_SERIES", "INPUT_SERIES",
                     "REFERENCE_SERIES"):
            if name in values and isinstance(values[name], list):
                assert parameters[name] == values[name], name  # the paths as given, in order
    finally:
        dialog.close()


def test_a_manifest_picked_in_the_file_field_reaches_processing(plugin, dialog_iface, qgis_app, tmp_path):
    """As a user does it: a path typed into the manifest's file field, the two lists left empty; the
    parameters the dialog builds pass screen's check."""
    from qgis.gui import QgsFileWidget

    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}")
    dialog = _dialog("screen")
    try:
        panel = dialog.mainWidget()
        wrapper = panel.wrappers["MANIFEST"]
        changed = []
        wrapper.widgetValueHasChanged.connect(lambda w: changed.append(w.parameterDefinition().name()))
        widget = wrapper.wrappedWidget()
        field = widget if isinstance(widget, QgsFileWidget) else widget.findChildren(QgsFileWidget)[0]
        field.setFilePath(str(manifest))
        panel.setParameters({"OUTPUT": str(tmp_path / "out.csv")})
        parameters = panel.createProcessingParameters()
        assert parameters["MANIFEST"] == str(manifest) and changed and changed[-1] == "MANIFEST"
        assert parameters.get("SOIL_MOISTURE") in (None, []) and parameters.get("FACTORS") in (None, [])
        ok, msg = dialog.algorithm().checkParameterValues(parameters, QgsProcessingContext())
        assert ok, msg
    finally:
        dialog.close()


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
        panel = dialog.mainWidget()
        wrappers = panel.wrappers
        values = {name: wrappers[name].parameterValue() for name in ("smap", "grid", "validation_reference")}
        assert values["grid"] in (None, "") and values["validation_reference"] in (None, ""), values
        # still mandatory: no "[optional]" beside them, and the dialog will not run while they are empty
        labels = _labels(dialog)
        assert (labels["grid"], labels["validation_reference"]) == ("1 km reference grid raster",
                                                                    "Validation reference raster")
        from processing.gui.AlgorithmDialogBase import AlgorithmDialogBase

        panel.setParameters({"smap": layers[0].id(), "factor_rasters": [scene.truth_files[0]]})
        with pytest.raises(AlgorithmDialogBase.InvalidParameterValue) as missing:
            panel.createProcessingParameters()
        assert missing.value.args[0].name() == "grid"
        grid = scene.paths["elevation"][0]  # a file, not a layer of the project
        panel.setParameters({"grid": grid, "validation_reference": layers[1].id()})
        parameters = panel.createProcessingParameters()
        context = QgsProcessingContext()
        workflow = QgsApplication.processingRegistry().algorithmById("smdownscale:workflow")
        for name, value in (("grid", grid), ("validation_reference", layers[1].id())):
            assert parameters[name] == _stock_value(workflow.parameterDefinition(name), value, context)
        assert parameters["grid"] == grid and parameters["validation_reference"] == layers[1].id()
    finally:
        dialog.close()
        QgsProject.instance().removeMapLayers([layer.id() for layer in layers])


def _sources(child) -> dict[str, list]:
    """A child algorithm's parameter sources as plain data; an empty static value counts as no source."""
    out = {}
    for name, sources in child.parameterSources().items():
        values = [s.toVariant() for s in sources]
        values = [v for v in values if not (v.get("source") == 2 and v.get("static_value") in (None, "", []))]
        if values:
            out[name] = values
    return out


def test_model_designer_keeps_every_value_of_the_workflow_steps(plugin, dialog_iface, qgis_app):
    """Opening a step of the shipped workflow model in the model designer and pressing OK changes nothing,
    the step still validates, and the either-or inputs there name their alternative too."""
    import os

    from processing.modeler.ModelerParametersDialog import ModelerParametersDialog
    from qgis.core import QgsProcessingModelAlgorithm

    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "models",
                                       "smdownscale_workflow.model3"))
    labels = {}
    for child_id, child in model.childAlgorithms().items():
        dialog = ModelerParametersDialog(child.algorithm(), model, child_id, child.configuration())
        try:
            dialog.setPreviousValues()
            edited = dialog.createAlgorithm()
            labels[child_id] = {name: label.text() for name, label in dialog.widget.widget.widget_labels.items()}
        finally:
            dialog.close()
        assert _sources(edited) == _sources(child), child_id
        model.setChildAlgorithm(edited)
        assert model.validateChildAlgorithm(child_id) == (True, []), child_id
    assert {name: labels["screen"][name] for name in CHOICE_LABELS["screen"]} == {
        "SOIL_MOISTURE": "SMAP rasters, one per date [or a manifest] [optional]",
        "FACTORS": "Factor stacks, one per date [or a manifest] [optional]",
        "MANIFEST": "Or instead: fetch manifest [optional]"}
    assert labels["validate"]["INPUT"] == "Soil moisture estimate [or a time series] [optional]"
    assert labels["downscale"]["MODEL"] == "Model file"


def test_batch_dialog_keeps_qgis_own_widgets_and_values(plugin, dialog_iface, qgis_app, tmp_path):
    """The batch dialog has no labels: its either-or inputs are QGIS's own wrappers, and a row's values reach
    the parameters of that run."""
    from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog

    smap = [_tiny(str(tmp_path / f"smap_2023060{d}.tif")) for d in (1, 2)]
    stacks = [_tiny(str(tmp_path / f"factors_2023060{d}.tif")) for d in (1, 2)]
    alg = QgsApplication.processingRegistry().createAlgorithmById("smdownscale:screen")
    dialog = BatchAlgorithmDialog(alg)
    try:
        panel = dialog.mainWidget()
        row = panel.wrappers[0]
        columns = {w.parameterDefinition().name(): w for w in row if w is not None}
        assert {type(columns[name]).__name__ for name in CHOICE_LABELS["screen"]} == {
            "QgsAbstractProcessingParameterWidgetWrapper"}
        context = QgsProcessingContext()
        columns["SOIL_MOISTURE"].setParameterValue(smap, context)
        columns["FACTORS"].setParameterValue(stacks, context)
        assert (columns["SOIL_MOISTURE"].parameterValue(), columns["FACTORS"].parameterValue()) == (smap, stacks)
    finally:
        dialog.close()


@pytest.mark.parametrize("alg_id", ["align", "downscale"])
def test_raster_outputs_offer_geotiff_only(plugin, alg_id):
    # the save dialog offered every GDAL format (.jpg, .nc, .gpkg, ...) for files that are always GeoTIFF
    alg = QgsApplication.processingRegistry().algorithmById(f"smdownscale:{alg_id}")
    for definition in alg.destinationParameterDefinitions():
        if definition.type() == "rasterDestination":
            assert definition.defaultFileExtension() == "tif"
            assert definition.createFileFilter() == "TIF files (*.tif);;TIFF files (*.tiff);;All files (*.*)"
