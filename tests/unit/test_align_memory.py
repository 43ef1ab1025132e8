"""align_rasters releases GDAL's block cache after each row of output tiles: memory does not grow with the extent."""

from __future__ import annotations

import numpy as np
from osgeo import gdal

from smdownscale.algorithms import align, raster
from smdownscale.algorithms.raster import Grid, read_all, srs_from_user, write_raster

UTM = srs_from_user("EPSG:32650").ExportToWkt()
H, W = 1024, 200


def test_block_cache_holds_one_tile_row(tmp_path, monkeypatch):
    grid = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), W, H)
    rng = np.random.default_rng(0)
    a = rng.normal(300.0, 5.0, (H, W)).astype(np.float32)
    b = rng.uniform(0.0, 1.0, (H, W)).astype(np.float32)
    b[100:120, 50:60] = np.nan
    paths = [write_raster(str(tmp_path / "lst.tif"), grid, a, names=["lst"]),
             write_raster(str(tmp_path / "ndvi.tif"), grid, b, names=["ndvi"])]
    monkeypatch.setattr(raster, "block_rows_for", lambda *args, **kw: 256)  # four blocks of one tile row
    base = gdal.GetCacheUsed()
    peak = [0]
    real_write = raster.write_block

    def write_block(*args, **kwargs):  # a block has been warped and written: the cache is at its fullest
        real_write(*args, **kwargs)
        peak[0] = max(peak[0], gdal.GetCacheUsed() - base)

    monkeypatch.setattr(raster, "write_block", write_block)
    res = align.align_rasters(paths, grid, str(tmp_path / "stack.tif"))
    out = read_all(res.path)
    np.testing.assert_array_equal(out[0], a)
    np.testing.assert_array_equal(np.isnan(out[1]), np.isnan(b))
    np.testing.assert_array_equal(out[1][~np.isnan(b)], b[~np.isnan(b)])
    one_tile_row = 256 * 256 * 4
    # two sources, two warped bands and two output bands of one tile row; the whole files hold 4 times that
    assert 0 < peak[0] <= 6 * one_tile_row < 2 * 3 * H * 256 * 4
