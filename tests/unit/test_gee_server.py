"""Server-side training, prediction and exports checked offline on their serialized Earth Engine graphs.

ee is initialized against the fake Earth Engine server on 127.0.0.1 (no request leaves the machine);
building and serializing expressions sends nothing to it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import ee
import pytest

from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.gee import auth, server
from smdownscale.algorithms.gee.expressions import time_steps
from smdownscale.algorithms.gee.request import Connection, DownscaleRequest
from smdownscale.algorithms.grids import EASE_CELL, EASE_X0, EASE_Y0
from smdownscale.algorithms.raster import Grid, srs_from_user
from smdownscale.tests.ee_graph import calls, graph
from smdownscale.tests.fake_ee import FakeEarthEngine
from smdownscale.tests.scenes import as_objects

EASE_TRANSFORM = [EASE_CELL, 0, EASE_X0, 0, -EASE_CELL, EASE_Y0]
STEPS = time_steps("2023-06-01", "2023-06-02", "daily")
EXTENT = (115.6, 41.7, 116.3, 42.2, "EPSG:4326")


@pytest.fixture(scope="module")
def fake():
    with FakeEarthEngine(project="graph-test") as server_:
        auth.initialize(project=server_.project, url=server_.url, force=True)
        yield server_


def _plan(area, start, end, step, factors, **kw):
    """server.plan_downscale with its request objects built from keywords (see scenes.as_objects)."""
    request, connection = as_objects(dict(area=area, start=start, end=end, step=step, factors=factors, **kw),
                                     DownscaleRequest, Connection)
    return server.plan_downscale(request, connection)


# -- serialized graph helpers -------------------------------------------------------------------

def fn(node: Any) -> str | None:
    return node.get("fn") if isinstance(node, dict) else None


def fine_grid(res: float = 1000.0) -> Grid:
    wkt = srs_from_user("EPSG:6933").ExportToWkt()
    return Grid(wkt, (11151000.0, res, 0.0, 4928000.0, 0.0, -res), 74, 64)


def coarse_region() -> ee.Geometry:
    return ee.Geometry.Rectangle([11150000.0, 4860000.0, 11225000.0, 4930000.0], "EPSG:6933", False)


def train(model_type: str, params: dict | None = None, factors=("ndvi", "lst_day"), samples: int | None = 500,
          seed: int = 7) -> server.TrainedModel:
    return server.build_training(coarse_region(), STEPS, list(factors), "L4", "sm_surface", fine_grid(), model_type,
                                 params, samples, seed)


# -- hyperparameter mapping (pure Python) -------------------------------------------------------

def test_random_forest_defaults_mirror_the_local_chain():
    from smdownscale.algorithms import train as local

    args = server.classifier_args("rf", None, 9, seed=3)
    assert args == {"numberOfTrees": 100, "minLeafPopulation": 2, "variablesPerSplit": 1, "bagFraction": 1.0,
                    "seed": 3}  # max_features 0.2 of 9 factors, as scikit-learn counts
    # the defaults are the local ones, in the local names
    for model in ("rf", "cart"):
        assert server.DEFAULT_PARAMS[model] == local.DEFAULT_PARAMS[model]
    assert server.DEFAULT_PARAMS["svr"]["C"] == local.DEFAULT_PARAMS["svr"]["C"]
    assert server.DEFAULT_PARAMS["svr"]["gamma"] == local.DEFAULT_PARAMS["svr"]["gamma"]


@pytest.mark.parametrize("model, params, n, expected", [
    ("rf", {"n_estimators": 250, "max_features": "sqrt", "min_samples_leaf": 4, "max_samples": 0.6,
            "max_leaf_nodes": 300}, 9,
     {"numberOfTrees": 250, "variablesPerSplit": 3, "minLeafPopulation": 4, "bagFraction": 0.6, "maxNodes": 300}),
    ("rf", {"max_features": 0.5}, 9, {"variablesPerSplit": 4}),
    ("rf", {"max_features": "log2"}, 9, {"variablesPerSplit": 3}),
    ("rf", {"max_features": 5, "max_depth": 6}, 9, {"variablesPerSplit": 5, "maxNodes": 64}),
    ("rf", {"numberOfTrees": 40, "variablesPerSplit": 2}, 9, {"numberOfTrees": 40, "variablesPerSplit": 2}),
    ("cart", None, 5, {"maxNodes": 4096, "minLeafPopulation": 5}),
    ("cart", {"max_leaf_nodes": 30}, 5, {"maxNodes": 30, "minLeafPopulation": 5}),
    ("cart", {"max_depth": 4, "max_leaf_nodes": 30}, 5, {"maxNodes": 16}),
    ("svr", None, 4, {"svmType": "NU_SVR", "kernelType": "RBF", "cost": 1.0, "nu": 0.5, "gamma": 0.25}),
    ("svr", {"C": 10.0, "gamma": 0.3, "nu": 0.2}, 4, {"cost": 10.0, "gamma": 0.3, "nu": 0.2}),
    ("gbt", None, 4, {"numberOfTrees": 100, "shrinkage": 0.1, "samplingRate": 0.7, "maxNodes": 8,
                      "loss": "LeastSquares"}),
    ("gbt", {"learning_rate": 0.05, "subsample": 0.5, "loss": "huber", "max_leaf_nodes": 20}, 4,
     {"shrinkage": 0.05, "samplingRate": 0.5, "loss": "Huber", "maxNodes": 20}),
])
def test_local_hyperparameters_map_to_earth_engine_arguments(model, params, n, expected):
    args = server.classifier_args(model, params, n, seed=0)
    assert {k: args[k] for k in expected} == expected
    assert ("seed" in args) == (model in ("rf", "gbt"))


@pytest.mark.parametrize("model, params, fragment", [
    ("svr", {"epsilon": 0.01}, "NU_SVR: it has no epsilon"),
    ("svr", {"kernel": "linear"}, "Only the RBF kernel"),
    ("rf", {"max_featurez": 3}, "has no parameter(s) max_featurez; valid ones are max_depth, max_features"),
    ("cart", {"n_estimators": 10}, "regression tree (CART) has no parameter(s) n_estimators"),
    ("rf", {"n_estimators": 0}, "n_estimators must be an integer >= 1"),
    ("rf", {"max_samples": 1.5}, "max_samples must be a number > 0 and <= 1"),
    ("rf", {"max_features": 12}, "max_features must be an integer >= 1 and <= 9"),
    ("svr", {"nu": 0}, "nu must be a number > 0 and <= 1"),
    ("gbt", {"loss": "quantile"}, "Unknown boosting loss 'quantile'"),
    ("knn", None, "Unknown model type 'knn'; choose one of rf, cart, svr, gbt"),
])
def test_bad_hyperparameters_are_named_with_the_fix(model, params, fragment):
    with pytest.raises(InputError) as err:
        server.classifier_args(model, params, 9)
    assert fragment in str(err.value)


def test_training_steps_are_spread_over_the_range():
    steps = time_steps("2023-06-01", "2023-06-10", "daily")
    picked = server.training_steps(steps, 4)
    assert [s[2] for s in picked] == ["20230601", "20230604", "20230607", "20230610"]
    assert server.training_steps(steps, None) == steps
    assert server.training_steps(steps, 50) == steps
    assert [s[2] for s in server.training_steps(steps, 1)] == ["20230606"]


def test_reduce_resolution_window_and_its_limit():
    assert server.reduce_max_pixels(1000.0) == (10 + 2) ** 2
    assert server.reduce_max_pixels(500.0) == (19 + 2) ** 2
    with pytest.raises(InputError, match="too fine for Earth Engine to average into SMAP's 9 km cells"):
        server.reduce_max_pixels(30.0)


def test_feature_names_expand_land_cover_classes():
    from smdownscale.algorithms.gee.catalog import load_catalog

    entries = load_catalog().factors(["ndvi", "landcover"])
    assert server.feature_names(entries) == ["ndvi"] + [f"landcover_{c}" for c in range(1, 18)]
    world = load_catalog().factors(["landcover"], {"landcover": "worldcover"})
    assert server.feature_names(world)[-2:] == ["landcover_95", "landcover_100"]


# -- training graphs ----------------------------------------------------------------------------

def test_random_forest_training_graph(fake):
    model = train("rf", {"n_estimators": 60, "min_samples_leaf": 3})
    tree = graph(model.classifier)
    assert fn(tree) == "Classifier.train"
    assert tree["args"]["classProperty"] == "target"
    assert tree["args"]["inputProperties"] == ["ndvi", "lst_day"]
    (mode,) = calls(tree, "Classifier.setOutputMode")
    assert mode["mode"] == "REGRESSION"
    assert fn(mode["classifier"]) == "Classifier.smileRandomForest"
    assert mode["classifier"]["args"] == {"numberOfTrees": 60, "minLeafPopulation": 3, "variablesPerSplit": 1,
                                          "bagFraction": 1.0, "seed": 7}  # max_features 0.2 of 2 factors
    # the fine factors averaged onto SMAP's EASE-Grid 2.0 9 km cells, reduced with a mean
    reduce = calls(tree, "Image.reduceResolution")
    assert reduce and all(fn(r["reducer"]) == "Reducer.mean" and r["maxPixels"] == 144 for r in reduce)
    for r in reduce:  # from the fine grid
        fine = r["image"]
        assert fn(fine) == "Image.reproject"
        assert fine["args"]["crs"]["args"]["transform"] == [1000.0, 0.0, 11151000.0, 0.0, -1000.0, 4928000.0]
    ease = [a for a in calls(tree, "Image.reproject") if a["crs"]["args"].get("transform") == EASE_TRANSFORM]
    assert any(fn(a["image"]) == "Image.reduceResolution" for a in ease)
    assert all(a["crs"]["args"]["crs"] == "EPSG:6933" for a in ease)
    # samples on the coarse grid, one seed per step, with geometries, merged over the steps
    samples = calls(tree, "Image.sample")
    assert len(samples) == 2
    assert sorted(s["seed"] for s in samples) == [7, 8]
    for s in samples:
        assert s["numPixels"] == 500 and s["geometries"] is True and s["dropNulls"] is True
        assert s["scale"] == EASE_CELL and s["projection"]["args"]["transform"] == EASE_TRANSFORM
        assert fn(s["image"]["args"]["input"]) == "Image.addBands"
    assert calls(tree, "Collection.flatten")
    # SMAP of each step on the SMAP grid is the target
    renames = [a["names"] for a in calls(tree, "Image.rename")]
    assert ["target"] in renames
    assert {a["id"] for a in calls(tree, "ImageCollection.load")} >= {"NASA/SMAP/SPL4SMGP/008", "MODIS/061/MOD13A2"}


def test_all_cells_when_samples_per_step_is_zero(fake):
    tree = graph(train("cart", samples=0).classifier)
    assert all("numPixels" not in s for s in calls(tree, "Image.sample"))
    (cart,) = calls(tree, "Classifier.smileCart")
    assert cart == {"maxNodes": 4096, "minLeafPopulation": 5}


def test_svr_trains_nu_svr_on_standardized_factors(fake):
    model = train("svr", {"C": 3.0, "nu": 0.4})
    tree = graph(model.classifier)
    (svm,) = calls(tree, "Classifier.libsvm")
    assert svm == {"svmType": "NU_SVR", "kernelType": "RBF", "cost": 3.0, "nu": 0.4, "gamma": 0.5}
    assert calls(tree, "Classifier.setOutputMode")[0]["mode"] == "REGRESSION"
    # mean and standard deviation of every feature over the training samples ...
    stats = calls(tree, "Collection.reduceColumns")[0]
    assert all(other == stats for other in calls(tree, "Collection.reduceColumns"))  # one computation, shared
    assert stats["selectors"] == ["ndvi", "lst_day"]
    assert fn(stats["reducer"]) == "Reducer.combine"
    assert {fn(stats["reducer"]["args"]["reducer1"]["args"]["reducer"]),
            fn(stats["reducer"]["args"]["reducer2"]["args"]["reducer"])} == {"Reducer.mean", "Reducer.stdDev"}
    # ... subtracted and divided out of every training feature
    assert calls(tree, "Array.subtract") and calls(tree, "Array.divide")
    assert model.scaling is not None


def test_gradient_tree_boost_and_land_cover_fractions(fake):
    model = train("gbt", {"n_estimators": 30}, factors=("ndvi", "landcover"))
    tree = graph(model.classifier)
    (gbt,) = calls(tree, "Classifier.smileGradientTreeBoost")
    assert gbt == {"numberOfTrees": 30, "shrinkage": 0.1, "samplingRate": 0.7, "maxNodes": 8, "loss": "LeastSquares",
                   "seed": 7}
    assert tree["args"]["inputProperties"] == ["ndvi"] + [f"landcover_{c}" for c in range(1, 18)]
    # every class is a 0/1 band of the fine grid (averaged into class fractions with the other features)
    classes = {a["image2"]["args"]["value"] for a in calls(tree, "Image.eq")
               if fn(a["image2"]) == "Image.constant"}
    assert set(range(1, 18)) <= classes


# -- prediction graphs --------------------------------------------------------------------------

def _step_images(model):
    from smdownscale.algorithms.gee.expressions import BuildOptions, build_smap, build_stack

    s0, s1, _ = STEPS[0]
    options = BuildOptions(fine_crs="EPSG:6933", fine_scale=1000.0)
    stack = build_stack(model.entries, s0, s1, coarse_region(), options)
    smap = build_smap("L4", "sm_surface", s0, s1, coarse_region())
    return stack, smap


def test_prediction_with_constant_residual_correction_and_clamp(fake):
    model = train("rf")
    stack, smap = _step_images(model)
    tree = graph(server.build_prediction(model, stack, smap, "constant", (0.02, 0.55), fine_grid()))
    assert fn(tree) == "Image.toFloat"
    top = tree["args"]["value"]
    assert fn(top) == "Image.rename" and top["args"]["names"] == ["soil_moisture"]
    clamp = top["args"]["input"]
    assert fn(clamp) == "Image.clamp" and clamp["args"]["low"] == 0.02 and clamp["args"]["high"] == 0.55
    added = clamp["args"]["input"]
    assert fn(added) == "Image.add"
    prediction = added["args"]["image1"]
    assert fn(prediction) == "Image.toFloat"
    classify = prediction["args"]["value"]
    assert fn(classify) == "Image.classify" and classify["args"]["outputName"] == "soil_moisture"
    assert fn(classify["args"]["classifier"]) == "Classifier.train"
    # residual = SMAP - coarse mean of the fine prediction, on the SMAP grid ...
    spread = added["args"]["image2"]
    assert fn(spread) == "Image.unmask" and spread["args"]["sameFootprint"] is False
    assert spread["args"]["value"] == {"fn": "Image.constant", "args": {"value": 0}}
    to_fine = spread["args"]["input"]
    assert fn(to_fine) == "Image.reproject"  # ... spread back to the fine grid, nearest neighbour (constant per cell)
    assert to_fine["args"]["crs"]["args"]["transform"] == [1000.0, 0.0, 11151000.0, 0.0, -1000.0, 4928000.0]
    assert "resamplingMethod" not in to_fine["args"]
    resid = to_fine["args"]["image"]
    assert fn(resid) == "Image.subtract"
    smap_cells, cell_mean = resid["args"]["image1"], resid["args"]["image2"]
    assert fn(smap_cells) == "Image.rename"
    assert smap_cells["args"]["input"]["args"]["crs"]["args"]["transform"] == EASE_TRANSFORM
    assert fn(cell_mean) == "Image.reproject" and cell_mean["args"]["crs"]["args"]["transform"] == EASE_TRANSFORM
    reduce = cell_mean["args"]["image"]
    assert fn(reduce) == "Image.reduceResolution" and fn(reduce["args"]["reducer"]) == "Reducer.mean"
    assert reduce["args"]["image"]["args"]["image"] == prediction  # the mean of this very prediction


def test_prediction_without_residual_correction(fake):
    model = train("cart")
    stack, _ = _step_images(model)
    tree = graph(server.build_prediction(model, stack, None, "none", (0.0, 0.6), fine_grid()))
    assert not calls(tree, "Image.add")
    clamp = tree["args"]["value"]["args"]["input"]
    assert fn(clamp) == "Image.clamp" and fn(clamp["args"]["input"]["args"]["value"]) == "Image.classify"
    # the only reduceResolution calls are the training's (inside the classifier)
    classifier = calls(tree, "Image.classify")[0]["classifier"]
    assert len(calls(tree, "Image.reduceResolution")) == len(calls(classifier, "Image.reduceResolution"))


def test_svr_prediction_standardizes_the_fine_factors(fake):
    model = train("svr")
    stack, smap = _step_images(model)
    tree = graph(server.build_prediction(model, stack, smap, "none", None, fine_grid()))
    classify = calls(tree, "Image.classify")[0]
    scaled = classify["image"]["args"]["image"]  # reproject(divide(subtract(features, means), sds))
    assert fn(scaled) == "Image.divide" and fn(scaled["args"]["image1"]) == "Image.subtract"
    assert not calls(tree, "Image.clamp")


def test_prediction_input_errors(fake):
    model = train("rf")
    stack, smap = _step_images(model)
    with pytest.raises(InputError, match="Unknown residual correction 'cubic'; use one of constant, none, smooth"):
        server.build_prediction(model, stack, smap, "cubic")
    with pytest.raises(InputError, match="Residual correction needs SMAP of the same time step"):
        server.build_prediction(model, stack, None, "constant")
    with pytest.raises(InputError, match="clip range 0.5..0.1 is empty"):
        server.build_prediction(model, stack, smap, "none", (0.5, 0.1))


# -- exports ------------------------------------------------------------------------------------

def _request(config) -> dict:
    task = config.make_task()
    body = dict(task.config)
    body["expression"] = graph(json.loads(ee.serializer.toJSON(body["expression"])))
    return body


def test_drive_exports_one_per_date_on_the_fine_grid(fake):
    grid = fine_grid()
    images = [(label, ee.Image.constant(0.2).rename(["soil_moisture"])) for _, _, label in STEPS]
    configs = server.build_exports(images, "drive", "smd_maps", grid, request_fingerprint="abc")
    assert [c.description for c in configs] == ["smdownscale soil_moisture_20230601",
                                                "smdownscale soil_moisture_20230602"]
    assert [c.date for c in configs] == ["2023-06-01", "2023-06-02"]
    assert len({c.fingerprint for c in configs}) == 2
    for config, (_, _, label) in zip(configs, STEPS):
        body = _request(config)
        assert body["fileExportOptions"] == {"fileFormat": "GEO_TIFF", "driveDestination": {
            "folder": "smd_maps", "filenamePrefix": f"soil_moisture_{label}"}}
        assert body["maxPixels"] == {"value": "10000000000000"}
        expr = body["expression"]
        assert fn(expr) == "Image.clip"  # region: the fine grid's extent, planar, in its CRS
        region = expr["args"]["geometry"]
        assert region["args"]["coordinates"] == [11151000.0, 4864000.0, 11225000.0, 4928000.0]
        assert region["args"]["crs"]["args"]["crs"] == "EPSG:6933" and region["args"]["geodesic"] is False
        proj = expr["args"]["input"]  # crs and crsTransform: exactly the fine grid
        assert fn(proj) == "Image.reproject" and proj["args"]["crs"]["args"]["crs"] == "EPSG:6933"
        assert proj["args"]["crsTransform"] == [1000.0, 0.0, 11151000.0, 0.0, -1000.0, 4928000.0]
        unmask = proj["args"]["image"]  # masked pixels written as nodata
        assert fn(unmask) == "Image.unmask" and unmask["args"]["value"]["args"]["value"] == -9999.0


def test_cloud_storage_and_asset_exports(fake):
    grid = fine_grid()
    images = [("20230601", ee.Image.constant(0.2).rename(["soil_moisture"]))]
    (gcs,) = server.build_exports(images, "gcs", "my-bucket/smd/run1", grid, max_pixels=5e9)
    assert (gcs.target, gcs.file_prefix) == ("my-bucket", "smd/run1/soil_moisture_20230601")
    body = _request(gcs)
    assert body["fileExportOptions"]["cloudStorageDestination"] == {
        "bucket": "my-bucket", "filenamePrefix": "smd/run1/soil_moisture_20230601"}
    assert body["maxPixels"] == {"value": "5000000000"}
    (asset,) = server.build_exports(images, "asset", "projects/my-project/assets/smd", grid)
    body = _request(asset)
    assert asset.file_prefix == "projects/my-project/assets/smd/soil_moisture_20230601"
    assert body["assetExportOptions"]["earthEngineDestination"]["name"] == asset.file_prefix
    assert body["assetExportOptions"]["pyramidingPolicy"] == "MEAN"
    assert not calls(body["expression"], "Image.unmask")  # assets keep the mask
    with pytest.raises(InputError, match="needs a bucket name"):
        server.build_exports(images, "gcs", "", grid)
    with pytest.raises(InputError, match="needs an asset folder"):
        server.build_exports(images, "asset", None, grid)
    with pytest.raises(InputError, match="Unknown export destination 'ftp'"):
        server.build_exports(images, "ftp", "x", grid)


def test_classifier_saved_as_asset_and_reused(fake):
    model = train("rf")
    config = server.classifier_export(model, "projects/my-project/assets/smd_rf")
    assert (config.kind, config.destination) == ("classifier", "asset")
    assert config.target == "projects/my-project/assets/smd_rf"
    task = config.make_task()
    assert task.task_type == "EXPORT_CLASSIFIER"
    assert task.config["assetExportOptions"]["earthEngineDestination"]["name"] == "projects/my-project/assets/smd_rf"
    assert fn(graph(task.config["expression"])) == "Classifier.train"
    with pytest.raises(InputError, match="only random forest and CART classifiers"):
        server.classifier_export(train("gbt"), "projects/my-project/assets/x")
    loaded = server.load_model("projects/my-project/assets/smd_rf", ["ndvi", "lst_day"])
    tree = graph(loaded.classifier)
    assert tree["args"]["mode"] == "REGRESSION"
    assert calls(tree, "Classifier.load") == [{"id": "projects/my-project/assets/smd_rf"}]
    stack, smap = _step_images(loaded)
    pred = graph(server.build_prediction(loaded, stack, smap, "constant", (0.0, 0.6), fine_grid()))
    assert {c["id"] for c in calls(pred, "Classifier.load")} == {"projects/my-project/assets/smd_rf"}
    assert not calls(pred, "Image.sample")  # no training in the graph


def test_gap_free_prediction_graph(fake):
    model = train("rf")
    stack, smap = _step_images(model)
    tree = graph(server.build_prediction(model, stack, smap, "smooth", (0.02, 0.55), fine_grid(), fill=True))
    assert fn(tree) == "Image.addBands"
    sm, quality = tree["args"]["dstImg"], tree["args"]["srcImg"]
    # band 1: the clamped soil moisture; where the corrected prediction is still masked, the SMAP cell's value
    clamp = sm["args"]["value"]["args"]["input"]
    assert fn(clamp) == "Image.clamp"
    filled = clamp["args"]["input"]
    assert fn(filled) == "Image.unmask" and filled["args"]["sameFootprint"] is False
    corrected, coarse = filled["args"]["input"], filled["args"]["value"]
    assert fn(corrected) == "Image.add" and fn(coarse) == "Image.reproject"
    assert coarse["args"]["crs"]["args"]["transform"] == [1000.0, 0.0, 11151000.0, 0.0, -1000.0, 4928000.0]
    assert fn(coarse["args"]["image"]) == "Image.rename"  # SMAP on its own cells, spread to the fine grid
    # the model predicts from the filled factors: each one unmasked with the bilinear surface of its cell means
    classify = calls(tree, "Image.classify")[0]
    features = classify["image"]["args"]["image"]
    assert fn(features) == "Image.unmask" and features["args"]["sameFootprint"] is False
    surface = features["args"]["value"]
    assert fn(surface) == "Image.divide"
    for spread in (surface["args"]["image1"], surface["args"]["image2"]):
        assert fn(spread) == "Image.reproject" and fn(spread["args"]["image"]) == "Image.resample"
        assert spread["args"]["image"]["args"]["mode"] == "bilinear"
        assert spread["args"]["image"]["args"]["image"]["args"]["crs"]["args"]["transform"] == EASE_TRANSFORM
    # smooth correction: the knots corrected in SMOOTH_ROUNDS rounds, each a bilinear spread and a cell mean
    resamples = calls(corrected, "Image.resample")
    assert {r["mode"] for r in resamples} == {"bilinear"}
    reduce = [r for r in calls(corrected, "Image.reduceResolution") if fn(r["reducer"]) == "Reducer.mean"]
    assert len({json.dumps(r, sort_keys=True) for r in reduce}) >= server.SMOOTH_ROUNDS + 2
    # band 2: 'quality' with the local codes, 0 where there is no value
    assert fn(quality) == "Image.toFloat" and quality["args"]["value"]["args"]["names"] == ["quality"]
    nodata = quality["args"]["value"]["args"]["input"]
    assert fn(nodata) == "Image.unmask" and nodata["args"]["value"] == {"fn": "Image.constant", "args": {"value": 0}}
    codes = {w["value"]["args"]["value"] for w in calls(quality, "Image.where")}
    assert codes == {1, 2, 3}
    # without residual correction (no SMAP): gaps are filled all the same, no coarse-field fallback
    plain = graph(server.build_prediction(model, stack, None, "none", (0.0, 0.6), fine_grid(), fill=True))
    assert fn(plain) == "Image.addBands" and calls(plain, "Image.resample")
    assert not calls(plain["args"]["dstImg"], "Image.add")


@pytest.mark.parametrize("model_type", ["rf", "svr"])
@pytest.mark.parametrize("mode", ["smooth", "constant", "none"])
def test_every_prediction_call_is_a_published_earth_engine_algorithm(fake, model_type, mode):
    """Every function and argument of the prediction graph exists with that signature in Earth Engine's
    algorithms.json (the copy shipped with earthengine-api; the fake refuses the others as the service does)."""
    from smdownscale.tests.fake_ee import signature_errors, signatures

    model = train(model_type)
    stack, smap = _step_images(model)
    image = server.build_prediction(model, stack, smap if mode != "none" else None, mode, (0.0, 0.6), fine_grid(),
                                    fill=True)
    expression = json.loads(image.serialize(for_cloud_api=True))
    assert signature_errors(expression) == []
    used = {c["fn"] for c in _all_calls(graph(expression))} - {"<arg>", "<lambda>"}
    assert {"Image.resample", "Image.reduce", "Image.where", "Image.not", "Image.max"} & used
    assert used <= set(signatures())
    # the check itself refuses what Earth Engine would
    bad = json.loads(json.dumps(expression))
    _rename_argument(bad, "Image.resample", "mode", "method")
    assert "Image.resample: unknown argument 'method'." in signature_errors(bad)


def _rename_argument(node, function, old, new):
    if isinstance(node, dict):
        call = node.get("functionInvocationValue")
        if call and call.get("functionName") == function and old in call.get("arguments", {}):
            call["arguments"][new] = call["arguments"].pop(old)
        for v in node.values():
            _rename_argument(v, function, old, new)
    elif isinstance(node, list):
        for v in node:
            _rename_argument(v, function, old, new)


def _all_calls(tree):
    found = []
    if isinstance(tree, dict):
        if "fn" in tree:
            found.append(tree)
            tree = tree.get("args", {})
        for v in tree.values():
            found += _all_calls(v)
    elif isinstance(tree, list):
        for v in tree:
            found += _all_calls(v)
    return found


# -- the whole plan -----------------------------------------------------------------------------

def test_plan_builds_one_export_per_date_plus_the_classifier(fake):
    plan = _plan(EXTENT, "2023-06-01", "2023-06-03", "daily", ["ndvi", "landcover"],
                 model_type="rf", params={"n_estimators": 50}, destination="gcs",
                 destination_path="bucket", save_classifier_asset="projects/my-project/assets/rf1",
                 max_training_steps=2, project=fake.project, url=fake.url)
    assert [c.kind for c in plan.configs] == ["classifier", "image", "image", "image"]
    assert [c.date for c in plan.configs[1:]] == ["2023-06-01", "2023-06-02", "2023-06-03"]
    assert (plan.fine_grid.width, plan.fine_grid.height, plan.fine_grid.res) == (69, 48, (1000.0, 1000.0))
    # SMAP's own cells (the fake's asset grid: 0.1 degree), 115.6-116.3 E x 41.7-42.2 N
    assert (plan.coarse_grid.width, plan.coarse_grid.height) == (7, 5)
    own = [0.1, 0.0, 115.6, 0.0, -0.1, 42.2]
    tree = graph(plan.trained.classifier)
    on_own = [a for a in calls(tree, "Image.reproject") if a["crs"]["args"].get("transform") == own]
    assert any(fn(a["image"]) == "Image.reduceResolution" for a in on_own)  # factors averaged onto SMAP's cells
    (sample,) = calls(tree, "Image.sample")[:1]
    assert sample["projection"]["args"] == {"crs": "EPSG:4326", "transform": own} and "scale" not in sample
    # a 0.1 degree cell is about 9.6 km x 9.5 km in EPSG:6933 here: 10 fine pixels per side, plus the edges
    assert {a["image"]["args"]["maxPixels"] for a in on_own if fn(a["image"]) == "Image.reduceResolution"} == {144}
    assert plan.request["training_steps"] == ["20230601", "20230603"]
    assert plan.request["ee_classifier_args"]["numberOfTrees"] == 50
    assert plan.model.features == ["ndvi"] + [f"landcover_{c}" for c in range(1, 18)]
    # train once: the exports load the saved classifier and start after its task
    assert plan.model.asset_id == "projects/my-project/assets/rf1"
    assert all(c.after == plan.configs[0].description for c in plan.configs[1:])
    export_tree = graph(plan.configs[1].export_kwargs["image"])
    assert {a["id"] for a in calls(export_tree, "Classifier.load")} == {"projects/my-project/assets/rf1"}
    assert not calls(export_tree, "Classifier.train") and not calls(export_tree, "Image.sample")
    # residual correction on: the coarse-field fallback and its quality band are in every export
    assert [a["names"] for a in calls(export_tree, "Image.rename") if a["names"] == ["quality"]] == [["quality"]]
    assert plan.request["training"] == {"once": True, "steps": 2, "samples": 2 * 35, "runs": 1}
    # a changed request gives new fingerprints; the same request the same ones
    again = _plan(EXTENT, "2023-06-01", "2023-06-03", "daily", ["ndvi", "landcover"],
                  model_type="rf", params={"n_estimators": 50}, destination="gcs",
                  destination_path="bucket", save_classifier_asset="projects/my-project/assets/rf1",
                  max_training_steps=2, project=fake.project, url=fake.url)
    assert [c.fingerprint for c in again.configs] == [c.fingerprint for c in plan.configs]
    other = _plan(EXTENT, "2023-06-01", "2023-06-03", "daily", ["ndvi", "landcover"],
                  model_type="rf", params={"n_estimators": 60}, destination="gcs",
                  destination_path="bucket", max_training_steps=2, project=fake.project, url=fake.url)
    assert not {c.fingerprint for c in other.configs} & {c.fingerprint for c in plan.configs}
    # each daily export carries the prediction of its own date
    body = _request(plan.configs[2])
    dates = {(a["leftValue"]["args"]["start"], a["leftValue"]["args"]["end"])
             for a in calls(body["expression"], "Filter.dateRangeContains")}
    assert ("2023-06-02", "2023-06-03") in dates


@pytest.mark.parametrize("kwargs, fragment", [
    ({"model_type": "svr", "params": {"epsilon": 0.1}}, "NU_SVR: it has no epsilon"),
    ({"model_type": "svr", "save_classifier_asset": "projects/my-project/assets/x"}, "only random forest and CART"),
    ({"classifier_asset": "projects/my-project/assets/a", "save_classifier_asset": "projects/my-project/assets/b"},
     "leave 'save classifier as asset' empty"),
    ({"destination": "gcs"}, "needs a bucket name"),
    ({"fine_resolution": 20000.0}, "is not finer than SMAP's cells"),
    ({"fine_resolution": 20.0}, "too fine for Earth Engine to average"),
    ({"residual": "bilinear"}, "Unknown residual correction 'bilinear'"),
    ({"area": (25.0, 61.5, 26.0, 62.5, "EPSG:4326"), "factors": ["ndvi", "elevation"]},
     "The factor elevation comes from USGS/SRTMGL1_003, which covers latitudes 56 S to 60 N only; the area (61.5 N to "
     "62.5 N) lies outside it, so the factor would be empty on every step. Choose another area, or leave elevation "
     "out."),
    ({"start": dt.date(2015, 1, 1)}, "starts on 2015-03-31: Earth Engine has no SMAP data for 2015-01-01. Choose a "
                                     "start date on or after 2015-03-31."),
])
def test_plan_input_errors_send_nothing(kwargs, fragment):
    with FakeEarthEngine() as fake_:
        args = {"project": fake_.project, "url": fake_.url, **kwargs}
        with pytest.raises(InputError) as err:
            start = args.pop("start", dt.date(2023, 6, 1))
            area, factors = args.pop("area", EXTENT), args.pop("factors", ["ndvi"])
            _plan(area, start, dt.date(2023, 6, 2), "daily", factors, **args)
        assert fragment in str(err.value)
        assert not [r for r in fake_.requests if r.endpoint not in ("discovery", "algorithms")]


def test_plan_takes_a_polygon_area_in_another_crs(fake):
    polygon = {"type": "Polygon", "coordinates": [[[450000, 4620000], [470000, 4620000], [460000, 4650000],
                                                   [450000, 4620000]]]}
    plan = _plan(polygon, "2023-06-01", "2023-06-01", "daily", ["ndvi"], area_crs="EPSG:32650",
                 destination="asset", destination_path="projects/my-project/assets/smd",
                 project=fake.project, url=fake.url)
    assert plan.request["area"] == {"bbox": [450000.0, 4620000.0, 470000.0, 4650000.0], "crs": "EPSG:32650"}
    trained, config = plan.configs  # random forest: the classifier saved next to the maps, then the map
    assert trained.kind == "classifier"
    assert trained.file_prefix.startswith("projects/my-project/assets/smd/smdownscale_classifier_")
    assert config.file_prefix == "projects/my-project/assets/smd/soil_moisture_20230601"
    # the fine grid covers whole SMAP cells around the polygon, edges on whole kilometres
    x0, res, _, y0, _, _ = plan.fine_grid.transform
    assert res == 1000.0 and x0 % 1000 == 0 and y0 % 1000 == 0
    # SMAP's own grid as the asset reports it (the fake: EPSG:4326, 0.1 degree); the fine grid covers its cells
    assert plan.coarse_grid.transform == (116.3, 0.1, 0.0, 42.1, 0.0, -0.1)
    assert plan.request["smap_grid"]["crs"] == "EPSG:4326"
    xmin, ymin, xmax, ymax = plan.coarse_grid.extent_in(plan.fine_grid.crs_wkt)
    fxmin, fymin, fxmax, fymax = plan.fine_grid.extent
    assert fxmin <= xmin < fxmin + 1000 and fxmax - 1000 < xmax <= fxmax
    assert fymin <= ymin < fymin + 1000 and fymax - 1000 < ymax <= fymax
