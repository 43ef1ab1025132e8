"""The Earth Engine catalog kept as data: schema, ids, kinds, look-ups and alternatives."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.gee import catalog
from smdownscale.algorithms.gee.catalog import CATALOG_PATH, REQUIRED_KEYS, load_catalog, validate, validate_entry

EXPECTED_FACTORS = ["vv", "vh", "vv_minus_vh", "s1_angle", "ndvi_landsat", "ndwi_landsat", "albedo_landsat",
                    "lst_landsat", "lst_day", "lst_night", "lst_diff", "ndvi", "evi", "albedo", "elevation", "slope",
                    "aspect", "precipitation", "antecedent_precipitation", "sand", "clay", "landcover"]


@pytest.fixture(scope="module")
def raw():
    with open(CATALOG_PATH, encoding="utf-8") as fh:
        return json.load(fh)


def test_every_entry_has_every_required_key_and_valid_values(raw):
    assert raw["format"] == "smdownscale-gee-catalog"
    for entry in raw["entries"]:
        missing = [k for k in REQUIRED_KEYS if k not in entry]
        assert missing == [], f"{entry.get('id')} lacks {missing}"
        assert entry["kind"] in ("continuous", "categorical")
        assert entry["reducer"] in ("mean", "median", "sum", "first", "latest", "static")
        assert entry["native_resolution"] > 0
        assert entry["unit"] and entry["version"] and entry["notes"]
    assert validate(raw) == []


def test_ids_unique_and_factor_list(raw):
    ids = [e["id"] for e in raw["entries"]]
    assert len(ids) == len(set(ids))
    assert load_catalog().factor_ids() == EXPECTED_FACTORS
    assert set(catalog.DEFAULT_FACTORS) <= set(EXPECTED_FACTORS)


def test_kinds_landcover_is_the_only_categorical_factor():
    cat = load_catalog()
    assert [e["id"] for e in cat.entries if e["kind"] == "categorical"] == ["landcover"]
    assert cat.get("landcover", "worldcover")["kind"] == "categorical"


@pytest.mark.parametrize("entry_id, collection, bands, scale, offset", [
    ("sm_surface", "NASA/SMAP/SPL4SMGP/008", ["sm_surface"], 1.0, 0.0),
    ("vv", "COPERNICUS/S1_GRD", ["VV"], 1.0, 0.0),
    ("ndvi_landsat", "LANDSAT/LC08/C02/T1_L2", ["SR_B5", "SR_B4"], 2.75e-05, -0.2),
    ("lst_landsat", "LANDSAT/LC08/C02/T1_L2", ["ST_B10"], 0.00341802, 149.0),
    ("lst_day", "MODIS/061/MOD11A1", ["LST_Day_1km"], 0.02, 0.0),
    ("lst_night", "MODIS/061/MOD11A1", ["LST_Night_1km"], 0.02, 0.0),
    ("ndvi", "MODIS/061/MOD13A2", ["NDVI"], 0.0001, 0.0),
    ("evi", "MODIS/061/MOD13A2", ["EVI"], 0.0001, 0.0),
    ("albedo", "MODIS/061/MCD43A3", ["Albedo_WSA_shortwave"], 0.001, 0.0),
    ("elevation", "USGS/SRTMGL1_003", ["elevation"], 1.0, 0.0),
    ("precipitation", "ECMWF/ERA5_LAND/DAILY_AGGR", ["total_precipitation_sum"], 1000.0, 0.0),
    ("sand", "OpenLandMap/SOL/SOL_SAND-WFRACTION_USDA-3A1A1A_M/v02", ["b0"], 1.0, 0.0),
    ("clay", "OpenLandMap/SOL/SOL_CLAY-WFRACTION_USDA-3A1A1A_M/v02", ["b0"], 1.0, 0.0),
    ("landcover", "MODIS/061/MCD12Q1", ["LC_Type1"], 1.0, 0.0),
])
def test_ids_bands_and_scaling_match_the_earth_engine_catalog(entry_id, collection, bands, scale, offset):
    e = load_catalog().get(entry_id)
    assert (e["collection"], e["bands"], e["scale"], e["offset"]) == (collection, bands, scale, offset)


@pytest.mark.parametrize("entry_id, source, collection, bands, scale", [
    ("lst_day", "aqua", "MODIS/061/MYD11A1", ["LST_Day_1km"], 0.02),
    ("elevation", "nasadem", "NASA/NASADEM_HGT/001", ["elevation"], 1.0),
    ("precipitation", "chirps", "UCSB-CHG/CHIRPS/DAILY", ["precipitation"], 1.0),
    ("landcover", "worldcover", "ESA/WorldCover/v200", ["Map"], 1.0),
])
def test_alternative_sources_override_the_default(entry_id, source, collection, bands, scale):
    e = load_catalog().get(entry_id, source)
    assert (e["collection"], e["bands"], e["scale"], e["source"]) == (collection, bands, scale, source)
    assert validate_entry(e) == []


def test_smap_products_and_layers():
    cat = load_catalog()
    l4 = cat.smap("L4", "sm_rootzone")
    assert (l4["collection"], l4["bands"]) == ("NASA/SMAP/SPL4SMGP/008", ["sm_rootzone"])
    l3 = cat.smap("L3 enhanced", "sm_surface")
    assert [c["id"] for c in l3["collections"]] == ["NASA/SMAP/SPL3SMP_E/005", "NASA/SMAP/SPL3SMP_E/006"]
    assert l3["collections"][0]["until"] == l3["collections"][1]["from"] == "2023-12-04"
    with pytest.raises(InputError, match="Root-zone soil moisture comes only from SMAP L4"):
        cat.smap("L3E", "sm_rootzone")
    with pytest.raises(InputError, match="Unknown SMAP product 'L2'; choose L4 or L3E"):
        cat.smap("L2", "sm_surface")


def test_unknown_factor_lists_the_known_ones():
    cat = load_catalog()
    with pytest.raises(InputError) as info:
        cat.factors(["ndvi", "soil_colour"])
    msg = str(info.value)
    assert "Unknown factor 'soil_colour'" in msg
    assert "Known factors: vv, vh, vv_minus_vh" in msg and "landcover" in msg
    with pytest.raises(InputError, match="chosen more than once"):
        cat.factors(["ndvi", "ndvi"])
    with pytest.raises(InputError, match="no source 'gpm'; choose one of: default, chirps"):
        cat.get("precipitation", "gpm")
    # a SMAP product is not a factor
    with pytest.raises(InputError, match="Unknown factor 'sm_surface'"):
        cat.factors(["sm_surface"])


def test_validation_catches_broken_entries():
    base = load_catalog().get("ndvi_landsat")
    for mutate, fragment in [
        (lambda e: e.pop("unit"), "missing key 'unit'"),
        (lambda e: e.update(kind="ordinal"), "kind 'ordinal'"),
        (lambda e: e.update(min_value="0"), "min_value must be a number"),
        (lambda e: e.update(reducer="max"), "reducer 'max'"),
        (lambda e: e.update(bands=["SR_B5"]), "takes 2 band(s), got 1"),
        (lambda e: e["mask"].append({"type": "bits_zero", "band": "QA_PIXEL", "bits": [40]}), "bit numbers 0-31"),
        (lambda e: e.update(asset_type="image"), "must use the 'static' reducer"),
    ]:
        e = copy.deepcopy(base)
        mutate(e)
        assert any(fragment in p for p in validate_entry(e)), fragment
    dup = {"entries": [base, copy.deepcopy(base)]}
    assert "ndvi_landsat: id is not unique" in validate(dup)


def test_broken_catalog_file_is_reported(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text('{"entries": [{"id": "x"}]}')
    with pytest.raises(InputError, match="is invalid: x: missing key 'role'.*Reinstall the plugin"):
        load_catalog(str(path))
    with pytest.raises(InputError, match="is missing; reinstall"):
        load_catalog(str(tmp_path / "nope.json"))


def test_smap_products_name_the_first_day_of_their_record_on_earth_engine():
    # NASA/SMAP/SPL4SMGP/008 and SPL3SMP_E/005 start on 2015-03-31 (earthengine-catalog extents)
    cat = load_catalog()
    for product, layer in (("L4", "sm_surface"), ("L4", "sm_rootzone"), ("L3E", "sm_surface")):
        entry = cat.smap(product, layer)
        assert entry["available_from"] == "2015-03-31"
        catalog.check_record(entry, dt.date(2015, 3, 31))  # the first day is served
        with pytest.raises(InputError) as err:
            catalog.check_record(entry, dt.date(2015, 3, 30))
        oldest = catalog.collections_for(entry)[0]["id"]
        assert oldest in ("NASA/SMAP/SPL4SMGP/008", "NASA/SMAP/SPL3SMP_E/005")
        assert str(err.value) == (f"SMAP {product} ({oldest}) starts on 2015-03-31: Earth Engine has no SMAP data for "
                                  "2015-03-30. Choose a start date on or after 2015-03-31.")
    # a factor's available_from (land cover: the first year used for earlier steps) refuses nothing
    catalog.check_record(cat.get("landcover"), dt.date(1990, 1, 1))
    bad = copy.deepcopy(cat.smap("L4", "sm_surface"))
    bad["available_from"] = "31.03.2015"
    assert validate_entry(bad) == ["sm_surface: available_from '31.03.2015' is not an ISO date (YYYY-MM-DD)"]


def test_latitude_coverage_of_the_datasets_that_do_not_cover_smaps_record():
    # earthengine-catalog extents: SRTMGL1_003 and NASADEM_HGT/001 56 S to 60 N, CHIRPS/DAILY 50 S to 50 N;
    # the other factors are global
    cat = load_catalog()
    got = {(e, s): cat.get(e, s).get("latitudes") for e in cat.factor_ids()
           for s in [None, *cat.get(e).get("alternatives", {})]}
    assert {k: v for k, v in got.items() if v} == {
        ("elevation", None): [-56.0, 60.0], ("elevation", "nasadem"): [-56.0, 60.0],
        ("slope", None): [-56.0, 60.0], ("slope", "nasadem"): [-56.0, 60.0],
        ("aspect", None): [-56.0, 60.0], ("aspect", "nasadem"): [-56.0, 60.0],
        ("precipitation", "chirps"): [-50.0, 50.0], ("antecedent_precipitation", "chirps"): [-50.0, 50.0]}
    bad = cat.get("elevation")
    bad["latitudes"] = [60.0, -56.0]
    assert validate_entry(bad) == [
        "elevation: latitudes [60.0, -56.0] must be [south, north] in degrees, south < north"]
