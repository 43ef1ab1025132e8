"""Downscale speed paths: leaf-ordered forest prediction, model reuse across dates, tile-aligned blocks and a
bounded GDAL cache. Each path must give the plain path's numbers."""

from __future__ import annotations

import os

import numpy as np
import pytest
from osgeo import gdal
from sklearn.ensemble import RandomForestRegressor

from smdownscale.algorithms import downscale as ds_mod
from smdownscale.algorithms import inference, model_io
from smdownscale.algorithms.downscale import downscale, reuse_models
from smdownscale.algorithms.features import FactorSpec, fine_design
from smdownscale.algorithms.raster import Grid, read_all, srs_from_user, write_raster

UTM = srs_from_user("EPSG:32650").ExportToWkt()
FACTORS = [{"name": "ndvi", "kind": "continuous", "classes": []},
           {"name": "lst", "kind": "continuous", "classes": []},
           {"name": "landcover", "kind": "categorical", "classes": [10, 20]}]
FEATURES = ["ndvi", "lst", "landcover=10", "landcover=20"]


def _fields(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ndvi = rng.uniform(0.05, 0.85, (h, w))
    lst = rng.uniform(275.0, 315.0, (h, w))
    lc = rng.choice([10.0, 20.0], (h, w))
    ndvi[2:5, 3:9] = np.nan
    return np.stack([ndvi, lst, lc])


def _stack(path, h: int, w: int, seed: int = 0, tiled: bool = True) -> str:
    grid = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), w, h)
    write_raster(str(path), grid, _fields(h, w, seed), names=["ndvi", "lst", "landcover"],
                 kinds=["continuous", "continuous", "categorical"])
    if not tiled:
        striped = str(path) + ".striped.tif"
        gdal.Translate(striped, str(path), creationOptions=["TILED=NO", "BLOCKYSIZE=1"])
        os.replace(striped, str(path))
    return str(path)


def _model(path, n_estimators: int = 15, seed: int = 0) -> tuple[str, RandomForestRegressor]:
    rng = np.random.default_rng(seed)
    n = 4000
    ndvi, lst, lc = rng.uniform(0, 0.9, n), rng.uniform(270, 320, n), rng.choice([10, 20], n)
    x = np.column_stack([ndvi, lst, lc == 10, lc == 20]).astype(np.float32)
    y = 0.05 + 0.3 * ndvi + 0.002 * (lst - 280) + 0.05 * (lc == 20) + 0.01 * rng.normal(size=n)
    est = RandomForestRegressor(n_estimators=n_estimators, min_samples_leaf=2, random_state=seed, n_jobs=1)
    est.fit(x, y)
    model_io.save_model(str(path), est, {"features": FEATURES, "factors": FACTORS, "model_type": "rf"})
    return str(path), est


def _plain(est: RandomForestRegressor, stack: str) -> np.ndarray:
    """What a plain scikit-learn predict gives for every pixel (NaN where a factor is nodata)."""
    x, valid = fine_design(read_all(stack), [FactorSpec.from_dict(d) for d in FACTORS])
    out = np.full(valid.shape, np.nan, dtype=np.float32)
    out[valid] = est.predict(x).astype(np.float32)
    return out


@pytest.fixture(scope="module")
def forest(tmp_path_factory):
    return _model(tmp_path_factory.mktemp("m") / "rf.smdmodel")


def test_leaf_ordered_forest_equals_plain_predict(tmp_path, forest):
    model, est = forest
    stack = _stack(tmp_path / "factors.tif", 90, 80)  # 7,200 pixels: predicted in leaf order
    assert 90 * 80 > inference.MIN_SORTED_ROWS
    res = downscale(model, stack, str(tmp_path / "sm.tif"), residual="none", clip=(-1.0, 2.0), n_jobs=1)
    got = read_all(str(tmp_path / "sm.tif"))[0]
    expected = _plain(est, stack)
    np.testing.assert_array_equal(got, expected)  # bit for bit with one thread
    assert res.n_valid == int(np.isfinite(expected).sum()) == 90 * 80 - 18
    downscale(model, stack, str(tmp_path / "sm2.tif"), residual="none", clip=(-1.0, 2.0), n_jobs=2)
    np.testing.assert_allclose(read_all(str(tmp_path / "sm2.tif"))[0], expected, rtol=1e-6)


def test_reuse_models_loads_each_file_once(tmp_path, forest, monkeypatch):
    model, est = forest
    stack = _stack(tmp_path / "factors.tif", 40, 30)
    loads = []
    real = ds_mod._load_predictor  # reads the file (straight into the compiled walker, or with skops)

    def counting(path):
        loads.append(path)
        return real(path)

    monkeypatch.setattr(ds_mod, "_load_predictor", counting)
    kw = {"residual": "none", "n_jobs": 1}
    downscale(model, stack, str(tmp_path / "a.tif"), **kw)
    downscale(model, stack, str(tmp_path / "b.tif"), **kw)
    assert len(loads) == 2  # no reuse outside the block
    with reuse_models():
        for k in range(3):
            downscale(model, stack, str(tmp_path / f"r{k}.tif"), **kw)
        assert len(loads) == 3
        for k in range(3):
            np.testing.assert_array_equal(read_all(str(tmp_path / f"r{k}.tif")), read_all(str(tmp_path / "a.tif")))
        # another model file, then the first one rewritten: each change is loaded again
        other, est2 = _model(tmp_path / "other.smdmodel", n_estimators=5, seed=1)
        downscale(other, stack, str(tmp_path / "o.tif"), **kw)
        assert len(loads) == 4
        np.testing.assert_array_equal(read_all(str(tmp_path / "o.tif"))[0], _plain(est2, stack))
        rewritten, est3 = _model(tmp_path / "other.smdmodel", n_estimators=4, seed=2)
        os.utime(rewritten, ns=(1, 1))  # a changed file, whatever the clock resolution
        downscale(rewritten, stack, str(tmp_path / "o3.tif"), **kw)
        assert len(loads) == 5
        np.testing.assert_array_equal(read_all(str(tmp_path / "o3.tif"))[0], _plain(est3, stack))
    downscale(model, stack, str(tmp_path / "c.tif"), **kw)
    assert len(loads) == 6  # the cache ends with the block


def test_blocks_end_on_tile_rows(tmp_path):
    assert [ds_mod._tile_rows(r, 256) for r in (1, 5, 100, 255, 256, 300, 1000, 4096)] == \
        [1, 4, 64, 128, 256, 256, 768, 4096]
    assert ds_mod._tile_rows(90, 100) == 50
    tiled = gdal.Open(_stack(tmp_path / "t.tif", 20, 20))
    striped = gdal.Open(_stack(tmp_path / "s.tif", 20, 20, tiled=False))
    assert tiled.GetRasterBand(1).GetBlockSize()[1] == 256 and striped.GetRasterBand(1).GetBlockSize()[1] == 1
    assert ds_mod._tile_unit(tiled) == 256 and ds_mod._tile_unit(striped) == 256
    odd = gdal.Translate(str(tmp_path / "odd.tif"), tiled, creationOptions=["TILED=NO", "BLOCKYSIZE=3"])
    assert ds_mod._tile_unit(odd) == 768


@pytest.mark.parametrize("residual,gaps", [("none", "one"), ("constant", "one"), ("constant", "every tile row")])
def test_gdal_block_cache_holds_one_tile_row(tmp_path, forest, residual, gaps, monkeypatch):
    model, est = forest
    h, w = 1024, 64  # four tile rows of 256
    stack = _stack(tmp_path / "factors.tif", h, w, seed=3)
    if gaps != "one":  # a cloud in every tile row: gap filling reads, predicts and writes every block again
        fields = _fields(h, w, seed=3)
        for row0 in range(0, h, 256):
            fields[1, row0 + 100:row0 + 140, 10:30] = np.nan
        write_raster(stack, Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), w, h), fields,
                     names=["ndvi", "lst", "landcover"], kinds=["continuous", "continuous", "categorical"])
    coarse = Grid(UTM, (396500.0, 9000.0, 0.0, 4602500.0, 0.0, -9000.0), 9, 116)
    write_raster(str(tmp_path / "smap.tif"), coarse, np.full((116, 9), 0.2))
    base = gdal.GetCacheUsed()
    peak = [0]
    real_write = ds_mod.raster.write_block

    def write_block(*args, **kwargs):  # a block has been read and written: the cache is at its fullest
        real_write(*args, **kwargs)
        peak[0] = max(peak[0], gdal.GetCacheUsed() - base)

    monkeypatch.setattr(ds_mod.raster, "write_block", write_block)
    res = downscale(model, stack, str(tmp_path / "sm.tif"), coarse_sm=str(tmp_path / "smap.tif") if residual != "none"
                    else None, residual=residual, block_rows=256, n_jobs=1)
    tile_row = 256 * 256 * 4  # one 256 x 256 float32 tile
    # the stack's three bands, the raw prediction and the output: one tile row each, not the whole file; with
    # residual correction the stack's gaps are filled, and the quality codes of those blocks add one Byte tile
    # (and under a kilobyte of GDAL's own)
    codes = 256 * 256 + 1024 if residual != "none" else 0
    assert 0 < peak[0] <= 5 * tile_row + codes < 3 * h * 256 * 4
    got = read_all(str(tmp_path / "sm.tif"))[0]
    if residual == "none":
        np.testing.assert_array_equal(got, np.clip(_plain(est, stack), 0.0, 0.6))
    else:
        np.testing.assert_allclose(np.nanmean(got), 0.2, atol=1e-6)
        assert res.max_cell_deviation < 1e-6


def test_series_loads_the_model_once(tmp_path, forest, monkeypatch):
    from smdownscale.algorithms.series import downscale_series

    model, est = forest
    stacks = [_stack(tmp_path / f"factors_2023060{d}.tif", 30, 20, seed=d) for d in (1, 2, 3)]
    loads = []
    real = ds_mod._load_predictor
    monkeypatch.setattr(ds_mod, "_load_predictor", lambda p: loads.append(p) or real(p))
    results = downscale_series(model, stacks, None, str(tmp_path / "out"), residual="none", n_jobs=1)
    assert len(loads) == 1 and len(results) == 3
    for res, stack in zip(results, stacks):
        np.testing.assert_array_equal(read_all(res.output)[0], np.clip(_plain(est, stack), 0.0, 0.6))


@pytest.mark.parametrize("switch, loader, backend", [("", "load_compiled", "compiled tree walker"),
                                                     ("0", "load_trees", "scikit-learn")])
def test_tree_models_never_go_through_a_full_skops_load(tmp_path, forest, monkeypatch, switch, loader, backend):
    """Forests are read straight into the compiled walker, or as scikit-learn trees without it: never as a
    whole skops estimator (whose load needs ~3x the model's memory). Both give plain predict's pixels."""
    from smdownscale.algorithms import native

    model, est = forest
    monkeypatch.setenv(native.ENV_SWITCH, switch)
    calls = []
    real = getattr(ds_mod, loader)
    monkeypatch.setattr(ds_mod, loader, lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(ds_mod, "load_model", lambda p: pytest.fail("the forest was loaded as an estimator"))
    stack = _stack(tmp_path / "factors.tif", 90, 80)
    res = downscale(model, stack, str(tmp_path / "sm.tif"), residual="none", clip=(-1.0, 2.0), n_jobs=2)
    assert calls == [model] and res.prediction_backend == backend
    assert res.prediction_note == ("" if not switch else "switched off (SMDOWNSCALE_NATIVE=0)")
    np.testing.assert_array_equal(read_all(str(tmp_path / "sm.tif"))[0], _plain(est, stack))


def test_series_samples_each_stack_once_for_its_units(tmp_path, forest, monkeypatch):
    """Each date's stack is also a neighbouring date of the others (temporal filling): its NDVI is sampled for the
    unit check once per series, not once per date that reads it; outside a series every call checks again."""
    from smdownscale.algorithms.series import downscale_series

    model, _ = forest
    stacks = [_stack(tmp_path / f"factors_2023060{d}.tif", 30, 20, seed=d) for d in (1, 2, 3)]
    sampled = []
    real = ds_mod.sample_bands
    monkeypatch.setattr(ds_mod, "sample_bands", lambda ds, bands, *a: sampled.append(ds.GetDescription()) or
                        real(ds, bands, *a))
    results = downscale_series(model, stacks, None, str(tmp_path / "out"), residual="none", n_jobs=1)
    assert len(results) == 3  # each date opened the other two as neighbouring dates and checked their units
    assert sorted(os.path.basename(p) for p in sampled) == [os.path.basename(s) for s in stacks]
    sampled.clear()
    for k in range(2):
        downscale(model, stacks[0], str(tmp_path / f"again{k}.tif"), residual="none", n_jobs=1)
    assert [os.path.basename(p) for p in sampled] == [os.path.basename(stacks[0])] * 2
