"""Temporal filling: missing factors taken from the nearest neighbouring date within a window (issue 15)."""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pytest
from osgeo import gdal
from sklearn.tree import DecisionTreeRegressor

from smdownscale.algorithms import model_io, options, series
from smdownscale.algorithms.downscale import downscale
from smdownscale.algorithms.errors import Canceled, InputError
from smdownscale.algorithms.gapfill import (
    ALL_FACTORS,
    FILLED,
    FROM_OTHER_DATE,
    QUALITY_CLASSES,
    TemporalFill,
    check_window,
    nearest_dates,
)
from smdownscale.algorithms.raster import Grid, read_all, srs_from_user, write_raster

UTM = srs_from_user("EPSG:32650").ExportToWkt()
W, H = 36, 27  # 4 x 3 coarse cells of 9 x 9 fine pixels
FINE = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), W, H)
COARSE = Grid(UTM, (400000.0, 9000.0, 0.0, 4600000.0, 0.0, -9000.0), 4, 3)
FACTORS = [{"name": "ndvi", "kind": "continuous", "classes": []},
           {"name": "lst", "kind": "continuous", "classes": []},
           {"name": "landcover", "kind": "categorical", "classes": [10, 20]}]
#: LST of each date at every pixel (a constant per date: its level) ...
LST = {"20230601": 281.0, "20230608": 295.0, "20230610": 300.0, "20230612": 305.0, "20230620": 309.0}
#: ... plus a bump of each date's own at P and Q, so the date a filled value came from shows in the map
BUMP = {"20230601": -8.0, "20230608": -5.0, "20230610": 0.0, "20230612": 4.0, "20230620": 8.0}
P = (4, 4)    # LST missing on the target date only: filled from 2023-06-08 (2 days earlier)
Q = (15, 20)  # LST missing on the target date and on 2023-06-08 and 06-12: 2023-06-01 is 9 days away


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.uniform(0.1, 0.8, 3000), rng.uniform(280, 310, 3000), rng.uniform(0, 1, 3000)])
    x = np.column_stack([x, 1.0 - x[:, 2]])
    y = 0.05 + 0.3 * x[:, 0] + 0.004 * (x[:, 1] - 280.0) + 0.05 * x[:, 3]
    est = DecisionTreeRegressor(random_state=0, max_leaf_nodes=400).fit(x, y)
    path = str(tmp_path_factory.mktemp("model") / "sm.smdmodel")
    model_io.save_model(path, est, {"features": ["ndvi", "lst", "landcover=10", "landcover=20"],
                                    "factors": FACTORS, "model_type": "cart", "units": "m3/m3"})
    return path, est


def _statics():
    rng = np.random.default_rng(3)
    return rng.uniform(0.1, 0.8, (H, W)), rng.choice([10.0, 20.0], (H, W))


def _stack(folder, tag, holes=(), order=("ndvi", "lst", "landcover"), grid=FINE):
    ndvi, lc = _statics()
    lst = np.full((H, W), LST[tag])
    lst[P] += BUMP[tag]
    lst[Q] += BUMP[tag]
    for r, c in holes:
        lst[r, c] = np.nan
    bands = {"ndvi": ndvi, "lst": lst, "landcover": lc}
    path = os.path.join(str(folder), f"factors_{tag}.tif")
    write_raster(path, grid, np.stack([bands[n] for n in order]), names=list(order),
                 kinds=["categorical" if n == "landcover" else "continuous" for n in order])
    return path


def _taken(source, target="20230610"):
    """The LST a hole of ``target`` takes from ``source``: the source's value moved to the target's level (the
    mean difference over the pixels valid on both dates), i.e. the target's level plus the source's bump."""
    return LST[target] + BUMP[source]


def _expected(est, lst_value, pixel):
    """The model's prediction at ``pixel`` with the given LST (the factors as downscale reads them: float32)."""
    ndvi, lc = _statics()
    r, c = pixel
    x = np.array([[ndvi[r, c], lst_value, lc[r, c] == 10, lc[r, c] == 20]], dtype=np.float32)
    return float(np.float32(est.predict(x)[0]))


@pytest.fixture
def scene(tmp_path):
    target = _stack(tmp_path, "20230610", holes=[P, Q])
    others = {"20230601": _stack(tmp_path, "20230601"),
              "20230608": _stack(tmp_path, "20230608", holes=[Q]),
              "20230612": _stack(tmp_path, "20230612", holes=[Q]),
              "20230620": _stack(tmp_path, "20230620")}
    return target, others


def test_nearest_dates_order_and_window():
    d = dt.date(2023, 6, 10)
    cands = [(dt.date(2023, 6, 12), "b"), (dt.date(2023, 6, 1), "c"), (dt.date(2023, 6, 8), "a"),
             (dt.date(2023, 6, 20), "d"), (dt.date(2023, 6, 10), "self")]
    assert [p for _, p in nearest_dates(d, cands, 10)] == ["a", "b", "c", "d"]  # 2 before 2 days later: a tie
    assert [p for _, p in nearest_dates(d, cands, 2)] == ["a", "b"]
    assert nearest_dates(d, cands, 1) == []


def test_hole_filled_from_the_date_two_days_earlier_not_from_outside_the_window(tmp_path, model, scene):
    path, est = model
    target, others = scene
    values = {tag: _expected(est, _taken(tag), P) for tag in LST}
    assert len(set(values.values())) == len(values)  # every date would give another value: the test can fail
    out, qual = str(tmp_path / "sm.tif"), str(tmp_path / "q.tif")
    res = downscale(path, target, out, residual="none", quality=qual, n_jobs=1, clip=(-5, 5),
                    neighbours=[others["20230601"], others["20230608"], others["20230620"]], fill_window_days=5)
    got = read_all(out)[0]
    assert got[P] == pytest.approx(values["20230608"], abs=1e-7)
    assert np.isnan(got[Q])  # 2023-06-08 misses it too, 2023-06-01 is 9 days away: outside the window
    q = gdal.Open(qual).ReadAsArray()
    assert q[P] == FROM_OTHER_DATE and q[Q] == 0
    assert (q == ALL_FACTORS).sum() == H * W - 2
    assert (res.n_from_other_date, res.other_date_factors, res.other_dates) == (1, {"lst": 1}, ["2023-06-08"])
    md = gdal.Open(out).GetMetadata()
    assert md["pixels_from_other_date"] == "1"
    assert md["temporal_filling"] == "factors from the nearest date within 5 days, moved to this date's level"
    # a wider window reaches 2023-06-01 (9 days) for Q, before 2023-06-20 (10 days)
    res = downscale(path, target, out, residual="none", n_jobs=1, clip=(-5, 5),
                    neighbours=list(others.values()), fill_window_days=10)
    got = read_all(out)[0]
    assert got[Q] == pytest.approx(_expected(est, _taken("20230601"), Q), abs=1e-7)
    assert got[P] == pytest.approx(values["20230608"], abs=1e-7)
    assert res.other_dates == ["2023-06-01", "2023-06-08"]


def test_tie_takes_the_earlier_date(tmp_path, model, scene):
    path, est = model
    target, others = scene
    out = str(tmp_path / "sm.tif")
    for given in ([others["20230612"], others["20230608"]], [others["20230608"], others["20230612"]]):
        downscale(path, target, out, residual="none", n_jobs=1, clip=(-5, 5), neighbours=given, fill_window_days=2)
        assert read_all(out)[0][P] == pytest.approx(_expected(est, _taken("20230608"), P), abs=1e-7)
    # without the earlier date, the later one of the same distance
    downscale(path, target, out, residual="none", n_jobs=1, clip=(-5, 5), neighbours=[others["20230612"]],
              fill_window_days=2)
    assert read_all(out)[0][P] == pytest.approx(_expected(est, _taken("20230612"), P), abs=1e-7)


def test_bands_matched_by_name_when_the_order_differs(tmp_path, model):
    path, est = model
    target = _stack(tmp_path, "20230610", holes=[P])
    other = _stack(tmp_path, "20230608", order=("landcover", "lst", "ndvi"))
    out = str(tmp_path / "sm.tif")
    downscale(path, target, out, residual="none", n_jobs=1, clip=(-5, 5), neighbours=[other], fill_window_days=3)
    assert read_all(out)[0][P] == pytest.approx(_expected(est, _taken("20230608"), P), abs=1e-7)


def test_quality_codes_with_cell_mean_fill_and_residual_correction(tmp_path, model, scene):
    path, _ = model
    target, others = scene
    sm = np.full((3, 4), 0.25)
    smap = str(tmp_path / "smap_20230610.tif")
    write_raster(smap, COARSE, sm)
    out, qual = str(tmp_path / "sm.tif"), str(tmp_path / "q.tif")
    res = downscale(path, target, out, coarse_sm=smap, residual="smooth", quality=qual, n_jobs=1, block_rows=5,
                    neighbours=[others["20230608"]], fill_window_days=3)
    q = gdal.Open(qual).ReadAsArray()
    # P from the neighbouring date, Q (missing there too) from its coarse-cell means, the rest observed
    assert q[P] == FROM_OTHER_DATE and q[Q] == FILLED
    assert (q == ALL_FACTORS).sum() == H * W - 2
    assert (res.n_from_other_date, res.n_filled, res.n_all_factors) == (1, 1, H * W - 2)
    # the gap filler weighs the neighbour's LST against its own fill: moved to this date's level, the neighbour
    # gives every hidden observed LST exactly (one level per date), the fill's regression on NDVI only nearly
    assert res.other_date_weights == {"lst": 1.0} and res.other_date_factors == {"lst": 1}
    band = (qds := gdal.Open(qual)).GetRasterBand(1)
    assert band.GetDescription() == "quality"  # (also loads the band's auxiliary metadata)
    assert qds is not None and band.GetCategoryNames()[FROM_OTHER_DATE] == QUALITY_CLASSES[FROM_OTHER_DATE] == \
        "factors partly from a neighbouring date"
    got = read_all(out)[0].astype(np.float64)
    assert np.isfinite(got).all() and got.mean() == pytest.approx(0.25, abs=1e-6)  # cell means still conserved


def test_temporal_fill_reads_the_block_rows_only(tmp_path, scene):
    target, others = scene
    fill = TemporalFill(target, FINE, [others["20230608"], others["20230601"]], 10)
    raw = np.full((2, 3, W), 1.0, dtype=np.float32)
    raw[1, 1, 4] = np.nan   # row 4 of the raster (block starts at row 3): P, valid on 2023-06-08
    raw[1, 0, 4] = np.nan   # row 3: valid on 2023-06-08 too
    fill(3, 3, ["ndvi", "lst"], raw)
    assert raw[1, 1, 4] == _taken("20230608") and raw[1, 0, 4] == LST["20230610"]  # row 3: no bump there
    # origin: bit k for the k-th nearest date (2023-06-08 first); nothing is counted before a value is used
    assert fill.mask.sum() == 2 and fill.mask[1, 4] and (fill.origin[1] == 1).sum() == 2 and not fill.origin[0].any()
    assert fill.dates(1) == [dt.date(2023, 6, 8)] and fill.taken == {}
    raw = np.full((2, 3, W), 1.0, dtype=np.float32)
    raw[1, 0, 20] = np.nan  # Q (row 15): missing on 2023-06-08, from 2023-06-01
    fill(15, 3, ["ndvi", "lst"], raw)
    assert raw[1, 0, 20] == _taken("20230601") and fill.mask.sum() == 1 and fill.origin[1, 0, 20] == 2
    fill.credit(["ndvi", "lst"], fill.origin, fill.mask)
    assert fill.taken == {"lst": 1} and fill.used == {dt.date(2023, 6, 1)}


def test_series_fills_from_the_other_dates(tmp_path, model, scene):
    path, est = model
    target, others = scene
    stacks = [target, others["20230608"], others["20230620"]]
    out = str(tmp_path / "out")
    res = series.downscale_series(path, stacks, None, out, residual="none", n_jobs=1, clip=(-5, 5),
                                  fill_window_days=3)
    by_date = {r.date: r for r in res}
    assert by_date["2023-06-10"].n_from_other_date == 1 and by_date["2023-06-10"].other_dates == ["2023-06-08"]
    got = read_all(os.path.join(out, "sm_1km_20230610.tif"))[0]
    assert got[P] == pytest.approx(_expected(est, _taken("20230608"), P), abs=1e-7)
    q = gdal.Open(os.path.join(out, "quality_20230610.tif")).ReadAsArray()
    assert q[P] == FROM_OTHER_DATE and q[Q] == 0
    # 2023-06-08 misses Q; 2023-06-10 misses it too, so it stays empty (2023-06-20 is 12 days away)
    q8 = gdal.Open(os.path.join(out, "quality_20230608.tif")).ReadAsArray()
    assert q8[Q] == 0 and (q8 == FROM_OTHER_DATE).sum() == 0
    off = series.downscale_series(path, stacks, None, str(tmp_path / "off"), residual="none", n_jobs=1, clip=(-5, 5),
                                  fill_window_days=0)
    assert [r.n_from_other_date for r in off] == [0, 0, 0]
    assert np.isnan(read_all(os.path.join(str(tmp_path / "off"), "sm_1km_20230610.tif"))[0][P])


def test_series_window(tmp_path, model, scene):
    path, est = model
    target, others = scene
    assert options.FILL_WINDOW_DAYS == 12  # on by default, chosen on the gaps bench (bench/GAPS.md)
    stacks = [target, others["20230601"], others["20230620"]]  # 9 and 10 days away
    off = series.downscale_series(path, stacks, None, str(tmp_path / "off"), residual="none", n_jobs=1, clip=(-5, 5),
                                  fill_window_days=0)
    assert [r.n_from_other_date for r in off] == [0, 0, 0] and all(r.other_dates == [] for r in off)
    short = series.downscale_series(path, stacks, None, str(tmp_path / "short"), residual="none", n_jobs=1,
                                    clip=(-5, 5), fill_window_days=8)  # no other date within 8 days
    assert [r.n_from_other_date for r in short] == [0, 0, 0]
    res = series.downscale_series(path, stacks, None, str(tmp_path / "out"), residual="none", n_jobs=1, clip=(-5, 5))
    by_date = {r.date: r for r in res}
    assert by_date["2023-06-10"].other_dates == ["2023-06-01"] and by_date["2023-06-10"].n_from_other_date == 2
    got = read_all(os.path.join(str(tmp_path / "out"), "sm_1km_20230610.tif"))[0]
    assert got[Q] == pytest.approx(_expected(est, _taken("20230601"), Q), abs=1e-7)


@pytest.mark.parametrize("after", [0, 1, 3, 6])
def test_cancel_leaves_nothing(tmp_path, model, scene, after):
    path, _ = model
    target, others = scene
    sm = np.full((3, 4), 0.25)
    smap = str(tmp_path / "smap_20230610.tif")
    write_raster(smap, COARSE, sm)
    before = sorted(os.listdir(tmp_path))
    calls = []

    def is_canceled():
        calls.append(1)
        return len(calls) > after

    with pytest.raises(Canceled):
        downscale(path, target, str(tmp_path / "sm.tif"), coarse_sm=smap, quality=str(tmp_path / "q.tif"),
                  block_rows=5, is_canceled=is_canceled, n_jobs=1, neighbours=list(others.values()),
                  fill_window_days=10)
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("window", [-1, 2.5, 400, "x"])
@pytest.mark.bad_input("downscale: temporal filling window not a whole number of days")
def test_bad_window_is_refused(window):
    with pytest.raises(InputError, match="temporal filling window must be a whole number of days from 0"):
        check_window(window)


@pytest.mark.bad_input("downscale: temporal filling with a neighbouring stack on another grid")
def test_neighbour_on_another_grid_is_refused(tmp_path, model, scene):
    path, _ = model
    target, _ = scene
    shifted = Grid(UTM, (401000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), W, H)
    other = _stack(tmp_path / "..", "20230608", grid=shifted)
    with pytest.raises(InputError, match="factors_20230608.tif is not on the grid of factors_20230610.tif"):
        downscale(path, target, str(tmp_path / "sm.tif"), residual="none", neighbours=[other], fill_window_days=3)
    assert not os.path.exists(tmp_path / "sm.tif")


@pytest.mark.bad_input("downscale: temporal filling without dates or neighbours")
def test_missing_dates_or_neighbours_are_refused(tmp_path, model, scene):
    path, _ = model
    target, others = scene
    out = str(tmp_path / "sm.tif")
    with pytest.raises(InputError, match="needs the factor stacks of those dates"):
        downscale(path, target, out, residual="none", fill_window_days=3)
    undated = str(tmp_path / "other.tif")
    write_raster(undated, FINE, np.ones((1, H, W)), names=["lst"])
    with pytest.raises(InputError, match="no date .* in their name: other.tif"):
        downscale(path, target, out, residual="none", neighbours=[undated], fill_window_days=3)
    os.rename(target, str(tmp_path / "factors.tif"))
    with pytest.raises(InputError, match="needs the date of factors.tif in its name .* or in the name of the SMAP"):
        downscale(path, str(tmp_path / "factors.tif"), out, residual="none", neighbours=[others["20230608"]],
                  fill_window_days=3)
    assert not os.path.exists(out)


def test_undated_stack_takes_the_date_of_its_smap(tmp_path, model, scene):
    path, est = model
    target, others = scene
    undated = str(tmp_path / "aligned.tif")
    os.rename(target, undated)  # e.g. the temporary stack of the workflow model
    smap = str(tmp_path / "smap_20230610.tif")
    write_raster(smap, COARSE, np.full((3, 4), 0.25))
    out = str(tmp_path / "sm.tif")
    res = downscale(path, undated, out, coarse_sm=smap, residual="none", n_jobs=1, clip=(-5, 5),
                    neighbours=[others["20230608"], others["20230612"]], fill_window_days=2)
    assert res.other_dates == ["2023-06-08"]
    assert read_all(out)[0][P] == pytest.approx(_expected(est, _taken("20230608"), P), abs=1e-7)


def test_validate_reports_pixels_from_a_neighbouring_date(tmp_path):
    from smdownscale.algorithms.metrics import metrics
    from smdownscale.algorithms.validate import validate

    rng = np.random.default_rng(8)
    truth = rng.uniform(0.1, 0.4, (H, W))
    est = truth + rng.normal(0, 0.02, (H, W))
    q = np.ones((H, W))
    q[3:12, 5:20] = FROM_OTHER_DATE
    q[20:, 30:] = FILLED
    write_raster(str(tmp_path / "sm_1km_20230610.tif"), FINE, est[None])
    write_raster(str(tmp_path / "truth.tif"), FINE, truth[None])
    qual = str(tmp_path / "quality_20230610.tif")
    write_raster(qual, FINE, q[None])
    res = validate(str(tmp_path / "sm_1km_20230610.tif"), reference=str(tmp_path / "truth.tif"), quality=qual)
    assert list(res) == ["reference", "reference:all factors observed", "reference:filled",
                         "reference:from a neighbouring date"]
    e32, t32 = est.astype(np.float32).astype(np.float64), truth.astype(np.float32).astype(np.float64)
    exp = metrics(e32[q == FROM_OTHER_DATE], t32[q == FROM_OTHER_DATE])
    got = res["reference:from a neighbouring date"]
    assert got["n"] == exp["n"] == 9 * 15
    assert got["ubrmsd"] == pytest.approx(exp["ubrmsd"], abs=1e-9) and got["r"] == pytest.approx(exp["r"], abs=1e-9)


@pytest.mark.bad_input("downscale: neighbouring factor stack in other units")
def test_neighbour_in_other_units_is_refused(tmp_path, model, scene):
    path, _ = model
    target, _ = scene
    ndvi, lc = _statics()
    scaled = str(tmp_path / "scaled" / "factors_20230608.tif")
    os.makedirs(os.path.dirname(scaled))
    write_raster(scaled, FINE, np.stack([ndvi * 10000.0, np.full((H, W), 295.0), lc]),
                 names=["ndvi", "lst", "landcover"], kinds=["continuous", "continuous", "categorical"])
    with pytest.raises(InputError, match=r"ndvi.*factors_20230608\.tif"):
        downscale(path, target, str(tmp_path / "sm.tif"), residual="none", neighbours=[scaled], fill_window_days=3)
    assert not os.path.exists(tmp_path / "sm.tif")


@pytest.mark.fault("downscale: a neighbouring factor stack is truncated")
def test_truncated_neighbour_is_named_and_leaves_nothing(tmp_path, model):
    path, _ = model
    target = _stack(tmp_path, "20230610", holes=[P])
    rng = np.random.default_rng(2)
    whole = str(tmp_path / "whole.tif")
    write_raster(whole, FINE, rng.uniform(0.1, 0.8, (3, H, W)), names=["ndvi", "lst", "landcover"])
    cut = str(tmp_path / "cut" / "factors_20230608.tif")
    os.makedirs(os.path.dirname(cut))
    with open(whole, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read()[: int(os.path.getsize(whole) * 0.6)])
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(InputError, match=r"factors_20230608\.tif is damaged or incomplete"):
        downscale(path, target, str(tmp_path / "sm.tif"), residual="none", quality=str(tmp_path / "q.tif"),
                  neighbours=[cut], fill_window_days=3, n_jobs=1)
    assert sorted(os.listdir(tmp_path)) == before


def test_neighbour_moved_to_the_level_of_the_date_by_tiles(tmp_path):
    """A neighbouring date hotter by a level that varies across the scene (its weather) gives its pattern, not its
    level: the level difference is the mean over each tile of the pixels valid on both dates, interpolated
    between the tile centres (exact for a level changing linearly, but for the hole missing from its tile's
    mean: 0.15 K/pixel x 7.5 pixels / 255 pixels, 0.0044 K)."""
    rng = np.random.default_rng(5)
    pattern = rng.normal(0.0, 2.0, (H, W))  # the pixels' own pattern, shared by both dates
    cols = np.arange(W)[None, :] * np.ones((H, 1))
    today = 300.0 + 0.2 * cols + pattern
    other = 290.0 + 0.05 * cols + pattern
    hole = (8, 15)  # column 15 lies between the centres of the first two full tiles (7.5 and 23.5)
    today[hole] = np.nan
    write_raster(str(tmp_path / "f_20230610.tif"), FINE, today[None], names=["lst"])
    write_raster(str(tmp_path / "f_20230608.tif"), FINE, other[None], names=["lst"])
    fill = TemporalFill(str(tmp_path / "f_20230610.tif"), FINE, [str(tmp_path / "f_20230608.tif")], 3)
    raw = today[None, 8:9].copy()
    fill(8, 1, ["lst"], raw)
    truth = 300.0 + 0.2 * 15 + pattern[hole]
    assert raw[0, 0, 15] == pytest.approx(truth, abs=0.005)
    assert abs(other[hole] - truth) > 10.0  # the neighbour's own value is far off: the test can fail
    assert fill.origin[0, 0, 15] == 1 and fill.origin.sum() == 1


def test_neighbour_without_a_common_valid_pixel_gives_nothing(tmp_path):
    today = np.full((H, W), 300.0)
    today[:, :18] = np.nan
    other = np.full((H, W), 290.0)
    other[:, 18:] = np.nan  # valid exactly where today is not: its level relative to today is unknown
    write_raster(str(tmp_path / "f_20230610.tif"), FINE, today[None], names=["lst"])
    write_raster(str(tmp_path / "f_20230608.tif"), FINE, other[None], names=["lst"])
    fill = TemporalFill(str(tmp_path / "f_20230610.tif"), FINE, [str(tmp_path / "f_20230608.tif")], 3)
    raw = today[None, :4].copy()
    fill(0, 4, ["lst"], raw)
    assert np.isnan(raw[0, :, :18]).all() and not fill.origin.any() and not fill.mask.any()


def test_a_farther_date_not_needed_is_never_read(tmp_path, model, scene, monkeypatch):
    """The nearest date fills the only hole, so the farther one costs nothing: levels are computed, and rows read,
    only for the dates and bands actually taken from."""
    from smdownscale.algorithms import raster

    path, est = model
    target = _stack(tmp_path, "20230610", holes=[P])
    _, others = scene
    reads = []
    real = raster.read_block

    def spy(ds, row0, nrows, bands=None, dtype=np.float32, sources=None):
        reads.append((os.path.basename(sources[0]) if sources else "", bands))
        return real(ds, row0, nrows, bands, dtype, sources)

    monkeypatch.setattr(raster, "read_block", spy)
    out = str(tmp_path / "sm.tif")
    res = downscale(path, target, out, residual="none", n_jobs=1, clip=(-5, 5),
                    neighbours=[others["20230608"], others["20230601"]], fill_window_days=10)
    assert read_all(out)[0][P] == pytest.approx(_expected(est, _taken("20230608"), P), abs=1e-7)
    assert res.other_dates == ["2023-06-08"]
    read_from = {name for name, _ in reads}
    assert "factors_20230608.tif" in read_from and "factors_20230601.tif" not in read_from
    # of the nearest date, only LST (band 2, the only band with a hole) was read
    assert {tuple(b) for name, b in reads if name == "factors_20230608.tif"} == {(2,)}


def test_evidence_of_a_derived_factor_keeps_the_stack_s_own_complete_input(tmp_path):
    """lst_diff = lst_day - lst_night with only lst_day missing at a pixel: the neighbouring date's evidence for
    lst_diff there is its lst_day (moved to this date's level) minus this date's own lst_night, which misses
    nowhere; a complete input must not be blanked."""
    from smdownscale.algorithms.derived import StackReader

    rng = np.random.default_rng(8)
    pattern = rng.normal(0.0, 2.0, (H, W))
    night = 280.0 + rng.normal(0.0, 1.0, (H, W))
    day = 300.0 + pattern
    hole = (8, 15)
    day[hole] = np.nan
    target = str(tmp_path / "f_20230610.tif")
    write_raster(target, FINE, np.stack([day, night]), names=["lst_day", "lst_night"])
    other = str(tmp_path / "f_20230608.tif")
    write_raster(other, FINE, np.stack([295.0 + pattern, night - 3.0]), names=["lst_day", "lst_night"])
    fill = TemporalFill(target, FINE, [other], 3)
    ds = gdal.Open(target)
    reader = StackReader(ds, ["lst_diff"], target)
    ev = fill.evidence(reader, 8, 1)
    assert ev[0, 0, 15] == pytest.approx(300.0 + pattern[hole] - night[hole], abs=1e-3)


def test_a_categorical_band_is_taken_as_it_is_not_moved_to_a_level(tmp_path):
    """A land-cover class missing on this date takes the neighbour's class itself: a class code has no level
    (here the two dates differ in class over half of the hole's tile, which would move 10 to 15)."""
    lc_today = np.full((H, W), 10.0)
    lc_other = np.full((H, W), 10.0)
    lc_today[:8, :] = 20.0  # half of the first tile row changed class between the dates
    hole = (10, 5)
    lc_today[hole] = np.nan
    target = str(tmp_path / "f_20230610.tif")
    other = str(tmp_path / "f_20230608.tif")
    write_raster(target, FINE, lc_today[None], names=["landcover"], kinds=["categorical"])
    write_raster(other, FINE, lc_other[None], names=["landcover"], kinds=["categorical"])
    fill = TemporalFill(target, FINE, [other], 3)
    raw = lc_today[None, 10:11].copy()
    fill(10, 1, ["landcover"], raw)
    assert raw[0, 0, 5] == 10.0 and fill.origin[0, 0, 5] == 1 and fill.origin.sum() == 1


def test_a_pixel_without_any_factor_in_a_cell_without_smap_still_takes_the_neighbouring_date(tmp_path, model):
    """With gap filling on, a pixel missing every factor in a cell without SMAP (no coarse field to fall back on)
    is still mapped from the neighbouring date's factors, as it is with gap filling off: turning gap filling on
    must not empty a pixel temporal filling alone maps."""
    path, est = model
    ndvi, lc = _statics()
    pix = (4, 4)  # in coarse cell (0, 0), which has no SMAP value
    today = np.stack([ndvi, np.full((H, W), LST["20230610"]), lc])
    today[:, pix[0], pix[1]] = np.nan
    today[1, 20, 30] = np.nan  # an ordinary LST gap in a cell with SMAP
    target = str(tmp_path / "factors_20230610.tif")
    kinds = ["continuous", "continuous", "categorical"]
    write_raster(target, FINE, today, names=["ndvi", "lst", "landcover"], kinds=kinds)
    other = _stack(tmp_path, "20230608")
    sm = np.full((3, 4), 0.25)
    sm[0, 0] = np.nan
    smap = str(tmp_path / "smap_20230610.tif")
    write_raster(smap, COARSE, sm)
    outs = {}
    for fill in (False, True):
        out, qual = str(tmp_path / f"sm_{fill}.tif"), str(tmp_path / f"q_{fill}.tif")
        downscale(path, target, out, coarse_sm=smap, residual="none", quality=qual, n_jobs=1, clip=(-5, 5),
                  fill_gaps=fill, neighbours=[other], fill_window_days=3)
        outs[fill] = (read_all(out)[0], gdal.Open(qual).ReadAsArray())
    assert np.isfinite(outs[False][0][pix]) and outs[False][1][pix] == FROM_OTHER_DATE
    # no coarse field to weigh against there: the neighbour's factors alone, the same value as without gap filling
    assert outs[False][0][pix] == pytest.approx(_expected(est, LST["20230610"] + BUMP["20230608"], pix), abs=1e-7)
    assert outs[True][1][pix] == FROM_OTHER_DATE and outs[True][0][pix] == outs[False][0][pix]
    assert outs[True][1][20, 30] == FROM_OTHER_DATE and np.isfinite(outs[True][0][20, 30])


def test_at_most_the_nearest_dates_are_used(tmp_path):
    """A daily series offers up to twice the window of dates; temporal filling takes the MAX_NEIGHBOUR_DATES
    nearest: a hole valid only on a farther date stays a hole (here, water missing everywhere else)."""
    from smdownscale.algorithms.gapfill import MAX_NEIGHBOUR_DATES

    today = np.full((H, W), 300.0)
    today[5, 5] = today[6, 6] = np.nan
    write_raster(str(tmp_path / "f_20230610.tif"), FINE, today[None], names=["lst"])
    paths = []
    for k in range(1, MAX_NEIGHBOUR_DATES + 2):  # 2023-06-11 ... : the last one is one too far
        v = np.full((H, W), 290.0)
        v[5, 5] = np.nan if k < MAX_NEIGHBOUR_DATES else 291.0    # valid only on the last date used
        v[6, 6] = np.nan if k <= MAX_NEIGHBOUR_DATES else 291.0   # valid only on the date beyond
        p = str(tmp_path / f"f_202306{10 + k:02d}.tif")
        write_raster(p, FINE, v[None], names=["lst"])
        paths.append(p)
    fill = TemporalFill(str(tmp_path / "f_20230610.tif"), FINE, paths, 30)
    assert len(fill.sources) == MAX_NEIGHBOUR_DATES
    raw = today[None, 5:7].copy()
    fill(5, 2, ["lst"], raw)
    assert raw[0, 0, 5] == pytest.approx(301.0) and np.isnan(raw[0, 1, 6])


#: A SMAP raster covering only the first 3 of the 4 cell columns: fine columns 27-35 lie outside it.
SMALL_COARSE = Grid(UTM, (400000.0, 9000.0, 0.0, 4600000.0, 0.0, -9000.0), 3, 3)


def test_a_pixel_beyond_a_smaller_smap_raster_is_mapped_as_in_a_cell_without_smap(tmp_path, model):
    """A SMAP raster smaller than the stack is read as if its nodata border had not been cropped: a pixel beyond it
    that misses a factor gets the neighbouring date's value (weighed against the gap filling's own when that is on),
    and the smooth correction continues into it, exactly as with the full raster whose last cell column is nodata, so
    cropping a SMAP raster changes nothing and no step marks its edge."""
    path, est = model
    out_pix = (4, 31)  # column 31: beyond the small SMAP raster; LST missing there, valid on 2023-06-08
    target = _stack(tmp_path, "20230610", holes=[P, out_pix])
    other = _stack(tmp_path, "20230608")
    small = str(tmp_path / "small" / "smap_20230610.tif")
    full = str(tmp_path / "full" / "smap_20230610.tif")
    os.makedirs(os.path.dirname(small))
    os.makedirs(os.path.dirname(full))
    cells = 0.22 + 0.02 * np.arange(9.0).reshape(3, 3)
    write_raster(small, SMALL_COARSE, cells)
    write_raster(full, COARSE, np.column_stack([cells, np.full(3, np.nan)]))
    for fill in (False, True):
        got = {}
        for label, smap in (("small", small), ("full", full)):
            out, qual = str(tmp_path / f"sm_{label}_{fill}.tif"), str(tmp_path / f"q_{label}_{fill}.tif")
            res = downscale(path, target, out, coarse_sm=smap, residual="smooth", quality=qual, n_jobs=1,
                            clip=(-5, 5), fill_gaps=fill, neighbours=[other], fill_window_days=3)
            got[label] = (read_all(out)[0], gdal.Open(qual).ReadAsArray(), res)
        np.testing.assert_allclose(got["small"][0], got["full"][0], atol=1e-7)
        np.testing.assert_array_equal(got["small"][1], got["full"][1])
        values, codes, res = got["small"]
        assert np.isfinite(values).all() and codes[out_pix] == FROM_OTHER_DATE
        assert res.n_uncorrected == got["full"][2].n_uncorrected == 3 * 9 * 9  # the cells without SMAP
    assert res.other_date_factors == {"lst": 2} and res.other_dates == ["2023-06-08"]


def _no_pattern_neighbour(tmp_path, holes=((10, 10), (11, 11), (12, 12))):
    """LST = 310 - 20 NDVI + a pattern of its own (3 K) on 2023-06-10, missing at ``holes``; 2023-06-08 has the same
    relation to NDVI with the opposite pattern, valid everywhere: its errors (twice the pattern) are those of the
    gap filler's own LST (the pattern) doubled, so no mix beats the fill alone and it gets weight 0."""
    rng = np.random.default_rng(21)
    ndvi, lc = _statics()
    own = rng.normal(0.0, 3.0, (H, W))
    today = 310.0 - 20.0 * ndvi + own
    for r, c in holes:
        today[r, c] = np.nan
    kinds = ["continuous", "continuous", "categorical"]
    target = str(tmp_path / "factors_20230610.tif")
    write_raster(target, FINE, np.stack([ndvi, today, lc]), names=["ndvi", "lst", "landcover"], kinds=kinds)
    other = str(tmp_path / "factors_20230608.tif")
    write_raster(other, FINE, np.stack([ndvi, 310.0 - 20.0 * ndvi - own, lc]), names=["ndvi", "lst", "landcover"],
                 kinds=kinds)
    smap = str(tmp_path / "smap_20230610.tif")
    write_raster(smap, COARSE, np.full((3, 4), 0.25))
    return target, other, smap


def test_a_date_whose_values_had_weight_0_is_not_listed(tmp_path, model):
    """The neighbouring date gave LST at every hole, but the gap filler weighed it 0 everywhere: no value of it
    entered the map, so the result lists no date and no factor taken from one."""
    path, _ = model
    target, other, smap = _no_pattern_neighbour(tmp_path)
    out, qual = str(tmp_path / "sm.tif"), str(tmp_path / "q.tif")
    res = downscale(path, target, out, coarse_sm=smap, quality=qual, n_jobs=1, clip=(-5, 5), neighbours=[other],
                    fill_window_days=3)
    assert res.other_date_weights == {"lst": 0.0}
    assert (res.n_from_other_date, res.n_filled) == (0, 3)
    assert (res.other_date_factors, res.other_dates) == ({}, [])
    assert (gdal.Open(qual).ReadAsArray() == FROM_OTHER_DATE).sum() == 0


def test_a_date_that_gave_values_only_with_weight_0_is_not_listed(tmp_path, model):
    """2023-06-08 gives LST at P (weight above 0) and its land cover is the other class everywhere (a class that is
    always wrong: weight 0); land cover missing at X on this date and on 2023-06-08 comes from 2023-06-01, with
    the class weight of 0. 2023-06-01's values entered no pixel: only 2023-06-08 is listed, and only LST counted."""
    path, _ = model
    ndvi, lc = _statics()
    kinds = ["continuous", "continuous", "categorical"]
    xs = [(10, 10), (20, 22)]
    lst = np.full((H, W), LST["20230610"])
    lst[P] = np.nan
    lc_today = lc.copy()
    for pix in xs:
        lc_today[pix] = np.nan
    target = str(tmp_path / "factors_20230610.tif")
    write_raster(target, FINE, np.stack([ndvi, lst, lc_today]), names=["ndvi", "lst", "landcover"], kinds=kinds)
    flipped = 30.0 - lc
    for pix in xs:
        flipped[pix] = np.nan
    near = str(tmp_path / "factors_20230608.tif")
    write_raster(near, FINE, np.stack([ndvi, np.full((H, W), LST["20230608"]), flipped]),
                 names=["ndvi", "lst", "landcover"], kinds=kinds)
    far = _stack(tmp_path, "20230601")
    smap = str(tmp_path / "smap_20230610.tif")
    write_raster(smap, COARSE, np.full((3, 4), 0.25))
    out, qual = str(tmp_path / "sm.tif"), str(tmp_path / "q.tif")
    res = downscale(path, target, out, coarse_sm=smap, residual="none", quality=qual, n_jobs=1, clip=(-5, 5),
                    neighbours=[near, far], fill_window_days=10)
    q = gdal.Open(qual).ReadAsArray()
    assert (res.n_from_other_date, res.other_date_factors, res.other_dates) == (1, {"lst": 1}, ["2023-06-08"])
    assert q[P] == FROM_OTHER_DATE and all(q[pix] == FILLED for pix in xs)
    assert res.other_date_weights["landcover"] == 0.0 and res.other_date_weights["lst"] > 0.0


def test_without_gap_filling_a_value_that_did_not_complete_its_pixel_is_not_counted(tmp_path, model, scene):
    """Gap filling off: at R the neighbouring date gives LST but not NDVI, so R stays empty and that LST never
    entered the map; at P it completed the pixel. Only P is counted, and only its date listed."""
    path, _ = model
    _, others = scene
    r_pix = (20, 5)
    ndvi, lc = _statics()
    lst = np.full((H, W), LST["20230610"])
    lst[P] = lst[r_pix] = np.nan
    ndvi = ndvi.copy()
    ndvi[r_pix] = np.nan
    target = str(tmp_path / "t" / "factors_20230610.tif")
    os.makedirs(os.path.dirname(target))
    write_raster(target, FINE, np.stack([ndvi, lst, lc]), names=["ndvi", "lst", "landcover"],
                 kinds=["continuous", "continuous", "categorical"])
    ndvi8, lc8 = _statics()
    ndvi8[r_pix] = np.nan  # 2023-06-08 misses NDVI at R
    lst8 = np.full((H, W), LST["20230608"])
    far = str(tmp_path / "t" / "factors_20230608.tif")
    write_raster(far, FINE, np.stack([ndvi8, lst8, lc8]), names=["ndvi", "lst", "landcover"],
                 kinds=["continuous", "continuous", "categorical"])
    out, qual = str(tmp_path / "sm.tif"), str(tmp_path / "q.tif")
    res = downscale(path, target, out, residual="none", quality=qual, n_jobs=1, clip=(-5, 5), neighbours=[far],
                    fill_window_days=3)
    got = read_all(out)[0]
    assert np.isfinite(got[P]) and np.isnan(got[r_pix])
    assert (res.n_from_other_date, res.other_date_factors, res.other_dates) == (1, {"lst": 1}, ["2023-06-08"])
    # R's only neighbouring value unused: nothing listed at all
    lst[P] = LST["20230610"]
    write_raster(target, FINE, np.stack([ndvi, lst, lc]), names=["ndvi", "lst", "landcover"],
                 kinds=["continuous", "continuous", "categorical"])
    res = downscale(path, target, out, residual="none", n_jobs=1, clip=(-5, 5), neighbours=[far], fill_window_days=3)
    assert (res.n_from_other_date, res.other_date_factors, res.other_dates) == (0, {}, [])


def test_a_missing_land_cover_class_takes_the_neighbouring_date_s_class_with_gap_filling_on(tmp_path, model):
    """Land cover missing at a few pixels (with LST elsewhere): the neighbouring date's class agrees with every
    hidden observed class (land cover does not change in two days), so it gets all the weight and the pixels are
    predicted with their true class, as with gap filling off, not with their cells' class fractions."""
    path, est = model
    ndvi, lc = _statics()
    lst = np.full((H, W), LST["20230610"])
    lst[P] = np.nan
    holes = [(10, 10), (11, 14), (20, 22)]
    lc_today = lc.copy()
    for pix in holes:
        lc_today[pix] = np.nan
    kinds = ["continuous", "continuous", "categorical"]
    target = str(tmp_path / "factors_20230610.tif")
    write_raster(target, FINE, np.stack([ndvi, lst, lc_today]), names=["ndvi", "lst", "landcover"], kinds=kinds)
    other = _stack(tmp_path, "20230608")
    smap = str(tmp_path / "smap_20230610.tif")
    write_raster(smap, COARSE, np.full((3, 4), 0.25))
    out, qual = str(tmp_path / "sm.tif"), str(tmp_path / "q.tif")
    res = downscale(path, target, out, coarse_sm=smap, residual="none", quality=qual, n_jobs=1, clip=(-5, 5),
                    neighbours=[other], fill_window_days=3)
    got, q = read_all(out)[0], gdal.Open(qual).ReadAsArray()
    expected = [_expected(est, LST["20230610"], pix) for pix in holes]
    for pix, value in zip(holes, expected):
        assert got[pix] == pytest.approx(value, abs=1e-7) and q[pix] == FROM_OTHER_DATE
    assert res.other_date_weights["landcover"] == 1.0
    assert res.other_date_factors == {"lst": 1, "landcover": 3} and res.other_dates == ["2023-06-08"]
    # the cells' class fractions (the gap filling alone) give other values: the test can fail
    downscale(path, target, out, coarse_sm=smap, residual="none", n_jobs=1, clip=(-5, 5), fill_window_days=0)
    alone = read_all(out)[0]
    assert max(abs(float(alone[pix]) - value) for pix, value in zip(holes, expected)) > 1e-3


def test_one_read_per_row_gives_the_same_maps(tmp_path, model, scene, monkeypatch):
    """The rows that calibration and pass 1b read are read once for the stack's own factors and the neighbouring
    dates' evidence, and the bands with gaps come from pass 1: the maps and numbers are those of reading the stack
    again for the evidence and once more in full for its gappy bands (the code before that change), with fewer
    reads of the stack."""
    from smdownscale.algorithms import raster

    path, _ = model
    target, others = scene
    smap = str(tmp_path / "smap_20230610.tif")
    write_raster(smap, COARSE, np.full((3, 4), 0.25) + np.arange(12).reshape(3, 4) * 0.01)
    real_read = raster.read_block
    real_evidence = TemporalFill.evidence

    def run(tag):
        reads = []

        def spy(ds, row0, nrows, bands=None, dtype=np.float32, sources=None):
            if (sources and os.path.basename(sources[0]) == "factors_20230610.tif") or \
                    os.path.basename(ds.GetDescription()) == "factors_20230610.tif":
                reads.append(nrows)
            return real_read(ds, row0, nrows, bands, dtype, sources)

        monkeypatch.setattr(raster, "read_block", spy)
        out, qual = str(tmp_path / f"sm_{tag}.tif"), str(tmp_path / f"q_{tag}.tif")
        res = downscale(path, target, out, coarse_sm=smap, quality=qual, n_jobs=1, block_rows=5, clip=(-5, 5),
                        neighbours=list(others.values()), fill_window_days=10)
        monkeypatch.setattr(raster, "read_block", real_read)
        return read_all(out)[0], gdal.Open(qual).ReadAsArray(), res, reads

    new = run("new")
    # as before: the evidence reads its rows again, and the gappy bands are found by a read of the whole stack
    monkeypatch.setattr(TemporalFill, "evidence", lambda self, reader, row0, nrows, raw=None, everywhere=True:
                        real_evidence(self, reader, row0, nrows))
    monkeypatch.setattr(TemporalFill, "set_gappy", lambda self, names: None)
    old = run("old")
    np.testing.assert_array_equal(new[0], old[0])
    np.testing.assert_array_equal(new[1], old[1])
    assert new[2].as_dict() | {"output": "", "quality": ""} == old[2].as_dict() | {"output": "", "quality": ""}
    assert new[2].n_from_other_date == 2 and new[2].other_dates == ["2023-06-01", "2023-06-08"]
    assert sum(new[3]) < sum(old[3]) - H  # at least the whole stack's read fewer


def test_evidence_only_where_a_factor_misses_gives_the_same_values_there(tmp_path):
    """lst_diff and lst_day from a stack where lst_day misses at A and lst_night at B (both bands gappy): the
    evidence asked only where a factor misses equals the full evidence at those pixels (lst_diff at B takes the
    neighbour's lst_day too, as in full), and keeps the stack's own values elsewhere."""
    from smdownscale.algorithms.derived import StackReader

    rng = np.random.default_rng(9)
    pattern = rng.normal(0.0, 2.0, (H, W))
    day, night = 300.0 + pattern, 280.0 + rng.normal(0.0, 1.0, (H, W))
    other = str(tmp_path / "f_20230608.tif")
    write_raster(other, FINE, np.stack([295.0 + pattern, night - 3.0 + rng.normal(0.0, 0.5, (H, W))]),
                 names=["lst_day", "lst_night"])
    a, b = (8, 15), (9, 3)
    day[a] = np.nan
    night[b] = np.nan
    target = str(tmp_path / "f_20230610.tif")
    write_raster(target, FINE, np.stack([day, night]), names=["lst_day", "lst_night"])
    fill = TemporalFill(target, FINE, [other], 3)
    reader = StackReader(gdal.Open(target), ["lst_diff", "lst_day"], target)
    raw = reader.read_raw(8, 2)
    full = fill.evidence(reader, 8, 2, raw)
    origin_full = fill.origin.copy()
    part = fill.evidence(reader, 8, 2, raw, everywhere=False)
    own = reader.derive(raw, 2)
    missing = ~np.isfinite(own)
    np.testing.assert_array_equal(part[missing], full[missing])
    np.testing.assert_array_equal(part[~missing], own[~missing])
    # every date the full evidence credits, and also those of observed inputs replaced where a factor misses
    np.testing.assert_array_equal(fill.origin & origin_full, origin_full)
    assert missing.sum() == 3 and np.isfinite(part[missing]).all()  # lst_diff at A and B, lst_day at A
    assert not np.allclose(full[~missing], own[~missing])  # the full evidence differs elsewhere: the test can fail


def test_levels_of_every_gappy_band_come_from_one_read_of_each_file(tmp_path, monkeypatch):
    """Two bands with holes: the neighbour's levels of both are computed in the same pass (one multi-band read of
    the stack and of the neighbour per block of rows, not one pass per band), with the values of one band at a
    time."""
    from smdownscale.algorithms import raster

    rng = np.random.default_rng(3)
    ndvi, lst = rng.uniform(0.2, 0.7, (H, W)), rng.uniform(285.0, 300.0, (H, W))
    today = np.stack([ndvi, lst])
    today[0, 2, 3] = np.nan
    today[1, 10, 11] = np.nan
    # the neighbour: NDVI 0.05 lower on the left half, 0.02 higher on the right; LST 4 K cooler everywhere
    other = np.stack([ndvi + np.where(np.arange(W) < W // 2, -0.05, 0.02)[None, :], lst - 4.0])
    write_raster(str(tmp_path / "f_20230610.tif"), FINE, today, names=["ndvi", "lst"])
    write_raster(str(tmp_path / "f_20230608.tif"), FINE, other, names=["ndvi", "lst"])
    reads = []
    real = raster.read_block

    def spy(ds, row0, nrows, bands=None, dtype=np.float32, sources=None):
        reads.append((os.path.basename(sources[0]) if sources else "", tuple(bands or ()), nrows))
        return real(ds, row0, nrows, bands, dtype, sources)

    monkeypatch.setattr(raster, "read_block", spy)
    fill = TemporalFill(str(tmp_path / "f_20230610.tif"), FINE, [str(tmp_path / "f_20230608.tif")], 3)
    fill.set_gappy(["ndvi", "lst"])
    raw = today.copy()
    fill(0, H, ["ndvi", "lst"], raw)
    # moved to today's level: the hole's true value wherever the tile's difference is the same everywhere
    assert raw[0, 2, 3] == pytest.approx(ndvi[2, 3], abs=1e-6)  # float32 files
    assert raw[1, 10, 11] == pytest.approx(lst[10, 11], abs=1e-4)
    levelling = [(name, bands) for name, bands, nrows in reads if nrows == H and len(bands) > 1]
    assert sorted(levelling) == [("f_20230608.tif", (1, 2)), ("f_20230610.tif", (1, 2))]


def test_a_date_that_replaced_an_observed_input_of_a_derived_factor_is_credited(tmp_path):
    """lst_diff at A misses because lst_day does; the nearer date has lst_day but not lst_night there, the farther
    one both. Gap filling takes lst_day from the nearer date and lst_night from the farther one (the stack's own
    lst_night is replaced so both come from the same neighbouring days): lst_diff at A credits both dates."""
    from smdownscale.algorithms.derived import StackReader

    rng = np.random.default_rng(11)
    day, night = 300.0 + rng.normal(0.0, 2.0, (H, W)), 280.0 + rng.normal(0.0, 1.0, (H, W))
    a = (8, 15)
    near_night = night - 2.0
    near_night[a] = np.nan
    near, far = str(tmp_path / "f_20230609.tif"), str(tmp_path / "f_20230606.tif")
    write_raster(near, FINE, np.stack([day - 1.0, near_night]), names=["lst_day", "lst_night"])
    write_raster(far, FINE, np.stack([day - 3.0, night - 4.0]), names=["lst_day", "lst_night"])
    own_day = day.copy()
    own_day[a] = np.nan
    target = str(tmp_path / "f_20230610.tif")
    write_raster(target, FINE, np.stack([own_day, night]), names=["lst_day", "lst_night"])
    fill = TemporalFill(target, FINE, [near, far], 5)
    fill.set_gappy(["lst_day", "lst_night"])
    reader = StackReader(gdal.Open(target), ["lst_diff", "lst_day"], target)
    raw = reader.read_raw(8, 1)
    part = fill.evidence(reader, 8, 1, raw, everywhere=False)
    assert np.isfinite(part[0, 0, a[1]])
    bits = {os.path.basename(src.path): 1 << k for k, src in enumerate(fill.sources)}
    near_bit, far_bit = bits["f_20230609.tif"], bits["f_20230606.tif"]
    assert int(fill.origin[0, 0, a[1]]) == near_bit | far_bit  # lst_diff: lst_day from near, lst_night from far
    assert int(fill.origin[1, 0, a[1]]) == near_bit  # lst_day itself from the nearer date


@pytest.mark.bad_input("downscale: every neighbouring stack outside the temporal filling window")
def test_neighbours_all_outside_the_window_are_refused(tmp_path, model, scene):
    # filling used to be silently off: stacks of 2023-06-01 and 2023-06-20 given with a 3-day window around 06-10
    path, _ = model
    target, others = scene
    out = str(tmp_path / "sm.tif")
    with pytest.raises(InputError, match=r"^None of the neighbouring factor stacks lies within the 3-day temporal "
                                         r"filling window of 2023-06-10 \(the date of factors_20230610\.tif\): their "
                                         r"dates are 2023-06-01, 2023-06-20, the nearest 9 days away\. Give stacks"):
        downscale(path, target, out, residual="none", neighbours=[others["20230601"], others["20230620"]],
                  fill_window_days=3)
    assert not os.path.exists(out)
    # one neighbour inside the window is enough (the others are simply not consulted)
    downscale(path, target, out, residual="none", neighbours=[others["20230601"], others["20230608"]],
              fill_window_days=3)
    assert os.path.exists(out)


def test_a_date_missing_a_factor_everywhere_takes_it_from_its_neighbour(tmp_path, model):
    """A date without any LST (no overpass that day) is mapped from its neighbour's LST where gap filling and
    temporal filling are on: every pixel is coded FROM_OTHER_DATE and gets the neighbour's value (no level can be
    measured without a pixel valid on both dates, so the value is taken as it is)."""
    path, est = model
    every = [(r, c) for r in range(H) for c in range(W)]
    target = _stack(tmp_path, "20230610", holes=every)
    near = _stack(tmp_path, "20230608")
    smap = str(tmp_path / "smap_20230610.tif")
    write_raster(smap, COARSE, np.full((3, 4), 0.25))
    out, qual = str(tmp_path / "sm.tif"), str(tmp_path / "q.tif")
    res = downscale(path, target, out, coarse_sm=smap, residual="none", quality=qual, n_jobs=1, neighbours=[near],
                    fill_window_days=12)
    q = gdal.Open(qual).ReadAsArray()
    assert (q == FROM_OTHER_DATE).all(), np.unique(q, return_counts=True)
    got = read_all(out)[0]
    ndvi, lc = _statics()
    lst = np.full((H, W), LST["20230608"])
    lst[P] += BUMP["20230608"]
    lst[Q] += BUMP["20230608"]
    x = np.column_stack([ndvi.ravel(), lst.ravel(), (lc == 10).ravel(), (lc == 20).ravel()]).astype(np.float32)
    np.testing.assert_allclose(got.ravel(), est.predict(x), atol=1e-6)
    assert res.other_date_factors == {"lst": H * W}


def test_a_date_missing_a_factor_everywhere_without_neighbours_names_it(tmp_path, model):
    path, _ = model
    target = _stack(tmp_path, "20230610", holes=[(r, c) for r in range(H) for c in range(W)])
    smap = str(tmp_path / "smap_20230610.tif")
    write_raster(smap, COARSE, np.full((3, 4), 0.25))
    with pytest.raises(InputError, match=r"^Missing at every pixel of factors_20230610\.tif: lst, so no pixel has all "
                       r"factors\. Give the factor stacks of neighbouring dates \(NEIGHBOUR_FACTORS"):
        downscale(path, target, str(tmp_path / "sm.tif"), coarse_sm=smap, n_jobs=1)
    assert not os.path.exists(tmp_path / "sm.tif")


def test_a_date_missing_a_factor_everywhere_leaves_no_hole_where_its_neighbour_misses_it_too(tmp_path, model):
    """A date without any LST whose neighbour misses LST too in places (its own swath edge, water): those pixels take
    the cell means of the neighbour's LST (a cell without any, the nearest cell's) instead of staying empty under a
    valid SMAP cell, coded FROM_OTHER_DATE like the pixels that took the neighbour's own value."""
    path, est = model
    target = _stack(tmp_path, "20230610", holes=[(r, c) for r in range(H) for c in range(W)])
    edge = [(r, c) for r in range(H) for c in range(27, W)]  # the neighbour's swath ends at cell column 3
    near = _stack(tmp_path, "20230608", holes=edge)
    smap = str(tmp_path / "smap_20230610.tif")
    write_raster(smap, COARSE, np.full((3, 4), 0.25))
    out, qual = str(tmp_path / "sm.tif"), str(tmp_path / "q.tif")
    res = downscale(path, target, out, coarse_sm=smap, residual="none", quality=qual, n_jobs=1, neighbours=[near],
                    fill_window_days=12)
    got = read_all(out)[0]
    q = gdal.Open(qual).ReadAsArray()
    assert np.isfinite(got).all(), f"{np.isnan(got).sum()} pixels left empty under valid SMAP cells"
    assert (q == FROM_OTHER_DATE).all(), np.unique(q, return_counts=True)
    ndvi, lc = _statics()
    # the neighbour's LST: 295 K, with its bump of -5 K at P (cell (0, 0)) and Q (cell (1, 2)); cell column 3 takes
    # column 2's means, so the swath's pixels get LST between 295 - 5/81 and 295 K
    for lst in (LST["20230608"], LST["20230608"] + BUMP["20230608"] / 81):
        x = np.column_stack([ndvi[:, 27:].ravel(), np.full(H * (W - 27), lst), (lc[:, 27:] == 10).ravel(),
                             (lc[:, 27:] == 20).ravel()]).astype(np.float32)
        np.testing.assert_allclose(got[:, 27:].ravel(), est.predict(x), atol=1e-6)
    # elsewhere the neighbour's own value, as before
    lst = np.full((H, W), LST["20230608"])
    lst[P] += BUMP["20230608"]
    lst[Q] += BUMP["20230608"]
    x = np.column_stack([ndvi[:, :27].ravel(), lst[:, :27].ravel(), (lc[:, :27] == 10).ravel(),
                         (lc[:, :27] == 20).ravel()]).astype(np.float32)
    np.testing.assert_allclose(got[:, :27].ravel(), est.predict(x), atol=1e-6)
    assert res.other_date_factors == {"lst": H * W}
    assert res.other_dates == ["2023-06-08"]


@pytest.mark.parametrize("radar_columns", [0, 2])
def test_a_date_without_radar_still_fills_its_cloud_gaps_from_its_other_factors(tmp_path, radar_columns):
    """A date without a radar overpass (SAR missing at every pixel, taken from the neighbouring date) has no pixel with
    every factor observed. Its LST cloud gaps are still filled from what the pixels have: how LST deviates from its
    cell mean with NDVI is learnt on the pixels observing every factor but SAR, and the neighbour's LST (here a
    pattern unrelated to the date's) is weighed against that fill on those pixels. The same where the swath's corner
    gives SAR at a few pixels (two columns): too few pixels have every factor, so SAR is left out of the learning."""
    rng = np.random.default_rng(5)
    factors = [{"name": "ndvi", "kind": "continuous", "classes": []},
               {"name": "lst", "kind": "continuous", "classes": []},
               {"name": "sar", "kind": "continuous", "classes": []},
               {"name": "landcover", "kind": "categorical", "classes": [10, 20]}]
    x = np.column_stack([rng.uniform(0.05, 0.85, 6000), rng.uniform(280, 320, 6000), rng.uniform(-20, -5, 6000),
                         rng.integers(0, 2, 6000)])
    x = np.column_stack([x, 1.0 - x[:, 3]])
    est = DecisionTreeRegressor(random_state=0, max_leaf_nodes=2000).fit(x, 0.3 - 0.01 * (x[:, 1] - 300.0)
                                                                         + 0.002 * x[:, 2])
    path = str(tmp_path / "sm.smdmodel")
    model_io.save_model(path, est, {"features": ["ndvi", "lst", "sar", "landcover=10", "landcover=20"],
                                    "factors": factors, "model_type": "cart", "units": "m3/m3"})
    ndvi = rng.uniform(0.1, 0.8, (H, W))
    lc = rng.choice([10.0, 20.0], (H, W))
    lst = 300.0 - 30.0 * (ndvi - 0.45) + rng.normal(0.0, 0.3, (H, W))  # greener, cooler
    cloud = rng.uniform(size=(H, W)) < 0.3
    sar = rng.uniform(-15, -8, (H, W))
    swath = np.zeros((H, W), bool)
    swath[:, :radar_columns] = True
    target = str(tmp_path / "factors_20230610.tif")
    write_raster(target, FINE, np.stack([ndvi, np.where(cloud, np.nan, lst), np.where(swath, sar, np.nan), lc]),
                 names=["ndvi", "lst", "sar", "landcover"], kinds=["continuous"] * 3 + ["categorical"])
    near = str(tmp_path / "factors_20230608.tif")
    write_raster(near, FINE, np.stack([ndvi, 295.0 + rng.normal(0.0, 6.0, (H, W)), sar, lc]),
                 names=["ndvi", "lst", "sar", "landcover"], kinds=["continuous"] * 3 + ["categorical"])
    smap = str(tmp_path / "smap_20230610.tif")
    write_raster(smap, COARSE, np.full((3, 4), 0.25))
    out, qual = str(tmp_path / "sm.tif"), str(tmp_path / "q.tif")
    downscale(path, target, out, coarse_sm=smap, residual="none", quality=qual, n_jobs=1, neighbours=[near],
              fill_window_days=12, clip=(-5, 5))
    got = read_all(out)[0]
    assert (gdal.Open(qual).ReadAsArray()[~swath] == FROM_OTHER_DATE).all()  # SAR from the neighbour

    def predicted(lst_values):
        z = np.column_stack([ndvi[cloud], lst_values, sar[cloud], lc[cloud] == 10, lc[cloud] == 20])
        return est.predict(z.astype(np.float32))

    truth = predicted(lst[cloud])
    clear = ~cloud & ~swath
    np.testing.assert_allclose(got[clear], est.predict(np.column_stack(
        [ndvi[clear], lst[clear], sar[clear], lc[clear] == 10, lc[clear] == 20]).astype(np.float32)), atol=1e-6)
    err = np.sqrt(np.mean((got[cloud] - truth) ** 2))
    # the cell mean of LST alone (what the gaps took before): NDVI's 6 K of LST deviation lost
    means = np.array([[np.nanmean(np.where(cloud, np.nan, lst)[i:i + 9, j:j + 9]) for j in range(0, W, 9)]
                      for i in range(0, H, 9)])
    cell = np.sqrt(np.mean((predicted(np.kron(means, np.ones((9, 9)))[cloud]) - truth) ** 2))
    assert cell > 0.04, cell
    assert err < 0.25 * cell, (err, cell)


@pytest.mark.bad_input("downscale: neighbouring stack without any of the stack's band names")
def test_a_neighbour_without_any_band_of_the_stack_is_refused(tmp_path, model):
    """Bands are matched by name: a neighbouring stack whose bands are named otherwise (another tool's names) could
    give nothing, so it is refused naming both sets of names instead of filling nothing without a word."""
    path, _ = model
    target = _stack(tmp_path, "20230610", holes=[P])
    other = _stack(tmp_path, "20230608")
    ds = gdal.Open(other, gdal.GA_Update)
    for k, name in enumerate(("NDVI", "LST_Day_1km", "LC_Type1")):
        ds.GetRasterBand(k + 1).SetDescription(name)
    ds = None
    out = str(tmp_path / "sm.tif")
    with pytest.raises(InputError, match=r"^The neighbouring factor stack factors_20230608\.tif has none of the bands "
                       r"factors_20230610\.tif is read for \(ndvi, lst, landcover\); its bands are NDVI, LST_Day_1km, "
                       r"LC_Type1\. Temporal filling matches bands by name"):
        downscale(path, target, out, residual="none", n_jobs=1, neighbours=[other], fill_window_days=3)
    assert not os.path.exists(out)
    # one band in common is enough (the others are simply not filled from it)
    ds = gdal.Open(other, gdal.GA_Update)
    ds.GetRasterBand(2).SetDescription("lst")
    ds = None
    res = downscale(path, target, out, residual="none", n_jobs=1, neighbours=[other], fill_window_days=3)
    assert res.other_date_factors == {"lst": 1}
