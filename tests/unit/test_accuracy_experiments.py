"""bench/accuracy_experiments.py --detail: the linear model of local contrasts recovers a 1 km class contrast.

A synthetic two-class mosaic (wet 2 x 2 km parcels in dry steppe, plus a continuous factor that tracks soil
moisture within cells, under a regional gradient and a per-date offset that confound the cell means): fitted on
9 km cells only, the model's 1 km detail must put the parcels 0.15 m3/m3 above the steppe in mixed cells (within
0.025: the ridge penalty on the class fractions, left in their units, shrinks a class contrast by some 10 %).
"""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import accuracy_experiments as ax  # noqa: E402

CELL = 9
N = 12  # coarse cells per side
CONTRAST = 0.15  # parcels wetter than the steppe (m3/m3)
SLOPE = 0.004  # soil moisture per unit of the continuous factor


def _scene(seed: int, dates: int = 6):
    rng = np.random.default_rng(seed)
    n = CELL * N
    parcels = np.kron(rng.random((n // 2, n // 2)) < 0.3, np.ones((2, 2), bool))
    ii, jj = np.mgrid[:n, :n]
    fine_x, truths = [], []
    for t in range(dates):
        regional = 0.05 * t + 0.1 * ii / n  # date offset and gradient, seen by the factor with another slope
        local = rng.normal(0.0, 3.0, (n, n))
        truth = 0.15 + regional + CONTRAST * parcels + SLOPE * local
        factor = local + 40.0 * regional  # the factor's between-cell relation differs from its within-cell one
        x = np.stack([(~parcels).astype(float), parcels.astype(float), factor], axis=-1).reshape(-1, 3)
        fine_x.append((x, np.ones((n, n), bool)))
        truths.append(truth)
    cells = ((ii // CELL) * N + jj // CELL).ravel()
    xs, ys, cs, ds = [], [], [], []
    for t, ((x, _), truth) in enumerate(zip(fine_x, truths)):
        cnt = np.bincount(cells)
        xs.append(np.stack([np.bincount(cells, x[:, j]) / cnt for j in range(3)], axis=1))
        ys.append(np.bincount(cells, truth.ravel()) / cnt)
        cs.append(np.arange(N * N))
        ds += [f"2023-06-{t + 1:02d}"] * (N * N)
    pairs = SimpleNamespace(grid=SimpleNamespace(height=N, width=N), cells=np.concatenate(cs), dates=ds,
                            y=np.concatenate(ys), X=np.concatenate(xs),
                            feature_names=["landcover=30", "landcover=40", "lst_night"])
    return pairs, fine_x, truths, cells, parcels


def test_contrast_model_recovers_the_class_contrast_at_1_km():
    pairs, fine, _, cells, parcels = _scene(3)
    beta = ax._contrast_model(pairs, None, scale_classes=False)
    assert abs((beta[1] - beta[0]) - CONTRAST) < 0.025
    assert abs(beta[2] - SLOPE) < 0.0015  # the within-cell slope, not the regional one (1 / 40 = 0.025)
    detail = ax._fine_contrast(fine, cells, beta, parcels.shape)[0]
    mixed = np.zeros(cells.max() + 1, bool)
    frac = np.bincount(cells, parcels.ravel()) / np.bincount(cells)
    mixed[(frac > 0.1) & (frac < 0.9)] = True
    m = mixed[cells].reshape(parcels.shape)
    wet, dry = detail[m & parcels].mean(), detail[m & ~parcels].mean()
    assert abs((wet - dry) - CONTRAST) < 0.025
    # a detail within each cell: its cell means are zero
    assert np.allclose(np.bincount(cells, detail.ravel()), 0.0, atol=1e-9)


def test_contrast_detail_beats_the_cell_mean_against_the_truth():
    pairs, fine, truths, cells, parcels = _scene(5)
    beta = ax._contrast_model(pairs, None, scale_classes=False)
    for (mean, _), detail, truth in zip(ax._cell_detail(truths, cells), ax._fine_contrast(fine, cells, beta,
                                                                                            parcels.shape), truths):
        flat = np.std(truth - mean)
        sharp = np.std(truth - mean - detail)
        assert flat > 0.06 and sharp < 0.3 * flat
    assert abs(ax._detail_slope(truths, [m + d for (m, _), d in zip(ax._cell_detail(truths, cells),
                                                                    ax._fine_contrast(fine, cells, beta,
                                                                                      parcels.shape))],
                                cells) - 1.0) < 0.15
