"""smdownscale:downscalegee through processing.run against the fake Earth Engine server on 127.0.0.1, and the
task manager monitor."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsApplication, QgsProcessingException, QgsProcessingFeedback, QgsSettings, QgsTask

from smdownscale.processing_provider import gee_tasks
from smdownscale.processing_provider.algs.downscalegee import DownscaleGeeAlgorithm as G
from smdownscale.tests.ee_graph import calls, graph
from smdownscale.tests.fake_ee import FakeEarthEngine
from smdownscale.tests.fake_gcs import FakeGcs, tif_bytes
from smdownscale.tests.scenes import export_configs

EXTENT = "115.6,116.3,41.7,42.2 [EPSG:4326]"


@pytest.fixture
def fake(monkeypatch, plugin):
    with FakeEarthEngine(project="test-project") as server:
        monkeypatch.setenv("SMDOWNSCALE_EE_URL", server.url)
        monkeypatch.delenv("SMDOWNSCALE_EE_PROJECT", raising=False)
        monkeypatch.delenv("EARTHENGINE_PROJECT", raising=False)
        QgsSettings().remove("smdownscale")
        yield server
        QgsSettings().remove("smdownscale")


def _params(tmp_path, **kw):
    params = {G.EXTENT: EXTENT, G.START_DATE: "2023-06-01", G.END_DATE: "2023-06-03", G.TIME_STEP: 0,
              G.FACTORS: ["ndvi", "lst_day"], G.PROJECT: "test-project", G.BATCH_SIZE: 2, G.POLL_INTERVAL: 0.1,
              G.DESTINATION_PATH: "smd_maps", G.OUTPUT_MANIFEST: str(tmp_path / "tasks.json")}
    params.update(kw)
    return params


def _manifest(path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _expression(request) -> dict:
    return graph(request.body["expression"])


def test_wait_writes_the_manifest_with_task_ids_and_states(run, fake, tmp_path):
    res = run("smdownscale:downscalegee", _params(tmp_path, **{G.N_TREES: 40, G.MIN_LEAF: 3}))
    # train once: one classifier task (saved as an asset), then three exports that load it
    assert (res[G.N_TASKS], res[G.N_COMPLETED], res[G.N_FAILED], res[G.N_PENDING]) == (4, 4, 0, 0)
    assert res[G.OUTPUT_MANIFEST] == str(tmp_path / "tasks.json")
    doc = _manifest(res[G.OUTPUT_MANIFEST])
    assert [t["state"] for t in doc["tasks"]] == ["COMPLETED"] * 4
    assert [t["date"] for t in doc["tasks"]] == [None, "2023-06-01", "2023-06-02", "2023-06-03"]
    assert [t["step"] for t in doc["tasks"]] == ["training", "prediction", "prediction", "prediction"]
    asset = doc["tasks"][0]["file_prefix"]
    assert asset.startswith("projects/test-project/assets/smdownscale_classifier_")
    assert all(t["after"] == doc["tasks"][0]["description"] for t in doc["tasks"][1:])
    assert doc["request"]["training"]["runs"] == 1
    ids = res[G.TASK_IDS].split(";")
    assert ids == [t["task_id"] for t in doc["tasks"]]
    assert {f"projects/test-project/operations/{i}" for i in ids} == set(fake.operations)
    assert doc["project"] == "test-project" and doc["request"]["ee_classifier_args"]["numberOfTrees"] == 40
    exports = fake.requests_to("export")
    assert [r.body["fileExportOptions"]["driveDestination"] for r in exports] == [
        {"folder": "smd_maps", "filenamePrefix": f"soil_moisture_2023060{d}"} for d in (1, 2, 3)]
    tree = _expression(exports[0])
    assert not calls(tree, "Classifier.smileRandomForest") and not calls(tree, "Image.sample")  # no training
    assert {a["id"] for a in calls(tree, "Classifier.load")} == {asset}
    (trained,) = fake.requests_to("classifierExport")
    (rf,) = {json.dumps(a, sort_keys=True) for a in calls(_expression(trained), "Classifier.smileRandomForest")}
    assert json.loads(rf) == {"numberOfTrees": 40, "minLeafPopulation": 3, "variablesPerSplit": 1, "bagFraction": 1.0,
                              "seed": 0}  # max_features 0.2 (the local default) of 2 factors
    assert {a["mode"] for a in calls(tree, "Classifier.setOutputMode")} == {"REGRESSION"}
    assert {(a["low"], a["high"]) for a in calls(tree, "Image.clamp")} == {(0.0, 0.6)}
    text = open(res[G.OUTPUT_MANIFEST], encoding="utf-8").read()
    assert "ya29." not in text and "access_token" not in text


def test_no_wait_returns_after_the_first_batch_and_the_task_manager_finishes(run, fake, tmp_path):
    params = _params(tmp_path, **{G.WAIT: False, G.MODEL_TYPE: 2, G.SVR_COST: 5.0, G.SVR_NU: 0.3,
                                  G.RESIDUAL_CORRECTION: 1})
    res = run("smdownscale:downscalegee", params)
    assert (res[G.N_TASKS], res[G.N_COMPLETED], res[G.N_PENDING]) == (3, 0, 3)
    assert [t["state"] for t in _manifest(res[G.OUTPUT_MANIFEST])["tasks"]] == ["READY", "READY", "UNSUBMITTED"]
    tree = _expression(fake.requests_to("export")[0])
    assert {json.dumps(a, sort_keys=True) for a in calls(tree, "Classifier.libsvm")} == {json.dumps(
        {"svmType": "NU_SVR", "kernelType": "RBF", "cost": 5.0, "nu": 0.3, "gamma": 0.5}, sort_keys=True)}
    assert not calls(tree, "Image.add")  # residual correction off
    monitors = [t for t in gee_tasks._running if t.manifest_path == res[G.OUTPUT_MANIFEST]]
    assert len(monitors) == 1
    task = monitors[0]
    deadline = time.monotonic() + 60
    while task.status() not in (QgsTask.TaskStatus.Complete, QgsTask.TaskStatus.Terminated):
        assert time.monotonic() < deadline, "the monitor task did not finish"
        QgsApplication.processEvents()
        time.sleep(0.02)
    assert task.status() == QgsTask.TaskStatus.Complete, task.error
    assert [t["state"] for t in _manifest(res[G.OUTPUT_MANIFEST])["tasks"]] == ["COMPLETED"] * 3
    assert len(fake.requests_to("export")) == 3  # the two running ones followed, the third started once


def test_failed_tasks_fail_the_run_with_earth_engines_message(run, fake, tmp_path):
    fake.task_states = ["PENDING", "RUNNING", "FAILED"]
    fake.task_error = "Asset projects/test-project/assets/x already exists."
    with pytest.raises(QgsProcessingException) as err:
        run("smdownscale:downscalegee", _params(tmp_path, **{G.END_DATE: "2023-06-01"}))
    assert "2 of 2 Earth Engine task(s) did not complete: smdownscale classifier smdownscale_classifier_" \
           in str(err.value)
    assert ": FAILED: Asset projects/test-project/assets/x already exists." in str(err.value)
    tasks_ = _manifest(tmp_path / "tasks.json")["tasks"]
    assert [t["state"] for t in tasks_] == ["FAILED", "FAILED"]
    assert tasks_[1]["error"].startswith("Not started: smdownscale classifier") and tasks_[1]["submissions"] == 0
    assert not fake.requests_to("export")  # the export waiting for the classifier was never started
    # run again with the same manifest once the cause is fixed: the failed tasks are submitted again
    fake.task_states = ["PENDING", "RUNNING", "SUCCEEDED"]
    res = run("smdownscale:downscalegee", _params(tmp_path, **{G.END_DATE: "2023-06-01"}))
    assert res[G.N_COMPLETED] == 2 and len(fake.requests_to("export")) == 1
    assert len(fake.requests_to("classifierExport")) == 2
    assert _manifest(tmp_path / "tasks.json")["tasks"][0]["submissions"] == 2


class CancelAfterTwoStarts(QgsProcessingFeedback):
    def __init__(self, fake):
        super().__init__()
        self.fake = fake

    def isCanceled(self):
        return len(self.fake.requests_to("export")) >= 2


def test_cancel_in_qgis_cancels_the_earth_engine_tasks(run, fake, tmp_path):
    fake.task_states = ["PENDING"] + ["RUNNING"] * 20 + ["SUCCEEDED"]
    with pytest.raises(QgsProcessingException, match="Canceled"):
        run("smdownscale:downscalegee", _params(tmp_path, **{G.CLASSIFIER_ASSET: "projects/test-project/assets/rf"}),
            feedback=CancelAfterTwoStarts(fake))
    assert sorted(r.path.split("/", 2)[2][: -len(":cancel")] for r in fake.requests_to("cancel")) == \
        sorted(fake.operations)
    assert len(fake.operations) == 2 and all(op.canceled for op in fake.operations.values())
    assert [t["state"] for t in _manifest(tmp_path / "tasks.json")["tasks"]] == ["CANCELLED", "CANCELLED",
                                                                                  "UNSUBMITTED"]


def test_monitor_task_cancel_cancels_the_earth_engine_tasks(fake, tmp_path, plugin):
    from smdownscale.algorithms.gee import auth

    auth.initialize(project=fake.project, url=fake.url, force=True)
    fake.task_states = ["PENDING"] + ["RUNNING"] * 500 + ["SUCCEEDED"]
    path = str(tmp_path / "monitor.json")
    task = gee_tasks.start_monitor(export_configs(3), path, 2, poll_interval=0.05)
    deadline = time.monotonic() + 30
    while len(fake.operations) < 2:
        assert time.monotonic() < deadline
        QgsApplication.processEvents()
        time.sleep(0.02)
    task.cancel()
    while task.status() not in (QgsTask.TaskStatus.Complete, QgsTask.TaskStatus.Terminated):
        assert time.monotonic() < deadline
        QgsApplication.processEvents()
        time.sleep(0.02)
    assert task.status() == QgsTask.TaskStatus.Terminated
    assert "were canceled on Earth Engine" in task.error
    assert len(fake.requests_to("cancel")) == 2 and all(op.canceled for op in fake.operations.values())
    assert [t["state"] for t in _manifest(path)["tasks"]] == ["CANCELLED", "CANCELLED", "UNSUBMITTED"]


def test_cloud_storage_results_are_downloaded(run, fake, tmp_path, monkeypatch):
    values = np.full((64, 74), 0.27, dtype=np.float32)
    quality = np.where(np.arange(74) < 10, 3.0, 1.0)[None].repeat(64, axis=0).astype(np.float32)
    quality[:5] = 2.0
    # the exports hold the soil moisture and each pixel's path (the local quality codes)
    gcs = FakeGcs({("bkt", f"run/soil_moisture_2023060{d}.tif"): tif_bytes(np.stack([values, quality]),
                                                                            11151000.0, 4928000.0)
                   for d in (1, 2)})
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
    try:
        res = run("smdownscale:downscalegee", _params(tmp_path, **{
            G.END_DATE: "2023-06-02", G.DESTINATION: 1, G.DESTINATION_PATH: "bkt/run",
            G.DOWNLOAD_FOLDER: str(tmp_path / "maps")}))
    finally:
        gcs.close()
    paths = res[G.DOWNLOADED].split(";")
    assert [os.path.basename(p) for p in paths] == ["soil_moisture_20230601.tif", "soil_moisture_20230602.tif"]
    ds = gdal.Open(paths[1])
    assert ds.GetRasterBand(1).GetDescription() == "soil_moisture" and ds.GetMetadataItem("SMD_DATE") == "2023-06-02"
    assert ds.GetRasterBand(2).GetDescription() == "quality"
    assert ds.GetRasterBand(2).GetMetadataItem("SMD_QUALITY_CLASSES") == (
        "0 no value; 1 all factors observed; 2 missing factors filled from their coarse-cell mean; 3 coarse field "
        "only (no factor observed)")
    np.testing.assert_allclose(ds.ReadAsArray(), np.stack([values, quality]))
    assert [t["files"] for t in _manifest(tmp_path / "tasks.json")["tasks"] if t["kind"] == "image"] == \
        [[p] for p in paths]


@pytest.mark.parametrize("extra, fragment", [
    ({G.MODEL_TYPE: 2, G.SAVE_CLASSIFIER_ASSET: "projects/test-project/assets/svr"},
     "Earth Engine can save only random forest and CART classifiers as assets"),
    ({G.DOWNLOAD_FOLDER: "/tmp/smd-never-created"}, "Downloading works only with the Cloud Storage destination"),
    ({G.START_DATE: "2023-06-05"}, "The date range is reversed"),
    ({G.DESTINATION: 1, G.DESTINATION_PATH: ""}, "Export to Cloud Storage needs a bucket name"),
    ({G.CLIP_MIN: 0.5, G.CLIP_MAX: 0.1}, "The clip minimum must be below the clip maximum"),
])
def test_bad_input_is_explained_and_nothing_is_written(run, fake, tmp_path, extra, fragment):
    with pytest.raises(QgsProcessingException) as err:
        run("smdownscale:downscalegee", _params(tmp_path, **extra))
    assert fragment in str(err.value)
    assert not os.path.exists(tmp_path / "tasks.json")
    assert not os.path.exists("/tmp/smd-never-created")
    assert not fake.requests_to("export")


def test_plan_only_submits_nothing_and_gives_the_plan_as_outputs(run, fake, tmp_path):
    res = run("smdownscale:downscalegee", _params(tmp_path, **{G.PLAN_ONLY: True, G.SAMPLES_PER_STEP: 50}))
    assert not fake.requests_to("export") and not fake.operations
    assert not os.path.exists(tmp_path / "tasks.json")  # no task manifest: nothing to resume
    assert res[G.PLAN] == str(tmp_path / "tasks.plan.csv") and os.path.exists(res[G.PLAN])
    assert res[G.PLAN_TASKS] == res[G.N_TASKS] == 4 and res[G.N_COMPLETED] == 0
    rows = open(res[G.PLAN], encoding="utf-8").read().splitlines()
    assert rows[0] == "date,kind,unit,count,pixels,bytes,source_pixels,training_runs"
    assert [r.split(",")[0] for r in rows[1:]] == ["", "2023-06-01", "2023-06-02", "2023-06-03", "total"]
    assert rows[1].split(",")[1] == "classifier"
    assert res[G.PLAN_BYTES] == int(rows[-1].split(",")[5]) > 0
    assert res[G.PLAN_TRAINING_RUNS] == 1  # random forest: trained once, saved, loaded by every export
    svr = run("smdownscale:downscalegee", _params(tmp_path, **{G.PLAN_ONLY: True, G.MODEL_TYPE: 2}))
    assert svr[G.PLAN_TASKS] == 3 and svr[G.PLAN_TRAINING_RUNS] == 3  # SVR cannot be saved: every export retrains
