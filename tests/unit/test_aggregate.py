import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from osgeo import osr

from smdownscale.algorithms.aggregate import CellIndex, CoarseMean, broadcast
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
