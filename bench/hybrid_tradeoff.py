"""What the linear + boosting hybrid's settings cost (fit CPU seconds) and what they give (spatial CV, transfer).

Usage::

    .venv/bin/python bench/hybrid_tradeoff.py --out out/acc                   # 4 accuracy-bench scenes
    .venv/bin/python bench/hybrid_tradeoff.py --out out/acc --dates-dir out/bench-auto400/work/train_dates

For each scene of ``bench/accuracy.py`` (generated once, cached in ``<out>/scenes``, the same files as
``make bench-accuracy``; ``--folds`` 3 as there) and each training-dates folder of a ``bench/run.py`` run
(``--dates-dir``, 5 folds as its ``train/auto`` row), the scale-aware training pairs are built as ``train`` builds
them (factor-noise copies included) and every configuration of the hybrid (:data:`CONFIGS`: the previous
construction, exact-split gradient boosting with the ridge trend as its start, then histogram boosting of the
ridge trend's residuals over ``train.DEFAULT_PARAMS['linear_gbr']``) is scored as Auto scores it: pooled
spatial-CV RMSE, pooled scale-transfer RMSE, and whether it beats the random forest by Auto's rule (better on
every transfer fold beyond their spread and in spatial CV). The fit CPU seconds are those of one fit on every
sample (this thread's time; the hybrid's fits run on one core). The 1 km skill of the chosen settings is the
accuracy bench's (``bench/accuracy.py --models rf,linear_gbr``).

Outputs: a table on stdout and ``<out>/hybrid_tradeoff.json``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import accuracy  # noqa: E402

#: The previous construction of the hybrid (model files written before hold it): exact-split gradient boosting,
#: 50 stages at learning rate 0.1, starting from the ridge trend on standardized factors.
PREVIOUS = "GB 50 stages, lr 0.1, depth 3 (previous)"
#: Settings tried: the previous construction, then histogram boosting over train.DEFAULT_PARAMS['linear_gbr'].
CONFIGS: dict[str, dict[str, Any] | None] = {
    PREVIOUS: None,
    "HGB 50 it, lr 0.1, depth 3, leaf 5 (now)": {},
    "HGB 100 it, lr 0.05, depth 3, leaf 5": {"max_iter": 100, "learning_rate": 0.05},
    "HGB 50 it, lr 0.1, depth 3, leaf 5, l2 1": {"l2_regularization": 1.0},
    "HGB 100 it, lr 0.1, 7 leaves, leaf 10": {"max_iter": 100, "max_depth": None, "max_leaf_nodes": 7,
                                              "min_samples_leaf": 10},
    "HGB 100 it, lr 0.1, 15 leaves, leaf 20": {"max_iter": 100, "max_depth": None, "max_leaf_nodes": 15,
                                               "min_samples_leaf": 20},
    "HGB 100 it, lr 0.1, 31 leaves, leaf 20": {"max_iter": 100, "max_depth": None, "max_leaf_nodes": 31,
                                               "min_samples_leaf": 20},
}


def previous_hybrid(seed: int) -> Any:
    """The hybrid as it was built before histogram boosting (as train.make_estimator made it)."""
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    trend = Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=1.0))])
    return GradientBoostingRegressor(init=trend, n_estimators=50, learning_rate=0.1, max_depth=3, subsample=0.8,
                                     min_samples_leaf=5, random_state=seed)


def _pairs(smaps: list[str], stacks: list[str], folds: int) -> Any:
    from smdownscale.algorithms import train as tr

    req = tr.TrainRequest(smaps, stacks, os.path.join(HERE, "unused.smdmodel"), "linear_gbr", cv_folds=folds)
    pairs, _, _ = tr._training_pairs(req, lambda f: None, lambda: False)  # sets the noise copies of this context
    return pairs


def score_scene(name: str, smaps: list[str], stacks: list[str], folds: int) -> list[dict[str, Any]]:
    """Rows (one per configuration, the forest first) of one scene's pairs."""
    from smdownscale.algorithms import train as tr

    pairs = _pairs(smaps, stacks, folds)
    splits, _ = tr.spatial_splits(pairs, folds, 4)
    rf = tr._cv_estimator(tr._with_caps(tr.make_estimator("rf", None, 0, 2), "rf", pairs.y.size, None), "rf")
    rf_tr = tr.scale_transfer(rf, pairs, "rf", folds, 4, 0)
    rf_cv = tr.cross_validate(rf, pairs, splits, "rf", 0, lambda f: None, lambda: False)["pooled"]["rmse"]
    rows = [{"scene": name, "config": "random forest (Auto's baseline)", "samples": int(pairs.y.size),
             "cv_rmse": rf_cv, "transfer_rmse": rf_tr["pooled"]["rmse"], "fit_cpu_s": None, "beats_rf": None}]
    for label, params in CONFIGS.items():
        est = previous_hybrid(0) if params is None else tr.make_estimator("linear_gbr", params, 0, 1)
        c0 = time.thread_time()
        tr._fit(est, pairs.X, pairs.y, "linear_gbr", 0)
        fit_cpu = time.thread_time() - c0
        cv = tr.cross_validate(est, pairs, splits, "linear_gbr", 0, lambda f: None, lambda: False)["pooled"]["rmse"]
        res = tr.scale_transfer(est, pairs, "linear_gbr", folds, 4, 0)
        clear = tr._clearly_below(np.asarray(res["fold_rmse"]), np.asarray(rf_tr["fold_rmse"]))
        rows.append({"scene": name, "config": label, "samples": int(pairs.y.size), "cv_rmse": cv,
                     "transfer_rmse": res["pooled"]["rmse"], "fit_cpu_s": round(fit_cpu, 3),
                     "beats_rf": bool(clear and res["pooled"]["rmse"] < rf_tr["pooled"]["rmse"] and cv < rf_cv)})
        print(f"  {name:<14s} {label:<46s} fit {fit_cpu:6.2f} s CPU  CV RMSE {cv:.5f}  transfer RMSE "
              f"{res['pooled']['rmse']:.5f}  beats RF {rows[-1]['beats_rf']}", flush=True)
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    accuracy.import_engine()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for name in [s for s in args.scenes.split(",") if s]:
        scene = next((s for s in accuracy.SCENES if s.name == name), None)
        if scene is None:
            raise SystemExit(f"unknown scene {name}; choose from {', '.join(s.name for s in accuracy.SCENES)}")
        size = accuracy.MOSAIC_SIZE_KM if scene.generator == "mosaic" else args.size_km
        prep = accuracy.prepare(scene, os.path.join(out, "scenes", name), size, args.dates)
        rows += score_scene(name, *accuracy.training_dates(prep), args.folds)
    for folder in args.dates_dir or []:
        smaps, stacks = (sorted(glob.glob(os.path.join(folder, f"{p}_*.tif"))) for p in ("smap", "factors"))
        if not smaps or len(smaps) != len(stacks):
            raise SystemExit(f"no training dates in {folder}: run bench/run.py first")
        rows += score_scene(os.path.basename(os.path.dirname(os.path.dirname(folder))) or folder, smaps, stacks, 5)
    result = {"command": " ".join(["bench/hybrid_tradeoff.py", *sys.argv[1:]]), "rows": rows,
              "seconds": round(time.perf_counter() - t0, 1), "loadavg_end": list(os.getloadavg())}
    with open(os.path.join(out, "hybrid_tradeoff.json"), "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)
    scenes = list(dict.fromkeys(r["scene"] for r in rows))
    print(f"\n| settings | {' | '.join(f'{s}: CV / transfer RMSE, fit CPU s, beats RF' for s in scenes)} |")
    print("|---|" + "---|" * len(scenes))
    for label in ["random forest (Auto's baseline)", *CONFIGS]:
        cells = []
        for s in scenes:
            r = next(r for r in rows if r["scene"] == s and r["config"] == label)
            extra = "" if r["fit_cpu_s"] is None else f", {r['fit_cpu_s']:.2f}, {'yes' if r['beats_rf'] else 'no'}"
            cells.append(f"{r['cv_rmse']:.4f} / {r['transfer_rmse']:.4f}{extra}")
        print(f"| {label} | {' | '.join(cells)} |")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/hybrid-tradeoff", help="output folder (accuracy-bench scenes cached inside)")
    ap.add_argument("--scenes", default="default,nonlinear,noisy,mosaic", help="accuracy-bench scene names")
    ap.add_argument("--size-km", type=int, default=120, help="sample scene size (as make bench-accuracy)")
    ap.add_argument("--dates", type=int, default=4)
    ap.add_argument("--folds", type=int, default=accuracy.CV_FOLDS, help="folds on the accuracy-bench scenes")
    ap.add_argument("--dates-dir", action="append", help="a bench/run.py run's <out>/work/train_dates (repeatable)")
    run(ap.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
