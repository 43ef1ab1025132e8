"""The gap-filling and seam part of ``make bench-accuracy`` (issue 15), used by bench/accuracy.py.

Cloud masks of realistic size are laid over each scene's aligned stacks: per date a share of
:data:`CLOUD_FRACTIONS` of the pixels (spatially correlated blobs, a smoothed random field cut at its
quantile) loses its LST bands (``lst_day``, ``lst_night``), and about a third of those pixels their NDVI
too (16-day composites are gapped less often; the LST clouds cut by a second, independent blob field covering a
third of the pixels), on top of the scene's own small cloud gaps. An RF (scale-aware) is trained on the cloudy
stacks and applied to every date. The masks are drawn :data:`CLOUD_DRAWS` times (each draw with its own masks and
its own model) and every number below is the mean over the draws; the ratios of filled to observed pixels also
give their range over the draws (where the clouds fall spreads a scene's ratio over up to 0.12 on the grassland
scenes and 0.33 on the mosaics):

* ``holes``: residual correction constant, gap filling off (the behaviour before issue 15);
* ``fill/constant`` and ``fill/smooth``: gap filling on (:mod:`gapfill`, missing factors from the cell
  means interpolated bilinearly), with each residual correction; ``fill-cell/smooth`` with each pixel's
  own cell mean instead;
* ``clear/constant`` and ``clear/smooth``: the same model on the stacks without the added clouds (what
  the filled pixels would have scored under a clear sky, and the seams of each correction);
* ``holes+bilinear``: the ``holes`` map with its holes filled by SMAP resampled bilinearly (the simplest
  alternative fallback, for the design comparison);
* ``tfill/smooth``: as ``fill/smooth``, with temporal filling (a missing factor's value on the nearest other
  date within :data:`TEMPORAL_WINDOW_DAYS` days where the pixel is clear, moved to the date's level, weighed
  against the gap filling's own by how well each recovers factors hidden at observed pixels; the scenes' dates
  are 8 or 12 days apart, so every date has a neighbour);
* ``noradar/tfill``: as ``tfill/smooth`` on a date without a radar overpass: the radar bands (``vv``, ``vh``)
  missing at every pixel of the date being mapped (its neighbours keep theirs), so no pixel observes every factor;
  the radar comes from the neighbouring dates and the cloud gaps are filled from what the pixels have.

Per scene: coverage (share of the pixels with a known truth, in cells with a SMAP value, that got a
value), R / ubRMSD (m3/m3) on the fully observed pixels and on the filled ones (quality 2 and 3),
each averaged over the dates, and an oracle's ratio of the two (:func:`oracle_ratio`: how much less the factors a
filled pixel still has say about the truth's within-cell detail than all factors); RMSE /
ubRMSD on the pixels in cells of the SMAP grid without a SMAP value (the smooth correction continues its
surface there, constant keeps the plain prediction), and the **seam ratio**: the mean absolute difference
between neighbouring 1 km pixels across coarse-cell edges divided by that inside cells, next to the truth's
own ratio. Targets (issue 15): coverage 100 %, filled ubRMSD at most 1.3 x observed, seam ratio of the default
within 10 % of the truth's, and the default's ubRMSD no worse than constant correction (and its RMSE in cells
without SMAP no worse than constant's plain prediction there).

The filled pixels are also split by the factors they miss in the cloudy stack (by band name): **LST only** (an LST
band missing, NDVI and every other band present: where the added clouds take LST alone), **LST and NDVI** (both
missing, the rest present: where the added clouds take NDVI too and, on these scenes, their own cloud gaps), and
**other** (any other pattern, e.g. gaps in SAR; shown only where there is some). Per pattern: its share of the
pixels, and R / ubRMSD of ``fill/smooth``, ``tfill/smooth`` and ``clear/smooth`` (a clear sky on the same pixels:
how much harder the pixels themselves are), averaged over the dates (a date with fewer than 3 such pixels left out),
each ubRMSD over the fully observed pixels' of the same run. The 1.3 x target is also judged on the LST-only pixels
alone, apart from the target on all filled pixels.

Temporal filling is measured on the pixels it fills (quality 4 of ``tfill/smooth``): their ubRMSD with the
factors of the neighbouring date, next to the same pixels filled from the coarse-cell means (``fill/smooth``),
under a clear sky (``clear/smooth``), and the fully observed pixels. Temporal filling belongs on by default only if,
on those pixels, it is never worse than the cell-mean fill by more than 1 % of that fill's ubRMSD on any scene (a
difference in the fourth decimal is a tie) and better on average; the table says whether ``FILL_WINDOW_DAYS``
agrees.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

#: Share of the pixels losing LST per date (cycled over the dates). NDVI is lost where the LST clouds meet a
#: second, independent blob field covering ``NDVI_SHARE`` of the pixels: about a third of the LST clouds' pixels.
CLOUD_FRACTIONS = (0.1, 0.35, 0.6, 0.2)
NDVI_SHARE = 1.0 / 3.0
LST_BANDS = ("lst_day", "lst_night")
NDVI_BANDS = ("ndvi",)
#: The radar bands ``noradar/tfill`` removes from the date being mapped.
SAR_BANDS = ("vv", "vh")
#: Correlation length of the cloud field (1 km pixels).
CLOUD_SIGMA = 6.0
#: Cloud masks drawn per scene: each draw lays its own masks (seeds :data:`DRAW_SEED_STEP` apart) and trains its own
#: model; the measurements are averaged over the draws (where the clouds fall spreads a scene's filled-to-observed
#: ratio over up to 0.12 on the grassland scenes and 0.33 on the mosaics, bench/GAPS.md).
CLOUD_DRAWS = 4
DRAW_SEED_STEP = 7919
FILLED_RATIO_TARGET = 1.3
#: The temporal filling window of ``tfill/smooth`` (days).
TEMPORAL_WINDOW_DAYS = 12
#: Quality code of pixels with factors from a neighbouring date (gapfill.FROM_OTHER_DATE).
FROM_OTHER_DATE = 4
SEAM_TOLERANCE = 0.10
#: Temporal filling counts as no worse than the cell-mean fill on a scene within this share of that fill's ubRMSD.
TEMPORAL_TIE = 0.01
#: (name, stack: cloudy or clear, residual correction, gap filling: None = off, else the fill method)
RUNS = (("holes", "cloudy", "constant", None), ("fill-cell/smooth", "cloudy", "smooth", "cell"),
        ("fill/constant", "cloudy", "constant", "bilinear"), ("fill/smooth", "cloudy", "smooth", "bilinear"),
        ("clear/constant", "clear", "constant", "bilinear"), ("clear/smooth", "clear", "smooth", "bilinear"),
        ("tfill/smooth", "cloudy", "smooth", "bilinear"), ("noradar/tfill", "noradar", "smooth", "bilinear"))
#: The patterns of missing factors the filled pixels are split by (key, label), from the cloudy stack: an LST band
#: missing with NDVI and every other band present; LST and NDVI missing with every other band present; anything else
#: (reported only where there is some).
PATTERNS = (("lst", "LST only"), ("lst_ndvi", "LST and NDVI"), ("other", "other"))
#: The runs scored per pattern of missing factors.
PATTERN_VARIANTS = ("fill/smooth", "tfill/smooth", "clear/smooth")
VARIANTS = ("holes", "holes+bilinear", "fill-cell/smooth", "fill/constant", "fill/smooth", "clear/constant",
            "clear/smooth", "tfill/smooth", "noradar/tfill")
#: Runs with temporal filling: variant -> window (days).
TEMPORAL = {"tfill/smooth": TEMPORAL_WINDOW_DAYS, "noradar/tfill": TEMPORAL_WINDOW_DAYS}


def cloud_mask(shape: tuple[int, int], fraction: float, seed: int) -> np.ndarray:
    """A blob mask covering ``fraction`` of the pixels (a smoothed random field above its quantile)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.standard_normal(shape), CLOUD_SIGMA, mode="wrap")
    return field > np.quantile(field, 1.0 - fraction)


def cloudy_stacks(prep: Any, draw: int = 0) -> tuple[list[str], list[float]]:
    """Copies of the scene's stacks with the cloud masks of draw ``draw`` applied (cached); and each date's LST cloud
    share."""
    from smdownscale.algorithms import raster

    folder = os.path.join(prep.folder, "cloudy" if draw == 0 else f"cloudy-{draw}")
    os.makedirs(folder, exist_ok=True)
    out, shares = [], []
    for t, stack in enumerate(prep.stacks):
        frac = CLOUD_FRACTIONS[t % len(CLOUD_FRACTIONS)]
        path = os.path.join(folder, os.path.basename(stack))
        stamp = path + ".json"
        # the cover of the NDVI field is in the key: masks cached when it covered twice NDVI_SHARE are drawn again
        key = {"fraction": frac, "ndvi": NDVI_SHARE, "ndvi_field_cover": NDVI_SHARE, "sigma": CLOUD_SIGMA,
               "seed": prep.scene.seed, "t": t, "draw": draw, "stack_mtime": os.path.getmtime(stack)}
        fresh = os.path.exists(path) and os.path.exists(stamp)
        if fresh:
            with open(stamp, encoding="utf-8") as fh:
                fresh = json.load(fh) == key
        if not fresh:
            ds = raster.open_raster(stack)
            names = raster.band_names(ds, stack)
            kinds = raster.band_kinds(ds)
            grid = raster.Grid.from_path(stack)
            ds = None
            data = raster.read_all(stack)
            seed = prep.scene.seed * 100 + t + DRAW_SEED_STEP * draw
            lst = cloud_mask(data.shape[1:], frac, seed)
            # NDVI gaps: the LST clouds where a second, independent blob field covers them (about a third of them)
            ndvi = lst & cloud_mask(data.shape[1:], NDVI_SHARE, seed + 50)
            for b, n in enumerate(names):
                if n in LST_BANDS:
                    data[b][lst] = np.nan
                elif n in NDVI_BANDS:
                    data[b][ndvi] = np.nan
            raster.write_raster(path, grid, data, names=names, kinds=kinds)
            with open(stamp, "w", encoding="utf-8") as fh:
                json.dump(key, fh)
        out.append(path)
        shares.append(frac)
    return out, shares


def seam_ratio(values: np.ndarray, cells: np.ndarray) -> float:
    """Mean |step| between 4-neighbours across coarse-cell edges / mean |step| inside cells (finite pairs)."""
    across, inside = [], []
    for a, b, ca, cb in ((values[:, :-1], values[:, 1:], cells[:, :-1], cells[:, 1:]),
                         (values[:-1, :], values[1:, :], cells[:-1, :], cells[1:, :])):
        ok = np.isfinite(a) & np.isfinite(b) & (ca >= 0) & (cb >= 0)
        d = np.abs(a - b)
        across.append(d[ok & (ca != cb)])
        inside.append(d[ok & (ca == cb)])
    x, i = np.concatenate(across), np.concatenate(inside)
    if not x.size or not i.size or i.mean() == 0:
        return math.nan
    return float(x.mean() / i.mean())


def oracle_ratio(truth: np.ndarray, clear: np.ndarray, cloudy: np.ndarray, names: list[str], kinds: list[str],
                      cells: np.ndarray, observed: np.ndarray, filled: np.ndarray) -> float:
    """How much less the factors a filled pixel still has say than all factors: the ratio of the filled pixels' to the
    observed pixels' error of an oracle, a linear regression of the truth's deviation from its coarse-cell mean on
    the factors' deviations (class fractions for categorical bands), fitted on the truth itself per pattern of
    missing bands (in-sample: a yardstick, not a method). On the observed pixels it uses every factor; on a filled
    pixel the factors it has. A ratio far above 1 says the missing factors carried within-cell information no
    other factor has.

    ``clear``/``cloudy``: (bands, H, W) stacks without/with the added clouds; ``cells``: the coarse cell of every
    pixel (-1 outside); ``observed``/``filled``: the pixels scored as such.
    """
    cols, groups = [], []
    for b, k in enumerate(kinds):
        if k == "categorical":
            codes = clear[b]
            for c in np.unique(codes[np.isfinite(codes)]):
                cols.append((codes == c).astype(np.float64))
                groups.append(b)
        else:
            cols.append(clear[b].astype(np.float64))
            groups.append(b)
    groups_arr = np.array(groups)
    ok = np.isfinite(truth) & (cells >= 0) & np.all(np.isfinite(clear), axis=0)
    c = cells[ok]
    n = np.bincount(c, minlength=int(c.max()) + 1 if c.size else 1)

    def dev(v: np.ndarray) -> np.ndarray:
        return v - (np.bincount(c, v, n.size) / np.maximum(n, 1))[c]

    y = dev(truth[ok].astype(np.float64))
    x = np.column_stack([dev(col[ok]) for col in cols])
    miss = ~np.isfinite(cloudy[:, ok])  # (bands, n)
    key = np.packbits(miss, axis=0).T.copy().view(np.dtype((np.void, -(-miss.shape[0] // 8))))[:, 0]
    resid = np.full(y.size, np.nan)
    for pattern in np.unique(key):
        rows = key == pattern
        have = ~miss[:, np.flatnonzero(rows)[0]][groups_arr]
        a = x[:, have]
        beta = np.linalg.lstsq(a, y, rcond=None)[0] if have.any() else np.zeros(0)
        resid[rows] = y[rows] - (a[rows] @ beta if have.any() else 0.0)
    obs, fil = observed[ok], filled[ok]
    if obs.sum() < 3 or fil.sum() < 3:
        return math.nan
    return float(np.sqrt(np.nanmean(resid[fil] ** 2)) / np.sqrt(np.nanmean(resid[obs] ** 2)))


def missing_groups(cloudy: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """Each pixel's pattern of missing factors in a stack, by factor group (:data:`PATTERNS`).

    ``cloudy``: a (bands, H, W) stack, NaN where a factor is missing; ``names``: its band names
    (``raster.band_names``), matched against :data:`LST_BANDS` and :data:`NDVI_BANDS`. Returns (H, W) masks:
    ``lst`` where an LST band is missing and no NDVI or other band, ``lst_ndvi`` where an LST and an NDVI band are
    missing and no other band, ``other`` every other pixel with a missing band (NDVI alone, SAR, ...). A pixel with
    every band present is in none.
    """
    if cloudy.ndim != 3 or cloudy.shape[0] != len(names):
        raise ValueError(f"missing_groups: a stack of {cloudy.shape[0] if cloudy.ndim == 3 else '?'} bands with "
                         f"{len(names)} band names; give the (bands, H, W) stack and one name per band")
    miss = ~np.isfinite(cloudy)
    none = np.zeros(cloudy.shape[1:], bool)

    def any_of(bands: list[int]) -> np.ndarray:
        return miss[bands].any(axis=0) if bands else none

    lst = any_of([b for b, n in enumerate(names) if n in LST_BANDS])
    ndvi = any_of([b for b, n in enumerate(names) if n in NDVI_BANDS])
    rest = any_of([b for b, n in enumerate(names) if n not in LST_BANDS and n not in NDVI_BANDS])
    lst_only = lst & ~ndvi & ~rest
    lst_ndvi = lst & ndvi & ~rest
    return {"lst": lst_only, "lst_ndvi": lst_ndvi, "other": miss.any(axis=0) & ~lst_only & ~lst_ndvi}


def _nanmean(v: list[float]) -> float:
    return float(np.nanmean(v)) if np.isfinite(v).any() else math.nan


def pattern_ratio(g: dict[str, Any], key: str, variant: str = "fill/smooth") -> float:
    """A scene's ubRMSD of the filled pixels missing pattern ``key`` over its fully observed pixels', in ``variant``
    (NaN where not measured)."""
    p = (g.get("patterns") or {}).get(key) or {}
    ub = (p.get(variant) or {}).get("ubrmsd", math.nan)
    obs = g["variants"].get(variant, {}).get("observed_ubrmsd", math.nan)
    return ub / obs if obs and math.isfinite(obs) else math.nan


def _metrics(est: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> tuple[float, float, int]:
    from smdownscale.algorithms.metrics import metrics

    if mask.sum() < 3:
        return math.nan, math.nan, int(mask.sum())
    m = metrics(est[mask], truth[mask])
    return float(m["r"]), float(m["ubrmsd"]), int(mask.sum())


def figure(path: str, truth: np.ndarray, before: np.ndarray, after: np.ndarray, quality: np.ndarray,
           title: str) -> str:
    """PNG: the truth, the map before (holes, constant correction) and after (filled, smooth), and the quality."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 3.6), dpi=100)
    axes = fig.subplots(1, 4)
    lo, hi = np.nanpercentile(truth, [1, 99])
    for ax, data, name in ((axes[0], truth, "truth"), (axes[1], before, "before: holes, constant correction"),
                           (axes[2], after, "after: filled, smooth correction")):
        im = ax.imshow(data, vmin=lo, vmax=hi, cmap="BrBG", interpolation="nearest")
        ax.set_title(name, fontsize=9)
    fig.colorbar(im, ax=axes[:3].tolist(), shrink=0.8, label="m3/m3")
    qmap = ListedColormap(["#ffffff", "#1a9850", "#fdae61", "#8073ac"])
    axes[3].imshow(quality, cmap=qmap, norm=BoundaryNorm([-0.5, 0.5, 1.5, 2.5, 3.5], 4), interpolation="nearest")
    axes[3].set_title("quality: observed / filled / coarse only", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    FigureCanvasAgg(fig).print_png(path)
    return path


def ratio_text(v: float) -> str:
    """A filled-to-observed ratio for the tables: 2 decimals, 3 where 2 would round it onto the target from above
    (1.304 is over 1.3, "1.30" would not say so)."""
    if v is None or not math.isfinite(v):
        return "n/a"
    return f"{v:.3f}" if round(v, 2) <= FILLED_RATIO_TARGET < v else f"{v:.2f}"


def _average(items: list[Any]) -> Any:
    """The draws' results merged: numbers averaged (NaN left out), dicts key by key, anything else the first's."""
    first = items[0]
    if isinstance(first, dict):
        return {k: _average([i[k] for i in items]) for k in first}
    if isinstance(first, int) and not isinstance(first, bool) and all(i == first for i in items):
        return first  # a count or setting the draws share (the window in days)
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return _nanmean([float(i) for i in items])
    return first


def filled_ratio(v: dict[str, Any] | None) -> float:
    """A variant's ubRMSD of the filled pixels over its fully observed pixels' (NaN where not measured)."""
    v = v or {}
    return v["filled_ubrmsd"] / v["observed_ubrmsd"] if v.get("observed_ubrmsd") else math.nan


def draw_ratios(result: dict[str, Any]) -> dict[str, float]:
    """One draw's filled-to-observed ubRMSD ratios: the default (``fill``), with temporal filling (``tfill``), a clear
    sky on the same pixels (``clear``) and the default on the pixels missing LST only (``lst_only``)."""
    v = result["variants"]
    return {"fill": filled_ratio(v.get("fill/smooth")), "tfill": filled_ratio(v.get("tfill/smooth")),
            "clear": filled_ratio(v.get("clear/smooth")),
            "lst_only": pattern_ratio(result, "lst") if result.get("patterns") else math.nan}


def draw_range(result: dict[str, Any], key: str = "fill") -> tuple[float, float] | None:
    """(lowest, highest) of a ratio of :func:`draw_ratios` over a result's cloud draws; None for a single draw."""
    draws = result.get("draw_ratios") or []
    values = [d[key] for d in draws if math.isfinite(d.get(key, math.nan))]
    return (min(values), max(values)) if len(draws) > 1 and values else None


def gap_scene(prep: Any, train: Any, log: Any = print, figure_path: str | None = None,
              draws: int = CLOUD_DRAWS) -> dict[str, Any]:
    """The gap-filling and seam measurements of one scene (see the module docstring), averaged over ``draws`` cloud
    draws (:func:`cloudy_stacks`, each with its own model); ``draw_ratios`` lists each draw's ratios
    (:func:`draw_ratios`).

    ``train(prep, work, stacks)`` trains the scene's RF (scale-aware) on the given stacks and returns its path.
    ``figure_path``: also draw the before/after maps of the first draw's cloudiest date there (:func:`figure`).
    """
    per = [_gap_draw(prep, train, d, figure_path if d == 0 else None) for d in range(max(1, draws))]
    result = _average(per)
    result["draws"] = len(per)
    result["draw_ratios"] = [draw_ratios(r) for r in per]
    rows, patterns, temporal = result["variants"], result["patterns"], result["temporal"]
    f, h = rows["fill/smooth"], rows["holes"]
    span = draw_range(result)
    log(f"    gaps ({len(per)} cloud draw{'s' if len(per) > 1 else ''}): coverage {h['coverage']:.3f} -> "
        f"{f['coverage']:.3f}; ubRMSD observed {f['observed_ubrmsd']:.4f}, filled {f['filled_ubrmsd']:.4f}"
        + (f" (filled / observed {span[0]:.2f}-{span[1]:.2f} over the draws)" if span else "")
        + f"; seam truth {result['truth_seam']:.3f}, constant {rows['fill/constant']['seam']:.3f}, smooth "
        f"{f['seam']:.3f}")
    log("    filled by missing factors (fill/smooth, ubRMSD / observed): " + ", ".join(
        f"{label} {100 * patterns[k]['share']:.1f} % of the pixels, {pattern_ratio(result, k):.2f}"
        for k, label in PATTERNS if patterns[k]["pixels"] > 0))
    log(f"    temporal filling ({TEMPORAL_WINDOW_DAYS} days): {100 * temporal['share']:.1f} % of the pixels; ubRMSD "
        f"{temporal['temporal_ubrmsd']:.4f} vs cell means {temporal['cell_mean_ubrmsd']:.4f} on the same pixels "
        f"(clear sky {temporal['clear_ubrmsd']:.4f}, observed {temporal['observed_ubrmsd']:.4f})")
    return result


def radarless(stack: str, folder: str) -> str:
    """A copy of ``stack`` in ``folder`` with its radar bands (:data:`SAR_BANDS`) missing at every pixel (cached)."""
    from smdownscale.algorithms import raster

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, os.path.basename(stack))
    if os.path.exists(path) and os.path.getmtime(path) >= os.path.getmtime(stack):
        return path
    ds = raster.open_raster(stack)
    names, kinds = raster.band_names(ds, stack), raster.band_kinds(ds)
    ds = None
    data = raster.read_all(stack)
    for b, n in enumerate(names):
        if n in SAR_BANDS:
            data[b] = np.nan
    tmp = path + ".part.tif"
    raster.write_raster(tmp, raster.Grid.from_path(stack), data, names=names, kinds=kinds)
    os.replace(tmp, path)
    return path


def _gap_draw(prep: Any, train: Any, draw: int, figure_path: str | None) -> dict[str, Any]:
    """:func:`gap_scene` on the cloud masks of one draw."""
    from smdownscale.algorithms import raster
    from smdownscale.algorithms.aggregate import CellIndex
    from smdownscale.algorithms.downscale import downscale

    stacks, shares = cloudy_stacks(prep, draw)
    work = os.path.join(prep.folder, "gaps" if draw == 0 else f"gaps-{draw}")
    os.makedirs(work, exist_ok=True)
    model = train(prep, work, stacks)
    fine = raster.Grid.from_path(prep.stacks[0])
    acc: dict[str, dict[str, list[float]]] = {v: {} for v in VARIANTS}
    pat: dict[str, dict[str, list[float]]] = {}
    seams_truth = []
    for t, stack in enumerate(stacks):
        truth = prep.truth[t]
        coarse = raster.Grid.from_path(prep.smap[t])
        cells = CellIndex(fine, coarse).rows(0, fine.height)
        near = prep.baselines["nearest"][t]
        known = np.isfinite(truth) & np.isfinite(near)  # truth known, cell has a SMAP value
        # truth known in a cell of the SMAP grid without a SMAP value: smooth continues its surface there
        nosmap = np.isfinite(truth) & ~np.isfinite(near) & (cells >= 0)
        seams_truth.append(seam_ratio(truth, cells))
        outs = {}
        for variant, which, residual, fill in RUNS:
            path = os.path.join(work, f"sm_{t}.tif")
            qpath = os.path.join(work, f"q_{t}.tif")
            window = TEMPORAL.get(variant, 0)
            source = {"cloudy": stack, "clear": prep.stacks[t]}.get(which) or radarless(stack, work)
            downscale(model, source, path, coarse_sm=prep.smap[t],
                      residual=residual, n_jobs=2, fill_gaps=fill is not None, fill_method=fill or "bilinear",
                      quality=qpath, neighbours=[s for s in stacks if s != stack] if window else None,
                      fill_window_days=window)
            outs[variant] = (raster.read_all(path, dtype=np.float64)[0], raster.read_all(qpath)[0])
            os.remove(path)
            os.remove(qpath)
        holes, q = outs["holes"]
        outs["holes+bilinear"] = (np.where(np.isfinite(holes), holes, prep.baselines["bilinear"][t]),
                                  np.where(np.isfinite(holes), 1.0, 2.0))
        observed = known & (outs["fill/constant"][1] == 1)
        ds = raster.open_raster(prep.stacks[t])
        names, kinds = raster.band_names(ds, prep.stacks[t]), raster.band_kinds(ds)
        ds = raster.open_raster(stack)
        cloudy_names = raster.band_names(ds, stack)
        ds = None
        cloudy = raster.read_all(stack)
        oracle = oracle_ratio(truth, raster.read_all(prep.stacks[t]), cloudy, names, kinds, cells,
                                  observed, known & np.isfinite(outs["fill/smooth"][0]) & ~observed)
        # the filled pixels split by the factors they miss in the cloudy stack (every one not in the first two
        # patterns goes to "other", so the patterns split the filled pixels exactly)
        groups = missing_groups(cloudy, cloudy_names)
        groups["other"] = ~(groups["lst"] | groups["lst_ndvi"])
        for key, _ in PATTERNS:
            mask = known & ~observed & groups[key]
            p = pat.setdefault(key, {})
            p.setdefault("share", []).append(float(mask.sum() / max(known.sum(), 1)))
            p.setdefault("pixels", []).append(float(mask.sum()))
            for variant in PATTERN_VARIANTS:
                values = outs[variant][0]
                r, ub, _ = _metrics(values, truth, mask & np.isfinite(values))
                p.setdefault(f"{variant}|r", []).append(r)
                p.setdefault(f"{variant}|ubrmsd", []).append(ub)
        acc.setdefault("oracle", {}).setdefault("ratio", []).append(oracle)
        if figure_path and t == int(np.argmax(shares)):
            figure(figure_path, truth, outs["holes"][0], outs["fill/smooth"][0], outs["fill/smooth"][1],
                   f"{prep.scene.name}, {prep.dates[t]}: LST missing on {100 * shares[t]:.0f} % of the pixels "
                   f"(seam ratio truth {seam_ratio(truth, cells):.2f}, before {seam_ratio(holes, cells):.2f}, "
                   f"after {seam_ratio(outs['fill/smooth'][0], cells):.2f})")
        moved = known & (outs["tfill/smooth"][1] == FROM_OTHER_DATE)
        tacc = acc.setdefault("temporal", {})
        tacc.setdefault("share", []).append(float(moved.sum() / max(known.sum(), 1)))
        for name, variant, mask in (("temporal", "tfill/smooth", moved), ("cell_mean", "fill/smooth", moved),
                                    ("clear", "clear/smooth", moved), ("observed", "fill/smooth", observed)):
            r, ub, _ = _metrics(outs[variant][0], truth, mask)
            tacc.setdefault(f"{name}_r", []).append(r)
            tacc.setdefault(f"{name}_ubrmsd", []).append(ub)
        for variant in VARIANTS:
            values, quality = outs[variant]
            a = acc[variant]
            a.setdefault("coverage", []).append(float(np.isfinite(values[known]).mean()))
            filled = known & np.isfinite(values) & ~observed
            a.setdefault("filled_share", []).append(float(filled.sum() / max(known.sum(), 1)))
            for name, mask in (("observed", observed), ("filled", filled),
                               ("all", known & np.isfinite(values))):
                r, ub, n = _metrics(values, truth, mask)
                a.setdefault(f"{name}_r", []).append(r)
                a.setdefault(f"{name}_ubrmsd", []).append(ub)
            a.setdefault("seam", []).append(seam_ratio(values, cells))
            a.setdefault("nosmap_share", []).append(float(nosmap.sum() / max(np.isfinite(truth).sum(), 1)))
            m = nosmap & np.isfinite(values)
            d = values[m] - truth[m]
            a.setdefault("nosmap_rmse", []).append(float(np.sqrt(np.mean(d ** 2))) if d.size >= 3 else math.nan)
            a.setdefault("nosmap_ubrmsd", []).append(float(np.std(d)) if d.size >= 3 else math.nan)
    rows = {}
    for variant, a in acc.items():
        rows[variant] = {k: _nanmean(v) for k, v in a.items()}
    temporal = rows.pop("temporal")
    oracle = rows.pop("oracle")["ratio"]
    patterns: dict[str, dict[str, Any]] = {}
    for key, p in pat.items():
        patterns[key] = {"share": _nanmean(p["share"]), "pixels": _nanmean(p["pixels"])}
        for variant in PATTERN_VARIANTS:
            patterns[key][variant] = {"r": _nanmean(p[f"{variant}|r"]), "ubrmsd": _nanmean(p[f"{variant}|ubrmsd"])}
    result = {"scene": prep.scene.name, "cloud_fractions": shares, "truth_seam": float(np.nanmean(seams_truth)),
              "variants": rows, "temporal": temporal, "window_days": TEMPORAL_WINDOW_DAYS, "oracle_ratio": oracle,
              "patterns": patterns}
    return result


def temporal_verdict(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether temporal filling beats the cell-mean fill on the pixels it fills, per scene and on every scene; and
    the rule for its default: never worse than the cell-mean fill by more than :data:`TEMPORAL_TIE` of that fill's
    ubRMSD on any scene (a difference in the fourth decimal is a tie), and better on average."""
    per = {}
    for g in results:
        t = g.get("temporal")
        if not t:
            continue
        d = t["temporal_ubrmsd"] - t["cell_mean_ubrmsd"]
        per[g["scene"]] = {"difference": d, "better": d < 0,
                           "not_worse": d <= TEMPORAL_TIE * t["cell_mean_ubrmsd"]}
    not_worse = bool(per) and all(v["not_worse"] for v in per.values())
    return {"per_scene": per, "better_everywhere": bool(per) and all(v["better"] for v in per.values()),
            "not_worse_everywhere": not_worse,
            "on": not_worse and float(np.mean([v["difference"] for v in per.values()])) < 0}


def temporal_table(results: list[dict[str, Any]], window_days: int | None = None) -> list[str]:
    """Markdown: temporal filling against the cell-mean fill on the pixels it fills, the verdict, and whether the
    default (``window_days``; None: options.FILL_WINDOW_DAYS) agrees with it."""
    rows = [g for g in results if g.get("temporal")]
    if not rows:
        return []

    def f(v: float, d: int = 4) -> str:
        return "n/a" if v is None or not math.isfinite(v) else f"{v:.{d}f}"

    out = ["", f"Temporal filling (window {rows[0].get('window_days', TEMPORAL_WINDOW_DAYS)} days), on the pixels it "
           "fills (quality 4), R / ubRMSD averaged over the dates:", "",
           "| scene | pixels filled from a neighbouring date | from the neighbouring date (`tfill/smooth`) | "
           "coarse-cell means (`fill/smooth`) | clear sky (`clear/smooth`) | fully observed pixels | "
           "ubRMSD temporal / observed |",
           "|---|---|---|---|---|---|---|"]
    for g in rows:
        t = g["temporal"]
        ratio = t["temporal_ubrmsd"] / t["observed_ubrmsd"] if t["observed_ubrmsd"] else math.nan
        out.append(f"| {g['scene']} | {100 * t['share']:.1f} % | {f(t['temporal_r'], 3)} / {f(t['temporal_ubrmsd'])} | "
                   f"{f(t['cell_mean_r'], 3)} / {f(t['cell_mean_ubrmsd'])} | {f(t['clear_r'], 3)} / "
                   f"{f(t['clear_ubrmsd'])} | {f(t['observed_r'], 3)} / {f(t['observed_ubrmsd'])} | {f(ratio, 2)} |")
    v = temporal_verdict(rows)
    if window_days is None:
        from smdownscale.algorithms import options

        window_days = options.FILL_WINDOW_DAYS
    rule = "on" if v["on"] else "off"
    default = "on" if window_days else "off"
    out += ["", "Temporal filling better than the cell-mean fill on the pixels it fills, on every scene: "
            f"{'yes' if v['better_everywhere'] else 'no'} (ubRMSD difference "
            + ", ".join(f"{k} {x['difference']:+.4f}" for k, x in v["per_scene"].items()) + "); "
            f"never worse by more than {100 * TEMPORAL_TIE:.0f} % of the cell-mean fill's ubRMSD and better on "
            f"average: {'yes' if v['on'] else 'no'}. By that rule it belongs {rule} by default; it is {default} "
            f"(FILL_WINDOW_DAYS {window_days})"
            + ("." if rule == default else ": the default disagrees with the bench.")]
    return out


def gap_targets(results: list[dict[str, Any]], default: str = "fill/smooth") -> dict[str, Any]:
    """Per scene and overall: the issue's targets for the default variant."""
    per = {}
    for g in results:
        d, c = g["variants"][default], g["variants"]["fill/constant"]
        ratio = filled_ratio(d)
        seam_off = abs(d["seam"] - g["truth_seam"]) / g["truth_seam"]
        per[g["scene"]] = {"coverage_100": d["coverage"] >= 1.0 - 1e-9, "filled_ratio": ratio,
                           "filled_ok": ratio <= FILLED_RATIO_TARGET, "seam_off": seam_off,
                           "seam_ok": seam_off <= SEAM_TOLERANCE,
                           "ubrmsd_vs_constant": d["all_ubrmsd"] - c["all_ubrmsd"],
                           "ubrmsd_ok": d["all_ubrmsd"] <= c["all_ubrmsd"] + 1e-6,
                           "nosmap_vs_constant": d.get("nosmap_rmse", math.nan) - c.get("nosmap_rmse", math.nan),
                           "nosmap_ok": not d.get("nosmap_rmse", math.nan) > c.get("nosmap_rmse", math.nan) + 1e-6}
        # the same target on the filled pixels missing LST only (NDVI and the rest observed), apart from the above
        lst = pattern_ratio(g, "lst", default)
        per[g["scene"]].update(lst_only_ratio=lst, lst_only_ok=lst <= FILLED_RATIO_TARGET)
    keys = ("coverage_100", "filled_ok", "seam_ok", "ubrmsd_ok", "nosmap_ok", "lst_only_ok")
    return {"default": default, "per_scene": per,
            **{k: bool(per) and all(v[k] for v in per.values()) for k in keys}}


def gap_table(results: list[dict[str, Any]]) -> list[str]:
    """Markdown: the gap-filling and seam table, then the targets."""
    if not results:
        return []
    out = ["| scene | LST cloud share per date | variant | coverage | filled share | R / ubRMSD observed | "
           "R / ubRMSD filled | ubRMSD filled / observed | ubRMSD all | seam ratio (truth) |",
           "|---|---|---|---|---|---|---|---|---|---|"]

    def f(v: float, d: int = 4) -> str:
        return "n/a" if v is None or not math.isfinite(v) else f"{v:.{d}f}"

    for g in results:
        clouds = ", ".join(f"{100 * c:.0f} %" for c in g["cloud_fractions"])
        for variant in VARIANTS:
            v = g["variants"][variant]
            ratio = filled_ratio(v)
            out.append(f"| {g['scene']} | {clouds} | {variant} | {100 * v['coverage']:.2f} % | "
                       f"{100 * v['filled_share']:.1f} % | {f(v['observed_r'], 3)} / {f(v['observed_ubrmsd'])} | "
                       f"{f(v['filled_r'], 3)} / {f(v['filled_ubrmsd'])} | {f(ratio, 2)} | {f(v['all_ubrmsd'])} | "
                       f"{f(v['seam'], 3)} ({f(g['truth_seam'], 3)}) |")
    tg = gap_targets(results)
    out += ["", f"Targets for the default (`{tg['default']}`): coverage 100 % on every scene: "
            f"{'yes' if tg['coverage_100'] else 'no'}; filled ubRMSD at most {FILLED_RATIO_TARGET} x observed on "
            f"every scene: {'yes' if tg['filled_ok'] else 'no'} (ratios "
            + ", ".join(f"{k} {ratio_text(v['filled_ratio'])}" for k, v in tg["per_scene"].items())
            + f"); seam ratio within {100 * SEAM_TOLERANCE:.0f} % of the truth's on every scene: "
            f"{'yes' if tg['seam_ok'] else 'no'} (off by "
            + ", ".join(f"{k} {100 * v['seam_off']:.1f} %" for k, v in tg["per_scene"].items())
            + f"); ubRMSD no worse than constant correction: {'yes' if tg['ubrmsd_ok'] else 'no'} (difference "
            + ", ".join(f"{k} {v['ubrmsd_vs_constant']:+.4f}" for k, v in tg["per_scene"].items()) + "); RMSE in "
            f"cells without SMAP no worse than constant correction (which keeps the plain prediction there): "
            f"{'yes' if tg['nosmap_ok'] else 'no'} (difference "
            + ", ".join(f"{k} {v['nosmap_vs_constant']:+.4f}" for k, v in tg["per_scene"].items()) + ")."]
    if all(draw_range(g) for g in results):
        out += ["", f"Filled / observed of the default over the {results[0]['draws']} cloud draws (lowest–highest; the "
                "target above is judged on the mean over the draws): "
                + ", ".join(f"{g['scene']} {draw_range(g)[0]:.2f}–{draw_range(g)[1]:.2f}" for g in results) + "."]
    if all(g.get("oracle_ratio") is not None for g in results):
        out += ["", "The same ratio for an oracle (a linear regression of the truth's within-cell deviation on the "
                "factors a pixel has, fitted on the truth itself; `oracle_ratio`): "
                + ", ".join(f"{g['scene']} {g['oracle_ratio']:.2f}" for g in results) + "."]
    if all("tfill/smooth" in g["variants"] for g in results):
        ts = gap_targets(results, "tfill/smooth")
        out += ["", f"With temporal filling (a series, `tfill/smooth`): filled ubRMSD at most {FILLED_RATIO_TARGET} x "
                f"observed on every scene: {'yes' if ts['filled_ok'] else 'no'} (ratios "
                + ", ".join(f"{k} {ratio_text(v['filled_ratio'])}" for k, v in ts["per_scene"].items()) + ")."]
    if all("noradar/tfill" in g["variants"] for g in results):
        nr = gap_targets(results, "noradar/tfill")
        out += ["", "A date without a radar overpass (`noradar/tfill`: the radar from the neighbouring dates, the "
                "cloud gaps filled from what the pixels have): ubRMSD observed / filled, against `tfill/smooth` with "
                "the radar: " + ", ".join(
                    f"{g['scene']} {g['variants']['noradar/tfill']['observed_ubrmsd']:.4f} / "
                    f"{g['variants']['noradar/tfill']['filled_ubrmsd']:.4f} "
                    f"({g['variants']['tfill/smooth']['observed_ubrmsd']:.4f} / "
                    f"{g['variants']['tfill/smooth']['filled_ubrmsd']:.4f})" for g in results)
                + f"; filled at most {FILLED_RATIO_TARGET} x observed on every scene: "
                f"{'yes' if nr['filled_ok'] else 'no'} (ratios "
                + ", ".join(f"{k} {ratio_text(v['filled_ratio'])}" for k, v in nr["per_scene"].items()) + ")."]
    return out + temporal_table(results) + summary_table(results)


def pattern_table(results: list[dict[str, Any]]) -> list[str]:
    """Markdown: the filled pixels of the default split by the factors they miss (:data:`PATTERNS`), and where the
    filled-to-observed target holds."""
    rows = [g for g in results if g.get("patterns")]
    if not rows:
        return []

    def f(v: float | None, d: int = 4) -> str:
        return "n/a" if v is None or not math.isfinite(v) else f"{v:.{d}f}"

    out = ["", "Filled pixels by the factors they miss in the cloudy stack (`fill/smooth` unless named; R / ubRMSD "
           "averaged over the dates, a date with fewer than 3 such pixels left out; each ratio is the pixels' ubRMSD "
           "over the fully observed pixels' in the same run; *clear sky*: `clear/smooth` on the same pixels, how "
           "much harder the pixels are without any gap):", "",
           "| scene | missing | share of the pixels | ubRMSD observed | R / ubRMSD filled | filled / observed | "
           "clear sky: filled / observed | `tfill/smooth`: filled / observed |",
           "|---|---|---|---|---|---|---|---|"]
    for g in rows:
        d = g["variants"]["fill/smooth"]
        obs = f(d["observed_ubrmsd"])
        for key, label in PATTERNS:
            p = g["patterns"].get(key)
            if not p or (key == "other" and not p["pixels"] > 0):
                continue
            out.append(f"| {g['scene']} | {label} | {100 * p['share']:.1f} % | {obs} | "
                       f"{f(p['fill/smooth']['r'], 3)} / {f(p['fill/smooth']['ubrmsd'])} | "
                       f"{f(pattern_ratio(g, key), 2)} | {f(pattern_ratio(g, key, 'clear/smooth'), 2)} | "
                       f"{f(pattern_ratio(g, key, 'tfill/smooth'), 2)} |")
        ratio = filled_ratio(d)
        c, tv = g["variants"].get("clear/smooth") or {}, g["variants"].get("tfill/smooth") or {}
        cratio = filled_ratio(c)
        tratio = filled_ratio(tv)
        out.append(f"| {g['scene']} | any (all filled) | {100 * d['filled_share']:.1f} % | {obs} | "
                   f"{f(d['filled_r'], 3)} / {f(d['filled_ubrmsd'])} | {f(ratio, 2)} | {f(cratio, 2)} | "
                   f"{f(tratio, 2)} |")
    tg = gap_targets(rows)

    def where(key: str) -> str:
        ratios = {g["scene"]: pattern_ratio(g, key) for g in rows}
        met = [k for k, v in ratios.items() if v <= FILLED_RATIO_TARGET]
        held = ("on every scene" if len(met) == len(ratios) else "on no scene" if not met
                else "on " + ", ".join(met) + " only")
        return f"{held} (ratios " + ", ".join(f"{k} {ratio_text(v)}" for k, v in ratios.items()) + ")"

    out += ["", f"Filled ubRMSD at most {FILLED_RATIO_TARGET} x observed (`fill/smooth`) on the pixels missing LST "
            f"only, on every scene: {'yes' if tg['lst_only_ok'] else 'no'} (ratios "
            + ", ".join(f"{k} {ratio_text(v['lst_only_ratio'])}" for k, v in tg["per_scene"].items())
            + f"); on the pixels missing LST and NDVI it holds {where('lst_ndvi')}; on all filled pixels together, "
            f"on every scene: {'yes' if tg['filled_ok'] else 'no'} (ratios "
            + ", ".join(f"{k} {ratio_text(v['filled_ratio'])}" for k, v in tg["per_scene"].items()) + ")."]
    return out


def summary_table(results: list[dict[str, Any]]) -> list[str]:
    """Markdown: the README's summary of the default (``fill/smooth``) per scene, with temporal filling."""
    if not results:
        return []

    def f(v: float, d: int = 4) -> str:
        return "n/a" if v is None or not math.isfinite(v) else f"{v:.{d}f}"

    def nosmap(c: dict[str, float], d: dict[str, float]) -> str:
        if "nosmap_share" not in d:
            return "n/a"
        return (f"{100 * d['nosmap_share']:.1f} %, {f(c['nosmap_rmse'])} / {f(d['nosmap_rmse'])}, "
                f"{f(c['nosmap_ubrmsd'])} / {f(d['nosmap_ubrmsd'])}")

    out = ["", "Summary (the README's table): the default `fill/smooth` of one date, and `tfill/smooth` (a series with "
           "temporal filling, FILL_WINDOW_DAYS 12, the default where there are other dates):", "",
           "| scene | coverage before → after | filled share | R / ubRMSD observed | R / ubRMSD filled | "
           "filled / observed (oracle); range over the cloud draws | filled / observed: LST only / LST and NDVI "
           "missing | same pixels clear "
           "sky | seam ratio truth / constant / smooth | ubRMSD constant / smooth | cells without SMAP: pixels, RMSE "
           "constant / smooth, ubRMSD constant / smooth | series: filled from a neighbouring date | series: ubRMSD "
           "filled / all (filled / observed; range over the cloud draws) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for g in results:
        v = g["variants"]
        h, d, c, clear = v["holes"], v["fill/smooth"], v["fill/constant"], v["clear/smooth"]
        t, tv = g.get("temporal") or {}, v.get("tfill/smooth") or {}
        ratio = filled_ratio(d)
        tratio = filled_ratio(tv)
        span, tspan = draw_range(g), draw_range(g, "tfill")
        tdraws = f"; draws {tspan[0]:.2f}–{tspan[1]:.2f}" if tspan else ""
        series = (f"{100 * t['share']:.1f} % | {f(tv['filled_ubrmsd'])} / {f(tv['all_ubrmsd'])} "
                  f"({f(tratio, 2)}{tdraws})" if t and tv else "n/a | n/a")
        out.append(f"| {g['scene']} | {100 * h['coverage']:.1f} % → {100 * d['coverage']:.1f} % | "
                   f"{100 * d['filled_share']:.1f} % | {f(d['observed_r'], 3)} / {f(d['observed_ubrmsd'])} | "
                   f"{f(d['filled_r'], 3)} / {f(d['filled_ubrmsd'])} | {ratio_text(ratio)} "
                   f"({f(g.get('oracle_ratio'), 2)})"
                   + (f"; draws {span[0]:.2f}–{span[1]:.2f}" if span else "") + " | "
                   f"{f(pattern_ratio(g, 'lst'), 2)} / {f(pattern_ratio(g, 'lst_ndvi'), 2)} | "
                   f"{f(clear['filled_ubrmsd'])} | "
                   f"{f(g['truth_seam'], 2)} / {f(c['seam'], 2)} / {f(d['seam'], 2)} | "
                   f"{f(c['all_ubrmsd'])} / {f(d['all_ubrmsd'])} | {nosmap(c, d)} | {series} |")
    return out
