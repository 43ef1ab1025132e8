"""Each Processing enum that offers a list of the option registry (algorithms/options.py) offers all of it, in the
registry's form order (enum indices are public), and maps each index to the registry's key; so do the multiple
choices (derived factors), which preselect nothing."""

from __future__ import annotations

import pytest
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingParameterDefinition

from smdownscale.algorithms import options
from smdownscale.processing_provider import inputs
from smdownscale.processing_provider.algs import downscale, downscalegee, train

#: (algorithm, parameter, the wrapper's index -> key table, registry, the English form label of each key)
ENUMS = [
    ("train", "MODEL_TYPE", train.MODEL_KEYS, options.MODEL_CHOICES, {
        "rf": "Random forest (RF)", "svr": "Support vector regression (SVR)", "cart": "Regression tree (CART)",
        "gbr": "Gradient boosting (histogram-based)", "extratrees": "Extra trees",
        "linear_gbr": "Linear trend + gradient boosting", "auto": "Auto (RF unless clearly beaten)"}),
    ("train", "TRAINING_MODE", train.TRAINING_MODE_KEYS, options.TRAINING_MODES, {
        "coarse": "Scale-aware: train on SMAP cells", "paper": "Study's mode: SMAP at 1 km"}),
    ("train", "CV_MODE", train.CV_MODE_KEYS, options.CV_MODES, {
        "spatial": "Spatial blocks", "dates": "Dates held out", "random": "Random K-fold (optimistic)"}),
    ("downscale", "RESIDUAL_CORRECTION", downscale.RESIDUAL_MODES, options.RESIDUAL_MODES, {
        "constant": "Constant per coarse cell", "none": "None", "smooth": "Smooth (mass-conserving)",
        "atpk": "Area-to-point kriging"}),
    ("downscale", "DETAIL", downscale.DETAIL_MODES, options.DETAIL_MODES, {
        "model": "The model's own prediction", "contrast": "Linear model of local contrasts"}),
    ("downscalegee", "MODEL_TYPE", downscalegee.MODEL_KEYS, options.EE_MODELS, {
        "rf": "Random forest (RF)", "cart": "Regression tree (CART)", "svr": "Support vector regression (NU_SVR)",
        "gbt": "Gradient tree boosting (GBT)"}),
    ("downscalegee", "RESIDUAL_CORRECTION", downscalegee.RESIDUAL_MODES, options.EE_RESIDUAL_MODES, {
        "constant": "Constant per coarse cell", "none": "None", "smooth": "Smooth (mass-conserving)"}),
]


@pytest.mark.parametrize("alg_id, name, keys, choices, labels", ENUMS, ids=[f"{a}-{n}" for a, n, *_ in ENUMS])
def test_enum_offers_the_registry_in_form_order(plugin, alg_id, name, keys, choices, labels):
    alg = QgsApplication.processingRegistry().algorithmById(f"smdownscale:{alg_id}")
    definition = alg.parameterDefinition(name)
    assert tuple(keys) == choices.form_keys  # index -> engine key, as processAlgorithm reads it
    assert definition.options() == [labels[key] for key in choices.form_keys]
    assert definition.defaultValue() == choices.default_index and keys[choices.default_index] == choices.default_key


DERIVED_LABELS = {"lst_diff": "LST day-night difference (lst_diff)", "tvdi": "TVDI from the NDVI-LST space (tvdi)",
                  "api": "Antecedent precipitation index (api)"}
#: (algorithm, parameter, the wrapper's index -> key table, registry, the English form label of each key)
MULTIPLE = [
    ("screen", "DERIVED_FACTORS", inputs.DERIVED_KEYS, options.DERIVED_FACTORS, DERIVED_LABELS),
    ("train", "DERIVED_FACTORS", inputs.DERIVED_KEYS, options.DERIVED_FACTORS, DERIVED_LABELS),
]


@pytest.mark.parametrize("alg_id, name, keys, choices, labels", MULTIPLE, ids=[f"{a}-{n}" for a, n, *_ in MULTIPLE])
def test_multiple_choice_offers_the_registry_in_form_order(plugin, alg_id, name, keys, choices, labels):
    alg = QgsApplication.processingRegistry().algorithmById(f"smdownscale:{alg_id}")
    definition = alg.parameterDefinition(name)
    assert tuple(keys) == choices.form_keys
    assert definition.options() == [labels[key] for key in choices.form_keys]
    assert definition.allowMultiple() and definition.flags() & QgsProcessingParameterDefinition.Flag.FlagOptional
    assert definition.defaultValue() in ([], None)


def test_chosen_derived_factors_reach_the_engine_as_registry_keys(plugin):
    alg = QgsApplication.processingRegistry().algorithmById("smdownscale:train")
    context = QgsProcessingContext()
    last = len(options.DERIVED_FACTORS.form_keys) - 1
    assert inputs.derived_factors(alg, {"DERIVED_FACTORS": [0, last]}, context) == [
        options.DERIVED_FACTORS.form_keys[0], options.DERIVED_FACTORS.form_keys[last]]
    assert inputs.derived_factors(alg, {}, context) == []
