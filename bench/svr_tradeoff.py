"""How SVR's ``epsilon``, ``C`` and training samples trade support vectors (prediction cost) against skill.

Usage::

    .venv/bin/python bench/svr_tradeoff.py --out out/svr-tradeoff              # 3 accuracy-bench scenes
    .venv/bin/python bench/svr_tradeoff.py --out out/svr-tradeoff --scenes default,noisy,mosaic,steppe-geo

For each scene of ``bench/accuracy.py`` (generated once, cached in ``<out>/scenes``, the same files as
``make bench-accuracy``) and each (epsilon, C, max samples) of the grid, an SVR is trained with
``train.train_model`` (scale-aware coarse mode, 3-fold spatial CV, as the accuracy bench does) and applied
to every date with constant residual correction. Reported per configuration: support vectors, spatial-CV
RMSE of the coarse pairs, 1 km ubRMSD against the truth and the share of the bilinear-to-ceiling gap
closed, each averaged over the scenes, and the support vectors relative to the current defaults (a
province-day's prediction time is proportional to them). ``--samples`` caps the training samples
(``train.SVR_MAX_SAMPLES``) below the scenes' own counts to see what fewer samples cost.

Outputs: a table on stdout, ``<out>/svr_tradeoff.json`` and ``<out>/svr_tradeoff.md``.
"""

from __future__ import annotations

import argparse
import itertools
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


def _scene(name: str) -> accuracy.Scene:
    for s in accuracy.SCENES:
        if s.name == name:
            return s
    raise SystemExit(f"unknown scene {name}; choose from {', '.join(s.name for s in accuracy.SCENES)}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    accuracy.import_engine()
    from smdownscale.algorithms import train as tr

    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    eps = [float(v) for v in args.epsilon.split(",")]
    cs = [float(v) for v in args.C.split(",")]
    samples = [int(v) for v in args.samples.split(",")] if args.samples else [tr.SVR_MAX_SAMPLES]
    default = (tr.DEFAULT_PARAMS["svr"]["epsilon"], tr.DEFAULT_PARAMS["svr"]["C"], tr.SVR_MAX_SAMPLES)
    configs = list(itertools.product(eps, cs, samples))
    if default not in configs:
        configs.insert(0, default)
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for name in args.scenes.split(","):
        scene = _scene(name)
        size = accuracy.MOSAIC_SIZE_KM if scene.generator == "mosaic" else args.size_km
        prep = accuracy.prepare(scene, os.path.join(out, "scenes", name), size, args.dates)
        work = os.path.join(prep.folder, "svr")
        os.makedirs(work, exist_ok=True)
        smap, stacks = accuracy.training_dates(prep)
        base = accuracy.score(prep, {k: prep.baselines[k] for k in ("bilinear", "ceiling")})
        for e, c, n in configs:
            tr.SVR_MAX_SAMPLES = n
            path = os.path.join(work, f"svr_e{e}_c{c}_n{n}.smdmodel")
            ts = time.perf_counter()
            res = tr.train_model(tr.TrainRequest(smap, stacks, path, "svr", params={"epsilon": e, "C": c},
                                                 cv_folds=accuracy.CV_FOLDS, seed=0, n_jobs=2))
            train_s = time.perf_counter() - ts
            sm = accuracy.apply_model(path, prep, work, "constant")
            m = accuracy.score(prep, {"svr": sm})["svr"]
            cv = res.meta["cv"]["spatial"]["pooled"]
            row = {"scene": name, "epsilon": e, "C": c, "max_samples": n, "fit_samples": res.meta["fit_samples"],
                   "support_vectors": res.meta["support_vectors"], "cv_rmse": cv["rmse"], "cv_r": cv["r"],
                   "ubrmsd_1km": m["ubrmsd"], "r_1km": m["r"],
                   "gap_closed": accuracy.gap_closed(m["ubrmsd"], base["bilinear"]["ubrmsd"],
                                                     base["ceiling"]["ubrmsd"]),
                   "train_s": round(train_s, 2)}
            rows.append(row)
            print(f"  {name:<12s} eps {e:<6g} C {c:<5g} n {n:<6d} SV {row['support_vectors']:>6d} "
                  f"/ {row['fit_samples']:<6d} CV RMSE {row['cv_rmse']:.4f}  1 km ubRMSD {row['ubrmsd_1km']:.4f}  "
                  f"gap {row['gap_closed']:.2f}", flush=True)
    summary = []
    for e, c, n in configs:
        sel = [r for r in rows if (r["epsilon"], r["C"], r["max_samples"]) == (e, c, n)]
        summary.append({"epsilon": e, "C": c, "max_samples": n,
                        **{k: float(np.mean([r[k] for r in sel])) for k in
                           ("support_vectors", "fit_samples", "cv_rmse", "ubrmsd_1km", "gap_closed", "train_s")},
                        "min_gap_closed": float(np.min([r["gap_closed"] for r in sel]))})
    ref = next(s for s in summary if (s["epsilon"], s["C"], s["max_samples"]) == default)
    for s in summary:
        s["sv_vs_default"] = s["support_vectors"] / ref["support_vectors"]
    result = {"command": " ".join(["bench/svr_tradeoff.py", *sys.argv[1:]]), "scenes": args.scenes.split(","),
              "default": {"epsilon": default[0], "C": default[1], "max_samples": default[2]},
              "loadavg_end": list(os.getloadavg()), "seconds": round(time.perf_counter() - t0, 1),
              "rows": rows, "summary": summary}
    lines = [f"Command: `.venv/bin/python {result['command']}` ({result['seconds']:.0f} s; scenes "
             f"{', '.join(result['scenes'])}; means over the scenes)", "",
             "| epsilon | C | max samples | support vectors | SV / default | spatial-CV RMSE | 1 km ubRMSD | "
             "gap closed (mean, lowest) |", "|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s in sorted(summary, key=lambda s: (s["epsilon"], s["C"], s["max_samples"])):
        mark = " (current default)" if (s["epsilon"], s["C"], s["max_samples"]) == default else ""
        lines.append(f"| {s['epsilon']:g} | {s['C']:g} | {s['max_samples']} | {s['support_vectors']:.0f} | "
                     f"{s['sv_vs_default']:.2f} | {s['cv_rmse']:.4f} | {s['ubrmsd_1km']:.4f} | "
                     f"{s['gap_closed']:.2f}, {s['min_gap_closed']:.2f}{mark} |")
    md = "\n".join(lines)
    with open(os.path.join(out, "svr_tradeoff.json"), "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1, default=float)
    with open(os.path.join(out, "svr_tradeoff.md"), "w", encoding="utf-8") as fh:
        fh.write(md + "\n")
    print()
    print(md)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/svr-tradeoff")
    ap.add_argument("--scenes", default="default,noisy,mosaic", help="accuracy-bench scene names")
    ap.add_argument("--size-km", type=int, default=120, help="sample scene size (as make bench-accuracy)")
    ap.add_argument("--dates", type=int, default=4)
    ap.add_argument("--epsilon", default="0.002,0.005,0.01,0.02,0.03")
    ap.add_argument("--C", default="0.3,1,3")
    ap.add_argument("--samples", default=None, help="caps of the training samples (default: train.SVR_MAX_SAMPLES)")
    run(ap.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
