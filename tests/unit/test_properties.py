"""Property-based tests (hypothesis) for the metrics, fine-to-coarse aggregation and residual correction.

Complements test_metrics.py (ubRMSD identity, affine invariance of R, symmetry, accumulator) and
test_aggregate.py (coarse mean under reprojection): here the invariants are checked against independent
computations, with non-finite values, partly covered cells and any block split, and mass conservation is
checked on the files ``downscale`` writes.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.tree import DecisionTreeRegressor

from smdownscale.algorithms import model_io
from smdownscale.algorithms.aggregate import CellIndex, CoarseMean, broadcast
from smdownscale.algorithms.downscale import downscale
from smdownscale.algorithms.metrics import metrics
from smdownscale.algorithms.raster import Grid, read_all, srs_from_user, write_raster

UTM = srs_from_user("EPSG:32650").ExportToWkt()
EASE = srs_from_user("EPSG:6933").ExportToWkt()
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- metrics --------------------------------------------------------------------------------------

#: values in [-1, 1] on a 1e-6 lattice (soil moisture-like magnitudes, no subnormal numbers)
values = st.integers(-10**6, 10**6).map(lambda i: i / 1e6)
specials = st.sampled_from([math.nan, math.inf, -math.inf])


@st.composite
def pairs_with_gaps(draw, min_size=1):
    """x, y of equal length with some NaN/inf on either side."""
    n = draw(st.integers(min_value=min_size, max_value=50))
    x = draw(arrays(np.float64, n, elements=st.one_of(values, values, values, specials)))
    y = draw(arrays(np.float64, n, elements=st.one_of(values, values, values, specials)))
    return x, y


def _reference(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The Entekhabi et al. (2010) definitions, pair by pair in plain Python (independent of metrics())."""
    pairs = [(float(a), float(b)) for a, b in zip(x, y) if math.isfinite(a) and math.isfinite(b)]
    n = len(pairs)
    if n == 0:
        return {"n": 0}
    d = [a - b for a, b in pairs]
    bias = math.fsum(d) / n
    mx = math.fsum(a for a, _ in pairs) / n
    my = math.fsum(b for _, b in pairs) / n
    out = {"n": n, "bias": bias, "mae": math.fsum(abs(v) for v in d) / n,
           "rmse": math.sqrt(math.fsum(v * v for v in d) / n),
           "ubrmsd": math.sqrt(math.fsum(((a - mx) - (b - my)) ** 2 for a, b in pairs) / n)}
    sxy = math.fsum((a - mx) * (b - my) for a, b in pairs)
    sxx = math.fsum((a - mx) ** 2 for a, _ in pairs)
    syy = math.fsum((b - my) ** 2 for _, b in pairs)
    out["r"] = sxy / math.sqrt(sxx * syy) if sxx > 1e-12 and syy > 1e-12 else math.nan
    return out


@PROPS
@given(pairs_with_gaps())
def test_metrics_equal_the_definitions_over_finite_pairs(xy):
    x, y = xy
    got, ref = metrics(x, y), _reference(x, y)
    assert got["n"] == ref["n"]
    if ref["n"] == 0:
        assert all(math.isnan(got[k]) for k in ("r", "mae", "rmse", "bias", "ubrmsd"))
        return
    for key in ("bias", "mae", "rmse", "ubrmsd"):
        assert got[key] == pytest.approx(ref[key], abs=1e-12), key
    if not math.isnan(ref["r"]):
        assert got["r"] == pytest.approx(ref["r"], abs=1e-9)
        assert -1.0 - 1e-12 <= got["r"] <= 1.0 + 1e-12
    # ordering of the error measures
    assert abs(got["bias"]) <= got["mae"] + 1e-12
    assert got["mae"] <= got["rmse"] + 1e-12
    assert got["ubrmsd"] <= got["rmse"] + 1e-12


@PROPS
@given(pairs_with_gaps(min_size=2), st.floats(min_value=-0.5, max_value=0.5), st.randoms(use_true_random=False))
def test_a_constant_offset_moves_only_the_bias_and_order_does_not_matter(xy, c, rnd):
    x, y = xy
    base = metrics(x, y)
    assume(base["n"] >= 2)
    shifted = metrics(x + c, y)
    assert shifted["bias"] == pytest.approx(base["bias"] + c, abs=1e-12)
    assert shifted["ubrmsd"] == pytest.approx(base["ubrmsd"], abs=1e-9)
    if not math.isnan(base["r"]) and np.nanstd(np.where(np.isfinite(x), x, np.nan)) > 1e-6:
        assert shifted["r"] == pytest.approx(base["r"], abs=1e-9)
    order = list(range(x.size))
    rnd.shuffle(order)
    permuted = metrics(x[order], y[order])
    for key in ("n", "bias", "mae", "rmse", "ubrmsd"):
        assert permuted[key] == pytest.approx(base[key], abs=1e-12), key


@PROPS
@given(arrays(np.float64, st.integers(2, 40), elements=values))
def test_a_perfect_estimate_has_no_error(y):
    res = metrics(y.copy(), y)
    assert res["n"] == y.size
    assert res["mae"] == res["rmse"] == res["bias"] == res["ubrmsd"] == 0.0
    if np.ptp(y) > 0:
        assert res["r"] == pytest.approx(1.0, abs=1e-12)
    else:
        assert math.isnan(res["r"])


# -- aggregation ----------------------------------------------------------------------------------

@st.composite
def aligned_case(draw):
    """A fine grid inside/overlapping a coarse grid whose cells hold k x k fine pixels (same CRS)."""
    k = draw(st.integers(2, 6))
    cw, ch = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    # the fine grid starts dx, dy fine pixels into the coarse grid (may stick out on the far side)
    dx, dy = draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1))
    fw = draw(st.integers(1, cw * k + 3))
    fh = draw(st.integers(1, ch * k + 3))
    res = 1000.0
    coarse = Grid(UTM, (400000.0, k * res, 0.0, 4600000.0, 0.0, -k * res), cw, ch)
    fine = Grid(UTM, (400000.0 + dx * res, res, 0.0, 4600000.0 - dy * res, 0.0, -res), fw, fh)
    seed = draw(st.integers(0, 2**32 - 1))
    holes = draw(st.floats(0.0, 1.0))
    block = draw(st.integers(1, fh))
    return k, coarse, fine, seed, holes, block, (dx, dy)


@PROPS
@given(aligned_case())
def test_coarse_mean_is_the_mean_of_the_valid_fine_pixels_of_each_cell(case):
    k, coarse, fine, seed, holes, block, (dx, dy) = case
    rng = np.random.default_rng(seed)
    data = rng.normal(0.25, 0.08, (2, fine.height, fine.width))
    r = rng.random(data.shape)
    data[r < holes * 0.8] = np.nan
    data[(r >= holes * 0.8) & (r < holes)] = np.inf  # infinities count as nodata too
    acc = CoarseMean(CellIndex(fine, coarse), 2)
    for row0 in range(0, fine.height, block):
        acc.add(row0, data[:, row0:row0 + block])
    got = acc.mean().reshape(2, -1)
    frac = acc.fractions().reshape(2, -1)
    assert np.all((frac >= 0) & (frac <= 1))
    # independent: fine pixel (r, c) lies in coarse cell ((r + dy) // k, (c + dx) // k)
    for b in range(2):
        for cell in range(coarse.size):
            crow, ccol = divmod(cell, coarse.width)
            rows = np.arange(fine.height)[(np.arange(fine.height) + dy) // k == crow]
            cols = np.arange(fine.width)[(np.arange(fine.width) + dx) // k == ccol]
            vals = data[b][np.ix_(rows, cols)].ravel()
            vals = vals[np.isfinite(vals)]
            if vals.size:
                assert got[b, cell] == pytest.approx(vals.mean(), abs=1e-12)
            else:
                assert math.isnan(got[b, cell])
            assert acc.valid[b, cell] == vals.size


@PROPS
@given(aligned_case(), st.floats(0.0, 1.0))
def test_min_valid_fraction_only_removes_cells(case, threshold):
    _k, coarse, fine, seed, holes, _block, _ = case
    rng = np.random.default_rng(seed)
    data = rng.normal(0.25, 0.08, (1, fine.height, fine.width))
    data[rng.random(data.shape) < holes] = np.nan
    acc = CoarseMean(CellIndex(fine, coarse), 1)
    acc.add(0, data)
    loose, strict = acc.mean(0.0), acc.mean(threshold)
    kept = np.isfinite(strict)
    assert np.all(np.isfinite(loose[kept]))
    np.testing.assert_array_equal(strict[kept], loose[kept])
    assert np.all(acc.fractions()[kept] >= threshold)


@PROPS
@given(aligned_case())
def test_broadcast_then_aggregate_gives_back_the_coarse_values(case):
    _k, coarse, fine, seed, _holes, block, _ = case
    rng = np.random.default_rng(seed)
    cvals = rng.uniform(0.05, 0.45, (coarse.height, coarse.width))
    index = CellIndex(fine, coarse)
    acc = CoarseMean(index, 1)
    for row0 in range(0, fine.height, block):
        nrows = min(block, fine.height - row0)
        acc.add(row0, broadcast(index, row0, nrows, cvals)[None])
    back = acc.mean()[0]
    covered = acc.total.reshape(coarse.height, coarse.width) > 0
    np.testing.assert_allclose(back[covered], cvals[covered], rtol=0, atol=1e-12)
    assert np.all(np.isnan(back[~covered]))


# -- residual correction (downscale end to end) -----------------------------------------------------

FEATURES = ["ndvi", "lst"]
FACTORS = [{"name": n, "kind": "continuous", "classes": []} for n in FEATURES]


@functools.lru_cache(maxsize=1)
def _model() -> str:
    """A regression tree (piecewise constant, so predictions have plenty of residual to correct)."""
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.uniform(0, 1, 400), rng.uniform(270, 320, 400)])
    y = 0.05 + 0.3 * x[:, 0] - 0.004 * (x[:, 1] - 270) + rng.normal(0, 0.01, 400)
    folder = tempfile.mkdtemp(prefix="smd-props-")
    path = os.path.join(folder, "tree.smdmodel")
    model_io.save_model(path, DecisionTreeRegressor(max_depth=4, random_state=0).fit(x, y),
                        {"features": FEATURES, "factors": FACTORS, "model_type": "cart"})
    return path


@st.composite
def downscale_case(draw):
    w, h = draw(st.integers(8, 40)), draw(st.integers(8, 40))
    fine = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), w, h)
    if draw(st.booleans()):  # SMAP on its own EASE grid: cells of 9008 m, not aligned, another CRS
        x0, y0, x1, y1 = fine.extent_in(EASE)
        cell = 9008.055210146
        gx0 = math.floor(x0 / cell) * cell
        gy1 = math.ceil(y1 / cell) * cell
        coarse = Grid(EASE, (gx0, cell, 0.0, gy1, 0.0, -cell), int(math.ceil((x1 - gx0) / cell)),
                      int(math.ceil((gy1 - y0) / cell)))
    else:  # same CRS, cells of k pixels, offset origin
        k = draw(st.integers(2, 9))
        ox, oy = draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1))
        coarse = Grid(UTM, (400000.0 - ox * 1000.0, k * 1000.0, 0.0, 4600000.0 + oy * 1000.0, 0.0, -k * 1000.0),
                      (w + ox) // k + 1, (h + oy) // k + 1)
    return fine, coarse, draw(st.integers(0, 2**32 - 1)), draw(st.floats(0.0, 0.6)), draw(st.floats(0.0, 0.5)), \
        draw(st.integers(1, h))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(downscale_case())
def test_residual_correction_conserves_every_cell_mean(tmp_path, case):
    fine, coarse, seed, holes, smap_gaps, block_rows = case
    rng = np.random.default_rng(seed)
    ndvi = rng.uniform(0.0, 1.0, (fine.height, fine.width))
    lst = rng.uniform(270.0, 320.0, (fine.height, fine.width))
    ndvi[rng.random(ndvi.shape) < holes] = np.nan
    sm = rng.uniform(0.05, 0.45, (coarse.height, coarse.width))
    sm[rng.random(sm.shape) < smap_gaps] = np.nan
    assume(np.isfinite(sm).any())  # an all-nodata SMAP raster is refused (tested in test_downscale.py)
    folder = tempfile.mkdtemp(dir=tmp_path)
    stack, smap = os.path.join(folder, "factors.tif"), os.path.join(folder, "smap.tif")
    write_raster(stack, fine, np.stack([ndvi, lst]), names=FEATURES)
    write_raster(smap, coarse, sm)
    index = CellIndex(fine, coarse).rows(0, fine.height)
    assume(np.isfinite(ndvi).any())
    out, raw = os.path.join(folder, "sm.tif"), os.path.join(folder, "raw.tif")
    # gap filling off: this property is the residual correction's own (filled pixels: tests/unit/test_gapfill.py)
    res = downscale(_model(), stack, out, smap, "constant", clip=(-10.0, 10.0), block_rows=block_rows, n_jobs=1,
                    fill_gaps=False)
    downscale(_model(), stack, raw, None, "none", clip=(-10.0, 10.0), n_jobs=1)
    got = read_all(out, dtype=np.float64)[0]
    plain = read_all(raw, dtype=np.float64)[0]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(plain))  # nodata kept, nothing invented
    flat_sm = sm.ravel()
    corrected = 0
    for cell in np.unique(index[index >= 0]):
        pix = (index == cell) & np.isfinite(got)
        if not pix.any():
            continue
        if math.isfinite(flat_sm[cell]):  # the cell's 1 km mean is SMAP (float32 rounding only)
            assert got[pix].mean() == pytest.approx(flat_sm[cell], abs=2e-6)
            # and the correction is one constant per cell: the spatial pattern of the prediction is kept
            np.testing.assert_allclose(got[pix] - plain[pix], flat_sm[cell] - plain[pix].mean(), atol=2e-6)
            corrected += 1
        else:  # no SMAP value: the plain prediction
            np.testing.assert_array_equal(got[pix], plain[pix])
    assert res.n_cells_corrected == corrected
    if corrected:
        assert res.max_cell_deviation < 2e-6
