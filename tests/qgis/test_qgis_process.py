"""The chain through the real command-line runner (qgis_process), as schedulers call it."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "scripts"))
import qgisproc
from qgisproc import QgisProcess

from smdownscale.algorithms import raster


@pytest.fixture(scope="module")
def qp(tmp_path_factory):
    return QgisProcess(str(tmp_path_factory.mktemp("qgis_process")))


@pytest.fixture(scope="module")
def chain(qp, tmp_path_factory):
    """sampledata -> align -> screen -> train -> downscale -> validate on a small scene."""
    out = tmp_path_factory.mktemp("chain")
    sample = str(out / "sample")
    qp.check("sampledata", {"SEED": 7, "SIZE_KM": 80, "N_DATES": 2, "OUTPUT": sample})
    static = sorted(glob.glob(os.path.join(sample, "static", "*.tif")))
    reference = os.path.join(sample, "static", "elevation.tif")
    smap = sorted(glob.glob(os.path.join(sample, "smap", "smap_*.tif")))
    dates = [os.path.basename(p)[5:13] for p in smap]
    stacks = []
    for d in dates:
        dynamic = sorted(glob.glob(os.path.join(sample, "dynamic", f"*_{d}.tif")))
        stack = str(out / f"factors_{d}.tif")
        res = qp.check("align", {"INPUTS": static + dynamic, "REFERENCE": reference, "OUTPUT": stack})
        assert res["OUTPUT"] == stack
        stacks.append(stack)
    screened = qp.check("screen", {"SOIL_MOISTURE": smap, "FACTORS": stacks, "OUTPUT": str(out / "screen.csv")})
    model = str(out / "model.smdmodel")
    trained = qp.check("train", {"SOIL_MOISTURE": smap, "FACTORS": stacks, "SELECTED_FACTORS": screened["SELECTED"],
                                 "MODEL_TYPE": 0, "N_ESTIMATORS": 40, "OUTPUT": model})
    sm1km = str(out / f"sm_1km_{dates[0]}.tif")
    qp.check("downscale", {"MODEL": model, "FACTORS": stacks[0], "SOIL_MOISTURE": smap[0], "OUTPUT": sm1km})
    truth = os.path.join(sample, "truth", f"truth_{dates[0]}.tif")
    validated = qp.check("validate", {"INPUT": sm1km, "REFERENCE": truth, "OUTPUT": str(out / "validation.csv")})
    return {"out": out, "sample": sample, "smap": smap, "stacks": stacks, "screened": screened, "model": model,
            "trained": trained, "sm1km": sm1km, "truth": truth, "validated": validated, "dates": dates}


def test_chain_outputs_by_value(chain):
    names = raster.band_names(raster.open_raster(chain["stacks"][0]))
    assert {"elevation", "slope", "landcover", "ndvi", "lst_day", "precipitation"} <= set(names)
    selected = chain["screened"]["SELECTED"].split(",")
    assert selected and set(selected) <= set(names)
    assert 0.5 < chain["trained"]["CV_R"] <= 1.0
    sm = raster.read_all(chain["sm1km"])[0]
    truth = raster.read_all(chain["truth"])[0]
    valid = np.isfinite(sm)
    assert valid.mean() > 0.7
    assert 0.0 <= np.nanmin(sm) and np.nanmax(sm) <= 0.6
    assert abs(np.nanmean(sm) - np.nanmean(truth)) < 0.02
    v = chain["validated"]
    assert v["N"] == np.count_nonzero(valid & np.isfinite(truth))
    assert v["R"] > 0.6
    assert v["UBRMSD"] < 0.05


def test_bad_input_exits_non_zero_with_message_and_no_output(qp, chain, tmp_path):
    not_a_model = tmp_path / "notes.smdmodel"
    not_a_model.write_text("this is not a model")
    out = tmp_path / "sm.tif"
    res = qp.run("downscale", {"MODEL": str(not_a_model), "FACTORS": chain["stacks"][0],
                               "SOIL_MOISTURE": chain["smap"][0], "OUTPUT": str(out)})
    assert res.returncode != 0
    assert "is not a smdownscale model file" in res.stdout + res.stderr
    assert not out.exists()

    out2 = tmp_path / "model.smdmodel"
    res = qp.run("train", {"SOIL_MOISTURE": chain["smap"][:1], "FACTORS": chain["stacks"][1:], "OUTPUT": str(out2)})
    assert res.returncode != 0
    assert "Dates do not match" in res.stdout + res.stderr
    assert not out2.exists()
    assert [f for f in os.listdir(tmp_path) if "partial" in f] == []


@pytest.mark.bad_input("fetchgee: qgis_process run without Earth Engine credentials")
def test_earth_engine_without_sign_in_says_how_to_sign_in_and_never_prompts(qp, tmp_path, monkeypatch):
    """Headless: no browser, no dialog, no question on the terminal; the run stops and says how to sign in."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setitem(qp.env, "HOME", str(home))
    monkeypatch.setitem(qp.env, "CLOUDSDK_CONFIG", str(home / "gcloud"))
    monkeypatch.setitem(qp.env, "SMDOWNSCALE_EE_URL", "https://earthengine.invalid")  # never reached
    monkeypatch.delitem(qp.env, "GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    out = tmp_path / "gee"
    res = qp.run("fetchgee", {"EXTENT": "116.0,116.5,42.0,42.4 [EPSG:4326]", "START_DATE": "2023-06-01",
                              "END_DATE": "2023-06-02", "PROJECT": "my-ee-project", "OUTPUT": str(out)}, timeout=300)
    text = res.stdout + res.stderr
    assert res.returncode != 0
    assert ("Not authenticated with Earth Engine: sign in once with 'Sign in with Google' in the plugin settings "
            "(Raster > Soil moisture downscaling > Settings…) or run `earthengine authenticate` once in a terminal"
            ) in text
    assert "Enter verification code" not in text and "accounts.google.com" not in text
    assert not (home / ".config" / "earthengine").exists() and not out.exists()


@pytest.fixture(scope="module")
def big_stack(qp, chain, tmp_path_factory):
    """A 700 x 700 pixel factor stack and its SMAP: downscaling it takes seconds, time to stop it midway."""
    out = tmp_path_factory.mktemp("big")
    sample = str(out / "sample")
    qp.check("sampledata", {"SEED": 3, "SIZE_KM": 700, "N_DATES": 1, "OUTPUT": sample})
    rasters = sorted(glob.glob(os.path.join(sample, "static", "*.tif")) +
                     glob.glob(os.path.join(sample, "dynamic", "*.tif")))
    stack = str(out / "factors_20230601.tif")
    qp.check("align", {"INPUTS": rasters, "REFERENCE": os.path.join(sample, "static", "elevation.tif"),
                       "OUTPUT": stack})
    return stack, glob.glob(os.path.join(sample, "smap", "smap_*.tif"))[0]


@pytest.mark.fault("downscale: qgis_process stopped by a scheduler or Ctrl+C while writing")
@pytest.mark.parametrize("sig, message", [
    (signal.SIGTERM, "Stopped by SIGTERM: the run was canceled and no output was written; files already at the "
                     "output paths are unchanged."),
    (signal.SIGINT, "Canceled: no output was written."),  # qgis_process's own handler cancels the feedback
], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_midway_cancels_and_leaves_nothing(qp, chain, big_stack, tmp_path, sig, message):
    """A stop signal while the outputs are being written cancels the run: non-zero exit with a message, no
    temporary file left, the previous results at the output paths unchanged."""
    stack, smap = big_stack
    out, quality = tmp_path / "sm.tif", tmp_path / "quality.tif"
    out.write_bytes(b"previous result")
    quality.write_bytes(b"previous quality")
    args = [qgisproc.QGIS_PROCESS, "run", "smdownscale:downscale", "--", f"MODEL={chain['model']}",
            f"FACTORS={stack}", f"SOIL_MOISTURE={smap}", f"OUTPUT={out}", f"QUALITY={quality}"]
    proc = subprocess.Popen(args, env=qp.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while proc.poll() is None and not any(".raw-" in f or ".partial-" in f for f in os.listdir(tmp_path)):
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before its outputs were being written"
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    assert message in stdout + stderr
    assert out.read_bytes() == b"previous result" and quality.read_bytes() == b"previous quality"
    assert sorted(os.listdir(tmp_path)) == ["quality.tif", "sm.tif"]


def test_a_stop_signal_also_cancels_the_next_engine_call(monkeypatch):
    """In qgis_process, a SIGTERM received during one engine call (a model's first algorithm) cancels it and every
    later one (the next algorithm of the model), instead of being forgotten when the next call starts; outside the
    calls SIGTERM keeps its default disposition."""
    from qgis.core import QgsApplication

    from smdownscale.processing_provider import base

    monkeypatch.setattr(QgsApplication, "platform", staticmethod(lambda: "qgis_process"))
    monkeypatch.setattr(base, "_STOP_SIGNALS", [])
    _, is_canceled = base.SmdAlgorithm.callbacks(None)
    with base.stop_signals_cancel():
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL and not is_canceled()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs between bytecodes of the main thread
        assert is_canceled()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    with base.stop_signals_cancel():  # the next call: canceled at its first check
        assert is_canceled()
    assert base._STOP_SIGNALS == [signal.SIGTERM]
