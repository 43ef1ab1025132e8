"""Where one training's time goes: CPU and wall seconds of its fits, per phase and model.

Usage::

    .venv/bin/python bench/run.py --out out/bench-auto400 --models-only --models auto --size-km 400 \\
        --train-dates 3 --search-seconds 0                          # makes the scene and its training dates
    .venv/bin/python bench/auto_profile.py out/bench-auto400        # Auto, as the bench's train/auto row
    .venv/bin/python bench/auto_profile.py out/bench-auto400 --model rf --n-jobs 1

Trains once on the training dates a ``bench/run.py`` run left in ``<out>/work/train_dates`` (5-fold spatial CV,
seed 0, as the bench's ``train/auto`` row) and sums each fit (``train._fit``) by phase: the selection's
scale-transfer checks and spatial CV, the reported random K-fold and transfer check, the final fit. A fit's
CPU seconds are its own thread's when it ran beside others, else the whole process's (the forests' threads).
Prints the phases, the total, Auto's candidates and the pooled metrics; ``--json`` writes them, without the
times, to compare two runs value by value.
"""

from __future__ import annotations

import argparse
import collections
import contextvars
import glob
import json
import os
import sys
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from plugin_path import import_engine  # noqa: E402

PHASE: contextvars.ContextVar[str] = contextvars.ContextVar("phase", default="final fit")


def _untimed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k not in ("seconds", "created", "province_day")}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="a bench/run.py output folder (its work/train_dates are used)")
    ap.add_argument("--model", default="auto")
    ap.add_argument("--n-jobs", type=int, default=-1)
    ap.add_argument("--json", help="write the metadata without times here")
    args = ap.parse_args()
    import_engine()
    from smdownscale.algorithms import train

    dates = os.path.join(args.out, "work", "train_dates")
    smaps, stacks = (sorted(glob.glob(os.path.join(dates, f"{p}_*.tif"))) for p in ("smap", "factors"))
    if not smaps or len(smaps) != len(stacks):
        sys.exit(f"no training dates in {dates}: run bench/run.py --out {args.out} first")
    stats: dict[tuple[str, str], list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])
    lock = threading.Lock()
    real_fit = train._fit

    def fit(estimator, x, y, model_type, seed):
        main_thread = threading.current_thread() is threading.main_thread()
        clock = time.process_time if main_thread else time.thread_time
        t0, c0 = time.perf_counter(), clock()
        out = real_fit(estimator, x, y, model_type, seed)
        with lock:
            s = stats[(PHASE.get(), model_type)]
            s[0] += 1
            s[1] += time.perf_counter() - t0
            s[2] += clock() - c0
        return out

    def in_phase(fn, name):
        def wrapped(*a, **k):
            token = PHASE.set(name(a, k) if callable(name) else name)
            try:
                return fn(*a, **k)
            finally:
                PHASE.reset(token)
        return wrapped

    train._fit = fit
    reported = in_phase(train._reported_cv, "reported")
    train._reported_cv = reported
    train.scale_transfer = in_phase(train.scale_transfer, lambda a, k: f"{PHASE.get()}: transfer".replace(
        "final fit: ", "selection: "))
    train.cross_validate = in_phase(train.cross_validate, lambda a, k: "reported: random K-fold"
                                    if PHASE.get() == "reported" else "selection: spatial CV")
    out = os.path.join(args.out, "work", "profile.smdmodel")
    t0, c0 = time.perf_counter(), time.process_time()
    res = train.train_model(train.TrainRequest(smaps, stacks, out, args.model, cv_folds=5, seed=0,
                                               n_jobs=args.n_jobs))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"{args.model}: {wall:.1f} s wall, {cpu:.1f} s CPU; {res.meta['n_samples']} samples; "
          f"kept {res.meta['model_type']}")
    print(f"{'phase':32s} {'model':11s} {'fits':>4s} {'wall s':>8s} {'CPU s':>8s}")
    for (phase, model), (n, w, c) in sorted(stats.items()):
        print(f"{phase:32s} {model:11s} {n:4d} {w:8.1f} {c:8.1f}")
    print(f"{'fits':32s} {'':11s} {sum(int(v[0]) for v in stats.values()):4d} "
          f"{sum(v[1] for v in stats.values()):8.1f} {sum(v[2] for v in stats.values()):8.1f}")
    for c in (res.meta.get("auto") or {}).get("candidates", []):
        print(f"  {c['model_type']}: {c.get('ranking')}")
    print("spatial CV", res.meta["cv"]["spatial"]["pooled"], "\nrandom K-fold", res.meta["cv"]["random"]["pooled"])
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(_untimed({k: res.meta.get(k) for k in ("auto", "cv", "params", "model_type")}), f, indent=1,
                      sort_keys=True, default=str)


if __name__ == "__main__":
    main()
