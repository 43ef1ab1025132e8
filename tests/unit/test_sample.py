"""Sample scene (algorithms/sample.py): grids, determinism, physics, nodata, SMAP = cell mean, errors, cancel."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from osgeo import gdal, osr

from smdownscale.algorithms import grids, raster, sample
from smdownscale.algorithms.errors import Canceled, InputError
from smdownscale.algorithms.raster import Grid

DYN = ("ndvi", "lst_day", "lst_night", "vv", "vh", "precipitation")


def _read(path: str) -> np.ndarray:
    return raster.read_all(path, dtype=np.float64)[0]


def _r(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def _factors(scene: sample.SampleScene, t: int) -> dict[str, np.ndarray]:
    """The relation's factors read back from the files, precipitation resampled to the fine grid."""
    f = {k: _read(scene.paths[k][0]) for k in ("elevation", "slope", "landcover")}
    f.update({k: _read(scene.paths[k][t]) for k in ("ndvi", "lst_day", "lst_night")})
    pgrid = Grid.from_path(scene.paths["precipitation"][t])
    f["precipitation"] = sample.resample_bilinear(_read(scene.paths["precipitation"][t]), pgrid, scene.fine)
    return f


def _warp_bilinear(path: str, fine: Grid) -> np.ndarray:
    """A raster bilinearly interpolated onto the fine grid with GDAL (for SMAP: the naive downscaling)."""
    ds = gdal.Warp("", path, format="MEM", outputBounds=fine.extent, xRes=1000.0, yRes=1000.0,
                   dstSRS=fine.crs_wkt, resampleAlg="bilinear", srcNodata=raster.NODATA_F32, dstNodata=np.nan)
    return ds.GetRasterBand(1).ReadAsArray().astype(np.float64)


def _band_info(path: str) -> tuple:
    ds = gdal.Open(path)
    band = ds.GetRasterBand(1)
    table = band.GetColorTable()
    return (band.GetDescription(), band.DataType, band.GetNoDataValue(), band.GetUnitType(),
            band.GetMetadataItem(raster.KIND_KEY), raster.band_kinds(ds),
            table.GetColorEntry(30) if table is not None else None, band.GetCategoryNames())


@pytest.fixture(scope="module")
def default_scene(tmp_path_factory):
    """The documented default: seed 42, 200 x 200 km, 4 dates from 2023-06-01 every 8 days."""
    return sample.make_sample(str(tmp_path_factory.mktemp("default") / "scene"))


@pytest.fixture(scope="module")
def exact_scene(tmp_path_factory):
    """Small scene without truth noise and without SMAP error."""
    return sample.make_sample(str(tmp_path_factory.mktemp("exact") / "scene"), seed=3, size_km=48, n_dates=2,
                              noise=0.0, smap_error=0.0)


# -- files, grids -----------------------------------------------------------------------------------

def test_files_bands_and_scene_json(default_scene):
    sc = default_scene
    assert sc.dates == ["2023-06-01", "2023-06-09", "2023-06-17", "2023-06-25"]
    tags = [d.replace("-", "") for d in sc.dates]
    for name in ("elevation", "slope", "landcover"):
        assert sc.paths[name] == [os.path.join(sc.out_dir, "static", f"{name}.tif")]
    for name in DYN:
        assert sc.paths[name] == [os.path.join(sc.out_dir, "dynamic", f"{name}_{t}.tif") for t in tags]
    assert sc.smap_files == [os.path.join(sc.out_dir, "smap", f"smap_{t}.tif") for t in tags]
    assert sc.truth_files == [os.path.join(sc.out_dir, "truth", f"truth_{t}.tif") for t in tags]
    assert len(sc.factor_files) == 3 + 6 * 4 and sc.reference_grid == sc.paths["elevation"][0]
    units = {"elevation": "m", "slope": "degree", "ndvi": "", "lst_day": "K", "lst_night": "K", "vv": "dB",
             "vh": "dB", "precipitation": "mm", "smap": "m3/m3", "truth": "m3/m3"}
    for name, unit in units.items():
        for path in sc.paths[name]:
            assert _band_info(path)[:4] == (name, gdal.GDT_Float32, -9999.0, unit)
    name, dtype, nodata, unit, kind, kinds, color, categories = _band_info(sc.paths["landcover"][0])
    assert (name, dtype, nodata, kind, kinds) == ("landcover", gdal.GDT_Byte, 255, "categorical", ["categorical"])
    assert color[:3] == (0, 100, 0)
    assert [categories[c] for c in (10, 20, 30, 40, 50, 80)] == [
        "cropland", "grassland", "forest", "barren/sparse", "shrub", "water"]
    lc = _read(sc.paths["landcover"][0])
    assert set(np.unique(lc)) == {10.0, 20.0, 30.0, 40.0, 50.0, 80.0}
    assert 0.5 < (lc == 20).mean() < 0.7 and 0.001 < (lc == 80).mean() < 0.05
    with open(os.path.join(sc.out_dir, "scene.json"), encoding="utf-8") as fh:
        meta = json.load(fh)
    assert meta["seed"] == 42 and meta["size_km"] == 200 and meta["dates"] == sc.dates
    assert sorted(os.path.join(sc.out_dir, *f.split("/")) for f in meta["files"]) == sorted(
        sc.factor_files + sc.smap_files + sc.truth_files)
    assert meta["relation"]["b_ndvi"] > 0 and meta["relation"]["b_lst"] < 0 and meta["relation"]["b_slope"] < 0
    assert meta["physics"]["noise"] == 0.015 and meta["physics"]["smap_error"] == 0.004
    assert meta["grids"]["coarse"]["width"] == sc.coarse.width
    assert not [n for n in os.listdir(sc.out_dir) if n.startswith(".")]  # no staging left


def test_grids(default_scene):
    fine, coarse = default_scene.fine, default_scene.coarse
    assert fine.srs.IsSame(raster.srs_from_user(sample.ALBERS_CHINA))
    assert (fine.width, fine.height, fine.res) == (200, 200, (1000.0, 1000.0))
    assert fine.transform[0] % 1000 == 0 and fine.transform[3] % 1000 == 0
    assert Grid.from_path(default_scene.truth_files[0]).same_as(fine)
    geo = raster.srs_from_user("EPSG:4326")
    cx, cy = (fine.extent[0] + fine.extent[2]) / 2, (fine.extent[1] + fine.extent[3]) / 2
    lon, lat, _ = osr.CoordinateTransformation(fine.srs, geo).TransformPoint(cx, cy)
    assert abs(lon - 116.0) < 0.02 and abs(lat - 43.5) < 0.02

    assert coarse.srs.IsSame(raster.srs_from_user("EPSG:6933"))
    assert Grid.from_path(default_scene.smap_files[0]).same_as(coarse)
    assert coarse.res == pytest.approx((9008.055210146, 9008.055210146), abs=1e-9)
    col = (coarse.transform[0] - grids.EASE_X0) / grids.EASE_CELL
    row = (grids.EASE_Y0 - coarse.transform[3]) / grids.EASE_CELL
    assert abs(col - round(col)) < 1e-6 and abs(row - round(row)) < 1e-6  # on the global EASE lattice
    assert 0 <= round(col) and round(col) + coarse.width <= 3856
    assert 0 <= round(row) and round(row) + coarse.height <= 1624
    ex = fine.extent_in(coarse.crs_wkt)
    cxmin, cymin, cxmax, cymax = coarse.extent
    cell = grids.EASE_CELL
    assert cxmin <= ex[0] < cxmin + cell and cxmax - cell < ex[2] <= cxmax  # smallest covering window
    assert cymin <= ex[1] < cymin + cell and cymax - cell < ex[3] <= cymax
    assert (coarse.width, coarse.height) == (31, 21)  # cells are ~7.5 km east-west, ~10.8 km north-south here

    pgrid = Grid.from_path(default_scene.paths["precipitation"][0])
    assert pgrid.srs.IsSame(geo) and pgrid.res == pytest.approx((0.05, 0.05))
    assert abs(pgrid.transform[0] / 0.05 - round(pgrid.transform[0] / 0.05)) < 1e-6
    pe, fe = pgrid.extent, fine.extent_in(pgrid.crs_wkt)
    assert pe[0] < fe[0] and pe[1] < fe[1] and pe[2] > fe[2] and pe[3] > fe[3]


def test_scene_grids_scale_with_size():
    fine, coarse, pgrid = sample.scene_grids(2000)
    assert (fine.width, fine.height) == (2000, 2000)
    assert 250 < coarse.width < 330 and 190 < coarse.height < 230
    assert pgrid.width > 400


# -- determinism ------------------------------------------------------------------------------------

def _all_arrays(scene: sample.SampleScene) -> dict[str, np.ndarray]:
    return {os.path.relpath(p, scene.out_dir): _read(p) for p in scene.factor_files + scene.smap_files
            + scene.truth_files}


def test_deterministic_by_seed(tmp_path):
    a = _all_arrays(sample.make_sample(str(tmp_path / "a"), seed=5, size_km=40, n_dates=2))
    b = _all_arrays(sample.make_sample(str(tmp_path / "b"), seed=5, size_km=40, n_dates=2))
    c = _all_arrays(sample.make_sample(str(tmp_path / "c"), seed=6, size_km=40, n_dates=2))
    one = _all_arrays(sample.make_sample(str(tmp_path / "d"), seed=5, size_km=40, n_dates=1))
    assert a.keys() == b.keys() == c.keys() and len(a) == 3 + 2 * 8
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        assert not np.array_equal(a[key], c[key], equal_nan=True), key
    for key in one:  # the first date does not depend on how many dates follow
        np.testing.assert_array_equal(one[key], a[key], err_msg=key)
    assert not np.array_equal(a["truth/truth_20230601.tif"], a["truth/truth_20230609.tif"], equal_nan=True)


# -- physics ----------------------------------------------------------------------------------------

def test_physically_plausible(default_scene):
    sc = default_scene
    slope = _read(sc.paths["slope"][0])
    elev = _read(sc.paths["elevation"][0])
    assert 850 < np.percentile(elev, 1) and np.percentile(elev, 99) < 1800
    assert 0.5 < np.median(slope) < 2.5 and slope.max() < 20
    means = []
    for t in range(len(sc.dates)):
        truth = _read(sc.truth_files[t])
        f = _factors(sc, t)
        ok = np.isfinite(truth)
        assert truth[ok].min() >= 0.02 - 1e-7 and truth[ok].max() <= 0.50 + 1e-7
        assert 0.13 < truth[ok].mean() < 0.23 and 0.04 < truth[ok].std() < 0.09
        assert _r(truth, f["ndvi"]) > 0.6
        assert _r(truth, f["lst_day"]) < -0.6
        assert _r(truth, f["precipitation"]) > 0.1
        assert _r(truth, slope) < -0.1
        assert _r(truth, _read(sc.paths["vv"][t])) > 0.6
        west, east = np.nanmean(truth[:, :100]), np.nanmean(truth[:, 100:])
        assert east > west + 0.04
        assert 0.15 < np.nanmean(f["ndvi"]) < 0.45 and 295 < np.nanmean(f["lst_day"]) < 310
        assert np.nanmean(f["lst_night"]) < np.nanmean(f["lst_day"]) - 8
        assert -18 < np.nanmean(_read(sc.paths["vv"][t])) < -10
        assert np.nanmean(_read(sc.paths["vh"][t])) < np.nanmean(_read(sc.paths["vv"][t])) - 4
        assert 2 < np.nanmean(f["precipitation"]) < 40
        lc = f["landcover"]
        assert np.nanmean(truth[lc == 10]) > np.nanmean(truth[lc == 20]) > np.nanmean(truth[lc == 40]) + 0.05
        means.append(truth[ok].mean())
    assert 0.15 < np.mean(means) < 0.20  # semi-arid grassland


def test_relation_partial_effects(default_scene):
    with open(os.path.join(default_scene.out_dir, "scene.json"), encoding="utf-8") as fh:
        params = json.load(fh)["relation"]
    f = _factors(default_scene, 0)
    base = sample.generating_relation(f, 0, params, clip=False)

    def delta(name, step, p=params):
        g = dict(f)
        g[name] = f[name] + step
        return np.nanmean(sample.generating_relation(g, 0, p, clip=False) - sample.generating_relation(f, 0, p,
                                                                                                      clip=False))

    assert delta("ndvi", 0.1) == pytest.approx(0.1 * params["b_ndvi"])
    assert delta("precipitation", 10.0) == pytest.approx(params["b_p"])
    assert delta("lst_day", 10.0) == pytest.approx(params["b_lst"] + params["b_dtr"])
    assert delta("lst_night", 10.0) == pytest.approx(-params["b_dtr"])
    assert delta("slope", 5.0) == pytest.approx(params["b_slope"]) and params["b_slope"] < 0
    assert delta("slope", 5.0, {**params, "terrain": 0.0}) == 0.0
    assert delta("slope", 5.0, {**params, "terrain": 2.0}) == pytest.approx(2 * params["b_slope"])
    nl = {**params, "nonlinearity": 1.0}
    wet = {**f, "precipitation": np.full_like(f["precipitation"], 40.0)}
    wetter = {**f, "precipitation": np.full_like(f["precipitation"], 50.0)}
    gain = np.nanmean(sample.generating_relation(wetter, 0, nl, clip=False)
                      - sample.generating_relation(wet, 0, nl, clip=False))
    assert 0 < gain < 0.05 * params["b_p"]  # saturated: rain beyond ~25 mm adds almost nothing
    lc = f["landcover"]
    crop, barren = lc == 10, lc == 40
    g = {**f, "landcover": np.where(crop, 40.0, lc)}
    diff = sample.generating_relation(f, 0, params, clip=False) - sample.generating_relation(g, 0, params, clip=False)
    ok = np.isfinite(diff)
    assert (crop & ok).sum() > 1000 and np.allclose(diff[crop & ok], 0.03 + 0.04) and np.all(diff[~crop & ok] == 0)
    assert np.isnan(base[lc == 80]).all() and np.isfinite(base[barren & np.isfinite(f["ndvi"])]).all()
    with pytest.raises(InputError, match="needs the factors precipitation"):
        sample.generating_relation({k: v for k, v in f.items() if k != "precipitation"}, 0, params)
    with pytest.raises(InputError, match="Date index 9 is outside the scene's 4 dates; give 0..3"):
        sample.generating_relation(f, 9, params)


def test_relation_nonlinear_terms():
    """nonlinearity=1 adds the documented saturation, interaction and threshold terms to the linear relation."""
    params = sample.default_relation(42, ["2023-06-01"])
    f = {"elevation": np.array([1250.0, 1750.0]), "slope": np.array([0.0, 5.0]), "landcover": np.array([20.0, 10.0]),
         "ndvi": np.array([0.1, 0.5]), "lst_day": np.array([313.0, 298.0]), "lst_night": np.array([296.0, 281.0]),
         "precipitation": np.array([10.0, 40.0])}
    lin = sample.generating_relation(f, 0, params, clip=False)
    off = params["date_offsets"][0]
    assert lin[0] == pytest.approx(0.195 + off + 0.18 * -0.2 - 0.045 * 1.0)
    assert lin[1] == pytest.approx(0.195 + off + 0.18 * 0.2 + 0.025 * 3.0 - 0.045 * -0.5 - 0.04 + 0.008 + 0.03)
    nonlin = sample.generating_relation(f, 0, {**params, "nonlinearity": 1.0}, clip=False)
    assert nonlin[0] - lin[0] == pytest.approx(-0.045 * 1.0 * 2.5 * 0.2 - 0.06 * math.tanh(2.0) ** 2)
    assert nonlin[1] - lin[1] == pytest.approx(0.025 * (0.8 * math.tanh(30 / 8) - 3.0) - 0.045 * -0.5 * -2.5 * 0.2)
    half = sample.generating_relation(f, 0, {**params, "nonlinearity": 0.5}, clip=False)
    np.testing.assert_allclose(half, (lin + nonlin) / 2)  # every nonlinear term is blended linearly in nl
    clipped = sample.generating_relation({**f, "ndvi": np.array([-3.0, 3.0])}, 0, params)
    np.testing.assert_allclose(clipped, [0.02, 0.50])


def test_truth_is_relation_plus_correlated_noise(default_scene, exact_scene):
    with open(os.path.join(exact_scene.out_dir, "scene.json"), encoding="utf-8") as fh:
        params = json.load(fh)["relation"]
    for t in range(2):  # no noise: the truth is the relation of the factor files, exactly
        truth = _read(exact_scene.truth_files[t])
        oracle = sample.generating_relation(_factors(exact_scene, t), t, params)
        ok = np.isfinite(oracle)
        assert ok.mean() > 0.85
        np.testing.assert_allclose(truth[ok], oracle[ok], atol=2e-6)
    with open(os.path.join(default_scene.out_dir, "scene.json"), encoding="utf-8") as fh:
        params = json.load(fh)["relation"]
    truth = _read(default_scene.truth_files[1])
    resid = truth - sample.generating_relation(_factors(default_scene, 1), 1, params, clip=False)
    inner = (truth > 0.021) & (truth < 0.499)
    resid = np.where(inner, resid, np.nan)
    assert 0.011 < np.nanstd(resid) < 0.019 and abs(np.nanmean(resid)) < 0.006  # noise = 0.015
    assert _r(resid[:, 1:], resid[:, :-1]) > 0.8  # spatially correlated (3-8 km), not white


# -- nodata -----------------------------------------------------------------------------------------

def test_water_and_cloud_nodata(default_scene):
    sc = default_scene
    water = _read(sc.paths["landcover"][0]) == 80
    assert water.sum() > 20
    clouds = []
    for t in range(len(sc.dates)):
        truth = _read(sc.truth_files[t])
        assert np.isnan(truth[water]).all() and np.isfinite(truth[~water]).all()
        for name in ("ndvi", "lst_day", "lst_night", "vv", "vh"):
            assert np.isnan(_read(sc.paths[name][t])[water]).all(), name
        cloud = np.isnan(_read(sc.paths["ndvi"][t])) & ~water
        assert 0.002 < cloud.mean() < 0.15  # a few blobs
        for name in ("lst_day", "lst_night"):
            np.testing.assert_array_equal(np.isnan(_read(sc.paths[name][t])) & ~water, cloud)
        for name in ("vv", "vh"):  # radar sees through clouds
            assert np.isfinite(_read(sc.paths[name][t])[cloud]).all()
        assert np.isfinite(truth[cloud]).all()
        assert np.isfinite(_read(sc.paths["precipitation"][t])).all()
        clouds.append(cloud)
    assert not np.array_equal(clouds[0], clouds[1])


# -- SMAP -------------------------------------------------------------------------------------------

def _cell_means(truth: np.ndarray, fine: Grid, coarse: Grid) -> np.ndarray:
    """Independent recomputation: mean of valid truth pixels whose centres fall in each EASE cell, NaN when
    fewer than half of a full cell's pixels are valid (full = 90th percentile of pixels per cell)."""
    x, y = fine.centers(0, fine.height)
    ct = osr.CoordinateTransformation(fine.srs, coarse.srs)
    pts = np.array(ct.TransformPoints(np.column_stack([x.ravel(), y.ravel()])))
    col = np.floor((pts[:, 0] - coarse.transform[0]) / coarse.transform[1]).astype(int)
    row = np.floor((pts[:, 1] - coarse.transform[3]) / coarse.transform[5]).astype(int)
    cell = row * coarse.width + col
    v = truth.ravel()
    total = np.bincount(cell, minlength=coarse.size)
    ok = np.isfinite(v)
    n = np.bincount(cell[ok], minlength=coarse.size)
    s = np.bincount(cell[ok], weights=v[ok], minlength=coarse.size)
    full = np.percentile(total[total > 0], 90)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / n
    mean[n < 0.5 * full] = np.nan
    return mean.reshape(coarse.height, coarse.width)


def test_smap_is_cell_mean_of_truth(exact_scene):
    sc = exact_scene
    for t in range(2):
        smap = _read(sc.smap_files[t])
        expected = _cell_means(_read(sc.truth_files[t]), sc.fine, sc.coarse)
        np.testing.assert_array_equal(np.isnan(smap), np.isnan(expected))
        np.testing.assert_allclose(smap[np.isfinite(smap)], expected[np.isfinite(expected)], atol=1e-6)
        assert np.isnan(smap[0, 0]) and np.isfinite(smap).sum() > 16  # corners lie outside the rotated scene


def test_smap_retrieval_error(default_scene):
    sc = default_scene
    diffs = []
    for t in range(len(sc.dates)):
        smap = _read(sc.smap_files[t])
        expected = _cell_means(_read(sc.truth_files[t]), sc.fine, sc.coarse)
        np.testing.assert_array_equal(np.isnan(smap), np.isnan(expected))
        diffs.append((smap - expected)[np.isfinite(smap)])
        assert 0.12 < np.nanmean(smap) < 0.24
    d = np.concatenate(diffs)
    assert d.size > 1500
    assert 0.0035 < d.std() < 0.0045 and abs(d.mean()) < 0.0005  # std 0.004, no bias


def test_fine_scale_variance_is_substantial(default_scene):
    """A good downscaling must beat bilinear interpolation of SMAP: much of the truth's variance is below 9 km,
    while SMAP still carries the large-scale pattern."""
    sc = default_scene
    for t in range(len(sc.dates)):
        truth = _read(sc.truth_files[t])
        up = _warp_bilinear(sc.smap_files[t], sc.fine)
        ok = np.isfinite(truth) & np.isfinite(up)
        assert ok.mean() > 0.9
        share = np.std(truth[ok] - up[ok]) / np.std(truth[ok])
        assert 0.38 < share < 0.7, share
        assert _r(truth, up) > 0.7
        assert np.std(truth[ok] - up[ok]) > 1.8 * 0.015  # far more than the unexplainable noise


# -- helpers ----------------------------------------------------------------------------------------

def test_smooth_noise_has_unit_variance_at_any_scale():
    rng = np.random.default_rng(0)
    big = sample.smooth_noise(rng, (300, 300), 3.0)
    assert big.dtype == np.float32 and abs(big.std() - 1.0) < 0.08 and abs(big.mean()) < 0.1
    assert _r(big[:, 3:], big[:, :-3]) == pytest.approx(math.exp(-9 / (4 * 9.0)), abs=0.05)  # gaussian correlation
    # a correlation length far larger than the canvas: nearly constant fields whose values still have unit variance
    vals = np.array([sample.smooth_noise(rng, (10, 10), 30.0)[5, 5] for _ in range(300)])
    assert abs(vals.std() - 1.0) < 0.12


def test_resample_bilinear_matches_gdal(default_scene):
    path = default_scene.paths["precipitation"][0]
    mine = sample.resample_bilinear(_read(path), Grid.from_path(path), default_scene.fine)
    fine = default_scene.fine
    theirs = _warp_bilinear(path, fine)
    assert np.isfinite(mine).all()
    assert np.abs(mine - theirs).max() < 0.01 * np.abs(theirs).max()
    values = np.arange(12.0).reshape(3, 4)
    values[1, 1] = np.nan
    src = Grid(fine.crs_wkt, (0.0, 10.0, 0.0, 30.0, 0.0, -10.0), 4, 3)
    dst = Grid(fine.crs_wkt, (0.0, 5.0, 0.0, 30.0, 0.0, -5.0), 8, 6)
    out = sample.resample_bilinear(values, src, dst)
    assert out[0, 7] == pytest.approx(3.0) and out[5, 7] == pytest.approx(11.0)  # clamped edges
    assert out[4, 6] == pytest.approx((6 * 0.25 + 7 * 0.75) * 0.25 + (10 * 0.25 + 11 * 0.75) * 0.75)
    assert np.isnan(out[2, 2]) and np.isnan(out[3, 3]) and np.isfinite(out[0, 0])
    beyond = Grid(fine.crs_wkt, (-10.0, 5.0, 0.0, 30.0, 0.0, -5.0), 3, 1)
    assert np.isnan(sample.resample_bilinear(values, src, beyond)[0, :2]).all()  # outside the source: nodata


# -- errors, cancel, re-runs ------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"size_km": 10}, "The scene size must be between 20 and 2000 (got 10); give a size in km"),
    ({"size_km": 2001}, "The scene size must be between 20 and 2000"),
    ({"size_km": 50.5}, "The scene size must be between 20 and 2000 (got 50.5)"),
    ({"n_dates": 0}, "The number of dates must be between 1 and 366 (got 0)"),
    ({"step_days": 0}, "The step between dates must be between 1 and 366 (got 0)"),
    ({"seed": -1}, "The seed must be between 0 and"),
    ({"noise": -0.01}, "The truth noise must be between 0 and 0.2 (got -0.01); give a standard deviation"),
    ({"noise": float("nan")}, "The truth noise must be between 0 and 0.2"),
    ({"terrain": -1}, "The terrain effect must be between 0 and 5 (got -1)"),
    ({"nonlinearity": 1.5}, "The nonlinearity must be between 0 and 1 (got 1.5); give a value from 0 (linear) to 1"),
    ({"smap_error": -1}, "The SMAP retrieval error must be between 0 and 0.1"),
    ({"start_date": "June 1"}, "The start date 'June 1' is not a date; give it as YYYY-MM-DD, e.g. 2023-06-01."),
    ({"start_date": "2023-02-30"}, "The start date '2023-02-30' is not a date"),
])
def test_bad_parameters(tmp_path, kwargs, message):
    out = tmp_path / "scene"
    with pytest.raises(InputError) as err:
        sample.make_sample(str(out), **{"size_km": 40, **kwargs})
    assert message in str(err.value)
    assert not out.exists()


def test_bad_output_folder(tmp_path):
    with pytest.raises(InputError, match="No output folder was given"):
        sample.make_sample("", size_km=40)
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder; choose a folder"):
        sample.make_sample(str(afile), size_km=40)


@pytest.mark.parametrize("after", [1, 6, 30])
def test_cancel_leaves_nothing(tmp_path, after):
    calls = []

    def is_canceled():
        calls.append(1)
        return len(calls) > after

    out = tmp_path / "new"
    with pytest.raises(Canceled):
        sample.make_sample(str(out), size_km=40, n_dates=3, is_canceled=is_canceled)
    assert not out.exists()  # created by this run, removed again
    existing = tmp_path / "existing"
    existing.mkdir()
    calls.clear()
    with pytest.raises(Canceled):
        sample.make_sample(str(existing), size_km=40, n_dates=3, is_canceled=is_canceled)
    assert os.listdir(existing) == []


def test_progress_and_rerun_replaces_previous_scene(tmp_path):
    out = tmp_path / "scene"
    seen: list[float] = []
    sample.make_sample(str(out), size_km=40, n_dates=3, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and len(seen) > 20
    old_truth = _read(str(out / "truth" / "truth_20230601.tif"))
    # canceled re-run: the earlier scene stays complete and unchanged
    with pytest.raises(Canceled):
        sample.make_sample(str(out), seed=9, size_km=40, n_dates=1,
                           is_canceled=iter([False] * 8 + [True] * 99).__next__)
    np.testing.assert_array_equal(_read(str(out / "truth" / "truth_20230601.tif")), old_truth)
    assert len(os.listdir(out / "dynamic")) == 18 and not [n for n in os.listdir(out) if n.startswith(".")]
    # completed re-run with fewer dates: the files of the dates it does not have are removed
    sc = sample.make_sample(str(out), seed=9, size_km=40, n_dates=1)
    assert sorted(os.listdir(out / "dynamic")) == sorted(f"{n}_20230601.tif" for n in DYN)
    assert os.listdir(out / "truth") == ["truth_20230601.tif"] and os.listdir(out / "smap") == ["smap_20230601.tif"]
    assert not np.array_equal(_read(sc.truth_files[0]), old_truth, equal_nan=True)
    with open(out / "scene.json", encoding="utf-8") as fh:
        assert json.load(fh)["seed"] == 9


def test_refuses_folder_with_other_rasters(tmp_path):
    out = tmp_path / "mine"
    (out / "dynamic").mkdir(parents=True)
    mine = out / "dynamic" / "ndvi_20230601.tif"
    mine.write_bytes(b"not a sample file")
    with pytest.raises(InputError, match=r"ndvi_20230601.tif, which is not part of a sample scene; .*choose an empty"):
        sample.make_sample(str(out), size_km=40, n_dates=1)
    assert mine.read_bytes() == b"not a sample file" and sorted(os.listdir(out)) == ["dynamic"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "scene.json").write_text('{"project": "mine"}')
    with pytest.raises(InputError, match=r"scene.json, which was not written by 'Create sample dataset'; choose an"):
        sample.make_sample(str(other), size_km=40, n_dates=1)
    assert os.listdir(other) == ["scene.json"] and (other / "scene.json").read_text() == '{"project": "mine"}'


def test_smallest_scene(tmp_path):
    sc = sample.make_sample(str(tmp_path / "s"), seed=1, size_km=20, n_dates=1)
    assert (sc.fine.width, sc.fine.height) == (20, 20) and sc.coarse.size >= 6
    smap = _read(sc.smap_files[0])
    assert np.isfinite(smap).sum() >= 4
    np.testing.assert_allclose(np.nanmean(smap), np.nanmean(_read(sc.truth_files[0])), atol=0.02)
