"""Processing algorithm smdownscale:downscalegee — train and downscale on Earth Engine, exports followed from QGIS."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ...algorithms import options
from ...algorithms.gee.catalog import DEFAULT_FACTORS, load_catalog
from ..base import SmdAlgorithm
from ..gee_common import GeeParameters, crs_text, parse_date
from ..layers import SoilMoistureStyle

FACTOR_IDS = load_catalog().factor_ids()
STEPS = ["daily", "8day", "16day", "monthly"]
SMAP_PRODUCTS = ["L4", "L3E"]
SMAP_LAYERS = ["sm_surface", "sm_rootzone"]
MODEL_KEYS = options.EE_MODELS.form_keys
RESIDUAL_MODES = options.EE_RESIDUAL_MODES.form_keys
DESTINATIONS = ["drive", "gcs", "asset"]






class DownscaleGeeAlgorithm(GeeParameters, SmdAlgorithm):
    ALG_ID = "downscalegee"
    GROUP = "model"
    HELP_ANCHOR = "downscalegee"

    EXTENT = "EXTENT"
    AREA = "AREA"
    START_DATE = "START_DATE"
    END_DATE = "END_DATE"
    TIME_STEP = "TIME_STEP"
    FACTORS = "FACTORS"
    SMAP_PRODUCT = "SMAP_PRODUCT"
    SMAP_LAYER = "SMAP_LAYER"
    MODEL_TYPE = "MODEL_TYPE"
    N_TREES = "N_TREES"
    MIN_LEAF = "MIN_LEAF"
    VARIABLES_PER_SPLIT = "VARIABLES_PER_SPLIT"
    MAX_NODES = "MAX_NODES"
    SVR_COST = "SVR_COST"
    SVR_NU = "SVR_NU"
    SVR_GAMMA = "SVR_GAMMA"
    LEARNING_RATE = "LEARNING_RATE"
    SAMPLES_PER_STEP = "SAMPLES_PER_STEP"
    TRAINING_STEPS = "TRAINING_STEPS"
    SEED = "SEED"
    RESIDUAL_CORRECTION = "RESIDUAL_CORRECTION"
    CLIP_MIN = "CLIP_MIN"
    CLIP_MAX = "CLIP_MAX"
    FINE_RESOLUTION = "FINE_RESOLUTION"
    TARGET_CRS = "TARGET_CRS"
    WINDOW_DAYS = "WINDOW_DAYS"
    DESTINATION = "DESTINATION"
    DESTINATION_PATH = "DESTINATION_PATH"
    BATCH_SIZE = "BATCH_SIZE"
    POLL_INTERVAL = "POLL_INTERVAL"
    SAVE_CLASSIFIER_ASSET = "SAVE_CLASSIFIER_ASSET"
    CLASSIFIER_ASSET = "CLASSIFIER_ASSET"
    WAIT = "WAIT"
    DOWNLOAD_FOLDER = "DOWNLOAD_FOLDER"
    PROJECT = "PROJECT"
    OUTPUT_MANIFEST = "OUTPUT_MANIFEST"
    N_TASKS = "N_TASKS"
    N_COMPLETED = "N_COMPLETED"
    N_FAILED = "N_FAILED"
    N_PENDING = "N_PENDING"
    TASK_IDS = "TASK_IDS"
    DOWNLOADED = "DOWNLOADED"
    PLAN_ONLY = "PLAN_ONLY"
    PLAN = "PLAN"
    PLAN_TASKS = "PLAN_TASKS"
    PLAN_BYTES = "PLAN_BYTES"
    PLAN_TRAINING_RUNS = "PLAN_TRAINING_RUNS"

    def __init__(self) -> None:
        super().__init__()
        self._monitor = None

    def displayName(self) -> str:
        return self.tr("Downscale on Earth Engine")

    def shortHelpString(self) -> str:
        return self.tr(
            "Runs the downscaling chain on Google Earth Engine, for areas and periods too large for one computer "
            "(a province, several years of daily maps), and exports one 1 km soil moisture map per time step to "
            "Google Drive, Cloud Storage or an Earth Engine asset.\n\n"
            "Same concepts as the local chain (fetchgee, train, downscale): the factors are computed on the fine "
            "grid (target CRS and resolution), averaged onto SMAP's own grid (read from the asset) with a mean "
            "(land cover becomes class fractions), and paired with SMAP; training samples are drawn on that "
            "coarse grid, a different SMAP cell each (samples per time step; 0 = all cells), from up to 'training "
            "time steps' dates spread over the range. The model (random forest, CART, support vector regression "
            "NU_SVR with RBF kernel on standardized factors, or gradient tree boosting) is trained in regression "
            "mode and applied to the fine factors. As in the local chain the maps have no holes: where a factor is "
            "missing (clouds, swath gaps) it is filled from its mean over the SMAP cell, interpolated between cell "
            "centres, and where no factor is observed the model predicts from the cell means alone (the coarse "
            "field), in cells with a SMAP value. Residual correction then makes each cell average to SMAP: smooth "
            "(default, no 9 km steps) or constant per cell. A second band 'quality' says how each pixel was made: 1 "
            "all factors observed, 2 missing factors filled, 3 coarse field only, 0 no value. Values are then "
            "clamped to the clip range. "
            "Hyperparameters map to the local ones (README table).\n\n"
            "Tasks: exports are submitted in batches (at most 'batch size' queued or running at once) and followed "
            "until they end ('wait'), with progress = finished tasks; cancel cancels them on Earth Engine. Without "
            "'wait' the first batch is started and the algorithm returns; in QGIS the rest is followed in the task "
            "manager. The task manifest (JSON) records every task (id, destination, state, Earth Engine's error "
            "message; never a credential): run again with the same manifest to resume: completed tasks are "
            "skipped, failed or canceled ones submitted again, running ones followed.\n\n"
            "Random forest and CART are trained once, by a classifier task saved as an asset (the given one, else "
            "one named after the run), and every export loads it; SVR and gradient boosting cannot be saved, so every "
            "export retrains them (at most 25,000 samples). A saved classifier can be reused later instead of "
            "training. With Cloud Storage, completed maps can be downloaded to a folder and loaded as layers.\n\n"
            "Earth Engine access: a Cloud project registered for Earth Engine (parameter, plugin settings or "
            "SMDOWNSCALE_EE_PROJECT) and your credentials ('earthengine authenticate') or a service account "
            "(plugin settings).")

    def initAlgorithm(self, config=None):
        num = QgsProcessingParameterNumber
        models = {"rf": self.tr("Random forest (RF)"), "cart": self.tr("Regression tree (CART)"),
                  "svr": self.tr("Support vector regression (NU_SVR)"),
                  "gbt": self.tr("Gradient tree boosting (GBT)")}
        residual = {"constant": self.tr("Constant per coarse cell"), "none": self.tr("None"),
                    "smooth": self.tr("Smooth (mass-conserving)")}
        self.add(QgsProcessingParameterExtent(self.EXTENT, self.tr("Extent"), optional=True),
                 self.tr("Area to downscale, with its CRS. Ignored when a polygon layer is given."),
                 choice=self.tr("or a polygon layer"))
        self.add(QgsProcessingParameterFeatureSource(self.AREA, self.tr("Area (polygon layer)"),
                                                     [QgsProcessing.SourceType.TypeVectorPolygon], optional=True),
                 self.tr("Polygons delimiting the area; the maps cover the SMAP cells of their bounding box."),
                 choice=self.tr("or an extent"))
        self.add(QgsProcessingParameterString(self.START_DATE, self.tr("Start date (YYYY-MM-DD)"), defaultValue=""),
                 self.tr("First day of the date range."))
        self.add(QgsProcessingParameterString(self.END_DATE, self.tr("End date (YYYY-MM-DD, inclusive)"),
                                              defaultValue=""),
                 self.tr("Last day of the date range (included)."))
        self.add(QgsProcessingParameterEnum(self.TIME_STEP, self.tr("Time step"),
                                            options=[self.tr("Daily"), self.tr("8-day"), self.tr("16-day"),
                                                     self.tr("Monthly")], defaultValue=0),
                 self.tr("One map per time step; 8- and 16-day steps follow the MODIS calendar."))
        self.add(QgsProcessingParameterEnum(self.FACTORS, self.tr("Factors"), options=FACTOR_IDS, allowMultiple=True,
                                            defaultValue=list(DEFAULT_FACTORS), usesStaticStrings=True),
                 self.tr("Downscaling factors (as in 'Fetch data from Earth Engine'). A reused classifier needs the "
                         "factors it was trained with, in the same order."))
        self.add(QgsProcessingParameterEnum(self.SMAP_PRODUCT, self.tr("SMAP product"),
                                            options=[self.tr("L4 (model assimilation, 3-hourly)"),
                                                     self.tr("L3 enhanced (radiometer, AM/PM)")],
                                                     defaultValue=0),
                 self.tr("The SMAP product downscaled."))
        self.add(QgsProcessingParameterEnum(self.SMAP_LAYER, self.tr("SMAP layer"),
                                            options=[self.tr("Surface soil moisture (0-5 cm)"),
                                                     self.tr("Root zone (0-100 cm, L4 only)")],
                                            defaultValue=0),
                 self.tr("The soil moisture layer to downscale."))
        self.add(QgsProcessingParameterEnum(self.MODEL_TYPE, self.tr("Model"),
                                            options=[models[key] for key in MODEL_KEYS], defaultValue=0),
                 self.tr("Earth Engine regressor: smileRandomForest, smileCart, libsvm NU_SVR or "
                         "smileGradientTreeBoost."))
        self.add(num(self.N_TREES, self.tr("Number of trees (RF, GBT)"), num.Type.Integer, defaultValue=100, minValue=1,
                     maxValue=10000),
                 self.tr("numberOfTrees; the local chain's n_estimators."))
        self.add(num(self.MIN_LEAF, self.tr("Minimum samples per leaf (RF, CART)"), num.Type.Integer, optional=True,
                     minValue=1),
                 self.tr("minLeafPopulation (local min_samples_leaf). Empty: 2 for RF, 5 for CART, as locally."),
                 advanced=True)
        self.add(num(self.VARIABLES_PER_SPLIT, self.tr("Variables per split (RF)"), num.Type.Integer, optional=True,
                     minValue=1),
                 self.tr("variablesPerSplit (local max_features). Empty: all features, as the local random forest."),
                 advanced=True)
        self.add(num(self.MAX_NODES, self.tr("Maximum leaf nodes per tree"), num.Type.Integer, optional=True,
                     minValue=2),
                 self.tr("maxNodes (local max_leaf_nodes). Empty: no limit for RF, 4096 (= depth 12) for CART, 8 (= "
                         "depth 3) for GBT."), advanced=True)
        self.add(num(self.SVR_COST, self.tr("SVR cost (C)"), num.Type.Double, defaultValue=1.0, minValue=0.0),
                 self.tr("libsvm cost, the local SVR's C."), advanced=True)
        self.add(num(self.SVR_NU, self.tr("SVR nu"), num.Type.Double, defaultValue=0.5, minValue=0.0, maxValue=1.0),
                 self.tr("NU_SVR's nu (0 < nu <= 1): the share of support vectors; it replaces the local SVR's "
                         "epsilon."),
                 advanced=True)
        self.add(num(self.SVR_GAMMA, self.tr("SVR gamma"), num.Type.Double, optional=True, minValue=0.0),
                 self.tr("RBF kernel gamma. Empty: 1 / number of features ('scale' on standardized factors, as "
                         "locally)."), advanced=True)
        self.add(num(self.LEARNING_RATE, self.tr("Learning rate (GBT)"), num.Type.Double, defaultValue=0.1,
                     minValue=0.0,
                     maxValue=1.0),
                 self.tr("smileGradientTreeBoost shrinkage."), advanced=True)
        self.add(num(self.SAMPLES_PER_STEP, self.tr("Training samples per time step (0 = all SMAP cells)"),
                     num.Type.Integer, defaultValue=1000, minValue=0),
                 self.tr("SMAP cells drawn at random (seeded) per training date; each sample is a different cell."),
                 advanced=True)
        self.add(num(self.TRAINING_STEPS, self.tr("Training time steps (0 = all)"), num.Type.Integer, defaultValue=24,
                     minValue=0),
                 self.tr("Dates the model is trained on, spread evenly over the range; fewer keep every export request "
                         "small (each export carries the training computation)."), advanced=True)
        self.add(num(self.SEED, self.tr("Random seed"), num.Type.Integer, defaultValue=0, minValue=0),
                 self.tr("Seed of the sampling and of the random forest / boosting."), advanced=True)
        self.add(QgsProcessingParameterEnum(self.RESIDUAL_CORRECTION, self.tr("Residual correction"),
                                            options=[residual[key] for key in RESIDUAL_MODES],
                                            defaultValue=options.EE_RESIDUAL_MODES.default_index),
                 self.tr("Both keep each SMAP cell's mean. Smooth (default): the residuals (SMAP minus the cell mean "
                         "of the prediction) are interpolated between cell centres and corrected in a few rounds on "
                         "Earth Engine, so no steps appear at cell edges. Constant: each cell's residual is added to "
                         "its pixels (9 km steps)."))
        self.add(num(self.CLIP_MIN, self.tr("Clip minimum (m3/m3)"), num.Type.Double, defaultValue=0.0),
                 self.tr("Lower end of the physical range values are clamped to."), advanced=True)
        self.add(num(self.CLIP_MAX, self.tr("Clip maximum (m3/m3)"), num.Type.Double, defaultValue=0.6),
                 self.tr("Upper end of the physical range values are clamped to."), advanced=True)
        self.add(num(self.FINE_RESOLUTION, self.tr("Fine resolution (target CRS units)"), num.Type.Double,
                     defaultValue=1000.0, minValue=0.0),
                 self.tr("Pixel size of the maps (metres for EPSG:6933); must be finer than SMAP's 9 km."))
        self.add(QgsProcessingParameterCrs(self.TARGET_CRS, self.tr("Target CRS"), defaultValue="EPSG:6933",
                                           optional=True),
                 self.tr("CRS of the maps; EPSG:6933 (SMAP's own EASE-Grid 2.0) when empty."))
        self.add(num(self.WINDOW_DAYS, self.tr("Compositing window for gap filling (days)"), num.Type.Integer,
                     defaultValue=8, minValue=0, maxValue=90),
                 self.tr("As in 'Fetch data from Earth Engine': sparse sensors are gap-filled from this many days "
                         "around each step; 0 turns it off."), advanced=True)
        self.add(QgsProcessingParameterEnum(self.DESTINATION, self.tr("Export to"),
                                            options=[self.tr("Google Drive"), self.tr("Cloud Storage"),
                                                     self.tr("Earth Engine asset")], defaultValue=0),
                 self.tr("Where Earth Engine writes the maps (float32 GeoTIFF, nodata -9999, or image assets)."))
        self.add(QgsProcessingParameterString(self.DESTINATION_PATH, self.tr("Export location"),
                                              optional=True),
                 self.tr("Google Drive folder (default 'smdownscale'), Cloud Storage bucket (optionally "
                         "bucket/folder) or asset folder (projects/<project>/assets/<folder>)."))
        self.add(num(self.BATCH_SIZE, self.tr("Tasks running at once (batch size)"), num.Type.Integer, defaultValue=10,
                     minValue=1, maxValue=3000),
                 self.tr("At most this many export tasks queued or running on Earth Engine at once; the next start as "
                         "others finish. Keep it within your project's concurrent task limit."))
        self.add(num(self.POLL_INTERVAL, self.tr("Status check interval (seconds)"), num.Type.Double, defaultValue=30.0,
                     minValue=0.1),
                 self.tr("Seconds between task status checks; 10 or more for Earth Engine."), advanced=True)
        self.add(QgsProcessingParameterString(self.SAVE_CLASSIFIER_ASSET,
                                              self.tr("Save classifier as asset"),
                                              optional=True),
                 self.tr("Asset id to save the trained classifier to (RF and CART only), e.g. "
                         "projects/<project>/assets/smd_rf; reuse it later with 'Reuse classifier asset'. Empty: "
                         "smdownscale_classifier_<run id> in the asset folder or projects/<project>/assets."),
                         advanced=True)
        self.add(QgsProcessingParameterString(self.CLASSIFIER_ASSET, self.tr("Reuse classifier asset"),
                                              optional=True),
                 self.tr("Asset id of a classifier saved by an earlier run: no training, the same factors are needed."),
                 advanced=True)
        self.add(QgsProcessingParameterBoolean(self.WAIT, self.tr("Wait until the tasks finish"), defaultValue=True),
                 self.tr("Follow the tasks until they end. Off: start the first batch and return; QGIS keeps following "
                         "them in the task manager, or run again with the same manifest."))
        self.add(QgsProcessingParameterBoolean(self.PLAN_ONLY, self.tr("Plan only (dry run)"), defaultValue=False),
                 self.tr("Submit nothing: write the plan next to the task manifest (NAME.plan.csv) with, per export "
                         "task, "
                         "the pixels, bytes, source pixels Earth Engine reads and training runs, and show it in the "
                         "log. Only SMAP's grid is read from Earth Engine."))
        self.add(QgsProcessingParameterString(self.PROJECT, self.tr("Earth Engine Cloud project"), optional=True),
                 self.tr("Google Cloud project registered for Earth Engine. Empty: the plugin settings, then the "
                         "SMDOWNSCALE_EE_PROJECT environment variable."))
        self.add(QgsProcessingParameterFileDestination(self.OUTPUT_MANIFEST, self.tr("Task manifest"),
                                                       self.tr("JSON files (*.json)")),
                 self.tr("JSON file recording the tasks; choose a file (not a temporary one) to resume a run later."))
        self.add(QgsProcessingParameterFolderDestination(self.DOWNLOAD_FOLDER,
                                                         self.tr("Download folder (Cloud Storage)"),
                                                         optional=True, createByDefault=False),
                 self.tr("Download the completed maps from Cloud Storage into this folder and load them as layers."))
        self.addOutput(QgsProcessingOutputNumber(self.N_TASKS, self.tr("Number of tasks")))
        self.addOutput(QgsProcessingOutputNumber(self.N_COMPLETED, self.tr("Completed tasks")))
        self.addOutput(QgsProcessingOutputNumber(self.N_FAILED, self.tr("Failed or canceled tasks")))
        self.addOutput(QgsProcessingOutputNumber(self.N_PENDING, self.tr("Tasks not finished yet")))
        self.addOutput(QgsProcessingOutputString(self.TASK_IDS, self.tr("Earth Engine task ids (';'-separated)")))
        self.addOutput(QgsProcessingOutputString(self.DOWNLOADED, self.tr("Downloaded maps (';'-separated)")))
        self.addOutput(QgsProcessingOutputFile(self.PLAN, self.tr("Plan (CSV)")))
        self.addOutput(QgsProcessingOutputNumber(self.PLAN_TASKS, self.tr("Planned tasks")))
        self.addOutput(QgsProcessingOutputNumber(self.PLAN_BYTES, self.tr("Planned bytes")))
        self.addOutput(QgsProcessingOutputNumber(self.PLAN_TRAINING_RUNS, self.tr("Planned training runs")))

    # -- parameters ------------------------------------------------------------------------------
    def _factors(self, parameters) -> list[str]:
        raw = parameters.get(self.FACTORS)
        if raw is None or raw == "" or raw == []:
            return []
        values = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
        out = []
        for v in values:
            v = str(v).strip()
            if v.isdigit() and int(v) < len(FACTOR_IDS):
                v = FACTOR_IDS[int(v)]
            if v:
                out.append(v)
        return out

    def _optional_number(self, parameters, name, context, integer: bool):
        value = parameters.get(name)
        if value in (None, ""):
            return None
        return self.parameterAsInt(parameters, name, context) if integer \
            else self.parameterAsDouble(parameters, name, context)

    def _model_params(self, parameters, context, model_type: str) -> dict:
        """Hyperparameters in the local chain's names (algorithms/gee/server.py maps them to Earth Engine's)."""
        trees = self.parameterAsInt(parameters, self.N_TREES, context)
        min_leaf = self._optional_number(parameters, self.MIN_LEAF, context, True)
        max_nodes = self._optional_number(parameters, self.MAX_NODES, context, True)
        if model_type == "rf":
            params = {"n_estimators": trees, "min_samples_leaf": min_leaf, "max_leaf_nodes": max_nodes,
                      "max_features": self._optional_number(parameters, self.VARIABLES_PER_SPLIT, context, True)}
        elif model_type == "cart":
            params = {"min_samples_leaf": min_leaf, "max_leaf_nodes": max_nodes}
        elif model_type == "svr":
            params = {"C": self.parameterAsDouble(parameters, self.SVR_COST, context),
                      "nu": self.parameterAsDouble(parameters, self.SVR_NU, context),
                      "gamma": self._optional_number(parameters, self.SVR_GAMMA, context, False)}
        else:
            params = {"n_estimators": trees, "max_leaf_nodes": max_nodes,
                      "learning_rate": self.parameterAsDouble(parameters, self.LEARNING_RATE, context)}
        return {k: v for k, v in params.items() if v is not None}

    def _text(self, parameters, name, context) -> str:
        return (self.parameterAsString(parameters, name, context) or "").strip()

    def _download_folder(self, parameters, context) -> str:
        if parameters.get(self.DOWNLOAD_FOLDER) in (None, ""):
            return ""
        return self._text(parameters, self.DOWNLOAD_FOLDER, context)

    def checkParameterValues(self, parameters, context):
        factors = self._factors(parameters)
        unknown = [f for f in factors if f not in FACTOR_IDS]
        if unknown:
            return False, self.tr("Unknown factor {}. Known factors: {}.").format(
                ", ".join(f"'{u}'" for u in unknown), ", ".join(FACTOR_IDS))
        ok, msg = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, msg
        start = self._text(parameters, self.START_DATE, context)
        end = self._text(parameters, self.END_DATE, context)
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
            return False, self.tr("Give an extent or a polygon layer for the area to downscale.")
        if self.parameterAsDouble(parameters, self.CLIP_MIN, context) >= \
                self.parameterAsDouble(parameters, self.CLIP_MAX, context):
            return False, self.tr("The clip minimum must be below the clip maximum.")
        destination = DESTINATIONS[self.parameterAsEnum(parameters, self.DESTINATION, context)]
        if self._download_folder(parameters, context) and destination != "gcs":
            return False, self.tr("Downloading works only with the Cloud Storage destination; choose Cloud Storage "
                                  "or leave the download folder empty.")
        return True, ""

    # -- run -------------------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):
        from .. import dependencies, settings

        dependencies.require(["ee"])
        from ...algorithms.gee import auth, pipeline
        from ...algorithms.gee.request import Connection, DownscaleRequest, TaskRun

        self._monitor = None
        area, area_crs = self._area(parameters, context)
        model_type = MODEL_KEYS[self.parameterAsEnum(parameters, self.MODEL_TYPE, context)]
        destination = DESTINATIONS[self.parameterAsEnum(parameters, self.DESTINATION, context)]
        manifest = self.parameterAsFileOutput(parameters, self.OUTPUT_MANIFEST, context)
        if not os.path.splitext(manifest)[1]:
            manifest += ".json"
        download = self._download_folder(parameters, context)
        crs = self.parameterAsCrs(parameters, self.TARGET_CRS, context)
        wait = self.parameterAsBoolean(parameters, self.WAIT, context)
        batch_size = self.parameterAsInt(parameters, self.BATCH_SIZE, context)
        poll = self.parameterAsDouble(parameters, self.POLL_INTERVAL, context)
        credentials = self.run_engine(self._credentials)
        progress, is_canceled = self.callbacks(feedback)

        def log(message: str) -> None:
            feedback.pushInfo(auth.redact(message))

        samples = self.parameterAsInt(parameters, self.SAMPLES_PER_STEP, context)
        training_steps = self.parameterAsInt(parameters, self.TRAINING_STEPS, context)
        request = DownscaleRequest(
            area, self._text(parameters, self.START_DATE, context), self._text(parameters, self.END_DATE, context),
            STEPS[self.parameterAsEnum(parameters, self.TIME_STEP, context)], self._factors(parameters),
            smap_product=SMAP_PRODUCTS[self.parameterAsEnum(parameters, self.SMAP_PRODUCT, context)],
            smap_layer=SMAP_LAYERS[self.parameterAsEnum(parameters, self.SMAP_LAYER, context)],
            model_type=model_type, params=self._model_params(parameters, context, model_type),
            residual=RESIDUAL_MODES[self.parameterAsEnum(parameters, self.RESIDUAL_CORRECTION, context)],
            clip=(self.parameterAsDouble(parameters, self.CLIP_MIN, context),
                  self.parameterAsDouble(parameters, self.CLIP_MAX, context)),
            fine_resolution=self.parameterAsDouble(parameters, self.FINE_RESOLUTION, context),
            target_crs=crs_text(crs) if crs.isValid() else "EPSG:6933", destination=destination,
            destination_path=self._text(parameters, self.DESTINATION_PATH, context) or None,
            samples_per_step=samples or None, max_training_steps=training_steps or None,
            seed=self.parameterAsInt(parameters, self.SEED, context),
            save_classifier_asset=self._text(parameters, self.SAVE_CLASSIFIER_ASSET, context) or None,
            classifier_asset=self._text(parameters, self.CLASSIFIER_ASSET, context) or None, area_crs=area_crs,
            window_days=self.parameterAsInt(parameters, self.WINDOW_DAYS, context))
        run = TaskRun(batch_size=batch_size, wait=wait, poll_interval=poll, download_folder=download or None,
                      plan_only=self.parameterAsBoolean(parameters, self.PLAN_ONLY, context))
        connection = Connection(self._project(parameters, context), credentials, settings.ee_url() or None)
        result = self.run_engine(pipeline.downscale_gee, request, manifest, run, connection, progress=progress,
                                 is_canceled=is_canceled, log=log)
        if result.plan is not None:
            plan = result.plan
            feedback.pushInfo(self.tr("Plan written to {}: {} task(s), {} bytes, {} training run(s); nothing was "
                                      "submitted.").format(plan.path, plan.requests, plan.bytes, plan.training_runs))
            return {self.OUTPUT_MANIFEST: None, self.N_TASKS: plan.requests, self.N_COMPLETED: 0, self.N_FAILED: 0,
                    self.N_PENDING: 0, self.TASK_IDS: "", self.DOWNLOADED: "", self.DOWNLOAD_FOLDER: None,
                    self.PLAN: plan.path, self.PLAN_TASKS: plan.requests, self.PLAN_BYTES: plan.bytes,
                    self.PLAN_TRAINING_RUNS: plan.training_runs}
        batch = result.batch
        counts = batch.counts
        pending = len(batch.pending)
        feedback.pushInfo(self.tr("{} task(s): {} completed ({} in earlier runs), {} failed or canceled, {} not "
                                  "finished; Earth Engine compute reported: {:.2f} EECU-hours. Manifest: {}").format(
            len(batch.tasks), counts["COMPLETED"], batch.skipped, len(batch.failed), pending, batch.eecu_hours,
            result.manifest_path))
        for rec in batch.failed:
            feedback.reportError(self.tr("{}: {}: {}").format(rec["description"], rec["state"],
                                                              rec.get("error") or ""), False)
        if pending and not wait:
            self._monitor = (result.configs, result.manifest_path, batch_size, poll)
            feedback.pushInfo(self.tr("The remaining tasks are followed in the QGIS task manager (when QGIS runs), "
                                      "or run again with the same manifest to follow them."))
        for path in result.downloaded:
            if context.project() is not None:
                details = QgsProcessingContext.LayerDetails(os.path.splitext(os.path.basename(path))[0],
                                                            context.project(), self.DOWNLOAD_FOLDER)
                details.setPostProcessor(SoilMoistureStyle.create())
                context.addLayerToLoadOnCompletion(path, details)
        return {self.OUTPUT_MANIFEST: result.manifest_path, self.N_TASKS: len(batch.tasks),
                self.N_COMPLETED: counts["COMPLETED"], self.N_FAILED: len(batch.failed), self.N_PENDING: pending,
                self.TASK_IDS: ";".join(r["task_id"] or "" for r in batch.tasks),
                self.DOWNLOADED: ";".join(result.downloaded), self.DOWNLOAD_FOLDER: download or None,
                self.PLAN: None, self.PLAN_TASKS: None, self.PLAN_BYTES: None, self.PLAN_TRAINING_RUNS: None}

    def postProcessAlgorithm(self, context, feedback):
        """Hand the tasks not finished (WAIT off) to a task manager task, when QGIS runs with its interface."""
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            from qgis import utils

            if getattr(utils, "iface", None) is not None:
                from ..gee_tasks import start_monitor

                configs, manifest, batch_size, poll = monitor
                start_monitor(configs, manifest, batch_size, poll_interval=poll)
                feedback.pushInfo(self.tr("Following the Earth Engine tasks in the task manager."))
        return {}
