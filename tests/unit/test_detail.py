"""The contrast detail (algorithms/detail.py): its coefficients, what train stores and downscale's detail 'contrast'.

The two-class mosaic of :func:`tests.scenes.mosaic_scene` has wet parcels 0.15 m3/m3 above the steppe at 1 km in
mixed 9 km cells: a forest fitted on the cells' means flattens that contrast; the contrast detail recovers it.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest
from osgeo import gdal

from smdownscale.algorithms import detail, features, options, raster, train
from smdownscale.algorithms.downscale import check_detail, downscale
from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.residual import ResidualCorrector
from smdownscale.tests.scenes import (
    MOSAIC_CELL,
    MOSAIC_CELLS,
    ds_fields,
    mosaic_scene,
    save_ds_model,
    write_ds_stack,
)

N = MOSAIC_CELL * MOSAIC_CELLS
_II, _JJ = np.mgrid[:N, :N]
CELLS = ((_II // MOSAIC_CELL) * MOSAIC_CELLS + _JJ // MOSAIC_CELL)


@pytest.fixture(scope="module")
def mosaic(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("mosaic"))
    scene = mosaic_scene(folder, seed=1)
    model = os.path.join(folder, "rf.smdmodel")
    res = train.train_model(train.TrainRequest(scene["sm"], scene["stacks"], model, "rf", params={"n_estimators": 30},
                                               cv_folds=0, n_jobs=1))
    return {**scene, "model": model, "meta": res.meta, "folder": folder}


def _cell_means(values: np.ndarray) -> np.ndarray:
    ok = np.isfinite(values)
    return np.bincount(CELLS[ok], values[ok], minlength=MOSAIC_CELLS ** 2) / np.maximum(
        np.bincount(CELLS[ok], minlength=MOSAIC_CELLS ** 2), 1)


def _class_contrast(values: np.ndarray, parcels: np.ndarray) -> float:
    """Parcels minus steppe of the within-cell detail (pixel minus its cell mean), in mixed cells."""
    frac = np.bincount(CELLS.ravel(), parcels.ravel()) / MOSAIC_CELL ** 2
    mixed = ((frac > 0.1) & (frac < 0.9))[CELLS]
    d = values - _cell_means(values)[CELLS]
    return float(d[mixed & parcels].mean() - d[mixed & ~parcels].mean())


def _explicit_ridge(pairs, alpha: float = 1.0) -> np.ndarray:
    """The contrast regression written out cell by cell: 3 x 3 neighbourhood means, cells with >= 4 neighbours,
    continuous features standardised, class fractions not, (X'X + alpha I) b = X'y."""
    h, w = pairs.grid.height, pairs.grid.width
    xs, ys = [], []
    for d in sorted(set(pairs.dates)):
        sel = np.asarray(pairs.dates) == d
        grid = {int(c): (yv, xv) for c, yv, xv in zip(pairs.cells[sel], pairs.y[sel], pairs.X[sel])}
        for c, (yv, xv) in grid.items():
            r, k = divmod(c, w)
            near = [grid[rr * w + kk] for rr in range(r - 1, r + 2) for kk in range(k - 1, k + 2)
                    if 0 <= rr < h and 0 <= kk < w and rr * w + kk in grid]
            if len(near) < 4:
                continue
            ys.append(yv - np.mean([n[0] for n in near]))
            xs.append(xv - np.mean([n[1] for n in near], axis=0))
    x, y = np.array(xs), np.array(ys)
    sd = np.array([1.0 if "=" in n else x[:, j].std() for j, n in enumerate(pairs.feature_names)])
    z = x / sd
    return np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ y) / sd


def test_coefficients_equal_the_explicit_ridge():
    rng = np.random.default_rng(4)
    h, w, dates = 7, 8, 3
    cells = np.concatenate([rng.permutation(h * w)[:50] for _ in range(dates)])  # a few cells missing per date
    x = np.column_stack([rng.normal(300.0, 5.0, cells.size), rng.random(cells.size)])
    x = np.column_stack([x, 1.0 - x[:, 1]])
    y = 0.2 + 0.004 * (x[:, 0] - 300.0) + 0.1 * x[:, 1] + rng.normal(0.0, 0.01, cells.size)
    pairs = SimpleNamespace(grid=SimpleNamespace(height=h, width=w), cells=cells, X=x, y=y,
                            dates=[f"2023-06-0{t + 1}" for t in range(dates) for _ in range(50)],
                            feature_names=["lst_day", "landcover=10", "landcover=20"])
    beta = detail.fit_contrast(pairs)
    np.testing.assert_allclose(beta, _explicit_ridge(pairs), rtol=1e-9, atol=1e-12)
    assert abs(beta[0] - 0.004) < 0.001
    # the penalty on the unscaled class fractions splits their contrast between the two (complementary) classes
    assert abs((beta[1] - beta[2]) - 0.1) < 0.03


def test_train_stores_the_coefficients(mosaic, tmp_path):
    stored = mosaic["meta"][detail.META_KEY]
    assert stored["features"] == ["ndvi", "landcover=30", "landcover=40"] == mosaic["meta"]["features"]
    assert stored["neighbourhood"] == 3 and stored["penalty"] == 1.0 and stored["classes_scaled"] is False
    beta = np.array(stored["coefficients"])
    assert abs(beta[0] - 0.1) < 0.02  # the truth's NDVI slope
    assert abs((beta[2] - beta[1]) - 0.15) < 0.03  # parcels (40) above the steppe (30)
    # without the noise augmentation: exactly the ridge of the coarse pairs
    path = str(tmp_path / "plain.smdmodel")
    res = train.train_model(train.TrainRequest(mosaic["sm"], mosaic["stacks"], path, "rf", params={"n_estimators": 5},
                                               cv_folds=0, n_jobs=1, noise_augmentation=0.0))
    pairs = features.coarse_pairs(mosaic["sm"], mosaic["stacks"])
    np.testing.assert_allclose(res.meta[detail.META_KEY]["coefficients"], detail.fit_contrast(pairs), rtol=1e-12)


def test_contrast_detail_recovers_the_class_contrast(mosaic, tmp_path):
    truth = _class_contrast(mosaic["truth"][0], mosaic["parcels"])
    assert 0.13 < truth < 0.16
    got = {}
    for mode in ("model", "contrast"):
        out = str(tmp_path / f"{mode}.tif")
        res = downscale(mosaic["model"], mosaic["stacks"][0], out, coarse_sm=mosaic["sm"][0], detail=mode,
                        clip=(-1.0, 2.0))
        assert res.detail == mode and gdal.Open(out).GetMetadata()["detail"] == mode
        values = raster.read_all(out)[0].astype(np.float64)
        got[mode] = (_class_contrast(values, mosaic["parcels"]),
                     float(np.sqrt(np.mean((values - mosaic["truth"][0]) ** 2))))
    assert abs(got["contrast"][0] - truth) < 0.015
    assert got["model"][0] < truth - 0.03  # the forest's detail is flatter
    assert got["contrast"][1] < 0.5 * got["model"][1]


@pytest.mark.parametrize("mode", ["smooth", "constant", "atpk"])
def test_contrast_detail_conserves_cell_means(mosaic, tmp_path, mode):
    out = str(tmp_path / "c.tif")
    res = downscale(mosaic["model"], mosaic["stacks"][1], out, coarse_sm=mosaic["sm"][1], residual=mode,
                    detail="contrast", clip=(-1.0, 2.0))
    values = raster.read_all(out)[0].astype(np.float64)
    sm = raster.read_all(mosaic["sm"][1])[0].astype(np.float64).ravel()
    assert res.max_cell_deviation < 1e-8
    assert np.abs(_cell_means(values) - sm).max() < 1e-6
    assert res.n_cells_corrected == MOSAIC_CELLS ** 2


def test_residual_none_is_the_anchored_field(mosaic, tmp_path):
    """'none' writes the anchored field; 'constant' adds one value per cell to it."""
    plain, shifted = str(tmp_path / "none.tif"), str(tmp_path / "constant.tif")
    downscale(mosaic["model"], mosaic["stacks"][2], plain, coarse_sm=mosaic["sm"][2], residual="none",
              detail="contrast", clip=(-1.0, 2.0))
    downscale(mosaic["model"], mosaic["stacks"][2], shifted, coarse_sm=mosaic["sm"][2], residual="constant",
              detail="contrast", clip=(-1.0, 2.0))
    a = raster.read_all(plain)[0].astype(np.float64)
    b = raster.read_all(shifted)[0].astype(np.float64)
    diff = b - a
    spread = np.array([np.ptp(diff[CELLS == c]) for c in range(MOSAIC_CELLS ** 2)])
    assert spread.max() < 1e-6
    assert np.abs(_cell_means(b) - raster.read_all(mosaic["sm"][2])[0].ravel()).max() < 1e-6
    assert abs(_class_contrast(a, mosaic["parcels"]) - _class_contrast(mosaic["truth"][2], mosaic["parcels"])) < 0.015


def _gappy_stack(mosaic, folder) -> str:
    """Stack 0 with NDVI missing in a band of rows (filled from cell means) and every factor missing in a corner
    (the coarse field: no detail)."""
    arr = raster.read_all(mosaic["stacks"][0]).astype(np.float64)
    arr[0, 20:30, :] = np.nan
    arr[:, 80:, 90:] = np.nan
    path = os.path.join(folder, "factors_20230601.tif")
    raster.write_raster(path, mosaic["fine"], arr, names=["ndvi", "landcover"], kinds=["continuous", "categorical"])
    return path


def test_block_sizes_and_gaps_give_identical_output(mosaic, tmp_path):
    stack = _gappy_stack(mosaic, str(tmp_path))
    outs = []
    for rows in (None, 7, 16):
        out = str(tmp_path / f"b{rows}.tif")
        quality = str(tmp_path / f"q{rows}.tif")
        res = downscale(mosaic["model"], stack, out, coarse_sm=mosaic["sm"][0], detail="contrast", block_rows=rows,
                        quality=quality, clip=(-1.0, 2.0))
        outs.append(raster.read_all(out)[0])
        assert res.n_filled == 10 * N
        assert res.n_coarse_only == 28 * 18 and res.max_cell_deviation < 1e-8
    # the temporary rasters of the passes (raw prediction, f, quality codes) are gone
    left = sorted(f for f in os.listdir(tmp_path) if not f.endswith(".aux.xml"))  # GDAL's category names of q*
    assert left == sorted(["factors_20230601.tif"] + [f"{k}{r}.tif" for k in "bq" for r in (None, 7, 16)])
    for other in outs[1:]:
        np.testing.assert_array_equal(np.isnan(outs[0]), np.isnan(other))
        np.testing.assert_allclose(outs[0], other, atol=1e-7, equal_nan=True)
    assert np.isfinite(outs[0]).all()
    assert np.abs(_cell_means(outs[0].astype(np.float64))
                  - raster.read_all(mosaic["sm"][0])[0].ravel()).max() < 1e-6
    # the filled rows keep the class contrast (their landcover is observed)
    rows = np.zeros((N, N), bool)
    rows[20:30, :80] = True
    d = outs[0].astype(np.float64) - _cell_means(outs[0].astype(np.float64))[CELLS]
    assert d[rows & mosaic["parcels"]].mean() - d[rows & ~mosaic["parcels"]].mean() > 0.1


def test_a_model_without_coefficients(tmp_path):
    model = save_ds_model(str(tmp_path / "old.smdmodel"))
    stack = write_ds_stack(tmp_path / "s.tif", ds_fields(2))
    with pytest.raises(InputError, match="has no contrast detail coefficients.*Retrain it with smdownscale:train"):
        downscale(model, stack, str(tmp_path / "o.tif"), residual="none", detail="contrast")
    assert not os.path.exists(tmp_path / "o.tif")
    with pytest.raises(InputError, match="study's mode"):
        detail.coefficients({"features": ["a"], "training_mode": "paper"}, "p.smdmodel")
    with pytest.raises(InputError, match="Unknown detail 'sharp'; use one of model, contrast"):
        check_detail("sharp")
    assert check_detail(None) == ("contrast", False) and check_detail(" Model ") == ("model", True)


def test_default_contrast_falls_back_with_a_warning(monkeypatch, mosaic, tmp_path):
    """With 'contrast' the default, a model without coefficients gets the model's own detail and a warning, a run
    without SMAP the model's own detail; neither is an error."""
    monkeypatch.setattr(options, "DETAIL_MODES", options.Choices(dict(options.DETAIL_MODES.labels),
                                                                 default="contrast"))
    model = save_ds_model(str(tmp_path / "old.smdmodel"))
    stack = write_ds_stack(tmp_path / "s.tif", ds_fields(2))
    res = downscale(model, stack, str(tmp_path / "o.tif"), residual="none")
    assert res.detail == "model" and "has no contrast detail coefficients" in res.warnings[0]
    res = downscale(mosaic["model"], mosaic["stacks"][0], str(tmp_path / "m.tif"), residual="none", fill_gaps=False)
    assert res.detail == "model" and not res.warnings  # no SMAP, no cells: the model's own detail, no warning
    assert gdal.Open(str(tmp_path / "m.tif")).GetMetadata()["detail"] == "model"
    res = downscale(mosaic["model"], mosaic["stacks"][0], str(tmp_path / "c.tif"), coarse_sm=mosaic["sm"][0],
                    residual="none", clip=(-1.0, 2.0))
    assert res.detail == "contrast" and not res.warnings


def test_contrast_needs_smap(mosaic, tmp_path):
    with pytest.raises(InputError, match="anchored on the SMAP cells: give the coarse SMAP raster"):
        downscale(mosaic["model"], mosaic["stacks"][0], str(tmp_path / "o.tif"), residual="none", detail="contrast")


def test_given_cell_means_refused_with_area_shares(mosaic):
    from smdownscale.algorithms.aggregate import AreaIndex, CellIndex

    index = CellIndex(mosaic["fine"], mosaic["coarse"])
    corr = ResidualCorrector(index, np.full((MOSAIC_CELLS, MOSAIC_CELLS), 0.2), "smooth",
                             area=AreaIndex(mosaic["fine"], mosaic["coarse"]))
    corr.add(0, np.full((N, N), 0.2))
    with pytest.raises(InputError, match="area shares"):
        corr.solve(np.full((MOSAIC_CELLS, MOSAIC_CELLS), 0.2))


def test_contrast_detail_map_does_not_depend_on_the_model_where_smap_has_a_value(mosaic, tmp_path):
    """Documented in the README: with the contrast detail and the smooth correction a cell's level comes from SMAP
    and its detail from the linear model, so another model type gives the same map; with the model's own detail
    it does not."""
    cart = str(tmp_path / "cart.smdmodel")
    train.train_model(train.TrainRequest(mosaic["sm"], mosaic["stacks"], cart, "cart", cv_folds=0, n_jobs=1))
    maps = {}
    for name, model in (("rf", mosaic["model"]), ("cart", cart)):
        for mode in ("contrast", "model"):
            out = str(tmp_path / f"{name}-{mode}.tif")
            downscale(model, mosaic["stacks"][0], out, coarse_sm=mosaic["sm"][0], detail=mode, clip=(-1.0, 2.0))
            maps[name, mode] = raster.read_all(out)[0].astype(np.float64)
    same = np.abs(maps["rf", "contrast"] - maps["cart", "contrast"])
    assert np.isfinite(same).mean() > 0.99 and np.nanmax(same) < 1e-6
    assert np.nanmax(np.abs(maps["rf", "model"] - maps["cart", "model"])) > 0.01
