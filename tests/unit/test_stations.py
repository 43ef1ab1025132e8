"""Station readers: CSV column detection, ISMN .stm files, flag filtering, daily means, clear errors."""

import datetime as dt

import pytest

from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.raster import srs_from_user
from smdownscale.algorithms.stations import (
    daily_means,
    find_column,
    find_stm_files,
    from_records,
    parse_date,
    parse_stm_header,
    read_csv,
    read_ismn_stm,
    read_stations,
)

D1 = dt.date(2023, 6, 1)
D2 = dt.date(2023, 6, 2)


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_csv_columns_detected_case_insensitively(tmp_path):
    p = _write(tmp_path / "obs.csv", "Station_ID,Longitude,LAT,Date,SM\n"
               "S1,116.1,42.1,2023-06-01,0.21\n"
               "S1,116.1,42.1,2023-06-01T12:00,0.25\n"
               "S2,116.3,42.2,2023/06/02 06:00,0.30\n"
               "S2,116.3,42.2,20230602,\n")
    obs = read_csv(p)
    assert [(o.station, o.date, o.value) for o in obs] == [("S1", D1, 0.21), ("S1", D1, 0.25), ("S2", D2, 0.30)]
    assert (obs[0].x, obs[0].y) == (116.1, 42.1)
    assert srs_from_user(obs[0].crs_wkt).IsSame(srs_from_user("EPSG:4326"))
    daily = daily_means(obs)
    assert [(o.station, o.date) for o in daily] == [("S1", D1), ("S2", D2)]
    assert daily[0].value == pytest.approx(0.23, abs=1e-12)
    assert daily[1].value == pytest.approx(0.30, abs=1e-12)


def test_csv_semicolon_decimal_comma_and_crs(tmp_path):
    p = _write(tmp_path / "obs.csv", "name;x;y;datetime;soil_moisture;crs\n"
               "A;500000,5;4650000;2023-06-01 06:00;0,312;32650\n"
               "B;116,2;42,0;2023-06-01 07:00;0,1;EPSG:4326\n")
    obs = read_csv(p)
    assert obs[0].station == "A" and obs[0].x == 500000.5 and obs[0].value == pytest.approx(0.312)
    assert srs_from_user(obs[0].crs_wkt).IsSame(srs_from_user("EPSG:32650"))
    assert srs_from_user(obs[1].crs_wkt).IsSame(srs_from_user("EPSG:4326"))


def test_csv_crs_parameter_and_explicit_columns(tmp_path):
    p = _write(tmp_path / "obs.csv", "site,east,north,day,theta_obs\nP1,500000,4650000,2023-06-01,0.2\n")
    obs = read_csv(p, value_col="theta_obs", x_col="east", y_col="north", crs="EPSG:32650")
    assert obs[0].station == "P1" and (obs[0].x, obs[0].y) == (500000.0, 4650000.0)
    assert srs_from_user(obs[0].crs_wkt).IsSame(srs_from_user("EPSG:32650"))
    with pytest.raises(InputError, match="no column 'sm_5cm' for the soil moisture value; its columns are: "
                                         "site, east, north, day, theta_obs"):
        read_csv(p, value_col="sm_5cm")


def test_csv_without_station_column_names_stations_by_coordinates(tmp_path):
    p = _write(tmp_path / "obs.csv", "lon,lat,date,value\n116.1,42.1,2023-06-01,0.2\n116.1,42.1,2023-06-01,0.3\n")
    daily = daily_means(read_csv(p))
    assert len(daily) == 1 and daily[0].station == "116.10000,42.10000"
    assert daily[0].value == pytest.approx(0.25)


def test_csv_missing_columns_lists_what_was_found(tmp_path):
    p = _write(tmp_path / "obs.csv", "station,lon,when,reading\nS1,116,2023-06-01,0.2\n")
    with pytest.raises(InputError) as err:
        read_csv(p)
    msg = str(err.value)
    assert "has no latitude/y, date, soil moisture value column" in msg
    assert "found columns: station, lon, when, reading" in msg


def test_csv_bad_date_names_the_row(tmp_path):
    p = _write(tmp_path / "obs.csv", "station,lon,lat,date,value\nS1,116,42,2023-06-01,0.2\nS1,116,42,June 2,0.2\n")
    with pytest.raises(InputError, match=r"obs.csv, row 3: cannot read the date 'June 2'"):
        read_csv(p)


def test_csv_non_numeric_value_names_the_row(tmp_path):
    p = _write(tmp_path / "obs.csv", "station,lon,lat,date,value\nS1,116,42,2023-06-01,wet\n")
    with pytest.raises(InputError, match=r"row 2: the soil moisture value 'wet' is not a number"):
        read_csv(p)


def test_csv_out_of_range_values(tmp_path):
    head = "station,lon,lat,date,value\n"
    p = _write(tmp_path / "obs.csv", head + "S1,116,42,2023-06-01,0.2\nS1,116,42,2023-06-02,23.5\n")
    with pytest.raises(InputError, match=r"row 3: soil moisture 23.5 is outside 0-1 m3/m3. The values look like "
                                         r"percent"):
        read_csv(p)
    p = _write(tmp_path / "neg.csv", "station,lon,lat,date,value\nS1,116,42,2023-06-01,-0.05\n")
    with pytest.raises(InputError, match=r"neg.csv, row 2: soil moisture -0.05 is outside 0-1 m3/m3"):
        read_csv(p)
    p = _write(tmp_path / "nd.csv", head + "S1,116,42,2023-06-01,-9999\nS1,116,42,2023-06-02,0.3\n")
    obs = read_csv(p, nodata=-9999)
    assert [(o.date, o.value) for o in obs] == [(D2, 0.3)]


def test_csv_only_missing_values(tmp_path):
    p = _write(tmp_path / "obs.csv", "station,lon,lat,date,value\nS1,116,42,2023-06-01,NA\n")
    with pytest.raises(InputError, match="holds no soil moisture value"):
        read_csv(p)


def test_parse_date_variants():
    for text in ("2023-06-01", "2023/06/01", "20230601", "2023-06-01T23:30:00Z", "2023-06-01 06:00",
                 "2023-06-01T06:00:00+08:00", "01.06.2023"):
        assert parse_date(text) == D1, text
    with pytest.raises(ValueError):
        parse_date("2023-13-01")


STM_HEADER = "SMN-SDR    SMN-SDR    S4            42.03611   116.38889  1350.00    0.00    0.05 ECH2O 5TE\n"


def test_stm_flags_and_daily_means(tmp_path):
    p = _write(tmp_path / "SMN-SDR_SMN-SDR_S4_sm_0.000000_0.050000_5TE_20230601_20230602.stm", STM_HEADER
               + "2023/06/01 00:00   0.2000 G M\n"
               "2023/06/01 06:00   0.3000 G M\n"
               "2023/06/01 12:00   0.9000 D02 M\n"
               "2023/06/01 18:00   0.2600 G M\n"
               "2023/06/02 00:00   0.1000 D01,D02 M\n"
               "2023/06/02 06:00   0.1500 G Out of range,NA,OK\n")
    obs = read_ismn_stm([p])
    assert len(obs) == 4
    assert {o.station for o in obs} == {"SMN-SDR/S4"}
    assert (obs[0].x, obs[0].y) == (116.38889, 42.03611)  # x = longitude
    daily = daily_means(obs)
    assert [(o.date, round(o.value, 12)) for o in daily] == [(D1, round((0.2 + 0.3 + 0.26) / 3, 12)), (D2, 0.15)]


def test_stm_header_with_spaces_and_numeric_station():
    h = parse_stm_header("RISMA      RISMA      CEF North   45.38546 -75.71978     79.0 0.0000 0.0500 "
                         "Hydraprobe II Sdi-12_B")
    assert (h.network, h.station, h.lat, h.lon, h.depth_to, h.sensor) == (
        "RISMA", "CEF North", 45.38546, -75.71978, 0.05, "Hydraprobe II Sdi-12_B")
    h = parse_stm_header("NET NET 1203 41.0 -5.5 855.00 0.05 0.05 'Meter-5TM'")
    assert (h.station, h.depth_from, h.sensor) == ("1203", 0.05, "Meter-5TM")
    with pytest.raises(InputError, match="is not an ISMN 'Header\\+values' .stm file"):
        parse_stm_header("2023/06/01 00:00 0.2 G M", "x.stm")


def test_stm_depth_filter_and_folder(tmp_path):
    net = tmp_path / "SMN-SDR" / "S4"
    net.mkdir(parents=True)
    _write(net / "SMN-SDR_SMN-SDR_S4_sm_0.000000_0.050000_5TE_20230601_20230601.stm",
           STM_HEADER + "2023/06/01 00:00   0.2000 G M\n")
    _write(net / "SMN-SDR_SMN-SDR_S4_sm_0.200000_0.200000_5TE_20230601_20230601.stm",
           STM_HEADER.replace("0.00    0.05", "0.20    0.20") + "2023/06/01 00:00   0.4000 G M\n")
    _write(net / "SMN-SDR_SMN-SDR_S4_ts_0.050000_0.050000_5TE_20230601_20230601.stm",
           STM_HEADER + "2023/06/01 00:00   18.5 G M\n")
    files = find_stm_files(str(tmp_path))
    assert [f.rsplit("/", 1)[1][:22] for f in files] == ["SMN-SDR_SMN-SDR_S4_sm_"] * 2
    surface = read_stations(str(tmp_path), max_depth=0.05)
    assert [o.value for o in surface] == [0.2]
    both = daily_means(read_stations(str(tmp_path)))
    assert both[0].value == pytest.approx(0.3)
    with pytest.raises(InputError, match="Every ISMN file given measures deeper than 0.05 m"):
        read_ismn_stm([f for f in files if "0.200000" in f], max_depth=0.05)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="No .stm file in"):
        find_stm_files(str(empty))


def test_stm_bad_record_and_range(tmp_path):
    p = _write(tmp_path / "a.stm", STM_HEADER + "2023/06/01 00:00   0.2000 G M\n2023/06/31 00:00 0.2 G M\n")
    with pytest.raises(InputError, match=r"a.stm, line 3: cannot read"):
        read_ismn_stm(p)
    p = _write(tmp_path / "b.stm", STM_HEADER + "2023/06/01 00:00   21.0 G M\n")
    with pytest.raises(InputError, match=r"b.stm, line 2: soil moisture 21 is outside 0-1 m3/m3"):
        read_ismn_stm(p)


def test_read_stations_dispatches_on_file_kind(tmp_path):
    csv_path = _write(tmp_path / "obs.csv", "station,lon,lat,date,value\nS1,116,42,2023-06-01,0.2\n")
    stm = _write(tmp_path / "one.stm", STM_HEADER + "2023/06/01 00:00   0.2500 G M\n")
    assert read_stations(csv_path)[0].station == "S1"
    assert read_stations(stm)[0].value == 0.25
    with pytest.raises(InputError, match="Station file not found"):
        read_stations(str(tmp_path / "nope.csv"))


def test_records_from_a_point_layer():
    wkt = srs_from_user("EPSG:4326").ExportToWkt()
    recs = [("S1", 116.0, 42.0, dt.datetime(2023, 6, 1, 6, 0), 0.2), ("S1", 116.0, 42.0, "2023-06-01", "0.3"),
            (None, 116.5, 42.5, D2, 0.25), ("S2", 116.0, 42.0, D2, None)]
    obs = from_records(recs, wkt, "stations.gpkg")
    assert [(o.station, o.date, o.value) for o in obs] == [("S1", D1, 0.2), ("S1", D1, 0.3),
                                                           ("116.50000,42.50000", D2, 0.25)]
    with pytest.raises(InputError, match="stations.gpkg, feature 2: soil moisture 1.5 is outside"):
        from_records([("S1", 116.0, 42.0, D1, 0.2), ("S1", 116.0, 42.0, D1, 1.5)], wkt, "stations.gpkg")
    with pytest.raises(InputError, match="feature 1: cannot read the date 'yesterday'"):
        from_records([("S1", 116.0, 42.0, "yesterday", 0.2)], wkt, "L")
    assert find_column(["FID", "Station_Name", "Obs_Date", "SM"], "value") == "SM"
    assert find_column(["FID", "Station_Name", "Obs_Date", "SM"], "station") == "Station_Name"
    assert find_column(["FID", "Obs_Date"], "date") == "Obs_Date"
    assert find_column(["FID", "updated", "sm"], "date") is None
