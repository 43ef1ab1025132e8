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
    ],
)
def test_date_from_name(name, expected):
    assert date_from_name(name) == expected


def test_strip_date():
    assert strip_date("ndvi_20230601") == "ndvi"
    assert strip_date("2023-06-01_lst_day") == "lst_day"
    assert strip_date("elevation") == "elevation"


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


def test_duplicate_date_is_an_error():
    with pytest.raises(InputError, match="Two x files carry the date 2023-06-01"):
        pair_by_date(["a_20230601.tif", "b_2023-06-01.tif"], ["c_20230601.tif"], "x", "y")
