"""Apply a trained model to a 1 km factor stack, with residual correction against coarse SMAP.

Factors are matched to the model's inputs by band name, never by position. The stack is read in
row blocks (memory stays bounded for any extent). Pixels where every factor is valid are predicted
in pass 1; pixels missing factors are filled from the coarse-cell means of those factors, or get the
coarse field where no factor is observed (:mod:`gapfill`, needs the SMAP raster), each flagged in the
optional quality raster.

Residual correction makes the 1 km field conserve the coarse soil moisture ('smooth' is the default):
pass 1 predicts every block, writes the raw prediction to a temporary GeoTIFF and accumulates, per
SMAP cell, the mean of the predictions of its valid pixels (:mod:`aggregate`: a pixel belongs to
the cell containing its center). The residual of a cell is SMAP minus that mean; pass 2 adds each
cell's residual to its pixels, so the mean of the 1 km values of every cell equals the SMAP value
exactly (before clipping to the physical range). Pixels whose cell has no SMAP value (nodata or
outside the SMAP raster) have nothing to conserve; their count is reported. 'constant' adds the cell's
residual to each of its pixels (seams at cell edges) and leaves pixels in cells without SMAP as predicted;
'smooth', the default, an interpolated residual surface (no seams: the bench's seam ratio is close to the
truth's), solved so that every cell's mean still equals SMAP, which continues into cells without SMAP and
fades out over a cell or two, so no step bounds them (:mod:`residual`). Beyond a SMAP raster smaller than the
stack the SMAP lattice continues with cells without a value (:func:`cover_stack`), so they are treated alike.
Derived factors the model uses (:mod:`derived`) are recomputed from the stack.

The within-cell detail is the contrast detail by default (:mod:`detail`, ``detail='contrast'``): pass 1 also keeps
the linear contrast model's field in a second temporary raster and accumulates its cell means; pass 2 writes the
model's interpolated cell means plus that field minus its interpolated cell means, residual-corrected. ``'model'``
keeps the model's own 1 km prediction.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from . import detail as contrast_detail
from . import inference, native, options, raster
from .aggregate import CellIndex
from .dates import date_from_name
from .derived import StackReader
from .errors import Canceled, InputError, ModelFileError
from .features import CATEGORICAL, FactorSpec, feature_names, fine_design
from .gapfill import (
    ALL_FACTORS,
    COARSE_ONLY,
    FILLED,
    FROM_OTHER_DATE,
    QUALITY_BAND,
    QUALITY_CLASSES,
    QUALITY_NODATA,
    GapFiller,
    TemporalFill,
    check_method,
    check_window,
)
from .model_io import FACTOR_SUMMARY_META, FINE_RESOLUTION_META, load_compiled, load_model, load_trees
from .paths import GEOTIFF, check_apart, check_file_name
from .raster import Grid, IsCanceled, Progress, gdal_exceptions, never_canceled, no_progress
from .residual import RESIDUAL_MODES, ResidualCorrector, check_mode
from .units import (
    READING_NODATA_KEY,
    READING_SCALE_KEY,
    REFUSE_CLIPPED,
    SM_HARD_MAX,
    SM_HARD_MIN,
    SOURCE_KEY,
    WARN_CLIPPED,
    SmReading,
    check_factor_scale,
    check_index_factor,
    check_lst_factor,
    check_lst_fill,
    is_index,
    is_lst,
    read_soil_moisture,
    sample_bands,
)

__all__ = ["RESIDUAL_MODES", "DownscaleResult", "check_detail", "downscale", "reuse_models"]
BAND_NAME = "soil_moisture"
UNITS = "m3/m3"
#: Band of the optional uncertainty raster: the standard deviation of the trees' predictions.
SPREAD_BAND_NAME = "soil_moisture_tree_sd"


@dataclass
class DownscaleResult:
    """Statistics of a downscaled raster (values after clipping; m3/m3)."""

    output: str
    n_valid: int
    mean: float
    std: float
    min: float
    max: float
    residual: str
    model_type: str
    date: str | None = None
    #: Mean |SMAP - mean of the cell's raw predictions| over corrected cells (NaN without correction).
    mean_abs_residual: float = math.nan
    #: Largest |mean of the corrected 1 km values of a cell - SMAP| (before clipping): rounding only.
    max_cell_deviation: float = math.nan
    #: The same for the values written, after clipping to the physical range, and the cells clipping moved more than
    #: :data:`.residual.CLIPPED_CELL_TOLERANCE` off SMAP (clipped pixels keep the clipped amount off their cell).
    max_cell_deviation_written: float = math.nan
    n_cells_off_after_clipping: int = 0
    n_cells_corrected: int = 0
    #: Valid pixels whose cell has no SMAP value, also beyond a SMAP raster smaller than the stack (nothing to
    #: conserve): left as predicted by 'constant'; 'smooth' and 'atpk' give them the fading surface of the
    #: neighbouring cells.
    n_uncorrected: int = 0
    #: Pixels moved to the clip range.
    n_clipped: int = 0
    #: The within-cell detail (:data:`.options.DETAIL_MODES`): 'model' or 'contrast'.
    detail: str = "model"
    #: How the model predicted: 'compiled tree walker' or 'scikit-learn'.
    prediction_backend: str = ""
    #: For a tree model predicted by scikit-learn (an SVR by numpy): why the compiled library was not used.
    prediction_note: str = ""
    #: Smooth residual correction: iterations, and the largest per-cell residual left to a constant step.
    smooth_iterations: int = 0
    smooth_max_leftover: float = math.nan
    #: Share of the valid pixels moved to the clip range.
    clipped_fraction: float = 0.0
    #: How the SMAP of residual correction was read (scale, nodata); '' as stored or without correction.
    sm_reading: str = ""
    #: Warnings for the log (e.g. many pixels clipped).
    warnings: list[str] = field(default_factory=list)
    #: Gap-free prediction (:mod:`gapfill`): pixels per quality path, and pixels filled per factor.
    n_all_factors: int = 0
    n_filled: int = 0
    n_coarse_only: int = 0
    filled_factors: dict[str, int] = field(default_factory=dict)
    #: Temporal filling: pixels whose factors came partly from a neighbouring date, the values taken per factor
    #: and the dates that gave them (ISO): only values that entered the map (with gap filling, with a weight above
    #: 0; without it, completing a pixel).
    n_from_other_date: int = 0
    other_date_factors: dict[str, int] = field(default_factory=dict)
    other_dates: list[str] = field(default_factory=list)
    #: With gap filling: per factor that missed somewhere, the weight of the neighbouring dates' values against the
    #: gap filler's own over all patterns of missing factors together (:meth:`.gapfill.GapFiller.factor_weights`,
    #: measured on observed pixels; each pattern is weighed by its own).
    other_date_weights: dict[str, float] = field(default_factory=dict)
    #: The quality raster written ('' without).
    quality: str = ""
    #: The uncertainty raster (standard deviation across the trees, m3/m3) and its mean; '' when not asked for.
    uncertainty: str = ""
    mean_tree_sd: float = math.nan

    def as_dict(self) -> dict[str, Any]:
        """The result as a plain dict (for reports and Processing outputs).

        Returns
        -------
        dict[str, Any]
            The fields by name.
        """
        return asdict(self)


class _Stats:
    """Streaming n, mean, std, min, max of the written values."""

    def __init__(self) -> None:
        self.n = 0
        self.s = 0.0
        self.ss = 0.0
        self.lo = math.inf
        self.hi = -math.inf
        self.shift: float | None = None

    def add(self, v: np.ndarray) -> None:
        v = v[np.isfinite(v)].astype(np.float64)
        if not v.size:
            return
        if self.shift is None:
            self.shift = float(v[0])
        d = v - self.shift
        self.n += v.size
        self.s += float(d.sum())
        self.ss += float(np.dot(d, d))
        self.lo = min(self.lo, float(v.min()))
        self.hi = max(self.hi, float(v.max()))

    def result(self) -> tuple[float, float, float, float]:
        if self.n == 0:
            return math.nan, math.nan, math.nan, math.nan
        m = self.s / self.n
        var = max(0.0, self.ss / self.n - m * m)
        return (self.shift or 0.0) + m, math.sqrt(var), self.lo, self.hi


class _Writer:
    """A one-band float32 GeoTIFF being written; the only holder of its GDAL dataset, so close() really closes."""

    def __init__(self, path: str, grid: Grid, name: str, metadata: dict[str, str] | None = None) -> None:
        self.ds = raster.create_geotiff(path, grid, 1, names=[name], metadata=metadata)
        self.ds.GetRasterBand(1).SetUnitType(UNITS)

    def write(self, row0: int, values: np.ndarray) -> None:
        raster.write_block(self.ds, row0, values)

    def close(self) -> None:
        if self.ds is not None:
            self.ds.FlushCache()
            self.ds = None


class _SpreadWriter(_Writer):
    """The uncertainty raster, written in the main pass beside the map: the trees' standard deviation at the
    pixels predicted from all their factors (NaN elsewhere), with the running statistics of what was written."""

    def __init__(self, path: str, grid: Grid, metadata: dict[str, str]) -> None:
        super().__init__(path, grid, SPREAD_BAND_NAME, metadata)
        self.stats = _Stats()

    def add(self, row0: int, valid: np.ndarray, sd: np.ndarray | None) -> None:
        block = np.full(valid.shape, np.nan, dtype=np.float32)
        if sd is not None:
            block[valid] = sd.astype(np.float32)
        self.stats.add(block)
        self.write(row0, block)


class _QualityWriter:
    """The Byte quality raster (:mod:`gapfill` codes, 0 = nodata), with the class names in the band."""

    def __init__(self, path: str, grid: Grid, metadata: dict[str, str] | None = None) -> None:
        from osgeo import gdal

        self.ds = raster.create_geotiff(path, grid, 1, dtype=gdal.GDT_Byte, nodata=QUALITY_NODATA,
                                        names=[QUALITY_BAND], metadata=metadata)
        names = [""] * (max(QUALITY_CLASSES) + 1)
        for code, label in QUALITY_CLASSES.items():
            names[code] = label
        self.ds.GetRasterBand(1).SetCategoryNames(names)
        self.counts = np.zeros(256, dtype=np.int64)

    def write(self, row0: int, codes: np.ndarray) -> None:
        codes = codes.astype(np.uint8)
        self.counts += np.bincount(codes.ravel(), minlength=256)
        raster.write_block(self.ds, row0, codes, nodata=QUALITY_NODATA)

    def close(self) -> None:
        if self.ds is not None:
            self.ds.FlushCache()
            self.ds = None


class _BlockCellIndex(CellIndex):
    """CellIndex remembering the cells of each row block (up to ``max_bytes``, plus always the last block),
    so the two passes transform every block's pixel centers once."""

    def __init__(self, fine: Grid, coarse: Grid, max_bytes: int = 64 * 2**20) -> None:
        super().__init__(fine, coarse)
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self._bytes = 0
        self._max = max_bytes
        self._last: tuple[tuple[int, int], np.ndarray] | None = None

    def rows(self, row0: int, nrows: int) -> np.ndarray:
        key = (row0, nrows)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        hit = self._cache.get(key)
        if hit is None:
            hit = super().rows(row0, nrows)
            if self.coarse.size < 2**31:
                hit = hit.astype(np.int32)
            hit.setflags(write=False)
            if self._bytes + hit.nbytes <= self._max:
                self._cache[key] = hit
                self._bytes += hit.nbytes
        self._last = (key, hit)
        return hit


#: Target size of the factors and design matrix of one block (bytes).
BLOCK_BYTES = 64 * 2**20
#: Tile height of the GeoTIFFs the engine writes (GDAL's default for TILED=YES).
TILE_ROWS = 256


def _tile_unit(ds: Any) -> int:
    """Rows after which both the stack's blocks and the written tiles are complete."""
    height = int(ds.GetRasterBand(1).GetBlockSize()[1]) or 1
    unit = TILE_ROWS * height // math.gcd(TILE_ROWS, height)
    return unit if unit <= 4 * TILE_ROWS else TILE_ROWS


def _tile_rows(rows: int, unit: int) -> int:
    """``rows`` brought to a multiple of ``unit``, or to a divisor of it when smaller."""
    if rows >= unit:
        return rows - rows % unit
    for d in range(max(1, rows), 0, -1):
        if unit % d == 0:
            return d
    return 1


_reuse = threading.local()


@contextlib.contextmanager
def reuse_models() -> Iterator[None]:
    """Within this block (in this thread), each model file is loaded once and reused by every
    :func:`downscale` call while the file is unchanged: a series of dates pays the load once. Likewise a factor
    stack whose units passed :func:`check_factor_units` is not sampled again while unchanged (in a series each
    stack is checked as its own date and as a neighbouring date of up to :data:`.gapfill.MAX_NEIGHBOUR_DATES`
    others; each check reads a sample spread over the whole file)."""
    outer = getattr(_reuse, "models", None)
    if outer is None:
        _reuse.models = {}
        _reuse.units = {}
    try:
        yield
    finally:
        if outer is None:
            _reuse.models = None
            _reuse.units = None


def _file_key(path: str) -> tuple[str, int, int] | None:
    """The identity of a file while unchanged (real path, size, modification time); None when it is not a file."""
    if not os.path.isfile(path):
        return None
    st = os.stat(path)
    return os.path.realpath(path), st.st_size, st.st_mtime_ns


def _load_predictor(model_path: str) -> tuple[inference.Predictor, dict[str, Any]]:
    # tree models go straight from the file into the compiled walker's arrays (a fraction of the time and
    # memory of building the scikit-learn objects); everything else is loaded with skops
    if native.available():
        found = load_compiled(model_path)
        if found is not None:
            return inference.Predictor.from_compiled(found[0]), found[1]
    else:
        # scikit-learn trees built one at a time: the same values, a third of the memory of a skops load
        trees = load_trees(model_path)
        if trees is not None:
            return inference.Predictor.from_trees(trees[0]), trees[1]
    estimator, meta = load_model(model_path)
    return inference.Predictor(estimator), meta


def _load(model_path: str) -> tuple[inference.Predictor, dict[str, Any]]:
    """The model ready to predict, and its metadata (loaded once per file within :func:`reuse_models`)."""
    cache = getattr(_reuse, "models", None)
    key = _file_key(model_path) if cache is not None else None
    if cache is None or key is None:
        return _load_predictor(model_path)
    if key not in cache:
        cache.clear()  # one model at a time
        cache[key] = _load_predictor(model_path)
    return cache[key]


def _specs_of(meta: dict[str, Any], model_path: str) -> list[FactorSpec]:
    try:
        specs = [FactorSpec.from_dict(d) for d in meta["factors"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"The model file {model_path} does not list its factors; retrain the model with "
                             "smdownscale:train.") from exc
    if not specs:
        raise ModelFileError(f"The model file {model_path} lists no factor; retrain the model with smdownscale:train.")
    features = meta.get("features")
    if features is not None and list(features) != feature_names(specs):
        raise ModelFileError(f"The model file {model_path} is inconsistent (its feature list does not match its "
                             "factors); retrain the model with smdownscale:train.")
    return specs


def _raw_path(output: str) -> str:
    # named like raster.atomic_path's temporary files, so a rerun removes one left by a killed process
    return raster.partial_name(output, "raw")


def _move(path: str, target: str) -> None:
    """Rename a GeoTIFF written under a temporary name (and its .aux.xml, if GDAL wrote one)."""
    os.replace(path, target)
    if os.path.exists(path + ".aux.xml"):
        os.replace(path + ".aux.xml", target + ".aux.xml")


def _remove(path: str) -> None:
    for p in (path, path + ".aux.xml"):
        with contextlib.suppress(OSError):
            os.remove(p)


def model_reading(meta: dict[str, Any], scale: float | None, nodata: float | None) -> SmReading:
    """How to read the SMAP of residual correction: the given scale and nodata, else those the model was trained
    with (``meta['soil_moisture_input']``; scale 1 and the file's nodata for older models).

    Parameters
    ----------
    meta : dict[str, Any]
        The model's metadata.
    scale : float or None
        The SMAP scale factor to m3/m3 given by the user (None: the model's).
    nodata : float or None
        An undeclared SMAP nodata value given by the user (None: the model's).

    Returns
    -------
    SmReading
        The scale and nodata to apply.
    """
    trained = meta.get("soil_moisture_input") or {}
    if scale is None:
        scale = trained.get("scale", 1.0)
    if nodata is None:
        nodata = trained.get("nodata")
    return SmReading(float(scale), None if nodata is None else float(nodata))


def check_model_target(meta: dict[str, Any], model_path: str) -> None:
    """Refuse a model trained on soil moisture that was not in m3/m3 (made before the units were checked).

    Parameters
    ----------
    meta : dict[str, Any]
        The model's metadata (``target_range``; a model without it is not checked).
    model_path : str
        The model file, named in the error.

    Raises
    ------
    InputError
        The model's training target range is not soil moisture in m3/m3 (retrain it).
    """
    rng = meta.get("target_range")
    try:
        lo, hi = float(rng[0]), float(rng[1])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        return
    if lo < SM_HARD_MIN or hi > SM_HARD_MAX:
        raise InputError(f"The model {os.path.basename(model_path)} was trained on soil moisture from {lo:.4g} to "
                         f"{hi:.4g}, which is not m3/m3, so its predictions would not be either. Retrain it with "
                         "the SMAP values in m3/m3 (SM_SCALE=0.01 for SMAP in percent, SM_NODATA for an undeclared "
                         "fill value).")


def check_factor_units(ds: Any, stack_path: str, specs: list[FactorSpec], meta: dict[str, Any],
                       derived: dict[str, Any]) -> list[str]:
    """Refuse NDVI-like factors outside -1..1, LST in other units than the model was trained on or with a fill value,
    any other continuous factor in decibels for a model trained on linear power or the reverse, and land cover mostly
    in classes the model never saw (on the pixels where every factor read from the stack is observed, as training
    counts them); warn of a minority of such classes, and of a continuous factor whose values lie
    far from the training values (:func:`.units.check_factor_scale`, for models that record their factors'
    percentiles) (within :func:`reuse_models`, once per unchanged stack and set of factors).

    Parameters
    ----------
    ds : Any
        The open factor stack (a ``gdal.Dataset``).
    stack_path : str
        Its path, named in errors.
    specs : list[FactorSpec]
        The model's factors.
    meta : dict[str, Any]
        The model's metadata (``feature_ranges``, ``factor_percentiles``).
    derived : dict[str, Any]
        The derived factors computed from the stack (not checked: their inputs are).

    Returns
    -------
    list[str]
        Warnings for the log: land cover pixels in classes the model never saw (fewer than
        :data:`UNSEEN_CLASSES_REFUSED`), a factor whose values lie far from the training values (other units,
        another area or season: :func:`.units.check_factor_scale`).

    Raises
    ------
    InputError
        An NDVI-like factor outside -1..1, LST in other units than in training, a factor in decibels against linear
        power, or a categorical factor whose pixels are mostly of classes the model never saw (another land-cover
        product or legend).
    """
    bands = raster.band_names(ds, stack_path)
    ranges = meta.get("feature_ranges") or {}
    summary = meta.get(FACTOR_SUMMARY_META)
    summary = summary if isinstance(summary, dict) else {}
    passed = getattr(_reuse, "units", None)  # within reuse_models: stacks already checked for these factors
    file_key = _file_key(stack_path) if passed is not None else None
    key = (file_key, tuple((s.name, tuple(ranges.get(s.name) or ()), tuple(summary.get(s.name) or ()))
                           for s in specs), tuple(sorted(derived)))
    if file_key is not None and key in passed:
        return list(passed[key])
    # every factor read from the stack (one read for all): a class counts where all of them are observed, as in
    # training, so water whose NDVI or LST is always masked is no unseen class; a factor missing at every pixel (the
    # radar of a date without an overpass, taken from the neighbouring dates) is left out of that
    present = [spec for spec in specs if spec.name not in derived and spec.name in bands]
    read = sample_bands(ds, [bands.index(spec.name) + 1 for spec in present])
    observed = None
    if read:
        has = np.isfinite(np.stack(read))
        observed = np.all(has | ~has.any(axis=tuple(range(1, has.ndim)), keepdims=True), axis=0)
    checked = [(spec, values) for spec, values in zip(present, read) if (
        spec.kind == "categorical" or is_index(spec.name) or is_lst(spec.name) or spec.name in summary)]
    warnings: list[str] = []
    for spec, values in checked:
        if spec.kind == "categorical":
            note = _check_classes(spec, values[observed], stack_path)
            if note:
                warnings.append(note)
            continue
        if is_index(spec.name):
            check_index_factor(spec.name, values, stack_path)
        if is_lst(spec.name):
            check_lst_fill(spec.name, values, stack_path)
        if is_lst(spec.name) and spec.name in ranges:
            check_lst_factor(spec.name, values, stack_path, ranges[spec.name])
        if spec.name in summary and not is_index(spec.name) and not is_lst(spec.name):
            # (the units of indices and LST are checked above; their values move with the season)
            note = check_factor_scale(spec.name, values, stack_path, summary[spec.name])
            if note:
                warnings.append(note)
    if file_key is not None:
        passed[key] = list(warnings)
    return warnings


#: Share of a land cover band's pixels in classes the model was not trained on that stops downscaling.
UNSEEN_CLASSES_REFUSED = 0.5


def _check_classes(spec: FactorSpec, values: np.ndarray, stack_path: str) -> str:
    """Refuse a land cover band whose pixels are mostly in classes the model never saw (another product's legend:
    each such pixel would get no class at all); a warning naming them when they are fewer."""
    codes = np.rint(values[np.isfinite(values)])
    if not codes.size or not spec.classes:
        return ""
    unseen = ~np.isin(codes, np.asarray(spec.classes, dtype=np.float64))
    if not unseen.any():
        return ""
    found_codes, counts = np.unique(codes[unseen], return_counts=True)
    known = ", ".join(str(int(c)) for c in spec.classes)
    share = float(unseen.mean())
    if share <= UNSEEN_CLASSES_REFUSED:
        order = np.argsort(-counts, kind="stable")[:12]
        each = ", ".join(f"{int(found_codes[k])} ({100.0 * counts[k] / codes.size:.1f} %)" for k in order)
        detail = f" and {found_codes.size - 12} more" if found_codes.size > 12 else ""
        message = (f"The land cover factor {spec.name} in {os.path.basename(stack_path)} has {_share(share)} % of its "
                   f"pixels in classes the model was not trained on: {each}{detail}; the model knows the classes "
                   f"{known}. Those pixels are read as missing land cover (a nodata code such as ESA WorldCover's 0 "
                   "is one): with gap filling they take the class fractions of their coarse cell and are coded "
                   "'missing factors filled', without it they stay empty. If these are real classes, align the land "
                   "cover the model was trained with into the stack, or retrain the model on data holding them.")
        return message
    found = ", ".join(f"{int(c)}" for c in found_codes[:12])
    raise InputError(
        f"The land cover factor {spec.name} in {os.path.basename(stack_path)} has {100.0 * share:.0f} % "
        f"of its pixels in classes the model was not trained on ({found}); the model knows the classes {known}. "
        "It was probably trained on another land cover product or legend (e.g. MODIS IGBP 1-17 against ESA CCI "
        "10-220): align the land cover the model was trained with into the stack, or retrain the model on this one.")


def _share(fraction: float) -> str:
    """A share in percent, with a decimal below 10 % (and never 0 for a non-zero share)."""
    pct = 100.0 * fraction
    return f"{pct:.0f}" if pct >= 10 else f"{max(pct, 0.1):.1f}"


#: A stack whose pixels are this many times larger or smaller (ground size, metres) than the training stacks' is
#: refused.
RESOLUTION_TOLERANCE = 1.5


def check_resolution(meta: dict[str, Any], grid: Grid, stack_path: str, model_path: str) -> None:
    """Refuse a factor stack at another resolution than the stacks the model was trained on (compared by the side of a
    pixel's ground area at each grid's centre, :meth:`.raster.Grid.ground_side`: degrees converted at its latitude,
    a sheared grid such as MODIS's sinusoidal one by its area; older models record none and are not checked).

    Parameters
    ----------
    meta : dict[str, Any]
        The model's metadata (``fine_resolution``, :func:`.raster.resolution_record`).
    grid : Grid
        The stack's grid.
    stack_path : str
        The stack, named in the error.
    model_path : str
        The model file, named in the error.

    Raises
    ------
    InputError
        The stack's pixels are more than :data:`RESOLUTION_TOLERANCE` times larger or smaller than the training
        stacks'.
    """
    trained = meta.get(FINE_RESOLUTION_META)
    try:
        model_m = raster.resolution_side(trained)  # type: ignore[arg-type]
        shown = raster.describe_resolution(trained)  # type: ignore[arg-type]
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        return
    if not (math.isfinite(model_m) and model_m > 0):
        return
    record = raster.resolution_record(grid)
    stack_m = raster.resolution_side(record)
    ratio = stack_m / model_m
    if 1.0 / RESOLUTION_TOLERANCE <= ratio <= RESOLUTION_TOLERANCE:
        return
    detail = f"{ratio:.3g} times coarser" if ratio > 1 else f"{1.0 / ratio:.3g} times finer"
    units = str(trained.get("units") or "")  # type: ignore[union-attr]
    size = f"{float(trained['x']):g} {'m' if raster.is_metres(units) else units}"  # type: ignore[index]
    raise InputError(
        f"The factor stack {os.path.basename(stack_path)} has pixels of {raster.describe_resolution(record)}, but the "
        f"model {os.path.basename(model_path)} was trained on factor stacks of {shown} ({detail}). A model learns the "
        "factors at the resolution it was trained at (their averages and spread change with the pixel size), so its "
        f"estimates at another would be wrong without any error. Align the factors at the model's resolution "
        f"(smdownscale:align with a resolution of {size} in the model's CRS, or a reference raster at that "
        "resolution), or retrain the model on factor stacks at this resolution.")


@gdal_exceptions()
def downscale(model_path: str, stack_path: str, output: str, coarse_sm: str | None = None,
              residual: str = options.RESIDUAL_MODES.default_key, clip: tuple[float, float] = (0.0, 0.6),
              block_rows: int | None = None, n_jobs: int | None = -1, progress: Progress = no_progress,
              is_canceled: IsCanceled = never_canceled, sm_scale: float | None = None,
              sm_nodata: float | None = None, quality: str | None = None,
              fill_gaps: bool = True, fill_method: str = "bilinear",
              uncertainty: str | None = None, neighbours: Sequence[str] | None = None,
              fill_window_days: int = 0, detail: str | None = None) -> DownscaleResult:
    """Predict 1 km soil moisture from a factor stack; write a float32 GeoTIFF (nodata -9999).

    ``residual`` 'smooth' (the default; needs ``coarse_sm``, the SMAP raster of the same date) adds an
    interpolated, mass-conserving residual surface (no steps at cell edges); 'constant' each SMAP cell's
    residual to its pixels; 'none' writes the plain prediction. Values are clipped to ``clip``; more
    than :data:`units.WARN_CLIPPED` of the pixels clipped is a warning, more than
    :data:`units.REFUSE_CLIPPED` an error (wrong units).
    SMAP values equal to ``sm_nodata`` are nodata and the others are multiplied by ``sm_scale`` (None:
    as the model was trained). NDVI-like factors outside -1..1 and LST in other units than the model's
    are refused (:mod:`units`). ``uncertainty`` (a path; random forest or extra trees models) also receives the
    standard deviation of the trees' predictions at every pixel predicted from all its factors, computed in the
    main pass from the prediction and the trees' squared leaf values (:meth:`.inference.Predictor.spread`);
    residual correction shifts every tree alike, so it is the spread of the raw prediction.

    Gap-free prediction (``fill_gaps``, needs ``coarse_sm`` for its cells, also with residual 'none'): a
    pixel missing some factors is predicted with the coarse-cell means of the missing ones, a pixel
    without any factor, in a cell with a SMAP value, gets the coarse field (:mod:`gapfill`). ``quality``
    (optional) receives a Byte raster of the path of every pixel (:data:`gapfill.QUALITY_CLASSES`).

    Temporal filling (``fill_window_days`` > 0, with ``neighbours``: the factor stacks of other dates, on the
    same grid, dates in the names): before that, a factor missing at a pixel takes its value on the nearest
    neighbouring date within the window where it is valid (a tie: the earlier date), moved to this date's level
    (the mean difference of the two dates around the pixel, :class:`gapfill.TemporalFill`); such pixels are flagged
    :data:`gapfill.FROM_OTHER_DATE` (:class:`gapfill.TemporalFill`).

    ``detail`` 'contrast' (:mod:`detail`; needs ``coarse_sm`` for its cells and a model trained in the scale-aware
    mode) replaces the model's within-cell detail by the contrast detail before residual correction: the model's
    cell means, interpolated bilinearly, plus the linear contrast model's field minus its own interpolated cell
    means; pixels predicted without any observed factor get no detail. With residual 'none' that field is written
    as it is; 'constant', 'smooth' and 'atpk' correct it like a prediction. None: the default of
    :data:`.options.DETAIL_MODES`, falling back to the model's own detail when no SMAP raster is given or (with a
    warning) when the model has no contrast coefficients.

    Parameters
    ----------
    model_path
        The model file (.smdmodel).
    stack_path
        The factor stack of the date (bands matched by name).
    output
        The soil moisture map to write (float32 GeoTIFF, written atomically).
    coarse_sm
        SMAP of the same date, for residual correction.
    residual
        'smooth' (default), 'constant' or 'none'.
    clip
        (low, high) m3/m3 range of the output.
    block_rows, n_jobs
        Rows per block and prediction threads (None: automatic).
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).
    sm_scale, sm_nodata
        How to read SMAP (None: as the model was trained).
    quality
        Where to write the quality raster (Byte, the path of every pixel), or None.
    fill_gaps, fill_method
        Gap-free prediction (see above) and how missing factors' cell means are spread ('bilinear' between
        cell centres, or 'nearest': each pixel's own cell).
    uncertainty
        Where to write the trees' standard deviation per pixel (forests only), or None.
    neighbours, fill_window_days
        Factor stacks of other dates (None with a window: an error; a list without a date in the window: nothing
        to fill from) and the temporal filling window in days (0: off; see above).
    detail
        The within-cell detail: 'model' or 'contrast' (see above); None: the default.

    Returns
    -------
    DownscaleResult
        The output path, the map's statistics, the residual correction applied (cells corrected, mean and largest
        deviation) and the pixels clipped.

    Raises
    ------
    InputError
        A bad input: residual correction without SMAP, an empty clip range, SMAP that does not overlap the
        stack or is of another date or holds only nodata, a
        factor the model needs missing, an uncertainty raster asked of a model that is not a forest, temporal
        filling with a bad window, without neighbouring stacks, or with one undated, on another grid or without any
        of the stack's bands read (matched by name), an unknown
        detail, the contrast detail without SMAP or with a model that has no contrast coefficients.
    ModelFileError
        The model file is not a smdownscale model or is damaged.
    Canceled
        ``is_canceled()`` became true; nothing is left under the output's name.
    """
    residual = check_mode(residual)
    detail_mode, detail_explicit = check_detail(detail)
    fill_method = check_method(fill_method)
    fill_window_days = check_window(fill_window_days)
    if fill_window_days and neighbours is None:
        raise InputError("Filling factors from neighbouring dates needs the factor stacks of those dates: give them, "
                         "or set the temporal filling window to 0.")
    if residual != "none" and not coarse_sm:
        raise InputError("Residual correction needs the coarse soil moisture: give the coarse SMAP raster of the "
                         "same date, or set residual correction off.")
    lo, hi = (float(clip[0]), float(clip[1]))
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise InputError(f"The clip range must have its minimum below its maximum (got {lo:g}, {hi:g}).")
    raster.check_output_path(output)
    outputs = {"raster": output, "quality raster": quality or None}
    if quality:
        raster.check_output_path(quality)
    if uncertainty:
        raster.check_output_path(uncertainty)
        outputs["uncertainty raster"] = uncertainty
    neighbours = list(neighbours or []) if fill_window_days else []
    check_apart(outputs, {"factor stack": stack_path, "soil moisture raster": coarse_sm, "model file": model_path,
                          "neighbouring factor stack": neighbours})
    for label, path in (("raster", output), ("quality raster", quality), ("uncertainty raster", uncertainty)):
        if path:
            check_file_name(label, path, *GEOTIFF)

    predictor, meta = _load(model_path)
    specs = _specs_of(meta, model_path)
    check_model_target(meta, model_path)
    reading = model_reading(meta, sm_scale, sm_nodata)
    predictor.set_n_jobs(n_jobs)
    model_type = str(meta.get("model_type") or predictor.kind)
    beta = None
    detail_note = ""
    if detail_mode == "contrast":
        try:
            beta = contrast_detail.coefficients(meta, os.path.basename(model_path))
        except InputError as exc:
            if detail_explicit:
                raise
            detail_mode, detail_note = "model", f"{exc} The map has the model's own detail."
        if beta is not None and not coarse_sm:
            if detail_explicit:
                raise InputError("The contrast detail is anchored on the SMAP cells: give the coarse SMAP raster of "
                                 "the same date, or choose the model's own detail.")
            beta = None  # a run without SMAP (no residual correction): the model's own detail, as the metadata says
            detail_mode = "model"
    if uncertainty and not predictor.has_spread:
        raise InputError(f"Per-pixel uncertainty is the spread of a forest's trees, and the model "
                         f"{os.path.basename(model_path)} is a {model_type}: train a random forest or extra trees "
                         "model, or leave the uncertainty output empty.")

    ds = raster.open_raster(stack_path)
    grid = raster.stack_grid(ds, stack_path)
    check_resolution(meta, grid, stack_path, model_path)
    # factors by band name; derived factors the model uses (lst_diff, tvdi, ...) are computed from the stack
    reader = StackReader(ds, [s.name for s in specs], stack_path, is_canceled)
    stack_warnings = check_factor_units(ds, stack_path, specs, meta, reader.derived)
    # a land cover code the model never saw (a nodata code such as ESA WorldCover's 0, another legend's class) has no
    # class to put the pixel in: it is read as missing land cover, which gap filling takes from the cell's fractions
    reader.classes = {s.name: s.classes for s in specs if s.kind == CATEGORICAL and s.classes}
    day = date_from_name(stack_path)
    # the date being filled: the stack's, else that of the SMAP raster of the same date (e.g. a temporary stack)
    temporal = TemporalFill(stack_path, grid, neighbours, fill_window_days,
                            day or (date_from_name(coarse_sm) if coarse_sm else None),
                            is_canceled) if fill_window_days else None
    # Without gap filling a missing factor simply takes the nearest neighbouring date's value (moved to this date's
    # level) as each block is read; with it, the neighbouring dates' values are weighed against the gap filler's
    # own (GapFiller.calibrate) for the pixels it fills: `fuse`, set once the filler exists.
    for src in temporal.sources if temporal is not None else []:
        if not set(reader.raw_names) & set(src.bands):  # bands are matched by name: it could give nothing
            raise InputError(f"The neighbouring factor stack {os.path.basename(src.path)} has none of the bands "
                             f"{os.path.basename(stack_path)} is read for ({', '.join(reader.raw_names)}); its bands "
                             f"are {', '.join(src.bands)}. Temporal filling matches bands by name: give the stacks of "
                             "the other dates with the same band names (smdownscale:align them as this one), or leave "
                             "it out.")
        check_factor_units(src.ds, src.path, specs, meta, reader.derived)  # its values enter the map: the same units

    sm = None
    index = None
    if coarse_sm and (residual != "none" or fill_gaps or beta is not None):
        sm_ds = raster.open_raster(coarse_sm)
        cgrid = raster.coarse_grid(sm_ds, coarse_sm)
        if not cgrid.overlaps(grid):
            raise InputError(f"The soil moisture raster {os.path.basename(coarse_sm)} and the factor stack "
                             f"{os.path.basename(stack_path)} do not overlap; give the SMAP raster of the same area.")
        sm_day = date_from_name(coarse_sm)
        if day is not None and sm_day is not None and sm_day != day:
            raise InputError(f"The factor stack is dated {day.isoformat()} but the soil moisture raster "
                             f"{os.path.basename(coarse_sm)} is dated {sm_day.isoformat()}; give the SMAP raster "
                             "of the same date for residual correction.")
        sm = read_soil_moisture(sm_ds, coarse_sm, reading)
        if residual != "none" and not np.isfinite(sm).any():
            raise InputError(f"The soil moisture raster {os.path.basename(coarse_sm)} holds only nodata; "
                             "check the file, or set residual correction off.")
        sm_ds = None
        # beyond a SMAP raster smaller than the stack, cells without a value, as its own nodata cells: the same map
        # whether a SMAP raster's nodata border was cropped or not (no step at its edge, gaps filled alike)
        cgrid, sm = cover_stack(cgrid, sm, grid, coarse_sm)
        index = _BlockCellIndex(grid, cgrid)
    filler = None
    if fill_gaps and index is not None and sm is not None:
        filler = GapFiller(index, specs, np.isfinite(sm), fill_method)
    fuse = temporal is not None and filler is not None
    reader.fill = temporal if not fuse else None
    if fuse:
        assert filler is not None
        filler.outside = True  # pixels outside the SMAP cells (none once cover_stack extended them): the neighbouring
        # dates' values alone, as without gap filling
        reader.missing = np.zeros(len(reader.raw_names), bool)  # pass 1 finds the bands with gaps (set_gappy)

    nfeat = len(feature_names(specs))
    # ~64 MB of factors + design matrix per block (sorting for prediction and the residual pass take about
    # as much again): memory depends on the width and the factors, never on the extent. Blocks end on tile
    # rows, where the GDAL block cache of every file is flushed, so that cache does not grow either.
    unit = _tile_unit(ds)
    rows = block_rows or _tile_rows(raster.block_rows_for(grid.width, len(specs) + len(reader.derived) + nfeat + 4,
                                                          target_bytes=BLOCK_BYTES), unit)

    def flush(row0: int, nrows: int, *datasets: Any) -> None:
        if (row0 + nrows) % unit == 0:
            for d in datasets:
                if d is not None:
                    d.FlushCache()
            if temporal is not None:
                temporal.flush()
    metadata = {"units": UNITS, "model": os.path.basename(model_path), "model_type": model_type,
                "residual_correction": residual, "clip": f"{lo:g},{hi:g}",
                "factor_stack": os.path.basename(stack_path)}
    metadata["detail"] = detail_mode
    metadata["gap_filling"] = f"coarse-cell means of missing factors ({filler.method})" if filler else "off"
    if coarse_sm and (residual != "none" or filler is not None or beta is not None):
        metadata[SOURCE_KEY] = os.path.basename(coarse_sm)
        if not reading.default:
            metadata["coarse_soil_moisture_reading"] = reading.describe()
            # machine-readable, so validate reads this file as a baseline the same way
            metadata[READING_SCALE_KEY] = repr(float(reading.scale))
            if reading.nodata is not None:
                metadata[READING_NODATA_KEY] = repr(float(reading.nodata))
    if day is not None:
        metadata["date"] = day.isoformat()
    if temporal is not None:
        metadata["temporal_filling"] = (f"factors from the nearest date within {fill_window_days} days, moved to "
                                        "this date's level")

    def other_date(shape: tuple[int, ...]) -> np.ndarray:
        """The last block read: its pixels with a factor from a neighbouring date (when the gap filler weighs
        those dates' values, it codes its pixels itself)."""
        if temporal is None or fuse or temporal.mask is None or temporal.mask.shape != shape:
            return np.zeros(shape, bool)
        return temporal.mask

    spread_meta = {**metadata, "statistic": "standard deviation of the trees' predictions (m3/m3), before "
                   "residual correction"}
    spread_out: _SpreadWriter | None = None  # the uncertainty raster being written (pass 1)

    # the contrast detail (detail.py): pass 1 keeps f = beta . x in a second temporary raster and its cell means
    anchors = None  # made with the residual corrector (sharing its stencil) in the two-pass branch
    last_f: list[np.ndarray] = []  # f of the block predict() read last

    def predict(row0: int, nrows: int) -> np.ndarray:
        block = reader.read(row0, nrows)
        x, valid = fine_design(block, specs)
        if temporal is not None and not fuse and temporal.origin is not None:
            # the neighbouring dates' values count where they completed a pixel (one still missing a factor is empty)
            origin = reader.combine(temporal.origin)
            temporal.credit(reader.names, origin, valid)
            temporal.mask = np.any(origin != 0, axis=0) & valid
        if filler is not None:
            filler.observe(row0, block, valid)
        pred = np.full(valid.shape, np.nan, dtype=np.float32)
        sd = None
        if x.shape[0]:
            mean = predictor.predict(x)  # compiled or scikit-learn: the same values
            pred[valid] = mean.astype(np.float32)
            if spread_out is not None:
                sd = predictor.spread(x, mean)  # one more walk, over the squared leaf values
        if anchors is not None:
            f = np.full(valid.shape, np.nan, dtype=np.float32)
            if x.shape[0]:
                f[valid] = anchors.values(x)
            last_f[:] = [f]
        if spread_out is not None:
            spread_out.add(row0, valid, sd)
        return pred

    def no_valid() -> InputError:
        label = os.path.basename(stack_path)
        empty = _observed_nowhere(reader, grid.height, rows)
        if not empty:
            return InputError(f"No pixel of {label} has all factors valid ({', '.join(s.name for s in specs)}); "
                              "check the stack's nodata and extent.")
        if len(empty) == len(specs):
            return InputError(f"Every factor ({', '.join(empty)}) is missing at every pixel of {label}; check the "
                              "stack's nodata and extent.")
        return InputError(f"Missing at every pixel of {label}: {', '.join(empty)}, so no pixel has all factors. Give "
                          "the factor stacks of neighbouring dates (NEIGHBOUR_FACTORS, with gap filling on and a "
                          "filling window that reaches them) so the factor is taken from the nearest date, or leave it "
                          "out (smdownscale:screen, then retrain).")
    stats = _Stats()
    result = DownscaleResult(output, 0, math.nan, math.nan, math.nan, math.nan, residual, model_type,
                             day.isoformat() if day else None, detail=detail_mode, prediction_backend=predictor.backend,
                             sm_reading=reading.describe() if residual != "none" and not reading.default else "")
    if predictor.compiled is None and (predictor.trees is not None or native.supports(predictor.estimator)
                                       or (predictor.svr is not None and not native.available())):
        result.prediction_note = native.status()
    result.warnings.extend(stack_warnings)
    if detail_note:
        result.warnings.append(detail_note)

    before = _Stats()

    def finish(out: _Writer, row0: int, values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            clipped = np.clip(values, lo, hi)
        result.n_clipped += int(np.count_nonzero(np.isfinite(values) & (clipped != values)))
        before.add(values)
        out32 = clipped.astype(np.float32)
        stats.add(out32)
        out.write(row0, out32)
        return out32

    def check_clipping(out: _Writer) -> None:
        """Warn when many pixels were clipped; refuse (the output is then removed) when most were."""
        share = result.n_clipped / stats.n if stats.n else 0.0
        result.clipped_fraction = share
        out.ds.SetMetadataItem("clipped_pixels", str(result.n_clipped))
        out.ds.SetMetadataItem("clipped_fraction", f"{share:.4f}")
        if share <= WARN_CLIPPED:
            return
        mean, _, vmin, vmax = before.result()
        found = (f"{100.0 * share:.1f} % of the 1 km values ({result.n_clipped} of {stats.n}) fall outside "
                 f"{lo:g}-{hi:g} m3/m3 (before clipping: {vmin:.4g} to {vmax:.4g}, mean {mean:.4g})")
        if share > REFUSE_CLIPPED:
            raise InputError(f"{found}, so the result would not be soil moisture in m3/m3. Check the units: the SMAP "
                             "rasters the model was trained on and the SMAP of residual correction must be in m3/m3 "
                             "(SM_SCALE=0.01 for percent, SM_NODATA for an undeclared fill value), and the factors "
                             "in the units the model was trained on; or widen the clip range (CLIP_MIN, CLIP_MAX) "
                             "if it is too narrow.")
        warning = (f"{found} and were clipped. Check the units of the inputs (SMAP in m3/m3, factors as in "
                   "training) or the clip range.")
        result.warnings.append(warning)
        out.ds.SetMetadataItem("warning", warning)

    counts = np.zeros(256, dtype=np.int64)
    qmeta = {"model": metadata["model"], "factor_stack": metadata["factor_stack"],
             "classes": "; ".join(f"{k} {v}" for k, v in QUALITY_CLASSES.items()), **(
                 {"date": metadata["date"]} if "date" in metadata else {})}

    def write_quality(qout: _QualityWriter | None, row0: int, written: np.ndarray, codes: np.ndarray) -> None:
        """Quality codes of the written block: the path's code where a value was written, else 0."""
        ok = np.isfinite(written) & np.isfinite(codes)
        q = np.where(ok, np.nan_to_num(codes), QUALITY_NODATA).astype(np.uint8)
        counts[:] += np.bincount(q.ravel(), minlength=256)
        if qout is not None:
            qout.write(row0, q)

    def quality_file() -> contextlib.AbstractContextManager:
        return raster.atomic_path(quality) if quality else contextlib.nullcontext(None)

    def spread_file() -> contextlib.AbstractContextManager:
        return raster.atomic_path(uncertainty) if uncertainty else contextlib.nullcontext(None)

    if index is None:
        with raster.atomic_path(output) as tmp, quality_file() as qtmp, spread_file() as stmp:
            out = _Writer(tmp, grid, BAND_NAME, metadata)
            qout = _QualityWriter(qtmp, grid, qmeta) if qtmp else None
            spread_out = _SpreadWriter(stmp, grid, spread_meta) if stmp else None
            try:
                n_valid = 0
                for row0, nrows in raster.iter_blocks(grid.height, rows, progress, is_canceled):
                    pred = predict(row0, nrows)
                    n_valid += int(np.isfinite(pred).sum())
                    codes = np.where(other_date(pred.shape), FROM_OTHER_DATE, ALL_FACTORS).astype(np.float32)
                    written = finish(out, row0, pred)
                    write_quality(qout, row0, written, codes)
                    flush(row0, nrows, ds, out.ds, qout.ds if qout else None)
                if n_valid == 0:
                    raise no_valid()
                check_clipping(out)
                _quality_metadata(out, counts, None)
            finally:
                out.close()
                if qout is not None:
                    qout.close()
                if spread_out is not None:
                    spread_out.close()
    else:
        assert index is not None and sm is not None
        raw_path = _raw_path(output)
        codes_path = _raw_path(output)  # a second raw file (another random name): a rerun removes it too
        spread_path = _raw_path(uncertainty) if uncertainty else ""  # renamed to the uncertainty raster in pass 2
        detail_path = _raw_path(output) if beta is not None else ""  # f between the passes
        raw: _Writer | None = None
        detail_file: _Writer | None = None
        codes_file: _QualityWriter | None = None
        try:
            raw = _Writer(raw_path, grid, "raw_prediction")
            detail_file = _Writer(detail_path, grid, "contrast_detail") if detail_path else None
            spread_out = _SpreadWriter(spread_path, grid, spread_meta) if spread_path else None
            # constant or smooth (see residual.py); with residual 'none' the coarse cells serve gap filling only
            corrector = ResidualCorrector(index, sm, residual) if residual != "none" else None
            if beta is not None:
                anchors = contrast_detail.ContrastAnchors(index, beta, getattr(corrector, "_stencil", None))
            n_valid = 0
            split = 0.5 if filler is not None else 0.6
            coded: set[tuple[int, int]] = set()  # blocks whose codes are in codes_file
            for row0, nrows in raster.iter_blocks(grid.height, rows, progress, is_canceled, 0.0, split):
                pred = predict(row0, nrows)
                n_valid += int(np.isfinite(pred).sum())
                raw.write(row0, pred)
                if anchors is not None and detail_file is not None:
                    detail_file.write(row0, last_f[0])
                    anchors.add(row0, pred, last_f[0])
                moved = other_date(pred.shape) & np.isfinite(pred)
                if moved.any():  # factors from a neighbouring date: the block's codes are kept for pass 2
                    if codes_file is None:
                        codes_file = _QualityWriter(codes_path, grid)
                    codes_file.write(row0, np.where(np.isfinite(pred), np.where(moved, FROM_OTHER_DATE,
                                                                                ALL_FACTORS), QUALITY_NODATA))
                    coded.add((row0, nrows))
                if corrector is not None:
                    corrector.add(row0, pred)
                flush(row0, nrows, ds, raw.ds, detail_file.ds if detail_file else None)
            if n_valid == 0 and (filler is None or not filler.pending):
                raise no_valid()
            if filler is not None:
                if filler.pending:  # the quality codes of the blocks with gaps (the others: all factors or nodata)
                    if codes_file is None:
                        codes_file = _QualityWriter(codes_path, grid)
                    # a factor missing at every pixel (no overpass that day) can still come from a neighbouring date
                    n_valid += _fill_gaps(filler, reader, predictor, raw, codes_file, corrector, progress,
                                          is_canceled, split, 0.6, other_date,
                                          lambda r, n: flush(r, n, ds, raw.ds, codes_file.ds,
                                                             detail_file.ds if detail_file else None), anchors,
                                          detail_file, temporal if fuse else None)
                    coded.update(filler.pending)
                result.filled_factors = {k: v for k, v in filler.filled.items() if v}
            if n_valid == 0:
                raise no_valid()
            raw.ds.FlushCache()
            if detail_file is not None:
                detail_file.ds.FlushCache()
            if spread_out is not None:
                spread_out.close()
            anchored_means = anchors.solve() if anchors is not None else None
            if corrector is not None:
                corrector.solve(anchored_means)
            with raster.atomic_path(output) as tmp, quality_file() as qtmp, spread_file() as stmp:
                if stmp:
                    _move(spread_path, stmp)
                out = _Writer(tmp, grid, BAND_NAME, metadata)
                qout = _QualityWriter(qtmp, grid, qmeta) if qtmp else None
                try:
                    for row0, nrows in raster.iter_blocks(grid.height, rows, progress, is_canceled, 0.6, 1.0):
                        values = raster.read_block(raw.ds, row0, nrows, [1], np.float64)[0]
                        if anchors is not None and detail_file is not None:
                            f = raster.read_block(detail_file.ds, row0, nrows, [1], np.float64)[0]
                            values = anchors.field(row0, values, f)
                        if codes_file is not None and (row0, nrows) in coded:
                            codes = raster.read_block(codes_file.ds, row0, nrows, [1], np.float64)[0]
                        else:
                            codes = np.where(np.isfinite(values), ALL_FACTORS, np.nan)
                        corrected = corrector.apply(row0, values) if corrector is not None else values
                        written = finish(out, row0, corrected)
                        if corrector is not None:
                            corrector.written(row0, written)
                        write_quality(qout, row0, written, codes)
                        flush(row0, nrows, raw.ds, out.ds, qout.ds if qout else None,
                              codes_file.ds if codes_file else None, detail_file.ds if detail_file else None)
                    summary = corrector.finish() if corrector is not None else None
                    if summary is not None:
                        out.ds.SetMetadataItem("max_cell_deviation", f"{summary.max_cell_deviation:.3g}")
                        out.ds.SetMetadataItem("max_cell_deviation_after_clipping",
                                               f"{summary.max_cell_deviation_written:.3g}")
                        out.ds.SetMetadataItem("cells_off_after_clipping", str(summary.n_cells_off_after_clipping))
                    check_clipping(out)
                    _quality_metadata(out, counts, result.filled_factors)
                finally:
                    out.close()
                    if qout is not None:
                        qout.close()
            if summary is not None:
                result.n_cells_corrected = summary.n_cells_corrected
                result.mean_abs_residual = summary.mean_abs_residual
                result.max_cell_deviation = summary.max_cell_deviation
                result.max_cell_deviation_written = summary.max_cell_deviation_written
                result.n_cells_off_after_clipping = summary.n_cells_off_after_clipping
                result.n_uncorrected = summary.n_uncorrected
                result.smooth_iterations = summary.iterations
                result.smooth_max_leftover = summary.max_leftover
        finally:
            if raw is not None:
                raw.close()
            if codes_file is not None:
                codes_file.close()
            if detail_file is not None:
                detail_file.close()
            if spread_out is not None:
                spread_out.close()
            _remove(raw_path)
            if detail_path:
                _remove(detail_path)
            _remove(codes_path)
            if spread_path:
                _remove(spread_path)
    result.n_all_factors = int(counts[ALL_FACTORS])
    result.n_filled = int(counts[FILLED])
    result.n_coarse_only = int(counts[COARSE_ONLY])
    result.n_from_other_date = int(counts[FROM_OTHER_DATE])
    if temporal is not None:
        # only the values that entered the map: weighed in with a weight above 0, or completing a pixel
        if fuse and filler is not None:
            result.other_date_factors = dict(filler.from_other)
            result.other_dates = [d.isoformat() for d in temporal.dates(filler.origin_used)]
            result.other_date_weights = filler.factor_weights()
        else:
            result.other_date_factors = dict(temporal.taken)
            result.other_dates = sorted(d.isoformat() for d in temporal.used)
    result.quality = quality or ""
    result.n_valid = stats.n
    result.mean, result.std, result.min, result.max = stats.result()
    if spread_out is not None:
        result.uncertainty = uncertainty or ""
        result.mean_tree_sd = spread_out.stats.result()[0]
    if temporal is not None:
        temporal.close()
    progress(1.0)
    return result


def cover_stack(coarse: Grid, sm: np.ndarray, fine: Grid, path: str = "") -> tuple[Grid, np.ndarray]:
    """The SMAP lattice extended, with cells without a value, over the whole factor stack: a pixel beyond a SMAP raster
    smaller than the stack lies in a cell without SMAP, as if the raster's nodata border had not been cropped (the
    smooth correction continues into it and fades out, gaps are filled as in any cell without SMAP).

    Parameters
    ----------
    coarse : Grid
        The SMAP raster's grid.
    sm : numpy.ndarray
        (coarse.height, coarse.width) its soil moisture, NaN for nodata.
    fine : Grid
        The factor stack's grid, in any CRS.
    path : str
        The SMAP raster, named in errors.

    Returns
    -------
    tuple[Grid, numpy.ndarray]
        The extended grid (the same cells, more of them; ``coarse`` itself when it covers the stack) and its values
        (NaN in the added cells).

    Raises
    ------
    InputError
        The extended grid would be larger than :data:`.raster.MAX_COARSE_PIXELS`.
    """
    xmin, ymin, xmax, ymax = fine.extent_in(coarse.crs_wkt)
    cx0, cy0, cx1, cy1 = coarse.extent
    rx, ry = coarse.res
    eps = 1e-6  # of a cell: an edge on the lattice adds no cell
    left = max(0, math.ceil((cx0 - xmin) / rx - eps))
    right = max(0, math.ceil((xmax - cx1) / rx - eps))
    top = max(0, math.ceil((ymax - cy1) / ry - eps))
    bottom = max(0, math.ceil((cy0 - ymin) / ry - eps))
    if not (left or right or top or bottom):
        return coarse, sm
    x0, dx, _, y0, _, dy = coarse.transform
    grid = Grid(coarse.crs_wkt, (x0 - left * dx, dx, 0.0, y0 - top * dy, 0.0, dy), coarse.width + left + right,
                coarse.height + top + bottom)
    grid.check_size(f"The soil moisture raster {os.path.basename(path)} extended over the factor stack",
                    "Give the SMAP raster of the stack's area (a stack far larger than the SMAP raster is read with it "
                    "whole).", raster.MAX_COARSE_PIXELS)
    out = np.full((grid.height, grid.width), np.nan)
    out[top:top + coarse.height, left:left + coarse.width] = sm
    return grid, out


def check_detail(detail: str | None) -> tuple[str, bool]:
    """The within-cell detail in lower case, and whether it was chosen (not the default).

    Parameters
    ----------
    detail : str or None
        One of :data:`.options.DETAIL_MODES` (any case), or None / empty for the default.

    Returns
    -------
    tuple
        (the key, True when ``detail`` named it).

    Raises
    ------
    InputError
        ``detail`` is not one of the keys.
    """
    key = (detail or "").strip().lower()
    if not key:
        return options.DETAIL_MODES.default_key, False
    if key not in options.DETAIL_MODES.keys:
        raise InputError(f"Unknown detail '{detail}'; use one of {', '.join(options.DETAIL_MODES.keys)}.")
    return key, True


def _quality_metadata(out: _Writer, counts: np.ndarray, filled: dict[str, int] | None) -> None:
    """The pixels of each quality path (and the pixels filled per factor) in the output's metadata."""
    out.ds.SetMetadataItem("pixels_all_factors", str(int(counts[ALL_FACTORS])))
    out.ds.SetMetadataItem("pixels_filled", str(int(counts[FILLED])))
    out.ds.SetMetadataItem("pixels_coarse_only", str(int(counts[COARSE_ONLY])))
    if counts[FROM_OTHER_DATE]:
        out.ds.SetMetadataItem("pixels_from_other_date", str(int(counts[FROM_OTHER_DATE])))
    if filled:
        out.ds.SetMetadataItem("filled_factors", ", ".join(f"{k} {v}" for k, v in filled.items()))


def _observed_nowhere(reader: StackReader, height: int, rows: int) -> list[str]:
    """The factors of the stack without a single valid pixel (read only to explain a stack without any valid pixel)."""
    seen = np.zeros(len(reader.names), bool)
    for row0, nrows in raster.iter_blocks(height, rows):
        seen |= np.isfinite(reader.read(row0, nrows)).any(axis=(1, 2))
        if seen.all():
            break
    return [n for n, s in zip(reader.names, seen) if not s]


def _read_with_halo(reader: StackReader, first: int, count: int, row0: int, nrows: int) -> np.ndarray | None:
    """The raw bands of rows ``first`` .. ``first + count`` (a block's rows and the halo of its pixels' context,
    :meth:`GapFiller.context_rows`), where the block being worked on holds rows ``row0`` .. ``row0 + nrows``: rows
    outside it (the previous or the next tile row) are read on their own, each followed by dropping GDAL's cache of
    the stack, so the cache still holds one tile row of it."""
    parts = []
    for a, b in ((first, row0), (max(first, row0), min(first + count, row0 + nrows)), (row0 + nrows, first + count)):
        if b <= a:
            continue
        parts.append(reader.read_raw(a, b - a))
        if not row0 <= a < row0 + nrows:
            reader.ds.FlushCache()
    if any(p is None for p in parts):
        return None
    return np.concatenate(parts, axis=1)


def _read_in_context(reader: StackReader, filler: GapFiller, first: int, nrows: int, row0: int,
                     block_rows: int, missing_only: bool = False) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Rows ``first`` .. ``first + nrows`` of the stack, inside the block ``row0`` .. ``row0 + block_rows`` being worked
    on, with their pixels' context (:meth:`GapFiller.context`): (raw bands or None, factors, context), each of those
    rows only; one read (:func:`_read_with_halo`) for the rows and their halo. ``missing_only``: the context of the
    pixels missing a factor alone, (bands, n) as :meth:`GapFiller.design` takes it (a block's context in full is as
    large as the block itself)."""
    start, count = filler.context_rows(first, nrows)
    raw_rows = _read_with_halo(reader, start, count, row0, block_rows)
    rows = reader.derive(raw_rows, count)
    top = first - start
    raw = None if raw_rows is None else raw_rows[:, top:top + nrows]
    wanted = rows[:, top:top + nrows]
    mask = ~np.all(np.isfinite(wanted), axis=0) if missing_only else None
    return raw, wanted, filler.context(rows, top, nrows, mask)


def _fill_gaps(filler: GapFiller, reader: StackReader, predictor: inference.Predictor, raw: _Writer,
               codes_file: _QualityWriter, corrector: ResidualCorrector | None, progress: Progress,
               is_canceled: IsCanceled, start: float, end: float,
               other_date: Any = None, flush: Any = None, anchors: contrast_detail.ContrastAnchors | None = None,
               detail_file: _Writer | None = None, temporal: TemporalFill | None = None) -> int:
    """Pass 1b: predict the pixels missing factors (blocks listed by the filler) into the raw file, write the
    quality codes of those blocks to ``codes_file`` and add the filled pixels to the residual correction's
    cell means; returns the number of pixels it gave a value. ``other_date(shape)``: the pixels of the block just
    read with a factor from another date;
    ``flush(row0, nrows)``: called after each block of the learning pass (every block in order; only the rows
    :meth:`GapFiller.learn` uses are read) and of the filling pass, to keep GDAL's cache at one tile row.
    ``anchors`` and ``detail_file`` (the contrast detail): ``f`` of the filled pixels (none for those without any
    observed factor) is written to ``detail_file`` and added to the anchors' cell means. ``temporal``: the
    neighbouring dates, weighed against the filler's own values (:meth:`GapFiller.calibrate` on the calibration
    rows, then :meth:`GapFiller.design`)."""
    filler.solve()
    n_pending = len(filler.pending)
    n_filled = 0
    if temporal is not None and reader.missing is not None:  # pass 1 read every row: the bands with gaps
        temporal.set_gappy([n for n, m in zip(reader.raw_names, reader.missing) if m])
    if temporal is not None and filler.empty_bands().any():
        # a factor missing at every pixel (no overpass that day): its cell means from the neighbouring dates' values,
        # for the pixels where those dates miss it too (their own swath edge, water); one read of the stack
        for row0, nrows in filler.blocks:
            if is_canceled():
                raise Canceled()
            filler.borrow(row0, temporal.evidence(reader, row0, nrows), temporal.origin)
            if flush is not None:
                flush(row0, nrows)
        filler.solve_borrowed()
    while True:  # how factors co-vary in their cells: fully observed pixels of the learn rows
        for row0, nrows in filler.blocks:
            if is_canceled():
                raise Canceled()
            for r in filler.learn_rows(row0, nrows):  # only the rows learn uses, with their context's rows
                _, row, context = _read_in_context(reader, filler, r, 1, row0, nrows)
                filler.learn(r, row, filler.complete(row), context)
            if flush is not None:
                flush(row0, nrows)
        # too few pixels with every factor (a band observed at a few pixels only): learn again without that band
        if filler.learnt() or not filler.leave_out_sparsest():
            break
    if temporal is not None:  # how well each fill recovers hidden factors, on rows learn did not use
        for row0, nrows in filler.blocks:
            if is_canceled():
                raise Canceled()
            for r in filler.calibration_rows(row0, nrows):
                bands, row, context = _read_in_context(reader, filler, r, 1, row0, nrows)  # also for the evidence
                filler.calibrate(r, row, filler.complete(row), temporal.evidence(reader, r, 1, bands),
                                 context)
            if flush is not None:
                flush(row0, nrows)
    for i, (row0, nrows) in enumerate(filler.pending):
        if is_canceled():
            raise Canceled()
        bands, block, context = _read_in_context(reader, filler, row0, nrows, row0, nrows,  # also for the evidence
                                                 missing_only=True)
        valid = np.all(np.isfinite(block), axis=0)
        # the neighbours' values where a factor misses: all design weighs
        evidence = temporal.evidence(reader, row0, nrows, bands, everywhere=False) if temporal is not None else None
        x, sel, codes = filler.design(row0, block, valid, evidence, temporal.origin if temporal is not None else None,
                                      context)
        cur = raster.read_block(raw.ds, row0, nrows, [1], np.float32)[0]
        moved = other_date(valid.shape) if other_date is not None else np.zeros(valid.shape, bool)
        q = np.where(np.isfinite(cur), np.where(moved, FROM_OTHER_DATE, ALL_FACTORS), QUALITY_NODATA).astype(np.uint8)
        if x.shape[0]:
            y = predictor.predict(x).astype(np.float32)
            n_filled += int(np.isfinite(y).sum())
            cur[sel] = y
            q[sel] = codes
            raw.write(row0, cur)
            add = np.full(sel.shape, np.nan, dtype=np.float32)
            add[sel] = y
            if corrector is not None:
                corrector.add(row0, add)
            if anchors is not None and detail_file is not None:
                has = codes != COARSE_ONLY
                fv = np.full(y.shape, np.nan, dtype=np.float32)
                fv[has] = anchors.values(x[has])
                fcur = raster.read_block(detail_file.ds, row0, nrows, [1], np.float32)[0]
                fcur[sel] = fv
                detail_file.write(row0, fcur)
                addf = np.full(sel.shape, np.nan, dtype=np.float32)
                addf[sel] = fv
                anchors.add(row0, add, addf)
        codes_file.write(row0, q)
        if flush is not None:
            flush(row0, nrows)
        progress(start + (end - start) * (i + 1) / n_pending)
    if is_canceled():
        raise Canceled()
    return n_filled
