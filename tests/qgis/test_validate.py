"""smdownscale:validate through processing.run: reference and station metrics by value, outputs, errors."""

import csv
import math
import os

import numpy as np
import pytest
from osgeo import osr
from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsProcessingException, QgsVectorLayer
from qgis.PyQt.QtCore import QDate, QDateTime, QTime

from smdownscale.algorithms.raster import Grid, srs_from_user, write_raster
from smdownscale.processing_provider.algs.validate import ValidateAlgorithm as A

UTM = srs_from_user("EPSG:32650").ExportToWkt()
W, H = 40, 30
GRID = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), W, H)
PIXELS = {"A": (5, 5), "B": (10, 20), "C": (30, 7)}
OFFSETS = {"A": -0.02, "B": 0.02, "C": 0.04}  # observed = estimate + offset; d = estimate - observed


def _lonlat(col, row):
    ct = osr.CoordinateTransformation(GRID.srs, srs_from_user("EPSG:4326"))
    x = GRID.transform[0] + (col + 0.5) * GRID.transform[1]
    y = GRID.transform[3] + (row + 0.5) * GRID.transform[5]
    return ct.TransformPoint(x, y)[:2]


@pytest.fixture()
def estimate(tmp_path):
    rng = np.random.default_rng(1)
    est = rng.uniform(0.1, 0.4, (H, W))
    est[0, 0:5] = np.nan
    path = str(tmp_path / "sm_1km_20230601.tif")
    write_raster(path, GRID, est)
    return path, est.astype(np.float32).astype(np.float64)


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_reference_metrics_and_csv(run, estimate, tmp_path):
    path, est = estimate
    ref = str(tmp_path / "smap_20230601.tif")
    write_raster(ref, GRID, est - 0.03)
    out = str(tmp_path / "metrics.csv")
    res = run("smdownscale:validate", {A.INPUT: path, A.REFERENCE: ref, A.OUTPUT: out})
    assert res[A.OUTPUT] == out
    assert res[A.N] == W * H - 5
    assert res[A.BIAS] == pytest.approx(0.03, abs=1e-6)
    assert res[A.RMSE] == pytest.approx(0.03, abs=1e-6)
    assert res[A.MAE] == pytest.approx(0.03, abs=1e-6)
    assert res[A.UBRMSD] < 1e-6
    assert res[A.R] == pytest.approx(1.0, abs=1e-9)
    rows = _read_csv(out)
    assert [r["source"] for r in rows] == ["reference"]
    assert int(rows[0]["n"]) == W * H - 5 and float(rows[0]["bias"]) == pytest.approx(0.03, abs=1e-6)


def _point_layer(est, date_type="date"):
    layer = QgsVectorLayer(f"Point?crs=EPSG:4326&field=site:string&field=obs_time:{date_type}&field=SM:double",
                           "stations", "memory")
    feats = []
    for name, (c, r) in PIXELS.items():
        lon, lat = _lonlat(c, r)
        for k, delta in enumerate((-0.01, 0.01)):  # two readings a day, mean = estimate + offset
            f = QgsFeature(layer.fields())
            f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(lon, lat)))
            day = QDate(2023, 6, 1)
            when = day if date_type == "date" else QDateTime(day, QTime(6 + 6 * k, 0))
            f.setAttributes([name, when, float(est[r, c] + OFFSETS[name] + delta)])
            feats.append(f)
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(lon, lat)))
        f.setAttributes([name, QDate(2023, 6, 2) if date_type == "date" else QDateTime(QDate(2023, 6, 2),
                                                                                       QTime(0, 0)), 0.5])
        feats.append(f)
    assert layer.dataProvider().addFeatures(feats)[0]
    layer.updateExtents()
    return layer


@pytest.mark.parametrize("date_type", ["date", "datetime"])
def test_station_layer_with_detected_fields(run, estimate, tmp_path, date_type):
    path, est = estimate
    out = str(tmp_path / "m.csv")
    pairs = str(tmp_path / "pairs.csv")
    res = run("smdownscale:validate", {A.INPUT: path, A.STATIONS: _point_layer(est, date_type), A.OUTPUT: out,
                                       A.PAIRS: pairs})
    # d = [0.02, -0.02, -0.04]: bias -0.04/3, MAE 0.08/3, RMSE sqrt(0.0024/3)
    assert res[A.N] == 3
    assert res[A.BIAS] == pytest.approx(-0.04 / 3, abs=1e-7)
    assert res[A.MAE] == pytest.approx(0.08 / 3, abs=1e-7)
    assert res[A.RMSE] == pytest.approx(math.sqrt(0.0024 / 3), abs=1e-7)
    assert res[A.UBRMSD] == pytest.approx(math.sqrt(0.0024 / 3 - (0.04 / 3) ** 2), abs=1e-7)
    rows = {r["source"]: r for r in _read_csv(out)}
    assert sorted(rows) == ["station:A", "station:B", "station:C", "stations"]
    assert float(rows["station:C"]["bias"]) == pytest.approx(-0.04, abs=1e-6)
    prs = _read_csv(pairs)
    assert {p["station"] for p in prs} == {"A", "B", "C"} and all(p["status"] == "ok" for p in prs)


def test_station_layer_with_chosen_fields_and_date(run, tmp_path):
    est = np.full((H, W), 0.25)
    path = str(tmp_path / "estimate.tif")  # no date in the name: the DATE parameter gives it
    write_raster(path, GRID, est)
    layer = QgsVectorLayer("Point?crs=EPSG:32650&field=code:string&field=t:string&field=reading:double&"
                           "field=other:double", "obs", "memory")
    f = QgsFeature(layer.fields())
    f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(405500.0, 4590500.0)))
    f.setAttributes(["P1", "2023-06-01 10:00", 0.2, 0.9])
    layer.dataProvider().addFeatures([f])
    params = {A.INPUT: path, A.STATIONS: layer, A.STATION_ID_FIELD: "code", A.DATE_FIELD: "t",
              A.VALUE_FIELD: "reading", A.DATE: "2023-06-01", A.OUTPUT: str(tmp_path / "m.csv")}
    res = run("smdownscale:validate", params)
    assert res[A.N] == 1 and res[A.BIAS] == pytest.approx(0.05, abs=1e-7) and math.isnan(res[A.R])


def test_station_csv_file_and_ismn_folder(run, estimate, tmp_path):
    path, est = estimate
    lines = ["station,lon,lat,date,value"]
    for name, (c, r) in PIXELS.items():
        lon, lat = _lonlat(c, r)
        lines.append(f"{name},{lon!r},{lat!r},2023-06-01,{float(est[r, c] + OFFSETS[name])!r}")
    table = tmp_path / "stations.csv"
    table.write_text("\n".join(lines) + "\n")
    res = run("smdownscale:validate", {A.INPUT: path, A.STATIONS_FILE: str(table),
                                       A.OUTPUT: str(tmp_path / "m.csv")})
    assert res[A.N] == 3 and res[A.BIAS] == pytest.approx(-0.04 / 3, abs=1e-7)

    folder = tmp_path / "ismn" / "NET" / "S9"
    folder.mkdir(parents=True)
    lon, lat = _lonlat(20, 15)
    head = f"NET NET S9 {lat:.6f} {lon:.6f} 1300.0 0.00 0.05 Sensor-X\n"
    (folder / "NET_NET_S9_sm_0.000000_0.050000_Sensor-X_20230601_20230601.stm").write_text(
        head + "2023/06/01 00:00 0.2000 G M\n2023/06/01 12:00 0.3000 G M\n2023/06/01 18:00 0.9000 D03 M\n")
    (folder / "NET_NET_S9_sm_0.500000_0.500000_Sensor-X_20230601_20230601.stm").write_text(
        head.replace("0.00 0.05", "0.50 0.50") + "2023/06/01 00:00 0.4500 G M\n")
    res = run("smdownscale:validate", {A.INPUT: path, A.STATIONS_FOLDER: str(tmp_path / "ismn"),
                                       A.OUTPUT: str(tmp_path / "m2.csv")})
    # the station's pixel is within 1e-6 of lat/lon rounding of its center; observed daily mean 0.25
    assert res[A.N] == 1 and res[A.BIAS] == pytest.approx(est[15, 20] - 0.25, abs=1e-7)


def test_nothing_to_validate_against(run, estimate, tmp_path):
    path, _ = estimate
    out = tmp_path / "m.csv"
    with pytest.raises(QgsProcessingException, match="Nothing to validate against"):
        run("smdownscale:validate", {A.INPUT: path, A.OUTPUT: str(out)})
    assert not out.exists()


def test_station_layer_without_value_field(run, estimate, tmp_path):
    path, _ = estimate
    layer = QgsVectorLayer("Point?crs=EPSG:4326&field=site:string&field=date:date&field=reading_x:double",
                           "obs", "memory")
    out = tmp_path / "m.csv"
    with pytest.raises(QgsProcessingException, match="has no soil moisture field that could be recognised; its "
                                                     "fields are: site, date, reading_x"):
        run("smdownscale:validate", {A.INPUT: path, A.STATIONS: layer, A.OUTPUT: str(out)})
    assert not out.exists()


def test_no_station_on_the_estimate_date(run, estimate, tmp_path):
    path, _ = estimate
    table = tmp_path / "stations.csv"
    lon, lat = _lonlat(3, 3)
    table.write_text(f"station,lon,lat,date,value\nA,{lon},{lat},2023-06-05,0.2\n")
    out = tmp_path / "m.csv"
    with pytest.raises(QgsProcessingException, match=r"No station has an observation on 2023-06-01, the estimate's "
                                                     r"date\. The stations have observations on: 2023-06-05"):
        run("smdownscale:validate", {A.INPUT: path, A.STATIONS_FILE: str(table), A.OUTPUT: str(out)})
    assert not out.exists()


def test_reference_not_overlapping(run, estimate, tmp_path):
    path, _ = estimate
    far = str(tmp_path / "far.tif")
    write_raster(far, Grid(UTM, (900000.0, 1000.0, 0.0, 3000000.0, 0.0, -1000.0), 5, 5), np.full((5, 5), 0.2))
    out = tmp_path / "m.csv"
    with pytest.raises(QgsProcessingException, match="does not overlap the estimate"):
        run("smdownscale:validate", {A.INPUT: path, A.REFERENCE: far, A.OUTPUT: str(out)})
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == ["far.tif", "sm_1km_20230601.tif"]


@pytest.mark.bad_input("validate: baseline without a reference raster")
def test_baseline_needs_a_reference_raster(run, estimate, tmp_path):
    path, _ = estimate
    table = tmp_path / "stations.csv"
    lon, lat = _lonlat(3, 3)
    table.write_text(f"station,lon,lat,date,value\nA,{lon},{lat},2023-06-01,0.2\n")
    out = tmp_path / "m.csv"
    with pytest.raises(QgsProcessingException, match="A baseline is compared with the reference raster of one "
                                                     "estimate: give a reference raster too, or leave the baseline "
                                                     "empty."):
        run("smdownscale:validate", {A.INPUT: path, A.BASELINE: path, A.STATIONS_FILE: str(table),
                                     A.OUTPUT: str(out)})
    assert not out.exists()
