"""Cancel through the Processing feedback: every algorithm stops because of the cancel, leaving nothing.

The feedback cancels as soon as the algorithm reports its first progress (the moment a user could press
Cancel in the dialog), so the cancel arrives while the work is under way. That the engine stopped because
of the cancel is seen in what it reports (it raises Canceled, and its progress never reaches the end after
the cancel), not in seconds: a loaded machine may be slow, never wrong. A generous bound only guards
against a run that ignores the cancel and hangs.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsSettings

from smdownscale.algorithms.raster import read_all, write_raster
from smdownscale.algorithms.train import TrainRequest, train_model
from smdownscale.tests.fake_ee import FakeEarthEngine
from smdownscale.tests.scenes import make_scene

#: Hang guard: a run still going this long after the cancel ignored it (timings belong in bench/).
HANG_SECONDS = 60.0
TEMP_MARKS = (".partial-", ".raw-", ".sampledata-partial", ".tmp")


class CancelAtFirstProgress(QgsProcessingFeedback):
    """Cancels when the algorithm first reports progress above 0 %; records the progress reported after."""

    def __init__(self) -> None:
        super().__init__()
        self.canceled_at: float | None = None
        self.first_progress: float | None = None
        self.after_cancel: list[float] = []
        self.progressChanged.connect(self._progress)

    def _progress(self, value: float) -> None:
        if self.canceled_at is not None:
            self.after_cancel.append(value)
        elif value > 0:
            self.first_progress = value
            self.canceled_at = time.monotonic()
            self.cancel()

    def assert_stopped_by_the_cancel(self) -> None:
        """The cancel came while the run was under way, and the run stopped without completing its work
        afterwards (the caller checks that it raised Canceled), within the hang guard."""
        assert self.canceled_at is not None and 0 < self.first_progress <= 100
        assert all(v < 100 for v in self.after_cancel), self.after_cancel
        assert time.monotonic() - self.canceled_at < HANG_SECONDS


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cancel")
    sc = make_scene(str(folder / "scene"), dates=("2023-06-01", "2023-06-09"))
    sc["model"] = str(folder / "cart.smdmodel")
    train_model(TrainRequest(sc["sm"], sc["stacks"], sc["model"], "cart", cv_folds=0))
    sc["estimate"] = str(folder / "sm_1km_20230601.tif")
    write_raster(sc["estimate"], sc["fine"], read_all(sc["stacks"][0])[0] * 0.5)
    return sc


@pytest.fixture
def fake_ee(plugin, monkeypatch):
    with FakeEarthEngine() as server:
        monkeypatch.setenv("SMDOWNSCALE_EE_URL", server.url)
        QgsSettings().remove("smdownscale")
        yield server
        QgsSettings().remove("smdownscale")


def _temporary(folder: str) -> list[str]:
    found = []
    for _root, dirs, files in os.walk(folder):
        found += [f for f in files + dirs if any(m in f for m in TEMP_MARKS)]
    return found


CASES = {
    "sampledata": lambda s, o: ({"SIZE_KM": 60, "N_DATES": 2, "OUTPUT": str(o / "sample")}, ["OUTPUT"]),
    "align": lambda s, o: ({"INPUTS": s["stacks"][:1], "REFERENCE": s["stacks"][0], "COARSE_REFERENCE": s["sm"][0],
                            "OUTPUT": str(o / "f.tif"), "COARSE_OUTPUT": str(o / "c.tif")},
                           ["OUTPUT", "COARSE_OUTPUT"]),
    "screen": lambda s, o: ({"SOIL_MOISTURE": s["sm"], "FACTORS": s["stacks"], "OUTPUT": str(o / "s.csv")},
                            ["OUTPUT"]),
    "train": lambda s, o: ({"SOIL_MOISTURE": s["sm"], "FACTORS": s["stacks"], "N_ESTIMATORS": 20,
                            "OUTPUT": str(o / "m.smdmodel")}, ["OUTPUT"]),
    "downscale": lambda s, o: ({"MODEL": s["model"], "FACTORS": s["stacks"][0], "SOIL_MOISTURE": s["sm"][0],
                                "OUTPUT": str(o / "sm.tif")}, ["OUTPUT"]),
    "validate": lambda s, o: ({"INPUT": s["estimate"], "REFERENCE": s["sm"][0], "OUTPUT": str(o / "v.csv")},
                              ["OUTPUT"]),
}


@pytest.mark.parametrize("alg", [pytest.param(alg, marks=pytest.mark.fault(f"{alg}: canceled through the feedback"),
                                              id=alg) for alg in CASES])
def test_cancel_stops_the_run_and_leaves_nothing(run, scene, tmp_path, alg, reliability):
    params, outputs = CASES[alg](scene, tmp_path)
    reliability.watch(os.path.dirname(scene["model"]), label="inputs")
    feedback = CancelAtFirstProgress()
    with pytest.raises(QgsProcessingException, match="Canceled: no output was written."):
        run(f"smdownscale:{alg}", params, feedback=feedback)
    feedback.assert_stopped_by_the_cancel()
    for key in outputs:
        assert not os.path.exists(params[key]), f"{params[key]} was left behind"
    assert os.listdir(tmp_path) == []


@pytest.mark.fault("fetchgee: canceled through the feedback, rerun")
def test_cancel_fetchgee(run, fake_ee, tmp_path):
    out = tmp_path / "gee"
    params = {"EXTENT": "115.55,116.35,41.65,42.25 [EPSG:4326]", "START_DATE": "2023-06-01",
              "END_DATE": "2023-06-03", "TIME_STEP": 0, "FACTORS": ["ndvi", "lst_day"], "PROJECT": "test-project",
              "OUTPUT": str(out)}
    feedback = CancelAtFirstProgress()
    with pytest.raises(QgsProcessingException, match="Canceled: no output was written."):
        run("smdownscale:fetchgee", params, feedback=feedback)
    feedback.assert_stopped_by_the_cancel()
    # nothing under a final name; only the tile cache stays, hidden, so the next run resumes
    finals = [os.path.relpath(os.path.join(r, f), out) for r, d, fs in os.walk(out)
              for f in fs if not os.path.relpath(os.path.join(r, f), out).startswith(".cache")]
    assert finals == [] and _temporary(str(out)) == []
    assert not (out / "manifest.json").exists() and not (out / "smap").exists() and not (out / "factors").exists()
    served = len(fake_ee.requests_to("computePixels"))
    cached = len(list((out / ".cache").rglob("*.npy")))
    assert 1 <= cached <= served < 6  # stopped after the first of 6 images
    res = run("smdownscale:fetchgee", params)  # the rerun downloads only what is missing
    assert res["N_STEPS"] == 3
    assert len(fake_ee.requests_to("computePixels")) - served == 6 - cached
    smap = read_all(res["SMAP_FILES"].split(";")[0])  # complete: only SMAP's own fill cells are missing
    assert 0 < np.isnan(smap).mean() < 0.25 and np.nanmin(smap) >= 0.05
