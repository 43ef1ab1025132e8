"""Earth Engine expressions checked offline on their serialized graphs, and the time steps.

ee is initialized the way earthengine-api's own tests do it (``ee/apitestcase.py``): the algorithm
list comes from the ``ee/tests/algorithms.json`` the package ships, no server is contacted.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import ee
import pytest
from ee import apitestcase

from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.gee import expressions as ex
from smdownscale.algorithms.gee.catalog import collections_for, load_catalog
from smdownscale.tests.ee_graph import calls, graph

D = dt.date


@pytest.fixture(scope="module", autouse=True)
def offline_ee():
    saved = (ee.data._install_cloud_api_resource, ee.data.getAlgorithms)
    ee.Reset()
    ee.data._install_cloud_api_resource = lambda: None
    ee.data.getAlgorithms = apitestcase.GetAlgorithms
    ee.Initialize(None, "", project="offline-test")
    yield
    ee.data._install_cloud_api_resource, ee.data.getAlgorithms = saved
    ee.Reset()


# -- serialized graph helpers -------------------------------------------------------------------

def constants(tree: Any, op: str) -> set:
    """Constant right-hand operands of ``Image.<op>`` calls (Image.constant(value))."""
    out = set()
    for args in calls(tree, f"Image.{op}"):
        rhs = args.get("image2")
        if isinstance(rhs, dict) and rhs.get("fn") == "Image.constant":
            out.add(rhs["args"]["value"])
    return out


def date_ranges(tree: Any) -> set[tuple[str, str]]:
    return {(a["leftValue"]["args"]["start"], a["leftValue"]["args"]["end"])
            for a in calls(tree, "Filter.dateRangeContains")}


def loaded(tree: Any) -> set[str]:
    return {a["id"] for a in calls(tree, "ImageCollection.load") + calls(tree, "Image.load")}


def selected(tree: Any) -> set[str]:
    return {b for a in calls(tree, "Image.select") for b in a["bandSelectors"]}


def equals_filters(tree: Any) -> set[tuple[str, Any]]:
    return {(a["leftField"], a["rightValue"]) for a in calls(tree, "Filter.equals")}


def area() -> ee.Geometry:
    return ee.Geometry.Rectangle([115.5, 41.5, 116.5, 42.5])


# -- every catalog entry ------------------------------------------------------------------------

FACTOR_IDS = load_catalog().factor_ids()


@pytest.mark.parametrize("entry_id", FACTOR_IDS)
def test_every_factor_graph_reads_its_collection_bands_scaling_masks_and_names_the_band(entry_id):
    entry = load_catalog().get(entry_id)
    tree = graph(ex.build_factor(entry, D(2023, 6, 1), D(2023, 6, 2), area(), ex.BuildOptions()))
    # collection(s) and bands
    expected_ids = {c["id"] for c in collections_for(entry)}
    assert expected_ids <= loaded(tree)
    assert set(entry["bands"]) <= selected(tree)
    # scale and offset constants
    if entry["scale"] != 1.0:
        assert entry["scale"] in constants(tree, "multiply")
    if entry["offset"] != 0.0:
        assert entry["offset"] in constants(tree, "add")
    # quality masks
    for rule in entry["mask"]:
        assert rule["band"] in selected(tree)
        if rule["type"] == "bits_zero":
            assert sum(1 << b for b in rule["bits"]) in constants(tree, "bitwiseAnd")
        elif rule["type"] == "equals":
            assert rule["value"] in constants(tree, "eq")
    # one float band named after the entry
    names = [a["names"] for a in calls(tree, "Image.rename")]
    assert [entry_id] in names
    assert calls(tree, "Image.toFloat")
    # dates: static data ignore them, the others filter on the step
    if entry["reducer"] != "static":
        assert date_ranges(tree)
    if entry["asset_type"] == "image":
        assert not calls(tree, "ImageCollection.load")
        assert not date_ranges(tree)


EXPECTED = {
    # entry: (scale constant, offset constant, bitwiseAnd constants, reducer call)
    "ndvi_landsat": (2.75e-05, -0.2, {31}, "reduce.median"),
    "lst_landsat": (0.00341802, 149.0, {31}, "reduce.median"),
    "lst_day": (0.02, None, {3}, "reduce.mean"),
    "lst_night": (0.02, None, {3}, "reduce.mean"),
    "ndvi": (0.0001, None, set(), "reduce.mean"),
    "albedo": (0.001, None, set(), "reduce.mean"),
    "precipitation": (1000.0, None, set(), "reduce.mean"),
    "antecedent_precipitation": (1000.0, None, set(), "reduce.sum"),
}


@pytest.mark.parametrize("entry_id", sorted(EXPECTED))
def test_scaling_mask_bits_and_reducer_constants(entry_id):
    scale, offset, bits, reducer = EXPECTED[entry_id]
    tree = graph(ex.build_factor(entry_id, D(2023, 6, 1), D(2023, 6, 9), area(), ex.BuildOptions(window_days=0)))
    assert scale in constants(tree, "multiply")
    if offset is not None:
        assert offset in constants(tree, "add")
    assert constants(tree, "bitwiseAnd") == bits
    assert calls(tree, reducer)


def test_landsat_masks_clear_bits_and_radsat_and_merges_l8_l9():
    tree = graph(ex.build_factor("ndvi_landsat", D(2023, 6, 1), D(2023, 6, 2), area(), ex.BuildOptions(window_days=0)))
    assert loaded(tree) == {"LANDSAT/LC08/C02/T1_L2", "LANDSAT/LC09/C02/T1_L2"}
    assert {"QA_PIXEL", "QA_RADSAT", "SR_B5", "SR_B4"} <= selected(tree)
    assert 0b11111 in constants(tree, "bitwiseAnd")  # fill, dilated cloud, cirrus, cloud, shadow
    assert calls(tree, "Image.normalizedDifference")[0]["bandNames"] == ["SR_B5", "SR_B4"]
    assert date_ranges(tree) == {("2023-06-01", "2023-06-02")}
    # before Landsat 9 only Landsat 8 is read
    tree = graph(ex.build_factor("ndvi_landsat", D(2020, 6, 1), D(2020, 6, 2), area(), ex.BuildOptions(window_days=0)))
    assert loaded(tree) == {"LANDSAT/LC08/C02/T1_L2"}


def test_landsat_albedo_uses_liang_coefficients():
    tree = graph(ex.build_factor("albedo_landsat", D(2023, 6, 1), D(2023, 6, 2), area(),
                                 ex.BuildOptions(window_days=0)))
    weights = constants(tree, "multiply")
    assert {0.356, 0.130, 0.373, 0.085, 0.072, 2.75e-05} <= weights
    assert -0.0018 in constants(tree, "add")


def test_sentinel1_filters_mode_polarisation_orbit_and_angle_mask():
    tree = graph(ex.build_factor("vv", D(2023, 6, 1), D(2023, 6, 2), area(), ex.BuildOptions(orbit_pass="descending")))
    assert ("instrumentMode", "IW") in equals_filters(tree)
    assert ("orbitProperties_pass", "DESCENDING") in equals_filters(tree)
    pol = {a["rightValue"] for a in calls(tree, "Filter.listContains")}
    assert pol == {"VV", "VH"}
    assert 30.0 in constants(tree, "gte") and 45.0 in constants(tree, "lte")
    # both passes: no orbit filter
    tree = graph(ex.build_factor("vv", D(2023, 6, 1), D(2023, 6, 2), area(), ex.BuildOptions(orbit_pass="both")))
    assert not [f for f in equals_filters(tree) if f[0] == "orbitProperties_pass"]
    with pytest.raises(InputError, match="Unknown orbit pass 'sideways'"):
        ex.BuildOptions(orbit_pass="sideways")


def test_gap_filling_looks_window_days_around_the_step_and_keeps_the_step_on_top():
    tree = graph(ex.build_factor("vv", D(2023, 6, 10), D(2023, 6, 11), area(), ex.BuildOptions(window_days=6)))
    assert date_ranges(tree) == {("2023-06-10", "2023-06-11"), ("2023-06-04", "2023-06-17")}
    mosaic = [a for a in calls(tree, "ImageCollection.mosaic")
              if isinstance(a["collection"], dict) and a["collection"]["fn"] == "ImageCollection.fromImages"]
    assert len(mosaic) == 1
    wide, step = mosaic[0]["collection"]["args"]["images"]
    assert date_ranges(wide) == {("2023-06-04", "2023-06-17")}
    assert date_ranges(step) == {("2023-06-10", "2023-06-11")}
    # window 0: no gap filling
    tree = graph(ex.build_factor("vv", D(2023, 6, 10), D(2023, 6, 11), area(), ex.BuildOptions(window_days=0)))
    assert date_ranges(tree) == {("2023-06-10", "2023-06-11")}


def test_modis_16day_products_reach_back_to_the_composite_start():
    tree = graph(ex.build_factor("ndvi", D(2023, 6, 20), D(2023, 6, 21), area(), ex.BuildOptions()))
    assert date_ranges(tree) == {("2023-06-05", "2023-06-21")}
    assert 1 in constants(tree, "lte")  # SummaryQA <= 1


def test_lst_difference_masks_both_qc_bands_and_subtracts_night_from_day():
    tree = graph(ex.build_factor("lst_diff", D(2023, 6, 1), D(2023, 6, 2), area(), ex.BuildOptions(window_days=0)))
    assert {"QC_Day", "QC_Night", "LST_Day_1km", "LST_Night_1km"} <= selected(tree)
    sub = calls(tree, "Image.subtract")
    assert len(sub) == 1
    assert calls(sub[0]["image1"], "Image.select")[0]["bandSelectors"] == ["LST_Day_1km"]
    assert calls(sub[0]["image2"], "Image.select")[0]["bandSelectors"] == ["LST_Night_1km"]
    tree = graph(ex.build_factor("lst_day", D(2023, 6, 1), D(2023, 6, 2), area(),
                                ex.BuildOptions(sources={"lst_day": "aqua"})))
    assert loaded(tree) == {"MODIS/061/MYD11A1"}


@pytest.mark.parametrize("entry_id, source", [("precipitation", None), ("antecedent_precipitation", None),
                                              ("precipitation", "chirps")])
def test_negative_precipitation_is_set_to_zero_in_mm_before_the_reduction(entry_id, source):
    # ERA5-Land's accumulated bands hold occasional small negative values (GRIB packing; the Earth Engine catalog's
    # note on ECMWF/ERA5_LAND/DAILY_AGGR): a negative daily total would enter the step's mean or antecedent sum
    entry = load_catalog().get(entry_id, source)
    tree = graph(ex.build_factor(entry, D(2023, 6, 1), D(2023, 6, 9), area(), ex.BuildOptions(window_days=0)))
    (floor,) = calls(tree, "Image.max")
    assert floor["image2"] == {"fn": "Image.constant", "args": {"value": 0.0}}
    # on the value in mm (after x 1000 for ERA5-Land), per image, inside the reduction
    scaled = floor["image1"]
    if entry["scale"] != 1.0:
        assert scaled["fn"] == "Image.multiply" and scaled["args"]["image2"]["args"]["value"] == entry["scale"]
    assert calls(scaled, "Image.select")[0]["bandSelectors"] == entry["bands"]
    reducer = calls(tree, "reduce.sum" if entry_id == "antecedent_precipitation" else "reduce.mean")
    assert reducer and calls(reducer, "Image.max")
    # no other factor is floored (a temperature or a backscatter in dB may be negative)
    for other in ("lst_day", "vv", "ndvi"):
        assert not calls(graph(ex.build_factor(other, D(2023, 6, 1), D(2023, 6, 2), area())), "Image.max")


def test_antecedent_precipitation_sums_the_days_before_the_step_end():
    opts = ex.BuildOptions(antecedent_days=10)
    tree = graph(ex.build_factor("antecedent_precipitation", D(2023, 6, 1), D(2023, 6, 9), area(), opts))
    assert date_ranges(tree) == {("2023-05-30", "2023-06-09")}
    assert calls(tree, "reduce.sum")
    tree = graph(ex.build_factor("antecedent_precipitation", D(2023, 6, 1), D(2023, 6, 2), area(), ex.BuildOptions()))
    assert date_ranges(tree) == {("2023-05-26", "2023-06-02")}  # catalog default: 7 days


def test_static_terrain_and_soil_ignore_dates():
    for day in (D(2016, 1, 1), D(2024, 7, 1)):
        slope = graph(ex.build_factor("slope", day, day + dt.timedelta(days=1), area()))
        assert loaded(slope) == {"USGS/SRTMGL1_003"} and calls(slope, "Terrain.slope")
        assert not date_ranges(slope)
    aspect = graph(ex.build_factor("aspect", D(2023, 6, 1), D(2023, 6, 2), area(),
                                  ex.BuildOptions(sources={"aspect": "nasadem"})))
    assert loaded(aspect) == {"NASA/NASADEM_HGT/001"} and calls(aspect, "Terrain.aspect")
    sand = graph(ex.build_factor("sand", D(2023, 6, 1), D(2023, 6, 2), area()))
    assert selected(sand) == {"b0"}


def test_landcover_uses_the_latest_year_before_the_step_and_the_first_year_before_the_record():
    tree = graph(ex.build_factor("landcover", D(2023, 6, 1), D(2023, 6, 2), area()))
    assert date_ranges(tree) == {("2001-01-01", "2023-06-02")}
    sort = calls(tree, "Collection.limit")  # ImageCollection.sort serializes as Collection.limit(key, ascending)
    assert sort and sort[0]["key"] == "system:time_start"
    tree = graph(ex.build_factor("landcover", D(1999, 6, 1), D(1999, 6, 2), area()))
    assert date_ranges(tree) == {("2001-01-01", "2001-01-02")}
    wc = graph(ex.build_factor("landcover", D(2023, 6, 1), D(2023, 6, 2), area(),
                              ex.BuildOptions(sources={"landcover": "worldcover"})))
    assert loaded(wc) == {"ESA/WorldCover/v200"} and selected(wc) >= {"Map"}


def test_fine_grid_aggregates_fine_data_and_interpolates_coarse_data():
    opts = ex.BuildOptions(fine_crs="EPSG:6933", fine_scale=1000.0, window_days=0)
    ndvi = graph(ex.build_factor("ndvi_landsat", D(2023, 6, 1), D(2023, 6, 2), area(), opts))
    rr = calls(ndvi, "Image.reduceResolution")
    assert len(rr) == 1 and rr[0]["reducer"]["fn"] == "Reducer.mean" and rr[0]["bestEffort"] is True
    assert rr[0]["maxPixels"] == (34 + 2) ** 2
    dp = calls(ndvi, "Image.setDefaultProjection")[0]
    assert dp["scale"] == 30
    rp = calls(ndvi, "Image.reproject")[0]
    assert rp["crsTransform"] == [1000.0, 0, 0, 0, -1000.0, 0]
    lc = graph(ex.build_factor("landcover", D(2023, 6, 1), D(2023, 6, 2), area(), opts))
    assert calls(lc, "Image.reduceResolution")[0]["reducer"]["fn"] == "Reducer.mode"
    assert not calls(lc, "Image.resample")
    precip = graph(ex.build_factor("precipitation", D(2023, 6, 1), D(2023, 6, 2), area(), opts))
    assert [a["mode"] for a in calls(precip, "Image.resample")] == ["bilinear"]
    assert not calls(precip, "Image.reduceResolution")
    lst = graph(ex.build_factor("lst_day", D(2023, 6, 1), D(2023, 6, 2), area(), opts))  # 1 km on 1 km: as is
    assert not calls(lst, "Image.reduceResolution") and not calls(lst, "Image.resample")


@pytest.mark.parametrize("crs, res", [("EPSG:4326", 0.01), ("EPSG:2263", 3280.8), ("EPSG:3857", 1000.0)])
def test_aggregation_is_decided_in_metres_for_geographic_feet_and_distorted_crss(crs, res):
    from smdownscale.algorithms.gee.fetch import pixel_size
    from smdownscale.algorithms.raster import Grid, srs_from_user

    # a fine grid over the Shandian River area in that CRS: its pixel is roughly 1 km on the ground
    srs = srs_from_user(crs)
    wgs = srs_from_user("EPSG:4326")
    from osgeo import osr
    x, y, _ = osr.CoordinateTransformation(wgs, srs).TransformPoint(116.0, 42.0)
    grid = Grid(srs.ExportToWkt(), (x, res, 0.0, y, 0.0, -res), 20, 20)
    size = pixel_size(grid)
    assert 600 < size.ground < 1300
    opts = ex.BuildOptions(fine_crs=crs, fine_scale=res, fine_metres=size.ground, fine_side_metres=size.largest,
                           window_days=0)
    vv = graph(ex.build_factor("vv", D(2023, 6, 1), D(2023, 6, 2), area(), opts))
    rr = calls(vv, "Image.reduceResolution")
    assert len(rr) == 1 and rr[0]["reducer"]["fn"] == "Reducer.mean"
    assert rr[0]["maxPixels"] >= (size.largest / 10) ** 2  # every 10 m pixel of the fine pixel counted
    assert not calls(vv, "Image.resample")
    assert calls(vv, "Image.setDefaultProjection")[0]["scale"] == 10  # metres, whatever the CRS unit
    assert calls(vv, "Image.reproject")[0]["crsTransform"] == [res, 0, 0, 0, -res, 0]
    lc = graph(ex.build_factor("landcover", D(2023, 6, 1), D(2023, 6, 2), area(),
                               ex.BuildOptions(fine_crs=crs, fine_scale=res, fine_metres=size.ground,
                                               sources={"landcover": "worldcover"})))
    assert calls(lc, "Image.reduceResolution")[0]["reducer"]["fn"] == "Reducer.mode"
    dem = graph(ex.build_factor("elevation", D(2023, 6, 1), D(2023, 6, 2), area(), opts))
    assert calls(dem, "Image.reduceResolution") and not calls(dem, "Image.resample")
    precip = graph(ex.build_factor("precipitation", D(2023, 6, 1), D(2023, 6, 2), area(), opts))
    assert [a["mode"] for a in calls(precip, "Image.resample")] == ["bilinear"]


@pytest.mark.parametrize("crs, scale", [("EPSG:6933", 1000.0), ("EPSG:4326", 0.01)])
def test_every_graph_calls_only_published_functions_and_arguments(crs, scale):
    from smdownscale.algorithms.gee.catalog import with_source
    from smdownscale.tests.fake_ee import signature_errors

    cat = load_catalog()
    opts = ex.BuildOptions(fine_crs=crs, fine_scale=scale)
    for entry in cat.entries:
        for source in [None, *entry.get("alternatives", {})]:
            e = with_source(entry, source)
            if e["role"] == "smap":
                img = ex.build_smap(e["product"], e["layer"], D(2023, 12, 1), D(2023, 12, 9), area())
            else:
                img = ex.build_factor(e, D(2023, 6, 1), D(2023, 6, 9), area(), opts)
            assert signature_errors(json.loads(img.serialize(for_cloud_api=True))) == [], (e["id"], source)


def test_signature_check_catches_unknown_functions_and_arguments():
    from smdownscale.tests.fake_ee import signature_errors

    def expr(name, args):
        return {"result": "0", "values": {"0": {"functionInvocationValue": {
            "functionName": name, "arguments": {k: {"constantValue": v} for k, v in args.items()}}}}}

    assert signature_errors(expr("Image.sharpen", {"image": 1})) == ["Unknown algorithm: Image.sharpen."]
    assert signature_errors(expr("Image.select", {"input": 1, "bands": ["a"]})) == [
        "Image.select: unknown argument 'bands'.", "Image.select: missing required argument 'bandSelectors'.",
        "Image.select, argument 'input': Invalid type. Expected type: Image<unknown bands>. Actual type: Number."]


def test_signature_check_catches_arguments_of_another_type():
    """Earth Engine refuses an argument of another type than its published one: a collection where an image is
    expected, a number where a string is. The client's casts (Collection.first's Element taken as an Image), numbers
    of any width, and an image collection for a collection argument are accepted, as the server accepts them."""
    import ee

    from smdownscale.tests.fake_ee import signature_errors

    def errors(obj):
        return signature_errors(json.loads(obj.serialize(for_cloud_api=True)))

    col = ee.ImageCollection("NASA/SMAP/SPL4SMGP/008")
    assert errors(ee.Image(col).select(["sm_surface"])) == [
        "Image.select, argument 'input': Invalid type. Expected type: Image<unknown bands>. Actual type: "
        "ImageCollection."]
    assert errors(ee.Image(col.first()).select(["sm_surface"]).multiply(0.5).toFloat()) == []
    assert errors(col.filterDate("2023-06-01", "2023-06-02").mean().reproject("EPSG:4326", None, 1000)) == []
    assert errors(ee.Image(5).rename(ee.String("a").cat("b"))) == []

    def call(name, **args):
        return {"functionInvocationValue": {"functionName": name, "arguments": args}}

    image = call("Image.constant", value={"constantValue": 5})
    assert signature_errors({"result": "0", "values": {"0": call("Collection.filter", collection=image,
                                                                  filter={"constantValue": None})}}) == [
        "Collection.filter, argument 'collection': Invalid type. Expected type: FeatureCollection. Actual type: "
        "Image<unknown bands>."]
    assert signature_errors({"result": "0", "values": {"0": call("Image.rename", input=image,
                                                                  names={"constantValue": 5})}}) == [
        "Image.rename, argument 'names': Invalid type. Expected type: List<String>. Actual type: Number."]
    assert signature_errors({"result": "0", "values": {"0": call("Image.rename", input=image,
                                                                  names={"constantValue": ["a"]})}}) == []


def test_sentinel1_angle_is_used_at_its_own_20_km_scale_not_averaged_from_10_m():
    opts = ex.BuildOptions(fine_crs="EPSG:6933", fine_scale=1000.0, window_days=0)
    angle = graph(ex.build_factor("s1_angle", D(2023, 6, 1), D(2023, 6, 2), area(), opts))
    assert load_catalog().get("s1_angle")["native_resolution"] == 20000
    assert not calls(angle, "Image.reduceResolution") and not calls(angle, "Image.setDefaultProjection")
    assert [a["mode"] for a in calls(angle, "Image.resample")] == ["bilinear"]
    assert "angle" in selected(angle)
    vv = graph(ex.build_factor("vv", D(2023, 6, 1), D(2023, 6, 2), area(), opts))  # 10 m backscatter: averaged
    assert calls(vv, "Image.reduceResolution")[0]["maxPixels"] == (100 + 2) ** 2


def test_pixel_ground_size_in_degrees_feet_and_web_mercator():
    from smdownscale.algorithms.gee.fetch import pixel_size
    from smdownscale.algorithms.raster import Grid, srs_from_user

    geo = pixel_size(Grid(srs_from_user("EPSG:4326").ExportToWkt(), (115.99, 0.01, 0, 42.01, 0, -0.01), 2, 2))
    assert geo.x == pytest.approx(1112.0 * math_cos_deg(42.0), rel=0.01)  # east-west shrinks with latitude
    assert geo.y == pytest.approx(1112.0, rel=0.01)
    assert geo.nominal == pytest.approx(1113.19, rel=1e-4)
    feet = pixel_size(Grid(srs_from_user("EPSG:2263").ExportToWkt(), (980000.0, 1000.0, 0, 200000.0, 0, -1000.0),
                           2, 2))
    assert feet.ground == pytest.approx(304.8, rel=0.01)
    assert feet.nominal == pytest.approx(304.8, rel=1e-5)  # US survey feet
    merc = pixel_size(Grid(srs_from_user("EPSG:3857").ExportToWkt(), (12912000.0, 1000.0, 0, 5160000.0, 0,
                                                                    -1000.0), 2, 2))
    assert merc.ground == pytest.approx(1000.0 * math_cos_deg(42.0), rel=0.02)  # Mercator's 1000 m are ~740 m here


def math_cos_deg(deg: float) -> float:
    import math

    return math.cos(math.radians(deg))


def test_smap_l4_is_averaged_over_the_step_and_l3_switches_version_and_masks_each_pass():
    l4 = graph(ex.build_smap("L4", "sm_surface", D(2023, 6, 1), D(2023, 6, 2)))
    assert loaded(l4) == {"NASA/SMAP/SPL4SMGP/008"}
    assert selected(l4) == {"sm_surface"}
    assert date_ranges(l4) == {("2023-06-01", "2023-06-02")}
    assert calls(l4, "reduce.mean")
    root = graph(ex.build_smap("L4", "sm_rootzone", D(2023, 6, 1), D(2023, 6, 9)))
    assert selected(root) == {"sm_rootzone"} and ["sm_rootzone"] in [a["names"] for a in calls(root, "Image.rename")]
    l3 = graph(ex.build_smap("L3E", "sm_surface", D(2023, 12, 1), D(2023, 12, 9)))
    loads = calls(l3, "ImageCollection.load")
    assert {a["id"] for a in loads} == {"NASA/SMAP/SPL3SMP_E/005", "NASA/SMAP/SPL3SMP_E/006"}
    assert date_ranges(l3) == {("2023-12-01", "2023-12-04"), ("2023-12-04", "2023-12-09")}
    assert {"soil_moisture_am", "soil_moisture_pm", "retrieval_qual_flag_am", "retrieval_qual_flag_pm"} <= selected(l3)
    assert constants(l3, "bitwiseAnd") == {7}
    assert ["sm_surface"] in [a["names"] for a in calls(l3, "Image.rename")]
    assert not calls(l3, "Image.reduceResolution")
    late = graph(ex.build_smap("L3E", "sm_surface", D(2024, 6, 1), D(2024, 6, 2)))
    assert loaded(late) == {"NASA/SMAP/SPL3SMP_E/006"}


def _masked_before_the_mean(tree: Any, band: str) -> list[dict]:
    """updateMask calls inside the per-image function whose mask compares ``band`` with -9999."""
    out = []
    for args in calls(tree, "Image.updateMask"):
        for neq in calls(args["mask"], "Image.neq"):
            rhs = neq["image2"]
            sel = calls(neq["image1"], "Image.select")
            if (fn_name(rhs) == "Image.constant" and rhs["args"]["value"] == -9999.0 and sel
                    and sel[0]["bandSelectors"] == [band]):
                out.append(args)
    return out


def fn_name(node: Any) -> Any:
    return node.get("fn") if isinstance(node, dict) else None


@pytest.mark.parametrize("product, layer, bands", [
    ("L4", "sm_surface", ["sm_surface"]), ("L4", "sm_rootzone", ["sm_rootzone"]),
    ("L3E", "sm_surface", ["soil_moisture_am", "soil_moisture_pm"])])
def test_smap_fill_values_are_masked_in_every_image_before_the_step_mean(product, layer, bands):
    tree = graph(ex.build_smap(product, layer, D(2023, 6, 1), D(2023, 6, 9)))
    for band in bands:
        assert _masked_before_the_mean(tree, band), f"{band}: -9999 is not masked"
    # the masks sit inside the function mapped over the collection, i.e. before reduce.mean
    (mean,) = calls(tree, "reduce.mean")
    assert all(_masked_before_the_mean(mean, b) for b in bands)
    # and the physical range: L4 0-0.9, L3E 0-1 m3/m3 (catches the products' other negative fills)
    assert {0.0} <= constants(tree, "gte") and (constants(tree, "lte") & {0.9, 1.0})


def test_stack_keeps_the_requested_band_order():
    tree = graph(ex.build_stack(["slope", "ndvi", "vv"], D(2023, 6, 1), D(2023, 6, 2), area()))
    cat = calls(tree, "Image.addBands") or calls(tree, "Image.cat")
    assert cat
    names = [a["names"][0] for a in calls(tree, "Image.rename") if a["names"][0] in ("slope", "ndvi", "vv")]
    assert names[0] == "slope"
    order = json.dumps(tree).find
    assert order('"names": ["slope"]') < order('"names": ["ndvi"]') < order('"names": ["vv"]')
    with pytest.raises(InputError, match="Choose at least one factor"):
        ex.build_stack([], D(2023, 6, 1), D(2023, 6, 2), area())


def test_empty_step_is_an_error():
    with pytest.raises(InputError, match="is empty"):
        ex.build_factor("ndvi", D(2023, 6, 2), D(2023, 6, 2), area())


# -- time steps ---------------------------------------------------------------------------------

def test_daily_steps():
    steps = ex.time_steps("2023-06-01", "2023-06-03", "daily")
    assert steps == [(D(2023, 6, 1), D(2023, 6, 2), "20230601"), (D(2023, 6, 2), D(2023, 6, 3), "20230602"),
                     (D(2023, 6, 3), D(2023, 6, 4), "20230603")]


def test_monthly_steps_follow_calendar_months_and_are_clipped():
    steps = ex.time_steps(D(2023, 12, 15), D(2024, 3, 1), "monthly")
    assert [(s, e) for s, e, _ in steps] == [(D(2023, 12, 15), D(2024, 1, 1)), (D(2024, 1, 1), D(2024, 2, 1)),
                                            (D(2024, 2, 1), D(2024, 3, 1)), (D(2024, 3, 1), D(2024, 3, 2))]
    full = ex.time_steps(D(2024, 1, 1), D(2024, 12, 31), "monthly")
    assert len(full) == 12 and (full[1][1] - full[1][0]).days == 29  # leap February


def test_8day_and_16day_steps_follow_the_modis_calendar():
    steps = ex.time_steps(D(2023, 1, 1), D(2023, 12, 31), "8day")
    assert len(steps) == 46
    assert [s for s, _, _ in steps[:3]] == [D(2023, 1, 1), D(2023, 1, 9), D(2023, 1, 17)]
    assert steps[-1][:2] == (D(2023, 12, 27), D(2024, 1, 1))  # the last period of a year is short
    assert all((e - s).days == 8 for s, e, _ in steps[:-1])
    mid = ex.time_steps(D(2023, 6, 20), D(2023, 7, 10), "16-day")
    # 16-day periods start on DOY 161 (Jun 10) and 177 (Jun 26) and 193 (Jul 12)
    assert [(s, e) for s, e, _ in mid] == [(D(2023, 6, 20), D(2023, 6, 26)), (D(2023, 6, 26), D(2023, 7, 11))]


def test_bad_dates_and_steps_are_named():
    with pytest.raises(InputError, match="reversed: the end date 2023-05-01 is before the start date 2023-06-01"):
        ex.time_steps("2023-06-01", "2023-05-01", "daily")
    with pytest.raises(InputError, match="'2023-13-01' is not a date; write it as YYYY-MM-DD"):
        ex.time_steps("2023-13-01", "2023-12-01", "daily")
    with pytest.raises(InputError, match="Unknown time step 'weekly'"):
        ex.time_steps("2023-06-01", "2023-06-02", "weekly")
