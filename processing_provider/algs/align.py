"""Processing algorithm smdownscale:align — align factor rasters to one grid (and aggregate to SMAP's)."""

from __future__ import annotations

import contextlib
import os

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsMapLayer,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputString,
    QgsProcessingParameterCrs,
    QgsProcessingParameterExtent,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingUtils,
    QgsRasterLayer,
    QgsRectangle,
    QgsReferencedRectangle,
)

from ..base import SmdAlgorithm
from ..layers import single_date, style_output


def _crs_text(crs: QgsCoordinateReferenceSystem) -> str:
    """A CRS as GDAL understands it: 'EPSG:code' when it has one, WKT otherwise."""
    authid = crs.authid()
    if authid.upper().startswith("EPSG:"):
        return authid
    return crs.toWkt(QgsCoordinateReferenceSystem.WktVariant.WKT_PREFERRED_GDAL)


class AlignAlgorithm(SmdAlgorithm):
    ALG_ID = "align"
    GROUP = "data"
    HELP_ANCHOR = "align"

    INPUTS = "INPUTS"
    REFERENCE = "REFERENCE"
    TARGET_CRS = "TARGET_CRS"
    TARGET_EXTENT = "TARGET_EXTENT"
    RESOLUTION = "RESOLUTION"
    CATEGORICAL = "CATEGORICAL"
    OUTPUT = "OUTPUT"
    COARSE_REFERENCE = "COARSE_REFERENCE"
    MIN_VALID_FRACTION = "MIN_VALID_FRACTION"
    COARSE_OUTPUT = "COARSE_OUTPUT"
    FACTOR_NAMES = "FACTOR_NAMES"

    def displayName(self) -> str:
        return self.tr("Align rasters to a grid")

    def shortHelpString(self) -> str:
        return self.tr(
            "Puts factor rasters (any number, single- or multi-band, in any coordinate system) on one grid and "
            "writes them as one multiband float32 GeoTIFF: every input band becomes one band, named after its band "
            "description or, failing that, the file name without its date (ndvi_20230601.tif gives 'ndvi', "
            "MOD11A1.A2023156.LST_Day_1km.tif 'MOD11A1.LST_Day_1km', chirps-v2.0.2023.06.05.tif 'chirps-v2.0'). "
            "Factor names must be unique.\n\n"
            "The grid comes from a reference raster (e.g. a 1 km DEM), or from a CRS, an extent and a resolution "
            "(the extent is snapped outward to whole multiples of the resolution). Given together with a "
            "reference raster, CRS, extent or resolution override the reference's own.\n\n"
            "Resampling is chosen per input from the change of scale: continuous factors use bilinear "
            "interpolation when the grid is finer than the input and the average when it is coarser; "
            "categorical factors (land cover: bands marked SMD_KIND=categorical, with a colour table, named like a "
            "land cover product (LC_Type1, landcover, lulc, lccs_class, WorldCover, CLCD, 土地利用 ...), or listed "
            "under 'Categorical factors') use the nearest pixel and the majority class. Nodata stays nodata "
            "and is ignored by averages.\n\n"
            "With a coarse reference raster (the SMAP soil moisture raster), the aligned factors are also "
            "aggregated onto its grid: each coarse cell gets the mean of the fine pixels whose centers fall in it "
            "(the majority class for categorical factors), or nodata when fewer than the minimum valid fraction "
            "of its pixels are valid. Models are trained on this coarse stack and applied to the fine one.")

    def initAlgorithm(self, config=None):
        p = QgsProcessingParameterMultipleLayers(self.INPUTS, self.tr("Factor rasters"),
                                                 QgsProcessing.SourceType.TypeRaster)
        p.setMinimumNumberInputs(1)
        self.add(p, self.tr("Rasters to align. Each band becomes one factor of the output stack."))
        self.add(QgsProcessingParameterRasterLayer(self.REFERENCE, self.tr("Reference raster (target grid)"),
                                                   optional=True),
                 self.tr("The output takes this raster's CRS, extent and pixel size. Leave empty to "
                         "give a CRS, an extent and a resolution instead."))
        self.add(QgsProcessingParameterCrs(self.TARGET_CRS, self.tr("Target CRS"), optional=True),
                 self.tr("CRS of the output grid (e.g. EPSG:6933, the SMAP EASE-Grid 2.0)."))
        self.add(QgsProcessingParameterExtent(self.TARGET_EXTENT, self.tr("Target extent"), optional=True),
                 self.tr("Area of the output grid, transformed into the target CRS if needed and snapped "
                         "outward to whole multiples of the resolution."))
        self.add(QgsProcessingParameterNumber(self.RESOLUTION, self.tr("Resolution (target CRS units)"),
                                              QgsProcessingParameterNumber.Type.Double, optional=True, minValue=0.0),
                 self.tr("Pixel size of the output grid in units of the target CRS (metres for a "
                         "projected CRS, degrees for EPSG:4326)."))
        self.add(QgsProcessingParameterString(self.CATEGORICAL, self.tr("Categorical factors (names)"),
                                              defaultValue="landcover", optional=True),
                 self.tr("Factor names to treat as classes (nearest / majority resampling), besides bands "
                         "already marked categorical and bands named like a land cover product."))
        self.add(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Aligned factors (fine grid)")),
                 self.tr("Multiband GeoTIFF on the target grid, one named band per factor."))
        self.add(QgsProcessingParameterRasterLayer(self.COARSE_REFERENCE,
                                                   self.tr("Coarse grid raster (e.g. SMAP)"),
                                                   optional=True),
                 self.tr("When given, the aligned factors are also aggregated onto this raster's grid "
                         "(training data for the models)."))
        self.add(QgsProcessingParameterNumber(self.MIN_VALID_FRACTION,
                                              self.tr("Minimum valid fraction per coarse cell"),
                                              QgsProcessingParameterNumber.Type.Double, defaultValue=0.5,
                                              minValue=0.0, maxValue=1.0),
                 self.tr("A coarse cell with a smaller share of valid fine pixels becomes nodata."), advanced=True)
        self.add(QgsProcessingParameterRasterDestination(self.COARSE_OUTPUT,
                                                         self.tr("Aggregated factors (coarse grid)"),
                                                         optional=True, createByDefault=True),
                 self.tr("The factors aggregated onto the coarse reference grid; written only when a "
                         "coarse reference raster is given."))
        self.addOutput(QgsProcessingOutputString(self.FACTOR_NAMES, self.tr("Factor names (comma-separated)")))

    # -- parameters ------------------------------------------------------------------------------
    def _grid_spec(self, parameters, context) -> tuple[list[str], dict]:
        """The pieces of the target grid that were given: (missing piece labels, reference_grid kwargs)."""
        ref = self.parameterAsRasterLayer(parameters, self.REFERENCE, context)
        crs = self.parameterAsCrs(parameters, self.TARGET_CRS, context)
        raw_extent = parameters.get(self.TARGET_EXTENT)
        rect = self.parameterAsExtent(parameters, self.TARGET_EXTENT, context)
        has_extent = raw_extent not in (None, "") and not rect.isNull()
        raw_res = parameters.get(self.RESOLUTION)
        has_res = raw_res not in (None, "")
        kwargs: dict = {"reference_path": self._layer_path(ref) if ref is not None else None,
                        "crs": _crs_text(crs) if crs.isValid() else None,
                        "extent": (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())
                        if has_extent else None,
                        "extent_crs": self._extent_crs(parameters, context) if has_extent else None,
                        "resolution": self.parameterAsDouble(parameters, self.RESOLUTION, context)
                        if has_res else None}
        missing = []
        if ref is None:
            if not crs.isValid():
                missing.append(self.tr("target CRS"))
            if not has_extent:
                missing.append(self.tr("target extent"))
            if not has_res:
                missing.append(self.tr("target resolution"))
        return missing, kwargs

    def _extent_crs(self, parameters, context) -> str | None:
        """CRS of the extent; None (the target CRS) for bare coordinates without '[CRS]'."""
        raw = parameters.get(self.TARGET_EXTENT)
        if isinstance(raw, QgsRectangle) and not isinstance(raw, QgsReferencedRectangle):
            return None
        if isinstance(raw, str) and "[" not in raw and QgsProcessingUtils.mapLayerFromString(raw, context) is None:
            return None
        crs = self.parameterAsExtentCrs(parameters, self.TARGET_EXTENT, context)
        return _crs_text(crs) if crs.isValid() else None

    def _layer_path(self, layer: QgsMapLayer) -> str:
        if isinstance(layer, QgsRasterLayer) and layer.providerType() != "gdal":
            raise QgsProcessingException(self.tr(
                "{} is not a raster file (provider '{}'); save it as a GeoTIFF (Export > Save As...) and use "
                "that file.").format(layer.name(), layer.providerType()))
        return layer.source()

    def _input_paths(self, parameters, context) -> list[str]:
        """Input rasters as paths; a string QGIS cannot load is passed on so the engine names the problem."""
        raw = parameters.get(self.INPUTS)
        if raw is None:
            return []
        if not isinstance(raw, (list, tuple)):
            raw = [raw]
        paths = []
        for item in raw:
            layer = item if isinstance(item, QgsMapLayer) else QgsProcessingUtils.mapLayerFromString(
                str(item), context)
            paths.append(self._layer_path(layer) if layer is not None else str(item))
        return paths

    def checkParameterValues(self, parameters, context):
        ok, msg = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, msg
        try:
            missing, _ = self._grid_spec(parameters, context)
            self._input_paths(parameters, context)
        except QgsProcessingException as exc:
            return False, str(exc)
        if missing:
            return False, self.tr("Give a reference raster, or a target CRS, extent and resolution "
                                  "(missing: {}).").format(", ".join(missing))
        if parameters.get(self.RESOLUTION) not in (None, "") and \
                not self.parameterAsDouble(parameters, self.RESOLUTION, context) > 0:
            return False, self.tr("The target resolution must be greater than 0.")
        return True, ""

    # -- run -------------------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):
        from ...algorithms import align

        paths = self._input_paths(parameters, context)
        _, spec = self._grid_spec(parameters, context)
        categorical = {c.strip() for c in (self.parameterAsString(parameters, self.CATEGORICAL, context) or "")
                       .split(",") if c.strip()}
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        coarse_layer = self.parameterAsRasterLayer(parameters, self.COARSE_REFERENCE, context)
        coarse_out = self.parameterAsOutputLayer(parameters, self.COARSE_OUTPUT, context)
        min_valid = self.parameterAsDouble(parameters, self.MIN_VALID_FRACTION, context)
        progress, is_canceled = self.callbacks(feedback)

        grid = self.run_engine(align.reference_grid, **spec)
        coarse_grid = None
        if coarse_layer is not None:
            coarse_grid = self.run_engine(align.reference_grid, self._layer_path(coarse_layer))
            self.run_engine(coarse_grid.check_size, self.tr("The coarse reference raster {}").format(
                coarse_layer.name()), self.tr("Give the coarse (~9 km) SMAP raster of the area."),
                align.raster.MAX_COARSE_PIXELS)
            if not coarse_out:
                coarse_out = QgsProcessingUtils.generateTempFilename("factors_coarse.tif")
        x0, y0, x1, y1 = grid.extent
        feedback.pushInfo(self.tr("Target grid: {} x {} pixels of {:g} x {:g}, extent {:.6g}, {:.6g}, {:.6g}, {:.6g}")
                          .format(grid.width, grid.height, grid.res[0], grid.res[1], x0, y0, x1, y1))

        share = 0.8 if coarse_grid is not None else 1.0
        protected = {self._label(self.REFERENCE): spec.get("reference_path"),
                     self._label(self.COARSE_REFERENCE): self._layer_path(coarse_layer) if coarse_layer else None}
        result = self.run_engine(align.align_rasters, paths, grid, output, categorical,
                                 progress=lambda f: progress(share * f), is_canceled=is_canceled,
                                 protected={self._label(self.INPUTS): paths, **protected})
        for name, kind, method, frac in zip(result.names, result.kinds, result.resampling, result.valid_fraction):
            feedback.pushInfo(self.tr("{}: {}, {} resampling, {:.1%} valid").format(name, kind, method, frac))
            if frac == 0.0:  # a date's LST all under cloud, radar without an overpass: kept, missing everywhere
                feedback.pushWarning(self.tr(
                    "{} holds no valid pixel on the target grid (cloud all day, or no radar overpass): it stays "
                    "missing everywhere in the stack. To downscale this date, give the stacks of neighbouring dates "
                    "(NEIGHBOUR_FACTORS) so the factor is taken from them; training leaves the date out.")
                    .format(name))

        results = {self.OUTPUT: output, self.FACTOR_NAMES: ",".join(result.names), self.COARSE_OUTPUT: None}
        day = single_date(paths)  # the date the inputs share, for the layer names
        if coarse_grid is not None:
            feedback.pushInfo(self.tr("Aggregating onto the coarse grid ({} x {} cells)...")
                              .format(coarse_grid.width, coarse_grid.height))
            try:
                self.run_engine(align.aggregate_stack, output, coarse_grid, coarse_out, min_valid,
                                progress=lambda f: progress(share + (1 - share) * f), is_canceled=is_canceled,
                                protected={self._label(self.INPUTS): paths, **protected})
            except QgsProcessingException:
                with contextlib.suppress(OSError):  # a failed or canceled run leaves nothing behind
                    os.remove(output)
                raise
            results[self.COARSE_OUTPUT] = coarse_out
            style_output(context, coarse_out, style="factors",
                         name=self.tr("Aggregated factors (coarse grid) {}").format(day or "").strip())
        elif coarse_out and context.willLoadLayerOnCompletion(coarse_out):
            layers = context.layersToLoadOnCompletion()
            layers.pop(coarse_out, None)
            context.setLayersToLoadOnCompletion(layers)
        style_output(context, output, style="factors",
                     name=self.tr("Aligned factors (fine grid) {}").format(day or "").strip())
        return results
