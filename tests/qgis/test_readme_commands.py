"""Every qgis_process command of the README, taken from README.md and run as written through the real
qgis_process of the QGIS under test (3.22 on the host, 3.40 and 3.44 in `make test-qgis-versions`).

Only the data folder differs: ``/data/`` becomes a temporary folder. The commands run in README order, each
code block as one shell script, so later commands use what earlier ones wrote.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from smdownscale.algorithms import metrics, raster
from smdownscale.algorithms.model_io import read_meta

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from qgisproc import QgisProcess  # noqa: E402

README = os.path.join(ROOT, "README.md")
#: Commands that need Earth Engine (a Cloud project and a sign-in); not run here.
EARTH_ENGINE = ("smdownscale:fetchgee", "smdownscale:downscalegee")
#: The no-Earth-Engine chain (importsmap, then screen, train, downscale, validate): run by
#: test_earthdata_readme_commands_run_against_the_fake_earthdata with granules, MODIS files and stations made here.
EARTHDATA = ("smdownscale:importsmap",)


def readme_blocks() -> list[str]:
    """The README's code blocks that call qgis_process, in order."""
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M)
    return [b for b in blocks if "qgis_process" in b]


def commands(block: str) -> list[str]:
    """The qgis_process commands of a block, continuation lines joined."""
    return [line.strip() for line in block.replace("\\\n", " ").splitlines() if "qgis_process" in line]


def algorithm(command: str) -> str:
    return re.search(r"\brun\s+(\S+)", command).group(1)


def test_readme_commands_cover_every_algorithm():
    algs = [algorithm(c) for b in readme_blocks() for c in commands(b)]
    assert {"smdownscale:sampledata", "smdownscale:align", "smdownscale:screen", "smdownscale:train",
            "smdownscale:downscale", "smdownscale:validate", "smdownscale:workflow"} <= set(algs)
    assert set(EARTH_ENGINE) <= set(algs)


def test_readme_commands_use_the_parameter_syntax_every_qgis_reads():
    """QGIS 3.22 silently ignores repeated parameters written --NAME=value after '--'."""
    for block in readme_blocks():
        for command in commands(block):
            assert command.startswith("qgis_process.bin run smdownscale:"), command
            tail = command.split(" -- ", 1)[1]
            assert not re.search(r"(^|\s|')--[A-Za-z_]+=", tail), command


@pytest.mark.slow
def test_local_readme_commands_run_as_written(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    qp = QgisProcess(str(tmp_path / "qgis"))
    env = qp.shell_env(str(tmp_path / "bin"))
    ran = []
    for block in readme_blocks():
        if any(algorithm(c) in EARTH_ENGINE + EARTHDATA for c in commands(block)):
            continue
        if block.startswith("cd /data/xilingol"):  # works on what fetchgee wrote: run with the Earth Engine ones
            continue
        scripts = [block]
        if "smdownscale:align" in block:  # screen and train take two dates: align the second one the same way
            scripts.append(block.replace("20230601", "20230609"))
        for script in scripts:
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script.replace("/data/", f"{data}/")],
                                  cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=900)
            assert proc.returncode == 0, \
                f"{script}\nexit {proc.returncode}\n{proc.stderr[-3000:]}\n{proc.stdout[-2000:]}"
            ran += [algorithm(c) for c in commands(script)]
    assert ran == ["smdownscale:sampledata", "smdownscale:align", "smdownscale:align", "smdownscale:screen",
                   "smdownscale:train", "smdownscale:downscale", "smdownscale:validate", "smdownscale:workflow"]

    # what the commands wrote, by value
    stack = data / "factors_20230601.tif"
    assert raster.band_names(raster.open_raster(str(stack))) == ["elevation", "slope", "landcover", "ndvi",
                                                                 "lst_day", "precipitation"]
    with open(data / "screening.csv", newline="") as fh:
        assert {r["factor"] for r in csv.DictReader(fh)} >= {"ndvi", "lst_day", "precipitation", "slope"}
    meta = read_meta(str(data / "model_rf.smdmodel"))
    assert [f["name"] for f in meta["factors"]] == ["ndvi", "lst_day", "precipitation", "slope"]
    sm = raster.read_all(str(data / "sm_1km_20230601.tif"))[0].astype(np.float64)
    truth = raster.read_all(str(data / "sample" / "truth" / "truth_20230601.tif"))[0].astype(np.float64)
    expected = metrics.metrics(sm, truth)
    with open(data / "validation_20230601.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert int(row["n"]) == expected["n"] > 30000
    assert float(row["r"]) == pytest.approx(expected["r"], abs=1e-6) and expected["r"] > 0.8
    # a complete map: the sample's cloud gaps are filled and flagged in the QUALITY raster
    quality = raster.read_all(str(data / "quality_20230601.tif"))[0]
    known = np.isfinite(truth)
    assert np.isfinite(sm[known]).all() and (quality[known] == 2).sum() > 100
    assert set(np.unique(quality[known]).tolist()) <= {1.0, 2.0, 3.0}
    with open(data / "validation_20230601.csv", newline="") as fh:
        by_source = {r["source"]: r for r in csv.DictReader(fh)}
    filled = known & (quality == 2)
    assert int(by_source["reference:filled"]["n"]) == int(filled.sum())
    assert float(by_source["reference:filled"]["r"]) == pytest.approx(metrics.metrics(sm[filled], truth[filled])["r"],
                                                                      abs=1e-6)
    for name in ("sm_1km.tif", "model.smdmodel", "screen.csv", "validation.csv"):  # the workflow model's outputs
        assert (data / name).stat().st_size > 0



def plausible(x, y, band):
    """Smooth fields in physical ranges, the fake server's pixel values."""
    wave = np.sin(np.asarray(x, dtype=np.float64) / 14000.0) * np.cos(np.asarray(y, dtype=np.float64) / 19000.0)
    return (0.22 + 0.12 * wave + 0.05 * band).astype(np.float32)


@pytest.mark.slow
def test_earth_engine_readme_commands_run_against_the_fake_server(tmp_path):
    """The fetchgee example and the training on what it wrote, with the fake Earth Engine on 127.0.0.1 standing
    in for Earth Engine and a no-op `earthengine` for the sign-in. (The downscalegee example starts 92 export
    tasks polled every 30 s: its parameters are checked by the test above, its runs by test_downscalegee.)"""
    from smdownscale.tests.fake_ee import FakeEarthEngine

    data = tmp_path / "data"
    data.mkdir()
    qp = QgisProcess(str(tmp_path / "qgis"))
    env = qp.shell_env(str(tmp_path / "bin"))
    stub = tmp_path / "bin" / "earthengine"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    blocks = [b for b in readme_blocks() if "smdownscale:fetchgee" in b or b.startswith("cd /data/xilingol")]
    assert len(blocks) == 2
    with FakeEarthEngine(project="my-ee-project", value_fn=plausible) as fake:
        env["SMDOWNSCALE_EE_URL"] = fake.url
        for script in blocks:
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script.replace("/data/", f"{data}/")],
                                  cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=900)
            assert proc.returncode == 0, \
                f"{script}\nexit {proc.returncode}\n{proc.stderr[-3000:]}\n{proc.stdout[-2000:]}"
    # what the README says the example writes: five 8-day steps, about 82 x 53 SMAP cells of the asset's grid
    # (the fake serves L4 on 0.1 degree cells), about 790 x 490 px at 1 km
    folder = data / "xilingol_2023_07"
    days = ["20230701", "20230704", "20230712", "20230720", "20230728"]
    assert sorted(f for f in os.listdir(folder / "smap") if f.endswith(".tif")) == [f"smap_{d}.tif" for d in days]
    assert sorted(f for f in os.listdir(folder / "factors") if f.endswith(".tif")) == \
        [f"factors_{d}.tif" for d in days]
    smap, stack = raster.Grid.from_path(str(folder / "smap" / "smap_20230701.tif")), \
        raster.Grid.from_path(str(folder / "factors" / "factors_20230701.tif"))
    assert (smap.width, smap.height) == (82, 53), (smap.width, smap.height)
    assert abs(stack.width - 790) <= 15 and abs(stack.height - 490) <= 15, (stack.width, stack.height)
    assert raster.band_names(raster.open_raster(str(folder / "factors" / "factors_20230701.tif"))) == [
        "ndvi", "lst_day", "lst_night", "elevation", "slope", "vv", "vh", "precipitation", "landcover"]
    assert (folder / "manifest.json").is_file()
    assert len(read_meta(str(folder / "model_rf.smdmodel"))["dates"]) == 5


# -- the chain without Earth Engine: fields the inputs are sampled from (lon, lat in degrees; day of July 2023)
def _ndvi(lon, lat):
    return 0.45 + 0.2 * np.sin(lon * 40.0) * np.cos(lat * 35.0)


def _lst(lon, lat, day):
    return 305.0 + 6.0 * np.cos(lon * 25.0 + lat * 10.0) + 1.5 * day


def _truth(lon, lat, day):
    return 0.05 + 0.4 * _ndvi(lon, lat) - 0.006 * (_lst(lon, lat, day) - 305.0) + 0.005 * day


STATION_DAYS = (1, 2, 3, 4)


def _earthdata_inputs(data, served_dir):
    """SMAP L4 granules (to be served by the fake), MODIS LST/NDVI as AppEEARS GeoTIFF layers, an elevation
    GeoTIFF and ISMN stations, all sampled from the fields above."""
    import datetime as dt

    from smdownscale.tests import modis_files as mf
    from smdownscale.tests import nsidc

    lon0, lat0, lon1, lat1 = 115.2, 41.2, 116.8, 42.8
    lat_c, lon_c = nsidc.cell_centres("M09")
    r0, c0 = nsidc.cell_of(lat1, lon0)
    r1, c1 = nsidc.cell_of(lat0, lon1)
    dlon = float(lon_c[1] - lon_c[0])
    granules = []
    for day in STATION_DAYS:
        cells = {}
        for r in range(r0, r1 + 1):
            dlat = float(lat_c[r - 1] - lat_c[r + 1]) / 2
            sub = np.linspace(-0.4, 0.4, 5)
            for c in range(c0, c1 + 1):
                lo, la = np.meshgrid(lon_c[c] + sub * dlon, lat_c[r] + sub * dlat)
                cells[(r, c)] = float(_truth(lo, la, day).mean())  # the cell's mean
        for hour in (1, 4):
            granules.append(nsidc.write_l4(str(served_dir), dt.datetime(2023, 7, day, hour, 30), cells))
    gt, w, h = mf.grid_for(lon0, lat0, lon1, lat1)
    lon, lat = mf.centres(gt, w, h)
    modis = data / "modis"
    modis.mkdir()
    for day in STATION_DAYS:
        qc = np.zeros((h, w), np.uint8)
        if day == 3:
            qc[(lon > 116.2) & (lat > 42.2)] = 0b10  # a cloud: LST not produced there
        mf.write_geotiff(str(modis), "MOD11A1", "LST_Day_1km", dt.date(2023, 7, day), gt,
                         np.round(_lst(lon, lat, day) / 0.02).astype(np.uint16))
        mf.write_geotiff(str(modis), "MOD11A1", "QC_Day", dt.date(2023, 7, day), gt, qc)
    mf.write_geotiff(str(modis), "MOD13A2", "1 km 16 days NDVI", dt.date(2023, 6, 26), gt,
                     np.round(_ndvi(lon, lat) * 10000).astype(np.int16))
    mf.write_geotiff(str(modis), "MOD13A2", "1 km 16 days pixel reliability", dt.date(2023, 6, 26), gt,
                     np.zeros((h, w), np.int16))
    (data / "static").mkdir()
    wgs = raster.srs_from_user("EPSG:4326").ExportToWkt()
    grid = raster.Grid.from_extent(wgs, lon0, lat0, lon1, lat1, 0.01)
    gx, gy = grid.centers(0, grid.height)
    raster.write_raster(str(data / "static" / "elevation.tif"), grid,
                        (1200 + 150 * np.sin(gy * 30)).astype(np.float32), names=["elevation"])
    rng = np.random.default_rng(7)
    stations = []
    for i in range(12):
        slon, slat = rng.uniform(115.6, 116.4), rng.uniform(41.6, 42.4)
        folder = data / "ismn" / "SMN-SDR" / f"S{i}"
        folder.mkdir(parents=True)
        lines = [f"SMN-SDR    SMN-SDR    S{i}    {slat:.5f}   {slon:.5f}  1300.00    0.00    0.05 ECH2O 5TE"]
        for day in STATION_DAYS:
            value = float(_truth(slon, slat, day))
            lines += [f"2023/07/{day:02d} 00:00   {value - 0.002:.4f} G M",
                      f"2023/07/{day:02d} 12:00   {value + 0.002:.4f} G M"]
        (folder / f"SMN-SDR_SMN-SDR_S{i}_sm_0.000000_0.050000_5TE_20230701_20230704.stm").write_text(
            "\n".join(lines) + "\n")
        stations.append((slon, slat))
    return granules, stations


@pytest.mark.slow
def test_earthdata_readme_commands_run_against_the_fake_earthdata(tmp_path):
    """The two no-Earth-Engine blocks as written: importsmap searching and downloading the granules (login from a
    netrc file, earthaccess against the fake CMR and Earthdata Login), then the chain from the downloaded granules,
    MODIS layers and elevation to a 1 km map validated against ISMN stations."""
    import datetime as dt

    from smdownscale.algorithms.manifest import read_manifest
    from smdownscale.tests.fake_earthdata import FakeEarthdata, FakeGranule

    data = tmp_path / "data"
    data.mkdir()
    served_dir = tmp_path / "served"
    served_dir.mkdir()
    granules, stations = _earthdata_inputs(data, served_dir)
    served = []
    for path in granules:
        with open(path, "rb") as fh:
            stamp = re.search(r"_(\d{8}T\d{6})_", os.path.basename(path)).group(1)
            served.append(FakeGranule("SPL4SMGP", "008", dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S"),
                                      os.path.basename(path), fh.read()))
    qp = QgisProcess(str(tmp_path / "qgis"))
    env = qp.shell_env(str(tmp_path / "bin"))
    blocks = [b for b in readme_blocks() if "smdownscale:importsmap" in b]
    assert len(blocks) == 2 and "DOWNLOAD=true" in blocks[0] and "smdownscale:validate" in blocks[1]
    netrc = tmp_path / "netrc"
    with FakeEarthdata(served, token="readme-edl-token", users={"readme-user": "readme-pass"}) as fake:
        netrc.write_text(f"machine {fake.EDL_HOST} login readme-user password readme-pass\n")
        netrc.chmod(0o600)
        for name in ("EARTHDATA_TOKEN", "EARTHDATA_USERNAME", "EARTHDATA_PASSWORD"):
            env.pop(name, None)
        env.update(fake.proxy_env(), NETRC=str(netrc), SMDOWNSCALE_CMR_URL=fake.url)
        for script in blocks:
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script.replace("/data/", f"{data}/")],
                                  cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=900)
            assert proc.returncode == 0, \
                f"{script}\nexit {proc.returncode}\n{proc.stderr[-3000:]}\n{proc.stdout[-2000:]}"
        assert len(fake.requests_to("/s3/")) == len(served)  # the second block downloads nothing
        assert any(p == "/api/users/find_or_create_token" for p, _ in fake.requests)  # logged in with the netrc
    assert sorted(os.listdir(data / "smap_l4_2023_07")) == sorted(g.name for g in served)
    manifest = read_manifest(str(data / "sdr_2023_07" / "manifest.json"))
    assert [s.date for s in manifest.steps] == ["2023-07-01", "2023-07-02", "2023-07-03", "2023-07-04"]
    stack = raster.open_raster(str(data / "sdr_2023_07" / "factors" / "factors_20230703.tif"))
    assert raster.band_names(stack) == ["elevation", "lst_day", "ndvi"]
    lst3 = raster.read_all(str(data / "sdr_2023_07" / "factors" / "factors_20230703.tif"))[1]
    assert 0.005 < np.isnan(lst3).mean() < 0.2  # the cloud of day 3, and only there
    with open(data / "validation.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert int(row["n"]) == len(stations)
    assert float(row["r"]) > 0.8 and float(row["rmse"]) < 0.03, row
