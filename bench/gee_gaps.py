"""downscalegee's gap filling and residual correction against the local chain, on the test scene of the server-side
chain (tests/scenes.py ``gee_scene``: an 8 x 6 cell EASE-Grid 2.0 window, 1 km pixels, clouds masking NDVI, LST or
both, one cell without SMAP), computed by the fake Earth Engine in numeric mode (tests/fake_ee.py: the expressions
downscalegee exports, evaluated pixel by pixel) and by the local engine (gapfill + residual).

    .venv/bin/python bench/gee_gaps.py

Prints a Markdown table: the seam ratio (mean |step| across cell edges / inside cells; the truth's own ratio
beside it), the largest |cell mean - SMAP|, RMSE against the truth per quality code, and the share of pixels whose
quality code is the local chain's.
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gaps import seam_ratio
from plugin_path import import_engine

import_engine()

from smdownscale.algorithms.gee import auth  # noqa: E402
from smdownscale.tests.fake_ee import FakeEarthEngine  # noqa: E402
from smdownscale.tests.scenes import gee_scene  # noqa: E402


def main() -> None:
    scene = gee_scene()
    cells = scene.cells()
    inside = cells >= 0
    truth = scene.on_fine(scene.truth)
    smap = scene.smap_window()
    has = np.isfinite(smap)
    rows = []
    with FakeEarthEngine(numeric=True) as fake:
        auth.initialize(project=fake.project, url=fake.url, force=True)
        scene.register(fake)
        for mode in ("constant", "smooth"):
            server_values, server_q = scene.server_chain(mode)
            local_values, local_q, _, _ = scene.local_chain(mode)
            for name, values, q in (("Earth Engine", server_values, server_q), ("local", local_values, local_q)):
                dev = np.nanmax(np.abs(scene.cell_means(values) - smap)[has])
                rmse = []
                for code in (1, 2, 3):
                    m = inside & (q == code) & np.isfinite(values)
                    rmse.append(f"{np.sqrt(np.mean((values - truth)[m] ** 2)):.4f} ({m.sum()})")
                agree = np.mean(server_q[inside] == local_q[inside])
                rows.append(f"| {name} | {mode} | {seam_ratio(values, cells):.3f} | {dev:.1e} | "
                            + " | ".join(rmse) + f" | {agree:.1%} |")
    print(f"Truth's seam ratio: {seam_ratio(truth, cells):.3f}; "
          f"{int(inside.sum())} pixels in {scene.coarse.width} x {scene.coarse.height} cells.\n")
    print("| chain | residual | seam ratio | max abs(cell mean - SMAP) | RMSE all factors (n) | RMSE filled (n) | "
          "RMSE coarse only (n) | quality = local |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
