"""Earth Engine export tasks against the fake Earth Engine server on 127.0.0.1: bounded submission, states,
failures with Earth Engine's message, cancel, resume from the manifest, classifier export, Cloud Storage
downloads (injected storage and a fake Cloud Storage server for google-cloud-storage)."""

from __future__ import annotations

import copy
import csv
import json
import os
import re
import threading
from http.server import ThreadingHTTPServer
from typing import Any

import ee
import numpy as np
import pytest
from osgeo import gdal

from smdownscale.algorithms import raster
from smdownscale.algorithms.errors import Canceled, InputError
from smdownscale.algorithms.gee import GeeError, auth, pipeline, server, tasks
from smdownscale.algorithms.gee.request import TaskRun
from smdownscale.algorithms.raster import Grid
from smdownscale.tests import fake_ee
from smdownscale.tests.fake_ee import FakeEarthEngine, Fault
from smdownscale.tests.fake_gcs import FakeGcs, MemoryStorage, tif_bytes
from smdownscale.tests.scenes import downscale_objects, export_configs, export_grid

OK = ["PENDING", "RUNNING", "SUCCEEDED"]
FAIL = ["PENDING", "RUNNING", "FAILED"]
NO_SLEEP = {"sleep": lambda s: None, "poll_interval": 1.0}


def _submit(configs, batch_size, manifest_path, **kw):
    """tasks.submit_batches with its TaskRun and TaskClient built from keywords (start_fn/status_fn/cancel_fn name
    the client's calls)."""
    client = {name: kw.pop(f"{name}_fn") for name in ("start", "status", "cancel") if f"{name}_fn" in kw}
    callbacks = {k: kw.pop(k) for k in ("progress", "is_canceled", "log", "request", "project") if k in kw}
    return tasks.submit_batches(configs, manifest_path, TaskRun(batch_size=batch_size, **kw),
                                tasks.TaskClient(**client), **callbacks)


def _downscale(area, start, end, step, factors, manifest_path, **kw):
    """pipeline.downscale_gee with its request objects built from keywords (see scenes.downscale_objects)."""
    callbacks = {k: kw.pop(k) for k in ("progress", "is_canceled", "log") if k in kw}
    request, run, connection = downscale_objects(area=area, start=start, end=end, step=step, factors=factors, **kw)
    return pipeline.downscale_gee(request, manifest_path, run, connection, **callbacks)


# -- a fake server that also takes classifier exports ---------------------------------------------

class _ClassifierHandler(fake_ee._Handler):
    def _answer(self, method, path, endpoint, body):
        if re.match(r"^/v1(?:alpha|beta)?/projects/[^/]+/classifier:export$", path):
            return self._export(path, body)
        return super()._answer(method, path, endpoint, body)


class FakeWithClassifierExport(FakeEarthEngine):
    """The fake server plus ``projects/*/classifier:export`` (in the discovery document and as an endpoint)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        resources = self._discovery["resources"]["projects"]["resources"]
        method = copy.deepcopy(resources["image"]["methods"]["export"])
        method.update({"id": "earthengine.projects.classifier.export",
                       "flatPath": "v1alpha/projects/{projectsId}/classifier:export",
                       "path": "v1alpha/{+project}/classifier:export"})
        resources["classifier"] = {"methods": {"export": method}}

    def start(self) -> None:
        handler = type("Handler", (_ClassifierHandler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()


@pytest.fixture
def fake():
    with FakeWithClassifierExport(project="tasks-test") as server_:
        auth.initialize(project=server_.project, url=server_.url, force=True)
        yield server_


def starter(fake: FakeEarthEngine, states: dict[str, list[str]], active_seen: list[int]):
    """start_fn that gives each task its own server-side state sequence and records, at every start, how
    many operations the server still has queued or running."""

    def start(cfg: tasks.TaskConfig) -> str:
        with fake._lock:
            active_seen.append(sum(1 for op in fake.operations.values()
                                   if not op.canceled and op.states[op.step] in ("PENDING", "RUNNING")))
        fake.task_states = states.get(cfg.description, OK)
        return tasks.start_task(cfg)

    return start


def manifest(path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


# -- lifecycle ----------------------------------------------------------------------------------

def test_tasks_run_in_bounded_batches_to_completion(fake, tmp_path):
    path = str(tmp_path / "tasks.json")
    seen: list[int] = []
    fractions: list[float] = []
    result = _submit(export_configs(5), 2, path, start_fn=starter(fake, {}, seen),
                     progress=fractions.append, **NO_SLEEP)
    assert result.counts["COMPLETED"] == 5 and result.started == 5 and not result.failed
    assert len(fake.requests_to("export")) == 5
    assert max(seen) <= 1 and len(seen) == 5  # a start only when fewer than 2 were queued or running
    assert result.max_active == 2
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert {0.0, 0.4, 0.8} <= set(fractions)  # finished / all tasks
    doc = manifest(path)
    assert doc["format"] == "smdownscale-gee-tasks" and doc["counts"] == {"COMPLETED": 5}
    ops = {op.name for op in fake.operations.values()}
    for rec, cfg in zip(doc["tasks"], export_configs(5)):
        assert rec["description"] == cfg.description and rec["state"] == "COMPLETED"
        assert rec["operation"] in ops and rec["operation"].endswith("/" + rec["task_id"])
        assert rec["destination"] == "drive" and rec["target"] == "smd"
        assert rec["file_prefix"] == cfg.file_prefix and rec["submissions"] == 1
        assert rec["destination_uris"] == [f"https://drive.google.com/#folders/{cfg.description}"]
    # the server received exactly these tasks, each with its own file name prefix
    bodies = [r.body for r in fake.requests_to("export")]
    assert sorted(b["fileExportOptions"]["driveDestination"]["filenamePrefix"] for b in bodies) == \
        [f"soil_moisture_202306{d:02d}" for d in range(1, 6)]
    assert os.listdir(tmp_path) == ["tasks.json"]  # written atomically: no partial file left


def test_running_and_ready_states_are_recorded(fake, tmp_path):
    path = str(tmp_path / "tasks.json")
    fake.task_states = ["PENDING", "RUNNING", "RUNNING", "RUNNING", "SUCCEEDED"]
    result = _submit(export_configs(2), 5, path, wait=False, **NO_SLEEP)
    assert [r["state"] for r in result.tasks] == ["READY", "READY"]
    first = _submit(export_configs(2), 5, path, wait=False, **NO_SLEEP)
    assert [r["state"] for r in first.tasks] == ["RUNNING", "RUNNING"] and first.reattached == 2
    assert [r["progress"] for r in first.tasks] == [0.5, 0.5]
    assert [r["state"] for r in manifest(path)["tasks"]] == ["RUNNING", "RUNNING"]
    assert len(fake.requests_to("export")) == 2


def test_failed_task_keeps_earth_engines_message(fake, tmp_path):
    path = str(tmp_path / "tasks.json")
    fake.task_error = ("Export too large: specified 9000000000000 pixels (max: 10000000000000). Specify higher "
                       "maxPixels.")
    cfgs = export_configs(3)
    states = {cfgs[1].description: FAIL}
    result = _submit(cfgs, 3, path, start_fn=starter(fake, states, []), **NO_SLEEP)
    assert [r["state"] for r in result.tasks] == ["COMPLETED", "FAILED", "COMPLETED"]
    assert result.tasks[1]["error"] == fake.task_error
    assert manifest(path)["tasks"][1]["error"] == fake.task_error
    message = tasks.failure_message(result.tasks, path)
    assert message.startswith("1 of 3 Earth Engine task(s) did not complete: smdownscale soil_moisture_20230602: "
                              "FAILED: Export too large")
    assert path in message


def test_cancel_cancels_the_started_tasks_on_earth_engine(fake, tmp_path):
    path = str(tmp_path / "tasks.json")
    fake.task_states = ["PENDING", "RUNNING", "RUNNING", "RUNNING", "RUNNING", "SUCCEEDED"]
    cancel_after = lambda: len(fake.requests_to("export")) >= 2  # noqa: E731 - the user presses Cancel
    with pytest.raises(Canceled) as err:
        _submit(export_configs(5), 2, path, is_canceled=cancel_after, **NO_SLEEP)
    started = sorted(op.name for op in fake.operations.values())
    assert len(started) == 2
    canceled = sorted(r.path.split("/", 2)[2][: -len(":cancel")] for r in fake.requests_to("cancel"))
    assert canceled == started
    assert all(op.canceled for op in fake.operations.values())
    doc = manifest(path)
    assert [r["state"] for r in doc["tasks"]] == ["CANCELLED", "CANCELLED", "UNSUBMITTED", "UNSUBMITTED",
                                                  "UNSUBMITTED"]
    assert "2 Earth Engine task(s) were canceled on Earth Engine" in str(err.value)
    # a later run submits the canceled ones again and the rest
    fake.task_states = OK
    result = _submit(export_configs(5), 2, path, **NO_SLEEP)
    assert result.counts["COMPLETED"] == 5 and len(fake.requests_to("export")) == 7
    assert [r["submissions"] for r in result.tasks] == [2, 2, 1, 1, 1]
    assert result.tasks[0]["previous_error"] == "Canceled by the user."


def test_resume_skips_completed_and_resubmits_failed(fake, tmp_path):
    path = str(tmp_path / "tasks.json")
    cfgs = export_configs(4)
    states = {cfgs[1].description: FAIL, cfgs[3].description: FAIL}
    first = _submit(cfgs, 4, path, start_fn=starter(fake, states, []), **NO_SLEEP)
    assert [r["state"] for r in first.tasks] == ["COMPLETED", "FAILED", "COMPLETED", "FAILED"]
    assert len(fake.requests_to("export")) == 4
    fake.task_states = OK
    log: list[str] = []
    second = _submit(export_configs(4), 4, path, log=log.append, **NO_SLEEP)
    assert len(fake.requests_to("export")) == 6  # only the two failed ones again
    assert second.skipped == 2 and second.started == 2
    assert [r["state"] for r in second.tasks] == ["COMPLETED"] * 4
    assert [r["submissions"] for r in second.tasks] == [1, 2, 1, 2]
    assert second.tasks[0]["operation"] == first.tasks[0]["operation"]
    assert any("failed in the previous run (Export failed: the destination is not writable.); submitting it again"
               in m for m in log)
    # nothing left: a third run starts nothing
    third = _submit(export_configs(4), 4, path, **NO_SLEEP)
    assert third.skipped == 4 and third.started == 0 and len(fake.requests_to("export")) == 6


def test_resume_reattaches_to_running_tasks_instead_of_starting_them_again(fake, tmp_path):
    path = str(tmp_path / "tasks.json")
    first = _submit(export_configs(3), 2, path, wait=False, **NO_SLEEP)
    assert [r["state"] for r in first.tasks] == ["READY", "READY", "UNSUBMITTED"]
    assert first.pending and len(fake.requests_to("export")) == 2
    second = _submit(export_configs(3), 2, path, **NO_SLEEP)
    assert second.reattached == 2 and second.started == 1
    assert len(fake.requests_to("export")) == 3
    assert [r["state"] for r in second.tasks] == ["COMPLETED"] * 3
    assert [r["operation"] for r in second.tasks[:2]] == [r["operation"] for r in first.tasks[:2]]


def test_a_changed_request_is_not_taken_for_finished(fake, tmp_path):
    path = str(tmp_path / "tasks.json")
    _submit(export_configs(2, fp="first"), 2, path, **NO_SLEEP)
    log: list[str] = []
    again = _submit(export_configs(2, fp="second"), 2, path, log=log.append, **NO_SLEEP)
    assert again.skipped == 0 and again.started == 2 and len(fake.requests_to("export")) == 4
    assert "the request changed since the manifest was written" in log[0]


def test_start_errors_fail_the_task_with_the_message_and_the_rest_go_on(fake, tmp_path):
    path = str(tmp_path / "tasks.json")
    fake.inject(Fault.http(400, "Request contains an invalid argument: folder name too long.", "INVALID_ARGUMENT"),
                times=1, endpoint="export")
    result = _submit(export_configs(3), 3, path, **NO_SLEEP)
    assert [r["state"] for r in result.tasks] == ["FAILED", "COMPLETED", "COMPLETED"]
    assert "folder name too long" in result.tasks[0]["error"]
    assert result.tasks[0]["operation"] is None and result.tasks[0]["submissions"] == 1


def test_transient_errors_are_retried(tmp_path):
    """Pure control flow: a quota error on start and a network error on status are retried later."""
    cfgs = [tasks.TaskConfig(f"t{k}", "image", "drive", "f", f"p{k}", None, {}, "x") for k in range(2)]
    state: dict[str, list[str]] = {}
    attempts = {"start": 0, "status": 0}
    sleeps: list[float] = []

    def start(cfg):
        attempts["start"] += 1
        if attempts["start"] == 1:
            raise GeeError("Too many tasks already in the queue (3000).", kind="quota")
        state[cfg.description] = ["RUNNING", "SUCCEEDED"]
        return f"projects/p/operations/{cfg.description}"

    def status(op):
        attempts["status"] += 1
        if attempts["status"] == 1:
            raise GeeError("connection reset", kind="network")
        return {"state": tasks.OPERATION_STATES[state[op.rsplit("/", 1)[1]].pop(0)], "error": None, "progress": 0.5,
                "destination_uris": []}

    result = _submit(cfgs, 1, str(tmp_path / "m.json"), start_fn=start, status_fn=status,
                     sleep=sleeps.append, poll_interval=2.0)
    assert [r["state"] for r in result.tasks] == ["COMPLETED", "COMPLETED"]
    assert attempts["start"] == 3 and result.started == 2
    assert sleeps and max(sleeps) <= tasks.SLEEP_SLICE  # waits in short slices so cancel is noticed


def test_operation_states_and_compute_used_are_read_like_earth_engine_reports_them(tmp_path):
    done = {"name": "projects/p/operations/ABC", "done": True, "response": {},
            "metadata": {"state": "SUCCEEDED", "progress": 1, "batchEecuUsageSeconds": 5400.5,
                         "destinationUris": ["https://drive.google.com/#folders/xyz"]}}
    assert tasks.operation_status(done) == {"state": "COMPLETED", "error": None, "progress": 1.0,
                                            "destination_uris": ["https://drive.google.com/#folders/xyz"],
                                            "eecu_seconds": 5400.5}
    failed = {"name": "n", "done": True, "error": {"code": 3, "message": "Image.clip: bad geometry."},
              "metadata": {"state": "FAILED"}}
    assert tasks.operation_status(failed)["error"] == "Image.clip: bad geometry."
    assert [tasks.operation_status({"metadata": {"state": s}})["state"] for s in
            ("PENDING", "RUNNING", "CANCELLING", "CANCELLED")] == ["READY", "RUNNING", "CANCEL_REQUESTED",
                                                                   "CANCELLED"]
    # the compute each task used is summed in the manifest (EECU-hours), to extrapolate costs and quota use
    cfgs = [tasks.TaskConfig(f"t{k}", "image", "drive", "f", f"p{k}", None, {}, "x") for k in range(2)]
    result = _submit(cfgs, 2, str(tmp_path / "m.json"), start_fn=lambda c: f"ops/{c.description}",
                     status_fn=lambda op: tasks.operation_status(done), **NO_SLEEP)
    assert result.eecu_hours == pytest.approx(2 * 5400.5 / 3600)
    assert manifest(tmp_path / "m.json")["eecu_hours"] == pytest.approx(3.000278, abs=1e-6)


def test_repeated_quota_errors_end_as_failed(tmp_path):
    cfgs = [tasks.TaskConfig("t0", "image", "drive", "f", "p0", None, {}, "x")]

    def start(cfg):
        raise GeeError("Too many tasks already in the queue (3000).", kind="quota")

    result = _submit(cfgs, 1, str(tmp_path / "m.json"), start_fn=start, **NO_SLEEP)
    assert result.tasks[0]["state"] == "FAILED" and "Too many tasks" in result.tasks[0]["error"]


def test_secrets_never_reach_the_manifest(fake, tmp_path):
    path = str(tmp_path / "tasks.json")
    fake.task_error = "Export failed (access_token=ya29.A0secretvalue123; Authorization: Bearer abc.def.ghi)."
    fake.task_states = FAIL
    result = _submit(export_configs(1), 1, path, **NO_SLEEP)
    text = open(path, encoding="utf-8").read()
    assert "ya29.A0secret" not in text and "abc.def.ghi" not in text
    assert "access_token=[redacted]" in result.tasks[0]["error"]
    assert fake.access_token not in text


def test_manifest_problems_are_named(fake, tmp_path):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"files": []}))
    with pytest.raises(InputError, match="is not a smdownscale Earth Engine task manifest; choose another file name"):
        _submit(export_configs(1), 1, str(other), **NO_SLEEP)
    assert json.loads(other.read_text()) == {"files": []}  # not overwritten
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InputError, match="cannot be read"):
        _submit(export_configs(1), 1, str(broken), **NO_SLEEP)
    with pytest.raises(InputError, match="batch size must be at least 1"):
        _submit(export_configs(1), 0, str(tmp_path / "m.json"), **NO_SLEEP)
    assert not fake.requests_to("export")


def test_classifier_export_is_a_task_like_the_others(fake, tmp_path):
    model = server.build_training(ee.Geometry.Rectangle([11150000, 4860000, 11225000, 4930000], "EPSG:6933", False),
                                  [("2023-06-01", "2023-06-02", "20230601")], ["ndvi"], "L4", "sm_surface",
                                  Grid(export_grid().crs_wkt, export_grid().transform, 74, 64), "rf",
                                  {"n_estimators": 10})
    cfgs = [server.classifier_export(model, "projects/my-project/assets/smd_rf"), *export_configs(1)]
    result = _submit(cfgs, 1, str(tmp_path / "m.json"), **NO_SLEEP)
    assert [r["state"] for r in result.tasks] == ["COMPLETED", "COMPLETED"]
    assert [r["kind"] for r in result.tasks] == ["classifier", "image"]
    (req,) = [r for r in fake.requests if r.path.endswith("/classifier:export")]
    assert req.body["assetExportOptions"]["earthEngineDestination"]["name"] == "projects/my-project/assets/smd_rf"
    expression = json.dumps(req.body["expression"])
    assert '"functionName": "Classifier.train"' in expression
    assert '"functionName": "Classifier.smileRandomForest"' in expression


# -- downloads ----------------------------------------------------------------------------------




def _records(prefixes: list[str], state: str = "COMPLETED") -> list[dict]:
    return [{"description": f"smdownscale {p}", "kind": "image", "destination": "gcs", "target": "bkt",
             "file_prefix": f"run/{p}", "state": state, "date": "2023-06-01"} for p in prefixes]


def test_download_merges_tiles_sets_nodata_and_keeps_existing_files(tmp_path):
    top = np.full((2, 4), 0.25, dtype=np.float32)
    bottom = np.array([[0.1, 0.2, raster.NODATA_F32, 0.3]], dtype=np.float32)
    objects = {("bkt", "run/soil_moisture_20230601-0000000000-0000000000.tif"): tif_bytes(top, 0.0, 3000.0),
               ("bkt", "run/soil_moisture_20230601-0000000256-0000000000.tif"): tif_bytes(bottom, 0.0, 1000.0),
               ("bkt", "run/soil_moisture_20230601_other.tif"): b"not ours",
               ("bkt", "run/soil_moisture_20230602.tif"): tif_bytes(top, 0.0, 3000.0)}
    storage = MemoryStorage(objects)
    recs = _records(["soil_moisture_20230601", "soil_moisture_20230602"]) + _records(["soil_moisture_20230603"],
                                                                                      "FAILED")
    fractions: list[float] = []
    out = tasks.download_results(recs, str(tmp_path / "maps"), storage, progress=fractions.append)
    assert [os.path.basename(p) for p in out] == ["soil_moisture_20230601.tif", "soil_moisture_20230602.tif"]
    assert fractions == [0.5, 1.0]
    ds = gdal.Open(out[0])
    band = ds.GetRasterBand(1)
    assert (ds.RasterXSize, ds.RasterYSize) == (4, 3)
    assert band.GetNoDataValue() == raster.NODATA_F32 and band.GetDescription() == "soil_moisture"
    assert ds.GetMetadataItem("SMD_DATE") == "2023-06-01"
    np.testing.assert_array_equal(band.ReadAsArray(), np.vstack([top, bottom]))
    ds = None
    assert sorted(os.listdir(tmp_path / "maps")) == ["soil_moisture_20230601.tif", "soil_moisture_20230602.tif"]
    assert recs[0]["files"] == [out[0]]
    storage.downloads.clear()
    assert tasks.download_results(recs, str(tmp_path / "maps"), storage) == out
    assert storage.downloads == []  # already there: kept, not downloaded again


def test_download_of_a_missing_export_is_explained(tmp_path):
    with pytest.raises(GeeError, match=r"No exported file gs://bkt/run/soil_moisture_20230601.tif was found"):
        tasks.download_results(_records(["soil_moisture_20230601"]), str(tmp_path), MemoryStorage({}))
    assert os.listdir(tmp_path) == []





def test_google_cloud_storage_client_downloads_from_a_local_server(tmp_path, monkeypatch):
    values = np.arange(12, dtype=np.float32).reshape(3, 4) / 100
    gcs = FakeGcs({("bkt", "run/soil_moisture_20230601.tif"): tif_bytes(values, 0.0, 3000.0)})
    try:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
        out = tasks.download_results(_records(["soil_moisture_20230601"]), str(tmp_path),
                                     tasks.GcsStorage(project="tasks-test"))
    finally:
        gcs.close()
    np.testing.assert_allclose(gdal.Open(out[0]).ReadAsArray(), values)
    assert "/storage/v1/b/bkt/o" in gcs.paths


# -- the whole chain ----------------------------------------------------------------------------

class ExportedStorage(MemoryStorage):
    """Serves, for any prefix, the GeoTIFF Earth Engine would have written (a constant field)."""

    def list(self, bucket: str, prefix: str) -> list[str]:
        name = prefix + ".tif"
        self.objects.setdefault((bucket, name), tif_bytes(np.full((3, 4), 0.3, dtype=np.float32), 0.0, 3000.0))
        return [name]


EXTENT = (115.6, 41.7, 116.3, 42.2, "EPSG:4326")


def test_downscale_gee_submits_follows_and_downloads(fake, tmp_path):
    path = str(tmp_path / "run.json")
    storage = ExportedStorage({})
    result = _downscale(EXTENT, "2023-06-01", "2023-06-03", "daily", ["ndvi", "lst_day"], path,
                        destination="gcs", destination_path="bkt/run", batch_size=2,
                        download_folder=str(tmp_path / "maps"), project=fake.project, url=fake.url,
                        storage=storage, **NO_SLEEP)
    assert result.n_steps == 3 and result.batch.counts["COMPLETED"] == 4  # the classifier, then three maps
    assert [os.path.basename(p) for p in result.downloaded] == [f"soil_moisture_2023060{d}.tif" for d in (1, 2, 3)]
    doc = manifest(path)
    assert doc["project"] == fake.project
    assert doc["request"]["factors"] == ["ndvi", "lst_day"] and doc["request"]["destination"] == "gcs"
    assert [r["files"] for r in doc["tasks"]] == [[]] + [[p] for p in result.downloaded]
    assert [r["kind"] for r in doc["tasks"]] == ["classifier", "image", "image", "image"]
    bodies = [r.body for r in fake.requests_to("export")]
    assert [b["fileExportOptions"]["cloudStorageDestination"] for b in bodies] == [
        {"bucket": "bkt", "filenamePrefix": f"run/soil_moisture_2023060{d}"} for d in (1, 2, 3)]
    text = json.dumps(bodies[0]["expression"])
    for name in ("Classifier.load", "Classifier.setOutputMode", "Image.classify", "Image.clamp",
                 "Image.reduceResolution"):
        assert name in text
    assert "Classifier.smileRandomForest" not in text  # trained once, in the classifier task
    (trained,) = [r for r in fake.requests if r.path.endswith("/classifier:export")]
    assert "Classifier.smileRandomForest" in json.dumps(trained.body["expression"])
    # the maps were started only once the classifier task had succeeded (its status polled to the end)
    first_map = min(fake.requests.index(r) for r in fake.requests_to("export"))
    polls = [r for r in fake.requests[fake.requests.index(trained):first_map] if r.endpoint == "operation"]
    assert len(polls) >= 2 and doc["tasks"][0]["step"] == "training"


def test_models_earth_engine_cannot_save_have_their_training_limited(fake, tmp_path):
    with pytest.raises(InputError, match="each of the 3 exports retrains it.*choose random forest or CART"):
        _downscale((106.0, 35.0, 116.0, 45.0, "EPSG:4326"), "2023-06-01", "2023-06-03", "daily", ["ndvi"],
                   str(tmp_path / "m.json"), model_type="svr", samples_per_step=0, max_training_steps=0,
                   project=fake.project, url=fake.url, **NO_SLEEP)
    assert not fake.requests_to("export") and not os.path.exists(tmp_path / "m.json")


def test_downscale_gee_reports_failed_tasks_with_earth_engines_message(fake, tmp_path):
    path = str(tmp_path / "run.json")
    fake.task_states = FAIL
    fake.task_error = "User memory limit exceeded."
    with pytest.raises(GeeError) as err:
        _downscale(EXTENT, "2023-06-01", "2023-06-02", "daily", ["ndvi"], path, project=fake.project,
                   url=fake.url, **NO_SLEEP)
    assert "3 of 3 Earth Engine task(s) did not complete: smdownscale classifier smdownscale_classifier_" \
           in str(err.value) and ": FAILED: User memory limit exceeded." in str(err.value)
    recs = manifest(path)["tasks"]
    assert [r["state"] for r in recs] == ["FAILED", "FAILED", "FAILED"]
    assert all(r["error"].startswith("Not started: smdownscale classifier") for r in recs[1:])
    assert not fake.requests_to("export")


def test_downscale_gee_plan_only_submits_nothing_and_counts_training_runs(fake, tmp_path):
    path = str(tmp_path / "run.json")
    logs = []
    result = _downscale(EXTENT, "2023-06-01", "2023-06-03", "daily", ["ndvi", "lst_day"], path,
                        model_type="gbt", destination="gcs", destination_path="bkt/run",
                        samples_per_step=100, max_training_steps=2, project=fake.project, url=fake.url,
                        plan_only=True, log=logs.append, **NO_SLEEP)
    assert result.batch is None and not os.path.exists(path)
    assert not fake.requests_to("export") and not fake.operations
    plan_csv = tmp_path / "run.plan.csv"
    assert result.plan.path == str(plan_csv)
    rows = list(csv.DictReader(open(plan_csv, encoding="utf-8")))
    assert [(r["date"], r["kind"]) for r in rows] == [("2023-06-01", "soil_moisture"), ("2023-06-02", "soil_moisture"),
                                                      ("2023-06-03", "soil_moisture"), ("total", "")]
    fine = 69 * 48  # the 1 km grid over SMAP's 7 x 5 asset cells
    assert [int(r["pixels"]) for r in rows[:3]] == [fine] * 3
    assert int(rows[-1]["bytes"]) == 3 * fine * 4 * 2  # float32 soil moisture and quality
    # gradient boosting cannot be saved: each export carries the training (2 steps x 35 cells), three runs
    assert int(rows[-1]["training_runs"]) == 3 and result.plan.training_runs == 3
    assert any("3 training run(s) on Earth Engine" in line for line in logs)
    rf = _downscale(EXTENT, "2023-06-01", "2023-06-03", "daily", ["ndvi", "lst_day"], path,
                    project=fake.project, url=fake.url, plan_only=True, **NO_SLEEP)
    assert [r["kind"] for r in rf.plan.rows] == ["classifier"] + ["soil_moisture"] * 3
    assert rf.plan.training_runs == 1 and [r["training_runs"] for r in rf.plan.rows] == [1, 0, 0, 0]
    reused = _downscale(EXTENT, "2023-06-01", "2023-06-03", "daily", ["ndvi", "lst_day"], path,
                        classifier_asset="projects/p/assets/rf", project=fake.project, url=fake.url,
                        plan_only=True, **NO_SLEEP)
    assert reused.plan.training_runs == 0 and not fake.requests_to("export")


def test_downscale_gee_checks_before_anything_is_sent(fake, tmp_path):
    with pytest.raises(InputError, match="Downloading results works only with the Cloud Storage destination"):
        _downscale(EXTENT, "2023-06-01", "2023-06-02", "daily", ["ndvi"], str(tmp_path / "m.json"),
                   destination="drive", download_folder=str(tmp_path / "d"), project=fake.project,
                   url=fake.url)
    with pytest.raises(InputError, match="No task manifest file was given"):
        _downscale(EXTENT, "2023-06-01", "2023-06-02", "daily", ["ndvi"], "", project=fake.project,
                   url=fake.url)
    assert not fake.requests_to("export") and os.listdir(tmp_path) == []


def test_the_fake_enforces_max_pixels_on_region_exports(fake, tmp_path):
    images = [("20230601", ee.Image.constant(0.2).rename(["soil_moisture"]))]
    small = server.build_exports(images, "drive", "smd", export_grid(), max_pixels=5)  # the grid has 4 x 3 pixels
    result = _submit(small, 1, str(tmp_path / "m.json"), **NO_SLEEP)
    assert [r["state"] for r in result.tasks] == ["FAILED"]
    assert "Specified: 12, maximum allowed: 5" in result.tasks[0]["error"]
    enough = server.build_exports(images, "drive", "smd2", export_grid(), max_pixels=12)
    assert [r["state"] for r in _submit(enough, 1, str(tmp_path / "m2.json"), **NO_SLEEP).tasks] == \
        ["COMPLETED"]
