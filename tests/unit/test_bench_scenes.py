"""bench/scenes.py: the accuracy bench's mosaic scenes (a physics and layout unlike the sample generator's)."""

from __future__ import annotations

import glob
import json
import os
import sys

import numpy as np
import pytest

from smdownscale.algorithms import raster

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import scenes  # noqa: E402


def _read(folder, sub, pattern):
    return [raster.read_all(p, dtype=np.float64)[0] for p in sorted(glob.glob(os.path.join(folder, sub, pattern)))]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    base = tmp_path_factory.mktemp("mosaic")
    out = {}
    for name, seed, ph in (("a", 5, scenes.MosaicPhysics(wet_date=True, smap_bias=1.25, smap_error=0.0)),
                           ("a2", 5, scenes.MosaicPhysics(wet_date=True, smap_bias=1.0, smap_error=0.0)),
                           ("b", 6, scenes.MosaicPhysics(coarse="geo")),
                           ("clean", 5, scenes.MosaicPhysics(wet_date=True, smap_bias=1.25, smap_error=0.0,
                                                             speckle_looks=0.0))):
        folder = str(base / name)
        out[name] = (folder, scenes.make_mosaic(folder, seed, size_km=45, n_dates=3, physics=ph))
    return out


def test_layout_and_grids(made):
    folder, meta = made["a"]
    assert meta["generator"] == "bench:mosaic" and len(meta["dates"]) == 3
    lc = raster.read_all(os.path.join(folder, "static", "landcover.tif"))[0]
    codes = set(np.unique(lc[np.isfinite(lc)]).astype(int).tolist())
    assert codes <= set(scenes.WORLDCOVER) and {30, 40, 80} <= codes  # ESA WorldCover codes
    ds = raster.open_raster(os.path.join(folder, "static", "landcover.tif"))
    assert raster.band_kinds(ds) == ["categorical"]
    ds = None
    fine = raster.Grid.from_path(os.path.join(folder, "static", "elevation.tif"))
    prec = raster.Grid.from_path(glob.glob(os.path.join(folder, "dynamic", "precipitation_*.tif"))[0])
    assert prec.res == (5000.0, 5000.0)
    assert prec.transform[0] == fine.transform[0] - 2300.0 and prec.transform[3] == fine.transform[3] + 1700.0
    ease = raster.Grid.from_path(glob.glob(os.path.join(folder, "smap", "*.tif"))[0])
    assert ease.res[0] == pytest.approx(9008.055210146) and "6933" in ease.srs.GetAuthorityCode(None)
    geo = raster.Grid.from_path(glob.glob(os.path.join(made["b"][0], "smap", "*.tif"))[0])
    assert geo.res == pytest.approx((0.1, 0.1)) and geo.srs.GetAuthorityCode(None) == "4326"
    # not aligned: the fine grid's origin is not on a coarse cell edge
    x0 = fine.extent_in(ease.crs_wkt)[0]
    assert abs(((x0 - ease.transform[0]) / ease.res[0]) % 1.0 - 0.5) < 0.49


def test_deterministic_by_seed_and_different_between_seeds(made, tmp_path):
    folder, _ = made["a"]
    again = str(tmp_path / "again")
    scenes.make_mosaic(again, 5, size_km=45, n_dates=3,
                       physics=scenes.MosaicPhysics(wet_date=True, smap_bias=1.25, smap_error=0.0))
    for sub, pat in (("truth", "*.tif"), ("smap", "*.tif"), ("dynamic", "vv_*.tif")):
        for x, y in zip(_read(folder, sub, pat), _read(again, sub, pat)):
            np.testing.assert_array_equal(x, y)
    other = _read(made["b"][0], "truth", "*.tif")[0]
    assert not np.allclose(np.nan_to_num(other), np.nan_to_num(_read(folder, "truth", "*.tif")[0]))


def test_wet_date_bias_irrigation_and_speckle(made):
    folder, meta = made["a"]
    means = [s["truth_mean"] for s in meta["stats"]]
    assert means[-1] > max(means[:-1]) + 0.02  # the soaking date is wetter than every other date
    assert all(0.15 < s["irrigated_share_of_cropland"] < 0.6 for s in meta["stats"])
    biased = _read(folder, "smap", "*.tif")
    plain = _read(made["a2"][0], "smap", "*.tif")
    for b, p in zip(biased, plain):
        ok = np.isfinite(p)
        assert ok.sum() > 10
        np.testing.assert_allclose(b[ok], 1.25 * p[ok], rtol=1e-6)  # a multiplicative bias, nothing else
    # the coarse product is the area mean: within each cell it lies inside the truth's range
    truth = _read(made["a2"][0], "truth", "*.tif")[0]
    assert np.nanmin(truth) <= np.nanmin(plain[0]) and np.nanmax(plain[0]) <= np.nanmax(truth)
    # speckle: multiplicative gamma noise of 4.4 looks in linear power, about 2.2 dB in dB, mean -0.5 dB
    speckle = _read(folder, "dynamic", "vv_*.tif")[0] - _read(made["clean"][0], "dynamic", "vv_*.tif")[0]
    assert float(np.std(speckle)) == pytest.approx(2.2, abs=0.15)
    assert float(np.mean(speckle)) == pytest.approx(-0.5, abs=0.15)
    with open(os.path.join(folder, "scene.json"), encoding="utf-8") as fh:
        assert json.load(fh)["physics"]["smap_bias"] == 1.25
