"""The option registry (algorithms/options.py) is what the engine, the reports and the Earth Engine mapping read."""

from __future__ import annotations

import inspect
import os
import re

import pytest

from smdownscale.algorithms import downscale, options, report, residual, series, train
from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.gee import server


def test_every_choice_lists_its_keys_once_in_form_order():
    for choices in (options.MODELS, options.MODEL_CHOICES, options.EE_MODELS, options.RESIDUAL_MODES,
                    options.EE_RESIDUAL_MODES, options.CV_MODES, options.TRAINING_MODES, options.DETAIL_MODES):
        assert sorted(choices.form_keys) == sorted(choices.keys)
        assert len(set(choices.keys)) == len(choices.keys)
        assert all(choices.label(k) and choices.label(k) != k for k in choices.keys if k != "none")
    # form order: a new option is appended, so the enum indices scripts use keep their meaning
    assert options.MODEL_CHOICES.form_keys == ("rf", "svr", "cart", "gbr", "extratrees", "linear_gbr", "auto")
    assert options.RESIDUAL_MODES.form_keys == ("constant", "none", "smooth", "atpk")
    assert options.EE_MODELS.form_keys == ("rf", "cart", "svr", "gbt")
    assert options.EE_RESIDUAL_MODES.form_keys == ("constant", "none", "smooth")
    assert options.EE_RESIDUAL_MODES.default_key == "smooth"
    assert options.CV_MODES.form_keys == ("spatial", "dates", "random")
    assert options.TRAINING_MODES.form_keys == ("coarse", "paper")
    assert options.DETAIL_MODES.form_keys == ("model", "contrast")
    assert options.MODELS.label("knn") == "knn"  # an unknown key is shown as it is


def test_a_form_order_that_misses_a_key_is_refused():
    with pytest.raises(ValueError, match="does not list the keys"):
        options.Choices({"a": "A", "b": "B"}, form=("a",))


def test_engine_and_earth_engine_mapping_read_the_registry():
    assert train.MODEL_TYPES == options.MODELS.keys
    assert train.MODEL_LABELS == options.MODEL_CHOICES.labels
    assert train.CV_MODES == options.CV_MODES.keys
    assert train.TRAINING_MODES == options.TRAINING_MODES.keys
    assert residual.RESIDUAL_MODES == options.RESIDUAL_MODES.keys
    assert server.MODEL_TYPES == options.EE_MODELS.keys
    assert server.RESIDUAL_MODES == options.EE_RESIDUAL_MODES.keys
    assert set(server.EE_FUNCTIONS) == set(options.EE_MODELS.keys)
    for func in (downscale.downscale, series.downscale_series):  # None: the registry's default, read at run time
        assert inspect.signature(func).parameters["detail"].default is None
    assert downscale.check_detail(None)[0] == options.DETAIL_MODES.default_key
    with pytest.raises(InputError, match="Unknown residual correction 'cubic'; use one of constant, smooth, none"):
        residual.check_mode("cubic")
    # one place names the defaults: the engine's signatures and the training request take them from the registry
    for func in (downscale.downscale, series.downscale_series):
        assert inspect.signature(func).parameters["residual"].default == options.RESIDUAL_MODES.default_key == "smooth"
        assert 'residual: str = "' not in inspect.getsource(func)
    request = train.TrainRequest(["a.tif"], ["b.tif"], "m.smdmodel")
    assert (request.cv_mode, request.training_mode) == (options.CV_MODES.default_key,
                                                       options.TRAINING_MODES.default_key) == ("spatial", "coarse")
    assert 'cv_mode: str = "' not in inspect.getsource(train.TrainRequest)


def _meta(model_type: str) -> dict:
    return {"model_type": model_type, "n_samples": 10, "dates": ["2023-06-01"],
            "factors": [{"name": "ndvi", "kind": "continuous", "classes": []}], "features": ["ndvi"],
            "params": {}, "cv": None}


@pytest.mark.parametrize("model_type", options.MODELS.keys)
def test_the_training_report_names_every_model_by_its_label(tmp_path, model_type):
    path = str(tmp_path / f"{model_type}.html")
    report.train_report(_meta(model_type), path)
    text = open(path, encoding="utf-8").read()
    label = report.esc(options.MODELS.label(model_type))
    model_row = re.search(r"<td>Model</td><td>(.*?)</td>", text)
    assert model_row is not None and model_row.group(1) == label, text[:2000]


def _model_list() -> str:
    """'a, b, ... or z': every local model of the registry, as the README intro and metadata.txt name them."""
    labels = [options.MODELS.label(k) for k in options.MODELS.keys]
    return ", ".join(labels[:-1]) + " or " + labels[-1]


def test_readme_intro_and_metadata_name_every_model_of_the_registry():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    intro = " ".join(readme.split("\n## ", 1)[0].split())  # before the first section, lines joined
    assert f"train {_model_list()} models;" in intro
    about = next(line for line in open(os.path.join(root, "metadata.txt"), encoding="utf-8")
                 if line.startswith("about="))
    assert f"trains {_model_list()} models at the SMAP scale" in about
