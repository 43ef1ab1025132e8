"""What temporal filling (on by default in a series) costs: one series downscaled with and without it.

Usage::

    .venv/bin/python bench/temporal_cost.py --out out/temporal-cost                 # 600 km, 0.36 Mpx
    .venv/bin/python bench/temporal_cost.py --out out/temporal-cost --size-km 1200  # 1.44 Mpx

The accuracy bench's ``default`` scene (``bench/accuracy.py``, generated once and cached in ``<out>/scene``) at
``--size-km``, with the gaps bench's cloud masks (``bench/gaps.py``: LST missing on 10, 35, 60 and 20 % of the
pixels of its four dates, NDVI on a third of that), an RF trained on it (scale-aware, no CV), then
``series.downscale_series`` with the default residual correction and gap filling, once with
``fill_window_days`` 0 and once with 12 (the default), ``--repeat`` times alternately. Prints wall and CPU
seconds per run and the pixels taken from a neighbouring date.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import accuracy  # noqa: E402
import gaps  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="out/temporal-cost")
    ap.add_argument("--size-km", type=int, default=600)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    accuracy.import_engine()
    from smdownscale.algorithms import raster
    from smdownscale.algorithms import train as tr
    from smdownscale.algorithms.series import downscale_series

    out = os.path.abspath(args.out)
    scene = next(s for s in accuracy.SCENES if s.name == "default")
    prep = accuracy.prepare(scene, os.path.join(out, "scene"), args.size_km, 4)
    stacks, shares = gaps.cloudy_stacks(prep)
    model = os.path.join(out, "rf.smdmodel")
    if not os.path.exists(model):
        tr.train_model(tr.TrainRequest(prep.smap, stacks, model, "rf", cv_folds=0, seed=0, n_jobs=2,
                                       training_mode="coarse"))
    grid = raster.Grid.from_path(stacks[0])
    print(f"{grid.width * grid.height / 1e6:.2f} Mpx, {len(stacks)} dates, LST cloud "
          + ", ".join(f"{100 * s:.0f} %" for s in shares) + f"; {os.cpu_count()} cores", flush=True)
    for _ in range(args.repeat):
        for window in (0, 12):
            folder = os.path.join(out, f"series-{window}")
            shutil.rmtree(folder, ignore_errors=True)
            t0, c0 = time.perf_counter(), time.process_time()
            res = downscale_series(model, stacks, prep.smap, folder, n_jobs=2, fill_window_days=window)
            print(f"window {window:2d} days: {time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s "
                  f"CPU; pixels from a neighbouring date {sum(r.n_from_other_date for r in res)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
