"""aggregate.CellIndex: the lattice-interpolated index equals transforming every pixel center."""

from __future__ import annotations

import numpy as np
import pytest

from smdownscale.algorithms import grids, sample
from smdownscale.algorithms.aggregate import CellIndex
from smdownscale.algorithms.raster import Grid, srs_from_user


def _wkt(text: str) -> str:
    return srs_from_user(text).ExportToWkt()


def _grid(crs: str, x0: float, y0: float, res: float, width: int, height: int) -> Grid:
    return Grid(_wkt(crs), (x0, res, 0.0, y0, 0.0, -res), width, height)


def _all_rows(index: CellIndex, block: int, exact: bool) -> np.ndarray:
    get = index.rows_exact if exact else index.rows
    return np.vstack([get(r, min(block, index.fine.height - r)) for r in range(0, index.fine.height, block)])


def _same(fine: Grid, coarse: Grid, block: int = 37) -> np.ndarray:
    index = CellIndex(fine, coarse)
    exact = _all_rows(index, block, True)
    fast = _all_rows(index, block, False)
    np.testing.assert_array_equal(fast, exact)
    return exact


def test_albers_to_ease_equals_exact_and_is_used():
    fine, coarse, _ = sample.scene_grids(300)
    idx = _same(fine, coarse, block=64)
    # a real 9 km mapping: cells hold ~60-80 pixels, nothing falls outside
    counts = np.bincount(idx.ravel())
    assert idx.min() >= 0 and 40 < np.median(counts[counts > 0]) < 120

    calls = []

    class Counting(CellIndex):
        def _transform(self, x, y):
            calls.append(np.size(x))
            return super()._transform(x, y)

    Counting(fine, coarse).rows(0, 64)
    assert sum(calls) < 0.1 * 64 * fine.width  # the lattice, probes and a few near-edge pixels only


def test_utm_to_geographic_and_geographic_to_ease():
    utm = _grid("EPSG:32650", 400000.0, 4800000.0, 250.0, 500, 300)
    geo = _grid("EPSG:4326", 115.5, 43.5, 0.1, 30, 20)
    _same(utm, geo)
    fine_geo = _grid("EPSG:4326", 110.0, 45.0, 0.01, 420, 150)
    ease = Grid(_wkt("EPSG:6933"), (grids.EASE_X0 + 3000 * grids.EASE_CELL, grids.EASE_CELL, 0.0,
                                    grids.EASE_Y0 - 300 * grids.EASE_CELL, 0.0, -grids.EASE_CELL), 400, 300)
    _same(fine_geo, ease, block=16)


def test_antimeridian_and_invalid_points_fall_back_to_exact():
    # Pacific Mercator across 180 degrees: longitudes jump from 180 to -180 inside the grid
    pacific = _grid("EPSG:3832", 3040000.0, 600000.0, 2000.0, 300, 120)  # central meridian 150 E
    lonlat = _grid("EPSG:4326", -180.0, 10.0, 0.25, 1440, 60)
    idx = _same(pacific, lonlat)
    cols = idx[idx >= 0] % lonlat.width
    assert cols.min() < 20 and cols.max() > lonlat.width - 20  # both sides of the date line
    # geographic grid reaching the pole: Web Mercator cannot hold it (non-finite transforms)
    polar = _grid("EPSG:4326", 0.0, 90.0, 0.05, 400, 80)
    merc = _grid("EPSG:3857", -1000.0, 20000000.0, 50000.0, 100, 200)
    idx = _same(polar, merc, block=8)
    assert (idx[0] == -1).all()


@pytest.mark.parametrize("step", [2, 64])
@pytest.mark.parametrize("block", [1, 2, 7, 200])
def test_block_heights_and_lattice_steps(step, block, monkeypatch):
    fine, coarse, _ = sample.scene_grids(100)
    monkeypatch.setattr(CellIndex, "LATTICE_STEP", step)
    _same(fine, coarse, block=block)


def test_narrow_grid_and_same_crs():
    fine, coarse, _ = sample.scene_grids(100)
    narrow = Grid(fine.crs_wkt, fine.transform, 3 * CellIndex.LATTICE_STEP, 40)
    _same(narrow, coarse)
    same_crs = Grid(fine.crs_wkt, (fine.transform[0], 9000.0, 0.0, fine.transform[3], 0.0, -9000.0), 12, 12)
    idx = _same(fine, same_crs)
    assert idx[0, 0] == 0 and idx[0, 9] == 1 and idx[9, 0] == 12


def _exact_positions(index: CellIndex, row0: int, nrows: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = index.fine.centers(row0, nrows)
    if index._ct is not None:
        x, y = index._transform(x, y)
    cx0, cdx, _, cy0, _, cdy = index.coarse.transform
    return (x - cx0) / cdx, (y - cy0) / cdy


@pytest.mark.parametrize("case", ["albers-ease", "utm-geo"])
def test_positions_match_the_exact_transform_whatever_the_block(case):
    if case == "albers-ease":
        fine, coarse, _ = sample.scene_grids(300)
    else:
        fine = _grid("EPSG:32650", 400000.0, 4800000.0, 250.0, 500, 300)
        coarse = _grid("EPSG:4326", 115.5, 43.5, 0.1, 30, 20)
    index = CellIndex(fine, coarse)
    h = fine.height
    runs = []
    for block in (1, 37, h):
        parts = [index.positions(r, min(block, h - r)) for r in range(0, h, block)]
        runs.append([np.vstack([p[k] for p in parts]) for k in range(3)])
    cells, u, v = runs[-1]
    np.testing.assert_array_equal(cells, _all_rows(index, h, True))  # the exact cells
    eu, ev = _exact_positions(index, 0, h)
    inside = cells >= 0
    assert inside.mean() > 0.5
    # off by less than a thousandth of a cell (9 m in a 9 km cell: bilinear weights move by as much at most),
    # on the same side of every edge
    assert np.abs(u - eu)[inside].max() < 1e-3 and np.abs(v - ev)[inside].max() < 1e-3
    np.testing.assert_array_equal(np.floor(u[inside]), np.floor(eu[inside]))
    for other in runs[:-1]:  # every block size gives the same numbers, bit for bit
        for a, b in zip(other, runs[-1]):
            np.testing.assert_array_equal(a, b)


def test_positions_transform_few_points():
    fine, coarse, _ = sample.scene_grids(300)
    calls = []

    class Counting(CellIndex):
        def _transform(self, x, y):
            calls.append(np.size(x))
            return super()._transform(x, y)

    Counting(fine, coarse).positions(0, 64)
    assert sum(calls) < 0.2 * 64 * fine.width  # nodes and probes every 8 pixels of a row, a few near-edge pixels
