import datetime as dt

import pytest

from smdownscale.algorithms.dates import date_from_name, pair_by_date, strip_date
from smdownscale.algorithms.errors import InputError


@pytest.mark.parametrize(
    "name, expected",
    [
        ("smap_20230601.tif", dt.date(2023, 6, 1)),
        ("/data/ndvi_2023-06-09.tif", dt.date(2023, 6, 9)),
        ("factors_2023_06_17_v2.tif", dt.date(2023, 6, 17)),
        ("elevation.tif", None),
        ("tile_123456789.tif", None),
        ("bad_20231341.tif", None),
        # as data providers name their files: MODIS year + day of year, CHIRPS dotted dates
        ("MOD11A1.A2023156.LST_Day_1km.tif", dt.date(2023, 6, 5)),
        ("MOD11A1.A2024366.h26v04.061.2025003094512.hdf", dt.date(2024, 12, 31)),
        ("MOD13A2.061__1_km_16_days_NDVI_doy2023177_aid0001.tif", dt.date(2023, 6, 26)),
        ("chirps-v2.0.2023.06.05.tif", dt.date(2023, 6, 5)),
        ("MOD11A1.A2023366.LST_Day_1km.tif", None),  # 2023 has 365 days
        ("smap_v1.2023.tif", None),
        ("ANDVI2023156.tif", None),  # 'A' inside a word is no MODIS date
        ("x_2023.13.01.tif", None),
        # monthly products: the month's first day, in a name without a day
        ("NDVI_2023-06.tif", dt.date(2023, 6, 1)),
        ("chirps-v2.0.2023.06.tif", dt.date(2023, 6, 1)),
        ("smap_monthly_2023_07.tif", dt.date(2023, 7, 1)),
        ("SMAP_2023_10km.tif", None),
        ("S1_2023-13.tif", None),
        ("tile_12023-06.tif", None),
    ],
)
def test_date_from_name(name, expected):
    assert date_from_name(name) == expected


def test_strip_date():
    assert strip_date("ndvi_20230601") == "ndvi"
    assert strip_date("2023-06-01_lst_day") == "lst_day"
    assert strip_date("elevation") == "elevation"


@pytest.mark.parametrize("stems, name", [
    (["MOD11A1.A2023156.LST_Day_1km", "MOD11A1.A2023164.LST_Day_1km"], "MOD11A1.LST_Day_1km"),
    (["chirps-v2.0.2023.06.05", "chirps-v2.0.2023.06.13"], "chirps-v2.0"),
    (["MOD13A2.061__1_km_16_days_NDVI_doy2023177_aid0001", "MOD13A2.061__1_km_16_days_NDVI_doy2023193_aid0001"],
     "MOD13A2.061__1_km_16_days_NDVI_aid0001"),
    (["MCD12Q1.A2023001.LC_Type1"], "MCD12Q1.LC_Type1"),
    (["NDVI_2023-06", "NDVI_2023-07"], "NDVI"),
    (["chirps-v2.0.2023.06", "chirps-v2.0.2023.07"], "chirps-v2.0"),
])
def test_strip_date_of_provider_names_gives_one_name_for_every_date(stems, name):
    # a factor is named after its file without the date: every date must give the same name
    assert {strip_date(s) for s in stems} == {name}


def test_pair_by_date_sorts_and_pairs():
    sm = ["s/smap_20230609.tif", "s/smap_20230601.tif"]
    fx = ["f/factors_2023-06-01.tif", "f/factors_2023-06-09.tif"]
    pairs = pair_by_date(sm, fx, "soil moisture", "factor stack")
    assert pairs == [
        ("2023-06-01", "s/smap_20230601.tif", "f/factors_2023-06-01.tif"),
        ("2023-06-09", "s/smap_20230609.tif", "f/factors_2023-06-09.tif"),
    ]


def test_pair_by_date_names_unmatched_date():
    with pytest.raises(InputError, match=r"2023-06-17 only among the soil moisture rasters"):
        pair_by_date(["smap_20230601.tif", "smap_20230617.tif"], ["f_20230601.tif"], "soil moisture", "factor stack")


def test_pair_by_order_without_dates():
    assert [p[0] for p in pair_by_date(["a.tif", "b.tif"], ["c.tif", "d.tif"], "x", "y")] == ["#1", "#2"]
    with pytest.raises(InputError, match="carry no date"):
        pair_by_date(["a.tif", "b.tif"], ["c.tif"], "x", "y")


def test_mixed_dated_and_undated_is_an_error():
    with pytest.raises(InputError, match="have no date"):
        pair_by_date(["a_20230601.tif", "b.tif"], ["c_20230601.tif", "d_20230602.tif"], "x", "y")


def test_dates_on_one_side_only_say_which_side_lacks_them():
    with pytest.raises(InputError) as err:
        pair_by_date(["smap.tif", "smap_b.tif"], ["factors_20230601.tif", "factors_20230609.tif"],
                     "soil moisture", "factor stack")
    assert str(err.value) == ("None of the soil moisture files has a date (YYYYMMDD or YYYY-MM-DD) in its name, while "
                              "the factor stack files do: smap.tif, smap_b.tif. The files are paired by date: rename "
                              "them so every file carries its date.")


def test_monthly_files_pair_by_month():
    pairs = pair_by_date(["SMAP_monthly_2023-07.tif", "SMAP_monthly_2023-06.tif"],
                         ["factors_2023_06.tif", "factors_2023_07.tif"], "soil moisture", "factor stack")
    assert [p[0] for p in pairs] == ["2023-06-01", "2023-07-01"]
    assert pairs[0][1:] == ("SMAP_monthly_2023-06.tif", "factors_2023_06.tif")


def test_duplicate_date_is_an_error():
    with pytest.raises(InputError, match="Two x files carry the date 2023-06-01"):
        pair_by_date(["a_20230601.tif", "b_2023-06-01.tif"], ["c_20230601.tif"], "x", "y")
