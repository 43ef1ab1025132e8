"""Experiments of issue 13 on the accuracy bench's scenes: what was tried to close the gap at 1 km, kept or not.

Usage::

    .venv/bin/python bench/accuracy_experiments.py --out out/bench-accuracy --doc bench/ACCURACY-EXPERIMENTS.md

Reuses the scenes (and ceilings) ``bench/accuracy.py`` caches in ``<out>/scenes``. Each variant is a model fitted
on the scene's coarse training pairs (``features.coarse_pairs``, every factor), applied to the 1 km factors of every
date and corrected with the constant residual correction (``residual.correct_array``), scored against the truth
like the bench (R / ubRMSD averaged over dates, gap closed between bilinear and the ceiling). No cross-validation:
the variants differ only in the model or in what is done around it, so the numbers compare them directly.

Variants (RF: the engine's random forest defaults unless noted)
    * ``rf mf0.33`` / ``rf mf0.2`` / ``rf mf0.1``: feature subsampling in the forest (``max_features``).
    * ``rf +transfer gain``: the 1 km detail (prediction minus its cell mean) scaled by the gain that the scale
      transfer check measures one level up (detail of SMAP cells in 2x and 3x coarser cells, regressed on the
      predicted detail), capped at 1.
    * ``rf +local ridge``: ridge regressions on moving windows of 7 x 7 SMAP cells (all training dates), predicted
      on each cell's pixels and averaged 50/50 with the global forest (as the Data Mining Sharpener blends).
    * ``rf SAR 3x3``: vv and vh averaged over 3 x 3 pixels before prediction; ``rf no SAR``: without vv and vh.
    * ``rf +noise aug s``: factor-noise augmentation (``train.make_augmentation``): 5 noisy copies of the
      samples with s times each factor's 1 km noise.
    * ``linear_gbr`` and ``linear_gbr +noise aug 0.75``: the linear trend + boosting hybrid without and with it.

``--edges`` (with ``--seeds``, ``--only``): RF with the train defaults trained on center-rule coarse pairs (``rf``)
or on area-weighted ones (``area pairs``: each 1 km pixel counts in the cells it straddles by its area share,
``features.AREA_WEIGHTED_PAIRS``), downscaled with each residual correction (constant, smooth, area-to-point
kriging ``atpk``), the residual's cell means by the center rule or by area shares (``area``,
``residual.AREA_WEIGHTED``); gap closed and the seam ratio (``bench/gaps.py``) per product, averaged over seeds.

``--refit`` (with ``--only``): the disaggregation refit for the mosaics' compressed 1 km range: after the coarse fit
(RF, train defaults), forests refitted at 1 km on the training dates with targets = the prediction corrected against
SMAP (constant or smooth), 1 to 3 times. Smooth residual correction.

``--detail`` (with ``--seeds``, ``--screened``, ``--only``): the within-cell detail the forest flattens on the mosaics.
RF with the train defaults (noise augmentation); its detail within each SMAP cell (prediction minus the cell mean)
scaled by the scale-transfer check's gain (``rf, transfer gain``: SMAP's detail within 2x / 3x coarser cells on a
forest's held-out detail, with the augmentation, uncapped), by that gain extrapolated from the 2x and 3x levels to
SMAP's 9 km cell, or by the truth's own slope (``rf, truth slope as gain``: not a method, the headroom of any gain);
or replaced by a **contrast detail**: a ridge regression fitted on the coarse pairs' local contrasts (each SMAP cell
minus the mean of its 3 x 3 neighbourhood, same date, factors and SMAP alike, factors with the augmentation's 1 km
noise), applied at 1 km to each pixel's factors minus their mean over its SMAP cell (``rf + contrast detail``), or
half and half with the forest's detail (``rf, detail 1/2 contrast``); class fractions standardised like the other
features, left in their units (``classes unscaled``: a rare class's contrast pays its full 0-to-1 coefficient in the
penalty) or left out (``no classes``); ``bilinear anchors``: the forest's and the contrast field's cell means
interpolated bilinearly instead of broadcast to the cell's pixels (no steps at cell edges). For comparison the
contrast detail on the smooth SMAP surface alone (``smooth SMAP + contrast detail``) and the contrast model's
whole 1 km field smooth-corrected (``contrast model alone``). Every product smooth-corrected; gap closed and seam
ratio, averaged over the seeds. ``--screened``: on the factors smdownscale:screen selects with its defaults (the
default chain's factors). Also ``..., 5 x 5`` (the
contrasts over 5 x 5 cells) and ``..., penalty 10`` (ridge penalty 10 instead of 1), and a printed diagnosis of the
forest's error per date (between / within cells, the detail's spread and correlation, cropland's wettest pixels).

``--detail-transfer``: the forest and the contrast detail (bilinear anchors, class fractions unscaled) fitted on the
previous scene of the same generator (cyclic, as the bench's transfer row) and applied to each scene.

``--screening``: the default chain (smdownscale:screen, then RF with the train defaults, through the engine's
``screen_factors``, ``train_model`` and ``downscale``) with each collinearity filter of the screening (the study's,
decided by the scale-transfer check, off), next to RF on every factor.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from typing import Any, Callable, Iterator

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import accuracy as acc  # noqa: E402

SAR = ("vv", "vh")


def _fine(prep: acc.Prepared, specs: list[Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    from smdownscale.algorithms import features, raster
    from smdownscale.algorithms.derived import StackReader

    out = []
    for path in prep.stacks:
        ds = raster.open_raster(path)
        grid = raster.stack_grid(ds, path)
        block = StackReader(ds, [s.name for s in specs], path).read(0, grid.height)
        out.append(features.fine_design(block, specs))
    return out


def _predict(est: Any, fine: list[tuple[np.ndarray, np.ndarray]], shape: tuple[int, int]) -> list[np.ndarray]:
    out = []
    for x, valid in fine:
        p = np.full(valid.shape, np.nan)
        if x.shape[0]:
            p[valid] = est.predict(x)
        out.append(p.reshape(shape))
    return out


def _correct(prep: acc.Prepared, preds: list[np.ndarray]) -> list[np.ndarray]:
    from smdownscale.algorithms import raster
    from smdownscale.algorithms.residual import correct_array

    fine = raster.Grid.from_path(prep.stacks[0])
    out = []
    for t, p in enumerate(preds):
        sm = raster.read_all(prep.smap[t], dtype=np.float64)[0]
        out.append(correct_array(p, fine, raster.Grid.from_path(prep.smap[t]), sm, "constant")[0])
    return out


def _smooth(fine: list[tuple[np.ndarray, np.ndarray]], shape: tuple[int, int], cols: list[int]) -> list:
    from scipy import ndimage

    out = []
    for x, valid in fine:
        x2 = x.copy()
        for j in cols:
            full = np.full(valid.size, np.nan)
            full[valid.ravel()] = x[:, j]
            full = full.reshape(shape)
            ok = np.isfinite(full)
            num = ndimage.uniform_filter(np.where(ok, full, 0.0), 3, mode="nearest")
            den = ndimage.uniform_filter(ok.astype(np.float64), 3, mode="nearest")
            x2[:, j] = (num / np.maximum(den, 1e-9)).ravel()[valid.ravel()]
        out.append((x2, valid))
    return out


def _transfer_gain(pairs: Any, seed: int = 0) -> float:
    """Regression slope of SMAP's detail within 2x / 3x coarser cells on the detail predicted by a forest trained
    on those coarser cells (held-out blocks, as the scale-transfer check), pooled over both levels."""
    from smdownscale.algorithms import train as tr

    sums = [_transfer_sums(pairs, f, seed) for f in tr.TRANSFER_FACTORS]
    num, den = sum(s[0] for s in sums), sum(s[1] for s in sums)
    return num / den if den > 0 else 1.0


def _local_ridge(pairs: Any, fine: list, prep: acc.Prepared, shape: tuple[int, int], radius: int = 3,
                 alpha: float = 10.0) -> list[np.ndarray]:
    from sklearn.linear_model import Ridge

    from smdownscale.algorithms import raster
    from smdownscale.algorithms.aggregate import CellIndex

    w = pairs.grid.width
    rows, cols = pairs.cells // w, pairs.cells % w
    mu, sd = pairs.X.mean(0), pairs.X.std(0) + 1e-9
    xs_train = (pairs.X - mu) / sd
    cell_of = CellIndex(raster.Grid.from_path(prep.stacks[0]), raster.Grid.from_path(prep.smap[0])).rows(0, shape[0])
    cell_of = cell_of.ravel()
    models: dict[int, Any] = {}
    out = []
    for x, valid in fine:
        cells = cell_of[valid.ravel()]
        xs = (x - mu) / sd
        lp = np.full(x.shape[0], np.nan)
        for c in np.unique(cells[cells >= 0]):
            if int(c) not in models:
                r0, c0 = divmod(int(c), w)
                m = (np.abs(rows - r0) <= radius) & (np.abs(cols - c0) <= radius)
                models[int(c)] = Ridge(alpha=alpha).fit(xs_train[m], pairs.y[m]) if m.sum() >= 10 else None
            if models[int(c)] is not None:
                sel = cells == c
                lp[sel] = models[int(c)].predict(xs[sel])
        full = np.full(valid.size, np.nan)
        full[valid.ravel()] = lp
        out.append(full.reshape(shape))
    return out


def variants(prep: acc.Prepared) -> dict[str, list[np.ndarray]]:
    from smdownscale.algorithms import features
    from smdownscale.algorithms import train as tr

    smap, stacks = acc.training_dates(prep)
    pairs, _ = features.drop_constant_factors(features.coarse_pairs(smap, stacks))
    fine = _fine(prep, pairs.specs)
    shape = prep.truth[0].shape
    out: dict[str, list[np.ndarray]] = {}

    def fit(model: str, params: dict[str, Any] | None = None, aug: float = 0.0, p: Any = pairs) -> Any:
        augmentation = tr.make_augmentation(p, aug)[0] if aug else None
        x, y = augmentation.apply(p.X, p.y, 0) if augmentation is not None else (p.X, p.y)
        return tr._fit(tr.make_estimator(model, params, 0, 2), x, y, model, 0)

    def add(name: str, make: Callable[[], list[np.ndarray]]) -> None:
        out[name] = _correct(prep, make())

    for mf in (0.33, 0.2, 0.1):
        add(f"rf mf{mf}", lambda mf=mf: _predict(fit("rf", {"max_features": mf}), fine, shape))
    rf = fit("rf")
    base = _predict(rf, fine, shape)
    gain = min(_transfer_gain(pairs), 1.0)
    add("rf +transfer gain", lambda: [gain * b for b in base])
    local = _local_ridge(pairs, fine, prep, shape)
    add("rf +local ridge", lambda: [np.where(np.isfinite(lo), 0.5 * b + 0.5 * lo, b) for b, lo in zip(base, local)])
    sar = [j for j, n in enumerate(pairs.feature_names) if n in SAR]
    if sar:
        add("rf SAR 3x3", lambda: _predict(rf, _smooth(fine, shape, sar), shape))
        keep = [s.name for s in pairs.specs if s.name not in SAR]
        p2, _ = features.drop_constant_factors(features.coarse_pairs(smap, stacks, keep))
        add("rf no SAR", lambda: _predict(fit("rf", p=p2), _fine(prep, p2.specs), shape))
    for s in (0.5, 0.75, 1.0):
        add(f"rf +noise aug {s}", lambda s=s: _predict(fit("rf", aug=s), fine, shape))
    add("linear_gbr", lambda: _predict(fit("linear_gbr"), fine, shape))
    add("linear_gbr +noise aug 0.75", lambda: _predict(fit("linear_gbr", aug=0.75), fine, shape))
    return out


def screening_variants(prep: acc.Prepared) -> dict[str, list[np.ndarray]]:
    """The default chain with each collinearity filter, and RF on every factor (train and downscale defaults)."""
    from smdownscale.algorithms import screen
    from smdownscale.algorithms import train as tr

    smap, stacks = acc.training_dates(prep)
    work = os.path.join(prep.folder, "experiments")
    os.makedirs(work, exist_ok=True)
    out: dict[str, list[np.ndarray]] = {}
    for mode in (*screen.COLLINEARITY_MODES, "every factor"):
        factors = None
        if mode != "every factor":
            factors = list(screen.screen_factors(smap, stacks, collinearity=mode, seed=0, n_jobs=2).selected)
        model = os.path.join(work, f"chain-{mode.replace(' ', '-')}.smdmodel")
        tr.train_model(tr.TrainRequest(smap, stacks, model, "rf", factors=factors, cv_folds=0, n_jobs=2))
        name = f"screen {mode}, then RF" if factors is not None else "RF, every factor"
        out[name + (f" ({len(factors)} factors)" if factors is not None else "")] = acc.apply_model(
            model, prep, work, "constant")
    return out


@contextlib.contextmanager
def _area(pairs: bool, residual: bool) -> Iterator[None]:
    """Area-weighted coarse pairs and residual cell means switched on inside the block (engine flags)."""
    from smdownscale.algorithms import features
    from smdownscale.algorithms import residual as res

    before = (features.AREA_WEIGHTED_PAIRS, res.AREA_WEIGHTED)
    features.AREA_WEIGHTED_PAIRS, res.AREA_WEIGHTED = pairs, residual
    try:
        yield
    finally:
        features.AREA_WEIGHTED_PAIRS, res.AREA_WEIGHTED = before


def _seams(prep: acc.Prepared, products: dict[str, list[np.ndarray]]) -> dict[str, float]:
    import gaps as gp

    from smdownscale.algorithms import raster
    from smdownscale.algorithms.aggregate import CellIndex

    fine = raster.Grid.from_path(prep.stacks[0])
    cells = CellIndex(fine, raster.Grid.from_path(prep.smap[0])).rows(0, fine.height)
    return {k: float(np.mean([gp.seam_ratio(v, cells) for v in vals])) for k, vals in products.items()}


def edge_variants(prep: acc.Prepared, seeds: tuple[int, ...] = (0,)) -> dict[str, list[np.ndarray]]:
    """RF with the train and downscale defaults (noise augmentation, smooth correction), trained on center-rule or
    area-weighted coarse pairs, corrected with each residual correction (center-rule or area cell means); one
    model per seed (products named ``... #seed``, averaged by :func:`main`)."""
    from smdownscale.algorithms import train as tr

    smap, stacks = acc.training_dates(prep)
    work = os.path.join(prep.folder, "experiments")
    os.makedirs(work, exist_ok=True)
    out: dict[str, list[np.ndarray]] = {}
    for seed in seeds:
        for pairs in (False, True):
            model = os.path.join(work, f"rf-{'area' if pairs else 'center'}-{seed}.smdmodel")
            with _area(pairs, False):
                tr.train_model(tr.TrainRequest(smap, stacks, model, "rf", cv_folds=0, n_jobs=2, seed=seed))
            tag = "area pairs" if pairs else "rf"
            for residual, area in (("constant", False), ("smooth", False), ("atpk", False), ("smooth", True),
                                   ("atpk", True)):
                if pairs and residual == "constant":
                    continue
                with _area(pairs, area):
                    out[f"{tag}, {residual}{' area' if area else ''} #{seed}"] = acc.apply_model(
                        model, prep, work, residual)
    return out


def refit_variants(prep: acc.Prepared, seed: int = 0, max_pixels: int = 60000) -> dict[str, list[np.ndarray]]:
    """The disaggregation refit: after the coarse fit, forests refitted at 1 km on the training dates with targets
    = the current prediction residual-corrected against SMAP (each 1 km pixel moves by its cell's residual, so the
    targets' cell means equal SMAP), iterated. Every product smooth-corrected like the downscale default."""
    from smdownscale.algorithms import features, raster
    from smdownscale.algorithms import train as tr
    from smdownscale.algorithms.residual import correct_array

    smap, stacks = acc.training_dates(prep)
    ntrain = len(stacks)
    pairs, _ = features.drop_constant_factors(features.coarse_pairs(smap, stacks))
    fine = _fine(prep, pairs.specs)
    shape = prep.truth[0].shape
    fgrid = raster.Grid.from_path(prep.stacks[0])
    sms = [raster.read_all(p, dtype=np.float64)[0] for p in prep.smap]
    cgrids = [raster.Grid.from_path(p) for p in prep.smap]

    def corrected(preds: list[np.ndarray], mode: str) -> list[np.ndarray]:
        return [correct_array(p, fgrid, cgrids[t], sms[t], mode)[0] for t, p in enumerate(preds)]

    augmentation = tr.make_augmentation(pairs, tr.NOISE_AUGMENTATION)[0]
    x, y = augmentation.apply(pairs.X, pairs.y, seed) if augmentation is not None else (pairs.X, pairs.y)
    est = tr._fit(tr.make_estimator("rf", None, seed, 2), x, y, "rf", seed)
    base = _predict(est, fine, shape)
    out: dict[str, list[np.ndarray]] = {"rf, coarse fit": corrected(base, "smooth")}
    rng = np.random.default_rng([seed, 31])
    for target_mode in ("constant", "smooth"):
        preds = base
        for it in range(1, 4):
            targets = corrected(preds[:ntrain], target_mode)
            xs, ts = [], []
            for t in range(ntrain):
                xt, valid = fine[t]
                tv = targets[t].ravel()[valid.ravel()]
                ok = np.isfinite(tv)
                xs.append(xt[ok])
                ts.append(tv[ok])
            xa, ta = np.concatenate(xs), np.concatenate(ts)
            if ta.size > max_pixels:
                pick = rng.choice(ta.size, max_pixels, replace=False)
                xa, ta = xa[pick], ta[pick]
            est_i = tr._fit(tr.make_estimator("rf", None, seed, 2), xa, ta, "rf", seed)
            preds = _predict(est_i, fine, shape)
            out[f"refit x{it}, {target_mode} targets"] = corrected(preds, "smooth")
    return out


def _cell_detail(preds: list[np.ndarray], cells: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(cell mean broadcast to the pixels, detail = prediction minus it) per date; cells by the center rule."""
    out = []
    for p in preds:
        v = p.ravel()
        ok = np.isfinite(v) & (cells >= 0)
        n = np.bincount(cells[ok], minlength=int(cells.max()) + 1)
        s = np.bincount(cells[ok], v[ok], minlength=n.size)
        mean = np.full(v.size, np.nan)
        mean[ok] = (s / np.maximum(n, 1))[cells[ok]]
        out.append((mean.reshape(p.shape), (v - mean).reshape(p.shape)))
    return out


def _scene_grids(prep: acc.Prepared, specs: Any) -> tuple:
    """The scene's 1 km factor rows (:func:`_fine`), the truth's shape, the fine grid, SMAP per date and its grids,
    and the SMAP cell of every 1 km pixel (flat)."""
    from smdownscale.algorithms import raster
    from smdownscale.algorithms.aggregate import CellIndex

    fine = _fine(prep, specs)
    shape = prep.truth[0].shape
    fgrid = raster.Grid.from_path(prep.stacks[0])
    sms = [raster.read_all(p, dtype=np.float64)[0] for p in prep.smap]
    cgrids = [raster.Grid.from_path(p) for p in prep.smap]
    cells = CellIndex(fgrid, cgrids[0]).rows(0, shape[0]).ravel()
    return fine, shape, fgrid, sms, cgrids, cells


def detail_transfer_variants(prep: acc.Prepared, src: acc.Prepared, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """The forest and the contrast detail (bilinear anchors, class fractions unscaled) fitted on another scene
    (``src``, same generator) and applied to this one, smooth-corrected against this scene's SMAP."""
    from smdownscale.algorithms import features
    from smdownscale.algorithms import train as tr
    from smdownscale.algorithms.residual import correct_array

    smap, stacks = acc.training_dates(src)
    pairs, _ = features.drop_constant_factors(features.coarse_pairs(smap, stacks))
    augmentation = tr.make_augmentation(pairs, tr.NOISE_AUGMENTATION)[0]
    x, y = augmentation.apply(pairs.X, pairs.y, seed) if augmentation is not None else (pairs.X, pairs.y)
    est = tr._fit(tr.make_estimator("rf", None, seed, 2), x, y, "rf", seed)
    beta = _contrast_model(pairs, augmentation, seed, scale_classes=False)
    fine, shape, fgrid, sms, cgrids, cells = _scene_grids(prep, pairs.specs)
    base = _predict(est, fine, shape)
    whole = _fine_contrast(fine, np.zeros_like(cells), beta, shape)
    out = {"rf, transfer": [correct_array(b, fgrid, cgrids[t], sms[t], "smooth")[0] for t, b in enumerate(base)]}
    out["rf + contrast detail, bilinear anchors, classes unscaled, transfer"] = [
        correct_array(_bilinear_means(base[t], cells, cgrids[t], fgrid) + f
                      - _bilinear_means(f, cells, cgrids[t], fgrid), fgrid, cgrids[t], sms[t], "smooth")[0]
        for t, f in enumerate(whole)]
    return out


def _diagnose(prep: acc.Prepared, pairs: Any, cells: np.ndarray, preds: list[np.ndarray]) -> None:
    """Print where the error of 1 km products is, per date: between cells (cell mean error) or within them (truth's
    detail minus the product's), the detail's spread and correlation next to the ceiling's, and on cropland (WorldCover
    40) the bias on its wettest 35 % and the rest; the share of pixels with a factor outside the 1-99 % range of the
    training cells' means."""
    from smdownscale.algorithms import raster

    ds = raster.open_raster(prep.stacks[0])
    names = raster.band_names(ds, prep.stacks[0])
    ds = None
    lc = raster.read_all(prep.stacks[0], dtype=np.float64)[names.index("landcover")].ravel() \
        if "landcover" in names else None
    for t, truth in enumerate(prep.truth):
        tv, ce = truth.ravel(), prep.baselines["ceiling"][t].ravel()
        row = {}
        for name, pv in (("rf", preds[t].ravel()), ("ceiling", ce)):
            m = np.isfinite(tv) & np.isfinite(pv) & np.isfinite(ce) & (cells >= 0)
            _, inv = np.unique(cells[m], return_inverse=True)
            n = np.bincount(inv)
            e = pv[m] - tv[m]
            dt_ = tv[m] - (np.bincount(inv, tv[m]) / n)[inv]
            dp = pv[m] - (np.bincount(inv, pv[m]) / n)[inv]
            big = n >= 40
            sd_ratio = np.sqrt(np.bincount(inv, dp * dp) / n)[big] / np.sqrt(np.bincount(inv, dt_ * dt_) / n)[big]
            between = np.std((np.bincount(inv, e) / n)[inv])
            row[name] = (f"within-cell error sd {np.std(dt_ - dp):.4f}, between-cell {between:.4f}, detail sd / "
                         f"truth's (median cell) {np.median(sd_ratio):.2f}, detail R {np.corrcoef(dp, dt_)[0, 1]:.2f}")
            if lc is not None and (lc[m] == 40).sum() > 50:
                crop = lc[m] == 40
                wet = crop & (tv[m] > np.quantile(tv[m][crop], 0.65))
                row[name] += (f", cropland ubRMSD {np.std(e[crop]):.4f}, bias on its wettest 35 % "
                              f"{np.mean(e[wet]):+.4f}, on the rest {np.mean(e[crop & ~wet]):+.4f}")
        print(prep.scene.name, f"date {t}:", row, flush=True)
    lo, hi = np.quantile(pairs.X, 0.01, axis=0), np.quantile(pairs.X, 0.99, axis=0)
    cont = [j for j, n in enumerate(pairs.feature_names) if "=" not in n]
    shares = []
    for xf, _ in _fine(prep, pairs.specs):
        shares.append(float(np.mean(((xf[:, cont] < lo[cont]) | (xf[:, cont] > hi[cont])).any(1))))
    print(prep.scene.name, "share of 1 km pixels with a factor outside the 1-99 % range of the cell means, per date",
          [round(v, 2) for v in shares], flush=True)


def _bilinear_means(values: np.ndarray, cells: np.ndarray, coarse: Any, fine: Any) -> np.ndarray:
    """The cell means of a 1 km field (center rule) interpolated bilinearly back to 1 km; the cell mean itself
    where the interpolation has no value (next to cells without pixels)."""
    from smdownscale.algorithms.sample import resample_bilinear

    v = values.ravel()
    ok = np.isfinite(v) & (cells >= 0)
    n = np.bincount(cells[ok], minlength=coarse.width * coarse.height)
    s = np.bincount(cells[ok], v[ok], minlength=n.size)
    grid = np.where(n > 0, s / np.maximum(n, 1), np.nan)
    out = resample_bilinear(grid.reshape(coarse.height, coarse.width), coarse, fine).ravel()
    block = np.where(cells >= 0, grid[np.maximum(cells, 0)], np.nan)
    return np.where(np.isfinite(out), out, block).reshape(values.shape)


def _detail_slope(truth: list[np.ndarray], preds: list[np.ndarray], cells: np.ndarray) -> float:
    """Regression slope of the truth's within-cell detail on the prediction's (pooled over dates)."""
    num = den = 0.0
    for (_, dt_), (_, dp) in zip(_cell_detail(truth, cells), _cell_detail(preds, cells)):
        ok = np.isfinite(dt_) & np.isfinite(dp)
        num += float(np.sum(dt_[ok] * dp[ok]))
        den += float(np.sum(dp[ok] ** 2))
    return num / den if den > 0 else 1.0


def detail_variants(prep: acc.Prepared, seed: int = 0, screened: bool = False) -> dict[str, list[np.ndarray]]:
    """Within-cell detail gain for the forest's flat 1 km range: the prediction's detail within each SMAP cell
    scaled by a gain before the smooth residual correction. Gains: the scale-transfer check's (one level up: SMAP's
    detail within 2x and 3x coarser cells regressed on the detail predicted by a forest trained on those cells,
    with the noise augmentation, uncapped), the same extrapolated from the 2x and 3x levels to SMAP's 9x, and the
    truth's slope (not a method: the headroom). Every product smooth-corrected like the downscale default.
    ``screened``: on the factors smdownscale:screen selects with its defaults (the default chain's)."""
    from smdownscale.algorithms import features
    from smdownscale.algorithms import train as tr
    from smdownscale.algorithms.residual import correct_array

    smap, stacks = acc.training_dates(prep)
    factors = None
    if screened:
        from smdownscale.algorithms import screen

        factors = list(screen.screen_factors(smap, stacks, seed=seed, n_jobs=2).selected)
    pairs, _ = features.drop_constant_factors(features.coarse_pairs(smap, stacks, factors))
    fine, shape, fgrid, sms, cgrids, cells = _scene_grids(prep, pairs.specs)
    augmentation = tr.make_augmentation(pairs, tr.NOISE_AUGMENTATION)[0]
    x, y = augmentation.apply(pairs.X, pairs.y, seed) if augmentation is not None else (pairs.X, pairs.y)
    est = tr._fit(tr.make_estimator("rf", None, seed, 2), x, y, "rf", seed)
    base = _predict(est, fine, shape)
    token = tr._AUGMENT.set(augmentation)
    try:
        gains = {f: _transfer_gain_at(pairs, f, seed) for f in tr.TRANSFER_FACTORS}
    finally:
        tr._AUGMENT.reset(token)
    pooled = float(np.mean(list(gains.values())))
    # flattening grows with the aggregation: extrapolate log(gain) linearly in log(factor) to SMAP's cell (9 x 1 km)
    f2, f3 = tr.TRANSFER_FACTORS
    slope = (np.log(max(gains[f3], 1e-3)) - np.log(max(gains[f2], 1e-3))) / (np.log(f3) - np.log(f2))
    extrap = float(np.exp(np.log(max(gains[f2], 1e-3)) + slope * (np.log(9) - np.log(f2))))
    oracle = _detail_slope(prep.truth, base, cells)
    print(prep.scene.name, "gains", {k: round(v, 3) for k, v in gains.items()}, "pooled", round(pooled, 3),
          "extrapolated", round(extrap, 3), "truth slope", round(oracle, 3), flush=True)

    _diagnose(prep, pairs, cells, [correct_array(b, fgrid, cgrids[t], sms[t], "smooth")[0] for t, b in enumerate(base)])

    def scaled(g: float) -> list[np.ndarray]:
        out = []
        for t, (m, d) in enumerate(_cell_detail(base, cells)):
            p = np.where(np.isfinite(m), m + g * d, base[t])
            out.append(correct_array(p, fgrid, cgrids[t], sms[t], "smooth")[0])
        return out

    out = {"rf": scaled(1.0), "rf, transfer gain": scaled(max(pooled, 1.0)),
           "rf, extrapolated gain": scaled(min(max(extrap, 1.0), 3.0)), "rf, truth slope as gain": scaled(oracle)}
    # the detail from a linear model of local contrasts: cell minus its 3 x 3 neighbourhood, factors and SMAP
    means = _cell_detail(base, cells)
    classes = np.array(["=" in n for n in pairs.feature_names])
    for tag, kw in (("", {}), (", classes unscaled", {"scale_classes": False}), (", no classes", {"use": ~classes}),
                    (", classes unscaled, 5 x 5", {"scale_classes": False, "radius": 2}),
                    (", classes unscaled, penalty 10", {"scale_classes": False, "alpha": 10.0})):
        beta = _contrast_model(pairs, augmentation, seed, **kw)
        lin = _fine_contrast(fine, cells, beta, shape)
        for name, wr in ((f"rf + contrast detail{tag}", 0.0), (f"rf, detail 1/2 contrast{tag}", 0.5)):
            prods = []
            for t, (m, dr) in enumerate(means):
                p = np.where(np.isfinite(m) & np.isfinite(lin[t]), m + wr * dr + (1 - wr) * lin[t], base[t])
                prods.append(correct_array(p, fgrid, cgrids[t], sms[t], "smooth")[0])
            out[name] = prods
        if kw:
            # seam-free anchors: the forest's and the contrast field's cell means interpolated bilinearly
            whole = _fine_contrast(fine, np.zeros_like(cells), beta, shape)
            anchored = []
            for t, f in enumerate(whole):
                bm = _bilinear_means(base[t], cells, cgrids[t], fgrid)
                bf = _bilinear_means(f, cells, cgrids[t], fgrid)
                anchored.append(correct_array(bm + f - bf, fgrid, cgrids[t], sms[t], "smooth")[0])
            out[f"rf + contrast detail, bilinear anchors{tag}"] = anchored
            out[f"smooth SMAP + contrast detail{tag}"] = [correct_array(d, fgrid, cgrids[t], sms[t], "smooth")[0]
                                                          for t, d in enumerate(lin)]
            full = _fine_contrast(fine, np.zeros_like(cells), beta, shape)  # beta . (x - its scene mean)
            out[f"contrast model alone{tag}"] = [correct_array(np.where(np.isfinite(f), f, np.nan), fgrid,
                                                               cgrids[t], sms[t], "smooth")[0]
                                                 for t, f in enumerate(full)]
        print(prep.scene.name, f"contrast detail{tag}: truth slope", round(_detail_slope(
            prep.truth, [m + d for (m, _), d in zip(means, lin)], cells), 3),
            {k: round(float(v), 4) for k, v in zip(pairs.feature_names, beta) if v}, flush=True)
    return out


def _fine_contrast(fine: list, cells: np.ndarray, beta: np.ndarray, shape: tuple[int, int]) -> list[np.ndarray]:
    """Per date the 1 km detail beta . (pixel's factors - their mean over its SMAP cell)."""
    out = []
    for xf, valid in fine:
        c = cells[valid.ravel()]
        ok = c >= 0
        n = np.bincount(c[ok], minlength=int(cells.max()) + 1)
        xm = np.zeros_like(xf)
        for j in np.flatnonzero(beta):
            xm[ok, j] = (np.bincount(c[ok], xf[ok, j], minlength=n.size) / np.maximum(n, 1))[c[ok]]
        dv = np.full(c.size, np.nan)
        dv[ok] = (xf[ok] - xm[ok]) @ beta
        d = np.full(valid.size, np.nan)
        d[valid.ravel()] = dv
        out.append(d.reshape(shape))
    return out


def _contrast_model(pairs: Any, augmentation: Any, seed: int = 0, radius: int = 1, scale_classes: bool = True,
                    use: np.ndarray | None = None, alpha: float = 1.0) -> np.ndarray:
    """Coefficients of a ridge regression of SMAP's local contrast (a cell minus the mean of its (2 radius + 1)^2
    neighbourhood, same date) on the factors' contrast, the factors with the noise augmentation's 1 km noise:
    the engine's ``detail.fit_contrast`` (downscale's detail 'contrast'), whose defaults are ``scale_classes``
    False, radius 1 and penalty 1. ``scale_classes`` True standardises class fractions too; ``use`` masks the
    features (others 0)."""
    from smdownscale.algorithms import detail

    return detail.fit_contrast(pairs, augmentation, seed, radius, scale_classes, use, alpha)


def _transfer_gain_at(pairs: Any, f: int, seed: int = 0) -> float:
    """Slope of SMAP's detail within ``f`` x coarser cells on the detail a forest trained on those cells predicts
    for held-out blocks (the scale-transfer check's folds)."""
    num, den = _transfer_sums(pairs, f, seed)
    return num / den if den > 0 else 1.0


def _transfer_sums(pairs: Any, f: int, seed: int = 0) -> tuple[float, float]:
    """Sums of (SMAP's detail x predicted detail) and (predicted detail squared) within ``f`` x coarser cells, the
    detail predicted by a forest trained on those cells for held-out blocks (the scale-transfer check's folds)."""
    from smdownscale.algorithms import train as tr

    w = pairs.grid.width
    _, dcode = np.unique(np.asarray(pairs.dates).astype(str), return_inverse=True)
    est = tr.make_estimator("rf", {"n_estimators": 50}, seed, 2)
    x, y, anchor = tr.coarsen_pairs(pairs, f)
    b = f * max(1, -(-4 // f))
    gs, gb = tr.spatial_groups(pairs.cells, w, b), tr.spatial_groups(anchor, w, b)
    blocks = np.unique(gs)
    k = min(3, blocks.size)
    order = np.random.default_rng([seed, 17, f]).permutation(blocks.size)
    fold_of = {int(blocks[i]): int(j % k) for j, i in enumerate(order)}
    fs = np.array([fold_of[int(v)] for v in gs])
    fb = np.array([fold_of.get(int(v), -1) for v in gb])
    pred = np.full(pairs.y.size, np.nan)
    for j in range(k):
        pred[fs == j] = tr._fit(est, x[fb != j], y[fb != j], "rf", seed).predict(pairs.X[fs == j])
    ok = np.isfinite(pred)
    parent = dcode * 10**8 + (pairs.cells // w // f) * 10**4 + (pairs.cells % w // f)
    _, inv = np.unique(parent[ok], return_inverse=True)
    n = np.bincount(inv)
    dp = pred[ok] - (np.bincount(inv, pred[ok]) / n)[inv]
    dy = pairs.y[ok] - (np.bincount(inv, pairs.y[ok]) / n)[inv]
    return float(np.sum(dp * dy)), float(np.sum(dp * dp))


def _seed_mean(values: dict[str, float]) -> dict[str, float]:
    """Values of products named ``... #seed`` averaged over the seeds."""
    groups: dict[str, list[float]] = {}
    for k, v in values.items():
        groups.setdefault(k.split(" #")[0], []).append(v)
    return {k: float(np.mean(v)) for k, v in groups.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/bench-accuracy", help="the accuracy bench's output folder (scene cache)")
    ap.add_argument("--doc", default=None, help="write the markdown table here")
    ap.add_argument("--screening", action="store_true", help="compare the screening's collinearity filters instead")
    ap.add_argument("--edges", action="store_true", help="area-weighted aggregation at cell edges and the residual "
                    "corrections (constant, smooth, area-to-point kriging), with seam ratios")
    ap.add_argument("--refit", action="store_true", help="the disaggregation refit at 1 km (mosaic gap)")
    ap.add_argument("--detail", action="store_true", help="a gain on the within-cell detail (the forest's flat 1 km "
                    "range on the mosaics)")
    ap.add_argument("--seeds", default="0", help="with --edges or --detail: comma-separated seeds, results averaged "
                    "over them")
    ap.add_argument("--screened", action="store_true", help="with --detail: on the factors the screening selects")
    ap.add_argument("--detail-transfer", action="store_true", help="the contrast detail fitted on the previous scene "
                    "of the same generator (cyclic, as the bench's transfer row) and applied to each scene")
    ap.add_argument("--only", default="", help="comma-separated scene names (default: every scene)")
    args = ap.parse_args(argv)
    acc.import_engine()
    import platform

    t0 = time.perf_counter()
    gaps: dict[str, dict[str, float]] = {}
    seams: dict[str, dict[str, float]] = {}
    only = [n for n in args.only.split(",") if n]
    for s in acc.SCENES:
        if only and s.name not in only:
            continue
        prep = acc.prepare(s, os.path.join(os.path.abspath(args.out), "scenes", s.name),
                           acc.MOSAIC_SIZE_KM if s.generator == "mosaic" else 120, 4)
        if args.edges:
            products = edge_variants(prep, tuple(int(x) for x in args.seeds.split(",")))
        elif args.refit:
            products = refit_variants(prep)
        elif args.detail_transfer:
            same = [x for x in acc.SCENES if x.generator == s.generator]
            o = same[(same.index(s) - 1) % len(same)]
            src = acc.prepare(o, os.path.join(os.path.abspath(args.out), "scenes", o.name),
                              acc.MOSAIC_SIZE_KM if o.generator == "mosaic" else 120, 4)
            products = detail_transfer_variants(prep, src)
        elif args.detail:
            products = {f"{k} #{seed}": v for seed in (int(x) for x in args.seeds.split(","))
                        for k, v in detail_variants(prep, seed, args.screened).items()}
        else:
            products = screening_variants(prep) if args.screening else variants(prep)
        scores = acc.score(prep, {**{k: prep.baselines[k] for k in ("bilinear", "ceiling")}, **products})
        b, c = scores["bilinear"]["ubrmsd"], scores["ceiling"]["ubrmsd"]
        gaps[s.name] = {k: acc.gap_closed(v["ubrmsd"], b, c) for k, v in scores.items() if k not in ("bilinear",
                                                                                                   "ceiling")}
        if args.edges or args.detail:
            gaps[s.name] = _seed_mean(gaps[s.name])
            seams[s.name] = _seed_mean(_seams(prep, {"truth": prep.truth, **products}))
            print(s.name, {k: round(v, 3) for k, v in seams[s.name].items()}, flush=True)
        print(s.name, {k: round(v, 2) for k, v in gaps[s.name].items()}, flush=True)
    names = list(dict.fromkeys(n.split(" (")[0] for g in gaps.values() for n in g))
    gaps = {s: {n.split(" (")[0]: v for n, v in g.items()} for s, g in gaps.items()}
    scenes = list(gaps)
    title = "screening's collinearity filter, then RF" if args.screening else "variant"
    if args.edges:
        title = "aggregation at cell edges and residual correction"
    elif args.refit:
        title = "disaggregation refit at 1 km"
    elif args.detail:
        title = "within-cell detail"
    lines = [f"# Accuracy experiments (issue 13): gap closed at 1 km per {title}", "",
             f"Produced by `bench/accuracy_experiments.py` ({time.perf_counter() - t0:.0f} s on {os.cpu_count()} "
             f"cores, CPython {platform.python_version()}, shared machine) on the scenes of `make bench-accuracy`; "
             "see the script's docstring for each variant. Gap closed = (ubRMSD bilinear - ubRMSD) / (ubRMSD "
             "bilinear - ubRMSD ceiling); "
             + (f"RF with the train defaults on every factor (mean over seeds {args.seeds}), each product named "
                "`pairs, residual correction` (`area`: cell means by area shares)." if args.edges else
                "RF with the train defaults on every factor, smooth residual correction."
                if args.refit or args.detail or args.detail_transfer
                else "constant residual correction"
                + ("." if args.screening else "; no screening (every factor).")), "",
             "| variant | " + " | ".join(scenes) + " | mean | lowest |", "|" + "---|" * (len(scenes) + 3)]
    for n in names:
        v = [gaps[s].get(n, float("nan")) for s in scenes]
        lines.append(f"| {n} | " + " | ".join(acc._f(x, 2) for x in v) + f" | {acc._f(float(np.nanmean(v)), 2)} | "
                     f"{acc._f(float(np.nanmin(v)), 2)} |")
    if seams:
        lines += ["", "Seam ratio (mean |step| between neighbouring 1 km pixels across coarse-cell edges / inside "
                  "cells, averaged over the dates; `bench/gaps.py`), the truth's first:", "",
                  "| product | " + " | ".join(scenes) + " |", "|" + "---|" * (len(scenes) + 1)]
        for n in ["truth"] + names:
            lines.append(f"| {n} | " + " | ".join(acc._f(seams[s].get(n, float("nan")), 3) for s in scenes) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.doc:
        with open(args.doc, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
