"""CPU seconds and peak memory of one default ``downscale`` of the ``make bench`` day, for A/B runs of two checkouts.

Usage (the scene and model of a ``bench/run.py --out out/bench`` run, cached in ``out/bench``)::

    .venv/bin/python bench/day_cpu.py [--bench out/bench] [--checkout PATH]

``--checkout`` imports the engine of another checkout (e.g. a ``git worktree`` of an older commit), so two
versions run on the same machine back to back; alternate them and compare CPU seconds, which a shared machine
disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import glob
import os
import resource
import sys
import tempfile
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default="out/bench", help="output folder of bench/run.py (scene and model cached)")
    ap.add_argument("--checkout", default=None, help="the checkout whose engine runs (default: this one)")
    args = ap.parse_args()
    root = os.path.abspath(args.checkout or os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.join(root, "bench"))
    from plugin_path import import_engine

    import_engine()
    import sklearn.ensemble  # noqa: F401 - imported before timing, as in a running QGIS

    from smdownscale.algorithms import downscale

    bench = os.path.abspath(args.bench)
    model = os.path.join(bench, "work", "model_rf.smdmodel")
    stack = os.path.join(bench, "work", "factors_20230601.tif")
    smaps = sorted(glob.glob(os.path.join(bench, "scene", "smap", "*.tif")))
    if not (os.path.exists(model) and os.path.exists(stack) and smaps):
        raise SystemExit(f"no bench day in {bench}: run bench/run.py --out {args.bench} first")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.process_time()
        res = downscale.downscale(model, stack, os.path.join(tmp, "sm.tif"), coarse_sm=smaps[0], residual="constant")
        cpu = time.process_time() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"{root}: CPU {cpu:.1f} s, peak RSS {peak:.0f} MB, {res.n_valid} pixels, mean {res.mean:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
