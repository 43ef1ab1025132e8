"""Inputs shared by the local chain's algorithms (screen, train, downscale, validate).

The SMAP-list / factor-list / manifest trio of screen and train and its either-or check, raster paths behind
a multiple-layer parameter, the report destination, the minimum valid fraction, the derived factors of screen
and train, and how soil moisture values are read (scale to m3/m3, undeclared nodata).
"""

from __future__ import annotations

import os

from qgis.core import (
    QgsMapLayer,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingUtils,
    QgsRasterLayer,
)

from ..algorithms import options
from .base import SmdAlgorithm

#: The "Derived factors" enum of screen and train: index -> key of ``options.DERIVED_FACTORS``, in form order.
DERIVED_KEYS = options.DERIVED_FACTORS.form_keys


def raster_paths(alg: SmdAlgorithm, parameters, name: str, context) -> list[str]:
    """Paths of a multiple-raster parameter; a string QGIS cannot load is passed on so the engine names it."""
    raw = parameters.get(name)
    if raw is None:
        return []
    if not isinstance(raw, (list, tuple)):
        raw = [raw]
    paths = []
    for item in raw:
        layer = item if isinstance(item, QgsMapLayer) else QgsProcessingUtils.mapLayerFromString(str(item), context)
        if layer is None:
            paths.append(str(item))
            continue
        if isinstance(layer, QgsRasterLayer) and layer.providerType() != "gdal":
            raise QgsProcessingException(alg.tr(
                "{} is not a raster file (provider '{}'); save it as a GeoTIFF (Export > Save As...) and use "
                "that file.").format(layer.name(), layer.providerType()))
        paths.append(layer.source())
    return paths


def add_pair_inputs(alg: SmdAlgorithm) -> None:
    """The SOIL_MOISTURE and FACTORS parameters (or a MANIFEST instead) shared by screen and train.

    Optional for QGIS, as either way may be given; the dialog labels the lists "[or a manifest]" and the
    manifest "Or instead: ..." rather than "[optional]" (``widgets.py``).
    """
    alg.add(QgsProcessingParameterMultipleLayers(alg.SOIL_MOISTURE, alg.tr("SMAP rasters, one per date"),
                                                 QgsProcessing.SourceType.TypeRaster, optional=True),
            alg.tr("Coarse (~9 km) soil moisture rasters in m3/m3, one per date, with the date in the "
                   "file name (YYYYMMDD or YYYY-MM-DD). Band 1 is used."), choice=alg.tr("or a manifest"))
    alg.add(QgsProcessingParameterMultipleLayers(alg.FACTORS, alg.tr("Factor stacks, one per date"),
                                                 QgsProcessing.SourceType.TypeRaster, optional=True),
            alg.tr("Fine (1 km) multiband factor stacks from smdownscale:align, one per date with the "
                   "same date in the file name as its soil moisture raster. Bands are identified by "
                   "their names (band descriptions)."), choice=alg.tr("or a manifest"))
    alg.add(QgsProcessingParameterFile(alg.MANIFEST, alg.tr("Or instead: fetch manifest"),
                                       extension="json", optional=True),
            alg.tr("manifest.json written by smdownscale:fetchgee: its SMAP rasters and factor stacks "
                   "are used instead of the two lists above."), choice="")


def check_pair_parameters(alg: SmdAlgorithm, checked: tuple, parameters, context) -> tuple:
    """QGIS's and the base class's checks (``checked``), then whether the lists or a manifest were given."""
    ok, msg = checked
    if not ok:
        return ok, msg
    problem = pair_inputs_problem(alg, parameters, context)
    return (False, problem) if problem else (True, msg)


def pair_inputs_problem(alg: SmdAlgorithm, parameters, context) -> str | None:
    """Why the inputs are incomplete (neither both lists nor a manifest, or both ways), else None.

    The three parameters are optional for QGIS because either the lists or a manifest is given; this is the
    check that one way is complete, shown in the dialog before anything runs.
    """
    def given(name: str) -> bool:
        value = parameters.get(name)
        return value not in (None, "", [], ()) and not (hasattr(value, "isNull") and value.isNull())

    manifest, sm, stacks = given(alg.MANIFEST), given(alg.SOIL_MOISTURE), given(alg.FACTORS)
    if manifest and (sm or stacks):
        return alg.tr("Give either a manifest or the lists of SMAP rasters and factor stacks, not both.")
    if not manifest and not (sm and stacks):
        return alg.tr("Give the SMAP soil moisture rasters and the factor stacks (one per date), or a manifest from "
                      "smdownscale:fetchgee.")
    return None


def pair_input_paths(alg: SmdAlgorithm, parameters, context) -> tuple[list[str], list[str]]:
    """(SMAP rasters, factor stacks) from the two lists or from a fetchgee manifest (exactly one way)."""
    from ..algorithms.manifest import manifest_inputs

    manifest = alg.parameterAsFile(parameters, alg.MANIFEST, context)
    sm = raster_paths(alg, parameters, alg.SOIL_MOISTURE, context)
    stacks = raster_paths(alg, parameters, alg.FACTORS, context)
    if manifest:
        if sm or stacks:
            raise QgsProcessingException(alg.tr(
                "Give either a manifest or the lists of SMAP rasters and factor stacks, not both."))
        return alg.run_engine(manifest_inputs, manifest)
    if not sm or not stacks:
        raise QgsProcessingException(alg.tr(
            "Give the SMAP soil moisture rasters and the factor stacks (one per date), or a manifest from "
            "smdownscale:fetchgee."))
    return sm, stacks


def report_destination(alg: SmdAlgorithm, parameters, context) -> str | None:
    """The REPORT path (None when skipped), checked before the run so a bad folder fails early."""
    from ..algorithms.raster import check_output_path

    path = alg.parameterAsFileOutput(parameters, alg.REPORT, context) or None
    if path:
        alg.run_engine(check_output_path, path)
    return path


def report_inputs(alg: SmdAlgorithm, sm: list[str], stacks: list[str]) -> dict[str, list[str]]:
    """The input files a report lists (file names only)."""
    return {alg.tr("SMAP soil moisture"): [os.path.basename(p) for p in sm],
            alg.tr("Factor stacks"): [os.path.basename(p) for p in stacks]}


def add_min_valid_fraction(alg: SmdAlgorithm) -> None:
    """The advanced MIN_VALID_FRACTION parameter of screen and train."""
    alg.add(QgsProcessingParameterNumber(alg.MIN_VALID_FRACTION, alg.tr("Minimum valid fraction per coarse cell"),
                                         QgsProcessingParameterNumber.Type.Double, defaultValue=0.5, minValue=0.0,
                                         maxValue=1.0),
            alg.tr("A coarse cell is used only when at least this share of its 1 km pixels has every factor valid."),
            advanced=True)


def add_derived_factors(alg: SmdAlgorithm, help_text: str) -> None:
    """The optional multiple choice of derived factors (parameter ``alg.DERIVED_FACTORS``), nothing chosen by
    default; read it with :func:`derived_factors`."""
    labels = {"lst_diff": alg.tr("LST day-night difference (lst_diff)"),
              "tvdi": alg.tr("TVDI from the NDVI-LST space (tvdi)"),
              "api": alg.tr("Antecedent precipitation index (api)")}
    alg.add(QgsProcessingParameterEnum(alg.DERIVED_FACTORS, alg.tr("Derived factors"),
                                       options=[labels.get(key, key) for key in DERIVED_KEYS], allowMultiple=True,
                                       optional=True, defaultValue=[]), help_text)


def derived_factors(alg: SmdAlgorithm, parameters, context) -> list[str]:
    """The keys of the derived factors chosen (``options.DERIVED_FACTORS``)."""
    return [DERIVED_KEYS[i] for i in alg.parameterAsEnums(parameters, alg.DERIVED_FACTORS, context)]


def add_sm_reading(alg: SmdAlgorithm, scale_name: str = "SM_SCALE", nodata_name: str = "SM_NODATA",
                   reference: bool = False, scale_default: float | None = 1.0) -> None:
    """The advanced scale factor (to m3/m3) and nodata parameters of a soil moisture input.

    ``scale_default`` None makes the scale optional (downscale: empty reads SMAP as the model was trained).
    """
    scale_label = alg.tr("Reference scale factor to m3/m3") if reference else alg.tr("SMAP scale factor to m3/m3")
    nodata_label = alg.tr("Reference nodata value (if not declared in the file)") if reference else \
        alg.tr("SMAP nodata value (if not declared in the file)")
    p = QgsProcessingParameterNumber(scale_name, scale_label,
                                     QgsProcessingParameterNumber.Type.Double, defaultValue=scale_default,
                                     optional=scale_default is None, minValue=0.0)
    if scale_default is None:
        help_scale = alg.tr("The values are multiplied by this to give m3/m3: 0.01 for percent, 0.0001 for "
                            "integers x 10000. Empty: as the model was trained (1 unless its SMAP had a scale).")
    else:
        help_scale = alg.tr("The values are multiplied by this to give m3/m3: 1 for m3/m3, 0.01 for percent, 0.0001 "
                            "for integers x 10000. Values that cannot be m3/m3 stop the run with a message.")
    n = QgsProcessingParameterNumber(nodata_name, nodata_label,
                                     QgsProcessingParameterNumber.Type.Double, optional=True)
    if scale_default is None:
        help_nodata = alg.tr("A fill value the file does not declare as nodata (e.g. -9999); such pixels are ignored. "
                             "Empty: the value the model was trained with, else the file's own nodata value only.")
    else:
        help_nodata = alg.tr("A fill value the file does not declare as nodata (e.g. -9999); such pixels are ignored. "
                             "Empty: the file's own nodata value only.")
    alg.add(p, help_scale, advanced=True)
    alg.add(n, help_nodata, advanced=True)


def optional_number(alg: SmdAlgorithm, parameters, name: str, context) -> float | None:
    """The value of an optional number parameter, or None when it is left empty."""
    value = parameters.get(name)
    if value is None or value == "" or (hasattr(value, "isNull") and value.isNull()):
        return None
    return alg.parameterAsDouble(parameters, name, context)


def sm_reading_text(alg: SmdAlgorithm, scale: float | None, nodata: float | None) -> str:
    """'scale 0.01, nodata -9999' for logs and reports ('' when the values are read as they are)."""
    parts = []
    if scale is not None and scale != 1.0:
        parts.append(alg.tr("scale {:g}").format(scale))
    if nodata is not None:
        parts.append(alg.tr("nodata {:g}").format(nodata))
    return ", ".join(parts)
