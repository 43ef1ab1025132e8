"""Faults: Earth Engine misbehaving during a whole fetch, processes killed mid-run, disks filling up.

Every case checks that the run either completes with exactly the files an undisturbed run writes, or
fails with a clear message and leaves nothing under a final name; killed runs are rerun and must resume
or restart cleanly. Transport-level retries are unit-tested in test_gee_transport.py; here the same
faults go through :func:`fetch` end to end (several time steps, two images per step, the manifest).
"""

from __future__ import annotations

import errno
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from osgeo import gdal
from sklearn.ensemble import RandomForestRegressor

import smdownscale
from smdownscale.algorithms import align, model_io, raster, screen, train, validate
from smdownscale.algorithms.downscale import downscale
from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.gee import GeeError
from smdownscale.algorithms.gee.fetch import fetch
from smdownscale.algorithms.gee.transport import RetryPolicy
from smdownscale.algorithms.raster import Grid, srs_from_user, write_raster
from smdownscale.tests.fake_ee import FakeEarthEngine, Fault
from smdownscale.tests.scenes import make_scene, request_objects

PLUGIN_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(smdownscale.__file__)))
AREA = (115.80, 41.80, 116.00, 41.95, "EPSG:4326")
FACTORS = ["ndvi", "lst_day"]
DATES = ("2023-06-01", "2023-06-02")
FAST = RetryPolicy(base=0.01, cap=0.05)
DISK_FULL = "No space left on device: free disk space in"


# -- helpers --------------------------------------------------------------------------------------

def _leftovers(folder) -> list[str]:
    """Temporary files (partial, raw, tmp) anywhere below ``folder``, outside the tile cache."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != ".cache"]
        out += [os.path.join(root, f) for f in files if ".partial-" in f or ".raw-" in f or f.endswith(".tmp")]
    return out


def _finals(folder) -> list[str]:
    """Files under their final names (not hidden), relative to ``folder``."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        out += [os.path.relpath(os.path.join(root, f), folder) for f in files if not f.startswith(".")]
    return sorted(out)


def _raster_content(path: str) -> dict:
    """What a GeoTIFF holds, for comparing runs: pixels, georeferencing, band names, metadata."""
    ds = gdal.Open(path)
    return {"pixels": ds.ReadAsArray(), "gt": ds.GetGeoTransform(), "crs": ds.GetProjection(),
            "names": [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)],
            "nodata": [ds.GetRasterBand(i + 1).GetNoDataValue() for i in range(ds.RasterCount)],
            "meta": ds.GetMetadata(), "band_meta": [ds.GetRasterBand(i + 1).GetMetadata()
                                                    for i in range(ds.RasterCount)]}


def _same_raster(a: str, b: str) -> bool:
    x, y = _raster_content(a), _raster_content(b)
    return np.array_equal(x.pop("pixels"), y.pop("pixels"), equal_nan=True) and x == y


def _complete(path: str, reference: str) -> bool:
    """``path`` holds what ``reference`` holds; a file GDAL cannot open (truncated, half written) does not."""
    try:
        return _same_raster(path, reference)
    except Exception:
        return False


def _manifest_content(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    doc.pop("created")
    doc["provenance"].pop("requested")
    return doc


def _same_fetch(out: str, reference: str) -> None:
    assert _finals(out) == _finals(reference)
    for rel in _finals(reference):
        if rel.endswith(".tif"):
            assert _same_raster(os.path.join(out, rel), os.path.join(reference, rel)), rel
    assert _manifest_content(os.path.join(out, "manifest.json")) == \
        _manifest_content(os.path.join(reference, "manifest.json"))


def _child(code: str, *args: str) -> subprocess.Popen:
    """Run ``code`` in a fresh Python (this venv) that imports the plugin as ``smdownscale``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PLUGIN_PARENT, os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _wait_for(pattern: str, proc: subprocess.Popen, timeout: float = 60.0) -> list[str]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        found = glob.glob(pattern, recursive=True)
        if found:
            return found
        if proc.poll() is not None:
            raise AssertionError(f"the process ended before {pattern} appeared:\n{proc.stdout.read()}")
        time.sleep(0.01)
    raise AssertionError(f"{pattern} did not appear within {timeout} s")


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)  # reaped: its process id no longer exists
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL


# -- Earth Engine faults through a whole fetch -------------------------------------------------------

@pytest.fixture(scope="module")
def fake():
    with FakeEarthEngine() as server:
        yield server


@pytest.fixture(scope="module")
def reference(fake, tmp_path_factory):
    """An undisturbed fetch: 2 daily steps, SMAP + a 2-factor stack each (4 images, one tile each)."""
    out = str(tmp_path_factory.mktemp("reference") / "gee")
    res = _fetch(fake, out)
    assert res.tiles_fetched == 4 and res.retries == 0
    return out


def _fetch(fake, out, **kw):
    kw.setdefault("retry", FAST)
    kw.setdefault("workers", 2)
    callbacks = {k: kw.pop(k) for k in ("progress", "is_canceled", "log") if k in kw}
    request, options, connection = request_objects(area=AREA, start=DATES[0], end=DATES[-1], step="daily",
                                                   factors=FACTORS, project=fake.project, url=fake.url, **kw)
    return fetch(request, out, options, connection, **callbacks)


FAULTS = {
    "HTTP 429 twice": (Fault.http(429, "Too many concurrent aggregations."), 2),
    "HTTP 429 with Retry-After": (Fault.http(429, retry_after=0.05), 1),
    "HTTP 500": (Fault.http(500), 1),
    "HTTP 503 three times": (Fault.http(503), 3),
    "HTTP 502 then 504": ([Fault.http(502), Fault.http(504)], 1),
    "hanging answer beyond the timeout": (Fault.slow(8.0), 1),
    "connection dropped mid-body": (Fault.drop(), 2),
    "truncated tile": (Fault.corrupt_payload("short"), 1),
    "garbage instead of a tile": (Fault.corrupt_payload("garbage"), 1),
    "tile of the wrong shape": (Fault.corrupt_payload("shape"), 1),
    "tile missing a band": (Fault.corrupt_payload("bands"), 1),
}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.fault(f"fetch: {name}"), id=name)
                                  for name in FAULTS])
def test_fetch_survives_earth_engine_faults(fake, reference, tmp_path, name):
    faults, times = FAULTS[name]
    faults = faults if isinstance(faults, list) else [faults]
    fake.clear_faults()
    before = len(fake.requests_to("computePixels"))
    for f in faults:
        fake.inject(f, times=times)
    out = str(tmp_path / "gee")
    res = _fetch(fake, out, timeout=2.0 if name.startswith("hanging") else 60.0)
    injected = times * len(faults)
    assert res.retries == injected  # a hanging answer is a retry only if the client gave up on it
    assert len(fake.requests_to("computePixels")) - before == 4 + injected
    assert res.tiles_fetched == 4 and res.tiles_from_cache == 0
    _same_fetch(out, reference)  # detected, refetched: the files are those of an undisturbed run
    assert _leftovers(out) == [] and not os.path.exists(os.path.join(out, ".cache"))


@pytest.mark.parametrize("name, fault, kind, fragment", [
    pytest.param(name, fault, kind, fragment, marks=pytest.mark.fault(f"fetch: {name}"), id=name)
    for name, fault, kind, fragment in [
        ("Earth Engine down (503 on every request)", Fault.http(503), "server",
         "The service is currently unavailable."),
        ("Earth Engine hanging on every request", Fault.slow(8.0), "network", "could not be reached"),
    ]])
def test_fetch_that_cannot_succeed_fails_cleanly_then_resumes(fake, reference, tmp_path, name, fault, kind, fragment):
    """A persistent fault ends the run with the reason; a rerun keeps the tiles already fetched."""
    fake.clear_faults()
    fake.inject(Fault.ok(), times=1)  # the first tile gets through ...
    fake.inject(fault, times=None)  # ... then every request fails
    out = str(tmp_path / "gee")
    with pytest.raises(GeeError) as err:
        _fetch(fake, out, workers=1, timeout=2.0, retry=RetryPolicy(max_attempts=2, base=0.01, cap=0.02))
    assert err.value.kind == kind and fragment in str(err.value)
    assert _finals(out) == [] and _leftovers(out) == []  # nothing under a final name, no manifest
    assert len(glob.glob(os.path.join(out, ".cache", "*", "*.npy"))) == 1  # the finished tile is kept
    fake.clear_faults()
    res = _fetch(fake, out)
    assert res.tiles_from_cache == 1 and res.tiles_fetched == 3
    _same_fetch(out, reference)
    assert _leftovers(out) == []


FETCH_CHILD = """
import json, sys
from smdownscale.algorithms.gee.fetch import fetch
from smdownscale.algorithms.gee.request import Connection, FetchOptions, FetchRequest
from smdownscale.algorithms.gee.transport import RetryPolicy
a = json.loads(sys.argv[1])
fetch(FetchRequest(tuple(a["area"]), a["start"], a["end"], "daily", a["factors"]), a["out"],
      FetchOptions(workers=1, retry=RetryPolicy(base=0.01, cap=0.02)), Connection(a["project"], url=a["url"]))
print("finished")
"""


@pytest.mark.fault("fetch: process killed (SIGKILL) mid-run, rerun")
def test_fetch_killed_mid_run_resumes_and_matches_an_undisturbed_run(fake, reference, tmp_path, reliability):
    fake.clear_faults()
    fake.inject(Fault.slow(0.6), times=None)  # slow tiles, so the kill lands mid-run
    out = str(tmp_path / "gee")
    proc = _child(FETCH_CHILD, json.dumps({"area": AREA, "start": DATES[0], "end": DATES[-1], "factors": FACTORS,
                                           "project": fake.project, "url": fake.url, "out": out}))
    try:
        _wait_for(os.path.join(out, ".cache", "*", "*.npy"), proc)  # the first tile is done
        time.sleep(0.2)
    finally:
        _kill(proc)
    fake.clear_faults()
    # what the killed run left under final names is complete (an image, never a piece of one)
    incomplete = [rel for rel in _finals(out) if not _complete(os.path.join(out, rel), os.path.join(reference, rel))]
    if incomplete:
        reliability.data_loss(f"fetch killed: incomplete under a final name: {', '.join(incomplete)}")
    assert "manifest.json" not in _finals(out)
    stale = _leftovers(out)
    res = _fetch(fake, out)
    assert res.tiles_from_cache >= 1 and res.tiles_from_cache + res.tiles_fetched == 4  # resumed
    _same_fetch(out, reference)
    assert _leftovers(out) == [], f"stale temporary files survived the rerun (before: {stale})"


# -- a process killed during downscale -------------------------------------------------------------

UTM = srs_from_user("EPSG:32650").ExportToWkt()
FINE = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), 60, 48)
COARSE = Grid(UTM, (396500.0, 9000.0, 0.0, 4602500.0, 0.0, -9000.0), 8, 6)


@pytest.fixture(scope="module")
def ds_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ds_inputs")
    rng = np.random.default_rng(3)
    x = np.column_stack([rng.uniform(0, 1, 300), rng.uniform(270, 320, 300)])
    y = 0.05 + 0.3 * x[:, 0] - 0.003 * (x[:, 1] - 270)
    model = str(folder / "rf.smdmodel")
    model_io.save_model(model, RandomForestRegressor(n_estimators=5, random_state=0, n_jobs=1).fit(x, y),
                        {"features": ["ndvi", "lst"], "model_type": "rf",
                         "factors": [{"name": "ndvi", "kind": "continuous", "classes": []},
                                     {"name": "lst", "kind": "continuous", "classes": []}]})
    ndvi = rng.uniform(0, 1, (FINE.height, FINE.width))
    ndvi[5:9, 10:20] = np.nan
    stack = str(folder / "factors_20230601.tif")
    write_raster(stack, FINE, np.stack([ndvi, rng.uniform(270, 320, ndvi.shape)]), names=["ndvi", "lst"])
    smap = str(folder / "smap_20230601.tif")
    write_raster(smap, COARSE, rng.uniform(0.1, 0.4, (COARSE.height, COARSE.width)))
    ref = str(folder / "reference" / "sm_1km.tif")
    downscale(model, stack, ref, smap, block_rows=4, n_jobs=1)
    return {"model": model, "stack": stack, "smap": smap, "reference": ref}


DOWNSCALE_CHILD = """
import json, sys, time
from smdownscale.algorithms.downscale import downscale
a = json.loads(sys.argv[1])
downscale(a["model"], a["stack"], a["out"], a["smap"], block_rows=4, n_jobs=1, progress=lambda f: time.sleep(0.05))
print("finished")
"""


@pytest.mark.parametrize("phase, temp", [
    pytest.param(phase, temp, marks=pytest.mark.fault(f"downscale: process killed (SIGKILL) in the {phase}, rerun"),
                 id=phase) for phase, temp in [("prediction pass", "raw"), ("residual correction pass", "partial")]])
def test_downscale_killed_mid_run_keeps_the_old_result_and_reruns_cleanly(ds_inputs, tmp_path, phase, temp,
                                                                          reliability):
    out = str(tmp_path / "sm_1km.tif")
    shutil.copy(ds_inputs["smap"], out)  # an earlier good result under the output name
    with reliability.watch(out, label=f"downscale killed in the {phase}: the earlier result"):
        proc = _child(DOWNSCALE_CHILD, json.dumps({**ds_inputs, "out": out}))
        try:
            _wait_for(str(tmp_path / f".sm_1km.{temp}-*"), proc)
            time.sleep(0.1)
        finally:
            _kill(proc)
    assert glob.glob(str(tmp_path / f".sm_1km.{temp}-*"))  # a SIGKILL leaves its temporary file ...
    res = downscale(ds_inputs["model"], ds_inputs["stack"], out, ds_inputs["smap"], block_rows=4, n_jobs=1)
    assert _leftovers(tmp_path) == []  # ... which the rerun removes (its process is gone)
    assert res.n_valid > 0 and _same_raster(out, ds_inputs["reference"])  # identical to an undisturbed run
    assert sorted(os.listdir(tmp_path)) == ["sm_1km.tif"]


def test_partials_of_live_processes_are_never_removed(tmp_path):
    out = str(tmp_path / "sm.tif")
    mine = raster.partial_name(out)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        theirs = os.path.join(tmp_path, f".sm.partial-{sleeper.pid}-0123abcd.tif")
        dead = os.path.join(tmp_path, ".sm.raw-999999999-89abcdef.tif")  # above any pid_max: never alive
        other = os.path.join(tmp_path, ".other.partial-999999999-89abcdef.tif")
        for p in (mine, theirs, dead, dead + ".aux.xml", other):
            open(p, "w").close()
        assert sorted(raster.remove_stale_partials(out)) == sorted([dead, dead + ".aux.xml"])
        assert all(os.path.exists(p) for p in (mine, theirs, other))
    finally:
        sleeper.kill()
        sleeper.wait()


# -- disk full --------------------------------------------------------------------------------------

class _FullDisk:
    """gdal.Band.WriteArray failing as GDAL does on a full disk, after ``after`` successful calls."""

    def __init__(self, after: int = 0, message: str = "_tiffWriteProc:No space left on device") -> None:
        self.after = after
        self.calls = 0
        self.message = message
        self.real = gdal.Band.WriteArray

    def install(self, monkeypatch) -> _FullDisk:
        def write_array(band, *args, **kwargs):
            self.calls += 1
            if self.calls > self.after:
                raise RuntimeError(self.message)
            return self.real(band, *args, **kwargs)

        monkeypatch.setattr(gdal.Band, "WriteArray", write_array)
        return self


def _no_space(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture(scope="module")
def pair_scene(tmp_path_factory):
    return make_scene(str(tmp_path_factory.mktemp("pairs")), dates=("2023-06-01",))


@pytest.mark.fault("align: disk full while writing")
def test_disk_full_while_aligning(tmp_path, monkeypatch):
    src = str(tmp_path / "in" / "ndvi.tif")
    write_raster(src, FINE, np.random.default_rng(0).random((FINE.height, FINE.width)))
    _FullDisk(after=0).install(monkeypatch)
    out = str(tmp_path / "out" / "factors.tif")
    with pytest.raises(InputError) as err:
        align.align_rasters([src], FINE, out)
    assert str(err.value) == (f"No space left on device: free disk space in {tmp_path / 'out'} (or choose an output "
                              "folder on another disk) and run again; factors.tif was not written.")
    assert os.listdir(tmp_path / "out") == []


@pytest.mark.parametrize("after, phase", [
    pytest.param(after, phase, marks=pytest.mark.fault(f"downscale: disk full in the {phase}"), id=phase)
    for after, phase in [(0, "prediction pass"), (FINE.height // 4 + 1, "correction pass")]])
def test_disk_full_while_downscaling(ds_inputs, tmp_path, monkeypatch, after, phase):
    out = str(tmp_path / "sm_1km.tif")
    full = _FullDisk(after=after).install(monkeypatch)
    with pytest.raises(InputError, match=DISK_FULL) as err:
        downscale(ds_inputs["model"], ds_inputs["stack"], out, ds_inputs["smap"], block_rows=4, n_jobs=1)
    assert "sm_1km.tif was not written" in str(err.value)
    assert full.calls == after + 1
    assert os.listdir(tmp_path) == []  # neither the output nor the raw prediction stays


@pytest.mark.fault("train: disk full while saving the model")
def test_disk_full_while_saving_a_model(pair_scene, tmp_path, monkeypatch):
    import skops.io as sio

    real_dump = sio.dump

    def dump_half(obj, file, **kwargs):
        real_dump(obj, file, **kwargs)
        with open(file, "r+b") as fh:  # the archive got half written ...
            fh.truncate(os.path.getsize(file) // 2)
        raise OSError(errno.ENOSPC, "No space left on device", file)  # ... when the disk filled up

    monkeypatch.setattr(sio, "dump", dump_half)
    out = str(tmp_path / "model.smdmodel")
    with pytest.raises(InputError, match=DISK_FULL):
        train.train_model(train.TrainRequest(pair_scene["sm"], pair_scene["stacks"], out, "cart", cv_folds=0))
    assert os.listdir(tmp_path) == []


@pytest.mark.fault("screen/validate: disk full while writing the CSV")
def test_disk_full_while_writing_tables(pair_scene, tmp_path, monkeypatch):
    class FullWriter:
        def __init__(self, fh, *a, **k):
            self.rows = 0

        def writerow(self, row):
            self.rows += 1
            if self.rows > 1:
                _no_space()

    monkeypatch.setattr(screen.csv, "writer", FullWriter)
    out = str(tmp_path / "screen.csv")
    with pytest.raises(InputError, match=DISK_FULL):
        screen.screen_factors(pair_scene["sm"], pair_scene["stacks"], output_csv=out)
    est = pair_scene["sm"][0]
    other = os.path.join(os.path.dirname(est), "reference", os.path.basename(est))  # not the estimate itself
    os.makedirs(os.path.dirname(other), exist_ok=True)
    shutil.copy(est, other)
    with pytest.raises(InputError, match=DISK_FULL):
        validate.validate(est, reference=other, output_csv=str(tmp_path / "metrics.csv"))
    assert os.listdir(tmp_path) == []


@pytest.mark.fault("fetch: disk full while writing, rerun after freeing space")
def test_disk_full_during_fetch_then_resume(fake, reference, tmp_path, monkeypatch):
    fake.clear_faults()
    _FullDisk(after=1).install(monkeypatch)  # the first image is written, the second fails
    out = str(tmp_path / "gee")
    with pytest.raises(InputError, match=DISK_FULL):
        _fetch(fake, out, workers=1)
    assert _finals(out) == [] and _leftovers(out) == []
    monkeypatch.undo()
    res = _fetch(fake, out)
    assert res.tiles_from_cache == 2  # the tiles downloaded before the disk filled up are reused
    _same_fetch(out, reference)


LIMITED_CHILD = """
import json, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes beyond the limit fail (EFBIG) instead of killing
from smdownscale.algorithms import align
from smdownscale.algorithms.raster import Grid
a = json.loads(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (a["limit"], a["limit"]))
try:
    align.align_rasters([a["src"]], Grid.from_path(a["src"]), a["out"])
except Exception as exc:
    print(type(exc).__name__ + ": " + str(exc))
"""


@pytest.mark.fault("align: the system refuses a write (file size limit)")
def test_real_write_failure_in_gdal_leaves_no_file(tmp_path):
    """The operating system refuses a write (file size limit): GDAL's error becomes a clear message."""
    big = Grid(UTM, (400000.0, 100.0, 0.0, 4600000.0, 0.0, -100.0), 600, 600)
    src = str(tmp_path / "in" / "noise.tif")
    write_raster(src, big, np.random.default_rng(0).random((2, 600, 600)), names=["a", "b"])
    out = str(tmp_path / "out" / "factors.tif")
    proc = _child(LIMITED_CHILD, json.dumps({"src": src, "out": out, "limit": 300_000}))
    text, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, text
    # libtiff of GDAL 3.10+ prints its own lines ("_tiffWriteProc: File too large.") before the child's
    text = text[text.index("InputError: "):] if "InputError: " in text else text
    assert text.startswith(f"InputError: Writing factors.tif in {tmp_path / 'out'} failed ("), text
    assert "May be caused by" not in text
    assert "check that the disk has free space and works, or choose another output folder." in text
    assert os.listdir(tmp_path / "out") == []
