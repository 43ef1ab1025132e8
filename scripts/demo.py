"""``make demo``: the whole chain on the sample scene, every step through qgis_process.

sampledata -> align (one factor stack per date, plus SMAP bilinearly resampled to 1 km as the
baseline) -> screen -> train (RF) -> downscale (per date) -> validate (downscaled and baseline
against the 1 km truth). Prints a metrics table and writes out/demo/metrics.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qgisproc import QgisProcess

METRICS = ("n", "r", "ubrmsd", "bias", "rmse", "mae")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="out/demo")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--size-km", type=int, default=200)
    ap.add_argument("--dates", type=int, default=4)
    args = ap.parse_args()

    out = os.path.abspath(args.out)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    qp = QgisProcess(os.path.join(out, ".qgis"))
    t0 = time.time()

    def step(name: str, alg: str, params: dict) -> dict:
        t = time.time()
        res = qp.check(alg, params)
        print(f"  {name:<34s} {time.time() - t:6.1f} s", flush=True)
        return res

    print(f"smdownscale demo -> {out}")
    sample = os.path.join(out, "sample")
    step("sampledata", "sampledata", {"SEED": args.seed, "SIZE_KM": args.size_km, "N_DATES": args.dates,
                                      "OUTPUT": sample})
    static = sorted(glob.glob(os.path.join(sample, "static", "*.tif")))
    reference = os.path.join(sample, "static", "elevation.tif")
    smap = sorted(glob.glob(os.path.join(sample, "smap", "smap_*.tif")))
    dates = [os.path.basename(p)[5:13] for p in smap]

    stacks, baselines = [], []
    for d, sm in zip(dates, smap):
        dynamic = sorted(glob.glob(os.path.join(sample, "dynamic", f"*_{d}.tif")))
        stack = os.path.join(out, "factors", f"factors_{d}.tif")
        step(f"align factors {d}", "align", {"INPUTS": static + dynamic, "REFERENCE": reference, "OUTPUT": stack})
        stacks.append(stack)
        base = os.path.join(out, "baseline", f"smap_bilinear_{d}.tif")
        step(f"align SMAP to 1 km (baseline) {d}", "align", {"INPUTS": [sm], "REFERENCE": reference, "OUTPUT": base})
        baselines.append(base)

    res = step("screen", "screen", {"SOIL_MOISTURE": smap, "FACTORS": stacks,
                                    "OUTPUT": os.path.join(out, "screening.csv")})
    selected = res.get("SELECTED", "")
    print(f"    selected factors: {selected}")
    model = os.path.join(out, "model_rf.smdmodel")
    res = step("train (random forest)", "train", {"SOIL_MOISTURE": smap, "FACTORS": stacks,
                                                  "SELECTED_FACTORS": selected, "MODEL_TYPE": 0, "OUTPUT": model})
    print(f"    spatial CV: R {res.get('CV_R', float('nan')):.3f}  ubRMSD {res.get('CV_UBRMSD', float('nan')):.4f}")

    rows = []
    for d, sm, stack, base in zip(dates, smap, stacks, baselines):
        sm1km = os.path.join(out, "downscaled", f"sm_1km_{d}.tif")
        step(f"downscale {d}", "downscale", {"MODEL": model, "FACTORS": stack, "SOIL_MOISTURE": sm,
                                             "OUTPUT": sm1km})
        truth = os.path.join(sample, "truth", f"truth_{d}.tif")
        for label, path in (("downscaled", sm1km), ("bilinear", base)):
            r = step(f"validate {label} {d}", "validate", {
                "INPUT": path, "REFERENCE": truth,
                "OUTPUT": os.path.join(out, "validation", f"{label}_{d}.csv")})
            rows.append({"date": d, "product": label, **{m: r[m.upper()] for m in METRICS}})

    summary = {}
    for label in ("downscaled", "bilinear"):
        sel = [r for r in rows if r["product"] == label]
        summary[label] = {
            "n": int(sum(r["n"] for r in sel)),
            "r": sum(r["r"] for r in sel) / len(sel),
            "ubrmsd": sum(r["ubrmsd"] for r in sel) / len(sel),
            "bias": sum(r["bias"] for r in sel) / len(sel),
            "rmse": sum(r["rmse"] for r in sel) / len(sel),
        }
    beats = (summary["downscaled"]["r"] > summary["bilinear"]["r"]
             and summary["downscaled"]["ubrmsd"] < summary["bilinear"]["ubrmsd"])
    report = {"dates": dates, "per_date": rows, "downscaled": summary["downscaled"],
              "baseline_bilinear": summary["bilinear"], "beats_baseline": beats,
              "seconds": round(time.time() - t0, 1)}
    with open(os.path.join(out, "metrics.json"), "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2)

    print("\n1 km soil moisture against the sample's 1 km truth (m3/m3)")
    print(f"{'date':<10} {'product':<11} {'n':>7} {'R':>6} {'ubRMSD':>7} {'bias':>8} {'RMSE':>7}")
    for r in rows:
        print(f"{r['date']:<10} {r['product']:<11} {r['n']:>7d} {r['r']:>6.3f} {r['ubrmsd']:>7.4f} "
              f"{r['bias']:>8.4f} {r['rmse']:>7.4f}")
    for label, s in summary.items():
        print(f"{'mean':<10} {label:<11} {s['n']:>7d} {s['r']:>6.3f} {s['ubrmsd']:>7.4f} {s['bias']:>8.4f} "
              f"{s['rmse']:>7.4f}")
    print(f"\nDownscaled beats bilinear in R and ubRMSD: {'yes' if beats else 'NO'}; "
          f"total {time.time() - t0:.0f} s; metrics in {os.path.join(out, 'metrics.json')}")
    return 0 if beats else 1


if __name__ == "__main__":
    sys.exit(main())
