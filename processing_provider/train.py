"""Processing algorithm smdownscale:train — fit RF / SVR / CART at the SMAP scale and cross-validate it."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from .base import SmdAlgorithm
from .screen import add_pair_inputs, min_valid_param, raster_paths

MODEL_KEYS = ("rf", "svr", "cart")


class TrainAlgorithm(SmdAlgorithm):
    ALG_ID = "train"
    GROUP = "model"
    HELP_ANCHOR = "train"

    SOIL_MOISTURE = "SOIL_MOISTURE"
    FACTORS = "FACTORS"
    SELECTED_FACTORS = "SELECTED_FACTORS"
    MODEL_TYPE = "MODEL_TYPE"
    N_ESTIMATORS = "N_ESTIMATORS"
    CV_FOLDS = "CV_FOLDS"
    CV_BLOCK_CELLS = "CV_BLOCK_CELLS"
    SEED = "SEED"
    MIN_VALID_FRACTION = "MIN_VALID_FRACTION"
    OUTPUT = "OUTPUT"
    CV_R = "CV_R"
    CV_MAE = "CV_MAE"
    CV_RMSE = "CV_RMSE"
    CV_UBRMSD = "CV_UBRMSD"
    N_SAMPLES = "N_SAMPLES"

    def displayName(self) -> str:  # noqa: N802
        return self.tr("Train downscaling model")

    def shortHelpString(self) -> str:  # noqa: N802
        return self.tr(
            "Trains a machine-learning model that predicts soil moisture from the factors, and saves it as a "
            ".smdmodel file for smdownscale:downscale.\n\n"
            "Training is scale-aware: for every date the 1 km factor stack is averaged onto the SMAP grid (land "
            "cover becomes class fractions) and the model learns SMAP soil moisture from these coarse factors, "
            "pooled over all dates. The same model is then applied to the 1 km factors.\n\n"
            "Models: random forest (RF, default), support vector regression (SVR, RBF kernel on standardized "
            "factors) or a regression tree (CART).\n\n"
            "Cross-validation: spatial folds hold out whole blocks of coarse cells (block size in cells), so a "
            "block is never used for training and testing at once; random K-fold is reported too and labelled "
            "optimistic, because neighbouring cells resemble each other. The log shows R, MAE, RMSE, bias and "
            "ubRMSD (m3/m3) pooled and per fold; the spatial pooled values are also outputs for the modeler.\n\n"
            "'Factors to use' takes comma-separated band names (e.g. the output of smdownscale:screen); empty uses "
            "every band of the stacks.")

    def initAlgorithm(self, config=None):  # noqa: N802
        params: list = []
        add_pair_inputs(self, params)
        p = QgsProcessingParameterString(self.SELECTED_FACTORS, self.tr("Factors to use (comma-separated names)"),
                                         optional=True)
        params.append((p, self.tr("Band names of the factor stacks to train on, e.g. 'ndvi,lst_day,landcover' "
                                  "(the 'Selected factors' output of smdownscale:screen). Empty: all bands.")))
        p = QgsProcessingParameterEnum(self.MODEL_TYPE, self.tr("Model"),
                                       options=[self.tr("Random forest (RF)"),
                                                self.tr("Support vector regression (SVR)"),
                                                self.tr("Regression tree (CART)")], defaultValue=0)
        params.append((p, self.tr("The regression algorithm. Random forest is usually the most accurate.")))
        p = QgsProcessingParameterNumber(self.N_ESTIMATORS, self.tr("Number of trees (random forest)"),
                                         QgsProcessingParameterNumber.Type.Integer, defaultValue=100, minValue=1,
                                         maxValue=5000)
        p.setFlags(p.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        params.append((p, self.tr("Trees in the random forest; more trees are steadier but slower. Ignored by SVR "
                                  "and CART.")))
        p = QgsProcessingParameterNumber(self.CV_FOLDS, self.tr("Cross-validation folds (0 = none)"),
                                         QgsProcessingParameterNumber.Type.Integer, defaultValue=5, minValue=0,
                                         maxValue=50)
        p.setFlags(p.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        params.append((p, self.tr("Number of folds for both spatial and random cross-validation; 0 skips "
                                  "cross-validation, otherwise at least 2.")))
        p = QgsProcessingParameterNumber(self.CV_BLOCK_CELLS, self.tr("Spatial CV block size (coarse cells)"),
                                         QgsProcessingParameterNumber.Type.Integer, defaultValue=4, minValue=1)
        p.setFlags(p.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        params.append((p, self.tr("Spatial folds hold out square blocks of this many SMAP cells per side (4 cells "
                                  "of 9 km = 36 km); use at least the range of spatial autocorrelation.")))
        p = QgsProcessingParameterNumber(self.SEED, self.tr("Random seed"),
                                         QgsProcessingParameterNumber.Type.Integer, defaultValue=0, minValue=0)
        p.setFlags(p.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        params.append((p, self.tr("Seed for the model and the random folds; the same seed gives the same model.")))
        params.append(min_valid_param(self))
        p = QgsProcessingParameterFileDestination(self.OUTPUT, self.tr("Model file"),
                                                  self.tr("smdownscale model (*.smdmodel)"))
        params.append((p, self.tr("Where to save the trained model (.smdmodel).")))
        for param, help_text in params:
            if hasattr(param, "setHelp"):
                param.setHelp(help_text)
            self.addParameter(param)
        self.addOutput(QgsProcessingOutputNumber(self.CV_R, self.tr("Spatial CV R")))
        self.addOutput(QgsProcessingOutputNumber(self.CV_MAE, self.tr("Spatial CV MAE (m3/m3)")))
        self.addOutput(QgsProcessingOutputNumber(self.CV_RMSE, self.tr("Spatial CV RMSE (m3/m3)")))
        self.addOutput(QgsProcessingOutputNumber(self.CV_UBRMSD, self.tr("Spatial CV ubRMSD (m3/m3)")))
        self.addOutput(QgsProcessingOutputNumber(self.N_SAMPLES, self.tr("Training samples (coarse cells x dates)")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from . import dependencies

        dependencies.require(["sklearn", "skops"])
        from ..algorithms import train

        sm = raster_paths(self, parameters, self.SOIL_MOISTURE, context)
        stacks = raster_paths(self, parameters, self.FACTORS, context)
        text = self.parameterAsString(parameters, self.SELECTED_FACTORS, context) or ""
        factors = [f.strip() for f in text.replace(";", ",").split(",") if f.strip()] or None
        model_type = MODEL_KEYS[self.parameterAsEnum(parameters, self.MODEL_TYPE, context)]
        output = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        if not os.path.splitext(output)[1]:
            output += ".smdmodel"
        params = {"n_estimators": self.parameterAsInt(parameters, self.N_ESTIMATORS, context)} \
            if model_type == "rf" else None
        progress, is_canceled = self.callbacks(feedback)
        result = self.run_engine(
            train.train_model, sm, stacks, output, model_type, factors=factors, params=params,
            cv_folds=self.parameterAsInt(parameters, self.CV_FOLDS, context),
            cv_block_cells=self.parameterAsInt(parameters, self.CV_BLOCK_CELLS, context),
            min_valid_fraction=self.parameterAsDouble(parameters, self.MIN_VALID_FRACTION, context),
            seed=self.parameterAsInt(parameters, self.SEED, context), progress=progress, is_canceled=is_canceled)
        meta = result.meta
        feedback.pushInfo(self.tr("{} model trained on {} coarse samples over {} date(s); features: {}").format(
            train.MODEL_LABELS[model_type], meta["n_samples"], len(meta["dates"]), ", ".join(meta["features"])))
        feedback.pushInfo(self.tr("Cross-validation (soil moisture in m3/m3):"))
        for line in train.cv_table(meta).splitlines():
            feedback.pushInfo(line)
        if "feature_importances" in meta:
            ranked = sorted(meta["feature_importances"].items(), key=lambda kv: -kv[1])
            feedback.pushInfo(self.tr("Feature importances: {}").format(
                ", ".join(f"{k} {v:.3f}" for k, v in ranked)))
        m = result.metrics
        return {self.OUTPUT: output, self.CV_R: m["r"], self.CV_MAE: m["mae"], self.CV_RMSE: m["rmse"],
                self.CV_UBRMSD: m["ubrmsd"], self.N_SAMPLES: meta["n_samples"]}
