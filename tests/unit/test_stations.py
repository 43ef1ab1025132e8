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
                 "2023-06-01T06:00:00+08:00", "01.06.2023", "2023/6/1", "2023年6月1日", "2023年06月01日 08:00",
                 "2023.6.1", "2023.06.01 08:00"):
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


# -- ISMN 'CEOP formatted' files, layout detection, flags, impossible coordinates -------------------------

def _ceop(nominal, actual, station, lat, lon, depth, value, flag, provider="M", network="SMN-SDR"):
    """One record of an ISMN 'CEOP formatted' (ceop_sep) file, spaced as ISMN writes them."""
    d0, d1 = depth
    text = "NaN" if value is None else f"{value:.4f}"
    return (f"{nominal} {actual} {network:<10} {network:<15} {station:<17} {lat:10.5f} {lon:11.5f} {1350.0:7.2f} "
            f"{d0:7.2f} {d1:7.2f} {text:>8} {flag} {provider}".rstrip() + "\n")


# (nominal UTC, actual UTC, depth, value, ISMN flag, provider flag): hourly records of two sensors of one station
CEOP_RECORDS = [
    ("2023/06/01 00:00", "2023/06/01 00:05", (0.0, 0.05), 0.2100, "G", "M"),
    ("2023/06/01 06:00", "2023/06/01 06:10", (0.0, 0.05), 0.2500, "G", "OK"),
    ("2023/06/01 12:00", "2023/06/01 12:00", (0.0, 0.05), 0.1900, "D03,D04", "M"),
    ("2023/06/01 18:00", "2023/06/01 18:00", (0.0, 0.05), None, "M", "M"),
    ("2023/06/02 00:00", "2023/06/01 23:50", (0.0, 0.05), 0.2300, "G", ""),  # nominal next day, actually June 1
    ("2023/06/02 06:00", "2023/06/02 06:00", (0.0, 0.05), 0.6500, "C03", "M"),
    ("2023/06/02 12:00", "2023/06/02 12:00", (0.0, 0.05), 0.3100, "G", "M"),
    ("2023/06/02 18:00", "2023/06/02 18:00", (0.0, 0.05), 0.2900, "G", "M"),
    ("2023/06/01 00:00", "2023/06/01 00:00", (0.10, 0.10), 0.3300, "G", "M"),
    ("2023/06/02 00:00", "2023/06/02 00:00", (0.10, 0.10), 0.3500, "G", "M"),
]


def _expected_daily(records, max_depth):
    """Daily means of the 'G' values at depths from at most ``max_depth``, by the actual date: computed here."""
    sums = {}
    for _nominal, actual, (d0, _d1), value, flag, _provider in records:
        if flag == "G" and d0 <= max_depth:
            day = dt.date(*map(int, actual.split()[0].split("/")))
            sums.setdefault(day, []).append(value)
    return {day: sum(v) / len(v) for day, v in sums.items()}


def _ceop_folder(folder, station="CEF North", lat=42.03611, lon=116.38889):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for depth in ((0.0, 0.05), (0.10, 0.10)):
        lines = [_ceop(n, a, station, lat, lon, d, v, f, p) for n, a, d, v, f, p in CEOP_RECORDS if d == depth]
        name = (f"SMN-SDR_SMN-SDR_{station.replace(' ', '-')}_sm_{depth[0]:.6f}_{depth[1]:.6f}_5TE_"
                "20230601_20230602.stm")
        paths.append(_write(folder / name, "".join(lines)))
    return paths


def test_ceop_formatted_folder_daily_means_by_actual_date(tmp_path):
    surface, deep = _ceop_folder(tmp_path / "ismn")
    warnings = []
    obs = read_stations(str(tmp_path / "ismn"), max_depth=0.05, warn=warnings.append)
    assert warnings == []
    assert {o.station for o in obs} == {"SMN-SDR/CEF North"}
    assert {(o.x, o.y) for o in obs} == {(116.38889, 42.03611)}  # x = longitude
    daily = {o.date: o.value for o in daily_means(obs)}
    expected = _expected_daily(CEOP_RECORDS, 0.05)
    assert expected == {D1: pytest.approx((0.21 + 0.25 + 0.23) / 3), D2: pytest.approx(0.30)}
    assert daily.keys() == expected.keys()
    for day, value in expected.items():
        assert daily[day] == pytest.approx(value, abs=1e-12)
    deeper = {o.date: o.value for o in daily_means(read_stations(str(tmp_path / "ismn"), max_depth=0.10))}
    for day, value in _expected_daily(CEOP_RECORDS, 0.10).items():
        assert deeper[day] == pytest.approx(value, abs=1e-12)
    with pytest.raises(InputError, match="Every ISMN file given measures deeper than 0.05 m"):
        read_stations(deep, max_depth=0.05)
    one = {o.date: o.value for o in daily_means(read_stations(surface))}  # one file, chosen by its path
    assert one == {day: pytest.approx(value, abs=1e-12) for day, value in expected.items()}


def test_a_ceop_record_is_never_taken_for_a_header(tmp_path):
    line = _ceop("2023/06/01 00:00", "2023/06/01 00:00", "S4", 42.0, 116.0, (0.0, 0.05), 0.2, "G")
    with pytest.raises(InputError, match="is not an ISMN 'Header\\+values' .stm file"):
        parse_stm_header(line, "x.stm")
    with pytest.raises(InputError, match="is not an ISMN 'Header\\+values' .stm file"):
        parse_stm_header("2023/06/01 00:00   0.2000 G M", "x.stm")
    # a Header+values file whose header line went missing is named as such, not read as values
    p = _write(tmp_path / "NET_NET_S1_sm_0.000000_0.050000_X_20230601_20230601.stm",
               "2023/06/01 00:00   0.2000 G M\n2023/06/01 01:00   0.2100 G M\n")
    with pytest.raises(InputError, match=r"starts with a record \('2023/06/01 00:00   0.2000 G M'\), not with the "
                                         r"header line"):
        read_ismn_stm(p)


def test_header_values_line_endings_are_all_read(tmp_path):
    body = STM_HEADER.rstrip("\n") + "\n2023/06/01 00:00   0.2000 G M\n2023/06/01 06:00   0.3000 G M\n"
    results = []
    for ending in ("\n", "\r\n", "\r"):
        p = tmp_path / f"e{len(ending)}{ending == chr(13)}.stm"
        p.write_bytes(body.replace("\n", ending).encode())
        results.append([(o.station, o.date, o.value) for o in read_ismn_stm(str(p))])
    assert results[0] == results[1] == results[2] == [("SMN-SDR/S4", D1, 0.2), ("SMN-SDR/S4", D1, 0.3)]


def test_mixed_layout_folder_reads_what_it_can_and_names_what_it_skipped(tmp_path):
    folder = tmp_path / "mixed"
    _ceop_folder(folder / "SMN-SDR" / "CEF North")
    (folder / "OTHER" / "S9").mkdir(parents=True)
    _write(folder / "OTHER" / "S9" / "OTHER_OTHER_S9_sm_0.000000_0.050000_5TE_20230601_20230601.stm",
           "OTHER OTHER S9 41.5 116.1 800.0 0.00 0.05 5TE\n2023/06/01 00:00 0.1500 G M\n"
           "2023/06/01 12:00 0.1700 G M\n")
    combined = ("2023/06/01 00:00 2023/06/01 00:00 OLD        OLD             S7                 41.70000   "
                "116.20000  900.00    0.05    0.05    18.20 G   0.2200 G\n")
    _write(folder / "OLD_OLD_S7_20230601_20230601.stm", combined)  # older combined 'CEOP' layout
    _write(folder / "OLD_OLD_S8_sm_0.050000_0.050000_X_20230601_20230601.stm", combined.replace("S7", "S8"))
    _write(folder / "OTHER_OTHER_S9_ts_0.050000_0.050000_5TE_20230601_20230601.stm",
           "OTHER OTHER S9 41.5 116.1 800.0 0.05 0.05 5TE\n2023/06/01 00:00 18.5 G M\n")  # temperature: ignored
    warnings = []
    obs = read_stations(str(folder), max_depth=0.05, warn=warnings.append)
    daily = {(o.station, o.date): o.value for o in daily_means(obs)}
    expected = _expected_daily(CEOP_RECORDS, 0.05)
    assert daily == {("SMN-SDR/CEF North", D1): pytest.approx(expected[D1], abs=1e-12),
                     ("SMN-SDR/CEF North", D2): pytest.approx(expected[D2], abs=1e-12),
                     ("OTHER/S9", D1): pytest.approx(0.16, abs=1e-12)}
    assert len(warnings) == 2
    assert warnings[0].startswith("ISMN file skipped: OLD_OLD_S7_20230601_20230601.stm: it is in ISMN's older "
                                  "'CEOP' layout")
    assert warnings[1].startswith("ISMN file skipped: OLD_OLD_S8_sm_0.050000_0.050000_X_20230601_20230601.stm: "
                                  "it is in ISMN's older 'CEOP' layout")
    with pytest.raises(InputError, match="older 'CEOP' layout .* which is not read"):
        read_stations(str(folder / "OLD_OLD_S7_20230601_20230601.stm"))
    only_old = tmp_path / "old"
    only_old.mkdir()
    _write(only_old / "OLD_OLD_S7_20230601_20230601.stm", combined)
    with pytest.raises(InputError, match=r"No ISMN soil moisture file in .*old can be read: "
                                         r"OLD_OLD_S7_20230601_20230601.stm: it is in ISMN's older 'CEOP' layout"):
        read_stations(str(only_old))


def test_no_good_value_names_the_flags_found(tmp_path):
    old = _write(tmp_path / "REMEDHUS_REMEDHUS_Zamarron_sm_0.050000_0.050000_20050316_20050316.stm",
                 "REMEDHUS REMEDHUS Zamarron 41.24100 -5.54300 855.00 0.05 0.05\n"
                 "2005/03/16 00:00 0.1030 U M\n2005/03/16 01:00 0.0980 U M\n2005/03/16 02:00 NaN M M\n")
    with pytest.raises(InputError) as err:
        read_ismn_stm(old)
    msg = str(err.value)
    assert msg.startswith("None of the 3 values in REMEDHUS_REMEDHUS_Zamarron_sm_0.050000_0.050000_20050316_"
                          "20050316.stm is flagged 'G' (good); flags found: M, U.")
    assert "'U' marks values of old downloads that ISMN had not checked yet: download the data again" in msg
    frozen = _write(tmp_path / "NET_NET_S1_sm_0.000000_0.050000_X_20230101_20230101.stm", STM_HEADER
                    + "2023/01/01 00:00 0.1000 D01 M\n2023/01/01 01:00 0.1000 D03,D04 M\n2023/01/01 02:00 NaN M M\n")
    with pytest.raises(InputError, match=r"None of the 3 values in NET_NET_S1_.*\.stm is flagged 'G' \(good\); "
                                         r"flags found: D01, D03, D04, M\. ISMN flags C01-C03"):
        read_ismn_stm(frozen)
    ceop = _write(tmp_path / "c_sm_0.000000_0.050000_X_20230101_20230101.stm", "".join(
        _ceop("2023/01/01 00:00", "2023/01/01 00:00", "S4", 42.0, 116.0, (0.0, 0.05), 0.7, "C02")
        for _ in range(2)))
    with pytest.raises(InputError, match=r"None of the 5 values in the 2 ISMN files \(NET_NET_S1_.*, c_sm_.*\) is "
                                         r"flagged 'G' \(good\); flags found: C02, D01, D03, D04, M\."):
        read_ismn_stm([frozen, ceop])
    empty = _write(tmp_path / "e_sm_0.000000_0.050000_X_20230101_20230101.stm", STM_HEADER)
    with pytest.raises(InputError, match=r"e_sm_.*\.stm holds no value, only the header"):
        read_ismn_stm(empty)


def test_impossible_station_coordinates_name_the_file_and_row(tmp_path):
    head = "station,lon,lat,date,value\n"
    p = _write(tmp_path / "lat.csv", head + "S1,116,42,2023-06-01,0.2\nS2,116,200,2023-06-01,0.2\n")
    with pytest.raises(InputError, match=r"lat.csv, row 3: invalid station coordinates: latitude 200 is outside "
                                         r"-90 to 90 \(longitude 116, latitude 200\)"):
        read_csv(p)
    p = _write(tmp_path / "swap.csv", head + "S1,42,116,2023-06-01,0.2\n")
    with pytest.raises(InputError, match=r"latitude 116 is outside -90 to 90 .* Longitude and latitude look swapped"):
        read_csv(p)
    p = _write(tmp_path / "nan.csv", head + "S1,nan,42,2023-06-01,0.2\n")
    with pytest.raises(InputError, match=r"nan.csv, row 2: invalid station coordinates \(nan, 42\): both must be "
                                         r"finite numbers"):
        read_csv(p)
    p = _write(tmp_path / "utm.csv", head + "S1,500000,4650000,2023-06-01,0.2\nS2,inf,4650000,2023-06-01,0.2\n")
    with pytest.raises(InputError, match=r"utm.csv, row 3: invalid station coordinates \(inf, 4.65e\+06\)"):
        read_csv(p, crs="EPSG:32650")  # a projected CRS takes any finite number
    assert read_csv(_write(tmp_path / "utm1.csv", head + "S1,500000,4650000,2023-06-01,0.2\n"),
                    crs="EPSG:32650")[0].x == 500000.0
    wkt = srs_from_user("EPSG:4326").ExportToWkt()
    with pytest.raises(InputError, match=r"L, feature 2: invalid station coordinates: longitude -181 is outside"):
        from_records([("S1", 116.0, 42.0, D1, 0.2), ("S2", -181.0, 42.0, D1, 0.2)], wkt, "L")
    with pytest.raises(InputError, match=r"L, feature 1 has no point geometry"):
        from_records([("S1", float("nan"), float("nan"), D1, 0.2)], wkt, "L")
    assert from_records([("S1", 500000.0, 4650000.0, D1, 0.2)], srs_from_user("EPSG:32650").ExportToWkt(), "L")
    p = _write(tmp_path / "h.stm", STM_HEADER.replace("42.03611", "200.00000") + "2023/06/01 00:00 0.2 G M\n")
    with pytest.raises(InputError, match=r"h.stm, line 1 \(header\): invalid station coordinates: latitude 200"):
        read_ismn_stm(p)
    p = _write(tmp_path / "n.stm", STM_HEADER.replace("116.38889", "NaN") + "2023/06/01 00:00 0.2 G M\n")
    with pytest.raises(InputError, match=r"n.stm, line 1 \(header\): invalid station coordinates \(nan, 42.0361\)"):
        read_ismn_stm(p)
    p = _write(tmp_path / "c_sm_0.000000_0.050000_X_20230601_20230601.stm",
               _ceop("2023/06/01 00:00", "2023/06/01 00:00", "S4", 42.0, 116.0, (0.0, 0.05), 0.2, "G")
               + _ceop("2023/06/01 01:00", "2023/06/01 01:00", "S4", 42.0, 196.0, (0.0, 0.05), 0.2, "G"))
    with pytest.raises(InputError, match=r"c_sm_.*\.stm, line 2: invalid station coordinates: longitude 196 is "
                                         r"outside -180 to 180"):
        read_ismn_stm(p)


def test_folder_lists_files_without_good_values_or_with_impossible_positions(tmp_path):
    folder = tmp_path / "ismn"
    for station in "ABC":
        (folder / "NET" / station).mkdir(parents=True)
    _write(folder / "NET" / "A" / "NET_NET_A_sm_0.050000_0.050000_X_20230601_20230601.stm",
           "NET NET A 41.5 116.1 800.0 0.05 0.05 X\n2023/06/01 00:00 0.1500 G M\n2023/06/01 12:00 0.1700 G M\n")
    _write(folder / "NET" / "B" / "NET_NET_B_sm_0.050000_0.050000_X_20230601_20230601.stm",
           "NET NET B 41.6 116.2 800.0 0.05 0.05 X\n2023/06/01 00:00 0.2500 D03 M\n2023/06/01 12:00 0.2700 M M\n")
    _write(folder / "NET" / "C" / "NET_NET_C_sm_0.050000_0.050000_X_20230601_20230601.stm",
           "NET NET C 200.0 116.3 800.0 0.05 0.05 X\n2023/06/01 00:00 0.3500 G M\n")
    warnings = []
    obs = read_stations(str(folder), max_depth=0.05, warn=warnings.append)
    assert {(o.station, o.value) for o in obs} == {("NET/A", 0.15), ("NET/A", 0.17)}
    assert warnings == [
        "ISMN file skipped: NET_NET_B_sm_0.050000_0.050000_X_20230601_20230601.stm: none of its 2 values is flagged "
        "G (flags found: D03, M).",
        "ISMN file skipped: NET_NET_C_sm_0.050000_0.050000_X_20230601_20230601.stm: "
        "NET_NET_C_sm_0.050000_0.050000_X_20230601_20230601.stm, line 1 (header): invalid station coordinates: "
        "latitude 200 is outside -90 to 90 (longitude 116.3, latitude 200). Give the station's position in degrees "
        "or remove the row."]


CHINESE = ("区站号,站名,经度,纬度,观测日期,土壤水分(m3/m3),土壤相对湿度(%)\n"
           "53463,呼和浩特,111.68,40.82,2023-06-01,0.21,55\n"
           "53463,呼和浩特,111.68,40.82,2023/06/02,0.19,50\n")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_with_chinese_headers_in_utf8_or_gbk(tmp_path, encoding):
    """A Chinese agency's table: Chinese column names (units after them), saved as UTF-8 or, by Excel, as GBK. The
    relative soil moisture (percent of field capacity) is not taken for the volumetric value."""
    p = tmp_path / "stations.csv"
    p.write_bytes(CHINESE.encode(encoding))
    obs = read_csv(str(p))
    assert [(o.station, o.x, o.y, o.date, o.value) for o in obs] == [
        ("53463", 111.68, 40.82, D1, 0.21), ("53463", 111.68, 40.82, D2, 0.19)]


def test_csv_with_projected_coordinates_and_no_crs_says_how_to_give_it(tmp_path):
    p = tmp_path / "utm.csv"
    p.write_text("station,x,y,date,sm\nA,555000,4690000,2023-06-01,0.21\n")
    with pytest.raises(InputError, match=r"utm\.csv, row 2: invalid station coordinates: .* They look like projected "
                                         r"coordinates \(metres\), not degrees: give their CRS \(in a CSV a column "
                                         r"named crs with the EPSG code"):
        read_csv(str(p))
    p.write_text("station,x,y,date,sm,crs\nA,555000,4690000,2023-06-01,0.21,32649\n")
    (obs,) = read_csv(str(p))
    assert (obs.x, obs.y, obs.value) == (555000.0, 4690000.0, 0.21)


def test_csv_as_a_chinese_excel_saves_it(tmp_path):
    """Excel in a Chinese office: a BOM, semicolons and decimal commas (a European locale's list separator), and
    dates in Excel's long form or dotted."""
    p = tmp_path / "墒情站 2023年6月.csv"
    p.write_text("站号;经度;纬度;日期;SM_10cm\r\n53463;111,68;40,82;2023年6月1日;0,21\r\n"
                 "53463;111,68;40,82;2023.6.2;0,19\r\n", encoding="utf-8-sig")
    obs = read_csv(str(p))
    assert [(o.station, o.x, o.y, o.date, o.value) for o in obs] == [
        ("53463", 111.68, 40.82, D1, 0.21), ("53463", 111.68, 40.82, D2, 0.19)]


def test_csv_relative_soil_moisture_is_not_a_volumetric_value(tmp_path):
    p = tmp_path / "stations.csv"
    p.write_bytes("区站号,经度,纬度,日期,土壤相对湿度\n53463,111.68,40.82,2023-06-01,55\n".encode("gbk"))
    with pytest.raises(InputError, match=r"has no soil moisture value column; found columns: 区站号, 经度, 纬度, 日期, "
                                         r"土壤相对湿度"):
        read_csv(str(p))


def test_csv_latin1_names_are_not_read_as_chinese(tmp_path):
    """A Western table saved as Latin-1 (not UTF-8) keeps its accented names: GB18030 would decode 'ü' and the next
    letter as one Chinese character, so it is used only when it makes a Chinese column name readable."""
    p = tmp_path / "stations.csv"
    p.write_bytes("station,lon,lat,date,value\nMüncheberg,14.12,52.52,2023-06-01,0.2\n".encode("latin-1"))
    assert [o.station for o in read_csv(str(p))] == ["Müncheberg"]


def test_csv_coordinates_with_units_in_the_name(tmp_path):
    p = _write(tmp_path / "obs.csv", "site,long_term_mean,Longitude (deg),lat_deg,date,sm_m3m3\n"
               "S1,0.3,116.1,42.1,2023-06-01,0.21\n")
    obs = read_csv(p)
    assert (obs[0].station, obs[0].x, obs[0].y, obs[0].value) == ("S1", 116.1, 42.1, 0.21)


@pytest.mark.bad_input("validate: station table giving one id at two places (engine)")
def test_one_station_id_at_two_places_is_refused(tmp_path):
    p = _write(tmp_path / "s.csv", "station,lon,lat,date,value\nA,116.0,42.0,2023-06-01,0.2\n"
                                   "A,116.2,42.1,2023-06-02,0.3\n")
    with pytest.raises(InputError, match=r"Station 'A' is given at two places, 19\.9 km apart: \(longitude 116\.00000, "
                                         r"latitude 42\.00000\) on 2023-06-01 and \(longitude 116\.20000, latitude "
                                         r"42\.10000\) on 2023-06-02\. One id must mean one place"):
        daily_means(read_csv(p))


def test_one_station_a_few_metres_apart_stays_one_station(tmp_path):
    # sensors of one station whose positions differ in the last decimals (ISMN metadata does that)
    p = _write(tmp_path / "s.csv", "station,lon,lat,date,value\nA,116.0,42.0,2023-06-01,0.2\n"
                                   "A,116.0003,42.0002,2023-06-01,0.3\n")
    (one,) = daily_means(read_csv(p))
    assert (one.station, one.x, one.y, one.value) == ("A", 116.0, 42.0, pytest.approx(0.25))


@pytest.mark.parametrize("name, encode", [
    pytest.param("unicode.txt", lambda t: b"\xff\xfe" + t.replace(",", "\t").encode("utf-16-le"),
                 marks=pytest.mark.bad_input("validate: station table saved as Excel 'Unicode Text' (UTF-16)"),
                 id="utf16-tab"),
    pytest.param("excel.csv", lambda t: ("sep=;\r\n" + t.replace(",", ";")).encode("utf-8"),
                 marks=pytest.mark.bad_input("validate: station table with Excel's 'sep=;' first line"), id="sep-line"),
])
def test_excel_station_tables_are_read(tmp_path, name, encode):
    # both used to be refused with "found columns: ÿþs" / "found columns: sep=": a header the user never wrote
    text = "station,lon,lat,date,value\r\nA,116.0,42.0,2023-06-01,0.21\r\nB,116.5,42.25,2023-06-01,0.3\r\n"
    path = tmp_path / name
    path.write_bytes(encode(text))
    obs = read_csv(str(path))
    assert [(o.station, o.x, o.y, o.date, o.value) for o in obs] == [("A", 116.0, 42.0, D1, 0.21),
                                                                      ("B", 116.5, 42.25, D1, 0.3)]
    only = tmp_path / "only.csv"
    only.write_text("sep=;\n")
    with pytest.raises(InputError, match=r"only\.csv holds only its 'sep=' line"):
        read_csv(str(only))


@pytest.mark.parametrize("rows, fragment", [
    pytest.param("", r"^The station table s\.csv holds no soil moisture value \(every value is empty or missing\)\.$",
                 marks=pytest.mark.bad_input("validate: station table with only its header row"), id="header-only"),
    pytest.param("A,42.0,116.0,2023-06-01,0.21\n", r"^s\.csv, row 2: invalid station coordinates: latitude 116 is "
                 r"outside -90 to 90 \(longitude 42, latitude 116\)\. Longitude and latitude look swapped\.$",
                 marks=pytest.mark.bad_input("validate: station longitude and latitude swapped"), id="swapped"),
    pytest.param("A,440500,4622500,2023-06-01,0.21\n", r"^s\.csv, row 2: invalid station coordinates: latitude "
                 r"4\.6225e\+06 is outside -90 to 90 and longitude 440500 is outside -180 to 180 .* They look like "
                 r"projected coordinates \(metres\), not degrees: give their CRS .* or convert them to longitude and "
                 r"latitude\.$",
                 marks=pytest.mark.bad_input("validate: projected station coordinates in the lon/lat columns"),
                 id="projected"),
    pytest.param("A,116.0,42.0,2023-06-01,21.5\n", r"^s\.csv, row 2: soil moisture 21\.5 is outside 0-1 m3/m3\. The "
                 r"values look like percent: divide them by 100\.$",
                 marks=pytest.mark.bad_input("validate: station soil moisture in percent"), id="percent"),
    pytest.param("A,116.0,42.0,2023-06-01,-0.21\n", r"^s\.csv, row 2: soil moisture -0\.21 is outside 0-1 m3/m3\. "
                 r"Remove the row or mark it as missing",
                 marks=pytest.mark.bad_input("validate: negative station soil moisture"), id="negative"),
    pytest.param("A,116.0,42.0,2023-06-01,999.9\n", r"^s\.csv, row 2: soil moisture 999\.9 is outside 0-1 m3/m3\. "
                 r"It is a fill value for missing data: leave the value empty \(or NA\) to skip the record",
                 marks=pytest.mark.bad_input("validate: station table with 999.9 for a missing value"), id="999.9"),
])
def test_station_table_mistakes_are_named(tmp_path, rows, fragment):
    path = _write(tmp_path / "s.csv", "station,lon,lat,date,value\n" + rows)
    with pytest.raises(InputError, match=fragment):
        read_csv(path)


@pytest.mark.bad_input("validate: ISMN table with quality flags (C03, D06) as a CSV")
def test_csv_with_ismn_flags_keeps_only_good_values(tmp_path):
    # as ISMN's CSV download and the ismn package's exports write them: the value, its ISMN flag, the provider's flag
    head = "date_time,soil_moisture,soil_moisture_flag,soil_moisture_orig_flag,station,latitude,longitude\n"
    p = _write(tmp_path / "ismn.csv", head +
               "2023-06-01 00:00:00,0.21,G,M,Canizal,41.19603,-5.35997\n"
               "2023-06-01 01:00:00,0.22,G,M,Canizal,41.19603,-5.35997\n"
               "2023-06-01 02:00:00,0.90,C03,M,Canizal,41.19603,-5.35997\n"
               "2023-06-01 03:00:00,0.05,D06,M,Canizal,41.19603,-5.35997\n")
    (one,) = daily_means(read_csv(p))
    assert (one.station, one.date, one.value) == ("Canizal", D1, pytest.approx(0.215))
    bad = _write(tmp_path / "bad.csv", head + "2023-06-01 02:00:00,1.2,C03,M,Canizal,41.19603,-5.35997\n"
                 "2023-06-01 03:00:00,0.05,D06,M,Canizal,41.19603,-5.35997\n")
    with pytest.raises(InputError, match=r"^None of the 2 values in bad\.csv is flagged 'G' \(good\); flags found: "
                                         r"C03, D06\."):
        read_csv(bad)
    # a flag column of the table's own codes is not ISMN's: every value is kept, as before
    own = _write(tmp_path / "own.csv", "station,lon,lat,date,sm,flag\nA,116,42,2023-06-01,0.2,0\n"
                 "A,116,42,2023-06-01,0.3,1\n")
    assert [o.value for o in read_csv(own)] == [0.2, 0.3]


@pytest.mark.bad_input("validate: station table with several sensor depths per station")
@pytest.mark.parametrize("head, depths", [
    ("station,lat,lon,date,depth_from,depth_to,sm", ("0.0,0.05", "0.25,0.25", "0.5,0.5")),  # ISMN, metres
    ("站号,纬度,经度,日期,深度(cm),土壤体积含水量", ("10", "20", "50")),  # a CMA automatic station's layers
])
def test_csv_with_several_depths_keeps_each_stations_shallowest(tmp_path, head, depths):
    rows = [head]
    for station, d0, values in (("A", depths[0], (0.21, 0.25)), ("A", depths[1], (0.30, 0.31)),
                                ("A", depths[2], (0.35, 0.35)), ("B", depths[1], (0.18, 0.2))):
        rows += [f"{station},42.0,116.0,2023-06-01 {h:02d}:00,{d0},{v}" for h, v in enumerate(values)]
    p = tmp_path / "depths.csv"
    p.write_bytes(("\n".join(rows) + "\n").encode("gbk"))
    warnings = []
    obs = read_stations(str(p), warn=warnings.append)
    assert [(o.station, o.date, round(o.value, 6)) for o in daily_means(obs)] == [("A", D1, 0.23), ("B", D1, 0.19)]
    assert len(warnings) == 1 and warnings[0].startswith("depths.csv: soil moisture at several depths (")
    assert warnings[0].endswith("); each station's shallowest sensor is compared with the estimate, 4 deeper "
                                "value(s) left out.")


@pytest.mark.bad_input("validate: station coordinates in degrees and minutes (CMA's 11130 for 111°30')")
def test_csv_degrees_minutes_coordinates_are_named_as_such(tmp_path):
    p = tmp_path / "cma.csv"
    p.write_bytes("站号,站名,纬度,经度,日期,土壤体积含水量\n53772,太原,3747,11230,2023-06-01,0.235\n".encode("gbk"))
    with pytest.raises(InputError, match=r"^cma\.csv, row 2: invalid station coordinates: latitude 3747 is outside "
                                         r"-90 to 90 and longitude 11230 is outside -180 to 180 \(longitude 11230, "
                                         r"latitude 3747\)\. They look like degrees and minutes written together \(as "
                                         r"China Meteorological Administration tables write them: 11230 for "
                                         r"112°30'\): convert them to decimal degrees, degrees \+ minutes / 60 "
                                         r"\(longitude 112\.5000, latitude 37\.7833\)\.$"):
        read_csv(str(p))


@pytest.mark.bad_input("validate: station table whose value column declares percent (CMA's 土壤体积含水量(%))")
def test_csv_value_column_in_percent_is_converted_in_its_own_unit(tmp_path):
    head = "站号,纬度,经度,日期,土壤体积含水量(%)\n"
    p = tmp_path / "cma.csv"
    p.write_bytes((head + "53772,37.78,112.5,2023-06-01 08:00,23.5\n53772,37.78,112.5,2023-06-01 09:00,23.1\n"
                   "53772,37.78,112.5,2023-06-01 10:00,\n").encode("gbk"))
    (one,) = daily_means(read_csv(str(p)))
    assert (one.station, one.date, one.value) == ("53772", D1, pytest.approx(0.233))
    p.write_bytes((head + "53772,37.78,112.5,2023-06-01 08:00,23.5\n53772,37.78,112.5,2023-06-01 09:00,999.9\n")
                  .encode("gbk"))
    with pytest.raises(InputError, match=r"^cma\.csv, row 3: soil moisture 999\.9 % is outside 0-100 %\. It is a fill "
                                         r"value for missing data"):
        read_csv(str(p))
    p.write_bytes((head + "53772,37.78,112.5,2023-06-01 08:00,0.235\n").encode("gbk"))
    with pytest.raises(InputError, match=r"^The column '土壤体积含水量\(%\)' of cma\.csv declares percent, but every "
                                         r"value is at most 0\.235: they look like m3/m3\."):
        read_csv(str(p))


def test_dates_with_a_utc_suffix():
    assert parse_date("2023-06-01 00:00:00 UTC") == D1
    assert parse_date("2023-06-01T23:00:00 GMT") == D1


@pytest.mark.bad_input("validate: station table with one column per depth (CMA's 土壤体积含水量_20cm, _10cm)")
@pytest.mark.parametrize("layers", [("土壤体积含水量_20cm", "土壤体积含水量_10cm", "土壤体积含水量_40cm"),
                                    ("20cm土壤体积含水量", "10cm土壤体积含水量", "40cm土壤体积含水量"),
                                    ("soil_moisture (0.2 m)", "soil_moisture (0.1 m)", "soil_moisture (400 mm)"),
                                    ("VWC (20 cm)", "VWC (10 cm)", "VWC (40 cm)")])
def test_csv_with_a_column_per_depth_compares_the_shallowest(tmp_path, layers):
    """One row per station and day, each layer in its own column, the deeper first: the shallowest layer (10 cm) is
    the one compared with surface soil moisture, whatever the columns' order, and the choice is said."""
    p = tmp_path / "layers.csv"
    p.write_bytes((f"站号,纬度,经度,日期,{','.join(layers)}\n53772,37.78,112.5,2023-06-01,0.31,0.22,0.35\n"
                   "53772,37.78,112.5,2023-06-02,0.30,0.20,0.35\n").encode("gbk"))
    warnings = []
    obs = read_stations(str(p), warn=warnings.append)
    assert [(o.date, o.value) for o in obs] == [(D1, 0.22), (D1 + dt.timedelta(days=1), 0.20)]
    by_depth = ", ".join((layers[1], layers[0], layers[2]))
    assert warnings == [f"layers.csv: soil moisture at several depths, one column each ({by_depth}); the "
                        f"shallowest, {layers[1]}, is compared with the estimate (to compare another, load the table "
                        "as a point layer and choose that column as the soil moisture field)."]
    # the value column given: that one, as asked
    assert [o.value for o in read_csv(str(p), value_col=layers[2])] == [0.35, 0.35]


def test_a_vwc_column_in_percent_is_read_in_percent(tmp_path):
    """'VWC (%)', volumetric water content as many loggers name it, is the value column, in percent."""
    p = tmp_path / "logger.csv"
    p.write_text("station,lat,lon,date,VWC (%)\nA,42.0,116.0,2023-06-01,23.5\n", encoding="utf-8")
    (one,) = read_csv(str(p))
    assert (one.station, one.date, one.value) == ("A", D1, pytest.approx(0.235))
