"""Validation against a reference raster and stations: metric values, resampling, CSV outputs, errors."""

import csv
import datetime as dt
import math
import os

import numpy as np
import pytest
from osgeo import osr

from smdownscale.algorithms.errors import Canceled, InputError
from smdownscale.algorithms.raster import Grid, srs_from_user, write_raster
from smdownscale.algorithms.stations import Observation, crs_wkt
from smdownscale.algorithms.validate import compare_reference, validate

UTM = srs_from_user("EPSG:32650").ExportToWkt()
WGS84 = crs_wkt("EPSG:4326")
W, H = 40, 30
GRID = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), W, H)
D1 = dt.date(2023, 6, 1)


def _estimate_values(seed=0):
    rng = np.random.default_rng(seed)
    est = rng.uniform(0.1, 0.4, (H, W))
    est[0:3, 0:4] = np.nan
    est[12, 30] = np.nan
    return est


@pytest.fixture
def estimate(tmp_path):
    est = _estimate_values()
    path = str(tmp_path / "sm_1km_20230601.tif")
    write_raster(path, GRID, est)
    return path, est.astype(np.float32).astype(np.float64)


def test_reference_identical_gives_perfect_agreement(tmp_path, estimate):
    path, est = estimate
    ref = str(tmp_path / "ref.tif")
    write_raster(ref, GRID, est)
    res = validate(path, reference=ref)["reference"]
    assert res["n"] == W * H - 13
    assert res["r"] == pytest.approx(1.0, abs=1e-9)
    assert res["rmse"] < 1e-7 and abs(res["bias"]) < 1e-7 and res["mae"] < 1e-7 and res["ubrmsd"] < 1e-7
    assert res["resampling"] == "bilinear"


def test_reference_with_known_offset(tmp_path, estimate):
    path, est = estimate
    ref = str(tmp_path / "ref.tif")
    write_raster(ref, GRID, est - 0.02)
    res = validate(path, reference=ref)["reference"]
    assert res["bias"] == pytest.approx(0.02, abs=1e-6)
    assert res["rmse"] == pytest.approx(0.02, abs=1e-6)
    assert res["mae"] == pytest.approx(0.02, abs=1e-6)
    assert res["ubrmsd"] < 1e-6
    assert res["r"] == pytest.approx(1.0, abs=1e-9)


def test_finer_reference_is_averaged(tmp_path):
    rng = np.random.default_rng(5)
    fine = rng.uniform(0.1, 0.4, (2 * H, 2 * W))
    fine32 = fine.astype(np.float32).astype(np.float64)
    est = fine32.reshape(H, 2, W, 2).mean(axis=(1, 3))
    path = str(tmp_path / "est.tif")
    write_raster(path, GRID, est)
    ref = str(tmp_path / "ref500.tif")
    write_raster(ref, Grid(UTM, (400000.0, 500.0, 0.0, 4600000.0, 0.0, -500.0), 2 * W, 2 * H), fine32)
    res = validate(path, reference=ref)["reference"]
    assert res["resampling"] == "average"
    assert res["n"] == W * H
    assert res["rmse"] < 1e-6
    forced = validate(path, reference=ref, reference_resampling="nearest")["reference"]
    assert forced["rmse"] > 0.01  # a single 500 m pixel is not the 1 km mean


def test_coarse_constant_reference_gives_bias_of_the_mean(tmp_path, estimate):
    path, est = estimate
    coarse = Grid(UTM, (397000.0, 3000.0, 0.0, 4603000.0, 0.0, -3000.0), 16, 12)
    ref = str(tmp_path / "smap.tif")
    write_raster(ref, coarse, np.full((12, 16), 0.3))
    res = validate(path, reference=ref)["reference"]
    ok = np.isfinite(est)
    assert res["resampling"] == "bilinear"
    assert res["n"] == ok.sum()
    assert res["bias"] == pytest.approx(est[ok].mean() - 0.3, abs=1e-6)
    assert res["ubrmsd"] == pytest.approx(est[ok].std(), abs=1e-6)
    assert math.isnan(res["r"])


def test_reference_in_another_crs(tmp_path, estimate):
    path, est = estimate
    x0, y0, x1, y1 = GRID.extent_in(WGS84)
    g = Grid(WGS84, (x0 - 0.1, 0.05, 0.0, y1 + 0.1, 0.0, -0.05), int((x1 - x0 + 0.2) / 0.05) + 1,
             int((y1 - y0 + 0.2) / 0.05) + 1)
    ref = str(tmp_path / "ref_wgs84.tif")
    write_raster(ref, g, np.full((g.height, g.width), 0.25))
    res = validate(path, reference=ref)["reference"]
    ok = np.isfinite(est)
    assert res["n"] == ok.sum()
    assert res["bias"] == pytest.approx(est[ok].mean() - 0.25, abs=1e-6)


def test_block_size_does_not_change_reference_metrics(tmp_path, estimate):
    path, est = estimate
    ref = str(tmp_path / "ref.tif")
    rng = np.random.default_rng(3)
    write_raster(ref, GRID, est + rng.normal(0, 0.03, est.shape))
    a = compare_reference(path, ref)
    b = compare_reference(path, ref, block_rows=7)
    for key in ("n", "r", "mae", "rmse", "bias", "ubrmsd"):
        assert a[key] == pytest.approx(b[key], abs=1e-12), key
    assert a["r"] < 0.99


def test_reference_errors(tmp_path, estimate):
    path, _ = estimate
    far = str(tmp_path / "far.tif")
    write_raster(far, Grid(UTM, (900000.0, 1000.0, 0.0, 3000000.0, 0.0, -1000.0), 5, 5), np.full((5, 5), 0.2))
    with pytest.raises(InputError, match="does not overlap the estimate"):
        validate(path, reference=far)
    empty = str(tmp_path / "empty.tif")
    write_raster(empty, GRID, np.full((H, W), np.nan))
    with pytest.raises(InputError, match="have no pixel where both hold a value"):
        validate(path, reference=empty)
    with pytest.raises(InputError, match="Nothing to validate against"):
        validate(path)
    with pytest.raises(InputError, match="Unknown resampling 'spline'"):
        validate(path, reference=empty, reference_resampling="spline")
    with pytest.raises(Canceled):
        validate(path, reference=empty, is_canceled=lambda: True)


def _lonlat(col, row):
    """Longitude/latitude of a pixel center of GRID."""
    ct = osr.CoordinateTransformation(GRID.srs, srs_from_user("EPSG:4326"))
    x = GRID.transform[0] + (col + 0.5) * GRID.transform[1]
    y = GRID.transform[3] + (row + 0.5) * GRID.transform[5]
    lon, lat, _ = ct.TransformPoint(x, y)
    return lon, lat


STATION_PIXELS = {"A": (5, 5), "B": (10, 20), "C": (30, 7), "D": (39, 29)}
OFFSETS = {"A": -0.01, "B": -0.01, "C": 0.03, "D": 0.03}  # observed = estimate + offset (daily mean)


def _observations(est):
    obs = []
    for name, (c, r) in STATION_PIXELS.items():
        lon, lat = _lonlat(c, r)
        target = est[r, c] + OFFSETS[name]
        obs += [Observation(name, lon, lat, WGS84, D1, target - 0.005),
                Observation(name, lon, lat, WGS84, D1, target + 0.005),
                Observation(name, lon, lat, WGS84, dt.date(2023, 6, 2), 0.9)]
    lon, lat = _lonlat(2, 1)  # a nodata pixel
    obs.append(Observation("N", lon, lat, WGS84, D1, 0.2))
    obs.append(Observation("OUT", 10.0, 10.0, WGS84, D1, 0.2))
    return obs


def test_stations_metrics_and_csv_outputs(tmp_path, estimate):
    path, est = estimate
    out = str(tmp_path / "metrics.csv")
    pairs = str(tmp_path / "pairs.csv")
    res = validate(path, stations=_observations(est), output_csv=out, pairs_csv=pairs)
    # d = estimate - observed = [0.01, 0.01, -0.03, -0.03]: bias -0.01, MAE 0.02, RMSE sqrt(0.0005), ubRMSD 0.02
    pooled = res["stations"]
    assert pooled["n"] == 4
    assert pooled["bias"] == pytest.approx(-0.01, abs=1e-9)
    assert pooled["mae"] == pytest.approx(0.02, abs=1e-9)
    assert pooled["rmse"] == pytest.approx(math.sqrt(0.0005), abs=1e-9)
    assert pooled["ubrmsd"] == pytest.approx(0.02, abs=1e-9)
    assert res["station:A"]["n"] == 1 and res["station:A"]["bias"] == pytest.approx(0.01, abs=1e-9)
    assert res["station:C"]["bias"] == pytest.approx(-0.03, abs=1e-9)
    assert sorted(res) == ["station:A", "station:B", "station:C", "station:D", "stations"]
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["source"] for r in rows] == ["stations", "station:A", "station:B", "station:C", "station:D"]
    assert rows[0]["n"] == "4" and float(rows[0]["bias"]) == pytest.approx(-0.01, abs=1e-6)
    assert rows[0]["date"] == "2023-06-01" and rows[0]["estimate"] == "sm_1km_20230601.tif"
    assert rows[1]["r"] == ""  # undefined for one pair
    with open(pairs, newline="") as f:
        prow = {r["station"]: r for r in csv.DictReader(f)}
    assert prow["N"]["status"] == "nodata" and prow["OUT"]["status"] == "outside"
    assert (int(prow["B"]["col"]), int(prow["B"]["row"])) == (10, 20)
    assert float(prow["B"]["estimated"]) == pytest.approx(est[20, 10], abs=1e-6)
    assert float(prow["B"]["observed"]) == pytest.approx(est[20, 10] - 0.01, abs=1e-6)
    assert sorted(os.listdir(tmp_path)) == ["metrics.csv", "pairs.csv", "sm_1km_20230601.tif"]


def test_reference_and_stations_together(tmp_path, estimate):
    path, est = estimate
    ref = str(tmp_path / "ref.tif")
    write_raster(ref, GRID, est - 0.05)
    out = str(tmp_path / "m.csv")
    res = validate(path, reference=ref, stations=_observations(est), output_csv=out)
    assert res["reference"]["bias"] == pytest.approx(0.05, abs=1e-6)
    assert res["stations"]["bias"] == pytest.approx(-0.01, abs=1e-9)
    with open(out, newline="") as f:
        assert [r["source"] for r in csv.DictReader(f)][:2] == ["reference", "stations"]


def test_station_coordinates_in_the_raster_crs(tmp_path, estimate):
    path, est = estimate
    x = GRID.transform[0] + 7.2 * GRID.transform[1]
    y = GRID.transform[3] + 3.9 * GRID.transform[5]
    obs = [Observation("P", x, y, UTM, D1, 0.2)]
    res = validate(path, stations=obs)
    assert res["stations"]["bias"] == pytest.approx(est[3, 7] - 0.2, abs=1e-9)


def test_no_observation_on_the_estimate_date(tmp_path, estimate):
    path, est = estimate
    lon, lat = _lonlat(5, 5)
    obs = [Observation("A", lon, lat, WGS84, dt.date(2023, 6, d), 0.2) for d in (2, 3)]
    with pytest.raises(InputError, match=r"No station has an observation on 2023-06-01, the estimate's date\. "
                                         r"The stations have observations on: 2023-06-02, 2023-06-03"):
        validate(path, stations=obs)


def test_no_station_on_a_valid_pixel(tmp_path, estimate):
    path, est = estimate
    lon, lat = _lonlat(1, 1)
    obs = [Observation("N", lon, lat, WGS84, D1, 0.2), Observation("OUT", 10.0, 10.0, WGS84, D1, 0.2),
           Observation("N", lon, lat, WGS84, dt.date(2023, 5, 30), 0.2)]
    with pytest.raises(InputError) as err:
        validate(path, stations=obs)
    msg = str(err.value)
    assert "No station falls on a valid pixel of the estimate on 2023-06-01" in msg
    assert "1 lie outside the estimate and 1 on nodata pixels" in msg
    assert "observations on: 2023-05-30, 2023-06-01" in msg


def test_date_from_parameter_when_the_name_has_none(tmp_path):
    est = _estimate_values(1)
    path = str(tmp_path / "estimate.tif")
    write_raster(path, GRID, est)
    lon, lat = _lonlat(5, 5)
    obs = [Observation("A", lon, lat, WGS84, D1, 0.2)]
    with pytest.raises(InputError, match="The date of estimate.tif is unknown"):
        validate(path, stations=obs)
    res = validate(path, stations=obs, date=D1)
    assert res["stations"]["bias"] == pytest.approx(float(np.float32(est[5, 5])) - 0.2, abs=1e-9)


def test_baseline_is_resampled_bilinearly_and_compared_on_the_estimate_pixels(tmp_path, estimate):
    path, est = estimate
    ref_values = est + 0.01
    ref_values[5, 5] = np.nan  # a reference gap: neither the estimate nor the baseline is compared there
    ref = str(tmp_path / "ref.tif")
    write_raster(ref, GRID, ref_values)
    coarse = Grid(UTM, (400000.0, 10000.0, 0.0, 4600000.0, 0.0, -10000.0), 4, 3)
    base = str(tmp_path / "smap_20230601.tif")
    write_raster(base, coarse, np.full((3, 4), 0.25))  # bilinear of a constant field is that constant
    out = str(tmp_path / "m.csv")
    res = validate(path, reference=ref, output_csv=out, baseline=base)
    assert list(res) == ["reference", "baseline"]
    valid = np.isfinite(est) & np.isfinite(ref_values)
    r32 = ref_values.astype(np.float32).astype(np.float64)[valid]
    b = res["baseline"]
    assert b["n"] == res["reference"]["n"] == W * H - 14
    assert b["bias"] == pytest.approx(0.25 - r32.mean(), abs=1e-6)
    assert b["rmse"] == pytest.approx(math.sqrt(np.mean((0.25 - r32) ** 2)), abs=1e-6)
    assert b["mae"] == pytest.approx(np.mean(np.abs(0.25 - r32)), abs=1e-6)
    assert math.isnan(b["r"])  # a constant side has no correlation
    assert res["reference"]["bias"] == pytest.approx(-0.01, abs=1e-6) and "baseline" not in res["reference"]
    same = b["estimate"]  # the estimate on the baseline's pixels: here all of its own
    assert same["n"] == b["n"] and same["bias"] == pytest.approx(-0.01, abs=1e-6)
    assert same["rmse"] == pytest.approx(res["reference"]["rmse"], abs=1e-9)
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["source"] for r in rows] == ["reference", "baseline"]
    assert float(rows[1]["bias"]) == pytest.approx(b["bias"], abs=1e-6)


def test_baseline_errors(tmp_path, estimate):
    path, est = estimate
    base = str(tmp_path / "smap.tif")
    write_raster(base, GRID, np.full((H, W), 0.2))
    with pytest.raises(InputError, match="A baseline is compared with the reference raster: give a reference "
                                         "raster too, or leave the baseline empty."):
        validate(path, stations=[Observation("A", 405500.0, 4594500.0, UTM, D1, 0.2)], baseline=base)
    ref = str(tmp_path / "ref.tif")
    write_raster(ref, GRID, est)
    far = Grid(UTM, (900000.0, 10000.0, 0.0, 4600000.0, 0.0, -10000.0), 4, 3)
    write_raster(base, far, np.full((3, 4), 0.2))
    with pytest.raises(InputError, match=r"The baseline smap.tif does not overlap the estimate sm_1km_20230601.tif; "
                                         "give the SMAP raster the estimate was downscaled from."):
        validate(path, reference=ref, baseline=base)


def test_an_estimate_stored_as_scaled_integers_is_compared_as_its_values(tmp_path, estimate):
    """A product stored as Int16 x 10000 with its scale and a -9999 fill in the file (as public products are): the
    stations and the reference meet the values it stands for, not the stored integers, and its fill is nodata."""
    from osgeo import gdal

    path, est = estimate
    scaled = str(tmp_path / "product_20230601.tif")
    ds = gdal.GetDriverByName("GTiff").Create(scaled, W, H, 1, gdal.GDT_Int16)
    ds.SetGeoTransform(GRID.transform)
    ds.SetProjection(GRID.crs_wkt)
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(-9999)
    band.SetScale(1e-4)
    band.SetOffset(0.0)
    stored = np.where(np.isfinite(est), np.round(est * 1e4), -9999).astype(np.int16)
    band.WriteArray(stored)
    ds = band = None
    values = np.where(stored == -9999, np.nan, stored * 1e-4)
    ref = str(tmp_path / "ref.tif")
    write_raster(ref, GRID, values - 0.02)
    res = validate(scaled, reference=ref, stations=_observations(values), pairs_csv=str(tmp_path / "pairs.csv"))
    assert res["reference"]["n"] == W * H - 13 and res["reference"]["bias"] == pytest.approx(0.02, abs=1e-6)
    assert res["stations"]["n"] == 4 and res["stations"]["bias"] == pytest.approx(-0.01, abs=1e-6)
    with open(str(tmp_path / "pairs.csv"), newline="") as f:
        prow = {r["station"]: r for r in csv.DictReader(f)}
    assert float(prow["B"]["estimated"]) == pytest.approx(values[20, 10], abs=1e-6)
    assert prow["N"]["status"] == "nodata"


def test_fewer_than_three_pairs_are_named_with_why_r_needs_three(tmp_path):
    # an estimate of 1 x 1 pixel: n 1 and R nan, and now a warning saying why
    one = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), 1, 1)
    est = write_raster(str(tmp_path / "sm_1km_20230601.tif"), one, np.array([[0.25]]))
    ref = write_raster(str(tmp_path / "ref.tif"), GRID, np.full((H, W), 0.2))
    notes = []
    res = validate(est, reference=ref, warn=notes.append)["reference"]
    assert res["n"] == 1 and math.isnan(res["r"])
    assert notes == ["The estimate sm_1km_20230601.tif (1 x 1 pixels) and the reference ref.tif have only 1 pixel "
                     "pair(s) where both hold a value: R needs at least 3 pairs (from 1 pair it cannot be computed, "
                     "from 2 it is always +1 or -1), so R (nan) says nothing, and MAE, RMSE and bias rest on 1 "
                     "value(s). Validate an estimate of a larger area, or with a reference covering more of it."]
    # two pairs: R is +1 or -1 whatever the values
    two = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), 2, 1)
    est2 = write_raster(str(tmp_path / "sm_1km_20230602.tif"), two, np.array([[0.25, 0.3]]))
    ref2 = write_raster(str(tmp_path / "ref2.tif"), two, np.array([[0.1, 0.35]]))
    notes.clear()
    res = validate(est2, reference=ref2, warn=notes.append)["reference"]
    assert res["n"] == 2 and res["r"] == pytest.approx(1.0)
    assert len(notes) == 1 and "(2 x 1 pixels)" in notes[0] and "only 2 pixel pair(s)" in notes[0] \
        and "so R (1) says nothing" in notes[0]


def test_fewer_than_three_stations_are_named(tmp_path, estimate):
    path, est = estimate
    x, y = GRID.centers(0, GRID.height)
    obs = [Observation("A", float(x[20, 20]), float(y[20, 20]), UTM, D1, 0.25)]
    notes = []
    res = validate(path, stations=obs, warn=notes.append)
    assert res["stations"]["n"] == 1
    assert notes == ["Only 1 station observation(s) fall on valid pixels of the estimate sm_1km_20230601.tif: R needs "
                     "at least 3 pairs (from 1 pair it cannot be computed, from 2 it is always +1 or -1), so R (nan) "
                     "says nothing, and MAE, RMSE and bias rest on 1 value(s). Add stations inside the estimate, or "
                     "compare with a reference raster."]
    # three stations and a whole reference: nothing to say
    obs += [Observation(s, float(x[r, c]), float(y[r, c]), UTM, D1, 0.2 + 0.01 * r)
            for s, r, c in (("B", 10, 10), ("C", 25, 35))]
    ref = str(tmp_path / "ref.tif")
    write_raster(ref, GRID, est)
    notes.clear()
    res = validate(path, reference=ref, stations=obs, warn=notes.append)
    assert res["stations"]["n"] == 3 and res["reference"]["n"] > 1000 and notes == []
