"""The within-cell detail of a 1 km map: the model's own, or a linear model of local contrasts.

A model fitted on SMAP cells (the scale-aware mode) learns what drives the cell means; inside a cell its 1 km
prediction is often too flat (bench/ACCURACY-EXPERIMENTS.md, "The mosaic gap"). The **contrast detail** takes
the within-cell detail from a linear model of *local contrasts* instead:

* fitting (:func:`fit_contrast`, in :func:`.train.train_model`, scale-aware mode): on every training date, each
  SMAP cell's value minus the mean of its ``CONTRAST_NEIGHBOURHOOD`` x ``CONTRAST_NEIGHBOURHOOD`` neighbourhood
  (cells with a value, at least ``MIN_NEIGHBOURS`` of them), and the same contrast of every factor; a ridge
  regression (penalty ``CONTRAST_PENALTY``, no intercept) of SMAP's contrast on the factors' contrasts, the factors
  with the training's factor-noise augmentation. Continuous features are standardised before the penalty; class
  fractions (feature names with '=') are left in their 0-1 units, so a rare class pays its full coefficient.
  Contrasts take out what drives the cell means but not the detail (a date's air temperature in LST, regional
  rain), so the slope of each factor is the within-cell one; a linear model extrapolates to the 1 km range the
  cell means never reach.
* applying (:class:`ContrastAnchors`, in :func:`.downscale.downscale`): ``f = beta . x`` at every 1 km pixel
  with factors, and the field before residual correction is ``B(cell means of the prediction) + f - B(cell means
  of f)``, ``B`` the bilinear surface through cell-centre knots (the smooth residual correction's
  :class:`.residual._Stencil`). The model keeps the cell means (up to the smooth interpolation), the contrast
  model gives the detail; neither surface steps at cell edges. Pixels predicted without any observed factor
  (the coarse field of gap filling) get no detail.

Memory depends on the coarse grid only: pass 1 accumulates per cell the sums of the prediction and of ``f`` and
the bilinear weights of the pixels (as the smooth correction does), so the cell means of the anchored field, which
residual correction needs, follow from the knots without another pass over the raster.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .aggregate import CellIndex
from .errors import InputError
from .residual import _cell_means, _Stencil

#: Side of the neighbourhood of the local contrasts (cells), the ridge penalty, and the fewest neighbours with a
#: value (the cell itself included) for a cell to count.
CONTRAST_NEIGHBOURHOOD = 3
CONTRAST_PENALTY = 1.0
MIN_NEIGHBOURS = 4
#: Key of the coefficients in a model's metadata.
META_KEY = "contrast_detail"


def is_class_fraction(name: str) -> bool:
    """Whether a feature is a class fraction (one class of a categorical factor, named ``factor=class``).

    Parameters
    ----------
    name : str
        A feature name.

    Returns
    -------
    bool
        True for a class fraction.
    """
    return "=" in name


def _contrasts(pairs: Any, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Local contrasts of SMAP (y) and of the features (x) of every date's cells with enough neighbours."""
    from scipy import ndimage

    h, w = pairs.grid.height, pairs.grid.width
    side = 2 * radius + 1
    xs, ys = [], []
    dates = np.asarray(pairs.dates).astype(str)
    for d in np.unique(dates):
        sel = dates == d
        cols = np.column_stack([pairs.y[sel], pairs.X[sel]])
        full = np.full((h * w, cols.shape[1]), np.nan)
        full[pairs.cells[sel]] = cols
        ok = np.isfinite(full[:, 0]).reshape(h, w).astype(np.float64)
        cnt = np.rint(ndimage.uniform_filter(ok, side, mode="constant") * side ** 2)  # a count: 4/9 * 9 is not 4
        keep = (ok > 0).ravel() & (cnt.ravel() >= MIN_NEIGHBOURS)
        con = np.empty((int(keep.sum()), cols.shape[1]))
        for j in range(cols.shape[1]):
            v = np.nan_to_num(full[:, j]).reshape(h, w)
            sm = ndimage.uniform_filter(v, side, mode="constant") * side ** 2
            con[:, j] = (full[:, j] - (sm.ravel() / np.maximum(cnt.ravel(), 1)))[keep]
        ys.append(con[:, 0])
        xs.append(con[:, 1:])
    return np.concatenate(xs), np.concatenate(ys)


def fit_contrast(pairs: Any, augmentation: Any = None, seed: int = 0, radius: int = 1, scale_classes: bool = False,
                 use: np.ndarray | None = None, alpha: float = CONTRAST_PENALTY) -> np.ndarray:
    """Coefficients of the contrast detail: a ridge regression of SMAP's local contrast on the factors'.

    Parameters
    ----------
    pairs : Pairs
        Coarse training pairs (:func:`.features.coarse_pairs`): ``X``, ``y``, ``cells``, ``dates``, ``grid``.
    augmentation : Any
        The factor-noise augmentation of training (an object with ``apply(x, y, seed)``), or None.
    seed : int
        Seed of the augmentation's noise.
    radius : int
        The neighbourhood of the contrasts: (2 radius + 1) x (2 radius + 1) cells.
    scale_classes : bool
        Standardise class fractions like the other features (False: left in their 0-1 units).
    use : numpy.ndarray or None
        Bool mask of the features to use (the others get 0); None: every feature.
    alpha : float
        The ridge penalty (on the standardised features).

    Returns
    -------
    numpy.ndarray
        (features,) coefficients, m3/m3 per unit of each feature.

    Raises
    ------
    InputError
        No cell has enough neighbours with a value to form a contrast.
    """
    from sklearn.linear_model import Ridge

    x, y = _contrasts(pairs, radius)
    if y.size < 2:
        raise InputError(f"The contrast detail needs SMAP cells with at least {MIN_NEIGHBOURS} neighbours with a "
                         "value; the training area is too small or too gappy. Use a larger area.")
    if augmentation is not None:
        x, y = augmentation.apply(x, y, seed)
    sd = x.std(0) + 1e-12
    if not scale_classes:
        sd[np.array([is_class_fraction(n) for n in pairs.feature_names], dtype=bool)] = 1.0
    use = np.ones(x.shape[1], bool) if use is None else np.asarray(use, bool)
    beta = np.zeros(x.shape[1])
    if use.any():
        beta[use] = Ridge(alpha=alpha, fit_intercept=False).fit(x[:, use] / sd[use], y).coef_ / sd[use]
    return beta


def contrast_metadata(pairs: Any, augmentation: Any = None, seed: int = 0) -> dict[str, Any]:
    """Fit the contrast detail with the defaults and describe it for a model's metadata.

    Parameters
    ----------
    pairs : Pairs
        Coarse training pairs.
    augmentation : Any
        The factor-noise augmentation of training, or None.
    seed : int
        Seed of the augmentation's noise.

    Returns
    -------
    dict[str, Any]
        ``features``, ``coefficients`` (aligned), ``neighbourhood`` (cells per side), ``penalty``,
        ``classes_scaled`` and ``min_neighbours``.
    """
    beta = fit_contrast(pairs, augmentation, seed)
    return {"features": list(pairs.feature_names), "coefficients": [float(b) for b in beta],
            "neighbourhood": CONTRAST_NEIGHBOURHOOD, "penalty": CONTRAST_PENALTY, "classes_scaled": False,
            "min_neighbours": MIN_NEIGHBOURS, "augmented": augmentation is not None}


def coefficients(meta: dict[str, Any], model_name: str) -> np.ndarray:
    """The contrast detail's coefficients stored in a model's metadata, in the model's feature order.

    Parameters
    ----------
    meta : dict[str, Any]
        The model's metadata.
    model_name : str
        The model file's name, for the error.

    Returns
    -------
    numpy.ndarray
        (features,) coefficients.

    Raises
    ------
    InputError
        The model has no contrast coefficients (trained before they existed, or in the study's mode), or they do
        not match its features.
    """
    stored = meta.get(META_KEY) or {}
    names, coef = stored.get("features"), stored.get("coefficients")
    if not names or coef is None or len(names) != len(coef) or list(names) != list(meta.get("features") or names):
        mode = meta.get("training_mode")
        why = " (it was trained in the study's mode, which fits no contrast model)" if mode == "paper" else ""
        raise InputError(f"The model {model_name} has no contrast detail coefficients{why}. Retrain it with "
                         "smdownscale:train in the scale-aware mode, or choose the model's own detail.")
    return np.asarray(coef, dtype=np.float64)


class ContrastAnchors:
    """The contrast detail applied block by block in the two passes of :func:`.downscale.downscale`.

    Pass 1 (:meth:`add`, every block): the raw prediction and ``f = beta . x`` of the pixels with factors; per cell
    the sums of both and the bilinear weights of the knots around each pixel. :meth:`solve`: the knots (cell
    means; a cell without pixels takes the nearest cell's) and the cell means of the anchored field. Pass 2
    (:meth:`field`): ``B(prediction means) + f - B(f means)`` (no detail where ``f`` is NaN).

    Parameters
    ----------
    index : CellIndex
        Fine pixels to SMAP cells (center rule).
    beta : numpy.ndarray
        The contrast coefficients, in the design matrix's feature order.
    stencil : _Stencil or None
        The bilinear stencil of ``index`` to share (the smooth residual correction's, with its cached pixel
        positions); None: a new one.
    """

    def __init__(self, index: CellIndex, beta: np.ndarray, stencil: _Stencil | None = None) -> None:
        self.beta = np.asarray(beta, dtype=np.float64)
        self.index = index
        self._stencil = stencil if stencil is not None else _Stencil(index)
        h, w = index.coarse.height, index.coarse.width
        self._shape = (h, w)
        n = h * w
        self._sum_p = np.zeros(n)
        self._n_p = np.zeros(n)
        self._sum_f = np.zeros(n)
        self._n_f = np.zeros(n)
        self._op_p = np.zeros(n * 9)  # bilinear weight of knot (cell + offset) summed over a cell's valid pixels
        self._op_f = np.zeros(n * 9)  # the same over its pixels with a detail
        self.knots_p: np.ndarray | None = None
        self.knots_f: np.ndarray | None = None
        self.cell_means: np.ndarray | None = None

    def values(self, x: np.ndarray) -> np.ndarray:
        """``f = beta . x`` of design-matrix rows, as float32 (the value stored between the passes).

        Parameters
        ----------
        x : numpy.ndarray
            (n, features) design matrix.

        Returns
        -------
        numpy.ndarray
            (n,) float32.
        """
        return (np.asarray(x, dtype=np.float64) @ self.beta).astype(np.float32)

    def add(self, row0: int, pred: np.ndarray, f: np.ndarray) -> None:
        """Accumulate a block of raw predictions and of ``f`` (NaN: none; both (rows, fine width)).

        A block may be added again (gap filling): pass only the pixels not added before, NaN elsewhere.

        Parameters
        ----------
        row0 : int
            The block's first fine row.
        pred : numpy.ndarray
            Raw predictions, m3/m3.
        f : numpy.ndarray
            ``beta . x`` at pixels with factors, NaN elsewhere.
        """
        pred = np.asarray(pred, dtype=np.float64)
        f = np.asarray(f, dtype=np.float64)
        cells, pairs = self._stencil.weights(row0, pred.shape[0])
        inside = cells >= 0
        vp = inside & np.isfinite(pred)
        vf = vp & np.isfinite(f)
        n = self._sum_p.size
        self._sum_p += np.bincount(cells[vp], pred[vp], minlength=n)
        self._n_p += np.bincount(cells[vp], minlength=n)
        self._sum_f += np.bincount(cells[vf], f[vf], minlength=n)
        self._n_f += np.bincount(cells[vf], minlength=n)
        for offset, weight in pairs:
            key = cells.astype(np.int64) * 9 + offset
            self._op_p += np.bincount(key[vp], weight[vp], minlength=n * 9)
            self._op_f += np.bincount(key[vf], weight[vf], minlength=n * 9)

    def solve(self) -> np.ndarray:
        """The knots and the cell means of the anchored field; call after every block was added.

        Returns
        -------
        numpy.ndarray
            (coarse height, coarse width) mean of the anchored field over each cell's valid pixels (NaN for cells
            without any).
        """
        h, w = self._shape
        self.knots_p = _filled(self._sum_p, self._n_p, self._shape)
        self.knots_f = _filled(self._sum_f, self._n_f, self._shape)
        op_p = self._op_p.reshape(h, w, 9)
        op_f = self._op_f.reshape(h, w, 9)
        total = (_cell_means(op_p, self.knots_p) + self._sum_f.reshape(h, w) - _cell_means(op_f, self.knots_f))
        n = self._n_p.reshape(h, w)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.cell_means = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        return self.cell_means

    def _surface(self, row0: int, nrows: int, knots: np.ndarray) -> np.ndarray:
        cells, pairs = self._stencil.weights(row0, nrows)
        w = self._shape[1]
        flat = knots.ravel()
        safe = np.where(cells >= 0, cells, 0)
        out = np.zeros(cells.shape)
        for offset, weight in pairs:
            out += weight * flat[np.clip(safe + (offset // 3 - 1) * w + (offset % 3 - 1), 0, flat.size - 1)]
        out[cells < 0] = np.nan
        return out

    def field(self, row0: int, pred: np.ndarray, f: np.ndarray) -> np.ndarray:
        """The anchored field of a block: ``B(prediction means) + f - B(f means)`` where ``pred`` is valid.

        Parameters
        ----------
        row0 : int
            The block's first fine row.
        pred : numpy.ndarray
            (rows, fine width) raw predictions (NaN: none); pixels outside the SMAP grid keep them.
        f : numpy.ndarray
            (rows, fine width) ``beta . x`` as added in pass 1 (NaN: no detail).

        Returns
        -------
        numpy.ndarray
            float64 (rows, fine width).

        Raises
        ------
        RuntimeError
            :meth:`solve` has not run yet.
        """
        if self.knots_p is None or self.knots_f is None:
            raise RuntimeError("solve() must run before the field is computed")
        pred = np.asarray(pred, dtype=np.float64)
        f = np.asarray(f, dtype=np.float64)
        nrows = pred.shape[0]
        base = self._surface(row0, nrows, self.knots_p)
        detail = f - self._surface(row0, nrows, self.knots_f)
        out = base + np.where(np.isfinite(detail), detail, 0.0)
        return np.where(np.isfinite(pred), np.where(np.isfinite(base), out, pred), np.nan)


def _filled(sums: np.ndarray, counts: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Cell means as knots; cells without pixels take the nearest cell's (0 when no cell has any)."""
    from scipy import ndimage

    has = (counts > 0).reshape(shape)
    means = (sums / np.maximum(counts, 1)).reshape(shape)
    if not has.any():
        return np.zeros(shape)
    if has.all():
        return means
    idx = ndimage.distance_transform_edt(~has, return_distances=False, return_indices=True)
    return means[idx[0], idx[1]]
