"""Derived factors: TVDI from a constructed NDVI-LST triangle, lst_diff and api from a stack, both scales."""

from __future__ import annotations

import numpy as np
import pytest

from smdownscale.algorithms import derived, options, raster
from smdownscale.algorithms.aggregate import CellIndex, CoarseMean
from smdownscale.algorithms.derived import DryEdge, StackReader, fit_dry_edge, resolve, tvdi
from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.features import coarse_pairs
from smdownscale.tests.scenes import DATES, ease_grid, fine_grid_over, smooth_field

A, B, T_MIN = 320.0, -25.0, 290.0  # dry edge Ts_max = 320 - 25 NDVI; wet edge 290 K


def triangle(n: int = 40000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NDVI uniform in [0.05, 0.85]; LST between the wet edge and the dry edge at a known relative position u."""
    rng = np.random.default_rng(seed)
    ndvi = rng.uniform(0.05, 0.85, n)
    u = rng.uniform(0.0, 1.0, n)
    lst = T_MIN + u * (A + B * ndvi - T_MIN)
    return ndvi, lst, u


def test_dry_edge_and_tvdi_on_a_constructed_triangle():
    ndvi, lst, u = triangle()
    edge = fit_dry_edge(ndvi, lst)
    # 99th / 1st percentiles per NDVI bin sit just inside the true edges
    assert edge.b == pytest.approx(B, rel=0.05) and edge.a == pytest.approx(A, abs=1.0)
    assert edge.t_min == pytest.approx(T_MIN, abs=0.5)
    assert edge.bins_used == derived.TVDI_BINS and edge.pixels == ndvi.size
    t = tvdi(ndvi, lst, edge)
    assert t.min() >= 0.0 and t.max() <= 1.0
    assert np.corrcoef(t, u)[0, 1] > 0.999
    assert np.abs(t - u).max() < 0.05
    # the dry edge itself is 1, the wet edge 0; NaN in, NaN out
    probe = np.array([0.1, 0.5, 0.8])
    np.testing.assert_allclose(tvdi(probe, edge.a + edge.b * probe, edge), 1.0)
    np.testing.assert_allclose(tvdi(probe, np.full(3, edge.t_min), edge), 0.0)
    assert np.isnan(tvdi(np.array([np.nan, 0.3]), np.array([300.0, np.nan]), edge)).all()
    # beyond the edges the index is clipped
    assert tvdi(np.array([0.3]), np.array([400.0]), edge)[0] == 1.0
    assert tvdi(np.array([0.3]), np.array([250.0]), edge)[0] == 0.0


def test_dry_edge_needs_a_scatter():
    with pytest.raises(InputError, match="TVDI needs NDVI and LST on at least 60 pixels"):
        fit_dry_edge(np.full(10, 0.3), np.full(10, 300.0))
    with pytest.raises(InputError, match="NDVI is constant over the stack"):
        fit_dry_edge(np.full(500, 0.3), np.linspace(290, 320, 500))


def _stack(tmp_path, names=("ndvi", "lst_day", "lst_night", "precipitation_lag0", "precipitation_lag1",
                            "precipitation_lag3"), seed=0):
    coarse = ease_grid(6, 5)
    fine = fine_grid_over(coarse)
    rng = np.random.default_rng(seed)
    ndvi = 0.05 + 0.8 * smooth_field(fine, rng, 30.0)
    u = smooth_field(fine, rng, 25.0)
    fields = {"ndvi": ndvi, "lst_day": T_MIN + u * (A + B * ndvi - T_MIN),
              "lst_night": 280.0 + 8.0 * smooth_field(fine, rng)}
    for lag in (0, 1, 3):
        fields[f"precipitation_lag{lag}"] = 10.0 * smooth_field(fine, rng)
    fields["ndvi"][5, 5:9] = np.nan
    path = str(tmp_path / "factors_20230601.tif")
    raster.write_raster(path, fine, np.stack([fields[n.lower()] for n in names]), names=list(names))
    return path, fields, fine, coarse


def test_stack_reader_computes_lst_diff_tvdi_and_api(tmp_path):
    path, f, fine, _ = _stack(tmp_path)
    ds = raster.open_raster(path)
    reader = StackReader(ds, ["api", "lst_diff", "ndvi", "tvdi"], path)
    assert set(reader.derived) == {"api", "lst_diff", "tvdi"} and reader.kinds == ["continuous"] * 4
    whole = reader.read(0, fine.height, np.float64)
    np.testing.assert_allclose(whole[0], f["precipitation_lag0"] + 0.85 * f["precipitation_lag1"]
                               + 0.85 ** 3 * f["precipitation_lag3"], rtol=1e-6)
    np.testing.assert_allclose(whole[1], f["lst_day"] - f["lst_night"], atol=1e-4)  # float32 in the file
    np.testing.assert_array_equal(np.isnan(whole[2]), np.isnan(f["ndvi"]))
    t = whole[3]
    assert np.nanmin(t) >= 0.0 and np.nanmax(t) <= 1.0 and np.isnan(t[5, 5:9]).all()
    edge = reader.dry_edge
    assert isinstance(edge, DryEdge) and edge.b < 0
    np.testing.assert_allclose(t, tvdi(f["ndvi"], f["lst_day"].astype(np.float32), edge), atol=1e-5)
    # block by block gives the same values (one dry edge per stack, fitted before reading)
    top = reader.read(0, 10, np.float64)
    np.testing.assert_array_equal(top, whole[:, :10])
    info = reader.info()
    assert info["lst_diff"] == {"inputs": ["lst_day", "lst_night"]}
    assert info["api"]["inputs"] == ["precipitation_lag0", "precipitation_lag1", "precipitation_lag3"]
    assert info["tvdi"]["dry_edge"]["b"] == pytest.approx(edge.b, abs=1e-6)


def test_inputs_named_with_other_capitals_are_found(tmp_path):
    # bands named after users' files: NDVI_20230601.tif -> 'NDVI', LST_Day_20230601.tif -> 'LST_Day'
    names = ("NDVI", "LST_Day", "LST_Night", "precipitation_lag0", "precipitation_lag1", "precipitation_lag3")
    path, f, fine, _ = _stack(tmp_path, names=names)
    ds = raster.open_raster(path)
    assert resolve(["lst_diff", "tvdi"], list(names), ["NDVI"]) == (["lst_diff", "tvdi"], {})
    reader = StackReader(ds, ["NDVI", "lst_diff", "tvdi"], path)
    assert reader.derived == {"lst_diff": ["LST_Day", "LST_Night"], "tvdi": ["NDVI", "LST_Day"]}
    whole = reader.read(0, fine.height, np.float64)
    np.testing.assert_allclose(whole[1], f["lst_day"] - f["lst_night"], atol=1e-4)
    edge = reader.dry_edge
    assert isinstance(edge, DryEdge) and edge.b < 0
    np.testing.assert_allclose(whole[2], tvdi(f["ndvi"], f["lst_day"].astype(np.float32), edge), atol=1e-5)
    # an exact name is taken before one with other capitals
    assert derived.inputs_of("tvdi", ["NDVI", "ndvi", "lst_day"]) == ["ndvi", "lst_day"]


def test_missing_inputs_are_named(tmp_path):
    path, _, _, _ = _stack(tmp_path, names=("ndvi", "lst_night", "precipitation_lag0"))
    ds = raster.open_raster(path)
    with pytest.raises(InputError, match=r"derived factor tvdi cannot be computed from factors_20230601.tif: it "
                                         r"needs the bands ndvi and lst_day; its bands are ndvi, lst_night"):
        StackReader(ds, ["ndvi", "tvdi"], path)
    with pytest.raises(InputError, match="needs at least two daily precipitation bands named precipitation_lag<d>"):
        StackReader(ds, ["api"], path)
    with pytest.raises(InputError, match=r"lacks the factor\(s\) albedo"):
        StackReader(ds, ["albedo"], path)
    bands = raster.band_names(ds)
    add, skipped = resolve(["tvdi", "lst_diff", "api"], bands, ["ndvi"])
    assert add == [] and set(skipped) == {"tvdi", "lst_diff", "api"}
    assert skipped["lst_diff"] == "needs the bands lst_day and lst_night"
    # a ready-made band of a derived name is used as it is
    assert resolve(["lst_diff"], ["lst_diff", "ndvi"], ["ndvi"]) == (["lst_diff"], {})
    with pytest.raises(InputError, match="Unknown derived factor 'ndwi'"):
        derived.check_names(["ndwi"])
    assert derived.check_names([" TVDI", "lst_diff", ""]) == ["lst_diff", "tvdi"]


def test_coarse_pairs_aggregate_derived_factors_like_any_band(tmp_path):
    stacks, sms = [], []
    for i, d in enumerate(DATES[:2]):
        folder = tmp_path / d
        folder.mkdir()
        path, f, fine, coarse = _stack(folder, seed=i)
        tag = d.replace("-", "")
        new = str(tmp_path / f"factors_{tag}.tif")
        raster.write_raster(new, fine, raster.read_all(path), names=raster.band_names(raster.open_raster(path)))
        sm = str(tmp_path / f"smap_{tag}.tif")
        raster.write_raster(sm, coarse, np.random.default_rng(i).uniform(0.1, 0.3, (coarse.height, coarse.width)))
        stacks.append(new)
        sms.append(sm)
    pairs = coarse_pairs(sms, stacks, ["ndvi", "lst_day", "lst_night"], derived=["lst_diff", "tvdi", "api"])
    assert pairs.feature_names == ["ndvi", "lst_day", "lst_night", "lst_diff", "tvdi", "api"]
    assert set(pairs.derived) == {"lst_diff", "tvdi", "api"} and pairs.derived_skipped == {}
    assert set(pairs.derived["tvdi"]["per_date"]) == set(DATES[:2])
    # the coarse value of a derived factor is the cell mean of its 1 km values (lst_diff: of the difference)
    np.testing.assert_allclose(pairs.X[:, 3], pairs.X[:, 1] - pairs.X[:, 2], atol=1e-6)
    ds = raster.open_raster(stacks[0])
    fine = raster.Grid.from_dataset(ds)
    coarse = raster.Grid.from_path(sms[0])
    reader = StackReader(ds, ["ndvi", "lst_day", "lst_night", "tvdi"], stacks[0])
    block = reader.read(0, fine.height)
    block[:, ~np.all(np.isfinite(block), axis=0)] = np.nan
    acc = CoarseMean(CellIndex(fine, coarse), 1)
    acc.add(0, block[3])
    expected = acc.mean(0.5)[0].ravel()
    first = pairs.dates == DATES[0]
    np.testing.assert_allclose(pairs.X[first, 4], expected[pairs.cells[first]], atol=1e-6)


def test_every_derived_factor_of_the_registry_is_computed(tmp_path):
    """derived.py implements each key of options.DERIVED_FACTORS: a key added to the registry fails here until
    StackReader computes it (and this table says what it must give)."""
    path, f, fine, _ = _stack(tmp_path)
    reader = StackReader(raster.open_raster(path), list(options.DERIVED_FACTORS.keys), path)
    expected = {
        "lst_diff": lambda: f["lst_day"] - f["lst_night"],
        "tvdi": lambda: tvdi(f["ndvi"], f["lst_day"].astype(np.float32), reader.dry_edge),
        "api": lambda: f["precipitation_lag0"] + 0.85 * f["precipitation_lag1"] + 0.85 ** 3 * f["precipitation_lag3"],
    }
    assert derived.DERIVED_FACTORS == options.DERIVED_FACTORS.keys == tuple(expected)
    assert derived.DERIVED_LABELS == options.DERIVED_FACTORS.labels
    assert derived.check_names(list(reversed(options.DERIVED_FACTORS.keys))) == list(options.DERIVED_FACTORS.keys)
    whole = reader.read(0, fine.height, np.float64)
    for k, key in enumerate(options.DERIVED_FACTORS.keys):
        assert set(reader.info()[key]["inputs"]) <= set(raster.band_names(raster.open_raster(path)))
        assert derived.missing_inputs_text(key).startswith("needs ")
        np.testing.assert_allclose(whole[k], expected[key](), rtol=1e-5, atol=1e-4, err_msg=key)
