"""Processing algorithm smdownscale:sampledata — a synthetic scene with a known answer."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingOutputRasterLayer,
    QgsProcessingOutputString,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ..base import SmdAlgorithm
from ..layers import style_output


class SampleDataAlgorithm(SmdAlgorithm):
    ALG_ID = "sampledata"
    GROUP = "data"
    HELP_ANCHOR = "sampledata"

    SEED = "SEED"
    SIZE_KM = "SIZE_KM"
    N_DATES = "N_DATES"
    START_DATE = "START_DATE"
    STEP_DAYS = "STEP_DAYS"
    NOISE = "NOISE"
    TERRAIN = "TERRAIN"
    NONLINEARITY = "NONLINEARITY"
    SMAP_ERROR = "SMAP_ERROR"
    OUTPUT = "OUTPUT"
    FACTOR_FILES = "FACTOR_FILES"
    SMAP_FILES = "SMAP_FILES"
    TRUTH_FILES = "TRUTH_FILES"
    DATES = "DATES"
    REFERENCE_GRID = "REFERENCE_GRID"

    def displayName(self) -> str:
        return self.tr("Create sample dataset")

    def shortHelpString(self) -> str:
        return self.tr(
            "Writes a synthetic demonstration scene with a known answer, so the whole chain (align, screen, "
            "train, downscale, validate) can be tried without Earth Engine. The scene covers size x size km of "
            "semi-arid grassland in Xilingol, Inner Mongolia (centre 116.0 E, 43.5 N) and is the same for the "
            "same seed.\n\n"
            "Grids: factors and truth on a 1 km equal-area Albers grid for China; SMAP on its own EASE-Grid 2.0 "
            "9 km cells (EPSG:6933), not aligned with the 1 km grid; precipitation on a CHIRPS-like 0.05 degree "
            "grid (EPSG:4326).\n\n"
            "Files: static/elevation.tif, slope.tif, landcover.tif (classes 10 cropland, 20 grassland, "
            "30 forest, 40 barren/sparse, 50 shrub, 80 water); dynamic/ndvi, lst_day, lst_night (K), vv, vh (dB), "
            "precipitation (antecedent 7 days, mm) per date (name_YYYYMMDD.tif); smap/smap_YYYYMMDD.tif and "
            "truth/truth_YYYYMMDD.tif (m3/m3); scene.json (parameters, grids, coefficients, statistics).\n\n"
            "Physics: terrain from smoothed noise at several scales (ridges, valleys, hills; 900-1800 m) and its "
            "slope; land cover from a moisture index (arid west, wetter east, valleys wetter); NDVI from land "
            "cover, moisture and season; day and night LST warmer in the dry west, cooler with NDVI and height; "
            "precipitation a smooth field with a west-east gradient that changes by date. The truth is\n"
            "SM = 0.195 + date offset + 0.18 (NDVI - 0.3) + 0.025 (P - 10)/10 - 0.045 (LSTday - 303)/10 "
            "- 0.02 (LSTday - LSTnight - 17)/10 + terrain x [-0.04 slope/5 + 0.008 (elevation - 1250)/500] "
            "+ land cover offset (cropland +0.03, forest +0.02, shrub -0.015, barren -0.04)\n"
            "plus spatially correlated noise (3-8 km), clipped to 0.02-0.50. Nonlinearity blends in a saturating "
            "response to rain (tanh), an NDVI x LST interaction and a threshold drying of hot, sparsely vegetated "
            "ground. VV = -19 + 25 SM + 2 NDVI + noise (dB); "
            "VH = VV - 8 + 4 NDVI + noise. SMAP = mean of the valid truth pixels of each 9 km cell (nodata when "
            "less than half valid) plus a retrieval error. Lakes are nodata in the truth, SMAP (where they fill a "
            "cell), NDVI, LST, VV and VH; cloud gaps are nodata in that date's NDVI and LST only.")

    def initAlgorithm(self, config=None):
        self.add(QgsProcessingParameterNumber(self.SEED, self.tr("Random seed"),
                                              QgsProcessingParameterNumber.Type.Integer,
                                              defaultValue=42, minValue=0),
                 self.tr("The same seed (and parameters) gives exactly the same scene."))
        self.add(QgsProcessingParameterNumber(self.SIZE_KM, self.tr("Scene size (km)"),
                                              QgsProcessingParameterNumber.Type.Integer, defaultValue=200,
                                              minValue=20, maxValue=2000),
                 self.tr("Width and height of the square scene in km (1 km pixels)."))
        self.add(QgsProcessingParameterNumber(self.N_DATES, self.tr("Number of dates"),
                                              QgsProcessingParameterNumber.Type.Integer, defaultValue=4,
                                              minValue=1, maxValue=366),
                 self.tr("How many dates of dynamic factors, SMAP and truth to write."))
        self.add(QgsProcessingParameterString(self.START_DATE, self.tr("First date (YYYY-MM-DD)"),
                                              defaultValue="2023-06-01"),
                 self.tr("Date of the first scene; the season shapes NDVI and LST."))
        self.add(QgsProcessingParameterNumber(self.STEP_DAYS, self.tr("Days between dates"),
                                              QgsProcessingParameterNumber.Type.Integer, defaultValue=8,
                                              minValue=1, maxValue=366),
                 self.tr("Interval between consecutive dates, in days."))
        self.add(QgsProcessingParameterNumber(self.NOISE, self.tr("Truth noise (m3/m3)"),
                                              QgsProcessingParameterNumber.Type.Double, defaultValue=0.015,
                                              minValue=0.0, maxValue=0.2),
                 self.tr("Standard deviation of the spatially correlated (3-8 km) part of the truth that "
                         "no factor explains."), advanced=True)
        self.add(QgsProcessingParameterNumber(self.TERRAIN, self.tr("Terrain effect"),
                                              QgsProcessingParameterNumber.Type.Double, defaultValue=1.0,
                                              minValue=0.0, maxValue=5.0),
                 self.tr("Scales the effect of slope and elevation on soil moisture (0 switches it off)."),
                 advanced=True)
        self.add(QgsProcessingParameterNumber(self.NONLINEARITY, self.tr("Nonlinearity"),
                                              QgsProcessingParameterNumber.Type.Double, defaultValue=0.0,
                                              minValue=0.0, maxValue=1.0),
                 self.tr("0 = soil moisture linear in the factors; 1 = saturating response to rain, an "
                         "NDVI x LST interaction and threshold drying of hot bare ground."), advanced=True)
        self.add(QgsProcessingParameterNumber(self.SMAP_ERROR, self.tr("SMAP retrieval error (m3/m3)"),
                                              QgsProcessingParameterNumber.Type.Double, defaultValue=0.004,
                                              minValue=0.0, maxValue=0.1),
                 self.tr("Standard deviation of the independent error added to each SMAP cell "
                         "(0 = SMAP is exactly the cell mean of the truth)."), advanced=True)
        self.add(QgsProcessingParameterFolderDestination(self.OUTPUT, self.tr("Output folder")),
                 self.tr("Folder for the scene (an empty folder, or one holding an earlier sample scene, "
                         "which is replaced)."))
        self.addOutput(QgsProcessingOutputString(self.FACTOR_FILES, self.tr("Factor files (';'-separated)")))
        self.addOutput(QgsProcessingOutputString(self.SMAP_FILES, self.tr("SMAP files (';'-separated)")))
        self.addOutput(QgsProcessingOutputString(self.TRUTH_FILES, self.tr("Truth files (';'-separated)")))
        self.addOutput(QgsProcessingOutputString(self.DATES, self.tr("Dates (';'-separated, YYYY-MM-DD)")))
        self.addOutput(QgsProcessingOutputRasterLayer(self.REFERENCE_GRID, self.tr("1 km reference grid (elevation)")))

    def processAlgorithm(self, parameters, context, feedback):
        from ...algorithms import sample

        progress, is_canceled = self.callbacks(feedback)
        out_dir = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        scene = self.run_engine(
            sample.make_sample, out_dir,
            seed=self.parameterAsInt(parameters, self.SEED, context),
            size_km=self.parameterAsInt(parameters, self.SIZE_KM, context),
            n_dates=self.parameterAsInt(parameters, self.N_DATES, context),
            start_date=self.parameterAsString(parameters, self.START_DATE, context),
            step_days=self.parameterAsInt(parameters, self.STEP_DAYS, context),
            noise=self.parameterAsDouble(parameters, self.NOISE, context),
            terrain=self.parameterAsDouble(parameters, self.TERRAIN, context),
            nonlinearity=self.parameterAsDouble(parameters, self.NONLINEARITY, context),
            smap_error=self.parameterAsDouble(parameters, self.SMAP_ERROR, context),
            progress=progress, is_canceled=is_canceled)
        if feedback is not None:
            feedback.pushInfo(self.tr("Sample scene: {} dates ({}), {} x {} km at 1 km, {} x {} SMAP cells, "
                                      "in {}").format(
                len(scene.dates), ", ".join(scene.dates), scene.fine.width, scene.fine.height,
                scene.coarse.width, scene.coarse.height, scene.out_dir))
        if context.project() is not None:
            first = scene.dates[0]
            for path, name in ((scene.paths["landcover"][0], self.tr("Sample land cover")),
                               (scene.smap_files[0], self.tr("Sample SMAP {}").format(first)),
                               (scene.truth_files[0], self.tr("Sample truth {}").format(first))):
                context.addLayerToLoadOnCompletion(path, QgsProcessingContext.LayerDetails(name, context.project()))
                if "landcover" not in path:
                    style_output(context, path)
        return {
            self.OUTPUT: scene.out_dir,
            self.FACTOR_FILES: ";".join(scene.factor_files),
            self.SMAP_FILES: ";".join(scene.smap_files),
            self.TRUTH_FILES: ";".join(scene.truth_files),
            self.DATES: ";".join(scene.dates),
            self.REFERENCE_GRID: scene.reference_grid,
        }
