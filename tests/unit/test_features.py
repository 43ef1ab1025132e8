"""Factor specs, fine design matrices, band selection by name and coarse training pairs.

``make_scene`` (synthetic SMAP 9 km rasters in EPSG:6933 + 1 km factor stacks in UTM) is reused by the
screen, train and Processing tests.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from osgeo import gdal

from smdownscale.algorithms import raster
from smdownscale.algorithms.aggregate import AreaIndex, CoarseMean
from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.features import (
    FactorSpec,
    coarse_pairs,
    feature_names,
    fine_design,
    fine_pairs,
)
from smdownscale.algorithms.raster import select_bands
from smdownscale.tests.scenes import (
    DATES,
    ease_grid,
    fine_grid_over,
    make_scene,
    smooth_field,
)

# -- fine_design / feature names ------------------------------------------------------------------

def test_feature_names_and_fine_design_one_hot():
    specs = [FactorSpec("ndvi"), FactorSpec("landcover", "categorical", [10, 20, 30])]
    assert feature_names(specs) == ["ndvi", "landcover=10", "landcover=20", "landcover=30"]
    block = np.array([
        [[0.2, 0.3, np.nan], [0.5, 0.6, 0.7]],
        [[10.0, 30.0, 20.0], [np.nan, 20.0, 40.0]],
    ])
    xs, valid = fine_design(block, specs)
    assert valid.tolist() == [[True, True, False], [False, True, True]]
    assert xs.dtype == np.float32
    np.testing.assert_array_equal(xs, np.array([
        [0.2, 1, 0, 0],
        [0.3, 0, 0, 1],
        [0.6, 0, 1, 0],
        [0.7, 0, 0, 0],  # class 40 never seen in training: all zeros
    ], dtype=np.float32))


def test_factor_spec_dict_round_trip():
    spec = FactorSpec("landcover", "categorical", [10, 20])
    assert FactorSpec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict() == {"name": "landcover", "kind": "categorical", "classes": [10, 20]}


# -- select_bands -----------------------------------------------------------------------------------

def _stack(tmp_path, names, kinds=None, name="stack.tif"):
    grid = raster.Grid.from_extent(raster.srs_from_user("EPSG:32650").ExportToWkt(), 0, 0, 4000, 3000, 1000)
    data = np.stack([np.full((3, 4), float(i)) for i in range(len(names))])
    path = str(tmp_path / name)
    raster.write_raster(path, grid, data, names=names, kinds=kinds)
    return path


def test_select_bands_by_name_not_position(tmp_path):
    path = _stack(tmp_path, ["lst_day", "landcover", "ndvi"])
    assert select_bands(path, ["ndvi", "lst_day", "landcover"]) == [3, 1, 2]
    ds = raster.open_raster(path)
    assert select_bands(ds, ["landcover"]) == [2]


def test_select_bands_missing_factor_message(tmp_path):
    path = _stack(tmp_path, ["elevation", "landcover"], name="f_20230601.tif")
    with pytest.raises(InputError) as err:
        select_bands(path, ["ndvi", "elevation", "lst_day"])
    msg = str(err.value)
    assert "The factor stack f_20230601.tif lacks the factor(s) ndvi, lst_day that the model needs" in msg
    assert "its bands are elevation, landcover" in msg
    assert "smdownscale:align" in msg


def test_select_bands_duplicate_names(tmp_path):
    path = _stack(tmp_path, ["ndvi", "ndvi", "elevation"])
    with pytest.raises(InputError, match="several bands named ndvi"):
        select_bands(path, ["ndvi"])


# -- coarse_pairs -----------------------------------------------------------------------------------

def test_coarse_pairs_recovers_linear_relation_exactly(tmp_path):
    sc = make_scene(str(tmp_path), band_order=["landcover", "lst_day", "ndvi"])
    pairs = coarse_pairs(sc["sm"], sc["stacks"], factors=["ndvi", "landcover"])
    assert pairs.feature_names == ["ndvi", "landcover=10", "landcover=20", "landcover=30"]
    assert [s.to_dict() for s in pairs.specs] == [
        {"name": "ndvi", "kind": "continuous", "classes": []},
        {"name": "landcover", "kind": "categorical", "classes": [10, 20, 30]}]
    assert pairs.date_labels == list(DATES)
    assert pairs.grid.same_as(sc["coarse"])
    # every coarse cell of every date is fully covered by the fine stack
    assert pairs.X.shape == (3 * 120, 4)
    np.testing.assert_allclose(pairs.y, 0.1 + 0.5 * pairs.X[:, 0], atol=1e-6)
    # class fractions sum to one, and samples carry their date and cell
    np.testing.assert_allclose(pairs.X[:, 1:].sum(axis=1), 1.0, atol=1e-9)
    assert sorted(set(pairs.dates)) == list(DATES)
    for d, sm in zip(DATES, sc["sm_values"]):
        sel = pairs.dates == d
        np.testing.assert_allclose(pairs.y[sel], sm.ravel()[pairs.cells[sel]], atol=1e-6)
    assert pairs.cells.min() >= 0 and pairs.cells.max() < 120


def test_coarse_pairs_all_factors_and_min_valid_fraction(tmp_path):
    sc = make_scene(str(tmp_path), dates=DATES[:1])
    pairs = coarse_pairs(sc["sm"], sc["stacks"])
    assert [s.name for s in pairs.specs] == ["ndvi", "lst_day", "landcover"]
    assert pairs.X.shape[0] == 120
    # a stack whose left half is nodata: those cells are dropped at the default 0.5 fraction
    ds = raster.open_raster(sc["stacks"][0])
    data = raster.read_block(ds, 0, ds.RasterYSize)
    data[:, :, : data.shape[2] // 2] = np.nan
    half = str(tmp_path / "half_20230601.tif")
    raster.write_raster(half, sc["fine"], data, names=raster.band_names(ds), kinds=raster.band_kinds(ds))
    fewer = coarse_pairs(sc["sm"], [half], min_valid_fraction=0.5)
    assert 40 <= fewer.X.shape[0] <= 70
    assert coarse_pairs(sc["sm"], [half], min_valid_fraction=0.01).X.shape[0] > fewer.X.shape[0]


def test_a_stack_not_built_by_align_keeps_its_land_cover_as_classes(tmp_path):
    # a multiband stack exported from Earth Engine: band descriptions, no SMD_KIND, no colour table
    sc = make_scene(str(tmp_path), dates=DATES[:1])
    data = raster.read_all(sc["stacks"][0], dtype=np.float64)
    gee = str(tmp_path / "gee_stack_20230601.tif")
    raster.write_raster(gee, sc["fine"], data, names=["NDVI", "LST_Day_1km", "LC_Type1"])
    assert raster.band_kinds(gdal.Open(gee)) == ["continuous", "continuous", "categorical"]
    pairs = coarse_pairs(sc["sm"], [gee])
    assert [(s.name, s.kind) for s in pairs.specs] == [("NDVI", "continuous"), ("LST_Day_1km", "continuous"),
                                                      ("LC_Type1", "categorical")]
    assert pairs.feature_names[2:] == ["LC_Type1=10", "LC_Type1=20", "LC_Type1=30"]  # class fractions


def test_coarse_pairs_same_grid_uses_values_directly(tmp_path):
    coarse = ease_grid(8, 6)
    rng = np.random.default_rng(3)
    ndvi = rng.random((6, 8))
    lc = rng.choice([1.0, 2.0], size=(6, 8))
    raster.write_raster(str(tmp_path / "sm_20230601.tif"), coarse, 0.2 + 0.1 * ndvi)
    raster.write_raster(str(tmp_path / "st_20230601.tif"), coarse, np.stack([ndvi, lc]), names=["ndvi", "lc"],
                        kinds=["continuous", "categorical"])
    pairs = coarse_pairs([str(tmp_path / "sm_20230601.tif")], [str(tmp_path / "st_20230601.tif")])
    assert pairs.feature_names == ["ndvi", "lc=1", "lc=2"]
    np.testing.assert_allclose(pairs.X[:, 0], ndvi.ravel(), atol=1e-6)
    np.testing.assert_array_equal(pairs.X[:, 1], (lc.ravel() == 1.0).astype(float))
    np.testing.assert_allclose(pairs.y, 0.2 + 0.1 * pairs.X[:, 0], atol=1e-6)


def test_coarse_pairs_date_mismatch_names_the_date(tmp_path):
    sc = make_scene(str(tmp_path), dates=DATES[:2])
    other = str(tmp_path / "factors_20230705.tif")
    os.rename(sc["stacks"][1], other)
    with pytest.raises(InputError) as err:
        coarse_pairs(sc["sm"], [sc["stacks"][0], other])
    msg = str(err.value)
    assert "2023-06-09 only among the soil moisture rasters" in msg
    assert "2023-07-05 only among the factor stack rasters" in msg


def test_coarse_pairs_too_few_samples(tmp_path):
    sc = make_scene(str(tmp_path), dates=DATES[:1], ncols=5, nrows=4)
    with pytest.raises(InputError) as err:
        coarse_pairs(sc["sm"], sc["stacks"])
    assert str(err.value) == ("Only 20 valid coarse cells pair soil moisture with all factors; at least 30 are "
                              "needed: add dates, enlarge the area, or lower the minimum valid fraction.")


def test_coarse_pairs_missing_factor_and_disjoint_rasters(tmp_path):
    sc = make_scene(str(tmp_path), dates=DATES[:1])
    with pytest.raises(InputError, match=r"^The factor\(s\) albedo chosen to train on are not bands of the "
                                         r"factor stack factors_20230601\.tif \(its bands: ndvi, lst_day, "
                                         r"landcover\)\. Write"):
        coarse_pairs(sc["sm"], sc["stacks"], factors=["ndvi", "albedo"])
    far = ease_grid(12, 10, col0=100, row0=100)
    raster.write_raster(str(tmp_path / "far_20230601.tif"), far, np.full((10, 12), 0.2))
    with pytest.raises(InputError) as err:
        coarse_pairs([str(tmp_path / "far_20230601.tif")], sc["stacks"])
    assert "far_20230601.tif and the factor stack factors_20230601.tif do not overlap" in str(err.value)


def test_stacks_of_dates_with_other_factor_names_are_named_as_such(tmp_path):
    # the stacks a provider's file names gave before their dates were recognised: one LST band name per date
    sc = make_scene(str(tmp_path), dates=DATES[:2])
    stack = raster.read_all(sc["stacks"][1], dtype=np.float64)
    raster.write_raster(sc["stacks"][1], sc["fine"], stack, names=["ndvi", "MOD11A1.A2023160.LST_Day_1km", "landcover"],
                        kinds=["continuous", "continuous", "categorical"])
    expect = (r"The factor stacks of the dates do not hold the same factors: factors_20230609\.tif lacks lst_day, "
              r"which factors_20230601\.tif holds; its bands are ndvi, MOD11A1\.A2023160\.LST_Day_1km, landcover\. "
              r"Build every date's stack from the same factors with smdownscale:align")
    with pytest.raises(InputError, match=expect):
        coarse_pairs(sc["sm"], sc["stacks"])
    with pytest.raises(InputError, match=expect):
        fine_pairs(sc["sm"], sc["stacks"])


@pytest.mark.bad_input("train: chosen factors misspelt (NDVI, lst) (engine)")
def test_chosen_factors_misspelt_name_the_band_meant(tmp_path):
    sc = make_scene(str(tmp_path), dates=DATES[:1])
    for pairs in (coarse_pairs, fine_pairs):
        with pytest.raises(InputError, match=r"^The factor\(s\) NDVI, lst chosen to train on are not bands of the "
                                             r"factor stack factors_20230601\.tif \(its bands: ndvi, lst_day, "
                                             r"landcover; did you mean ndvi for NDVI, lst_day for lst\?\)\. Write each "
                                             r"factor as its band name, exactly as screen's "
                                             r"'Selected factors' lists them"):
            pairs(sc["sm"], sc["stacks"], ["NDVI", "lst", "landcover"])


def test_coarse_pairs_all_nodata_soil_moisture(tmp_path):
    sc = make_scene(str(tmp_path), dates=DATES[:1])
    raster.write_raster(sc["sm"][0], sc["coarse"], np.full((10, 12), np.nan))
    with pytest.raises(InputError, match="smap_20230601.tif holds only nodata"):
        coarse_pairs(sc["sm"], sc["stacks"])
    raster.write_raster(sc["sm"][0], sc["coarse"], np.full((10, 12), 0.2))
    empty = str(tmp_path / "empty_20230601.tif")
    raster.write_raster(empty, sc["fine"], np.full((3, sc["fine"].height, sc["fine"].width), np.nan),
                        names=["ndvi", "lst_day", "landcover"])
    with pytest.raises(InputError) as err:
        coarse_pairs(sc["sm"], [empty])
    assert str(err.value) == ("The factor stack empty_20230601.tif has no valid pixels with all factors (ndvi, "
                              "lst_day, landcover) inside the soil moisture cells of smap_20230601.tif; check its "
                              "nodata or lower the minimum valid fraction.")


@pytest.mark.bad_input("train: a cloudy date without any cell valid enough")
def test_a_date_whose_cells_are_all_too_cloudy_is_named_with_its_shares(tmp_path):
    """A date with valid pixels, but too few in every cell (LST under cloud at 95 % of the pixels): the message says
    what is valid and how much, and how to go on, instead of claiming the stack has no valid pixel."""
    sc = make_scene(str(tmp_path), dates=DATES[:1])
    ndvi, lst, lc = raster.read_all(sc["stacks"][0], dtype=np.float64)
    cloud = np.ones(lst.shape, bool)
    cloud.ravel()[::20] = False  # LST observed at every 20th pixel
    lst[cloud] = np.nan
    raster.write_raster(sc["stacks"][0], sc["fine"], np.stack([ndvi, lst, lc]), names=["ndvi", "lst_day", "landcover"],
                        kinds=["continuous", "continuous", "categorical"])
    both = np.isfinite(ndvi) & np.isfinite(lst) & np.isfinite(lc)
    with pytest.raises(InputError) as err:
        coarse_pairs(sc["sm"], sc["stacks"])
    assert str(err.value) == (
        "No soil moisture cell of smap_20230601.tif has at least 50 % of its pixels valid in every factor of "
        f"factors_20230601.tif (the minimum valid fraction): all factors are valid at only {100 * both.mean():.1f} % "
        f"of its pixels (each factor: ndvi {100 * np.isfinite(ndvi).mean():.0f} %, lst_day "
        f"{100 * np.isfinite(lst).mean():.1f} %, landcover 100 %). Leave this date out of training (e.g. a cloudy "
        "day), or lower the minimum valid fraction.")
    assert 4.5 < 100 * both.mean() < 5.0  # a few NDVI holes of the scene as well


def test_coarse_pairs_cancel(tmp_path):
    from smdownscale.algorithms.errors import Canceled

    sc = make_scene(str(tmp_path), dates=DATES[:2])
    with pytest.raises(Canceled):
        coarse_pairs(sc["sm"], sc["stacks"], is_canceled=lambda: True)


def test_coarse_pairs_area_weighted_match_an_area_mean_product(tmp_path):
    """SMAP as the area mean of a linear function of ndvi: area-weighted pairs recover the relation exactly, the
    center rule does not (pixels straddling the EASE cells count wholly in one cell)."""
    coarse = ease_grid(6, 5)
    fine = fine_grid_over(coarse, pad=-4000.0)  # the fine grid inside the coarse one, not aligned with it
    rng = np.random.default_rng(11)
    ndvi = 0.1 + 0.8 * smooth_field(fine, rng, scale_km=6.0)
    lc = rng.choice([10.0, 40.0], size=ndvi.shape)
    area = CoarseMean(AreaIndex(fine, coarse), 1)
    area.add(0, ndvi[None])
    sm = 0.1 + 0.5 * area.mean()[0]
    raster.write_raster(str(tmp_path / "sm_20230601.tif"), coarse, sm)
    raster.write_raster(str(tmp_path / "st_20230601.tif"), fine, np.stack([ndvi, lc]), names=["ndvi", "landcover"],
                        kinds=["continuous", "categorical"])
    args = ([str(tmp_path / "sm_20230601.tif")], [str(tmp_path / "st_20230601.tif")])
    weighted = coarse_pairs(*args, area_weighted=True, min_valid_fraction=0.0)
    center = coarse_pairs(*args, area_weighted=False, min_valid_fraction=0.0)
    assert weighted.X.shape[0] == center.X.shape[0] == coarse.size
    np.testing.assert_allclose(weighted.y, 0.1 + 0.5 * weighted.X[:, 0], atol=1e-6)
    assert np.abs(center.y - (0.1 + 0.5 * center.X[:, 0])).max() > 1e-3
    np.testing.assert_allclose(weighted.X[:, 1:].sum(axis=1), 1.0, atol=1e-9)  # class fractions by area
    assert np.abs(weighted.X[:, 1] - center.X[:, 1]).max() > 1e-3


def test_coarse_pairs_checks_temperatures_on_the_pixels_its_pass_reads(tmp_path, monkeypatch):
    """The temperature fill check (0 K stored as a value) looks at the pixels the aggregation pass reads: every row of
    a stack is read once, and no stack is read a second time as a decimated sample. The check still refuses zeros."""
    scene = make_scene(str(tmp_path / "s"), dates=DATES[:2])
    sampled, rows = [], {}
    real_sample = gdal.Dataset.ReadAsArray
    real_block = raster.read_block

    def sample(ds, *args, **kwargs):
        sampled.append(os.path.basename(ds.GetDescription()))
        return real_sample(ds, *args, **kwargs)

    def block(ds, row0, nrows, *args, **kwargs):
        name = os.path.basename(ds.GetDescription())
        rows[name] = rows.get(name, 0) + nrows
        return real_block(ds, row0, nrows, *args, **kwargs)

    monkeypatch.setattr(gdal.Dataset, "ReadAsArray", sample)
    monkeypatch.setattr(raster, "read_block", block)
    pairs = coarse_pairs(scene["sm"], scene["stacks"])
    height = gdal.Open(scene["stacks"][0]).RasterYSize
    assert {os.path.basename(p): rows.get(os.path.basename(p)) for p in scene["stacks"]} == \
        {os.path.basename(p): height for p in scene["stacks"]}
    assert not [s for s in sampled if s.startswith("factors_")]
    assert pairs.X.shape[0] > 0
    monkeypatch.undo()
    stack = raster.read_all(scene["stacks"][1], dtype=np.float64)
    stack[1][np.random.default_rng(3).uniform(size=stack[1].shape) < 0.05] = 0.0
    raster.write_raster(scene["stacks"][1], scene["fine"], stack, names=["ndvi", "lst_day", "landcover"],
                        kinds=["continuous", "continuous", "categorical"])
    with pytest.raises(InputError, match=r"The factor lst_day in factors_20230609\.tif is in Kelvin \(median \d{3}\) "
                                         r"but [4-6]\.\d % of its values lie below 150 K \(most often 0\)"):
        coarse_pairs(scene["sm"], scene["stacks"])


@pytest.mark.bad_input("train: a date whose LST is missing at every pixel (all under cloud)")
def test_a_date_missing_a_factor_everywhere_is_left_out(tmp_path):
    """A date whose LST is all under cloud (a stack align keeps with the band missing everywhere) is left out of the
    pairs, named with the factor; the other dates pair as without it. When every date misses it, nothing is left:
    refused, naming each date."""
    scene = make_scene(str(tmp_path / "s"), dates=DATES)
    alone = coarse_pairs([scene["sm"][0], scene["sm"][2]], [scene["stacks"][0], scene["stacks"][2]])
    for path in scene["stacks"][1:]:
        stack = raster.read_all(path, dtype=np.float64)
        stack[1] = np.nan
        raster.write_raster(path, scene["fine"], stack, names=["ndvi", "lst_day", "landcover"],
                            kinds=["continuous", "continuous", "categorical"])
    pairs = coarse_pairs(scene["sm"], scene["stacks"])
    assert pairs.dates_left_out == {"2023-06-09": ["lst_day"], "2023-06-17": ["lst_day"]}
    assert pairs.date_labels == ["2023-06-01"] and alone.date_labels == ["2023-06-01", "2023-06-17"]
    first = alone.dates == "2023-06-01"
    np.testing.assert_array_equal(pairs.X, alone.X[first])
    np.testing.assert_array_equal(pairs.y, alone.y[first])
    for make in (coarse_pairs, fine_pairs):
        with pytest.raises(InputError, match=r"^Every date's factor stack misses a factor at every pixel \(2023-06-09: "
                                             r"lst_day; 2023-06-17: lst_day: all under cloud, or without a radar "
                                             r"overpass\), so no date pairs soil moisture with every factor\."):
            make(scene["sm"][1:], scene["stacks"][1:])
    # the study's mode (1 km pixels) leaves them out too, and says so
    fine = fine_pairs(scene["sm"], scene["stacks"])
    assert fine.date_labels == ["2023-06-01"] and set(fine.dates.tolist()) == {"2023-06-01"}
    assert fine.dates_left_out == {"2023-06-09": ["lst_day"], "2023-06-17": ["lst_day"]}
