"""Time series: inputs from lists, folders and manifests; one file per date equal to single-date runs;
the series list and its time ranges; pooled validation over dates; nothing left behind on failure."""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import shutil

import numpy as np
import pytest

from smdownscale.algorithms import manifest, options, raster, series
from smdownscale.algorithms.dates import date_from_name, pair_by_date
from smdownscale.algorithms.downscale import downscale
from smdownscale.algorithms.errors import Canceled, InputError
from smdownscale.algorithms.metrics import metrics
from smdownscale.algorithms.stations import Observation, crs_wkt
from smdownscale.algorithms.validate import validate
from smdownscale.tests.scenes import build_scene

#: A temporal filling window (days) covering the scene's dates, 8 days apart (off by default).
WINDOW = 12


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return build_scene(str(tmp_path_factory.mktemp("series")))


def _same(a: str, b: str) -> bool:
    return np.array_equal(raster.read_all(a), raster.read_all(b), equal_nan=True)


def test_series_equals_single_date_runs_one_file_per_date(chain, tmp_path):
    out = str(tmp_path / "out")
    fractions = []
    results = series.downscale_series(chain["model"], chain["stacks"], chain["smap"], out, n_jobs=1,
                                      progress=fractions.append, fill_window_days=WINDOW)
    assert [r.date for r in results] == chain["dates"]
    assert [os.path.basename(r.output) for r in results] == ["sm_1km_20230601.tif", "sm_1km_20230609.tif"]
    assert sorted(f for f in os.listdir(out) if not f.endswith(".aux.xml")) == \
        ["quality_20230601.tif", "quality_20230609.tif", "sm_1km_20230601.tif", "sm_1km_20230609.tif",
         "sm_1km_series.csv"]
    for res, stack, sm in zip(results, chain["stacks"], chain["smap"]):
        # with a window a series fills missing factors from its other dates (8 days apart here): a single-date
        # run given the other date as its neighbouring stack
        others = [s for s in chain["stacks"] if s != stack]
        single = downscale(chain["model"], stack, str(tmp_path / f"single_{res.date}.tif"), sm, n_jobs=1,
                           quality=str(tmp_path / f"single_q_{res.date}.tif"), neighbours=others,
                           fill_window_days=WINDOW)
        assert _same(res.output, single.output)
        assert res.n_from_other_date == single.n_from_other_date > 0
        # the same quality raster as a single-date run, with the sample's cloud gaps filled
        assert res.quality == os.path.join(out, f"quality_{res.date.replace('-', '')}.tif")
        assert _same(res.quality, single.quality)
        assert res.n_filled == single.n_filled > 0 and res.n_all_factors == single.n_all_factors
        assert res.n_valid == single.n_valid > 2000
        assert res.mean == pytest.approx(single.mean, abs=1e-12)
        assert res.max_cell_deviation < 1e-5  # residual correction applied per date
    # each date reports over its half of the run: the first ends at 0.5, the second starts above it
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and 0.5 in fractions
    assert 0.0 < fractions[0] <= 0.5 and any(0.5 < f < 1.0 for f in fractions)
    entries = series.read_series_list(os.path.join(out, series.LIST_NAME))
    assert [(e.date, e.start, e.end) for e in entries] == [
        (dt.date(2023, 6, 1), dt.date(2023, 6, 1), dt.date(2023, 6, 9)),
        (dt.date(2023, 6, 9), dt.date(2023, 6, 9), dt.date(2023, 6, 17))]
    assert [e.path for e in entries] == [r.output for r in results]
    with open(os.path.join(out, series.LIST_NAME), newline="") as fh:
        assert list(csv.reader(fh))[1] == ["2023-06-01", "2023-06-01", "2023-06-09", "sm_1km_20230601.tif"]


def test_series_without_residual_correction_needs_no_smap(chain, tmp_path):
    results = series.downscale_series(chain["model"], chain["stacks"], None, str(tmp_path), residual="none",
                                      n_jobs=1)
    single = downscale(chain["model"], chain["stacks"][1], str(tmp_path / "plain.tif"), residual="none", n_jobs=1,
                       neighbours=chain["stacks"][:1], fill_window_days=options.FILL_WINDOW_DAYS)
    assert _same(results[1].output, single.output)
    assert math.isnan(results[1].max_cell_deviation)
    with pytest.raises(InputError, match="Residual correction needs a SMAP raster for every date"):
        series.downscale_series(chain["model"], chain["stacks"], None, str(tmp_path / "x"))


def test_folder_inputs_flat_subfolders_and_manifest(chain, tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for stack, sm in zip(chain["stacks"], chain["smap"]):
        shutil.copy(stack, flat / os.path.basename(stack))
        shutil.copy(sm, flat / os.path.basename(sm))
    (flat / "factors_coarse_20230601.tif").write_bytes(b"")  # other names are ignored
    (flat / "notes.txt").write_text("x")
    sm, st = series.folder_inputs(str(flat))
    assert [os.path.basename(p) for p in st] == ["factors_20230601.tif", "factors_20230609.tif"]
    assert [os.path.basename(p) for p in sm] == ["smap_20230601.tif", "smap_20230609.tif"]

    nested = tmp_path / "nested"
    (nested / "factors").mkdir(parents=True)
    (nested / "smap").mkdir()
    for stack, s in zip(chain["stacks"], chain["smap"]):
        shutil.copy(stack, nested / "factors" / os.path.basename(stack))
        shutil.copy(s, nested / "smap" / os.path.basename(s))
    sm2, st2 = series.folder_inputs(str(nested))
    assert [os.path.relpath(p, nested) for p in st2 + sm2] == [
        "factors/factors_20230601.tif", "factors/factors_20230609.tif", "smap/smap_20230601.tif",
        "smap/smap_20230609.tif"]
    # a manifest in the folder decides: here it lists the second date only
    manifest.write_manifest(str(nested / "manifest.json"),
                            [{"date": "2023-06-09", "smap": "smap/smap_20230609.tif",
                              "factors": "factors/factors_20230609.tif"}], {}, {}, {})
    sm3, st3 = series.folder_inputs(str(nested))
    assert [os.path.basename(p) for p in st3 + sm3] == ["factors_20230609.tif", "smap_20230609.tif"]
    stacks, smap = series.resolve_inputs(manifest=str(nested / "manifest.json"))
    assert (stacks, smap) == (st3, sm3)
    stacks, smap = series.resolve_inputs(folder=str(flat))
    assert (stacks, smap) == (st, sm)

    with pytest.raises(InputError, match="No factor stack named factors_<date>.tif"):
        series.folder_inputs(str(tmp_path / "nested" / "smap"))
    with pytest.raises(InputError, match="Input folder not found"):
        series.folder_inputs(str(tmp_path / "missing"))
    with pytest.raises(InputError, match=r"in one way.*\(got factor stack list, input folder\)"):
        series.resolve_inputs(stacks=chain["stacks"], folder=str(flat))
    with pytest.raises(InputError, match=r"in one way.*\(got none\)"):
        series.resolve_inputs()


def test_pairing_errors_name_the_files(chain, tmp_path):
    undated = str(tmp_path / "stack.tif")
    shutil.copy(chain["stacks"][0], undated)
    with pytest.raises(InputError, match=r"have no date .* stack\.tif\. A time series needs the date"):
        series.pair_series([undated, chain["stacks"][1]])
    with pytest.raises(InputError, match="Dates do not match between the inputs: 2023-06-09 only among the factor"):
        series.pair_series(chain["stacks"], chain["smap"][:1])
    twin = str(tmp_path / "factors_2023-06-01.tif")
    shutil.copy(chain["stacks"][0], twin)
    with pytest.raises(InputError, match="Two factor stacks carry the date 2023-06-01"):
        series.pair_series([chain["stacks"][0], twin])
    a, b = str(tmp_path / "a.tif"), str(tmp_path / "b.tif")
    with pytest.raises(InputError, match="A time series needs the date in every file name"):
        series.pair_series([a, b], [a, b])
    with pytest.raises(InputError, match="Give at least one factor stack"):
        series.pair_series([])


def test_single_pair_with_one_undated_file_is_paired_by_the_other_date():
    assert pair_by_date(["/tmp/OUTPUT.tif"], ["/d/smap_20230601.tif"], "a", "b") == \
        [("2023-06-01", "/tmp/OUTPUT.tif", "/d/smap_20230601.tif")]
    assert pair_by_date(["x_20230602.tif"], ["y.tif"], "a", "b")[0][0] == "2023-06-02"
    with pytest.raises(InputError, match="2023-06-01 only among the a rasters"):
        pair_by_date(["x_20230601.tif"], ["y_20230602.tif"], "a", "b")


def test_time_ranges_regular_irregular_and_single():
    d = dt.date.fromisoformat
    assert series.time_ranges([d("2023-06-09"), d("2023-06-01"), d("2023-06-17")]) == [
        (d("2023-06-01"), d("2023-06-09")), (d("2023-06-09"), d("2023-06-17")), (d("2023-06-17"), d("2023-06-25"))]
    # gaps 1, 1, 30 days: median step 1 day, so a long gap shows as a gap, not as a stale map
    assert series.time_ranges([d("2023-06-01"), d("2023-06-02"), d("2023-06-03"), d("2023-07-03")])[2] == \
        (d("2023-06-03"), d("2023-06-04"))
    assert series.time_ranges([d("2023-06-01")]) == [(d("2023-06-01"), d("2023-06-02"))]


def test_cancel_and_failure_leave_nothing_behind(chain, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier file")
    calls = []

    def cancel_once_a_file_is_written() -> bool:
        calls.append(1)
        return any(f.endswith(".tif") for _, _, fs in os.walk(out) for f in fs)

    with pytest.raises(Canceled):
        series.downscale_series(chain["model"], chain["stacks"], chain["smap"], str(out), n_jobs=1,
                                is_canceled=cancel_once_a_file_is_written)
    assert len(calls) > 1
    assert sorted(os.listdir(out)) == ["keep.txt"]
    broken = str(tmp_path / "factors_20230609.tif")
    raster.write_raster(broken, raster.Grid.from_path(chain["stacks"][1]),
                        np.zeros((1,) + raster.read_all(chain["stacks"][1]).shape[1:]), names=["ndvi"])
    with pytest.raises(InputError, match="lacks the factor"):
        series.downscale_series(chain["model"], [chain["stacks"][0], broken], chain["smap"], str(out), n_jobs=1)
    assert sorted(os.listdir(out)) == ["keep.txt"]
    with pytest.raises(InputError, match=r"The output file \(.*factors_20230609\.tif\) is the same file as the input "
                                         r"factor stack .*Choose another file name or folder for the output"):
        series.downscale_series(chain["model"], [broken], [chain["smap"][1]], str(tmp_path), prefix="factors")
    assert os.path.exists(broken)


def test_stale_staging_folder_of_a_killed_run_is_removed(chain, tmp_path):
    stale = tmp_path / ".sm_1km-partial-999999999-0123abcd"  # no process has this id
    stale.mkdir()
    (stale / "sm_1km_20230601.tif").write_bytes(b"partial")
    live = tmp_path / f".sm_1km-partial-{os.getpid()}-0123abcd"
    live.mkdir()
    series.downscale_series(chain["model"], chain["stacks"][:1], chain["smap"][:1], str(tmp_path), n_jobs=1)
    assert not stale.exists() and live.exists()


@pytest.fixture(scope="module")
def estimates(chain, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("estimates"))
    return [r.output for r in series.downscale_series(chain["model"], chain["stacks"], chain["smap"], out, n_jobs=1)]


def test_validate_series_per_date_equals_single_and_pools_all_pixels(chain, estimates, tmp_path):
    out = str(tmp_path / "metrics.csv")
    res = series.validate_series(estimates, chain["truth"], output_csv=out, resampling="nearest", max_samples=500)
    assert [(r["source"], r["date"]) for r in res.rows] == [("reference", "2023-06-01"), ("reference", "2023-06-09")]
    for row, est, ref in zip(res.rows, estimates, chain["truth"]):
        single = validate(est, reference=ref, reference_resampling="nearest")["reference"]
        for k in ("n", "r", "mae", "rmse", "bias", "ubrmsd"):
            assert row[k] == pytest.approx(single[k], abs=1e-12)
    est_all = np.concatenate([raster.read_all(p).ravel() for p in estimates]).astype(np.float64)
    ref_all = np.concatenate([raster.read_all(p).ravel() for p in chain["truth"]]).astype(np.float64)
    expected = metrics(est_all, ref_all)
    pooled = res.pooled["reference"]
    for k in ("n", "r", "mae", "rmse", "bias", "ubrmsd"):
        assert pooled[k] == pytest.approx(expected[k], rel=1e-9, abs=1e-12)
    assert pooled["n"] == sum(r["n"] for r in res.rows) > 6000
    # the plot sample: at most 500 evenly spaced pairs, each a real (estimate, reference) pair
    e, r = res.samples
    assert 250 < e.size <= 500
    ok = np.isfinite(est_all) & np.isfinite(ref_all)
    pairs = set(zip(np.round(est_all[ok], 6), np.round(ref_all[ok], 6)))
    assert all((round(a, 6), round(b, 6)) in pairs for a, b in zip(e, r))
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["source"], r["estimate"], r["date"]) for r in rows] == [
        ("reference", "sm_1km_20230601.tif", "2023-06-01"), ("reference", "sm_1km_20230609.tif", "2023-06-09"),
        ("reference", "", "all")]
    assert int(rows[2]["n"]) == pooled["n"] and float(rows[2]["r"]) == pytest.approx(pooled["r"], abs=1e-6)


def _station_observations(estimates, evil: str):
    """Two stations observed on both dates (one of them named ``evil``), their values = estimate + offsets."""
    obs = []
    wkt = crs_wkt("EPSG:4326")
    from osgeo import osr

    for path in estimates:
        grid = raster.Grid.from_path(path)
        values = raster.read_all(path)[0]
        day = date_from_name(path)
        ct = osr.CoordinateTransformation(grid.srs, raster.srs_from_user("EPSG:4326"))
        for name, (col, row), offset in ((evil, (20, 30), 0.01), ("B", (40, 12), -0.02)):
            x = grid.transform[0] + (col + 0.5) * grid.transform[1]
            y = grid.transform[3] + (row + 0.5) * grid.transform[5]
            lon, lat, _ = ct.TransformPoint(x, y)
            obs.append(Observation(name, lon, lat, wkt, day, float(values[row, col]) - offset))
    obs.append(Observation("B", obs[-1].x, obs[-1].y, wkt, dt.date(2023, 5, 1), 0.2))  # a day without estimate
    return obs


def test_validate_series_with_stations_across_dates(estimates, tmp_path):
    evil = "<script>alert(1)</script>"
    obs = _station_observations(estimates, evil)
    pairs_csv = str(tmp_path / "pairs.csv")
    res = series.validate_series(estimates, None, obs, output_csv=str(tmp_path / "m.csv"), pairs_csv=pairs_csv)
    assert [(r["source"], r["date"], r["n"]) for r in res.rows] == [("stations", "2023-06-01", 2),
                                                                    ("stations", "2023-06-09", 2)]
    assert res.pooled["stations"]["n"] == 4
    assert res.pooled["stations"]["bias"] == pytest.approx((0.01 * 2 - 0.02 * 2) / 4, abs=1e-6)
    assert res.pooled[f"station:{evil}"]["n"] == 2
    assert res.pooled[f"station:{evil}"]["bias"] == pytest.approx(0.01, abs=1e-6)
    assert res.pooled["station:B"]["bias"] == pytest.approx(-0.02, abs=1e-6)
    assert res.samples is None and res.skipped == []
    assert sorted({p.date for p in res.pairs}) == [dt.date(2023, 6, 1), dt.date(2023, 6, 9)]
    with open(pairs_csv, newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 4
    # a date without observations is skipped and named; no date at all is an error
    only_first = [o for o in obs if o.date == dt.date(2023, 6, 1)]
    res2 = series.validate_series(estimates, None, only_first)
    assert len(res2.skipped) == 1 and res2.skipped[0].startswith("2023-06-09: No station has an observation")
    assert res2.pooled["stations"]["n"] == 2
    later = [Observation(o.station, o.x, o.y, o.crs_wkt, dt.date(2024, 1, 1), o.value) for o in only_first]
    with pytest.raises(InputError, match="No station could be compared on any of the 2 dates; the first problem: "
                                         "No station has an observation on 2023-06-01"):
        series.validate_series(estimates, None, later)


def test_validate_series_errors(estimates, chain, tmp_path):
    with pytest.raises(InputError, match="Nothing to validate against"):
        series.validate_series(estimates)
    with pytest.raises(InputError, match="Dates do not match between the inputs: 2023-06-09 only among the estimate"):
        series.validate_series(estimates, chain["truth"][:1])
    undated = []
    for name, src in (("a.tif", estimates[0]), ("b.tif", estimates[1]), ("c.tif", chain["truth"][0]),
                      ("d.tif", chain["truth"][1])):
        shutil.copy(src, tmp_path / name)
        undated.append(str(tmp_path / name))
    res = series.validate_series(undated[:2], undated[2:])  # paired by order, dates unknown
    assert [r["date"] for r in res.rows] == ["", ""] and res.pooled["reference"]["n"] > 6000
    with pytest.raises(InputError, match="needs the date of every estimate in its file name"):
        series.validate_series(undated[:2], undated[2:],
                               [Observation("A", 116.0, 43.5, crs_wkt("EPSG:4326"), dt.date(2023, 6, 1), 0.2)])
    with pytest.raises(Canceled):
        series.validate_series(estimates, chain["truth"], output_csv=str(tmp_path / "c.csv"), is_canceled=lambda: True)
    assert not os.path.exists(tmp_path / "c.csv")
