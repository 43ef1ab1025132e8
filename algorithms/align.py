"""Align factor rasters onto one grid, and aggregate a fine stack onto the coarse (SMAP) grid.

``align_rasters`` turns any number of single- or multi-band rasters, in any CRS, into one multiband
float32 GeoTIFF on a target grid: one band per factor, named by its band description. Each input is
warped lazily (an in-memory warped VRT, computed on demand) and copied block by block, so memory
stays bounded whatever the grid size. Resampling follows the direction of the change of scale:

==============  =================  ==================
kind            target is finer    target is coarser
==============  =================  ==================
continuous      bilinear           average
categorical     nearest            mode
==============  =================  ==================

Source nodata is honoured (never turned into zeros); averages and modes ignore nodata pixels.

``aggregate_stack`` gives the coarse version of a fine stack with the project's one fine-to-coarse
definition (``aggregate.CellIndex``): the mean of the valid fine pixels whose centers fall in each
coarse cell (the majority class for categorical bands).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from osgeo import gdal, osr

from . import raster
from .aggregate import CellIndex, CoarseMean
from .errors import Canceled, InputError
from .paths import GEOTIFF, check_apart, check_file_name
from .raster import Grid, IsCanceled, Progress, is_land_cover, never_canceled, no_progress
from .units import check_index_factor, check_lst_fill, is_index, is_lst, sample_bands

CATEGORICAL = "categorical"
CONTINUOUS = "continuous"
#: Resampling per kind and direction: (target finer than source, target coarser or equal).
RESAMPLING = {CONTINUOUS: ("bilinear", "average"), CATEGORICAL: ("near", "mode")}
#: Factors of an overpass by band name, besides temperatures and vegetation indices: radar backscatter (Sentinel-1's
#: VV/VH, HH/HV, sigma0/gamma0) and its incidence angle ('angle' as Earth Engine's S1_GRD names it, 's1_angle'),
#: albedo, and what is computed from an LST ('lst_diff'): a date may miss them at every pixel (no overpass, cloud),
#: :func:`may_miss_a_whole_date`.
_OVERPASS_RE = re.compile(r"(?<![a-z])(vv|vh|hh|hv|sigma0|gamma0|backscatter|albedo|lst)(?![a-z])"
                          r"|^(angle|s1_angle|incidence_angle)$")
_VRT_BLOCK_ROWS = 128  # block height of GDAL's warped VRT: read whole multiples of it
_TILE_ROWS = 256  # tile height of the output GeoTIFF


@dataclass(frozen=True)
class AlignResult:
    """What ``align_rasters`` wrote: one entry per output band, in band order."""

    path: str
    grid: Grid
    names: list[str]
    kinds: list[str]
    resampling: list[str]
    sources: list[str]
    valid_fraction: list[float] = field(default_factory=list)

    def resampling_by_input(self) -> dict[str, str]:
        """Resampling used for each input path ('bilinear', or e.g. 'bilinear+mode' for mixed bands).

        Returns
        -------
        dict[str, str]
            Input path -> its resampling method(s), joined with '+' when its bands used several.
        """
        out: dict[str, list[str]] = {}
        for src, method in zip(self.sources, self.resampling):
            methods = out.setdefault(src, [])
            if method not in methods:
                methods.append(method)
        return {src: "+".join(methods) for src, methods in out.items()}


# -- target grid ------------------------------------------------------------------------------------

def _snap_down(value: float, res: float) -> float:
    k = value / res
    return (round(k) if abs(k - round(k)) < 1e-6 else math.floor(k)) * res


def _snap_up(value: float, res: float) -> float:
    k = value / res
    return (round(k) if abs(k - round(k)) < 1e-6 else math.ceil(k)) * res


#: The resolution as the form names it, in messages.
RESOLUTION_LABEL = "The target resolution (RESOLUTION)"


@raster.gdal_exceptions()
def reference_grid(reference_path: str | None = None, crs: str | None = None,
                   extent: tuple[float, float, float, float] | None = None, extent_crs: str | None = None,
                   resolution: float | None = None) -> Grid:
    """The target grid: a reference raster's grid, or CRS + extent (xmin, ymin, xmax, ymax) + resolution.

    ``extent`` is in ``extent_crs`` (default: ``crs``) and is transformed into ``crs`` when they differ;
    it is then snapped outward to whole multiples of ``resolution`` (units of ``crs``). With a
    reference raster, any of ``crs``, ``extent`` and ``resolution`` that is given overrides the
    reference's own (e.g. the SMAP raster's extent at 1 km).

    Parameters
    ----------
    reference_path
        A raster whose grid is the target (opened read-only), or None.
    crs
        The target CRS (any form :func:`.raster.srs_from_user` reads).
    extent
        (xmin, ymin, xmax, ymax) in ``extent_crs``.
    extent_crs
        The CRS of ``extent`` (default: ``crs``).
    resolution
        Pixel size in units of ``crs``.

    Returns
    -------
    Grid
        The target grid, checked for size (:meth:`.raster.Grid.check_size`).

    Raises
    ------
    InputError
        The grid is incomplete (no reference and no CRS, extent or resolution), the resolution is not
        positive or is below 1 m in a projected CRS (typed in degrees), the extent is empty, or a reference's
        resolution is reused in another CRS; also from
        :func:`.raster.open_raster`.
    """
    ref: Grid | None = Grid.from_path(reference_path) if reference_path else None
    if ref is not None and crs is None and extent is None and resolution is None:
        return ref.check_size(f"The reference raster {os.path.basename(str(reference_path))}",
                              "Give a reference raster at the resolution you want (e.g. a 1 km factor raster of the "
                              "area), or give the target CRS, extent and resolution instead.")
    if ref is not None:
        if crs is None:
            crs = ref.crs_wkt
        if extent is None:
            extent, extent_crs = ref.extent, ref.crs_wkt
        if resolution is None:
            same_crs = bool(raster.srs_from_user(crs).IsSame(ref.srs))
            if not same_crs or not math.isclose(ref.res[0], ref.res[1], rel_tol=1e-9):
                raise InputError("Give a resolution: the reference raster's pixel size cannot be reused "
                                 "in another coordinate system or when its pixels are not square.")
            resolution = ref.res[0]
    missing = [label for label, value in (("a coordinate reference system", crs), ("an extent", extent),
                                          ("a resolution", resolution)) if value is None]
    if missing:
        raise InputError("The target grid is incomplete (missing " + ", ".join(missing) + "): give a reference "
                         "raster, or a coordinate reference system, an extent and a resolution.")
    assert crs is not None and extent is not None and resolution is not None
    srs = raster.srs_from_user(crs)
    wkt = srs.ExportToWkt()
    res = float(resolution)
    if not res > 0 or not math.isfinite(res):
        raise InputError(f"The resolution must be a positive number (got {resolution}).")
    raster.check_resolution_units(res, srs, RESOLUTION_LABEL)
    xmin, ymin, xmax, ymax = (float(v) for v in extent)
    if not (xmax > xmin and ymax > ymin):
        raise InputError(f"The extent ({xmin}, {ymin}, {xmax}, {ymax}) is empty: give xmin < xmax and ymin < ymax.")
    if extent_crs is not None and not raster.srs_from_user(extent_crs).IsSame(srs):
        box_wkt = raster.srs_from_user(extent_crs).ExportToWkt()
        box = Grid(box_wkt, (xmin, xmax - xmin, 0.0, ymax, 0.0, ymin - ymax), 1, 1)
        xmin, ymin, xmax, ymax = box.extent_in(wkt)
    xmin, ymin = _snap_down(xmin, res), _snap_down(ymin, res)
    xmax, ymax = _snap_up(xmax, res), _snap_up(ymax, res)
    width, height = int(round((xmax - xmin) / res)), int(round((ymax - ymin) / res))
    return Grid(wkt, (xmin, res, 0.0, ymax, 0.0, -res), width, height).check_size(
        f"The target grid (resolution {res:g} over the extent {_describe_extent((xmin, ymin, xmax, ymax))})")


# -- alignment --------------------------------------------------------------------------------------

@dataclass
class _Source:
    path: str
    ds: gdal.Dataset
    grid: Grid
    names: list[str]
    kinds: list[str]
    refine: bool = False


def _source_pixel_size(src: Grid, target: Grid) -> float:
    """Size (geometric mean of x and y) of one source pixel in target CRS units, near the scene center.

    The scene center is the target grid's center (moved inside the source extent if needed).
    """
    sx, sy = src.res
    to_src = osr.CoordinateTransformation(target.srs, src.srs)
    to_tgt = osr.CoordinateTransformation(src.srs, target.srs)
    txmin, tymin, txmax, tymax = target.extent
    cx, cy = to_src.TransformPoint((txmin + txmax) / 2, (tymin + tymax) / 2)[:2]
    xmin, ymin, xmax, ymax = src.extent
    if not (math.isfinite(cx) and math.isfinite(cy)):
        cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    cx = min(max(cx, xmin + sx / 2), xmax - sx / 2)
    cy = min(max(cy, ymin + sy / 2), ymax - sy / 2)
    pts = np.array(to_tgt.TransformPoints([(cx, cy), (cx + sx, cy), (cx, cy + sy)]), dtype=np.float64)[:, :2]
    dx = float(np.hypot(*(pts[1] - pts[0])))
    dy = float(np.hypot(*(pts[2] - pts[0])))
    if math.isfinite(dx) and math.isfinite(dy) and dx > 0 and dy > 0:
        return math.sqrt(dx * dy)
    exmin, eymin, exmax, eymax = src.extent_in(target.crs_wkt)
    return math.sqrt((exmax - exmin) / src.width * (eymax - eymin) / src.height)


def _describe_extent(ext: tuple[float, float, float, float]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in ext) + ")"


def _open_sources(inputs: Sequence[str], grid: Grid, categorical: set[str]) -> list[_Source]:
    sources = []
    for path in inputs:
        ds = raster.open_raster(path)
        sgrid = Grid.from_dataset(ds, path)
        if not grid.overlaps(sgrid):
            raise InputError(f"{path} does not overlap the target grid: its extent in the target CRS is "
                             f"{_describe_extent(sgrid.extent_in(grid.crs_wkt))}, the grid's is "
                             f"{_describe_extent(grid.extent)} (xmin, ymin, xmax, ymax). Give rasters that cover "
                             "the area, or choose another reference/extent.")
        names = raster.band_names(ds, path)
        # units that would be refused later (train, screen, downscale) are named here, with the file to fix
        lst = [i for i, n in enumerate(names, start=1) if is_lst(n)]
        index = [i for i, n in enumerate(names, start=1) if is_index(n)]
        for i, values in zip(lst + index, sample_bands(ds, lst + index)):
            if i in lst:
                check_lst_fill(names[i - 1], values, path)
            else:
                check_index_factor(names[i - 1], values, path)
        kinds = [CATEGORICAL if (k == CATEGORICAL or n.lower() in categorical or is_land_cover(n)) else CONTINUOUS
                 for n, k in zip(names, raster.band_kinds(ds))]
        tgt_size = math.sqrt(grid.res[0] * grid.res[1])
        refine = tgt_size < _source_pixel_size(sgrid, grid) * (1 - 1e-6)
        sources.append(_Source(path, ds, sgrid, names, kinds, refine))
    return sources


def _check_duplicates(sources: Sequence[_Source]) -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for s in sources:
        for n in s.names:
            where[n].append(os.path.basename(s.path))
    dups = {n: files for n, files in where.items() if len(files) > 1}
    if dups:
        listing = "; ".join(f"'{n}' in {', '.join(files)}" for n, files in dups.items())
        raise InputError(f"Factor names must be unique, but these occur more than once: {listing}. A factor is "
                         "named after its band description, or the file name without its date; give each raster "
                         "a distinct name (or band descriptions), and do not give the same raster twice.")


#: Categorical factor names the align form proposes; they may match no input (a scene without land cover).
DEFAULT_CATEGORICAL = ("landcover",)


def _check_categorical_names(cats: set[str], sources: Sequence[_Source]) -> None:
    """Refuse categorical names matching no factor: the factor meant (e.g. 'LC_Type1' written 'lc') would be
    resampled as a continuous value, averaging class codes."""
    names = [n for s in sources for n in s.names]
    lowered = {n.lower() for n in names}
    unknown = sorted(c for c in cats if c not in lowered and c not in DEFAULT_CATEGORICAL)
    if unknown:
        raise InputError(f"The categorical factor name(s) {', '.join(unknown)} match no factor of the inputs (their "
                         f"names: {', '.join(names)}). Write the names as listed (a band description, or the file name "
                         "without its date), or leave them out; a class band not named here is resampled as a "
                         "continuous value, averaging its class codes.")


def _nodata_spec(band: gdal.Band) -> str | None:
    nd = band.GetNoDataValue()
    if nd is not None:
        return "nan" if math.isnan(nd) else repr(float(nd))
    if band.DataType in (gdal.GDT_Float32, gdal.GDT_Float64):
        return "nan"  # NaN in a float band without a nodata value is nodata, not a number to average
    return None


def _warp(src: _Source, bands: list[int], method: str, nodata: str | None,
          grid: Grid) -> tuple[gdal.Dataset, gdal.Dataset]:
    """A lazily computed warped VRT of the given 1-based bands of ``src`` on ``grid`` (float32, NaN nodata).

    Returns (the dataset it reads, which must outlive it; the warped VRT).
    """
    ds = src.ds
    if bands != list(range(1, ds.RasterCount + 1)):
        ds = gdal.Translate("", ds, format="VRT", bandList=bands)
    kwargs = {}
    if nodata is not None:
        kwargs["srcNodata"] = " ".join([nodata] * len(bands))
    xmin, ymin, xmax, ymax = grid.extent
    warped = gdal.Warp("", ds, format="VRT", outputBounds=(xmin, ymin, xmax, ymax), width=grid.width,
                       height=grid.height, dstSRS=grid.crs_wkt, resampleAlg=method, outputType=gdal.GDT_Float32,
                       dstNodata="nan", overviewLevel="NONE", multithread=True,
                       warpOptions=["UNIFIED_SRC_NODATA=NO", "NUM_THREADS=ALL_CPUS"], **kwargs)
    return ds, warped


@raster.gdal_exceptions()
def align_rasters(inputs: Sequence[str], grid: Grid, output: str, categorical: set[str] | None = None,
                  progress: Progress = no_progress, is_canceled: IsCanceled = never_canceled,
                  protected: Mapping[str, Any] | None = None) -> AlignResult:
    """Write every band of ``inputs`` as one band of a float32 GeoTIFF on ``grid``.

    ``categorical`` names factors to treat as classes (besides bands marked SMD_KIND=categorical or
    carrying a colour table / attribute table, and bands named like a land cover product, :func:`is_land_cover`).
    Raises InputError for missing, CRS-less or
    non-overlapping inputs, duplicate factor names and bands left without any valid pixel.

    Parameters
    ----------
    inputs
        Factor rasters (read-only); every band becomes one band of the stack.
    grid
        The target grid (:func:`reference_grid`).
    output
        The stack to write (GeoTIFF, written atomically).
    categorical
        Factor names to treat as classes (nearest neighbour, 0/1 fractions later).
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).
    protected
        Other files the output must not be (label -> path), for :func:`.paths.check_apart`.

    Returns
    -------
    AlignResult
        The output path, its grid, the band names, kinds, resampling and sources, and each band's valid fraction.

    Raises
    ------
    InputError
        No input, an unreadable or CRS-less input, a categorical name matching no factor, a warp that fails, or
        a band that holds no valid pixel on the grid.
    Canceled
        ``is_canceled()`` became true; nothing is left under the output's name.
    """
    if not inputs:
        raise InputError("No input rasters were given; choose at least one factor raster.")
    check_apart({"raster": output}, {"raster": list(inputs), **(protected or {})})
    check_file_name("raster", output, *GEOTIFF)
    grid.check_size("The target grid")
    cats = {c.strip().lower() for c in (categorical or set()) if c.strip()}
    sources = _open_sources(inputs, grid, cats)
    _check_duplicates(sources)
    _check_categorical_names(cats, sources)

    names: list[str] = []
    kinds: list[str] = []
    methods: list[str] = []
    paths: list[str] = []
    # Each warp covers the bands of one source sharing a method and a nodata value; ``slots`` are
    # the output band indices (0-based) its bands go to.
    warps: list[tuple[gdal.Dataset, list[int]]] = []
    keep: list[gdal.Dataset] = []
    for src in sources:
        groups: dict[tuple[str, str | None], list[int]] = defaultdict(list)
        for b, kind in enumerate(src.kinds, start=1):
            method = RESAMPLING[kind][0 if src.refine else 1]
            groups[(method, _nodata_spec(src.ds.GetRasterBand(b)))].append(b)
            names.append(src.names[b - 1])
            kinds.append(kind)
            methods.append(method)
            paths.append(src.path)
        first = len(names) - len(src.kinds)
        for (method, nodata), bands in groups.items():
            if is_canceled():
                raise Canceled()
            subset, warped = _warp(src, bands, method, nodata, grid)
            keep.append(subset)
            warps.append((warped, [first + b - 1 for b in bands]))

    nbands = len(names)
    rows = raster.block_rows_for(grid.width, nbands)
    if rows > _VRT_BLOCK_ROWS:
        rows -= rows % _VRT_BLOCK_ROWS
    rows = max(1, min(rows, grid.height))
    valid = np.zeros(nbands, dtype=np.int64)
    with raster.atomic_path(output) as tmp:
        out = raster.create_geotiff(tmp, grid, nbands, names=names, kinds=kinds,
                                    metadata={"SMD_RESAMPLING": ",".join(methods)})
        try:
            block = np.empty((nbands, rows, grid.width), dtype=np.float32)
            for row0, nrows in raster.iter_blocks(grid.height, rows, progress, is_canceled):
                view = block[:, :nrows]
                for ds, slots in warps:
                    try:
                        view[slots] = raster.read_block(ds, row0, nrows, sources=[paths[slots[0]]])
                    except RuntimeError as exc:
                        raise InputError(f"Warping failed ({exc}); check that the inputs are readable and their "
                                         "coordinate systems can be transformed into the target CRS.") from exc
                valid += np.isfinite(view).reshape(nbands, -1).sum(axis=1)
                raster.write_block(out, row0, view)
                if (row0 + nrows) % _TILE_ROWS == 0:
                    # whole output tile rows are done: release GDAL's block cache (output tiles, warped
                    # and source blocks), so memory does not grow with the extent
                    for cached in [out] + [w for w, _ in warps] + keep + [s.ds for s in sources]:
                        cached.FlushCache()
            out.FlushCache()
        finally:
            out = None  # closed before the temporary file is renamed or removed
        # a date's LST under cloud, or radar without an overpass, is missing everywhere and stays so in the stack
        # (downscale takes it from neighbouring dates; training leaves the date's cells out); a static factor, or
        # every band, missing everywhere is the wrong file or extent
        empty = [f"'{n}' ({os.path.basename(p)})" for n, p, v in zip(names, paths, valid)
                 if v == 0 and (not may_miss_a_whole_date(n) or not valid.any())]
        if empty:
            raise InputError(f"After alignment these bands hold no valid pixel on the target grid: {', '.join(empty)}. "
                             "They are all nodata over the grid's extent; remove them or choose another extent.")
    fractions = [float(v) / grid.size for v in valid]
    return AlignResult(output, grid, names, kinds, methods, paths, fractions)


def may_miss_a_whole_date(name: str) -> bool:
    """Whether a factor is an observation a date may lack at every pixel of an area: a temperature or what is computed
    from one (clouds), a vegetation index or albedo (clouds), radar backscatter or its incidence angle (no overpass
    that day), by its name.

    Parameters
    ----------
    name : str
        The factor (band) name.

    Returns
    -------
    bool
        True for LST and other temperatures, vegetation indices, albedo, radar backscatter and its angle.
    """
    return is_lst(name) or is_index(name) or bool(_OVERPASS_RE.search(name.lower()))


# -- fine to coarse ---------------------------------------------------------------------------------

class _CoarseMode:
    """Accumulates, per coarse cell, pixel counts of each class; gives the majority class."""

    def __init__(self, index: CellIndex, nbands: int) -> None:
        self.index = index
        self.counts: list[dict[float, np.ndarray]] = [{} for _ in range(nbands)]

    def add(self, row0: int, block: np.ndarray, idx: np.ndarray) -> None:
        n = self.index.coarse.size
        inside = idx >= 0
        for k in range(block.shape[0]):
            v = block[k].ravel()
            ok = inside & np.isfinite(v)
            classes, inverse = np.unique(v[ok], return_inverse=True)
            per_class = np.bincount(inverse * n + idx[ok], minlength=classes.size * n).reshape(classes.size, n)
            for cls, counts in zip(classes.tolist(), per_class):
                if cls in self.counts[k]:
                    self.counts[k][cls] += counts
                else:
                    self.counts[k][cls] = counts.astype(np.int64)

    def result(self, full_count: float, min_valid_fraction: float) -> np.ndarray:
        """(bands, H, W) majority class (ties: the smallest class), NaN below the valid fraction."""
        h, w = self.index.coarse.height, self.index.coarse.width
        out = np.full((len(self.counts), h * w), np.nan)
        for k, per_class in enumerate(self.counts):
            if not per_class:
                continue
            classes = np.array(sorted(per_class))
            counts = np.stack([per_class[c] for c in classes.tolist()])
            valid = counts.sum(axis=0)
            best = classes[np.argmax(counts, axis=0)]
            frac = np.minimum(valid / max(full_count, 1.0), 1.0)
            keep = (valid > 0) & (frac >= min_valid_fraction)
            out[k, keep] = best[keep]
        return out.reshape((-1, h, w))


@raster.gdal_exceptions()
def aggregate_stack(fine_stack: str, coarse_grid: Grid, output: str, min_valid_fraction: float = 0.5,
                    progress: Progress = no_progress, is_canceled: IsCanceled = never_canceled,
                    protected: Mapping[str, Any] | None = None) -> str:
    """Write the coarse version of a fine stack on ``coarse_grid``.

    Per coarse cell: the mean of the valid fine pixels whose centers fall in the cell (the majority
    class for categorical bands), or nodata where the valid fraction is below ``min_valid_fraction``.
    Band names and SMD_KIND are kept; the fine stack's resolution is recorded (``SMD_FINE_RESOLUTION``), so a model
    trained on the coarse stack knows the resolution it is to be applied at.

    Parameters
    ----------
    fine_stack
        The fine factor stack (read-only).
    coarse_grid
        SMAP's grid (or any coarser grid).
    output
        The coarse stack to write (GeoTIFF, written atomically).
    min_valid_fraction
        Least share of valid fine pixels for a cell to get a value.
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).
    protected
        Other files the output must not be (label -> path).

    Returns
    -------
    str
        ``output``.

    Raises
    ------
    InputError
        The valid fraction is outside 0..1, the stack does not overlap the coarse grid or has larger pixels
        than it, or no fine pixel center falls in it.
    Canceled
        ``is_canceled()`` became true; nothing is left under the output's name.
    """
    if not 0.0 <= min_valid_fraction <= 1.0:
        raise InputError(f"The minimum valid fraction must lie between 0 and 1 (got {min_valid_fraction}).")
    check_apart({"coarse raster": output}, {"fine stack": fine_stack, **(protected or {})})
    check_file_name("coarse raster", output, *GEOTIFF)
    coarse_grid.check_size("The coarse grid", "Give the coarse raster (e.g. SMAP at 9 km) as the coarse reference.",
                           raster.MAX_COARSE_PIXELS)
    ds = raster.open_raster(fine_stack)
    fine = Grid.from_dataset(ds, fine_stack)
    if not coarse_grid.overlaps(fine):
        raise InputError(f"The fine stack {fine_stack} does not overlap the coarse grid (extents "
                         f"{_describe_extent(fine.extent_in(coarse_grid.crs_wkt))} and "
                         f"{_describe_extent(coarse_grid.extent)} in the coarse CRS); give the coarse raster "
                         "of the same area.")
    fine_size = _source_pixel_size(fine, coarse_grid)
    if math.sqrt(coarse_grid.res[0] * coarse_grid.res[1]) < fine_size * (1 - 1e-6):
        raise InputError("The coarse reference has smaller pixels than the fine stack; give the coarse raster "
                         "(e.g. SMAP) as the coarse reference and the fine factors as the stack.")
    names = raster.band_names(ds, fine_stack)
    kinds = [CATEGORICAL if k == CATEGORICAL else CONTINUOUS for k in raster.band_kinds(ds)]
    cont = [i for i, k in enumerate(kinds) if k == CONTINUOUS]
    cat = [i for i, k in enumerate(kinds) if k == CATEGORICAL]
    index = CellIndex(fine, coarse_grid)
    means = CoarseMean(index, len(cont))
    modes = _CoarseMode(index, len(cat))
    rows = raster.block_rows_for(fine.width, ds.RasterCount + 2)
    for row0, nrows in raster.iter_blocks(fine.height, rows, progress, is_canceled, 0.0, 0.95):
        block = raster.read_block(ds, row0, nrows)
        means.add(row0, block[cont])  # also counts the pixels of every cell (the valid-fraction base)
        if cat:
            modes.add(row0, block[cat], index.rows(row0, nrows).ravel())
    if means.total.sum() == 0:
        raise InputError(f"No pixel center of {fine_stack} falls inside the coarse grid; give the coarse raster "
                         "of the same area.")
    data = np.full((len(kinds), coarse_grid.height, coarse_grid.width), np.nan)
    if cont:
        data[cont] = means.mean(min_valid_fraction)
    if cat:
        data[cat] = modes.result(means.full_count(), min_valid_fraction)
    if is_canceled():
        raise Canceled()
    raster.write_raster(output, coarse_grid, data, names=names, kinds=kinds,
                        metadata={"SMD_MIN_VALID_FRACTION": f"{min_valid_fraction:g}",
                                  raster.FINE_RESOLUTION_KEY: json.dumps(raster.resolution_record(fine))})
    progress(1.0)
    return output
