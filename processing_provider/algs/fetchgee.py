"""Processing algorithm smdownscale:fetchgee — fetch SMAP and the downscaling factors from Google Earth Engine."""

from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsSettings,
)

from ...algorithms.gee.catalog import DEFAULT_FACTORS, load_catalog
from ..base import SmdAlgorithm
from ..gee_common import GeeParameters, crs_text, parse_date

#: Factors offered, in catalog order (the catalog is plain JSON: reading it needs no earthengine-api).
FACTOR_IDS = load_catalog().factor_ids()
STEPS = ["daily", "8day", "16day", "monthly"]
SMAP_PRODUCTS = ["L4", "L3E"]
SMAP_LAYERS = ["sm_surface", "sm_rootzone"]
ORBITS = ["both", "ASCENDING", "DESCENDING"]
EXPORTS = [None, "drive", "gcs"]






class FetchGeeAlgorithm(GeeParameters, SmdAlgorithm):
    ALG_ID = "fetchgee"
    GROUP = "data"
    HELP_ANCHOR = "fetchgee"

    EXTENT = "EXTENT"
    AREA = "AREA"
    START_DATE = "START_DATE"
    END_DATE = "END_DATE"
    TIME_STEP = "TIME_STEP"
    WINDOW_DAYS = "WINDOW_DAYS"
    SMAP_PRODUCT = "SMAP_PRODUCT"
    SMAP_LAYER = "SMAP_LAYER"
    FACTORS = "FACTORS"
    FINE_RESOLUTION = "FINE_RESOLUTION"
    TARGET_CRS = "TARGET_CRS"
    PROJECT = "PROJECT"
    ORBIT_PASS = "ORBIT_PASS"
    WORKERS = "WORKERS"
    EXPORT = "EXPORT"
    EXPORT_TARGET = "EXPORT_TARGET"
    WAIT_EXPORTS = "WAIT_EXPORTS"
    OUTPUT = "OUTPUT"
    MANIFEST = "MANIFEST"
    SMAP_FILES = "SMAP_FILES"
    FACTOR_FILES = "FACTOR_FILES"
    N_STEPS = "N_STEPS"
    PLAN_ONLY = "PLAN_ONLY"
    PLAN = "PLAN"
    PLAN_REQUESTS = "PLAN_REQUESTS"
    PLAN_BYTES = "PLAN_BYTES"

    def displayName(self) -> str:
        return self.tr("Fetch data from Earth Engine")

    def shortHelpString(self) -> str:
        return self.tr(
            "Downloads from Google Earth Engine, for an area and a date range, SMAP soil moisture and the "
            "downscaling factors, on grids and time steps that already agree, ready for screen, train and "
            "downscale.\n\n"
            "For every time step it writes smap/smap_YYYYMMDD.tif (SMAP as Earth Engine stores it, on the grid "
            "read from the asset, the whole cells covering the area) and factors/factors_YYYYMMDD.tif (one band "
            "per factor, named after it, on the fine grid: target CRS and resolution, covering the same SMAP "
            "cells), plus "
            "manifest.json listing files, dates, bands, units and provenance (collections, dataset versions, "
            "request time). No credential is ever written.\n\n"
            "Factors: Sentinel-1 VV, VH, VV-VH and incidence angle (IW mode); Landsat 8/9 NDVI, NDWI, albedo and "
            "surface temperature (cloud-masked); MODIS LST day, night and day-night difference (QC-masked), NDVI, "
            "EVI and albedo; elevation, slope and aspect (SRTM); ERA5-Land precipitation (mean mm/day over the "
            "step) and antecedent precipitation (total of the 7 days ending with the step); OpenLandMap sand and "
            "clay; MODIS land cover (categorical). Data finer than the fine grid are averaged into it (majority "
            "class for land cover).\n\n"
            "Time steps: daily, 8-day or 16-day (MODIS calendar, restarting each 1 January) or monthly. Sparse "
            "sensors (Sentinel-1, Landsat, cloudy MODIS days) are gap-filled from the compositing window: pixels "
            "without a valid observation in the step take the composite of the days before and after.\n\n"
            "Earth Engine access: an Earth Engine Cloud project (parameter, plugin settings, or the "
            "SMDOWNSCALE_EE_PROJECT environment variable) and either your persistent credentials (run "
            "'earthengine authenticate' once) or a service-account key stored in the QGIS authentication "
            "database (plugin settings). Nothing pops up. Tiles are downloaded in parallel with retries and kept "
            "until the whole request has finished, so a run that fails or is canceled resumes where it stopped. "
            "Areas too large for interactive download can be exported to Google Drive or Cloud Storage instead "
            "(the tasks are listed in the manifest).")

    def initAlgorithm(self, config=None):
        self.add(QgsProcessingParameterExtent(self.EXTENT, self.tr("Extent"), optional=True),
                 self.tr("Area to fetch, with its CRS. Ignored when a polygon layer is given."),
                 choice=self.tr("or a polygon layer"))
        self.add(QgsProcessingParameterFeatureSource(self.AREA, self.tr("Area (polygon layer)"),
                                                     [QgsProcessing.SourceType.TypeVectorPolygon], optional=True),
                 self.tr("Polygons delimiting the area (all features together). The data cover the SMAP "
                         "cells that intersect the polygons' bounding box."), choice=self.tr("or an extent"))
        self.add(QgsProcessingParameterString(self.START_DATE, self.tr("Start date (YYYY-MM-DD)"), defaultValue=""),
                 self.tr("First day of the date range."))
        self.add(QgsProcessingParameterString(self.END_DATE, self.tr("End date (YYYY-MM-DD, inclusive)"),
                                              defaultValue=""),
                 self.tr("Last day of the date range (included)."))
        self.add(QgsProcessingParameterEnum(self.TIME_STEP, self.tr("Time step"),
                                            options=[self.tr("Daily"), self.tr("8-day"), self.tr("16-day"),
                                                     self.tr("Monthly")], defaultValue=0),
                 self.tr("Length of each time step. 8- and 16-day steps follow the MODIS composite "
                         "calendar; the first and last steps are clipped to the date range."))
        self.add(QgsProcessingParameterNumber(self.WINDOW_DAYS, self.tr("Compositing window for gap filling (days)"),
                                              QgsProcessingParameterNumber.Type.Integer, defaultValue=8, minValue=0,
                                              maxValue=90),
                 self.tr("Sentinel-1, Landsat and MODIS LST/albedo pixels left without a valid "
                         "observation in a step are filled from this many days before and after it; "
                         "0 turns gap filling off."))
        self.add(QgsProcessingParameterEnum(self.SMAP_PRODUCT, self.tr("SMAP product"),
                                            options=[self.tr("L4 (model assimilation, 3-hourly)"),
                                                     self.tr("L3 enhanced (radiometer, AM/PM)")],
                                                     defaultValue=0),
                 self.tr("SMAP L4 (SPL4SMGP v8) is gap-free; SMAP L3 enhanced (SPL3SMP_E) has gaps "
                         "between overpasses and keeps only recommended-quality retrievals."))
        self.add(QgsProcessingParameterEnum(self.SMAP_LAYER, self.tr("SMAP layer"),
                                            options=[self.tr("Surface soil moisture (0-5 cm)"),
                                                     self.tr("Root zone (0-100 cm, L4 only)")],
                                            defaultValue=0),
                 self.tr("The soil moisture layer to downscale."))
        self.add(QgsProcessingParameterEnum(self.FACTORS, self.tr("Factors"), options=FACTOR_IDS, allowMultiple=True,
                                            defaultValue=list(DEFAULT_FACTORS), usesStaticStrings=True),
                 self.tr("Downscaling factors to fetch, each one band of the factor stacks (see the "
                         "algorithm help for their sources)."))
        self.add(QgsProcessingParameterNumber(self.FINE_RESOLUTION, self.tr("Fine resolution (target CRS units)"),
                                              QgsProcessingParameterNumber.Type.Double, defaultValue=1000.0,
                                              minValue=0.0),
                 self.tr("Pixel size of the factor stacks, in units of the target CRS (metres for "
                         "EPSG:6933). Must be finer than SMAP's 9 km."))
        # optional: QGIS 3.22 rejects a missing CRS value even when the parameter has a default
        self.add(QgsProcessingParameterCrs(self.TARGET_CRS, self.tr("Target CRS of the factor stacks"),
                                           defaultValue="EPSG:6933", optional=True),
                 self.tr("CRS of the fine grid; EPSG:6933 (SMAP's own EASE-Grid 2.0) when empty."))
        self.add(QgsProcessingParameterString(self.PROJECT, self.tr("Earth Engine Cloud project"), optional=True),
                 self.tr("Google Cloud project registered for Earth Engine. Empty: the plugin settings, "
                         "then the SMDOWNSCALE_EE_PROJECT environment variable."))
        self.add(QgsProcessingParameterEnum(self.ORBIT_PASS, self.tr("Sentinel-1 orbit pass"),
                                            options=[self.tr("Both"), self.tr("Ascending"), self.tr("Descending")],
                                            defaultValue=0),
                 self.tr("Restrict Sentinel-1 scenes to one orbit direction (consistent geometry)."), advanced=True)
        self.add(QgsProcessingParameterNumber(self.WORKERS, self.tr("Parallel requests"),
                                              QgsProcessingParameterNumber.Type.Integer, optional=True, minValue=1,
                                              maxValue=40),
                 self.tr("Tiles requested at once. Empty: the plugin settings (default 8)."), advanced=True)
        self.add(QgsProcessingParameterEnum(self.EXPORT, self.tr("Large areas: export instead of downloading"),
                                            options=[self.tr("No (download)"), self.tr("Export to Google Drive"),
                                                     self.tr("Export to Cloud Storage")], defaultValue=0),
                 self.tr("For areas beyond interactive limits: start Earth Engine export tasks (one per "
                         "file) instead of downloading; they are listed in the manifest and the log."), advanced=True)
        self.add(QgsProcessingParameterString(self.EXPORT_TARGET,
                                              self.tr("Export folder or bucket"),
                                              optional=True),
                 self.tr("Google Drive folder (default 'smdownscale') or Cloud Storage bucket (required) "
                         "for exports."), advanced=True)
        self.add(QgsProcessingParameterBoolean(self.WAIT_EXPORTS, self.tr("Follow export tasks until they finish"),
                                               defaultValue=True),
                 self.tr("With export: keep polling the tasks, showing progress per finished task and "
                         "reporting Earth Engine's message if one fails; canceling cancels the tasks on "
                         "Earth Engine. Off: start the tasks and return."), advanced=True)
        self.add(QgsProcessingParameterBoolean(self.PLAN_ONLY, self.tr("Plan only (dry run)"), defaultValue=False),
                 self.tr("Compute nothing: write plan.csv in the output folder with, per time step, the "
                         "requests (or export tasks), pixels, bytes and source pixels Earth Engine would "
                         "read, and show it in the log. Only SMAP's grid is read from Earth Engine."))
        self.add(QgsProcessingParameterFolderDestination(self.OUTPUT, self.tr("Output folder")),
                 self.tr("Folder receiving smap/, factors/ and manifest.json."))
        self.addOutput(QgsProcessingOutputFile(self.MANIFEST, self.tr("Manifest (JSON)")))
        self.addOutput(QgsProcessingOutputString(self.SMAP_FILES, self.tr("SMAP rasters (';'-separated)")))
        self.addOutput(QgsProcessingOutputString(self.FACTOR_FILES, self.tr("Factor stacks (';'-separated)")))
        self.addOutput(QgsProcessingOutputNumber(self.N_STEPS, self.tr("Number of time steps")))
        self.addOutput(QgsProcessingOutputFile(self.PLAN, self.tr("Plan (CSV)")))
        self.addOutput(QgsProcessingOutputNumber(self.PLAN_REQUESTS, self.tr("Planned requests or tasks")))
        self.addOutput(QgsProcessingOutputNumber(self.PLAN_BYTES, self.tr("Planned bytes")))

    # -- parameters ------------------------------------------------------------------------------
    def folder_output(self, name, folder, parameters, context):
        """The output folder receives manifest.json and replaces smap/, factors/ and the tile cache .cache/."""
        from ...algorithms.paths import FolderOutput

        return FolderOutput(folder, files=["manifest.json", "plan.csv"], subfolders=["smap", "factors", ".cache"])

    def _factors(self, parameters, context) -> list[str]:
        raw = parameters.get(self.FACTORS)
        if raw is None:  # not given: the parameter's default
            raw = self.parameterDefinition(self.FACTORS).defaultValue()
        if raw is None or raw == "" or raw == []:
            return []
        values = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
        return [str(v).strip() for v in values if str(v).strip()]  # names (static strings), not indices

    def checkParameterValues(self, parameters, context):
        factors = self._factors(parameters, context)
        unknown = [f for f in factors if f not in FACTOR_IDS]
        if unknown:  # before the generic enum check, to name the known factors
            return False, self.tr("Unknown factor {}. Known factors: {}.").format(
                ", ".join(f"'{u}'" for u in unknown), ", ".join(FACTOR_IDS))
        ok, msg = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, msg
        start = self.parameterAsString(parameters, self.START_DATE, context)
        end = self.parameterAsString(parameters, self.END_DATE, context)
        for label, text in ((self.tr("start date"), start), (self.tr("end date"), end)):
            if parse_date(text) is None:
                return False, self.tr("The {} '{}' is not a date; write it as YYYY-MM-DD.").format(label, text)
        if parse_date(end) < parse_date(start):
            return False, self.tr("The date range is reversed: the end date {} is before the start date {}. "
                                  "Swap them.").format(end, start)
        if not factors:
            return False, self.tr("Choose at least one factor.")
        try:
            area, _ = self._area(parameters, context)
        except QgsProcessingException as exc:
            return False, str(exc)
        if area is None:
            return False, self.tr("Give an extent or a polygon layer for the area to fetch.")
        return True, ""

    def _target_crs(self, parameters, context) -> str:
        crs = self.parameterAsCrs(parameters, self.TARGET_CRS, context)
        return crs_text(crs) if crs.isValid() else "EPSG:6933"

    # -- credentials -----------------------------------------------------------------------------
    # -- run -------------------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):
        from .. import dependencies, settings

        dependencies.require(["ee"])
        from ...algorithms.gee import auth, fetch
        from ...algorithms.gee.request import Connection, FetchOptions, FetchRequest

        area, area_crs = self._area(parameters, context)
        out_dir = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        workers = parameters.get(self.WORKERS)
        workers = self.parameterAsInt(parameters, self.WORKERS, context) if workers not in (None, "") \
            else settings.parallel_requests()
        export = EXPORTS[self.parameterAsEnum(parameters, self.EXPORT, context)]
        stored_cache = str(QgsSettings().value(settings.KEY_CACHE_DIR, "", type=str) or "").strip()
        credentials = self.run_engine(self._credentials)
        progress, is_canceled = self.callbacks(feedback)

        def log(message: str) -> None:
            feedback.pushInfo(auth.redact(message))

        request = FetchRequest(
            area, self.parameterAsString(parameters, self.START_DATE, context).strip(),
            self.parameterAsString(parameters, self.END_DATE, context).strip(),
            STEPS[self.parameterAsEnum(parameters, self.TIME_STEP, context)], self._factors(parameters, context),
            smap_product=SMAP_PRODUCTS[self.parameterAsEnum(parameters, self.SMAP_PRODUCT, context)],
            smap_layer=SMAP_LAYERS[self.parameterAsEnum(parameters, self.SMAP_LAYER, context)],
            fine_resolution=self.parameterAsDouble(parameters, self.FINE_RESOLUTION, context),
            target_crs=self._target_crs(parameters, context),
            window_days=self.parameterAsInt(parameters, self.WINDOW_DAYS, context),
            area_crs=area_crs, orbit_pass=ORBITS[self.parameterAsEnum(parameters, self.ORBIT_PASS, context)])
        options = FetchOptions(
            workers=workers, cache_dir=settings.cache_dir() if stored_cache else None, export=export,
            export_target=(self.parameterAsString(parameters, self.EXPORT_TARGET, context) or "").strip() or None,
            wait_exports=self.parameterAsBool(parameters, self.WAIT_EXPORTS, context),
            plan_only=self.parameterAsBool(parameters, self.PLAN_ONLY, context))
        connection = Connection(self._project(parameters, context), credentials, settings.ee_url() or None)
        result = self.run_engine(fetch.fetch, request, out_dir, options, connection, progress=progress,
                                 is_canceled=is_canceled, log=log)
        if result.plan is not None:
            plan = result.plan
            feedback.pushInfo(self.tr("Plan written to {}: {} request(s) or task(s), {} bytes; nothing was computed "
                                      "or downloaded.").format(plan.path, plan.requests, plan.bytes))
            return {self.OUTPUT: out_dir, self.MANIFEST: None, self.SMAP_FILES: "", self.FACTOR_FILES: "",
                    self.N_STEPS: len({r["date"] for r in plan.rows}), self.PLAN: plan.path,
                    self.PLAN_REQUESTS: plan.requests, self.PLAN_BYTES: plan.bytes}
        if result.tasks:
            feedback.pushInfo(self.tr("{} export task(s) started; follow them in the Earth Engine Code Editor "
                                      "(Tasks tab). The manifest lists them.").format(len(result.tasks)))
        feedback.pushInfo(self.tr("Fetched {} time step(s): {} tile(s) downloaded, {} from the cache, {} "
                                  "retried request(s).").format(len(result.smap_files) or len(result.tasks) // 2,
                                                               result.tiles_fetched, result.tiles_from_cache,
                                                               result.retries))
        return {self.OUTPUT: out_dir, self.MANIFEST: result.manifest_path,
                self.SMAP_FILES: ";".join(result.smap_files), self.FACTOR_FILES: ";".join(result.factor_files),
                self.N_STEPS: len(result.smap_files) or len(result.tasks) // 2, self.PLAN: None,
                self.PLAN_REQUESTS: None, self.PLAN_BYTES: None}

