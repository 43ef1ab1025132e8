"""Processing algorithm smdownscale:screen — rank factors by their correlation with SMAP soil moisture."""

from __future__ import annotations

import math
import os

from qgis.core import (
    QgsMapLayer,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingUtils,
    QgsRasterLayer,
)

from .base import SmdAlgorithm


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


def add_pair_inputs(alg: SmdAlgorithm, params: list) -> None:
    """The SOIL_MOISTURE and FACTORS parameters (or a MANIFEST instead) shared by screen and train."""
    p = QgsProcessingParameterMultipleLayers(alg.SOIL_MOISTURE, alg.tr("SMAP rasters, one per date"),
                                             QgsProcessing.SourceType.TypeRaster, optional=True)
    params.append((p, alg.tr("Coarse (~9 km) soil moisture rasters in m3/m3, one per date, with the date in the "
                             "file name (YYYYMMDD or YYYY-MM-DD). Band 1 is used.")))
    p = QgsProcessingParameterMultipleLayers(alg.FACTORS, alg.tr("Factor stacks, one per date"),
                                             QgsProcessing.SourceType.TypeRaster, optional=True)
    params.append((p, alg.tr("Fine (1 km) multiband factor stacks from smdownscale:align, one per date with the "
                             "same date in the file name as its soil moisture raster. Bands are identified by "
                             "their names (band descriptions).")))
    p = QgsProcessingParameterFile(alg.MANIFEST, alg.tr("Or instead: fetch manifest"),
                                   extension="json", optional=True)
    params.append((p, alg.tr("manifest.json written by smdownscale:fetchgee: its SMAP rasters and factor stacks "
                             "are used instead of the two lists above.")))


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


def min_valid_param(alg: SmdAlgorithm) -> tuple:
    p = QgsProcessingParameterNumber(alg.MIN_VALID_FRACTION, alg.tr("Minimum valid fraction per coarse cell"),
                                     QgsProcessingParameterNumber.Type.Double, defaultValue=0.5, minValue=0.0,
                                     maxValue=1.0)
    p.setFlags(p.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
    return p, alg.tr("A coarse cell is used only when at least this share of its 1 km pixels has every factor valid.")


def sm_value_params(alg: SmdAlgorithm, scale_name: str = "SM_SCALE", nodata_name: str = "SM_NODATA",
                    reference: bool = False, scale_default: float | None = 1.0) -> list[tuple]:
    """The advanced scale factor (to m3/m3) and nodata parameters of a soil moisture input.

    ``scale_default`` None makes the scale optional (downscale: empty reads SMAP as the model was trained).
    """
    scale_label = alg.tr("Reference scale factor to m3/m3") if reference else alg.tr("SMAP scale factor to m3/m3")
    nodata_label = alg.tr("Reference nodata value (if not declared in the file)") if reference else \
        alg.tr("SMAP nodata value (if not declared in the file)")
    p = QgsProcessingParameterNumber(scale_name, scale_label,
                                     QgsProcessingParameterNumber.Type.Double, defaultValue=scale_default,
                                     optional=scale_default is None, minValue=0.0)
    p.setFlags(p.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
    if scale_default is None:
        help_scale = alg.tr("The values are multiplied by this to give m3/m3: 0.01 for percent, 0.0001 for "
                            "integers x 10000. Empty: as the model was trained (1 unless its SMAP had a scale).")
    else:
        help_scale = alg.tr("The values are multiplied by this to give m3/m3: 1 for m3/m3, 0.01 for percent, 0.0001 "
                            "for integers x 10000. Values that cannot be m3/m3 stop the run with a message.")
    n = QgsProcessingParameterNumber(nodata_name, nodata_label,
                                     QgsProcessingParameterNumber.Type.Double, optional=True)
    n.setFlags(n.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
    if scale_default is None:
        help_nodata = alg.tr("A fill value the file does not declare as nodata (e.g. -9999); such pixels are ignored. "
                             "Empty: the value the model was trained with, else the file's own nodata value only.")
    else:
        help_nodata = alg.tr("A fill value the file does not declare as nodata (e.g. -9999); such pixels are ignored. "
                             "Empty: the file's own nodata value only.")
    return [(p, help_scale), (n, help_nodata)]


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


#: Engine collinearity filters (algorithms.screen.COLLINEARITY_MODES) in the order of the COLLINEARITY options.
COLLINEARITY_KEYS = ("study", "transfer", "off")


class ScreenAlgorithm(SmdAlgorithm):
    ALG_ID = "screen"
    GROUP = "model"
    HELP_ANCHOR = "screen"

    SOIL_MOISTURE = "SOIL_MOISTURE"
    FACTORS = "FACTORS"
    MANIFEST = "MANIFEST"
    MAX_COLLINEARITY = "MAX_COLLINEARITY"
    COLLINEARITY = "COLLINEARITY"
    MIN_ABS_R = "MIN_ABS_R"
    MAX_FACTORS = "MAX_FACTORS"
    MIN_VALID_FRACTION = "MIN_VALID_FRACTION"
    OUTPUT = "OUTPUT"
    SELECTED = "SELECTED"
    REPORT = "REPORT"
    MAX_VIF = "MAX_VIF"
    DIAGNOSTICS = "DIAGNOSTICS"
    DERIVED_FACTORS = "DERIVED_FACTORS"
    SM_SCALE = "SM_SCALE"
    SM_NODATA = "SM_NODATA"

    def displayName(self) -> str:  # noqa: N802
        return self.tr("Screen factors (correlation analysis)")

    def shortHelpString(self) -> str:  # noqa: N802
        return self.tr(
            "Ranks the downscaling factors by how strongly they relate to SMAP soil moisture and selects a "
            "non-redundant subset for smdownscale:train.\n\n"
            "For every date, the 1 km factor stack is averaged onto the SMAP grid (each coarse cell gets the mean "
            "of the 1 km pixels whose centers fall in it; land cover becomes class fractions) and paired with the "
            "SMAP value; all dates are pooled. For each continuous factor the table gives Pearson and Spearman "
            "correlation with their p-values; a categorical factor (land cover) is judged as a whole by the "
            "correlation ratio eta of soil moisture over the dominant class of each cell (p-value from one-way "
            "ANOVA), in the Pearson column.\n\n"
            "Factors are ranked by |r| (eta) and taken in that order: a factor whose correlation with an already "
            "selected one exceeds the maximum collinearity is dropped, and the table names the factor it "
            "duplicates. Factors below the minimum |r| and those beyond the maximum number are dropped too.\n\n"
            "Beyond pairwise r (diagnostics, on by default): the variance inflation factor (VIF) of each continuous "
            "factor against the other kept factors, which catches a factor explained by several others together; "
            "the mutual information with soil moisture, which also sees nonlinear relations; and the permutation "
            "importance from a quick random forest (how much the held-out RMSE grows, in m3/m3, when the factor is "
            "shuffled in spatial blocks the forest did not see). With a maximum VIF above 1, the kept factor with "
            "the largest VIF above it is dropped, one at a time. The reason column says why each factor was kept or "
            "dropped.\n\n"
            "Derived factors (optional) are computed from the stack bands when their inputs are present: lst_diff "
            "(lst_day - lst_night), tvdi (NDVI-LST space with a fitted dry edge) and api (from daily "
            "precipitation_lag<d> bands).\n\n"
            "Outputs: a CSV table (factor, kind, n, pearson_r, pearson_p, spearman_r, spearman_p, rank, selected, "
            "reason, and with the diagnostics vif, mutual_info, perm_importance) and the selected factor names, "
            "comma-separated, ready for the 'Factors to use' input of "
            "smdownscale:train in a model. Neighbouring cells are autocorrelated, so p-values are optimistic: "
            "use them to rank, not as proof.\n\n"
            "Units: SMAP soil moisture must be in m3/m3; percent, scaled integers or an undeclared fill value (e.g. "
            "-9999) stop the run with the fix. The advanced parameters SM_SCALE (factor to m3/m3, 0.01 for percent) "
            "and SM_NODATA (a fill value the file does not declare) say how to read SMAP. NDVI-like factors must lie "
            "within -1 to 1.")

    def checkParameterValues(self, parameters, context):  # noqa: N802
        return check_pair_parameters(self, super().checkParameterValues(parameters, context), parameters, context)

    def initAlgorithm(self, config=None):  # noqa: N802
        params: list = []
        add_pair_inputs(self, params)
        p = QgsProcessingParameterNumber(self.MAX_COLLINEARITY, self.tr("Maximum collinearity |r|"),
                                         QgsProcessingParameterNumber.Type.Double, defaultValue=0.8, minValue=0.01,
                                         maxValue=1.0)
        params.append((p, self.tr("A factor correlated more strongly than this with a better-ranked selected factor "
                                  "is dropped. 1 keeps every factor.")))
        p = QgsProcessingParameterEnum(self.COLLINEARITY, self.tr("Collinearity filter"),
                                       options=[self.tr("Study's correlation screening"),
                                                self.tr("Decided by the scale-transfer check"), self.tr("Off")],
                                       defaultValue=0)
        p.setFlags(p.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        params.append((p, self.tr("Study's: of two collinear factors the weaker one is dropped, as the reference "
                                  "study screens. Scale-transfer check: such a factor is dropped only when a random "
                                  "forest trained on grids 2x and 3x coarser than SMAP predicts SMAP's cells no worse "
                                  "without it (tree models use collinear factors well). Off: no factor is dropped "
                                  "for collinearity.")))
        p = QgsProcessingParameterNumber(self.MIN_ABS_R, self.tr("Minimum |r| with soil moisture"),
                                         QgsProcessingParameterNumber.Type.Double, defaultValue=0.0, minValue=0.0,
                                         maxValue=0.99)
        p.setFlags(p.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        params.append((p, self.tr("Factors correlating more weakly than this with soil moisture are dropped.")))
        p = QgsProcessingParameterNumber(self.MAX_FACTORS, self.tr("Maximum factors (0 = no limit)"),
                                         QgsProcessingParameterNumber.Type.Integer, defaultValue=0, minValue=0)
        params.append((p, self.tr("Keep at most this many factors, best ranked first. 0 keeps all that pass.")))
        p = QgsProcessingParameterNumber(self.MAX_VIF, self.tr("Maximum VIF (0 = off)"),
                                         QgsProcessingParameterNumber.Type.Double, defaultValue=0.0, minValue=0.0)
        params.append((p, self.tr("Drop, one at a time, the kept continuous factor whose VIF against the other kept "
                                  "factors exceeds this (5 or 10 are usual). 0 switches the filter off.")))
        p = QgsProcessingParameterBoolean(self.DIAGNOSTICS, self.tr("Compute VIF, mutual information and permutation "
                                                                    "importance"), defaultValue=True)
        p.setFlags(p.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        params.append((p, self.tr("Adds the columns vif, mutual_info and perm_importance (a quick random forest; "
                                  "needs scikit-learn) and their values in the reasons.")))
        p = QgsProcessingParameterEnum(self.DERIVED_FACTORS, self.tr("Derived factors"),
                                       options=[self.tr("LST day-night difference (lst_diff)"),
                                                self.tr("TVDI from the NDVI-LST space (tvdi)"),
                                                self.tr("Antecedent precipitation index (api)")],
                                       allowMultiple=True, optional=True, defaultValue=[])
        params.append((p, self.tr("Computed from the stack bands when their inputs are present and screened with "
                                  "the other factors.")))
        params.append(min_valid_param(self))
        params += sm_value_params(self)
        p = QgsProcessingParameterFileDestination(self.OUTPUT, self.tr("Screening table"),
                                                  self.tr("CSV files (*.csv)"))
        params.append((p, self.tr("CSV table with one row per factor, in rank order.")))
        p = QgsProcessingParameterFileDestination(self.REPORT, self.tr("Screening report"),
                                                  self.tr("HTML files (*.html)"), optional=True, createByDefault=True)
        params.append((p, self.tr("HTML report: factors ranked by their correlation with soil moisture (selected "
                                  "and dropped), the correlation heatmap and the table; shown in the Processing "
                                  "results viewer.")))
        for param, help_text in params:
            if hasattr(param, "setHelp"):
                param.setHelp(help_text)
            self.addParameter(param)
        self.addOutput(QgsProcessingOutputString(self.SELECTED, self.tr("Selected factors (comma-separated)")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from ..algorithms import screen

        diagnostics = self.parameterAsBool(parameters, self.DIAGNOSTICS, context)
        max_vif = self.parameterAsDouble(parameters, self.MAX_VIF, context)
        if diagnostics:
            from . import dependencies

            dependencies.require(["sklearn"])
        derived = [("lst_diff", "tvdi", "api")[i]
                   for i in self.parameterAsEnums(parameters, self.DERIVED_FACTORS, context)]
        sm, stacks = pair_input_paths(self, parameters, context)
        output = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        report_path = report_destination(self, parameters, context)
        sm_scale = self.parameterAsDouble(parameters, self.SM_SCALE, context)
        sm_nodata = optional_number(self, parameters, self.SM_NODATA, context)
        reading = sm_reading_text(self, sm_scale, sm_nodata)
        if reading:
            feedback.pushInfo(self.tr("SMAP values read with {}.").format(reading))
        progress, is_canceled = self.callbacks(feedback)
        result = self.run_engine(
            screen.screen_factors, sm, stacks,
            max_collinearity=self.parameterAsDouble(parameters, self.MAX_COLLINEARITY, context),
            min_abs_r=self.parameterAsDouble(parameters, self.MIN_ABS_R, context),
            max_factors=self.parameterAsInt(parameters, self.MAX_FACTORS, context),
            min_valid_fraction=self.parameterAsDouble(parameters, self.MIN_VALID_FRACTION, context),
            output_csv=output, progress=progress, is_canceled=is_canceled, max_vif=max_vif, diagnostics=diagnostics,
            derived=derived, sm_scale=sm_scale, sm_nodata=sm_nodata,
            collinearity=COLLINEARITY_KEYS[self.parameterAsEnum(parameters, self.COLLINEARITY, context)])

        def num(v: float) -> str:
            return "   n/a" if not math.isfinite(v) else f"{v:6.3f}"

        feedback.pushInfo(self.tr("{} coarse samples over {} date(s).").format(result.n_samples, len(result.dates)))
        feedback.pushInfo(f"{self.tr('rank'):>4s} {self.tr('factor'):24s} {self.tr('r/eta'):>6s} "
                          f"{self.tr('rho'):>6s}  {self.tr('kept'):4s} {self.tr('reason')}")
        for row in result.rows:
            kept = self.tr("yes") if row["selected"] else self.tr("no")
            feedback.pushInfo(f"{row['rank']:4d} {row['factor'][:24]:24s} {num(row['pearson_r'])} "
                              f"{num(row['spearman_r'])}  {kept:4s} {row['reason']}")
        feedback.pushInfo(self.tr("Selected factors: {}").format(result.selected_text))
        if report_path:
            from ..algorithms import report

            settings = {self.tr("Maximum collinearity"): self.parameterAsDouble(parameters, self.MAX_COLLINEARITY,
                                                                                context),
                        self.tr("Minimum |r|"): self.parameterAsDouble(parameters, self.MIN_ABS_R, context),
                        self.tr("Maximum number of factors"): self.parameterAsInt(parameters, self.MAX_FACTORS,
                                                                                  context) or self.tr("no limit"),
                        self.tr("Maximum VIF"): max_vif or self.tr("off"),
                        self.tr("Collinearity filter"): COLLINEARITY_KEYS[self.parameterAsEnum(
                            parameters, self.COLLINEARITY, context)]}
            if reading:
                settings[self.tr("SMAP values")] = reading
            self.run_engine(report.screen_report, result, report_path, inputs=report_inputs(self, sm, stacks),
                            settings=settings)
        return {self.OUTPUT: output, self.SELECTED: result.selected_text, self.REPORT: report_path}
