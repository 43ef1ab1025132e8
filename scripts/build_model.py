"""Build the shipped workflow model ``models/smdownscale_workflow.model3`` from code, so it is reproducible.

    .venv/bin/python scripts/build_model.py [output.model3]

The model runs the chain on local files for one date: align the factor rasters onto the 1 km grid,
screen them against SMAP, train on the selected factors (screen's 'Selected factors' feeds train's
'Factors to use'), downscale, and validate against a reference raster. Screening, training and
validation also write their HTML reports. The plugin's provider lists the model in the Processing
toolbox as ``smdownscale:workflow``.
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, "models", "smdownscale_workflow.model3")
#: The model's name, i.e. its id under the provider (smdownscale:workflow).
MODEL_NAME = "workflow"
GROUP = "Workflows"
GROUP_ID = "workflows"
HELP_URL = "https://github.com/smdownscale/smdownscale#workflow"

DESCRIPTION = (
    "The whole chain on local files of one date, from factor rasters to validated 1 km soil moisture:\n"
    "1. Align rasters to a grid: the factor rasters (any CRS and resolution) become one 1 km stack on the grid "
    "of the 1 km reference grid raster.\n"
    "2. Screen factors: correlation with SMAP at the SMAP scale; redundant factors are dropped.\n"
    "3. Train downscaling model on the selected factors (spatial-block cross-validation).\n"
    "4. Downscale soil moisture with (smooth, mass-conserving) residual correction against SMAP; pixels with "
    "missing factors are filled, and the quality raster says which path produced each pixel.\n"
    "5. Validate soil moisture against the validation reference raster (also for the observed and the filled "
    "pixels apart).\n\n"
    "Training uses the SMAP cells of the area on this one date: give an area of at least about 100 km x 100 km "
    "(some 120 SMAP cells) or train on several dates with 'Train downscaling model' itself. Screening, training "
    "and validation write HTML reports with plots.")

PARAM_HELP = {
    "smap": "Coarse (~9 km) SMAP soil moisture raster of the date, m3/m3; its file name should carry the date.",
    "factor_rasters": "Factor rasters of the same date (NDVI, LST, DEM, land cover, ...); each band becomes a "
                      "factor named after its band description or file name.",
    "grid": "A raster on the 1 km target grid (e.g. a 1 km DEM): the stack takes its CRS, extent and pixel size.",
    "validation_reference": "Soil moisture raster to validate the 1 km result against (e.g. a 1 km product or "
                            "in-situ based map).",
    "model_type": "The regression algorithm: random forest, support vector regression or a regression tree.",
    "smap_scale": "Factor that turns the SMAP values into m3/m3: 1 for m3/m3, 0.01 for SMAP in percent. The model "
                  "keeps it, so downscaling reads SMAP the same way.",
    "fill_window_days": "0: off. A factor missing at a pixel takes its value on the nearest neighbouring date within "
                        "this many days (the SMAP file name gives the date; without neighbouring stacks nothing is "
                        "filled); quality 4.",
    "neighbour_factor_stacks": "Aligned factor stacks of other dates (1 km grid of this run, dates in the file "
                               "names), for temporal filling.",
}

# model outputs: (child id, child output, model output name, description, mandatory)
OUTPUTS = [
    ("screen", "OUTPUT", "screening_table", "Screening table", True),
    ("screen", "REPORT", "screening_report", "Screening report", False),
    ("train", "OUTPUT", "model_file", "Model file", True),
    ("train", "REPORT", "training_report", "Training report", False),
    ("downscale", "OUTPUT", "soil_moisture_1km", "Soil moisture 1 km", True),
    ("downscale", "QUALITY", "quality_1km", "Quality (path of each pixel)", False),
    ("validate", "OUTPUT", "validation_metrics", "Validation metrics", True),
    ("validate", "REPORT", "validation_report", "Validation report", False),
]


def build(path: str = OUTPUT) -> str:
    """Write the model file (QGIS must be initialized and the smdownscale provider registered)."""
    from qgis.core import (
        QgsProcessing,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterDefinition,
        QgsProcessingParameterEnum,
        QgsProcessingParameterMultipleLayers,
        QgsProcessingParameterNumber,
        QgsProcessingParameterRasterLayer,
    )
    from qgis.PyQt.QtCore import QPointF

    from smdownscale.processing_provider.base import STARTS_EMPTY_WRAPPER

    model = QgsProcessingModelAlgorithm(MODEL_NAME, GROUP, GROUP_ID)
    params = [
        QgsProcessingParameterRasterLayer("smap", "SMAP soil moisture (coarse, one date)"),
        QgsProcessingParameterMultipleLayers("factor_rasters", "Factor rasters of that date",
                                             QgsProcessing.SourceType.TypeRaster),
        # layer pickers that start empty: QGIS fills a mandatory picker with the active layer, so the form would
        # start with SMAP, grid and validation reference all the same layer. (Not file inputs: the model
        # designer offers no file input to a raster parameter, so editing align or validate there would
        # silently rewire their REFERENCE to 'smap'.)
        QgsProcessingParameterRasterLayer("grid", "1 km reference grid raster"),
        QgsProcessingParameterRasterLayer("validation_reference", "Validation reference raster"),
        QgsProcessingParameterEnum("model_type", "Model", options=["Random forest (RF)",
                                                                   "Support vector regression (SVR)",
                                                                   "Regression tree (CART)"], defaultValue=0),
        QgsProcessingParameterNumber("smap_scale", "SMAP scale factor to m3/m3",
                                     QgsProcessingParameterNumber.Type.Double, defaultValue=1.0, minValue=0.0),
    ]
    for p in params[2:4]:
        p.setMetadata({"widget_wrapper": {"class": STARTS_EMPTY_WRAPPER}})
    params[-1].setFlags(params[-1].flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
    params[-1].setMetadata({"widget_wrapper": {"decimals": 4}})  # 1.0000, and 0.0001 can be typed
    from qgis.core import QgsApplication

    # temporal filling: the downscale algorithm's own default window (algorithms/options.py)
    window = QgsApplication.processingRegistry().algorithmById("smdownscale:downscale") \
        .parameterDefinition("FILL_WINDOW_DAYS").defaultValue()
    params += [
        QgsProcessingParameterNumber("fill_window_days", "Fill factors from neighbouring dates within (days)",
                                     QgsProcessingParameterNumber.Type.Integer, defaultValue=window, minValue=0,
                                     maxValue=366),
        QgsProcessingParameterMultipleLayers("neighbour_factor_stacks", "Neighbouring factor stacks (temporal filling)",
                                             QgsProcessing.SourceType.TypeRaster, optional=True),
    ]
    for p in params[-2:]:
        p.setFlags(p.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
    for i, p in enumerate(params):
        mp = QgsProcessingModelParameter(p.name())
        mp.setDescription(p.description())
        mp.setPosition(QPointF(120, 80 + 110 * i))
        model.addModelParameter(p, mp)

    def param(name: str):
        return QgsProcessingModelChildParameterSource.fromModelParameter(name)

    def output(child: str, name: str):
        return QgsProcessingModelChildParameterSource.fromChildOutput(child, name)

    def static(value):
        return QgsProcessingModelChildParameterSource.fromStaticValue(value)

    steps = [
        ("align", "smdownscale:align", "Align rasters to a grid",
         {"INPUTS": [param("factor_rasters")], "REFERENCE": [param("grid")], "CATEGORICAL": [static("landcover")]}),
        ("screen", "smdownscale:screen", "Screen factors",
         {"SOIL_MOISTURE": [param("smap")], "FACTORS": [output("align", "OUTPUT")],
          "SM_SCALE": [param("smap_scale")]}),
        ("train", "smdownscale:train", "Train downscaling model",
         {"SOIL_MOISTURE": [param("smap")], "FACTORS": [output("align", "OUTPUT")],
          "SELECTED_FACTORS": [output("screen", "SELECTED")], "MODEL_TYPE": [param("model_type")],
          "SM_SCALE": [param("smap_scale")]}),
        ("downscale", "smdownscale:downscale", "Downscale soil moisture",
         {"MODEL": [output("train", "OUTPUT")], "FACTORS": [output("align", "OUTPUT")],
          "SOIL_MOISTURE": [param("smap")], "FILL_WINDOW_DAYS": [param("fill_window_days")],
          "NEIGHBOUR_FACTORS": [param("neighbour_factor_stacks")]}),
        ("validate", "smdownscale:validate", "Validate soil moisture",
         {"INPUT": [output("downscale", "OUTPUT")], "REFERENCE": [param("validation_reference")],
          "QUALITY": [output("downscale", "QUALITY")]}),
    ]
    for i, (child_id, alg_id, description, sources) in enumerate(steps):
        child = QgsProcessingModelChildAlgorithm(alg_id)
        if child.algorithm() is None:
            raise RuntimeError(f"{alg_id} is not registered; load the smdownscale provider first.")
        child.setChildId(child_id)
        child.setDescription(description)
        child.setPosition(QPointF(480, 80 + 140 * i))
        for name, srcs in sources.items():
            child.addParameterSources(name, srcs)
        for definition in child.algorithm().parameterDefinitions():  # defaults, as the modeler dialog sets them
            if definition.name() not in sources and not definition.isDestination() and \
                    definition.defaultValue() is not None:
                child.addParameterSources(definition.name(), [static(definition.defaultValue())])
        outputs = {}
        for j, (cid, child_output, name, desc, mandatory) in enumerate(o for o in OUTPUTS if o[0] == child_id):
            out = QgsProcessingModelOutput(name, desc)
            out.setChildId(cid)
            out.setChildOutputName(child_output)
            out.setMandatory(mandatory)
            out.setPosition(QPointF(820, 80 + 140 * i + 50 * j))
            outputs[name] = out
        child.setModelOutputs(outputs)
        model.addChildAlgorithm(child)
    model.updateDestinationParameters()
    if hasattr(model, "setParameterOrder"):  # inputs in a sensible order in the dialog (default: by name)
        model.setParameterOrder([p.name() for p in params])
    help_content = {"ALG_DESC": DESCRIPTION, "ALG_CREATOR": "smdownscale", "ALG_HELP_CREATOR": "smdownscale",
                     "HELP_URL": HELP_URL}
    help_content.update(PARAM_HELP)
    model.setHelpContent(help_content)
    ok, issues = model.validate()
    if not ok:
        raise RuntimeError("The model is not valid: " + "; ".join(issues))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".partial"
    if not model.toFile(tmp):
        raise RuntimeError(f"Cannot write {path}")
    os.replace(tmp, path)
    return path


def main(argv: list[str]) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QT_HASH_SEED", "0")  # the same attribute order on every run: stable diffs
    sys.path.insert(0, os.path.dirname(ROOT))  # the checkout's parent must hold it as 'smdownscale'
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    try:
        import importlib

        plugin = importlib.import_module(os.path.basename(ROOT) if os.path.basename(ROOT) == "smdownscale"
                                         else _linked_package())
        plug = plugin.classFactory(None)
        plug.initProcessing()
        print(build(argv[1] if len(argv) > 1 else OUTPUT))
    finally:
        app.exitQgis()
    return 0


def _linked_package() -> str:
    """Make the checkout importable as 'smdownscale' through a link in a temporary folder."""
    import tempfile

    parent = tempfile.mkdtemp(prefix="smdownscale-build-")
    os.symlink(ROOT, os.path.join(parent, "smdownscale"))
    sys.path.insert(0, parent)
    return "smdownscale"


if __name__ == "__main__":
    sys.exit(main(sys.argv))
