"""Processing algorithm smdownscale:downscale — apply a trained model to a 1 km factor stack."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingUtils,
    QgsRasterLayer,
)

from ...algorithms import options
from ...algorithms.i18n import translate as translate_engine
from ...algorithms.units import WARN_CLIPPED
from ..base import SmdAlgorithm
from ..inputs import add_sm_reading, optional_number, raster_paths
from ..layers import style_output

#: Engine residual modes in the order of the RESIDUAL_CORRECTION options (indices are public: scripts use them).
#: Engine keys in the order of the enum options (indices are public), from the registry.
RESIDUAL_MODES = options.RESIDUAL_MODES.form_keys
#: Engine keys of the DETAIL options, in enum order.
DETAIL_MODES = options.DETAIL_MODES.form_keys


class DownscaleAlgorithm(SmdAlgorithm):
    ALG_ID = "downscale"
    GROUP = "model"
    HELP_ANCHOR = "downscale"

    MODEL = "MODEL"
    FACTORS = "FACTORS"
    SOIL_MOISTURE = "SOIL_MOISTURE"
    RESIDUAL_CORRECTION = "RESIDUAL_CORRECTION"
    DETAIL = "DETAIL"
    CLIP_MIN = "CLIP_MIN"
    CLIP_MAX = "CLIP_MAX"
    SM_SCALE = "SM_SCALE"
    SM_NODATA = "SM_NODATA"
    FILL_GAPS = "FILL_GAPS"
    FILL_WINDOW_DAYS = "FILL_WINDOW_DAYS"
    NEIGHBOUR_FACTORS = "NEIGHBOUR_FACTORS"
    OUTPUT = "OUTPUT"
    QUALITY = "QUALITY"
    UNCERTAINTY = "UNCERTAINTY"
    MEAN = "MEAN"
    # time series: several dates in one run, one file per date
    FACTORS_SERIES = "FACTORS_SERIES"
    SOIL_MOISTURE_SERIES = "SOIL_MOISTURE_SERIES"
    MANIFEST = "MANIFEST"
    INPUT_FOLDER = "INPUT_FOLDER"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    OUTPUT_FILES = "OUTPUT_FILES"

    def displayName(self) -> str:
        return self.tr("Downscale soil moisture")

    def shortHelpString(self) -> str:
        return self.tr(
            "Applies a model trained with 'Train downscaling model' to a 1 km factor stack (from 'Align rasters "
            "to a grid') and writes 1 km soil moisture (m3/m3, float32 GeoTIFF, nodata -9999).\n\n"
            "Factors are matched to the model by band name, so the stack may hold its bands in any order and "
            "extra bands; a factor the model needs but the stack lacks is an error. The raster is processed in "
            "blocks, so any extent fits in memory.\n\n"
            "Complete maps: where factors are missing (cloud gaps in LST or NDVI, swath gaps, water), a pixel is "
            "predicted from the factors it has plus the coarse-cell means of the missing ones (interpolated between "
            "cell centers); a pixel without any factor, in a cell with a SMAP value, gets the coarse field itself "
            "(residual-corrected). This needs the SMAP raster (its cells), also with residual correction off. The "
            "quality raster says per pixel which path produced it: 1 all factors observed, 2 missing factors "
            "filled, 3 coarse field only, 4 factors partly from a neighbouring date (0 nodata). Turn 'Fill gaps' "
            "off to leave such pixels empty.\n\n"
            "Temporal filling (advanced: 'Fill factors from neighbouring dates within (days)', default 12; 0 = off): "
            "before the above, a factor missing at a pixel takes its value at that pixel on the nearest other date "
            "within that many days where it is valid (nearest in days; of two dates equally far, the earlier; at "
            "most the 6 nearest dates), "
            "moved to this date's level: plus the mean difference between the two dates over the pixels valid on "
            "both, per tile of 16 x 16 pixels, so the other date brings the pixel's pattern, not its weather. "
            "With gap filling on, that value is weighed against the gap filling's own (cell means plus what the "
            "pixel's observed factors say), per factor and per pattern of missing factors (LST alone, LST and "
            "NDVI together, ...), by how well each recovers the factor where the same factors are hidden at "
            "observed pixels; the log gives each factor's weight over all patterns together (1: the other date's "
            "value, 0: the gap filling's). "
            "Bands are matched by name and every date must be on the same grid. A time series fills from its own "
            "other dates; a single date from the 'Neighbouring factor stacks' given (none given: nothing to fill "
            "from). Only dynamic factors (LST, NDVI, SAR) miss in practice; static bands such as elevation or land "
            "cover are the same on every date. On the bench (bench/GAPS.md) such pixels came closer to the truth "
            "than with the gap filling alone on every scene (little on farmland mosaics, whose factors change "
            "between dates).\n\n"
            "Residual correction (default: smooth, mass-conserving) needs the coarse SMAP raster of the same "
            "date: for every SMAP cell the residual is SMAP minus the mean of the 1 km predictions inside the "
            "cell. The smooth correction adds a bilinear surface through one value per SMAP cell, solved so that "
            "the 1 km field averages exactly to SMAP in every cell, without steps at cell edges. The constant "
            "variant adds each cell's residual to its pixels (the same cell means, but 9 km seams show). Area-to-point "
            "kriging spreads the residuals with weights from a variogram fitted to them (the same cell means). Pixels "
            "whose cell has no SMAP value have nothing to conserve: the smooth and kriging corrections continue into "
            "them from the neighbouring cells and fade out over a cell or two (no step at the edge), the constant one "
            "leaves them as predicted; the log reports the largest cell-mean "
            "deviation from SMAP (mass-conservation check). Finally values are clipped to the physical range "
            "(advanced parameters).\n\n"
            "Derived factors the model was trained with (LST day-night difference, TVDI, antecedent precipitation "
            "index) are recomputed from the stack's bands; a stack without them works with models that do not "
            "use them.\n\nTime series: instead of one factor stack, give factor stacks of several dates (with the SMAP "
            "rasters of the same dates), the manifest.json of 'Fetch data from Earth Engine', or a folder holding "
            "factors_<date>.tif and smap_<date>.tif (dates as YYYYMMDD or YYYY-MM-DD in the names). Every date is "
            "downscaled exactly as a single date would be and written to the output folder as "
            "sm_1km_<YYYYMMDD>.tif, with sm_1km_series.csv listing date, start, end and file. In QGIS the files "
            "load into one group, each layer shown from its date until the next one, so the temporal controller "
            "animates the series.\n\n"
            "Units: the SMAP of residual correction is read as the model was trained (its SM_SCALE and SM_NODATA) "
            "unless the advanced parameters give others; values that cannot be m3/m3 (percent, an undeclared fill "
            "value such as -9999) stop the run with the fix. An LST factor in degrees Celsius for a model trained "
            "on Kelvin (or the reverse) and NDVI-like factors outside -1 to 1 are refused with the conversion to "
            "apply. More than 5 % of the pixels clipped to the physical range is a warning in the log and in the "
            "output's metadata; more than half stops the run, as the inputs are then in other units.")

    def initAlgorithm(self, config=None):
        residual = {"constant": self.tr("Constant per coarse cell"), "none": self.tr("None"),
                    "smooth": self.tr("Smooth (mass-conserving)"),
                    "atpk": self.tr("Area-to-point kriging")}
        self.add(QgsProcessingParameterFile(self.MODEL, self.tr("Model file"),
                                            behavior=QgsProcessingParameterFile.Behavior.File,
                                            fileFilter=self.tr("smdownscale model (*.smdmodel)")),
                 self.tr("A .smdmodel file written by 'Train downscaling model'."))
        self.add(QgsProcessingParameterRasterLayer(self.FACTORS, self.tr("Factor stack (1 km)"), optional=True),
                 self.tr("Multiband raster with one named band per factor, on the 1 km grid (one date; "
                         "leave empty for a time series)."), choice=self.tr("or a time series"))
        self.add(QgsProcessingParameterRasterLayer(self.SOIL_MOISTURE, self.tr("SMAP of the same date"),
                                                   optional=True),
                 self.tr("SMAP soil moisture of the factor stack's date; needed for residual "
                         "correction."), choice=self.tr("for residual correction"))
        self.add(QgsProcessingParameterEnum(self.RESIDUAL_CORRECTION, self.tr("Residual correction"),
                                            options=[residual[key] for key in RESIDUAL_MODES],
                                            defaultValue=options.RESIDUAL_MODES.default_index),
                 self.tr("Smooth (default): the residual is spread as an interpolated surface, without "
                         "steps at cell edges, and each SMAP cell's 1 km mean equals SMAP. Constant per "
                         "coarse cell: the same cell means, with steps at cell edges. None: the plain model "
                         "prediction. Area-to-point kriging: the residuals are kriged from the cells around each "
                         "pixel with a variogram fitted to them, with the same cell means."))
        detail = {"model": self.tr("The model's own prediction"),
                  "contrast": self.tr("Linear model of local contrasts")}
        self.add(QgsProcessingParameterEnum(self.DETAIL, self.tr("Detail within SMAP cells"),
                                            options=[detail[key] for key in DETAIL_MODES],
                                            defaultValue=options.DETAIL_MODES.default_index),
                 self.tr("Linear model of local contrasts (default): the model gives each SMAP cell's level "
                         "(interpolated between cell centres) and a linear model of the factors, fitted in training "
                         "on how each SMAP cell differs from its 3 x 3 neighbours, gives the 1 km detail inside the "
                         "cells; sharper on farmland mosaics. With the smooth correction the map then does not "
                         "depend on the model type where SMAP has a value. It needs the SMAP raster and a model "
                         "trained in the scale-aware mode (retrain older models). The model's own prediction: the "
                         "1 km map is the model's prediction, residual-corrected (the study's method; choose it to "
                         "compare models)."), advanced=True)
        self.add(QgsProcessingParameterNumber(self.CLIP_MIN, self.tr("Minimum soil moisture (m3/m3)"),
                                              QgsProcessingParameterNumber.Type.Double, defaultValue=0.0),
                 self.tr("Lower end of the physical range; smaller values are raised to it."), advanced=True)
        self.add(QgsProcessingParameterNumber(self.CLIP_MAX, self.tr("Maximum soil moisture (m3/m3)"),
                                              QgsProcessingParameterNumber.Type.Double, defaultValue=0.6),
                 self.tr("Upper end of the physical range (about the porosity); larger values are "
                         "lowered to it."), advanced=True)
        self.add(QgsProcessingParameterBoolean(self.FILL_GAPS, self.tr("Fill gaps (complete maps)"), defaultValue=True),
                 self.tr("Predict pixels with missing factors from the coarse-cell means of those factors, "
                         "and give pixels without any factor the coarse field; off: they stay nodata."), advanced=True)
        self.add(QgsProcessingParameterNumber(self.FILL_WINDOW_DAYS,
                                              self.tr("Fill factors from neighbouring dates within (days)"),
                                              QgsProcessingParameterNumber.Type.Integer,
                                              defaultValue=options.FILL_WINDOW_DAYS, minValue=0, maxValue=366),
                 self.tr("0: off. A factor missing at a pixel (cloud, swath gap) takes its value on the nearest "
                         "other date within this many days where the pixel is valid (a tie: the earlier date), "
                         "moved to this date's level and weighed against the gap filling's own value; quality 4. "
                         "Dynamic factors only miss in practice (LST, NDVI, SAR); static bands such as "
                         "elevation are the same on every date. A time series uses its own dates; one date the "
                         "neighbouring factor stacks below."), advanced=True)
        self.add(QgsProcessingParameterMultipleLayers(
            self.NEIGHBOUR_FACTORS, self.tr("Neighbouring factor stacks (one date, temporal filling)"),
            QgsProcessing.SourceType.TypeRaster, optional=True),
                 self.tr("Factor stacks of other dates on the same grid, each with its date in the file name, for "
                         "temporal filling of a single date (a time series fills from its own dates)."),
                 advanced=True)
        add_sm_reading(self, scale_default=None)
        self.add(QgsProcessingParameterMultipleLayers(self.FACTORS_SERIES, self.tr("Time series: factor stacks"),
                                                      QgsProcessing.SourceType.TypeRaster, optional=True),
                 self.tr("Factor stacks of several dates, each with its date in the file name "
                         "(YYYYMMDD or YYYY-MM-DD); one output file per date."),
                 choice=self.tr("or a manifest or folder"))
        self.add(QgsProcessingParameterMultipleLayers(self.SOIL_MOISTURE_SERIES,
                                                      self.tr("Time series: SMAP rasters"),
                                                      QgsProcessing.SourceType.TypeRaster, optional=True),
                 self.tr("The SMAP rasters of the same dates (paired by the date in the file names), for "
                         "residual correction."), choice=self.tr("for residual correction"))
        self.add(QgsProcessingParameterFile(self.MANIFEST, self.tr("Time series: fetch manifest"),
                                            behavior=QgsProcessingParameterFile.Behavior.File, optional=True,
                                            fileFilter=self.tr("smdownscale manifest (*.json)")),
                 self.tr("The manifest.json written by 'Fetch data from Earth Engine': every date it lists "
                         "is downscaled."), choice=self.tr("or factor stacks or folder"))
        self.add(QgsProcessingParameterFile(self.INPUT_FOLDER, self.tr("Time series: input folder"),
                                            behavior=QgsProcessingParameterFile.Behavior.Folder, optional=True),
                 self.tr("A folder holding factors_<date>.tif and smap_<date>.tif (also in factors/ and "
                         "smap/ subfolders, or listed by a manifest.json in the folder)."),
                 choice=self.tr("or factor stacks or manifest"))
        self.add(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Soil moisture 1 km"), optional=True,
                                                         createByDefault=True),
                 self.tr("Float32 GeoTIFF of soil moisture in m3/m3 (one date)."))
        self.add(QgsProcessingParameterRasterDestination(self.QUALITY, self.tr("Quality (path of each pixel)"),
                                                         optional=True, createByDefault=True),
                 self.tr("Byte GeoTIFF: 1 all factors observed, 2 missing factors filled from coarse-cell "
                         "means, 3 coarse field only, 4 factors partly from a neighbouring date, 0 nodata (one "
                         "date; a time series writes "
                         "quality_<YYYYMMDD>.tif next to the soil moisture files)."))
        self.add(QgsProcessingParameterRasterDestination(self.UNCERTAINTY, self.tr("Uncertainty (tree spread)"),
                                                         optional=True, createByDefault=False),
                 self.tr("Optional, one date, random forest or extra trees models: the standard deviation "
                         "of the trees' predictions per pixel (m3/m3). A relative measure, not a calibrated "
                         "interval: how often the truth lies within it is measured in bench/ACCURACY.md."))
        self.add(QgsProcessingParameterFolderDestination(self.OUTPUT_FOLDER, self.tr("Time series: output folder"),
                                                         optional=True, createByDefault=False),
                 self.tr("Folder for sm_1km_<YYYYMMDD>.tif per date and the list sm_1km_series.csv; "
                         "empty: a temporary folder."))
        self.addOutput(QgsProcessingOutputNumber(self.MEAN, self.tr("Mean soil moisture (m3/m3)")))
        self.addOutput(QgsProcessingOutputString(self.OUTPUT_FILES, self.tr("Time series: output files "
                                                                            "(';'-separated)")))

    def _raster_path(self, parameters, name, context) -> str | None:
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None:
            return None
        if isinstance(layer, QgsRasterLayer) and layer.providerType() != "gdal":
            raise QgsProcessingException(self.tr(
                "{} is not a raster file (provider '{}'); save it as a GeoTIFF (Export > Save As...) and use "
                "that file.").format(layer.name(), layer.providerType()))
        return layer.source()

    def folder_output(self, name, folder, parameters, context):
        """A time series writes sm_1km_<YYYYMMDD>.tif per date and the list sm_1km_series.csv into the folder."""
        from ...algorithms.paths import FolderOutput
        from ...algorithms.series import LIST_NAME, OUTPUT_PREFIX, QUALITY_PREFIX

        return FolderOutput(folder, files=[LIST_NAME], patterns=[f"{OUTPUT_PREFIX}_*.tif", f"{QUALITY_PREFIX}_*.tif"])

    def checkParameterValues(self, parameters, context):
        ok, msg = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, msg
        lo = self.parameterAsDouble(parameters, self.CLIP_MIN, context)
        hi = self.parameterAsDouble(parameters, self.CLIP_MAX, context)
        if not lo < hi:
            return False, self.tr("The minimum soil moisture must be below the maximum.")
        mode = RESIDUAL_MODES[self.parameterAsEnum(parameters, self.RESIDUAL_CORRECTION, context)]
        message = self._check_series(parameters, context, mode)
        if message:
            return False, message
        neighbours = parameters.get(self.NEIGHBOUR_FACTORS) not in (None, "", [])
        if neighbours and self._series_sources(parameters, context):
            return False, self.tr("Neighbouring factor stacks are for one date: a time series fills from its own "
                                  "dates. Leave them empty.")
        if self._series_sources(parameters, context) and self.parameterAsOutputLayer(parameters, self.UNCERTAINTY,
                                                                                     context):
            return False, self.tr("The uncertainty output is written for one date: leave it empty for a time "
                                  "series, or downscale the date alone.")
        if mode != "none" and not self._series_sources(parameters, context) and \
                self.parameterAsRasterLayer(parameters, self.SOIL_MOISTURE, context) is None:
            return False, self.tr("Residual correction needs the coarse soil moisture: give the coarse SMAP raster "
                                  "of the same date, or set residual correction to None.")
        return True, ""

    def processAlgorithm(self, parameters, context, feedback):
        from .. import dependencies

        dependencies.require(["sklearn", "skops"])
        from ...algorithms import downscale as engine

        if self._series_sources(parameters, context):
            return self._process_series(parameters, context, feedback)
        model = self.parameterAsFile(parameters, self.MODEL, context)
        stack = self._raster_path(parameters, self.FACTORS, context)
        if stack is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, self.FACTORS))
        coarse = self._raster_path(parameters, self.SOIL_MOISTURE, context)
        mode = RESIDUAL_MODES[self.parameterAsEnum(parameters, self.RESIDUAL_CORRECTION, context)]
        clip = (self.parameterAsDouble(parameters, self.CLIP_MIN, context),
                self.parameterAsDouble(parameters, self.CLIP_MAX, context))
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        if not output:
            output = QgsProcessingUtils.generateTempFilename("sm_1km.tif")
        quality = self.parameterAsOutputLayer(parameters, self.QUALITY, context) or None
        fill = self.parameterAsBoolean(parameters, self.FILL_GAPS, context)
        window = self.parameterAsInt(parameters, self.FILL_WINDOW_DAYS, context)
        neighbours = raster_paths(self, parameters, self.NEIGHBOUR_FACTORS, context) if window else []
        if window and not neighbours:
            window = 0  # one date without neighbouring stacks: nothing to fill from
        uncertainty = self.parameterAsOutputLayer(parameters, self.UNCERTAINTY, context) or None
        progress, is_canceled = self.callbacks(feedback)
        if coarse and mode == "none":
            feedback.pushInfo(self.tr("Residual correction is off: the coarse soil moisture raster serves gap filling "
                                      "only.") if fill else
                              self.tr("Residual correction is off: the coarse soil moisture raster is not used."))

        sm_scale, sm_nodata = self._sm_reading(parameters, context)
        res = self.run_engine(engine.downscale, model, stack, output,
                              coarse_sm=coarse if mode != "none" or fill or self._detail(parameters, context)
                              else None, residual=mode, clip=clip,
                              progress=progress, is_canceled=is_canceled, sm_scale=sm_scale, sm_nodata=sm_nodata,
                              quality=quality, fill_gaps=fill, uncertainty=uncertainty, neighbours=neighbours,
                              fill_window_days=window, detail=self._detail(parameters, context))

        feedback.pushInfo(self.tr("Model: {} ({}); date: {}").format(res.model_type, model, res.date or "-"))
        self.report_backend(res, feedback)
        feedback.pushInfo(self.tr("{} valid pixels: mean {:.4f}, std {:.4f}, min {:.4f}, max {:.4f} m3/m3")
                          .format(res.n_valid, res.mean, res.std, res.min, res.max))
        if mode != "none":
            feedback.pushInfo(self.tr("Residual correction: {} coarse cells, mean |residual| {:.4f} m3/m3, largest "
                                      "cell mean deviation {:.2g} m3/m3 (before clipping)")
                              .format(res.n_cells_corrected, res.mean_abs_residual, res.max_cell_deviation))
            if res.n_cells_off_after_clipping:
                feedback.pushInfo(self.tr("Clipping to the physical range moved the mean of {} coarse cells more than "
                                          "0.001 m3/m3 off SMAP (at most {:.3f} m3/m3): their clipped pixels keep the "
                                          "clipped amount off the cell.")
                                  .format(res.n_cells_off_after_clipping, res.max_cell_deviation_written))
            if res.sm_reading:
                feedback.pushInfo(self.tr("SMAP values read with {}.").format(res.sm_reading))
            if res.n_uncorrected:
                feedback.pushWarning(self.uncorrected_note(mode, res.n_uncorrected))
        for warning in res.warnings:
            feedback.pushWarning(translate_engine(warning))
        if res.n_clipped and res.clipped_fraction <= WARN_CLIPPED:  # above it, a warning of the engine says it
            feedback.pushInfo(self.tr("{} pixels were clipped to {:g}-{:g} m3/m3.")
                              .format(res.n_clipped, clip[0], clip[1]))
        self.report_gaps(res, feedback, fill and bool(coarse))
        self.report_temporal(res, feedback, window)
        style_output(context, output, "soil_moisture",
                     name=self.tr("Soil moisture 1 km {}").format(res.date or "").strip())
        if quality:
            style_output(context, quality, "quality", name=self.tr("Quality {}").format(res.date or "").strip())
        if uncertainty:
            feedback.pushInfo(self.tr("Uncertainty: mean standard deviation across the trees {:.4f} m3/m3.")
                              .format(res.mean_tree_sd))
            style_output(context, uncertainty, "uncertainty",
                         name=self.tr("Soil moisture uncertainty {}").format(res.date or "").strip())
        return {self.OUTPUT: output, self.QUALITY: quality, self.UNCERTAINTY: uncertainty, self.MEAN: res.mean}

    def _detail(self, parameters, context):
        """The chosen detail's engine key; None for the default (which falls back to the model's own detail, with a
        warning, for a model without contrast coefficients)."""
        key = DETAIL_MODES[self.parameterAsEnum(parameters, self.DETAIL, context)]
        return None if key == options.DETAIL_MODES.default_key else key

    def report_gaps(self, res, feedback, filled: bool) -> None:
        """Say how many pixels each path produced (gap filling)."""
        if not filled:
            feedback.pushInfo(self.tr("Gap filling is off (or no SMAP raster was given): pixels where a factor is "
                                      "missing stay nodata."))
            return
        feedback.pushInfo(self.tr("Pixels: {} with all factors observed, {} with missing factors filled from "
                                  "coarse-cell means, {} from the coarse field only.")
                          .format(res.n_all_factors, res.n_filled, res.n_coarse_only))
        for name, n in res.filled_factors.items():
            feedback.pushInfo(self.tr("Factor {} filled at {} pixels.").format(name, n))

    def report_temporal(self, res, feedback, window: int) -> None:
        """Say how many pixels took factors from neighbouring dates, and from which dates."""
        if not window:
            return
        feedback.pushInfo(self.tr("{}: {} pixels with factors from a neighbouring date within {} days (dates used: "
                                  "{}).").format(res.date or "-", res.n_from_other_date, window,
                                                 ", ".join(res.other_dates) or self.tr("none")))
        for name, n in res.other_date_factors.items():
            feedback.pushInfo(self.tr("Factor {} taken from a neighbouring date at {} pixels.").format(name, n))
        if res.other_date_weights:
            feedback.pushInfo(self.tr("Weight of the neighbouring dates' values against the gap filling's own, "
                                      "measured on observed pixels: {}.").format(
                ", ".join(f"{k} {v:.2f}" for k, v in res.other_date_weights.items())))

    def uncorrected_note(self, mode: str, n: int) -> str:
        """What residual correction ``mode`` did with the ``n`` pixels that have no SMAP value to conserve (in cells
        without one, or outside the SMAP raster)."""
        if mode == "constant":
            return self.tr("{} pixels lie in cells without a SMAP value or outside the SMAP raster and keep the "
                           "uncorrected prediction.").format(n)
        return self.tr("{} pixels lie in cells without a SMAP value or outside the SMAP raster: nothing to conserve "
                       "there. The correction of the neighbouring cells continues into them (beyond the raster's edge "
                       "as into its cells without a value) and fades out.").format(n)

    def _sm_reading(self, parameters, context) -> tuple[float | None, float | None]:
        """(scale, nodata) of the SMAP of residual correction; None: as the model was trained."""
        return (optional_number(self, parameters, self.SM_SCALE, context),
                optional_number(self, parameters, self.SM_NODATA, context))

    # -- time series -----------------------------------------------------------------------------
    def report_backend(self, res, feedback) -> None:
        """Say how the model predicted: the compiled tree walker, or scikit-learn (and why, for a tree model)."""
        if res.prediction_backend == "compiled tree walker":
            feedback.pushInfo(self.tr("Prediction: compiled tree walker (same values as scikit-learn, faster)."))
        elif res.prediction_backend == "compiled SVR kernel":
            feedback.pushInfo(self.tr("Prediction: compiled SVR kernel (scikit-learn's values within 1e-9, faster)."))
        elif res.prediction_backend == "numpy SVR kernel":
            feedback.pushInfo(self.tr("Prediction: SVR kernel in numpy blocks (scikit-learn's values within 1e-9); "
                                      "the compiled library is {}.").format(res.prediction_note))
        elif res.prediction_note:
            feedback.pushInfo(self.tr("Prediction: scikit-learn; the compiled tree walker is {}.")
                              .format(res.prediction_note))
        else:
            feedback.pushInfo(self.tr("Prediction: scikit-learn."))

    def _series_sources(self, parameters, context) -> list[str]:
        """The time series inputs given (parameter names)."""
        given = []
        for name in (self.FACTORS_SERIES, self.SOIL_MOISTURE_SERIES):
            value = parameters.get(name)
            if value not in (None, "", []):
                given.append(name)
        for name in (self.MANIFEST, self.INPUT_FOLDER):
            if self.parameterAsFile(parameters, name, context):
                given.append(name)
        return given

    def _check_series(self, parameters, context, mode: str) -> str:
        """'' when the single-date / time series inputs are consistent, else the message."""
        series = self._series_sources(parameters, context)
        single = parameters.get(self.FACTORS) not in (None, "")
        if single and series:
            return self.tr("Give either one factor stack (one date) or a time series (factor stacks, a manifest or "
                           "an input folder), not both.")
        if not single and not series:
            return self.tr("Give a factor stack, or a time series: factor stacks of several dates, a manifest or an "
                           "input folder.")
        ways = [n for n in series if n != self.SOIL_MOISTURE_SERIES]
        if series and len(ways) != 1:
            return self.tr("Give the time series one way: factor stacks, a manifest or an input folder.")
        if ways == [self.FACTORS_SERIES] and mode != "none" and self.SOIL_MOISTURE_SERIES not in series:
            return self.tr("Residual correction needs the SMAP rasters of the same dates: add them under 'Time "
                           "series: SMAP soil moisture rasters', or set residual correction to None.")
        return ""

    def _process_series(self, parameters, context, feedback):
        from ...algorithms import series as engine
        from ..layers import load_series

        message = self._check_series(parameters, context, "none")
        if message:
            raise QgsProcessingException(message)
        model = self.parameterAsFile(parameters, self.MODEL, context)
        mode = RESIDUAL_MODES[self.parameterAsEnum(parameters, self.RESIDUAL_CORRECTION, context)]
        clip = (self.parameterAsDouble(parameters, self.CLIP_MIN, context),
                self.parameterAsDouble(parameters, self.CLIP_MAX, context))
        stacks, smap = self.run_engine(
            engine.resolve_inputs, raster_paths(self, parameters, self.FACTORS_SERIES, context) or None,
            raster_paths(self, parameters, self.SOIL_MOISTURE_SERIES, context) or None,
            self.parameterAsFile(parameters, self.MANIFEST, context) or None,
            self.parameterAsFile(parameters, self.INPUT_FOLDER, context) or None)
        out_dir = self.parameterAsFileOutput(parameters, self.OUTPUT_FOLDER, context) or \
            QgsProcessingUtils.generateTempFilename("sm_1km_series")
        for name in (self.OUTPUT, self.QUALITY):
            single = self.parameterAsOutputLayer(parameters, name, context)
            if single and context.willLoadLayerOnCompletion(single):  # a series writes one file per date instead
                layers = context.layersToLoadOnCompletion()
                layers.pop(single, None)
                context.setLayersToLoadOnCompletion(layers)
        if smap and mode == "none":
            feedback.pushInfo(self.tr("Residual correction is off: the SMAP rasters are not used."))
        progress, is_canceled = self.callbacks(feedback)

        sm_scale, sm_nodata = self._sm_reading(parameters, context)
        fill = self.parameterAsBoolean(parameters, self.FILL_GAPS, context)
        window = self.parameterAsInt(parameters, self.FILL_WINDOW_DAYS, context)
        detail = self._detail(parameters, context)
        results = self.run_engine(engine.downscale_series, model, stacks,
                                  smap if mode != "none" or fill or detail else None,
                                  out_dir, residual=mode, clip=clip, progress=progress, is_canceled=is_canceled,
                                  sm_scale=sm_scale, sm_nodata=sm_nodata, fill_gaps=fill, fill_window_days=window,
                                  detail=detail)

        if results:
            self.report_backend(results[0], feedback)
            if results[0].sm_reading:
                feedback.pushInfo(self.tr("SMAP values read with {}.").format(results[0].sm_reading))
        for res in results:
            feedback.pushInfo(self.tr("{}: {} valid pixels, mean {:.4f} m3/m3 -> {}")
                              .format(res.date, res.n_valid, res.mean, res.output))
            if res.n_filled or res.n_coarse_only:
                feedback.pushInfo(self.tr("{}: {} pixels with missing factors filled, {} from the coarse field only.")
                                  .format(res.date, res.n_filled, res.n_coarse_only))
            if window:
                self.report_temporal(res, feedback, window)
            if res.n_uncorrected:
                feedback.pushWarning(f"{res.date}: {self.uncorrected_note(mode, res.n_uncorrected)}")
            for warning in res.warnings:
                feedback.pushWarning(f"{res.date}: {translate_engine(warning)}")
        entries = self.run_engine(engine.read_series_list, os.path.join(out_dir, engine.LIST_NAME))
        first, last = entries[0].date.isoformat(), entries[-1].date.isoformat()
        group = self.tr("Soil moisture 1 km {}").format(first) if first == last else \
            self.tr("Soil moisture 1 km {} to {}").format(first, last)
        load_series(context, entries, self.tr("Soil moisture 1 km {}"), group, self.OUTPUT_FOLDER)
        n = sum(r.n_valid for r in results)
        mean = sum(r.mean * r.n_valid for r in results if r.n_valid) / n if n else float("nan")
        feedback.pushInfo(self.tr("{} dates written to {}; mean soil moisture {:.4f} m3/m3.")
                          .format(len(results), out_dir, mean))
        return {self.OUTPUT: None, self.QUALITY: None, self.MEAN: mean, self.OUTPUT_FOLDER: out_dir,
                self.OUTPUT_FILES: ";".join(r.output for r in results)}
