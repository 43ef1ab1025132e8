"""Processing algorithm smdownscale:downscale — apply a trained model to a 1 km factor stack."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsRasterLayer,
)

from .base import SmdAlgorithm, style_output

RESIDUAL_MODES = ("constant", "none")


class DownscaleAlgorithm(SmdAlgorithm):
    ALG_ID = "downscale"
    GROUP = "model"
    HELP_ANCHOR = "downscale"

    MODEL = "MODEL"
    FACTORS = "FACTORS"
    SOIL_MOISTURE = "SOIL_MOISTURE"
    RESIDUAL_CORRECTION = "RESIDUAL_CORRECTION"
    CLIP_MIN = "CLIP_MIN"
    CLIP_MAX = "CLIP_MAX"
    OUTPUT = "OUTPUT"
    MEAN = "MEAN"

    def displayName(self) -> str:  # noqa: N802
        return self.tr("Downscale soil moisture")

    def shortHelpString(self) -> str:  # noqa: N802
        return self.tr(
            "Applies a model trained with 'Train downscaling model' to a 1 km factor stack (from 'Align rasters "
            "to a grid') and writes 1 km soil moisture (m3/m3, float32 GeoTIFF, nodata -9999).\n\n"
            "Factors are matched to the model by band name, so the stack may hold its bands in any order and "
            "extra bands; a factor the model needs but the stack lacks is an error. Pixels where any factor is "
            "nodata stay nodata. The raster is processed in blocks, so any extent fits in memory.\n\n"
            "Residual correction (default: constant per coarse cell) needs the coarse SMAP raster of the same "
            "date: for every SMAP cell the residual SMAP minus the mean of the 1 km predictions inside the cell "
            "is added to those pixels, so the 1 km field averages exactly to SMAP in every cell. Pixels whose "
            "cell has no SMAP value keep the uncorrected prediction. Finally values are clipped to the physical "
            "range (advanced parameters).")

    def initAlgorithm(self, config=None):  # noqa: N802
        params = []
        p = QgsProcessingParameterFile(self.MODEL, self.tr("Model file"),
                                       behavior=QgsProcessingParameterFile.Behavior.File,
                                       fileFilter=self.tr("smdownscale model (*.smdmodel)"))
        params.append((p, self.tr("A .smdmodel file written by 'Train downscaling model'.")))
        p = QgsProcessingParameterRasterLayer(self.FACTORS, self.tr("Factor stack (1 km)"))
        params.append((p, self.tr("Multiband raster with one named band per factor, on the 1 km grid.")))
        p = QgsProcessingParameterRasterLayer(self.SOIL_MOISTURE, self.tr("Coarse soil moisture (SMAP, same date)"),
                                              optional=True)
        params.append((p, self.tr("SMAP soil moisture of the factor stack's date; needed for residual "
                                  "correction.")))
        p = QgsProcessingParameterEnum(self.RESIDUAL_CORRECTION, self.tr("Residual correction"),
                                       options=[self.tr("Constant per coarse cell"), self.tr("None")],
                                       defaultValue=0)
        params.append((p, self.tr("Constant per coarse cell: each SMAP cell's 1 km mean equals SMAP. None: the "
                                  "plain model prediction.")))
        p = QgsProcessingParameterNumber(self.CLIP_MIN, self.tr("Minimum soil moisture (m3/m3)"),
                                         QgsProcessingParameterNumber.Type.Double, defaultValue=0.0)
        p.setFlags(p.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        params.append((p, self.tr("Lower end of the physical range; smaller values are raised to it.")))
        p = QgsProcessingParameterNumber(self.CLIP_MAX, self.tr("Maximum soil moisture (m3/m3)"),
                                         QgsProcessingParameterNumber.Type.Double, defaultValue=0.6)
        p.setFlags(p.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        params.append((p, self.tr("Upper end of the physical range (about the porosity); larger values are "
                                  "lowered to it.")))
        p = QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Soil moisture 1 km"))
        params.append((p, self.tr("Float32 GeoTIFF of soil moisture in m3/m3.")))
        for param, help_text in params:
            if hasattr(param, "setHelp"):
                param.setHelp(help_text)
            self.addParameter(param)
        self.addOutput(QgsProcessingOutputNumber(self.MEAN, self.tr("Mean soil moisture (m3/m3)")))

    def _raster_path(self, parameters, name, context) -> str | None:
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None:
            return None
        if isinstance(layer, QgsRasterLayer) and layer.providerType() != "gdal":
            raise QgsProcessingException(self.tr(
                "{} is not a raster file (provider '{}'); save it as a GeoTIFF (Export > Save As...) and use "
                "that file.").format(layer.name(), layer.providerType()))
        return layer.source()

    def checkParameterValues(self, parameters, context):  # noqa: N802
        ok, msg = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, msg
        lo = self.parameterAsDouble(parameters, self.CLIP_MIN, context)
        hi = self.parameterAsDouble(parameters, self.CLIP_MAX, context)
        if not lo < hi:
            return False, self.tr("The minimum soil moisture must be below the maximum.")
        mode = RESIDUAL_MODES[self.parameterAsEnum(parameters, self.RESIDUAL_CORRECTION, context)]
        if mode != "none" and self.parameterAsRasterLayer(parameters, self.SOIL_MOISTURE, context) is None:
            return False, self.tr("Residual correction needs the coarse soil moisture: give the coarse SMAP raster "
                                  "of the same date, or set residual correction to None.")
        return True, ""

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from . import dependencies

        dependencies.require(["sklearn", "skops"])
        from ..algorithms import downscale as engine

        model = self.parameterAsFile(parameters, self.MODEL, context)
        stack = self._raster_path(parameters, self.FACTORS, context)
        if stack is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, self.FACTORS))
        coarse = self._raster_path(parameters, self.SOIL_MOISTURE, context)
        mode = RESIDUAL_MODES[self.parameterAsEnum(parameters, self.RESIDUAL_CORRECTION, context)]
        clip = (self.parameterAsDouble(parameters, self.CLIP_MIN, context),
                self.parameterAsDouble(parameters, self.CLIP_MAX, context))
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        progress, is_canceled = self.callbacks(feedback)
        if coarse and mode == "none":
            feedback.pushInfo(self.tr("Residual correction is off: the coarse soil moisture raster is not used."))

        res = self.run_engine(engine.downscale, model, stack, output, coarse_sm=coarse if mode != "none" else None,
                              residual=mode, clip=clip, progress=progress, is_canceled=is_canceled)

        feedback.pushInfo(self.tr("Model: {} ({}); date: {}").format(res.model_type, model, res.date or "-"))
        feedback.pushInfo(self.tr("{} valid pixels: mean {:.4f}, std {:.4f}, min {:.4f}, max {:.4f} m3/m3")
                          .format(res.n_valid, res.mean, res.std, res.min, res.max))
        if mode != "none":
            feedback.pushInfo(self.tr("Residual correction: {} coarse cells, mean |residual| {:.4f} m3/m3, largest "
                                      "cell mean deviation {:.2g} m3/m3 (before clipping)")
                              .format(res.n_cells_corrected, res.mean_abs_residual, res.max_cell_deviation))
            if res.n_uncorrected:
                feedback.pushWarning(self.tr("{} pixels lie in cells without a SMAP value and keep the uncorrected "
                                             "prediction.").format(res.n_uncorrected))
        if res.n_clipped:
            feedback.pushInfo(self.tr("{} pixels were clipped to {:g}-{:g} m3/m3.")
                              .format(res.n_clipped, clip[0], clip[1]))
        style_output(context, output, "soil_moisture",
                     name=self.tr("Soil moisture 1 km {}").format(res.date or "").strip())
        return {self.OUTPUT: output, self.MEAN: res.mean}
