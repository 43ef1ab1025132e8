"""Value and unit sanity: soil moisture in percent or with undeclared fill values, NDVI x 10000, LST in degrees C."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from osgeo import gdal

from smdownscale.algorithms import model_io, units
from smdownscale.algorithms.downscale import downscale
from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.raster import read_all, write_raster
from smdownscale.algorithms.screen import screen_factors
from smdownscale.algorithms.series import validate_series
from smdownscale.algorithms.stations import read_csv
from smdownscale.algorithms.train import TrainRequest, train_model
from smdownscale.algorithms.units import SmReading, check_soil_moisture
from smdownscale.algorithms.validate import validate
from smdownscale.tests.scenes import ease_grid, make_scene

DATES2 = ("2023-06-01", "2023-06-09")


def _field(lo: float, hi: float, shape=(20, 30), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(lo, hi, shape)


# -- the soil moisture check ------------------------------------------------------------------------

def test_m3m3_with_small_negative_noise_passes_unchanged():
    v = _field(0.02, 0.55)
    v[0, :5] = -0.03  # retrieval noise
    out = check_soil_moisture(v, "/data/smap_20230601.tif")
    np.testing.assert_array_equal(out, v)


def test_percent_is_refused_with_the_scale_fix():
    v = np.linspace(4.1, 48.7, 600).reshape(20, 30)
    with pytest.raises(InputError) as err:
        check_soil_moisture(v, "/data/smap_20230601.tif")
    assert str(err.value) == (
        "The soil moisture raster smap_20230601.tif is not in m3/m3: values 4.1 to 48.7, median 26.4. These look "
        "like percent (0-100). Give SM_SCALE=0.01 (advanced parameter: scale factor to m3/m3) to convert them, or "
        "convert the raster to m3/m3 (divide by 100 with the Raster calculator).")


def test_percent_with_the_scale_becomes_m3m3():
    v = np.linspace(4.1, 48.7, 600).reshape(20, 30)
    out = check_soil_moisture(v, "smap.tif", SmReading(0.01))
    np.testing.assert_allclose(out, v * 0.01)


def test_a_wrong_scale_on_percent_still_names_0_01():
    v = np.linspace(4.1, 48.7, 600).reshape(20, 30)
    with pytest.raises(InputError, match=r"values 0\.41 to 4\.87, median 2\.64 after SM_SCALE=0\.1\. These look like "
                                         r"percent \(0-100\)\. Give SM_SCALE=0\.01"):
        check_soil_moisture(v, "smap.tif", SmReading(0.1))


def test_undeclared_fill_is_refused_naming_the_value():
    v = _field(0.05, 0.45)
    v[:4] = -9999.0
    with pytest.raises(InputError) as err:
        check_soil_moisture(v, "/data/smap_20230601.tif")
    assert str(err.value) == (
        "The soil moisture raster smap_20230601.tif holds 120 pixel(s) (20.0 %) equal to -9999, a fill value that is "
        "not declared as nodata; the other pixels hold values 0.0501 to 0.45, median 0.265. They would be used as "
        "soil moisture. Declare the nodata value: set SM_NODATA=-9999 (advanced parameter), or mark it in the file "
        "(gdal_edit.py -a_nodata -9999 smap_20230601.tif, or QGIS Raster > Conversion > Translate with 'Assign a "
        "specified nodata value to output bands').")
    out = check_soil_moisture(v, "smap.tif", SmReading(nodata=-9999.0))
    assert np.isnan(out[:4]).all() and np.isfinite(out[4:]).all()


@pytest.mark.bad_input("train: SMAP exported by Earth Engine with masked pixels (water) as 0")
def test_masked_smap_pixels_written_as_zero_are_refused():
    """An Earth Engine export without noData writes masked SMAP cells (lakes, the sea) as 0: SMAP reports no soil at
    0 m3/m3, so a share of exact zeros among wetter values is missing data, refused with the fix. Declared as nodata,
    the same values are read; a reference raster (another product, possibly clipped at 0) is not judged by SMAP."""
    v = _field(0.05, 0.45)
    v[0, :6] = 0.0
    with pytest.raises(InputError) as err:
        check_soil_moisture(v, "/data/smap_20230601.tif")
    assert str(err.value) == (
        "The soil moisture raster smap_20230601.tif holds 6 pixel(s) (1.0 %) equal to 0, while the other pixels hold "
        "values 0.0501 to 0.45, median 0.268: SMAP reports no soil as 0 m3/m3, so these are missing pixels stored as 0 "
        "(Earth Engine writes masked pixels, e.g. water, as 0 unless the export sets noData). Declare 0 as nodata: "
        "set SM_NODATA=0 (advanced parameter), or mark it in the file (gdal_edit.py -a_nodata 0 smap_20230601.tif, "
        "or QGIS Raster > Conversion > Translate with 'Assign a specified nodata value to output bands').")
    out = check_soil_moisture(v, "smap.tif", SmReading(nodata=0.0))
    assert np.isnan(out[0, :6]).all() and np.isfinite(out[1:]).all()
    assert np.array_equal(check_soil_moisture(v, "ref.tif", role="reference"), v)
    v[0, :6] = 0.05
    v[0, :2] = 0.0  # two zeros: below the count a stray value may reach
    assert np.count_nonzero(check_soil_moisture(v, "smap.tif") == 0.0) == 2
    dry = np.where(v > 0, 0.01, 0.0)  # a desert at 0.01 m3/m3: zeros beside it are not read as a fill
    dry[0, :6] = 0.0
    assert np.count_nonzero(check_soil_moisture(dry, "smap.tif") == 0.0) == 6


@pytest.mark.parametrize("fill", [65535.0, 32767.0, -32768.0, -999.0, -9998.0, 9.96921e36, -3.4028235e38, -1234.0])
def test_every_fill_like_value_is_refused(fill):
    v = _field(0.05, 0.45)
    v[0, 0] = np.float32(fill)  # as read from a float32 file
    with pytest.raises(InputError, match=r"holds 1 pixel\(s\) \(0\.2 %\) equal to .*a fill value that is not declared"):
        check_soil_moisture(v, "smap.tif")


def test_255_is_a_fill_in_byte_rasters_only():
    v = np.round(_field(5, 45))
    v[0, :3] = 255.0
    with pytest.raises(InputError, match=r"holds 3 pixel\(s\) \(0\.5 %\) equal to 255, a fill value"):
        check_soil_moisture(v, "smap.tif", SmReading(0.01), byte=True)
    with pytest.raises(InputError, match=r"not in m3/m3: values 0\.05 to 2\.55"):
        check_soil_moisture(v, "smap.tif", SmReading(0.01), byte=False)


def test_scaled_integers_and_stray_values_get_their_own_hints():
    with pytest.raises(InputError, match=r"not in m3/m3: values 500 to 4500, median 2500, 100\.0 % of the pixels "
                                         r"outside -0\.05 to 1 m3/m3\. If the raster stores scaled integers, give the "
                                         r"factor to m3/m3 as SM_SCALE \(e\.g\. SM_SCALE=0\.0001"):
        check_soil_moisture(np.linspace(500, 4500, 601), "smap.tif")
    v = _field(0.05, 0.45)
    v[0, 0] = 7.0  # one value no noise explains
    with pytest.raises(InputError, match=r"0\.2 % of the pixels outside -0\.05 to 1 m3/m3\. If some of these values "
                                         r"mean 'no data', declare that value as nodata \(SM_NODATA or gdal_edit"):
        check_soil_moisture(v, "smap.tif")


def test_scaling_m3m3_again_is_refused():
    with pytest.raises(InputError, match=r"values 0\.0005 to 0\.0045, median 0\.0025 after SM_SCALE=0\.01: too small "
                                         r"for soil moisture in m3/m3, so the values were probably already in m3/m3\. "
                                         r"Set SM_SCALE to 1\."):
        check_soil_moisture(np.linspace(0.05, 0.45, 601), "smap.tif", SmReading(0.01))


def test_bad_scale_and_nodata_values():
    with pytest.raises(InputError, match=r"The scale factor SM_SCALE must be a positive number \(got 0\.0\)"):
        SmReading(0.0)
    with pytest.raises(InputError, match=r"The nodata value REF_NODATA must be a number \(got nan\)"):
        SmReading(1.0, float("nan"), "REF_SCALE", "REF_NODATA")


def test_decimated_sample_reads_declared_nodata_as_nan(tmp_path):

    g = ease_grid(300, 200)
    data = _field(0.1, 0.3, (200, 300))
    data[:10] = np.nan
    path = write_raster(str(tmp_path / "big.tif"), g, data)
    sample = units.sample_band(gdal.Open(path), max_pixels=600)
    assert sample.shape == (20, 30)  # every 10th pixel
    assert np.isnan(sample[0]).all() and np.isfinite(sample[1:]).all()


# -- factor names and ranges ------------------------------------------------------------------------

@pytest.mark.parametrize("name,index", [("ndvi", True), ("NDVI", True), ("ndvi_landsat", True), ("mod13_evi", True),
                                        ("evi2", True), ("savi", True), ("ndwi_landsat", True), ("elevation", False),
                                        ("precip_previous", False), ("deviation", False), ("lst_day", False)])
def test_index_names(name, index):
    assert units.is_index(name) is index


@pytest.mark.parametrize("name,lst", [("lst_day", True), ("lst_night", True), ("lst_landsat", True),
                                      ("LST_Day_1km", True), ("lst_diff", False), ("elevation", False),
                                      # named after MODIS / Landsat files, or in Chinese
                                      ("MOD11A1.LST_Day_1km", True), ("MYD11A2_LST_Night_1km", True),
                                      ("landsat_lst", True), ("land_surface_temperature", True), ("地表温度", True),
                                      ("MOD11A1.LST_diff", False), ("blst", False), ("lstm_output", False),
                                      # other temperatures, whose units are checked alike
                                      ("ST_B10", True), ("LC08_ST_B10", True), ("ST_B6", True), ("ST_B1", False),
                                      ("surface_temp", True), ("skin_temperature", True), ("temperature_2m", True),
                                      ("AvgSurfT_inst", True), ("soil_temperature_level_1", True), ("地温", True),
                                      ("temporal_mean", False), ("temperature_2m_range", False), ("st_b100", False),
                                      ("st_b10x", False), ("temp", False), ("accumulated_temperature", False),
                                      ("temp_anomaly", False), ("temperature_2m_std", False), ("lst_sum", False),
                                      ("lst_summer", True), ("mean_2m_air_temperature", True), ("Tair_f_inst", True),
                                      ("LST_Day_1km_stdDev", False), ("LST_Day_1km_count", False),
                                      ("lst_stddev", False), ("lst_var", False), ("tairport", False),
                                      ("近地面气温", True),
                                      ("昼夜地表温度差", False), ("温度植被干旱指数", False)])
def test_lst_names(name, lst):
    assert units.is_lst(name) is lst


def test_ndvi_times_10000_is_refused():
    v = np.linspace(-200, 9000, 500)
    with pytest.raises(InputError) as err:
        units.check_index_factor("ndvi", v, "/d/factors_20230601.tif")
    assert str(err.value) == (
        "The factor ndvi in factors_20230601.tif looks like a vegetation index but holds values -200 to 9000, median "
        "4400, 100.0 % of them outside -1 to 1. It is probably stored as integers x 10000 (as MODIS MOD13 NDVI/EVI): "
        "declare its scale in the file it came from (gdal_edit.py -scale 0.0001; the values it stands for are then "
        "read) or multiply the band by 0.0001 (Raster calculator), then rebuild the factor stack with "
        "smdownscale:align.")
    units.check_index_factor("ndvi", v * 1e-4, "f.tif")  # scaled: accepted


def test_ndvi_times_10000_names_a_fill_value_only_below_any_ndvi():
    # water at -0.15 (-1500 stored) is a value; MODIS's fill -3000 (below its valid -2000) is not
    v = np.concatenate([np.full(50, -1500.0), np.linspace(500, 8000, 450)])
    with pytest.raises(InputError) as err:
        units.check_index_factor("NDVI", v, "NDVI_2023-06-05.tif")
    assert "fill value" not in str(err.value)
    assert str(err.value).endswith("or multiply the band by 0.0001 (Raster calculator), then rebuild the factor "
                                   "stack with smdownscale:align.")
    v[:10] = -3000.0
    with pytest.raises(InputError) as err:
        units.check_index_factor("NDVI", v, "NDVI_2023-06-05.tif")
    assert str(err.value).endswith("or multiply the band by 0.0001 (Raster calculator), and declare its fill value "
                                   "(-3000) as nodata (gdal_edit.py -a_nodata), then rebuild the factor stack with "
                                   "smdownscale:align.")


def test_lst_in_kelvin_with_masked_pixels_as_zero_is_refused():
    v = np.linspace(285.0, 318.0, 1000)
    v[:40] = 0.0  # cloud gaps exported as 0
    with pytest.raises(InputError) as err:
        units.check_lst_fill("LST_Day_1km", v, "/d/LST_Day_2023-06-05.tif")
    assert str(err.value) == (
        "The factor LST_Day_1km in LST_Day_2023-06-05.tif is in Kelvin (median 302) but 4.0 % of its values lie below "
        "150 K (most often 0): no land surface is that cold, so they are missing pixels stored as a value (Earth "
        "Engine writes masked pixels as 0 unless the export sets noData). Declare that value as nodata in the LST "
        "file (gdal_edit.py -a_nodata 0 <file>, or QGIS Raster > Conversion > Translate with 'Assign a specified "
        "nodata value to output bands'), then align the factors again (smdownscale:align).")
    units.check_lst_fill("LST_Day_1km", v[40:], "f.tif")  # without the fill: accepted
    units.check_lst_fill("LST_Day_1km", np.where(v > 0, v - 273.15, 0.0), "f.tif")  # 0 degrees Celsius is a value
    with pytest.raises(InputError, match="below 150 K"):
        units.LstUnits().check("lst_day", v, "f.tif")


def test_lst_celsius_for_a_kelvin_model_and_the_reverse():
    with pytest.raises(InputError) as err:
        units.check_lst_factor("lst_day", np.linspace(5.0, 38.0, 100), "/d/factors_20230601.tif", [285.2, 318.4])
    assert str(err.value) == (
        "The factor lst_day in factors_20230601.tif holds values 5 to 38.0, median 21.5, which is in degrees "
        "Celsius, but the model was trained on lst_day in Kelvin (training range 285 to 318). Convert it: add 273.15 "
        "to the band (Raster calculator: band + 273.15), then rebuild the factor stack with smdownscale:align; or "
        "retrain the model on factors in degrees Celsius.")
    with pytest.raises(InputError, match=r"which is in Kelvin, but the model was trained on lst_night in degrees "
                                         r"Celsius .* subtract 273\.15 from the band"):
        units.check_lst_factor("lst_night", np.linspace(280.0, 300.0, 100), "f.tif", [5.0, 30.0])
    units.check_lst_factor("lst_day", np.linspace(280.0, 320.0, 100), "f.tif", [285.2, 318.4])
    units.check_lst_factor("lst_day", np.linspace(5.0, 38.0, 100), "f.tif", [2.0, 40.0])
    # another temperature (Landsat's, here converted to Kelvin) alike
    units.check_lst_factor("ST_B10", np.linspace(290.0, 310.0, 101), "f.tif", [285.2, 318.4])
    with pytest.raises(InputError, match=r"ST_B10 .* which is in degrees Celsius, but the model was trained on "
                                         r"ST_B10 in Kelvin"):
        units.check_lst_factor("ST_B10", np.linspace(17.0, 37.0, 101), "f.tif", [285.2, 318.4])


@pytest.mark.parametrize("name,low,high,hint", [
    ("lst_day", 14000.0, 16000.0, r"MODIS stores LST as integers x 50: multiply the band by 0\.02"),
    ("ST_B10", 42000.0, 46000.0, r"Landsat Collection 2 stores surface temperature as integers: Kelvin = band x "
                                 r"0\.00341802 \+ 149 \(here a median of 299 K\)\."),
])
def test_lst_as_stored_integers_for_a_kelvin_model(name, low, high, hint):
    with pytest.raises(InputError, match=rf"The factor {name} in factors_20230601\.tif holds .*, which is neither "
                                         rf"Kelvin nor degrees Celsius, but the model was trained on {name} in "
                                         r"Kelvin .*" + hint):
        units.check_lst_factor(name, np.linspace(low, high, 101), "/d/factors_20230601.tif", [285.2, 318.4])


# -- through the algorithms -------------------------------------------------------------------------

def _percent_scene(folder, fill=False):
    """The default scene with SMAP in percent, or in m3/m3 with every 9th cell -9999 not declared as nodata."""
    scene = make_scene(str(folder), sm_func=lambda m: 100.0 * (0.1 + 0.5 * m["ndvi"]), dates=DATES2)
    if fill:
        for path in scene["sm"]:
            v = read_all(path, dtype=np.float64)[0] / 100.0
            v[np.arange(v.size).reshape(v.shape) % 9 == 0] = -9999.0
            write_raster(path, scene["coarse"], v, names=["sm_surface"], nodata=-1.0)
    return scene


def test_train_refuses_percent_smap_and_trains_with_the_scale(tmp_path):
    scene = _percent_scene(tmp_path / "s")
    out = str(tmp_path / "m.smdmodel")
    with pytest.raises(InputError, match=r"The soil moisture raster smap_20230601\.tif is not in m3/m3: values .*"
                                         r"These look like percent \(0-100\)\. Give SM_SCALE=0\.01"):
        train_model(TrainRequest(scene["sm"], scene["stacks"], out, "cart", cv_folds=0))
    res = train_model(TrainRequest(scene["sm"], scene["stacks"], out, "cart", cv_folds=0, sm_scale=0.01))
    assert res.meta["soil_moisture_input"] == {"scale": 0.01, "nodata": None}
    lo, hi = res.meta["target_range"]
    assert 0.1 < lo < hi < 0.6
    _, meta = model_io.load_model(out)
    assert meta["soil_moisture_input"]["scale"] == 0.01


def test_screen_and_paper_training_refuse_undeclared_fill(tmp_path):
    scene = _percent_scene(tmp_path / "s", fill=True)
    with pytest.raises(InputError, match=r"smap_20230601\.tif holds \d+ pixel\(s\) \(1\d\.\d %\) equal to -9999, "
                                         r"a fill value that is not declared as nodata"):
        screen_factors(scene["sm"], scene["stacks"])
    with pytest.raises(InputError, match=r"equal to -9999, a fill value .* set SM_NODATA=-9999"):
        train_model(TrainRequest(scene["sm"], scene["stacks"], str(tmp_path / "m.smdmodel"), "cart", cv_folds=0,
                                 training_mode="paper"))
    res = screen_factors(scene["sm"], scene["stacks"], sm_nodata=-9999)
    assert "ndvi" in res.selected


def test_train_refuses_ndvi_times_10000(tmp_path):
    scene = make_scene(str(tmp_path / "s"), dates=DATES2[:1],
                       extra=lambda fields, *_: {"ndvi": np.round(fields["ndvi"] * 10000.0)})
    with pytest.raises(InputError, match=r"The factor ndvi in factors_20230601\.tif looks like a vegetation index but "
                                         r"holds values \d+ to \d+, median \d+, 100\.0 % of them outside -1 "
                                         r"to 1\. It is probably stored as integers x 10000"):
        train_model(TrainRequest(scene["sm"], scene["stacks"], str(tmp_path / "m.smdmodel"), "cart", cv_folds=0))


def test_train_refuses_lst_in_kelvin_on_one_date_and_celsius_on_another(tmp_path):
    scene = make_scene(str(tmp_path / "s"), dates=DATES2)
    stack = read_all(scene["stacks"][1], dtype=np.float64)
    stack[1] -= 273.15
    write_raster(scene["stacks"][1], scene["fine"], stack, names=["ndvi", "lst_day", "landcover"],
                 kinds=["continuous", "continuous", "categorical"])
    expect = (r"The factor lst_day is in Kelvin in factors_20230601\.tif \(median 3\d\d\) but in degrees Celsius in "
              r"factors_20230609\.tif \(median \d\d\.\d\); give every date in the same unit")
    for mode in ("coarse", "paper"):
        with pytest.raises(InputError, match=expect):
            train_model(TrainRequest(scene["sm"], scene["stacks"], str(tmp_path / "m.smdmodel"), "cart", cv_folds=0,
                                     training_mode=mode))


@pytest.mark.bad_input("train: LST in Kelvin with masked pixels as 0 in a stack not built by align")
@pytest.mark.parametrize("mode", ["coarse", "paper"])
def test_train_refuses_lst_with_masked_pixels_as_zero(tmp_path, mode):
    """Stacks built by another tool (not through align, which checks its inputs): 5 % of LST's pixels 0 (Earth
    Engine's masked pixels). In the scale-aware mode the zeros vanish into the cells' means (lower temperatures, none
    below 150 K), so the stack's own pixels are checked, as the study's mode does on its pixels."""
    scene = make_scene(str(tmp_path / "s"), dates=DATES2)
    for i, path in enumerate(scene["stacks"]):
        stack = read_all(path, dtype=np.float64)
        stack[1][np.random.default_rng(i).uniform(size=stack[1].shape) < 0.05] = 0.0
        write_raster(path, scene["fine"], stack, names=["ndvi", "lst_day", "landcover"],
                     kinds=["continuous", "continuous", "categorical"])
    with pytest.raises(InputError, match=r"The factor lst_day in factors_20230601\.tif is in Kelvin \(median \d{3}\) "
                                         r"but [4-6]\.\d % of its values lie below 150 K \(most often 0\)"):
        train_model(TrainRequest(scene["sm"], scene["stacks"], str(tmp_path / "m.smdmodel"), "cart", cv_folds=0,
                                 training_mode=mode))


def test_train_refuses_lst_named_after_its_modis_file_in_two_units(tmp_path):
    # the band name a MODIS file gives through align (MOD11A1.A2023152.LST_Day_1km.tif -> MOD11A1.LST_Day_1km)
    scene = make_scene(str(tmp_path / "s"), dates=DATES2)
    names = ["ndvi", "MOD11A1.LST_Day_1km", "landcover"]
    for i, path in enumerate(scene["stacks"]):
        stack = read_all(path, dtype=np.float64)
        if i == 1:
            stack[1] -= 273.15
        write_raster(path, scene["fine"], stack, names=names, kinds=["continuous", "continuous", "categorical"])
    with pytest.raises(InputError, match=r"The factor MOD11A1\.LST_Day_1km is in Kelvin in factors_20230601\.tif "
                                         r"\(median 3\d\d\) but in degrees Celsius in factors_20230609\.tif"):
        train_model(TrainRequest(scene["sm"], scene["stacks"], str(tmp_path / "m.smdmodel"), "cart", cv_folds=0))


@pytest.fixture(scope="module")
def kelvin(tmp_path_factory):
    base = tmp_path_factory.mktemp("kelvin")
    scene = make_scene(str(base / "s"), dates=DATES2)
    model = str(base / "m.smdmodel")
    train_model(TrainRequest(scene["sm"], scene["stacks"], model, "cart", cv_folds=0))
    return scene, model, base


def test_downscale_refuses_lst_in_celsius(kelvin, tmp_path):
    scene, model, _ = kelvin
    stack = read_all(scene["stacks"][0], dtype=np.float64)
    stack[1] -= 273.15
    celsius = write_raster(str(tmp_path / "factors_20230601.tif"), scene["fine"], stack,
                           names=["ndvi", "lst_day", "landcover"], kinds=["continuous", "continuous", "categorical"])
    out = str(tmp_path / "sm.tif")
    with pytest.raises(InputError, match=r"The factor lst_day in factors_20230601\.tif holds values .*, which is in "
                                         r"degrees Celsius, but the model was trained on lst_day in Kelvin \(training "
                                         r"range 2\d\d to 3\d\d\)\. Convert it: add 273\.15"):
        downscale(model, celsius, out, scene["sm"][0])
    assert not (tmp_path / "sm.tif").exists()


def test_downscale_refuses_lst_with_cloud_gaps_as_zero(kelvin, tmp_path):
    scene, model, _ = kelvin
    stack = read_all(scene["stacks"][0], dtype=np.float64)
    stack[1, :5] = 0.0  # the first rows' LST masked and exported as 0
    zeros = write_raster(str(tmp_path / "factors_20230601.tif"), scene["fine"], stack,
                         names=["ndvi", "lst_day", "landcover"], kinds=["continuous", "continuous", "categorical"])
    with pytest.raises(InputError, match=r"The factor lst_day in factors_20230601\.tif is in Kelvin \(median \d{3}\) "
                                         r"but \d+\.\d % of its values lie below 150 K \(most often 0\)"):
        downscale(model, zeros, str(tmp_path / "sm.tif"), scene["sm"][0])
    assert not (tmp_path / "sm.tif").exists()


@pytest.mark.bad_input("downscale: land cover of another product or legend than in training")
def test_downscale_refuses_land_cover_of_another_legend(kelvin, tmp_path):
    # the model learnt classes 10/20/30; the stack's land cover comes from a product coded 1/2/3
    scene, model, _ = kelvin
    stack = read_all(scene["stacks"][0], dtype=np.float64)
    stack[2] = stack[2] / 10.0
    other = write_raster(str(tmp_path / "factors_20230601.tif"), scene["fine"], stack,
                         names=["ndvi", "lst_day", "landcover"], kinds=["continuous", "continuous", "categorical"])
    with pytest.raises(InputError, match=r"The land cover factor landcover in factors_20230601\.tif has 100 % of its "
                                         r"pixels in classes the model was not trained on \(1, 2, 3\); the model knows "
                                         r"the classes 10, 20, 30\. It was probably trained on another land cover"):
        downscale(model, other, str(tmp_path / "sm.tif"), scene["sm"][0])
    assert not os.path.exists(tmp_path / "sm.tif")
    # a class of its own on a few pixels is no other legend
    stack = read_all(scene["stacks"][0], dtype=np.float64)
    stack[2, :2] = 40.0
    few = write_raster(str(tmp_path / "few_20230601.tif"), scene["fine"], stack,
                       names=["ndvi", "lst_day", "landcover"], kinds=["continuous", "continuous", "categorical"])
    assert downscale(model, few, str(tmp_path / "sm2.tif"), scene["sm"][0]).mean > 0


def test_downscale_reads_percent_smap_with_the_models_scale(kelvin, tmp_path):
    scene, model, base = kelvin
    pct = _percent_scene(base / "pct")
    pmodel = str(base / "pct.smdmodel")
    train_model(TrainRequest(pct["sm"], pct["stacks"], pmodel, "cart", cv_folds=0, sm_scale=0.01))
    out = str(tmp_path / "sm.tif")
    res = downscale(pmodel, pct["stacks"][0], out, pct["sm"][0])  # scale 0.01 from the model
    assert res.sm_reading == "scale 0.01 (percent to m3/m3)"
    assert 0.1 < res.mean < 0.6 and res.n_clipped == 0
    assert gdal.Open(out).GetMetadataItem("coarse_soil_moisture_reading") == "scale 0.01 (percent to m3/m3)"
    # the m3/m3 model with the percent SMAP: refused, naming the parameter
    with pytest.raises(InputError, match=r"smap_20230601\.tif is not in m3/m3: .* Give SM_SCALE=0\.01"):
        downscale(model, pct["stacks"][0], str(tmp_path / "sm2.tif"), pct["sm"][0])
    res = downscale(model, pct["stacks"][0], str(tmp_path / "sm3.tif"), pct["sm"][0], sm_scale=0.01)
    assert 0.1 < res.mean < 0.6
    # the percent-trained model with SMAP in m3/m3 and no scale given: scaled twice, refused
    with pytest.raises(InputError, match=r"too small for soil moisture in m3/m3, so the values were probably already "
                                         r"in m3/m3\. Set SM_SCALE to 1\."):
        downscale(pmodel, scene["stacks"][0], str(tmp_path / "sm4.tif"), scene["sm"][0])


def test_downscale_warns_on_many_clipped_pixels_and_refuses_most(kelvin, tmp_path):
    scene, model, _ = kelvin
    out = str(tmp_path / "sm.tif")
    pred = downscale(model, scene["stacks"][0], out, residual="none")
    values = read_all(out, dtype=np.float64)[0]
    v = values[np.isfinite(values)]
    hi = float(np.percentile(v, 90))  # about 10 % above: a warning
    res = downscale(model, scene["stacks"][0], str(tmp_path / "w.tif"), residual="none", clip=(0.0, hi))
    assert 0.05 < res.clipped_fraction < 0.5 and len(res.warnings) == 1
    assert re.match(r"\d+\.\d % of the 1 km values \(\d+ of \d+\) fall outside 0-\d\.\d+ m3/m3 \(before clipping: "
                    r".*\) and were clipped\. Check the units", res.warnings[0])
    ds = gdal.Open(str(tmp_path / "w.tif"))
    assert ds.GetMetadataItem("warning") == res.warnings[0]
    assert int(ds.GetMetadataItem("clipped_pixels")) == res.n_clipped
    lo = float(np.percentile(v, 70))  # 70 % below: refused, nothing written
    with pytest.raises(InputError, match=r"\d\d\.\d % of the 1 km values .* so the result would not be soil moisture "
                                         r"in m3/m3\. Check the units: .*SM_SCALE=0\.01 for percent"):
        downscale(model, scene["stacks"][0], str(tmp_path / "r.tif"), residual="none", clip=(lo, 1.0))
    assert not (tmp_path / "r.tif").exists()
    assert pred.warnings == [] and pred.clipped_fraction == 0.0


def test_downscale_refuses_a_model_trained_on_percent(kelvin, tmp_path):
    scene, model, _ = kelvin
    est, meta = model_io.load_model(model)
    old = str(tmp_path / "old.smdmodel")
    model_io.save_model(old, est, {**meta, "target_range": [8.2, 25.1]})
    with pytest.raises(InputError, match=r"The model old\.smdmodel was trained on soil moisture from 8\.2 to 25\.1, "
                                         r"which is not m3/m3, so its predictions would not be either\. Retrain it "
                                         r"with the SMAP values in m3/m3 \(SM_SCALE=0\.01"):
        downscale(old, scene["stacks"][0], str(tmp_path / "sm.tif"), scene["sm"][0])


def test_validate_reference_in_percent(kelvin, tmp_path):
    scene, _, _ = kelvin
    g = scene["coarse"]
    truth = scene["sm_values"][0]
    est = write_raster(str(tmp_path / "sm_1km_20230601.tif"), g, truth)
    ref = write_raster(str(tmp_path / "ref_20230601.tif"), g, truth * 100.0)
    with pytest.raises(InputError, match=r"The reference ref_20230601\.tif is not in m3/m3: .* Give REF_SCALE=0\.01"):
        validate(est, reference=ref)
    res = validate(est, reference=ref, ref_scale=0.01)
    assert res["reference"]["r"] > 0.999 and abs(res["reference"]["bias"]) < 1e-6
    fill = np.where(np.arange(truth.size).reshape(truth.shape) % 5 == 0, -9999.0, truth)
    ref2 = write_raster(str(tmp_path / "fill_20230601.tif"), g, fill, nodata=-1.0)
    with pytest.raises(InputError, match=r"equal to -9999, a fill value .* set REF_NODATA=-9999"):
        validate(est, reference=ref2)
    res = validate(est, reference=ref2, ref_nodata=-9999)
    assert res["reference"]["n"] < np.isfinite(truth).sum() and abs(res["reference"]["bias"]) < 1e-6


def test_validate_reads_the_baseline_as_downscale_read_it(tmp_path):
    # SMAP as exported from Earth Engine by a user: percent, -9999 fill not declared as nodata; trained and
    # downscaled with SM_SCALE=0.01 and SM_NODATA=-9999, then validated with that same SMAP as the baseline
    pct = _percent_scene(tmp_path / "pct")
    g = pct["coarse"]
    m3m3 = []
    for path in pct["sm"]:
        v = read_all(path, dtype=np.float64)[0]
        holes = np.arange(v.size).reshape(v.shape) % 7 == 0
        m3m3.append(write_raster(path.replace("smap_", "smap_m3m3_"), g, np.where(holes, np.nan, v / 100.0)))
        write_raster(path, g, np.where(holes, -9999.0, v), names=["sm_surface"], nodata=-1.0)
    model = str(tmp_path / "pct.smdmodel")
    train_model(TrainRequest(pct["sm"], pct["stacks"], model, "cart", cv_folds=0, sm_scale=0.01, sm_nodata=-9999))
    est = str(tmp_path / "sm_1km_20230601.tif")
    downscale(model, pct["stacks"][0], est, pct["sm"][0])
    ref = write_raster(str(tmp_path / "ref_20230601.tif"), g, 0.9 * read_all(m3m3[0], dtype=np.float64)[0] + 0.03)
    res = validate(est, reference=ref, baseline=pct["sm"][0])
    # the same comparison with the baseline converted to m3/m3 beforehand: identical metrics
    want = validate(est, reference=ref, baseline=m3m3[0])
    for key in ("n", "r", "rmse", "bias", "ubrmsd"):
        assert res["baseline"][key] == pytest.approx(want["baseline"][key], rel=1e-5, abs=1e-7), key  # float32 files
    assert 0 < res["baseline"]["n"] < np.isfinite(read_all(est)[0]).sum()  # the fill cells left out
    # another raster than the map's own SMAP is read as it is
    other = write_raster(str(tmp_path / "other_20230601.tif"), g, read_all(pct["sm"][0], dtype=np.float64)[0],
                         nodata=-1.0)
    with pytest.raises(InputError, match=r"The baseline other_20230601\.tif holds \d+ pixel\(s\) .* equal to -9999"):
        validate(est, reference=ref, baseline=other)


def test_station_fill_value_hint(tmp_path):
    p = tmp_path / "obs.csv"
    p.write_text("station,lon,lat,date,value\nS1,116,42,2023-06-01,0.2\nS1,116,42,2023-06-02,-9999\n")
    with pytest.raises(InputError, match=r"obs\.csv, row 3: soil moisture -9999 is outside 0-1 m3/m3\. It is a fill "
                                         r"value for missing data: leave the value empty \(or NA\)"):
        read_csv(str(p))


def test_one_wet_cell_in_a_small_window_is_no_unit_error():
    """20 SMAP cells with one at 1.02 (5 % of the cells, a single pixel) are m3/m3; three such cells are not."""

    values = np.linspace(0.05, 0.35, 20)
    values[7] = 1.02
    check_soil_moisture(values, "smap_small.tif")
    values[[3, 11]] = 1.02
    with pytest.raises(InputError, match=r"The soil moisture raster smap_small\.tif is not in m3/m3"):
        check_soil_moisture(values, "smap_small.tif")


# -- a factor stack where soil moisture belongs ------------------------------------------------------

@pytest.mark.bad_input("train: factor stacks given as the SMAP rasters (engine)")
def test_train_refuses_factor_stacks_as_soil_moisture(tmp_path):
    # NDVI (0.1-0.8) passes every units check: without the band names the model would learn ndvi from ndvi
    scene = make_scene(str(tmp_path / "s"), dates=DATES2)
    with pytest.raises(InputError, match=r"^The soil moisture raster factors_20230601\.tif is a factor stack \(bands: "
                                         r"ndvi, lst_day, landcover\), not soil moisture; its band 1 would be read as "
                                         r"m3/m3\. Give the soil moisture raster here"):
        train_model(TrainRequest(scene["stacks"], scene["stacks"], str(tmp_path / "m.smdmodel"), "cart", cv_folds=0))
    assert not (tmp_path / "m.smdmodel").exists()


@pytest.mark.bad_input("validate: a factor stack as the estimate (engine)")
def test_validate_refuses_a_factor_stack_as_estimate_reference_or_baseline(tmp_path):
    scene = make_scene(str(tmp_path / "s"), dates=DATES2[:1])
    stack, smap = scene["stacks"][0], scene["sm"][0]
    single = write_raster(str(tmp_path / "lst_day_20230601.tif"), scene["fine"], read_all(stack)[1], names=["lst_day"])
    copy = write_raster(str(tmp_path / "copy" / "smap_20230601.tif"), scene["coarse"], read_all(smap)[0],
                        names=["sm_surface"])
    for kwargs, role in (({"estimate": stack, "reference": smap}, "estimate"),
                         ({"estimate": smap, "reference": stack}, "reference"),
                         ({"estimate": smap, "reference": copy, "baseline": stack}, "baseline"),
                         ({"estimate": single, "reference": smap}, "estimate")):
        with pytest.raises(InputError, match=rf"^The {role} \w+_20230601\.tif is a factor stack \(bands: "):
            validate(**kwargs, output_csv=str(tmp_path / "v.csv"))
    assert not (tmp_path / "v.csv").exists()
    # the SMAP raster (band 'sm_surface') is soil moisture
    assert validate(smap, copy, output_csv=str(tmp_path / "v.csv"))["reference"]["r"] == pytest.approx(1.0)


@pytest.mark.bad_input("validate: the estimate given as its own reference")
def test_validate_refuses_the_estimate_as_its_own_reference(tmp_path, monkeypatch):
    # the same layer picked twice reported R 1, RMSE 0 as a result
    scene = make_scene(str(tmp_path / "s"), dates=DATES2[:1])
    smap = scene["sm"][0]
    monkeypatch.chdir(tmp_path / "s")
    for reference in (smap, "./smap_20230601.tif", os.path.join("..", "s", "smap_20230601.tif")):
        with pytest.raises(InputError, match=r"^The reference .*smap_20230601\.tif is the estimate itself \(.*"
                                             r"smap_20230601\.tif\): the comparison would be perfect"):
            validate(smap, reference, output_csv=str(tmp_path / "v.csv"))
        with pytest.raises(InputError, match=r"is the estimate itself"):
            validate_series([smap], [reference], output_csv=str(tmp_path / "v.csv"))
    assert not (tmp_path / "v.csv").exists()


@pytest.mark.bad_input("downscale: output path naming an existing folder (engine)")
def test_downscale_refuses_a_folder_or_another_type_as_output_before_predicting(tmp_path):
    # a folder used to be found out only when the finished file was moved into place (IsADirectoryError)
    scene = make_scene(str(tmp_path / "s"), dates=DATES2[:1])
    model = str(tmp_path / "m.smdmodel")
    train_model(TrainRequest(scene["sm"], scene["stacks"], model, "cart", cv_folds=0))
    (tmp_path / "out").mkdir()
    cases = ((str(tmp_path / "out"), r"The output .*/out is a folder, not a file name"),
             (str(tmp_path / "out" / "sm.tif") + "/", r"The output .*/out/sm\.tif/ is a folder, not a file name"),
             (str(tmp_path / "out" / "sm.nc"), r"The output raster \(.*sm\.nc\) is written as a GeoTIFF file, but its "
                                               r"name ends in \.nc"))
    for output, fragment in cases:
        with pytest.raises(InputError, match=fragment):
            downscale(model, scene["stacks"][0], output, scene["sm"][0])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []
    quality = str(tmp_path / "out" / "quality.jpg")
    with pytest.raises(InputError, match=r"The output quality raster \(.*quality\.jpg\) is written as a GeoTIFF"):
        downscale(model, scene["stacks"][0], str(tmp_path / "out" / "sm.tif"), scene["sm"][0], quality=quality)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []
