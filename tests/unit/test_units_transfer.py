"""A model applied to stacks unlike its training stacks: another resolution, unseen land cover classes, factors in
other units or scaled otherwise. Refused or warned, by message; normal other dates pass."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from osgeo import gdal, osr

from smdownscale.algorithms import align, model_io, units
from smdownscale.algorithms.downscale import check_factor_units, check_resolution, downscale
from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.gapfill import FILLED
from smdownscale.algorithms.raster import (
    Grid,
    describe_resolution,
    read_all,
    resolution_record,
    srs_from_user,
    write_raster,
)
from smdownscale.algorithms.train import TrainRequest, train_model
from smdownscale.tests.scenes import build_scene, make_scene

NAMES = ["ndvi", "lst_day", "landcover"]
KINDS = ["continuous", "continuous", "categorical"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The small scene (1 km UTM stacks, 3 dates) and a model trained on its first two dates."""
    base = tmp_path_factory.mktemp("transfer")
    scene = make_scene(str(base / "scene"))
    model = str(base / "cart.smdmodel")
    train_model(TrainRequest(scene["sm"][:2], scene["stacks"][:2], model, "cart", cv_folds=0))
    return scene, model, base


def _regrid(scene: dict, path: str, res: float) -> str:
    """The first date's stack on a grid of ``res`` metres over the same area (pixels repeated or picked)."""
    fine = scene["fine"]
    data = read_all(scene["stacks"][0], dtype=np.float64)
    k = fine.res[0] / res
    if k >= 1:
        data = np.repeat(np.repeat(data, int(k), axis=1), int(k), axis=2)
    else:
        step = int(round(1 / k))
        data = data[:, ::step, ::step]
    x0, _, _, y0, _, _ = fine.transform
    grid = Grid(fine.crs_wkt, (x0, res, 0.0, y0, 0.0, -res), data.shape[2], data.shape[1])
    return write_raster(path, grid, data, names=NAMES, kinds=KINDS)


# -- 1. resolution ------------------------------------------------------------------------------------

def test_the_model_records_the_resolution_of_its_training_stacks(trained):
    _, model, _ = trained
    _, meta = model_io.load_model(model)
    rec = meta["fine_resolution"]
    assert (rec["x"], rec["y"], rec["units"]) == (1000.0, 1000.0, "metre")
    assert rec["metres"] == pytest.approx([1000.0, 1000.0], rel=0.01)  # UTM at the scene: ground size ~ pixel size


@pytest.mark.bad_input("downscale: factor stack at another resolution than the model's training stacks")
@pytest.mark.parametrize("res, how", [(250.0, "4 times finer"), (5000.0, "5 times coarser")])
def test_downscale_refuses_a_stack_at_another_resolution(trained, tmp_path, res, how):
    scene, model, _ = trained
    stack = _regrid(scene, str(tmp_path / "factors_20230601.tif"), res)
    with pytest.raises(InputError) as err:
        downscale(model, stack, str(tmp_path / "sm.tif"), scene["sm"][0])
    msg = str(err.value)
    assert re.match(rf"The factor stack factors_20230601\.tif has pixels of {res:g} m, but the model cart\.smdmodel "
                    rf"was trained on factor stacks of 1000 m \({re.escape(how)}\)\. A model learns the factors at the "
                    r"resolution it was trained at", msg), msg
    assert msg.endswith("Align the factors at the model's resolution (smdownscale:align with a resolution of 1000 m in "
                        "the model's CRS, or a reference raster at that resolution), or retrain the model on factor "
                        "stacks at this resolution.")
    assert not (tmp_path / "sm.tif").exists()


def test_resolution_is_compared_in_metres_at_the_stacks_latitude(trained):
    _, model, _ = trained
    _, meta = model_io.load_model(model)
    wkt = srs_from_user("EPSG:4326").ExportToWkt()
    # 0.01 degree at 42 N: 826 x 1112 m, about 960 m: the same resolution as 1 km
    check_resolution(meta, Grid(wkt, (115.5, 0.01, 0.0, 42.5, 0.0, -0.01), 80, 60), "factors_20230601.tif",
                     "m.smdmodel")
    # 0.05 degree: about 4.8 km
    with pytest.raises(InputError, match=r"has pixels of 0\.05 degrees \(about 4\d\d\d m\), but the model m\.smdmodel "
                                         r"was trained on factor stacks of 1000 m \(4\.\d+ times coarser\)"):
        check_resolution(meta, Grid(wkt, (115.5, 0.05, 0.0, 42.5, 0.0, -0.05), 16, 12), "factors_20230601.tif",
                         "m.smdmodel")
    # within a factor 1.5 either way: accepted (a 1.4 km stack)
    utm = srs_from_user("EPSG:32650").ExportToWkt()
    check_resolution(meta, Grid(utm, (400000.0, 1400.0, 0.0, 4700000.0, 0.0, -1400.0), 10, 10), "f.tif", "m.smdmodel")


#: MODIS's sinusoidal grid (SR-ORG:6974), whose "1 km" pixels are 926.6 m on a side and equal in area everywhere.
SINUSOIDAL = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"


def test_a_sheared_grid_is_measured_by_the_area_of_its_pixels():
    """Far from its central meridian a sinusoidal grid's pixels are parallelograms: the neighbour above the centre
    pixel lies 1550-1800 m away at 45-50 N, but the pixel still covers 926.6 x 926.6 m. A model trained on 30 arc
    second stacks (0.0083333 degrees, 594 x 927 m at 50 N) applied to MODIS 1 km stacks is at the same resolution
    (1.25 times coarser): it ran into a refusal at 1.62-1.74 times."""
    sinu = srs_from_user(SINUSOIDAL)
    to_sinu = osr.CoordinateTransformation(srs_from_user("EPSG:4326"), sinu)
    arc = Grid(srs_from_user("EPSG:4326").ExportToWkt(), (120.0, 0.0083333, 0.0, 50.4, 0.0, -0.0083333), 100, 100)
    arc_meta = {"fine_resolution": resolution_record(arc)}
    for lon, lat in ((110.0, 45.0), (125.0, 50.0)):
        x, y, _ = to_sinu.TransformPoint(lon, lat)
        modis = Grid(sinu.ExportToWkt(), (x, 926.625433, 0.0, y, 0.0, -926.625433), 100, 100)
        record = resolution_record(modis)
        assert record["side"] == pytest.approx(926.6, rel=0.002)
        assert describe_resolution(record) == "926.625 m"
        check_resolution(arc_meta, modis, "factors_20240601.tif", "m.smdmodel")  # no error
        check_resolution({"fine_resolution": record}, arc, "factors_20240601.tif", "m.smdmodel")
    assert resolution_record(arc)["side"] == pytest.approx(742.0, rel=0.002)
    # a stack at 500 m in the sinusoidal grid is still refused for a 1 km model: 1.85 times finer
    x, y, _ = to_sinu.TransformPoint(125.0, 50.0)
    half = Grid(sinu.ExportToWkt(), (x, 463.3127, 0.0, y, 0.0, -463.3127), 200, 200)
    with pytest.raises(InputError, match=r"has pixels of 463\.313 m, but the model m\.smdmodel was trained on factor "
                                         r"stacks of 0\.0083333 degrees \(about 74\d m\) \(1\.6 times finer\)"):
        check_resolution(arc_meta, half, "factors_20240601.tif", "m.smdmodel")


def test_a_model_without_a_recorded_resolution_is_not_checked(trained, tmp_path):
    scene, model, _ = trained
    est, meta = model_io.load_model(model)
    old = str(tmp_path / "old.smdmodel")
    model_io.save_model(old, est, {k: v for k, v in meta.items()
                                   if k not in (model_io.FINE_RESOLUTION_META, model_io.FACTOR_SUMMARY_META)})
    stack = _regrid(scene, str(tmp_path / "factors_20230601.tif"), 250.0)
    res = downscale(old, stack, str(tmp_path / "sm.tif"), scene["sm"][0])
    assert res.n_valid > 16 * 0.9 * scene["fine"].size  # 250 m pixels: 16 per 1 km pixel


def test_a_model_trained_on_coarse_stacks_knows_the_fine_resolution(trained, tmp_path):
    # align's coarse stacks (on the SMAP grid) carry the resolution of the fine stack they average
    scene, _, _ = trained
    coarse_stacks = []
    for path in scene["stacks"][:2]:
        out = str(tmp_path / "coarse" / os.path.basename(path))
        os.makedirs(os.path.dirname(out), exist_ok=True)
        coarse_stacks.append(align.aggregate_stack(path, scene["coarse"], out, min_valid_fraction=0.0))
    model = str(tmp_path / "coarse.smdmodel")
    train_model(TrainRequest(scene["sm"][:2], coarse_stacks, model, "cart", cv_folds=0))
    _, meta = model_io.load_model(model)
    assert (meta["fine_resolution"]["x"], meta["fine_resolution"]["units"]) == (1000.0, "metre")
    assert downscale(model, scene["stacks"][2], str(tmp_path / "sm.tif"), scene["sm"][2]).n_valid > 0
    with pytest.raises(InputError, match=r"has pixels of 5000 m, but the model coarse\.smdmodel was trained on factor "
                                         r"stacks of 1000 m"):
        downscale(model, _regrid(scene, str(tmp_path / "factors_20230601.tif"), 5000.0), str(tmp_path / "sm5.tif"),
                  scene["sm"][0])


def test_a_model_trained_on_stacks_as_coarse_as_the_smap_cells_is_not_checked(trained, tmp_path):
    """Factor stacks already at about the SMAP cells' size (9 km here; 0.1 degree archives) train the same cell means
    as 1 km stacks would: such a model says nothing of the resolution it is to be applied at, and runs at 1 km (it was
    refused as trained on 9000 m stacks, with the advice to align the factors at 9 km)."""
    scene, _, _ = trained
    stacks = []
    for k in range(2):
        fine = scene["fine"]
        data = read_all(scene["stacks"][k], dtype=np.float64)[:, ::9, ::9]
        x0, _, _, y0, _, _ = fine.transform
        grid = Grid(fine.crs_wkt, (x0, 9000.0, 0.0, y0, 0.0, -9000.0), data.shape[2], data.shape[1])
        stacks.append(write_raster(str(tmp_path / "9km" / os.path.basename(scene["stacks"][k])), grid, data,
                                   names=NAMES, kinds=KINDS))
    model = str(tmp_path / "coarse9.smdmodel")
    train_model(TrainRequest(scene["sm"][:2], stacks, model, "cart", cv_folds=0, min_valid_fraction=0.0))
    _, meta = model_io.load_model(model)
    assert model_io.FINE_RESOLUTION_META not in meta
    assert downscale(model, scene["stacks"][2], str(tmp_path / "sm.tif"), scene["sm"][2]).n_valid > 0


# -- 2. a minority of land cover pixels in classes the model never saw ---------------------------------

def test_downscale_warns_of_a_minority_of_unseen_land_cover_classes(trained, tmp_path):
    scene, model, _ = trained
    stack = read_all(scene["stacks"][0], dtype=np.float64)
    lc = stack[2]
    lc[:20] = np.where(np.isfinite(lc[:20]), 40.0, np.nan)  # 20 rows of a class of its own
    lc[20:25] = np.where(np.isfinite(lc[20:25]), 50.0, np.nan)  # 5 rows of another
    path = write_raster(str(tmp_path / "factors_20230601.tif"), scene["fine"], stack, names=NAMES, kinds=KINDS)
    res = downscale(model, path, str(tmp_path / "sm.tif"), scene["sm"][0])
    valid = lc[np.all(np.isfinite(stack), axis=0)]  # shares of the pixels with every factor, as training counts
    share = {c: 100.0 * float((valid == c).mean()) for c in (40.0, 50.0)}
    total = share[40.0] + share[50.0]
    assert 10 < total < 50
    expected = (f"The land cover factor landcover in factors_20230601.tif has {total:.0f} % of its pixels in classes "
                f"the model was not trained on: 40 ({share[40.0]:.1f} %), 50 ({share[50.0]:.1f} %); the model knows "
                "the classes 10, 20, 30. Those pixels are read as missing land cover (a nodata code such as ESA "
                "WorldCover's 0 is one): with gap filling they take the class fractions of their coarse cell and are "
                "coded 'missing factors filled', without it they stay empty. If these are real classes, align the "
                "land cover the model was trained with into the stack, or retrain the model on data holding them.")
    assert res.warnings == [expected]
    # the stack as trained: no warning
    assert downscale(model, scene["stacks"][2], str(tmp_path / "sm2.tif"), scene["sm"][2]).warnings == []


def test_unseen_land_cover_classes_are_checked_on_a_date_missing_a_factor_everywhere(trained, tmp_path):
    """A date without LST at all (taken from the neighbouring dates) has no pixel with every factor: the land cover
    classes are counted where every factor the date has is observed, so another legend is still refused and a
    minority of unseen classes still named."""
    scene, model, _ = trained
    stack = read_all(scene["stacks"][0], dtype=np.float64)
    stack[1] = np.nan
    lc = stack[2]
    lc[:20] = np.where(np.isfinite(lc[:20]), 40.0, np.nan)
    path = write_raster(str(tmp_path / "factors_20230601.tif"), scene["fine"], stack, names=NAMES, kinds=KINDS)
    notes = check_factor_units(gdal.Open(path), path, *_specs_meta(model), {})
    assert len(notes) == 1 and notes[0].startswith("The land cover factor landcover in factors_20230601.tif has ")
    assert "classes the model was not trained on: 40 (" in notes[0]
    lc[np.isfinite(lc)] = lc[np.isfinite(lc)] * 10.0 + 1.0  # another legend everywhere
    other = write_raster(str(tmp_path / "legend" / "factors_20230601.tif"), scene["fine"], stack, names=NAMES,
                         kinds=KINDS)
    with pytest.raises(InputError, match=r"has 100 % of its pixels in classes the model was not trained on"):
        check_factor_units(gdal.Open(other), other, *_specs_meta(model), {})


def test_unseen_land_cover_codes_are_filled_as_missing_land_cover(trained, tmp_path):
    """Code 0, the nodata of ESA WorldCover and CCI (e.g. masked pixels exported without a nodata value), in a model
    trained on classes 10-30: those pixels are mapped exactly as if their land cover were nodata, the class fractions
    of their cell standing in (coded 'missing factors filled'), not as a pixel of none of the classes; without gap
    filling they stay empty, as any pixel missing a factor."""
    scene, model, _ = trained
    stack = read_all(scene["stacks"][0], dtype=np.float64)
    lc = stack[2]
    zero = np.zeros(lc.shape, bool)
    zero[5:9, 3:30] = True
    zero &= np.isfinite(lc)
    lc[zero] = 0.0
    coded = write_raster(str(tmp_path / "zero" / "factors_20230601.tif"), scene["fine"], stack, names=NAMES,
                         kinds=KINDS)
    lc[zero] = np.nan
    nodata = write_raster(str(tmp_path / "nan" / "factors_20230601.tif"), scene["fine"], stack, names=NAMES,
                          kinds=KINDS)
    runs = {}
    for label, path in (("zero", coded), ("nan", nodata)):
        out, q = str(tmp_path / f"sm_{label}.tif"), str(tmp_path / f"q_{label}.tif")
        res = downscale(model, path, out, scene["sm"][0], quality=q)
        runs[label] = (read_all(out, dtype=np.float64)[0], read_all(q)[0], res)
    (got, quality, res), (want, want_q, _) = runs["zero"], runs["nan"]
    assert zero.sum() > 50 and np.isfinite(got[zero]).all()
    np.testing.assert_array_equal(quality, want_q)
    assert (quality[zero] == FILLED).all()
    np.testing.assert_allclose(got, want, atol=1e-7, equal_nan=True)
    assert len(res.warnings) == 1 and "0 (" in res.warnings[0]
    # a neighbouring date with the same code there gives no class either (its code is no class of the model)
    other = read_all(scene["stacks"][1], dtype=np.float64)
    other[2][zero] = 0.0
    near = write_raster(str(tmp_path / "near" / os.path.basename(scene["stacks"][1])), scene["fine"], other,
                        names=NAMES, kinds=KINDS)
    out, q = str(tmp_path / "sm_near.tif"), str(tmp_path / "q_near.tif")
    downscale(model, coded, out, scene["sm"][0], quality=q, neighbours=[near], fill_window_days=366)
    assert (read_all(q)[0][zero] == FILLED).all() and np.isfinite(read_all(out)[0][zero]).all()
    # without gap filling: empty, as a pixel whose land cover is nodata
    before = downscale(model, coded, str(tmp_path / "sm_off.tif"), scene["sm"][0], fill_gaps=False)
    off = read_all(str(tmp_path / "sm_off.tif"), dtype=np.float64)[0]
    assert np.isnan(off[zero]).all() and before.n_valid == int(np.isfinite(off).sum())


def test_a_class_only_where_the_other_factors_are_masked_is_no_unseen_class(trained, tmp_path):
    """Water or sea: a land cover class whose pixels never have the other factors (NDVI, LST masked there) is never
    in training, which counts only fully observed pixels. On the training dates themselves it is no sign of another
    legend: neither a warning on every run nor, where it covers most of the stack (a coastal tile), a refusal."""
    scene, model, _ = trained
    stack = read_all(scene["stacks"][0], dtype=np.float64)
    sea = np.zeros(stack.shape[1:], bool)
    sea[:int(0.6 * sea.shape[0])] = True  # 60 % of the stack
    stack[2][sea] = 80.0
    stack[0][sea] = stack[1][sea] = np.nan
    path = write_raster(str(tmp_path / "factors_20230601.tif"), scene["fine"], stack, names=NAMES, kinds=KINDS)
    assert check_factor_units(gdal.Open(path), path, *_specs_meta(model), {}) == []
    # the same class on observed pixels is unseen: refused when most pixels hold it
    stack[0][sea], stack[1][sea] = 0.5, 300.0
    seen = write_raster(str(tmp_path / "observed" / "factors_20230601.tif"), scene["fine"], stack, names=NAMES,
                        kinds=KINDS)
    with pytest.raises(InputError, match=r"The land cover factor landcover in factors_20230601\.tif has 6\d % of its "
                                         r"pixels in classes the model was not trained on \(80\)"):
        check_factor_units(gdal.Open(seen), seen, *_specs_meta(model), {})


# -- 3. factors in other units or scaled otherwise -------------------------------------------------------

@pytest.fixture(scope="module")
def sample_model(tmp_path_factory):
    """The bundled sample scene (3 dates: elevation, slope, land cover, NDVI, LST day/night, VV/VH in dB,
    precipitation in mm), a forest trained on the first two dates, and the third date's stack."""
    built = build_scene(str(tmp_path_factory.mktemp("sample")), size_km=60, n_dates=3)
    model = os.path.join(os.path.dirname(built["model"]), "two_dates.smdmodel")
    train_model(TrainRequest(built["smap"][:2], built["stacks"][:2], model, "rf", params={"n_estimators": 10},
                             cv_folds=0, n_jobs=1))
    _, meta = model_io.load_model(model)
    return built, model, meta


def _samples(stack: str) -> dict[str, np.ndarray]:
    ds = gdal.Open(stack)
    names = [ds.GetRasterBand(k + 1).GetDescription() for k in range(ds.RasterCount)]
    return dict(zip(names, units.sample_bands(ds, list(range(1, ds.RasterCount + 1)))))


def test_the_model_records_its_factors_percentiles(sample_model):
    _, _, meta = sample_model
    pct = meta["factor_percentiles"]
    assert set(pct) == {"elevation", "slope", "ndvi", "lst_day", "lst_night", "vv", "vh", "precipitation"}
    for p1, p50, p99 in pct.values():
        assert p1 <= p50 <= p99
    assert pct["vv"][2] < 0 and 250 < pct["lst_day"][1] < 330 and pct["precipitation"][0] >= 0


#: Other dates and seasons in the same units: drier, wetter, greener, hotter, colder, another backscatter level.
NORMAL = {
    "third date": {},
    "drier (precipitation x 0.1)": {"precipitation": lambda v: v * 0.1},
    "much wetter (precipitation x 8)": {"precipitation": lambda v: v * 8.0},
    "no rain in most of the area": {"precipitation": lambda v: np.where(v < np.nanpercentile(v, 80), 0.0, v)},
    "dry season (NDVI - 0.2, LST + 12 K)": {"ndvi": lambda v: v - 0.2, "lst_day": lambda v: v + 12.0,
                                            "lst_night": lambda v: v + 8.0},
    "cold season (LST - 25 K)": {"lst_day": lambda v: v - 25.0, "lst_night": lambda v: v - 25.0},
    "wet soil (VV, VH + 4 dB)": {"vv": lambda v: v + 4.0, "vh": lambda v: v + 4.0},
    "dry soil (VV, VH - 5 dB)": {"vv": lambda v: v - 5.0, "vh": lambda v: v - 5.0},
}


@pytest.mark.parametrize("case", list(NORMAL), ids=list(NORMAL))
def test_other_dates_and_seasons_in_the_same_units_pass(sample_model, case):
    built, _, meta = sample_model
    values = _samples(built["stacks"][2])
    for name, change in NORMAL[case].items():
        values[name] = change(values[name])
    for name, trained in meta["factor_percentiles"].items():
        units.check_factor_scale(name, values[name], built["stacks"][2], trained)  # no error


SCALED = r"\(e\.g\. mm against m or m against km \(x 1000\), percent against fractions \(x 100\), integers x 10000\)"
#: The end of every warning of a factor far from its training values.
FAR_OFF = ("The factor may be in other units or scaled otherwise than in training ({hint}), or the date or area lie "
           "far from those the model was trained on (a far drier or wetter, colder or warmer date, a lower or flatter "
           "area); it is used as it is. If its units differ, convert the band (Raster calculator) and rebuild the "
           "factor stack with smdownscale:align; if not, the estimates rest on values the model never saw: retrain it "
           "on data covering them.")
#: Far off, in other units or in the same: the factor, how the values were changed, and what the warning says.
FAR = {
    "precipitation in m": ("precipitation", lambda v: v / 1000.0, r"its 99th percentile is \d+ times smaller"),
    "elevation in km": ("elevation", lambda v: v / 1000.0, r"its 99th percentile is \d+ times smaller"),
    "NDVI as integers x 10000": ("ndvi", lambda v: np.round(v * 10000.0), r"its 99th percentile is \d+ times larger"),
    "VV as integers x 100": ("vv", lambda v: np.round(v * 100.0), r"the median lies outside -\d+\.\d to -?\d+\.\d+, "
                                                                   r"the training range widened on each side"),
}


@pytest.mark.parametrize("case", list(FAR), ids=list(FAR))
def test_a_factor_far_from_its_training_values_is_warned_of(sample_model, case):
    built, _, meta = sample_model
    name, change, says = FAR[case]
    values = _samples(built["stacks"][2])
    msg = units.check_factor_scale(name, change(values[name]), built["stacks"][2], meta["factor_percentiles"][name])
    p1, p50, p99 = meta["factor_percentiles"][name]
    assert msg.startswith(f"The factor {name} in {os.path.basename(built['stacks'][2])} holds values of about "), msg
    assert f"but the model was trained on {name} from {units._num(p1)} to {units._num(p99)} (1st to 99th " \
           f"percentile, median {units._num(p50)}): " in msg, msg
    assert re.search(says, msg), msg
    hint = ("e.g. mm against m or m against km (x 1000), percent against fractions (x 100), integers x 10000"
            if "percentile is" in msg else "e.g. another unit, an offset or scaled integers")
    assert msg.endswith(". " + FAR_OFF.format(hint=hint)), msg


#: Real differences in the same units that come as far off as a unit error (the values cannot tell them apart): a
#: warning, never a refusal. The factor, its training values, the stack's.
SAME_UNITS = {
    "air temperature (degrees C), winter after a summer training": ("t2m", (15.0, 30.0), (-35.0, -15.0)),
    "VV (dB) on frozen soil, training on a narrow summer range": ("vv", (-12.0, -9.0), (-26.0, -20.0)),
    "elevation (m) of a coast below sea level, training on a plateau": ("elevation", (1000.0, 1500.0), (-3.0, 20.0)),
    "elevation (m) of a plateau, training on a coast": ("elevation", (-2.0, 30.0), (1000.0, 1500.0)),
    "elevation (m) of a coastal plain, training on a plateau": ("elevation", (1000.0, 1500.0), (0.5, 4.0)),
    "slope (degrees) of a flat plain, training on hills": ("slope", (0.5, 20.0), (0.01, 0.05)),
    "light drizzle everywhere (mm), training on monthly sums": ("precipitation", (9.0, 100.0), (0.01, 0.1)),
}


@pytest.mark.parametrize("case", list(SAME_UNITS), ids=list(SAME_UNITS))
def test_another_area_or_season_in_the_same_units_is_warned_of_not_refused(case):
    name, train, given = SAME_UNITS[case]
    trained = np.percentile(np.linspace(*train, 1001), [1, 50, 99]).tolist()
    msg = units.check_factor_scale(name, np.linspace(*given, 1001), "factors_20240115.tif", trained)
    assert msg.startswith(f"The factor {name} in factors_20240115.tif holds values of about ") and \
        msg.endswith("it is used as it is. If its units differ, convert the band (Raster calculator) and rebuild the "
                     "factor stack with smdownscale:align; if not, the estimates rest on values the model never saw: "
                     "retrain it on data covering them."), msg


def test_lst_and_ndvi_of_a_winter_date_give_no_warning(tmp_path):
    """LST and NDVI-like indices have their own unit checks (Kelvin or Celsius, -1 to 1); a winter date's values far
    from a summer training's (LST -30 to -12 C against 18 to 48 C, NDVI of snow -0.1 to 0.35 against a forest's 0.7 to
    0.9) are no sign of other units: downscale neither refuses nor warns of them."""
    from smdownscale.algorithms.features import FactorSpec

    grid = Grid(srs_from_user("EPSG:32650").ExportToWkt(), (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), 40, 25)
    rng = np.random.default_rng(2)
    winter = np.stack([rng.uniform(-0.1, 0.35, (25, 40)), rng.uniform(-30.0, -12.0, (25, 40))])
    stack = write_raster(str(tmp_path / "factors_20240115.tif"), grid, winter, names=["ndvi", "lst_day"])
    meta = {"feature_ranges": {"ndvi": [0.68, 0.92], "lst_day": [15.0, 50.0]},
            "factor_percentiles": {"ndvi": [0.7, 0.8, 0.9], "lst_day": [18.0, 33.0, 48.0]}}
    specs = [FactorSpec("ndvi"), FactorSpec("lst_day")]
    assert check_factor_units(gdal.Open(stack), stack, specs, meta, {}) == []
    # the same values under other names: warned of
    other = write_raster(str(tmp_path / "other_20240115.tif"), grid, winter, names=["greenness", "t_surface"])
    notes = check_factor_units(gdal.Open(other), other, [FactorSpec("greenness"), FactorSpec("t_surface")],
                               {"factor_percentiles": {"greenness": [0.7, 0.8, 0.9], "t_surface": [18.0, 33.0, 48.0]}},
                               {})
    assert [n.split(" in other_20240115.tif")[0] for n in notes] == ["The factor greenness", "The factor t_surface"]


DB_FIX = ("Convert the band to decibels, dB = 10 x log10(linear) (Raster calculator 10 * log10(band)), then rebuild "
          "the factor stack with smdownscale:align, or retrain the model on factors in linear power.")


def test_linear_power_for_a_model_trained_on_decibels_is_refused(sample_model):
    built, _, meta = sample_model
    values = _samples(built["stacks"][2])
    with pytest.raises(InputError) as err:
        units.check_factor_scale("vv", 10.0 ** (values["vv"] / 10.0), built["stacks"][2],
                                 meta["factor_percentiles"]["vv"])
    msg = str(err.value)
    assert re.match(r"The factor vv in factors_\d{8}\.tif holds values of about 0\.\d+ \(median; 1st to 99th "
                    r"percentile 0\.\d+ to 0\.\d+\), but the model was trained on vv from -\d+\.\d to -\d+\.\d+ "
                    r"\(1st to 99th percentile, median -\d+\.\d\): the training values are all negative \(as in "
                    r"decibels\) and these are small non-negative values \(as in linear power\)\. ", msg), msg
    assert msg.endswith(DB_FIX), msg


def test_millimetres_for_a_model_trained_on_metres_are_warned_of(sample_model):
    built, _, _ = sample_model
    mm = _samples(built["stacks"][2])["precipitation"]
    in_metres = (np.nanpercentile(mm, [1, 50, 99]) / 1000.0).tolist()  # the same values, in m
    assert re.search(r"its 99th percentile is \d+ times larger than in training\. .*" + SCALED,
                     units.check_factor_scale("precipitation", mm, built["stacks"][2], in_metres))
    assert units.check_factor_scale("precipitation", mm / 1000.0, built["stacks"][2], in_metres) == ""  # in metres


def test_decibels_for_a_model_trained_on_linear_power_are_refused(sample_model):
    built, _, _ = sample_model
    trained = np.nanpercentile(10.0 ** (_samples(built["stacks"][0])["vv"] / 10.0), [1, 50, 99]).tolist()
    db = _samples(built["stacks"][2])["vv"]
    with pytest.raises(InputError, match=r"holds values of about -1\d\.\d .*: the training values are small "
                                         r"non-negative values \(as in linear power\) and these are all negative \(as "
                                         r"in decibels\)\. Convert the band to linear power, linear = 10 \^ \(dB / "
                                         r"10\) \(Raster calculator 10 \^ \(band / 10\)\), then rebuild the factor "
                                         r"stack with smdownscale:align, or retrain the model on factors in "
                                         r"decibels\.$"):
        units.check_factor_scale("vv", db, built["stacks"][2], trained)
    assert units.check_factor_scale("vv", 10.0 ** (db / 10.0), built["stacks"][2], trained) == ""  # linear: passes
    # NDVI, albedo, fractions (0 to 1 in training) never that negative: no refusal of a snowy winter's NDVI
    assert units.check_factor_scale("albedo", np.linspace(-0.2, 0.3, 101), "f.tif", [0.05, 0.2, 0.4]) == ""


@pytest.mark.bad_input("downscale: precipitation in m for a model trained on mm runs with a warning")
def test_downscale_warns_of_precipitation_in_metres(sample_model, tmp_path):
    built, model, _ = sample_model
    ds = gdal.Open(built["stacks"][2])
    names = [ds.GetRasterBand(k + 1).GetDescription() for k in range(ds.RasterCount)]
    kinds = [ds.GetRasterBand(k + 1).GetMetadataItem("SMD_KIND") or "continuous" for k in range(ds.RasterCount)]
    data = read_all(built["stacks"][2], dtype=np.float64)
    data[names.index("precipitation")] /= 1000.0
    grid = Grid.from_dataset(ds)
    stack = write_raster(str(tmp_path / os.path.basename(built["stacks"][2])), grid, data, names=names, kinds=kinds)
    res = downscale(model, stack, str(tmp_path / "sm.tif"), built["smap"][2])
    far = [w for w in res.warnings if w.startswith("The factor precipitation")]
    assert len(far) == 1 and re.match(r"The factor precipitation in factors_\d{8}\.tif holds values of about 0\.\d+ "
                                      r"\(median; .*its 99th percentile is \d+ times smaller than in training",
                                      far[0]), res.warnings
    assert res.n_valid > 0
    # the third date as it is: accepted without a warning (its land cover holds water, class 80, on 1.7 % of the
    # pixels, where no other factor is observed: never in training, and no sign of another legend)
    assert check_factor_units(ds, built["stacks"][2], *_specs_meta(model), {}) == []
    ok = downscale(model, built["stacks"][2], str(tmp_path / "ok.tif"), built["smap"][2])
    assert ok.n_valid > 0 and ok.warnings == []


def _specs_meta(model: str):
    from smdownscale.algorithms.features import FactorSpec

    _, meta = model_io.load_model(model)
    return [FactorSpec.from_dict(d) for d in meta["factors"]], meta


def test_a_scale_100_times_off_or_more_is_a_warning():
    # percent against fractions, or a date far drier than the training dates: the values cannot tell them apart
    trained = [0.0, 1.0, 3.0]
    assert units.check_factor_scale("precipitation", np.linspace(0.0, 0.02, 101), "factors_20230601.tif",
                                    trained) == (
        "The factor precipitation in factors_20230601.tif holds values of about 0.01 (median; 1st to 99th percentile "
        "0.0002 to 0.0198), but the model was trained on precipitation from 0 to 3 (1st to 99th percentile, median "
        "1): its 99th percentile is 152 times smaller than in training. " + FAR_OFF.format(hint=(
            "e.g. mm against m or m against km (x 1000), percent against fractions (x 100), integers x 10000")))
    assert "times larger than in training" in units.check_factor_scale("p", np.linspace(0.0, 600.0, 101), "f.tif",
                                                                       trained)
    # with zeros (rain) or without (elevation, a rain sum that is never 0), 337 and 3000 times off: a warning
    for values in (np.linspace(0.0, 0.009, 101), np.linspace(0.0, 0.001, 101), np.linspace(0.0, 9000.0, 101),
                   np.linspace(0.001, 0.009, 101)):
        assert "The factor may be in other units" in units.check_factor_scale("p", values, "f.tif", trained)
    assert "336 times smaller than in training" in units.check_factor_scale("p", np.linspace(0.001, 0.009, 101),
                                                                            "f.tif", [0.5, 1.0, 3.0])


def test_a_model_without_percentiles_is_not_checked():
    values = np.full(100, 0.003)
    assert units.check_factor_scale("precipitation", values, "f.tif", None) == ""
    assert units.check_factor_scale("precipitation", values, "f.tif", [1.0, 2.0]) == ""  # damaged: skipped
    assert "1000 times smaller" in units.check_factor_scale("precipitation", values, "f.tif", [0.5, 1.0, 3.0])
    assert units.check_factor_scale("precipitation", values * 20.0, "f.tif", [0.5, 1.0, 3.0]) == ""  # 50 times


def _landsat_dn(kelvin: np.ndarray) -> np.ndarray:
    """Landsat Collection 2 surface temperature as stored: the integers whose x 0.00341802 + 149 is Kelvin."""
    return np.round((kelvin - units.LANDSAT_ST_OFFSET) / units.LANDSAT_ST_SCALE)


def _st_b10_stacks(scene: dict, folder: str, conv, dates=(0, 1), zeros: float = 0.0) -> list[str]:
    """The scene's stacks with LST as Landsat's ST_B10 converted by ``conv``; ``zeros`` of its pixels 0 (masked
    pixels as Earth Engine exports them without a nodata value)."""
    out = []
    for i in dates:
        stack = read_all(scene["stacks"][i], dtype=np.float64)
        stack[1] = conv(stack[1])
        stack[1][np.random.default_rng(i).uniform(size=stack[1].shape) < zeros] = 0.0
        out.append(write_raster(os.path.join(folder, os.path.basename(scene["stacks"][i])), scene["fine"], stack,
                                names=["ndvi", "ST_B10", "landcover"], kinds=KINDS))
    return out


@pytest.mark.bad_input("downscale: ST_B10 in Kelvin for a model trained on Landsat's stored integers")
def test_a_model_trained_on_landsat_stored_integers_refuses_kelvin_and_celsius(trained, tmp_path):
    """A model trained on ST_B10 as Landsat stores it (integers 39000-49000), applied to ST_B10 converted to Kelvin or
    degrees Celsius: every value lies far outside the training range. Named a temperature, ST_B10 skips the generic
    scale check; its unit check refuses it, naming the conversion, instead of predicting silently."""
    scene, _, _ = trained
    model = str(tmp_path / "dn.smdmodel")
    train_model(TrainRequest(scene["sm"][:2], _st_b10_stacks(scene, str(tmp_path / "dn"), _landsat_dn), model, "cart",
                             cv_folds=0))
    for unit, conv in (("Kelvin", lambda k: k), ("degrees Celsius", lambda k: k - 273.15)):
        stack = _st_b10_stacks(scene, str(tmp_path / unit), conv, dates=(2,))[0]
        with pytest.raises(InputError, match=rf"The factor ST_B10 in factors_20230617\.tif holds .*, which is in "
                                             rf"{unit}, but the model was trained on ST_B10 in neither Kelvin nor "
                                             r"degrees Celsius \(training range 3\d{4} to 4\d{4}\)\. Retrain the "
                                             rf"model on factors in {unit} .* Landsat Collection 2 stores surface "
                                             r"temperature as integers: Kelvin = band x 0\.00341802 \+ 149"):
            downscale(model, stack, str(tmp_path / "sm.tif"), scene["sm"][2])
        assert not (tmp_path / "sm.tif").exists()
    # the same stored integers as in training: mapped
    same = _st_b10_stacks(scene, str(tmp_path / "same"), _landsat_dn, dates=(2,))[0]
    assert downscale(model, same, str(tmp_path / "sm.tif"), scene["sm"][2]).warnings == []


@pytest.mark.bad_input("train: Landsat ST_B10 stored integers with masked pixels as 0")
def test_landsat_stored_integers_with_masked_pixels_as_zero_are_refused(trained, tmp_path):
    """ST_B10 as stored, its cloud-masked pixels exported as 0 (Landsat's fill value): the zeros would be learnt as a
    temperature of 149 K. Training refuses them, as it does LST in Kelvin with zeros."""
    scene, _, _ = trained
    stacks = _st_b10_stacks(scene, str(tmp_path / "dn0"), _landsat_dn, zeros=0.15)
    with pytest.raises(InputError, match=r"The factor ST_B10 in factors_20230601\.tif holds stored integers \(median "
                                         r"\d{5}\) but 1\d\.\d % of its values are 0"):
        train_model(TrainRequest(scene["sm"][:2], stacks, str(tmp_path / "m.smdmodel"), "cart", cv_folds=0))
