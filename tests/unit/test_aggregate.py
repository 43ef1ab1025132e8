import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from osgeo import osr

from smdownscale.algorithms.aggregate import AreaIndex, CellIndex, CoarseMean, broadcast
from smdownscale.algorithms.raster import Grid, srs_from_user

ALBERS = "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
EASE_CELL = 9008.055210146


def _grids(width=60, height=50):
    fine_wkt = srs_from_user(ALBERS).ExportToWkt()
    fine = Grid(fine_wkt, (1000000.0, 1000.0, 0.0, 4900000.0, 0.0, -1000.0), width, height)
    x0, y0, x1, y1 = fine.extent_in(srs_from_user("EPSG:6933").ExportToWkt())
    gx0 = -17367530.445161372 + np.floor((x0 + 17367530.445161372) / EASE_CELL) * EASE_CELL
    gy1 = 7314540.830638504 - np.floor((7314540.830638504 - y1) / EASE_CELL) * EASE_CELL
    w = int(np.ceil((x1 - gx0) / EASE_CELL))
    h = int(np.ceil((gy1 - y0) / EASE_CELL))
    coarse = Grid(srs_from_user("EPSG:6933").ExportToWkt(), (gx0, EASE_CELL, 0, gy1, 0, -EASE_CELL), w, h)
    return fine, coarse


def _reference_index(fine, coarse):
    """Cell of each fine pixel center, computed point by point (independent of CellIndex)."""
    ct = osr.CoordinateTransformation(fine.srs, coarse.srs)
    out = np.full((fine.height, fine.width), -1)
    for r in range(fine.height):
        for c in range(fine.width):
            x = fine.transform[0] + (c + 0.5) * fine.transform[1]
            y = fine.transform[3] + (r + 0.5) * fine.transform[5]
            cx, cy, _ = ct.TransformPoint(x, y)
            col = int(np.floor((cx - coarse.transform[0]) / coarse.transform[1]))
            row = int(np.floor((cy - coarse.transform[3]) / coarse.transform[5]))
            if 0 <= col < coarse.width and 0 <= row < coarse.height:
                out[r, c] = row * coarse.width + col
    return out


def test_cell_index_matches_pointwise_transform():
    fine, coarse = _grids(30, 25)
    idx = CellIndex(fine, coarse)
    np.testing.assert_array_equal(idx.rows(0, fine.height), _reference_index(fine, coarse))
    np.testing.assert_array_equal(idx.rows(7, 5), idx.rows(0, fine.height)[7:12])


FINE, COARSE = _grids()
REF_INDEX = _reference_index(FINE, COARSE)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), holes=st.floats(0.0, 0.9), block=st.integers(1, 50))
def test_coarse_mean_is_mean_of_valid_fine_pixels(seed, holes, block):
    rng = np.random.default_rng(seed)
    data = rng.normal(0.2, 0.05, (2, FINE.height, FINE.width))
    data[rng.random(data.shape) < holes] = np.nan
    acc = CoarseMean(CellIndex(FINE, COARSE), 2)
    for row0 in range(0, FINE.height, block):
        acc.add(row0, data[:, row0:row0 + block])
    mean = acc.mean().reshape(2, -1)
    for k in range(2):
        for cell in np.unique(REF_INDEX[REF_INDEX >= 0]):
            vals = data[k][(REF_INDEX == cell) & np.isfinite(data[k])]
            if vals.size:
                assert abs(mean[k, cell] - vals.mean()) < 1e-9
            else:
                assert np.isnan(mean[k, cell])


def test_min_valid_fraction_and_broadcast():
    data = np.full((1, FINE.height, FINE.width), 0.3)
    data[0, :, : FINE.width // 2] = np.nan  # west half missing
    acc = CoarseMean(CellIndex(FINE, COARSE), 1)
    acc.add(0, data)
    frac = acc.fractions()[0]
    assert frac.max() == 1.0
    strict = acc.mean(min_valid_fraction=0.99)[0]
    loose = acc.mean(min_valid_fraction=0.0)[0]
    assert np.isfinite(loose).sum() > np.isfinite(strict).sum() > 0
    np.testing.assert_allclose(strict[np.isfinite(strict)], 0.3, rtol=1e-12)
    values = np.arange(COARSE.size, dtype=float).reshape(COARSE.height, COARSE.width)
    spread = broadcast(CellIndex(FINE, COARSE), 0, FINE.height, values)
    np.testing.assert_array_equal(spread[REF_INDEX >= 0], REF_INDEX[REF_INDEX >= 0])


def _reference_shares(fine, coarse, k):
    """Area share of every fine pixel in every coarse cell from k x k sub-pixel centers transformed one by one."""
    ct = None if fine.srs.IsSame(coarse.srs) else osr.CoordinateTransformation(fine.srs, coarse.srs)
    out = np.zeros((fine.height, fine.width, coarse.size))
    for r in range(fine.height):
        for c in range(fine.width):
            for a in range(k):
                for b in range(k):
                    x = fine.transform[0] + (c + (b + 0.5) / k) * fine.transform[1]
                    y = fine.transform[3] + (r + (a + 0.5) / k) * fine.transform[5]
                    cx, cy = ct.TransformPoint(x, y)[:2] if ct is not None else (x, y)
                    col = int(np.floor((cx - coarse.transform[0]) / coarse.transform[1]))
                    row = int(np.floor((cy - coarse.transform[3]) / coarse.transform[5]))
                    if 0 <= col < coarse.width and 0 <= row < coarse.height:
                        out[r, c, row * coarse.width + col] += 1.0 / k ** 2
    return out


def _shares_by_cell(index, fine, coarse):
    cells, shares = index.shares(0, fine.height)
    out = np.zeros((fine.height, fine.width, coarse.size))
    rr, cc = np.divmod(np.where(cells >= 0, cells, 0), coarse.width)
    for o in range(9):
        r2, c2 = rr + o // 3 - 1, cc + o % 3 - 1
        ok = (cells >= 0) & (r2 >= 0) & (r2 < coarse.height) & (c2 >= 0) & (c2 < coarse.width) & (shares[o] > 0)
        i, j = np.nonzero(ok)
        out[i, j, (r2 * coarse.width + c2)[ok]] += shares[o][ok]
    return out


def test_area_shares_split_edge_pixels_by_area_on_an_offset_grid():
    utm = srs_from_user("EPSG:32650").ExportToWkt()
    fine = Grid(utm, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), 20, 12)
    # 4 km cells offset by half a pixel east and a quarter pixel south: edge pixels straddle two or four cells
    coarse = Grid(utm, (399500.0, 4000.0, 0.0, 4600250.0, 0.0, -4000.0), 6, 3)
    index = AreaIndex(fine, coarse, k=4)
    got = _shares_by_cell(index, fine, coarse)
    np.testing.assert_allclose(got, _reference_shares(fine, coarse, 4), atol=1e-12)
    total = got.sum(axis=2)
    np.testing.assert_allclose(total[:-1, :], 1.0, atol=1e-12)  # every pixel inside the coarse grid: sums to 1
    # column 3 straddles the edge at x = 403500 (half of it on each side), row 0 is whole in row 0 of cells
    # (its top lies 250 m below the grid's top edge), row 3 straddles y = 4596250 (3/4 above, 1/4 below)
    np.testing.assert_allclose(got[1, 3, [0, 1]], [0.5, 0.5])
    np.testing.assert_allclose(got[3, 1, [0, coarse.width]], [0.75, 0.25])
    np.testing.assert_allclose(got[3, 3, [0, 1, coarse.width, coarse.width + 1]], [0.375, 0.375, 0.125, 0.125])
    # the last fine row reaches 250 m beyond the coarse grid's bottom edge (y = 4588250)
    np.testing.assert_allclose(total[-1, :], 0.75)


def test_area_shares_sum_to_one_between_crss_and_means_weight_by_area():
    fine, coarse = _grids(24, 20)
    index = AreaIndex(fine, coarse, k=3)
    got = _shares_by_cell(index, fine, coarse)
    np.testing.assert_allclose(got, _reference_shares(fine, coarse, 3), atol=1e-12)
    inside = np.all(_reference_index(fine, coarse) >= 0)
    assert inside
    np.testing.assert_allclose(got.sum(axis=2), 1.0, atol=1e-12)
    assert ((got > 0) & (got < 1)).any(axis=2).mean() > 0.1  # many pixels straddle cells (grids not aligned)
    rng = np.random.default_rng(3)
    data = rng.normal(0.25, 0.05, (fine.height, fine.width))
    data[rng.random(data.shape) < 0.2] = np.nan
    acc = CoarseMean(index, 1)
    for row0 in range(0, fine.height, 7):
        acc.add(row0, data[row0:row0 + 7])
    ok = np.isfinite(data)
    wsum = np.einsum("ijc,ij->c", got, ok.astype(float))
    want = np.einsum("ijc,ij->c", got, np.where(ok, data, 0.0)) / np.where(wsum > 0, wsum, np.nan)
    np.testing.assert_allclose(acc.mean()[0].ravel(), want, atol=1e-12)
    np.testing.assert_allclose(acc.valid[0], wsum, atol=1e-9)


def test_area_index_of_one_subpixel_is_the_center_rule():
    index = AreaIndex(FINE, COARSE, k=1)
    cells, shares = index.shares(0, FINE.height)
    np.testing.assert_array_equal(cells, REF_INDEX)
    np.testing.assert_array_equal(shares[4][REF_INDEX >= 0], 1.0)
    assert shares[[0, 1, 2, 3, 5, 6, 7, 8]].sum() == 0
