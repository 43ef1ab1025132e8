"""Processing algorithm smdownscale:train — fit a model (RF, SVR, CART, boosting, extra trees, auto), cross-validate."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ...algorithms import options
from ..base import SmdAlgorithm
from ..inputs import (
    add_derived_factors,
    add_min_valid_fraction,
    add_pair_inputs,
    add_sm_reading,
    check_pair_parameters,
    derived_factors,
    optional_number,
    pair_input_paths,
    report_destination,
    report_inputs,
    sm_reading_text,
)

#: Engine keys in the order of the enum options (indices are public: scripts use them), from the registry.
MODEL_KEYS = options.MODEL_CHOICES.form_keys
TRAINING_MODE_KEYS = options.TRAINING_MODES.form_keys
CV_MODE_KEYS = options.CV_MODES.form_keys
#: The engine's default (algorithms.train.NOISE_AUGMENTATION; the engine is imported only when the algorithm runs).
NOISE_AUGMENTATION_DEFAULT = 0.75


class TrainAlgorithm(SmdAlgorithm):
    ALG_ID = "train"
    GROUP = "model"
    HELP_ANCHOR = "train"

    SOIL_MOISTURE = "SOIL_MOISTURE"
    FACTORS = "FACTORS"
    MANIFEST = "MANIFEST"
    SELECTED_FACTORS = "SELECTED_FACTORS"
    MODEL_TYPE = "MODEL_TYPE"
    N_ESTIMATORS = "N_ESTIMATORS"
    CV_FOLDS = "CV_FOLDS"
    CV_BLOCK_CELLS = "CV_BLOCK_CELLS"
    SEED = "SEED"
    MIN_VALID_FRACTION = "MIN_VALID_FRACTION"
    TRAINING_MODE = "TRAINING_MODE"
    CV_MODE = "CV_MODE"
    SEARCH_SECONDS = "SEARCH_SECONDS"
    DERIVED_FACTORS = "DERIVED_FACTORS"
    SM_SCALE = "SM_SCALE"
    SM_NODATA = "SM_NODATA"
    NOISE_AUGMENTATION = "NOISE_AUGMENTATION"
    OUTPUT = "OUTPUT"
    REPORT = "REPORT"
    MODEL_USED = "MODEL_USED"
    CV_R = "CV_R"
    CV_MAE = "CV_MAE"
    CV_RMSE = "CV_RMSE"
    CV_UBRMSD = "CV_UBRMSD"
    TRANSFER_R = "TRANSFER_R"
    TRANSFER_RMSE = "TRANSFER_RMSE"
    N_SAMPLES = "N_SAMPLES"

    def displayName(self) -> str:
        return self.tr("Train downscaling model")

    def shortHelpString(self) -> str:
        return self.tr(
            "Required: both lists (SMAP rasters and factor stacks, one per date), or a fetch manifest instead of "
            "both. For QGIS (qgis_process, models) all three are optional parameters because either way is "
            "complete; the dialog labels them with the alternative, and the algorithm names what is missing "
            "before anything runs.\n\n"
            "Trains a machine-learning model that predicts soil moisture from the factors, and saves it as a "
            ".smdmodel file for smdownscale:downscale.\n\n"
            "Training modes. Scale-aware (default): for every date the 1 km factor stack is averaged onto the SMAP "
            "grid (land cover becomes class fractions) and the model learns SMAP soil moisture from these coarse "
            "factors, pooled over all dates; the same model is then applied to the 1 km factors. Study's mode "
            "(as in Bian et al. 2025): SMAP is resampled bilinearly to the 1 km grid and the model is trained on a "
            "random sample of 1 km pixels; it mostly learns to reproduce the interpolation, and is offered so the "
            "published setup can be reproduced and compared.\n\n"
            "Models: random forest (RF, default), support vector regression (SVR, RBF kernel on standardized "
            "factors), a regression tree (CART), gradient boosting (histogram-based), extra trees, and a linear "
            "trend + gradient boosting hybrid (ridge regression, then boosted trees on its residuals), which "
            "extrapolates beyond the range of the 9 km factor means that 1 km pixels reach. 'Auto' trains RF, extra "
            "trees, both boosting models and SVR and keeps the one with the lowest spatial cross-validation RMSE.\n\n"
            "Hyperparameter search (time budget in seconds, 0 = off): the default settings and then random "
            "settings from a grid per model are scored by spatial cross-validation until the budget is spent; the "
            "settings tried and the winner are logged and stored in the model file.\n\n"
            "Cross-validation: spatial blocks (default) hold out whole blocks of SMAP cells (block size in cells), "
            "so a block is never used for training and testing at once; 'dates held out' holds out whole dates; "
            "random K-fold is always reported too and labelled optimistic, because neighbouring cells resemble each "
            "other. The log shows R, MAE, RMSE, bias and ubRMSD (m3/m3) pooled and per fold; the pooled values of "
            "the chosen scheme are also outputs for the modeler.\n\n"
            "Derived factors (optional) are computed from the stack bands when their inputs are present: the LST "
            "day-night difference (lst_day - lst_night), TVDI from the NDVI-LST space with a dry edge fitted per "
            "date, and an antecedent precipitation index from daily bands precipitation_lag<d>. The model records "
            "them and smdownscale:downscale recomputes them from its stack.\n\n"
            "'Factors to use' takes comma-separated band names (e.g. the output of smdownscale:screen); empty uses "
            "every band of the stacks.\n\n"
            "Units: SMAP soil moisture must be in m3/m3. Values that cannot be (percent, scaled integers, a fill value "
            "such as -9999 that the file does not declare as nodata) stop the run with a message naming the file and "
            "the fix. The advanced parameters SM_SCALE (factor to m3/m3, 0.01 for percent) and SM_NODATA (a fill "
            "value the file does not declare; the file is not changed) say how to read SMAP; the model keeps them, "
            "so smdownscale:downscale reads SMAP the same way. NDVI-like factors (ndvi, evi, savi, ndwi) must lie "
            "within -1 to 1 (MODIS stores them as integers x 10000: multiply by 0.0001 first).")

    def checkParameterValues(self, parameters, context):
        return check_pair_parameters(self, super().checkParameterValues(parameters, context), parameters, context)

    def initAlgorithm(self, config=None):
        models = {"rf": self.tr("Random forest (RF)"), "svr": self.tr("Support vector regression (SVR)"),
                  "cart": self.tr("Regression tree (CART)"), "gbr": self.tr("Gradient boosting (histogram-based)"),
                  "extratrees": self.tr("Extra trees"), "linear_gbr": self.tr("Linear trend + gradient boosting"),
                  "auto": self.tr("Auto (RF unless clearly beaten)")}
        modes = {"coarse": self.tr("Scale-aware: train on SMAP cells"), "paper": self.tr("Study's mode: SMAP at 1 km")}
        cv_modes = {"spatial": self.tr("Spatial blocks"), "dates": self.tr("Dates held out"),
                    "random": self.tr("Random K-fold (optimistic)")}
        add_pair_inputs(self)
        self.add(QgsProcessingParameterString(self.SELECTED_FACTORS, self.tr("Factors to use (default: all)"),
                                              optional=True),
                 self.tr("Band names of the factor stacks to train on, e.g. 'ndvi,lst_day,landcover' "
                         "(the 'Selected factors' output of smdownscale:screen). Empty: all bands."))
        self.add(QgsProcessingParameterEnum(self.MODEL_TYPE, self.tr("Model"),
                                            options=[models[key] for key in MODEL_KEYS],
                                            defaultValue=0),
                 self.tr("The regression algorithm. Auto compares RF, extra trees, both boosting models "
                         "and SVR by spatial cross-validation and by the scale-transfer check (trained on "
                         "grids 2x and 3x coarser than SMAP, scored on SMAP cells of held-out blocks), and "
                         "keeps RF unless another model is better in both, on every fold."))
        self.add(QgsProcessingParameterEnum(self.TRAINING_MODE, self.tr("Training mode"),
                                            options=[modes[key] for key in TRAINING_MODE_KEYS],
                                            defaultValue=0),
                 self.tr("Scale-aware training learns the relation at the scale SMAP measures; the study's "
                         "mode reproduces the published setup (trained on bilinearly resampled SMAP)."))
        self.add(QgsProcessingParameterEnum(self.CV_MODE, self.tr("Cross-validation"),
                                            options=[cv_modes[key] for key in CV_MODE_KEYS], defaultValue=0),
                 self.tr("How the reported skill is estimated. Random K-fold mixes neighbouring cells "
                         "between training and testing and overstates skill."), advanced=True)
        self.add(QgsProcessingParameterNumber(self.SEARCH_SECONDS, self.tr("Hyperparameter search budget (s, 0 = off)"),
                                              QgsProcessingParameterNumber.Type.Double, defaultValue=0.0, minValue=0.0),
                 self.tr("Seconds to spend trying settings of the model (of each model with Auto), scored "
                         "by spatial cross-validation. 0 uses the default settings."), advanced=True)
        add_derived_factors(self, self.tr("Computed from the stack bands (lst_day and lst_night; ndvi and lst_day; "
                                          "daily precipitation_lag<d> bands) when present, and added to the factors; "
                                          "skipped with a note when their inputs are missing."))
        self.add(QgsProcessingParameterNumber(self.N_ESTIMATORS, self.tr("Number of trees (random forest)"),
                                              QgsProcessingParameterNumber.Type.Integer, defaultValue=100, minValue=1,
                                              maxValue=5000),
                 self.tr("Trees in the random forest; more trees are steadier but slower. Used by the "
                         "random forest only (the other models keep their defaults)."), advanced=True)
        self.add(QgsProcessingParameterNumber(self.CV_FOLDS, self.tr("Cross-validation folds (0 = none)"),
                                              QgsProcessingParameterNumber.Type.Integer, defaultValue=5, minValue=0,
                                              maxValue=50),
                 self.tr("Number of folds for both spatial and random cross-validation; 0 skips "
                         "cross-validation, otherwise at least 2."), advanced=True)
        self.add(QgsProcessingParameterNumber(self.CV_BLOCK_CELLS, self.tr("Spatial CV block size (coarse cells)"),
                                              QgsProcessingParameterNumber.Type.Integer, defaultValue=4, minValue=1),
                 self.tr("Spatial folds hold out square blocks of this many SMAP cells per side (4 cells "
                         "of 9 km = 36 km); use at least the range of spatial autocorrelation."), advanced=True)
        self.add(QgsProcessingParameterNumber(self.SEED, self.tr("Random seed"),
                                              QgsProcessingParameterNumber.Type.Integer, defaultValue=0, minValue=0),
                 self.tr("Seed for the model and the random folds; the same seed gives the same model."), advanced=True)
        self.add(QgsProcessingParameterNumber(self.NOISE_AUGMENTATION, self.tr("Factor noise augmentation (0 = off)"),
                                              QgsProcessingParameterNumber.Type.Double,
                                              defaultValue=NOISE_AUGMENTATION_DEFAULT, minValue=0.0, maxValue=5.0),
                 self.tr("Scale-aware mode: the model is fitted on noisy copies of the SMAP-cell samples, "
                         "with this multiple of each factor's noise measured at 1 km (speckle, retrieval "
                         "noise), so it does not follow that noise when applied to 1 km pixels. 0 fits the "
                         "plain samples, as the study does."), advanced=True)
        add_min_valid_fraction(self)
        add_sm_reading(self)
        self.add(QgsProcessingParameterFileDestination(self.OUTPUT, self.tr("Model file"),
                                                       self.tr("smdownscale model (*.smdmodel)")),
                 self.tr("Where to save the trained model (.smdmodel)."))
        self.add(QgsProcessingParameterFileDestination(self.REPORT, self.tr("Training report"),
                                                       self.tr("HTML files (*.html)"), optional=True,
                                                       createByDefault=True),
                 self.tr("HTML report: cross-validation metrics (spatial and random folds, pooled and per "
                         "fold) and feature importance; shown in the Processing results viewer."))
        self.addOutput(QgsProcessingOutputNumber(self.CV_R, self.tr("CV R (chosen scheme)")))
        self.addOutput(QgsProcessingOutputNumber(self.CV_MAE, self.tr("CV MAE (m3/m3)")))
        self.addOutput(QgsProcessingOutputNumber(self.CV_RMSE, self.tr("CV RMSE (m3/m3)")))
        self.addOutput(QgsProcessingOutputNumber(self.CV_UBRMSD, self.tr("CV ubRMSD (m3/m3)")))
        self.addOutput(QgsProcessingOutputNumber(self.TRANSFER_R, self.tr("Scale transfer R")))
        self.addOutput(QgsProcessingOutputNumber(self.TRANSFER_RMSE, self.tr("Scale transfer RMSE (m3/m3)")))
        self.addOutput(QgsProcessingOutputNumber(self.N_SAMPLES, self.tr("Training samples")))
        self.addOutput(QgsProcessingOutputString(self.MODEL_USED, self.tr("Model type trained (the winner with "
                                                                          "Auto)")))

    def processAlgorithm(self, parameters, context, feedback):
        from .. import dependencies

        dependencies.require(["sklearn", "skops"])
        from ...algorithms import train

        sm, stacks = pair_input_paths(self, parameters, context)
        text = self.parameterAsString(parameters, self.SELECTED_FACTORS, context) or ""
        factors = [f.strip() for f in text.replace(";", ",").split(",") if f.strip()] or None
        model_type = MODEL_KEYS[self.parameterAsEnum(parameters, self.MODEL_TYPE, context)]
        output = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        if not os.path.splitext(output)[1]:
            output += ".smdmodel"
        params = {"n_estimators": self.parameterAsInt(parameters, self.N_ESTIMATORS, context)} \
            if model_type == "rf" else None
        derived = derived_factors(self, parameters, context)
        report_path = report_destination(self, parameters, context)
        sm_scale = self.parameterAsDouble(parameters, self.SM_SCALE, context)
        sm_nodata = optional_number(self, parameters, self.SM_NODATA, context)
        reading = sm_reading_text(self, sm_scale, sm_nodata)
        if reading:
            feedback.pushInfo(self.tr("SMAP values read with {}; the model keeps this for downscaling.")
                              .format(reading))
        progress, is_canceled = self.callbacks(feedback)
        request = self.run_engine(
            train.TrainRequest, sm, stacks, output, model_type, factors=factors, params=params,
            cv_folds=self.parameterAsInt(parameters, self.CV_FOLDS, context),
            cv_block_cells=self.parameterAsInt(parameters, self.CV_BLOCK_CELLS, context),
            min_valid_fraction=self.parameterAsDouble(parameters, self.MIN_VALID_FRACTION, context),
            seed=self.parameterAsInt(parameters, self.SEED, context),
            cv_mode=CV_MODE_KEYS[self.parameterAsEnum(parameters, self.CV_MODE, context)],
            search_seconds=self.parameterAsDouble(parameters, self.SEARCH_SECONDS, context),
            training_mode=TRAINING_MODE_KEYS[self.parameterAsEnum(parameters, self.TRAINING_MODE, context)],
            derived=derived, sm_scale=sm_scale, sm_nodata=sm_nodata,
            noise_augmentation=self.parameterAsDouble(parameters, self.NOISE_AUGMENTATION, context))
        result = self.run_engine(train.train_model, request, progress=progress, is_canceled=is_canceled)
        meta = result.meta
        samples = self.tr("1 km pixels") if meta["training_mode"] == "paper" else self.tr("coarse samples")
        feedback.pushInfo(self.tr("{} model trained on {} {} over {} date(s); features: {}").format(
            train.MODEL_LABELS[meta["model_type"]], meta["n_samples"], samples, len(meta["dates"]),
            ", ".join(meta["features"])))
        feedback.pushInfo(self.tr("Training mode: {}").format(meta["training_mode_label"]))
        day = meta.get("province_day") or {}
        if meta.get("support_vectors") and day.get("seconds") is not None:
            feedback.pushInfo(self.tr("The SVR has {} support vectors: downscaling a province-day (4 million 1 km "
                                      "pixels) takes about {} s on this computer ({}).").format(
                meta["support_vectors"], day["seconds"], day["backend"]))
        for line in train.selection_table(meta).splitlines():
            feedback.pushInfo(line)
        for name, why in (meta.get("derived_factors") or {}).get("skipped", {}).items():
            feedback.pushWarning(self.tr("Derived factor {} was not computed: it {}.").format(name, why))
        for name, reason in (meta.get("dropped_factors") or {}).items():
            feedback.pushWarning(self.tr("Factor {} was left out of the model: {}.").format(name, reason))
        for label, absent in (meta.get("dates_left_out") or {}).items():
            feedback.pushWarning(self.tr("Date {} was left out: {} missing at every pixel of its factor stack (all "
                                         "under cloud, or without a radar overpass).").format(label, ", ".join(absent)))
        aug = meta.get("noise_augmentation")
        if aug:
            feedback.pushInfo(self.tr("Factor noise augmentation: {} noisy copies, {:g} x the 1 km noise of each "
                                      "factor ({})").format(aug["copies"], aug["scale"], ", ".join(
                                          f"{k} {v:.4g}" for k, v in aug["factor_noise_sd"].items())))
        contrast = meta.get("contrast_detail")
        if contrast:
            feedback.pushInfo(self.tr("Contrast detail (downscale's detail 'contrast'): {}").format(", ".join(
                f"{n} {c:.4g}" for n, c in zip(contrast["features"], contrast["coefficients"]) if c)))
        feedback.pushInfo(self.tr("Cross-validation (soil moisture in m3/m3):"))
        for line in train.cv_table(meta).splitlines():
            feedback.pushInfo(line)
        if "feature_importances" in meta:
            ranked = sorted(meta["feature_importances"].items(), key=lambda kv: -kv[1])
            feedback.pushInfo(self.tr("Feature importances: {}").format(
                ", ".join(f"{k} {v:.3f}" for k, v in ranked)))
        if report_path:
            from ...algorithms import report

            self.run_engine(report.train_report, meta, report_path, inputs=report_inputs(self, sm, stacks))
        m = result.metrics
        transfer = ((meta.get("cv") or {}).get("transfer") or {}).get("pooled") or {}
        return {self.OUTPUT: output, self.CV_R: m["r"], self.CV_MAE: m["mae"], self.CV_RMSE: m["rmse"],
                self.CV_UBRMSD: m["ubrmsd"], self.TRANSFER_R: transfer.get("r"),
                self.TRANSFER_RMSE: transfer.get("rmse"), self.N_SAMPLES: meta["n_samples"], self.REPORT: report_path,
                self.MODEL_USED: meta["model_type"]}
