"""Processing algorithm smdownscale:importsmap — SMAP granules downloaded from NASA Earthdata (NSIDC HDF5) onto
SMAP's own grid, per time step, with the manifest the chain takes (no Earth Engine needed)."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterAuthConfig,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ..base import SmdAlgorithm
from ..gee_common import GeeParameters, crs_text, parse_date

STEPS = ["daily", "8day", "16day", "monthly", "ndays"]
PRODUCTS = [None, "SPL4SMGP", "SPL3SMP_E", "SPL3SMP"]
LAYERS = ["sm_surface", "sm_rootzone"]
PASSES = ["am_then_pm", "am", "pm", "mean"]
QUALITY = ["recommended", "retrieved"]
GRANULE_SUFFIXES = (".h5", ".he5", ".hdf5")
#: Environment variables: CMR's address and the Earthdata Login host (NASA's UAT, or a test fake). Headless
#: credentials (EARTHDATA_TOKEN, EARTHDATA_USERNAME/EARTHDATA_PASSWORD, a netrc file) are read by earthaccess.
CMR_ENV = "SMDOWNSCALE_CMR_URL"
EDL_ENV = "SMDOWNSCALE_EDL_HOST"


class ImportSmapAlgorithm(GeeParameters, SmdAlgorithm):
    ALG_ID = "importsmap"
    GROUP = "data"
    HELP_ANCHOR = "importsmap"

    GRANULES = "GRANULES"
    GRANULE_FOLDER = "GRANULE_FOLDER"
    EXTENT = "EXTENT"
    AREA = "AREA"
    START_DATE = "START_DATE"
    END_DATE = "END_DATE"
    TIME_STEP = "TIME_STEP"
    STEP_DAYS = "STEP_DAYS"
    PRODUCT = "PRODUCT"
    SMAP_LAYER = "SMAP_LAYER"
    PASSES = "PASSES"
    QUALITY = "QUALITY"
    DOWNLOAD = "DOWNLOAD"
    EARTHDATA_AUTH = "EARTHDATA_AUTH"
    CACHE_FOLDER = "CACHE_FOLDER"
    FACTORS = "FACTORS"
    MODIS_FILES = "MODIS_FILES"
    FINE_RESOLUTION = "FINE_RESOLUTION"
    TARGET_CRS = "TARGET_CRS"
    OUTPUT = "OUTPUT"
    MANIFEST = "MANIFEST"
    SMAP_FILES = "SMAP_FILES"
    FACTOR_FILES = "FACTOR_FILES"
    N_STEPS = "N_STEPS"

    def displayName(self) -> str:
        return self.tr("Import SMAP granules (NASA Earthdata)")

    def shortHelpString(self) -> str:
        return self.tr(
            "Reads SMAP soil moisture granules as NSIDC distributes them through NASA Earthdata (HDF5 files), without "
            "Google Earth Engine: SMAP L4 SPL4SMGP (3-hourly, sm_surface and sm_rootzone, 9 km), enhanced L3 "
            "SPL3SMP_E (daily AM and PM retrievals, 9 km) and L3 SPL3SMP (daily, 36 km).\n\n"
            "The granules carry no georeferencing that GDAL can use: the algorithm places them exactly on the "
            "documented EASE-Grid 2.0 global lattice (EPSG:6933, cells of 9008.055210146 m or 36032.220840584 m) and "
            "checks the granules' own latitude/longitude arrays against it. Fill values, values outside the valid "
            "range and, for L3, retrievals whose quality flag is not 'recommended' (or, if chosen, not successful) "
            "become nodata. Granules are subset to the whole SMAP cells covering the area and averaged over each time "
            "step (daily, 8- or 16-day on the MODIS calendar, monthly, or a fixed number of days); AM and PM "
            "retrievals are combined as chosen.\n\n"
            "It writes smap/smap_YYYYMMDD.tif per time step and manifest.json in the format 'Fetch data from Earth "
            "Engine' writes. Give factor rasters (one factor per GeoTIFF, named by band description or file name; a "
            "date in the file name makes it a time series, files without a date are static) and/or MODIS LST and "
            "NDVI files as downloaded (HDF4-EOS tiles or AppEEARS exports; quality-masked and scaled) to also write "
            "factors/factors_YYYYMMDD.tif on the fine grid: then screen, train and downscale take the manifest "
            "unchanged. Granules of mixed products or versions, damaged or subset files and granules without data "
            "in the area are refused with a message; nothing is written then.\n\n"
            "With 'Search and download', the granules of the chosen product for the area and dates are first "
            "searched in NASA's CMR with NASA's earthaccess library and downloaded into a cache folder; an "
            "interrupted download resumes, and granules already in the cache are not downloaded again. Earthdata "
            "Login: a QGIS authentication configuration (user name and password, or a token as password), or for "
            "qgis_process the EARTHDATA_USERNAME and EARTHDATA_PASSWORD (or EARTHDATA_TOKEN) environment "
            "variables or a netrc file. Credentials are never written to settings, logs or outputs.")

    def initAlgorithm(self, config=None):
        self.add(QgsProcessingParameterMultipleLayers(self.GRANULES, self.tr("SMAP granules (.h5)"),
                                                      QgsProcessing.SourceType.TypeFile, optional=True),
                 self.tr("SMAP HDF5 granules downloaded from NASA Earthdata (NSIDC), e.g. "
                         "SMAP_L4_SM_gph_20230601T013000_Vv7032_001.h5. Keep NSIDC's file names."),
                 choice=self.tr("or a folder, or download"))
        self.add(QgsProcessingParameterFile(self.GRANULE_FOLDER, self.tr("Folder of SMAP granules"),
                                            behavior=QgsProcessingParameterFile.Behavior.Folder, optional=True),
                 self.tr("Every .h5 file in this folder (not its subfolders) is read as a granule."),
                 choice=self.tr("or granules, or download"))
        self.add(QgsProcessingParameterExtent(self.EXTENT, self.tr("Extent"), optional=True),
                 self.tr("Area to import, with its CRS. Ignored when a polygon layer is given; without "
                         "either, the whole global grid."))
        self.add(QgsProcessingParameterFeatureSource(self.AREA, self.tr("Area (polygon layer)"),
                                                     [QgsProcessing.SourceType.TypeVectorPolygon], optional=True),
                 self.tr("Polygons delimiting the area (all features together). The outputs cover the "
                         "SMAP cells that intersect the polygons' bounding box."))
        self.add(QgsProcessingParameterString(self.START_DATE, self.tr("Start date (YYYY-MM-DD)"),
                                              optional=True),
                 self.tr("First day to import; empty: the first granule's day."))
        self.add(QgsProcessingParameterString(self.END_DATE, self.tr("End date (YYYY-MM-DD)"),
                                              optional=True),
                 self.tr("Last day to import (included); empty: the last granule's day."))
        self.add(QgsProcessingParameterEnum(self.TIME_STEP, self.tr("Time step"),
                                            options=[self.tr("Daily"), self.tr("8-day"), self.tr("16-day"),
                                                     self.tr("Monthly"), self.tr("Fixed number of days")],
                                                     defaultValue=0),
                 self.tr("Length of each time step. 8- and 16-day steps follow the MODIS composite "
                         "calendar; fixed steps start on the start date. The first and last steps are "
                         "clipped to the date range."))
        self.add(QgsProcessingParameterNumber(self.STEP_DAYS, self.tr("Days per time step (fixed number of days)"),
                                              QgsProcessingParameterNumber.Type.Integer, defaultValue=3, minValue=1,
                                              maxValue=366),
                 self.tr("Used with the time step 'Fixed number of days'."))
        self.add(QgsProcessingParameterEnum(self.PRODUCT, self.tr("SMAP product"),
                                            options=[self.tr("Detect from the files"),
                                                     self.tr("L4 SPL4SMGP (3-hourly, 9 km)"),
                                                     self.tr("L3 SPL3SMP_E (daily, 9 km)"),
                                                     self.tr("L3 SPL3SMP (daily, 36 km)")], defaultValue=0),
                 self.tr("The product the granules must belong to; granules of another product are "
                         "refused."))
        self.add(QgsProcessingParameterEnum(self.SMAP_LAYER, self.tr("SMAP layer"),
                                            options=[self.tr("Surface soil moisture (0-5 cm)"),
                                                     self.tr("Root zone (0-100 cm, L4 only)")],
                                            defaultValue=0),
                 self.tr("The soil moisture layer to downscale."))
        self.add(QgsProcessingParameterEnum(self.PASSES, self.tr("AM and PM retrievals (L3)"),
                                            options=[self.tr("AM, PM where AM has none"), self.tr("AM only (6 am)"),
                                                     self.tr("PM only (6 pm)"), self.tr("Mean of AM and PM")],
                                            defaultValue=0),
                 self.tr("How the morning and evening retrievals of L3 granules make one daily value."))
        self.add(QgsProcessingParameterEnum(self.QUALITY, self.tr("L3 retrievals kept"),
                                            options=[self.tr("Recommended quality only"),
                                                     self.tr("Every successful retrieval")], defaultValue=0),
                 self.tr("retrieval_qual_flag: recommended quality keeps cells with bits 0-2 clear; "
                         "every successful retrieval keeps cells with bits 1-2 clear."), advanced=True)
        self.add(QgsProcessingParameterBoolean(self.DOWNLOAD, self.tr("Search and download (NASA Earthdata)"),
                                               defaultValue=False),
                 self.tr("Search NASA's CMR for the chosen product over the area and dates and download "
                         "the granules (resumably, into the cache folder) before importing them. Needs the "
                         "product, the dates and an Earthdata Login token."))
        self.add(QgsProcessingParameterAuthConfig(self.EARTHDATA_AUTH, self.tr("Earthdata Login configuration"),
                                                  optional=True),
                 self.tr("A QGIS authentication configuration (Basic) holding your Earthdata Login: user "
                         "name and password, or an empty user name and a token as password. Empty: the "
                         "EARTHDATA_USERNAME and EARTHDATA_PASSWORD (or EARTHDATA_TOKEN) environment "
                         "variables, else a netrc file (~/.netrc or NETRC)."))
        self.add(QgsProcessingParameterFile(self.CACHE_FOLDER, self.tr("Download cache folder"),
                                            behavior=QgsProcessingParameterFile.Behavior.Folder, optional=True),
                 self.tr("Where downloaded granules are kept (and found again by later runs). Empty: the "
                         "plugin's cache folder."), advanced=True)
        self.add(QgsProcessingParameterMultipleLayers(self.FACTORS, self.tr("Factor rasters"),
                                                      QgsProcessing.SourceType.TypeRaster, optional=True),
                 self.tr("One factor per raster, named by its band description or its file name without "
                         "the date (ndvi_20230601.tif is 'ndvi'). Dated files inside a time step are "
                         "averaged; a step without one takes the latest earlier file; files without a "
                         "date are static."))
        self.add(QgsProcessingParameterMultipleLayers(self.MODIS_FILES, self.tr("MODIS LST / NDVI files"),
                                                      QgsProcessing.SourceType.TypeFile, optional=True),
                 self.tr("MODIS files as downloaded, with NASA's or AppEEARS' names: MOD11A1/MOD11A2 "
                         "(LST day and night, QC_Day/QC_Night) and MOD13A2 (NDVI, pixel reliability), or "
                         "the MYD twins; HDF4-EOS tiles, HDF5/NetCDF files holding those layers, or "
                         "AppEEARS GeoTIFF layers (each value layer with its quality layer). Clouds and "
                         "failed retrievals are masked, values scaled (LST x 0.02 K, NDVI x 0.0001) and "
                         "used as the factors lst_day, lst_night and ndvi."))
        self.add(QgsProcessingParameterNumber(self.FINE_RESOLUTION, self.tr("Fine resolution (target CRS units)"),
                                              QgsProcessingParameterNumber.Type.Double, defaultValue=1000.0,
                                              minValue=0.0),
                 self.tr("Pixel size of the factor stacks, in units of the target CRS (metres for "
                         "EPSG:6933). Must be finer than the SMAP cells."))
        self.add(QgsProcessingParameterCrs(self.TARGET_CRS, self.tr("Target CRS of the factor stacks"),
                                           defaultValue="EPSG:6933", optional=True),
                 self.tr("CRS of the fine grid; EPSG:6933 (SMAP's own EASE-Grid 2.0) when empty."))
        self.add(QgsProcessingParameterFolderDestination(self.OUTPUT, self.tr("Output folder")),
                 self.tr("Folder receiving smap/, factors/ and manifest.json."))
        self.addOutput(QgsProcessingOutputFile(self.MANIFEST, self.tr("Manifest (JSON)")))
        self.addOutput(QgsProcessingOutputString(self.SMAP_FILES, self.tr("SMAP rasters (';'-separated)")))
        self.addOutput(QgsProcessingOutputString(self.FACTOR_FILES, self.tr("Factor stacks (';'-separated)")))
        self.addOutput(QgsProcessingOutputNumber(self.N_STEPS, self.tr("Number of time steps")))

    # -- parameters ------------------------------------------------------------------------------
    def folder_output(self, name, folder, parameters, context):
        """The output folder receives manifest.json and replaces smap/ and factors/."""
        from ...algorithms.paths import FolderOutput

        return FolderOutput(folder, files=["manifest.json"], subfolders=["smap", "factors"])

    def _granules(self, parameters, context) -> list[str]:
        files = list(self._layer_sources(parameters.get(self.GRANULES), context))
        folder = self.parameterAsFile(parameters, self.GRANULE_FOLDER, context) if parameters.get(
            self.GRANULE_FOLDER) else ""
        if folder and os.path.isdir(folder):
            files += sorted(os.path.join(folder, f) for f in os.listdir(folder)
                            if f.lower().endswith(GRANULE_SUFFIXES) and os.path.isfile(os.path.join(folder, f)))
        return files

    def checkParameterValues(self, parameters, context):
        ok, msg = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, msg
        folder = self.parameterAsFile(parameters, self.GRANULE_FOLDER, context) if parameters.get(
            self.GRANULE_FOLDER) else ""
        if folder and not os.path.isdir(folder):
            return False, self.tr("The granule folder {} does not exist; choose the folder holding the .h5 "
                                  "files.").format(folder)
        downloading = self.parameterAsBool(parameters, self.DOWNLOAD, context)
        if downloading:
            if PRODUCTS[self.parameterAsEnum(parameters, self.PRODUCT, context)] is None:
                return False, self.tr("Choose the SMAP product to search and download (it cannot be detected "
                                      "before the files are there).")
            for name in (self.START_DATE, self.END_DATE):
                if not (self.parameterAsString(parameters, name, context) or "").strip():
                    return False, self.tr("Give the start and end dates of the granules to download.")
        elif not self._granules(parameters, context):
            if folder:
                return False, self.tr("The folder {} holds no .h5 granule; choose the folder holding the SMAP files "
                                      "downloaded from NASA Earthdata.").format(folder)
            return False, self.tr("Give the SMAP granules (.h5 files) or the folder holding them.")
        for name in (self.START_DATE, self.END_DATE):
            text = (self.parameterAsString(parameters, name, context) or "").strip()
            if text and parse_date(text) is None:
                return False, self.tr("'{}' ({}) is not a date; write it as YYYY-MM-DD.").format(text, name)
        return True, ""

    def _credentials(self, parameters, context) -> dict:
        """Earthdata Login from the chosen authentication configuration (user name and password, or a token);
        empty without one: earthaccess then reads the environment or a netrc file. Never logged."""
        authcfg = (self.parameterAsString(parameters, self.EARTHDATA_AUTH, context) or "").strip()
        if not authcfg:
            return {}
        from qgis.core import QgsApplication, QgsAuthMethodConfig, QgsProcessingException

        config = QgsAuthMethodConfig()
        ok = QgsApplication.authManager().loadAuthenticationConfig(authcfg, config, True)
        user = (config.config("username") or "").strip() if ok else ""
        secret = (config.config("token") or config.config("password") or "") if ok else ""
        if not secret.strip():
            raise QgsProcessingException(self.tr(
                "The authentication configuration {} holds no Earthdata Login password or token, or the "
                "authentication database is locked.").format(authcfg))
        if user and not config.config("token"):
            return {"username": user, "password": secret}
        return {"token": secret.strip()}

    def _cache_folder(self, parameters, context) -> str:
        folder = self.parameterAsFile(parameters, self.CACHE_FOLDER, context) if parameters.get(
            self.CACHE_FOLDER) else ""
        if folder:
            return folder
        from .. import settings

        return os.path.join(settings.cache_dir(), "earthdata")

    def _target_crs(self, parameters, context) -> str:
        crs = self.parameterAsCrs(parameters, self.TARGET_CRS, context)
        return crs_text(crs) if crs.isValid() else "EPSG:6933"

    # -- run -------------------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):
        from ...algorithms import smap_import

        area, area_crs = self._area(parameters, context)
        out_dir = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        factors = self._layer_sources(parameters.get(self.FACTORS), context) if parameters.get(self.FACTORS) else []
        modis = (self._layer_sources(parameters.get(self.MODIS_FILES), context)
                 if parameters.get(self.MODIS_FILES) else [])
        progress, is_canceled = self.callbacks(feedback)
        start = (self.parameterAsString(parameters, self.START_DATE, context) or "").strip() or None
        end = (self.parameterAsString(parameters, self.END_DATE, context) or "").strip() or None
        product = PRODUCTS[self.parameterAsEnum(parameters, self.PRODUCT, context)]
        granules = self._granules(parameters, context)
        import_progress = progress
        if self.parameterAsBool(parameters, self.DOWNLOAD, context):
            from ...algorithms import earthdata
            from .. import dependencies

            dependencies.require(["earthaccess"])
            downloaded = self.run_engine(
                earthdata.fetch_granules, product, start, end, area, self._cache_folder(parameters, context),
                **self._credentials(parameters, context), area_crs=area_crs,
                cmr_url=os.environ.get(CMR_ENV, "").strip() or None,
                edl_host=os.environ.get(EDL_ENV, "").strip() or None,
                progress=lambda f: progress(0.5 * f), is_canceled=is_canceled, log=feedback.pushInfo)
            granules = list(dict.fromkeys(granules + downloaded))

            def import_progress(f: float) -> None:
                progress(0.5 + 0.5 * f)

        result = self.run_engine(
            smap_import.import_smap, granules, out_dir, area=area, area_crs=area_crs, start=start, end=end,
            step=STEPS[self.parameterAsEnum(parameters, self.TIME_STEP, context)],
            step_days=self.parameterAsInt(parameters, self.STEP_DAYS, context),
            product=product,
            layer=LAYERS[self.parameterAsEnum(parameters, self.SMAP_LAYER, context)],
            passes=PASSES[self.parameterAsEnum(parameters, self.PASSES, context)],
            quality=QUALITY[self.parameterAsEnum(parameters, self.QUALITY, context)],
            factors=factors, modis=modis,
            fine_resolution=self.parameterAsDouble(parameters, self.FINE_RESOLUTION, context),
            target_crs=self._target_crs(parameters, context), progress=import_progress, is_canceled=is_canceled,
            log=feedback.pushInfo)
        feedback.pushInfo(self.tr("Imported {} granule(s) of {} ({}) into {} time step(s).").format(
            result.granules_used, result.product, result.version, len(result.smap_files)))
        if result.steps_empty:
            feedback.pushWarning(self.tr("No SMAP data for these time steps (nothing written for them): {}").format(
                ", ".join(result.steps_empty)))
        return {self.OUTPUT: out_dir, self.MANIFEST: result.manifest_path,
                self.SMAP_FILES: ";".join(result.smap_files), self.FACTOR_FILES: ";".join(result.factor_files),
                self.N_STEPS: len(result.smap_files)}
