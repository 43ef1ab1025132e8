"""bench/run.py --quick: every row is measured and reported (times positive, ratios present); never timings."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROWS = {
    "align/ours", "align/gdalwarp", "aggregate/ours", "aggregate/gdalwarp", "train/rf", "train/svr", "train/cart",
    "downscale/sklearn-predict", "downscale/ours-no-residual", "downscale/ours", "downscale/ours-model-loaded",
    "downscale/ours-cart", "train/gbr", "train/extratrees", "train/linear_gbr", "train/auto", "downscale/ours-svr",
    "downscale/ours-gbr", "downscale/ours-extratrees", "downscale/ours-linear_gbr",
    "downscale/svr-predict-sample", "downscale/load-rf-model", "validate/ours", "year/downscale-2-dates",
}


def test_quick_benchmark_reports_every_row(tmp_path):
    out = tmp_path / "bench"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    res = json.loads((out / "results.json").read_text())
    rows = {r["row"]: r for r in res["rows"]}
    assert ROWS <= set(rows), sorted(ROWS - set(rows))
    scaling_rows = [r for r in rows if r.startswith("scaling/downscale-")]
    assert len(scaling_rows) == 2
    for name, r in rows.items():
        assert r["wall_s"] > 0 and r["process_s"] >= r["wall_s"] and r["cpu_s"] > 0, name
        assert 10 < r["peak_rss_mb"] < 4096, name
    for name in ("align/ours", "aggregate/ours", "downscale/ours", "downscale/ours-no-residual", "validate/ours"):
        assert rows[name]["pixels"] == 48 * 48 and rows[name]["mpx_per_s"] > 0, name
    for name in ("align/ours", "aggregate/ours", "downscale/ours", "downscale/ours-no-residual"):
        ratio = rows[name]["ratio_to_baseline"]
        assert ratio is not None and math.isfinite(ratio) and ratio > 0, name
    # ours and the plain alternatives compute the same thing
    assert rows["align/ours"]["agreement_with_baseline"] == {"max_abs_diff": 0.0, "valid_mismatch_px": 0}
    agree = rows["downscale/ours-no-residual"]["agreement_with_baseline"]
    assert agree["valid_mismatch_px"] == 0 and agree["max_abs_diff"] < 1e-6
    assert rows["downscale/ours"]["max_cell_deviation"] < 1e-6
    # validate compares every pixel where the estimate and the truth both hold a value (downscale also fills the
    # sample's water and cloud gaps, where the truth may be nodata)
    import numpy as np

    from smdownscale.algorithms.raster import read_all

    truth_path = next((out / "scene" / "truth").glob("truth_*.tif"))
    est = read_all(str(out / "work" / f"sm_{truth_path.stem.split('_')[1]}.tif"))[0]
    both = np.isfinite(est) & np.isfinite(read_all(str(truth_path))[0])
    assert rows["validate/ours"]["metrics"]["n"] == int(both.sum()) > 2000
    assert rows["downscale/ours"]["valid"] == int(np.isfinite(est).sum()) >= int(both.sum())
    assert rows["train/rf"]["samples"] > 30 and rows["train/rf"]["dates"] == 4
    assert rows["downscale/svr-predict-sample"]["extrapolated_s"] > 0
    # the compiled SVR kernel predicts scikit-learn's values; every model type has its train and day rows
    assert rows["downscale/svr-predict-sample"]["ours_backend"] == "compiled SVR kernel"
    assert rows["downscale/svr-predict-sample"]["ours_max_abs_diff"] < 1e-9
    assert rows["downscale/ours-svr"]["prediction_backend"] == "compiled SVR kernel"
    assert rows["train/svr"]["support_vectors"] > 10
    table = {m["model"]: m for m in res["models"]}
    assert set(table) == {"rf", "svr", "cart", "gbr", "extratrees", "linear_gbr", "auto"}
    for name, m in table.items():
        assert m["train_s"] > 0 and m["train_peak_mb"] > 10, name
        assert (m["day_s"] is None) == (name == "auto"), name
    assert table["auto"]["trained"] in table
    # Auto against the default forest with the same 5-fold CV; the search's budget against its time
    assert rows["train/auto"]["cv_folds"] == 5 and rows["train/rf-cv5"]["cv_folds"] == 5
    assert res["auto"]["auto_over_rf"] == rows["train/auto"]["wall_s"] / rows["train/rf-cv5"]["wall_s"]
    assert res["auto"]["auto_over_rf_cpu"] == rows["train/auto"]["cpu_s"] / rows["train/rf-cv5"]["cpu_s"]
    cands = {c["model_type"]: c for c in res["auto"]["candidates"]}
    assert set(cands) == {"rf", "extratrees", "gbr", "linear_gbr", "svr"} and cands["rf"]["transfer_folds"] > 0
    assert all(c["ranking"] for c in cands.values())  # why each candidate was kept or left
    assert f"- rf: transfer RMSE {cands['rf']['transfer_rmse']:.4f}" in (out / "results.md").read_text()
    assert res["search"]["budget_s"] == 3.0 and res["search"]["elapsed_s"] > 0
    assert rows["downscale/ours-model-loaded"]["model_load_s"] > 0 and rows["downscale/load-rf-model"]["file_mb"] > 0
    assert [round(c["mpx"] * 1e6) for c in res["scaling"]] == [12 * 12, 24 * 24, 48 * 48]
    year = res["year"]
    assert year["dates_measured"] == 2 and year["downscale_365_s"] > year["first_date_s"] > 0
    assert res["machine"]["cores"] >= 1 and res["machine"]["versions"]["sklearn"]
    for key in ("downscale_speedup_vs_sklearn", "align_ratio_to_gdalwarp", "downscale_peak_rss_mb", "year_h"):
        assert res["targets"][key] > 0, key
    assert "| downscale/ours |" in (out / "results.md").read_text()
