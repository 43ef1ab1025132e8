"""bench/accuracy.py: baselines, models and the transfer to another scene, scored against the 1 km truth.

The quick run (2 small sample scenes and 1 mosaic scene, RF only) checks that every product is measured next
to the ceiling (a forest trained on the 1 km truth), and that a model trained on one scene and applied to
another (different seed and physics) stays above the bilinear baseline.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import accuracy  # noqa: E402

from smdownscale.algorithms import options  # noqa: E402


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("acc")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "accuracy.py"), "--quick", "--models", "rf",
                           "--no-auto", "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out / "accuracy.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {"out": out, "rows": rows, "stdout": proc.stdout,
            "result": json.loads((out / "results.json").read_text())}


def _row(rows, scene, product, residual=""):
    hit = [r for r in rows if r["scene"] == scene and (r["product"] == product or f"{r['model']}/"
                                                      f"{r['training_mode']}/{r['residual']}" == product)
           and (not residual or r["residual"] == residual)]
    assert len(hit) == 1, (scene, product, residual, len(hit))
    return {k: (float(v) if k in ("r", "ubrmsd", "bias", "rmse", "gap_closed") and v != "" else v)
            for k, v in hit[0].items()}


def test_every_product_is_scored_next_to_the_baselines(quick):
    rows = quick["rows"]
    assert list(rows[0]) == list(accuracy.CSV_COLUMNS)
    scenes = ["default", "nonlinear", "mosaic-wet-bias"]
    assert sorted({r["scene"] for r in rows}) == sorted(scenes)
    for s in scenes:
        near, bil, ceil = (_row(rows, s, p) for p in ("nearest", "bilinear", "ceiling"))
        for residual in ("constant", "smooth", "none", "atpk"):
            m = _row(rows, s, f"rf/coarse/{residual}")
            assert all(math.isfinite(m[k]) for k in ("r", "ubrmsd", "bias", "rmse"))
            assert int(m["n"]) == int(bil["n"]) == int(ceil["n"]) > 1000  # one common mask per scene
        chain = _row(rows, s, "chain:rf/coarse/smooth")
        assert chain["model"] == "chain:rf" and int(chain["n"]) == int(bil["n"])
        # the ceiling (a forest trained on the 1 km truth, held-out blocks) above, the coarse field below
        assert ceil["ubrmsd"] < bil["ubrmsd"] < near["ubrmsd"] * 1.05 and ceil["r"] > bil["r"]
        # ubRMSD^2 = RMSE^2 - bias^2 per date; averaged over dates the inequality remains
        assert bil["ubrmsd"] <= bil["rmse"] + 1e-12
        # gap closed is measured against the ceiling and recomputed from the table
        rf = _row(rows, s, "rf/coarse/smooth")
        expected = (bil["ubrmsd"] - rf["ubrmsd"]) / (bil["ubrmsd"] - ceil["ubrmsd"])
        assert rf["gap_closed"] == pytest.approx(expected, rel=1e-4, abs=1e-4)
        if s == "mosaic-wet-bias":
            # the mosaic's coarse product carries its multiplicative bias (x1.25) into every product
            assert bil["bias"] > 0.02 and rf["bias"] > 0.02 and abs(ceil["bias"]) < 0.01
            assert not [r for r in rows if r["scene"] == s and r["product"] == "oracle"]
            continue
        # on the sample scenes the default configuration beats bilinear in R and ubRMSD
        assert rf["r"] > bil["r"] and rf["ubrmsd"] < bil["ubrmsd"]
        orc = _row(rows, s, "oracle")
        assert orc["ubrmsd"] < bil["ubrmsd"]
        # residual correction helps: the uncorrected model is worse than every corrected one
        corrected = [_row(rows, s, f"rf/coarse/{m}")["ubrmsd"] for m in ("constant", "smooth", "atpk")]
        assert _row(rows, s, "rf/coarse/none")["ubrmsd"] > max(corrected)


def test_model_trained_on_another_scene_beats_bilinear(quick):
    """Transfer: the RF of one scene (other seed and physics) applied to the next scene's factors and SMAP."""
    rows = quick["rows"]
    for s, source in (("default", "nonlinear"), ("nonlinear", "default")):
        t = _row(rows, s, "transfer")
        assert t["model"] == f"rf trained on {source}"
        bil = _row(rows, s, "bilinear")
        assert t["r"] > bil["r"] + 0.02 and t["ubrmsd"] < bil["ubrmsd"] - 0.001


def test_targets_markdown_and_json(quick):
    res = quick["result"]
    assert accuracy.DEFAULT_RESIDUAL == options.RESIDUAL_MODES.default_key  # the bench scores downscale's default
    tg = res["targets"]["RF on every factor, scale-aware, smooth residual correction"]
    assert tg["configuration"] == "rf/coarse/smooth"
    assert set(tg["per_scene"]) == {"default", "nonlinear", "mosaic-wet-bias"}
    gaps = [v["gap_closed"] for v in tg["per_scene"].values()]
    assert tg["mean_gap_closed"] == pytest.approx(sum(gaps) / len(gaps))
    assert tg["min_gap_closed"] == pytest.approx(min(gaps))
    assert tg["met"] == (tg["beats_bilinear_every_scene"] and min(gaps) >= accuracy.GAP_TARGET)
    chain = res["targets"]["default chain: screening defaults, then RF"]
    assert chain["configuration"] == "chain/coarse/smooth" and len(chain["per_scene"]) == 3
    assert [s["train_dates"] for s in res["scenes"]] == [2, 2, 2]
    md = (quick["out"] / "ACCURACY.md").read_text()
    assert "Produced by `bench/accuracy.py --quick`" in md
    assert "| bilinear |" in md and "| rf/coarse/smooth |" in md and "mean gap closed" in md
    assert "| mosaic-wet-bias |" in md and "gap closed: default chain (screen, RF)" in md and "| **mean** |" in md
    assert "rf/coarse/smooth" in quick["stdout"] and "target" in quick["stdout"]


def test_targets_from_hand_made_rows():
    def row(scene, key, r, ub, gap=None):
        return {"scene": scene, "key": key, "r": r, "ubrmsd": ub, "gap_closed": gap}

    rows = [row("a", "bilinear", 0.7, 0.040), row("a", "oracle", 0.95, 0.020),
            row("a", "rf/coarse/smooth", 0.8, 0.028, accuracy.gap_closed(0.028, 0.040, 0.020)),
            row("b", "bilinear", 0.6, 0.050), row("b", "oracle", 0.9, 0.010),
            row("b", "rf/coarse/smooth", 0.65, 0.045, accuracy.gap_closed(0.045, 0.050, 0.010))]
    t = accuracy.targets(rows)
    assert t["min_gap_closed"] == pytest.approx(0.125) and t["closes_gap_target_every_scene"] is False
    assert t["per_scene"]["a"]["gap_closed"] == pytest.approx(0.6)
    assert t["per_scene"]["b"]["gap_closed"] == pytest.approx(0.125)
    assert t["mean_gap_closed"] == pytest.approx(0.3625)
    assert t["beats_bilinear_every_scene"] is True and t["met"] is False
    rows[2]["r"] = 0.69  # below bilinear on one scene
    assert accuracy.targets(rows)["beats_bilinear_every_scene"] is False
    assert math.isnan(accuracy.gap_closed(0.03, 0.02, 0.02))


def test_auto_against_the_default_and_the_headline_table():
    def row(scene, key, r, ub, gap=None, model=""):
        return {"scene": scene, "key": key, "r": r, "ubrmsd": ub, "gap_closed": gap, "model": model}

    rows = [row("a", "bilinear", 0.7, 0.040), row("a", "ceiling", 0.95, 0.020),
            row("a", "rf/coarse/smooth", 0.8, 0.028, 0.6, "rf"),
            row("a", "auto/coarse/smooth", 0.8, 0.027, 0.65, "auto:gbr"),
            row("b", "bilinear", 0.6, 0.050), row("b", "ceiling", 0.9, 0.010),
            row("b", "rf/coarse/smooth", 0.65, 0.045, 0.125, "rf"),
            row("b", "auto/coarse/smooth", 0.64, 0.046, 0.1, "auto:svr")]
    av = accuracy.auto_vs_default(rows)
    assert av["per_scene"]["a"] == {"picked": "gbr", "delta_ubrmsd": pytest.approx(-0.001)}
    assert av["per_scene"]["b"]["delta_ubrmsd"] == pytest.approx(0.001) and av["never_worse"] is False
    table = accuracy.headline_table(rows)
    assert table[0].startswith("| scene | bilinear R / ubRMSD | RF, every factor R / ubRMSD | auto R / ubRMSD")
    assert "| a | 0.700 / 0.0400 | 0.800 / 0.0280 | 0.800 / 0.0270 (gbr) | 0.950 / 0.0200 | 0.60 | 0.65 |" in table
    assert table[-1] == ("| **mean** | ubRMSD 0.0450 | ubRMSD 0.0365 | ubRMSD 0.0365 | ubRMSD 0.0150 | 0.36 | 0.38 |")


def test_uncertainty_calibration_is_measured(quick):
    rows = [r for r in quick["result"]["rows"] if r.get("uncertainty")]
    assert {r["scene"] for r in rows} == {"default", "nonlinear", "mosaic-wet-bias"}
    assert {r["key"] for r in rows} == {"rf/coarse/smooth", "chain/coarse/smooth"}
    for r in rows:
        u = r["uncertainty"]
        assert 0.0 <= u["coverage"] <= 1.0 and u["mean_sd"] > 0 and u["z90"] > 0
        assert u["rmse"] == pytest.approx(r["rmse"], rel=0.2)  # pooled over dates vs averaged per date
    md = (quick["out"] / "ACCURACY.md").read_text()
    assert "## Per-pixel uncertainty" in md and "| default | rf/coarse/smooth |" in md


def test_calibration_by_hand():
    import numpy as np

    class Prep:
        truth = [np.array([[0.0, 0.0, 0.0, 0.0]])]

    values = [np.array([[0.1, -0.1, 0.3, np.nan]])]
    spread = [np.array([[0.1, 0.1, 0.1, 0.1]])]
    c = accuracy.calibration(Prep(), values, spread)
    assert c["coverage"] == pytest.approx(2 / 3) and c["mean_sd"] == pytest.approx(0.1)
    assert c["rmse"] == pytest.approx(math.sqrt((0.01 + 0.01 + 0.09) / 3))


def test_merge_of_runs_on_other_scenes(quick, tmp_path):
    other = json.loads(json.dumps(quick["result"]))
    for s in other["scenes"]:
        s["name"] += "-2"
    for r in other["rows"]:
        r["scene"] += "-2"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "results.json").write_text(json.dumps(other))
    accuracy.main(["--merge", f"{quick['out']},{tmp_path / 'b'}", "--out", str(tmp_path / "m"),
                   "--command", "two runs side by side"])
    merged = json.loads((tmp_path / "m" / "results.json").read_text())
    assert [s["name"] for s in merged["scenes"]] == ["default", "nonlinear", "mosaic-wet-bias", "default-2",
                                                      "nonlinear-2", "mosaic-wet-bias-2"]
    tg = merged["targets"]["RF on every factor, scale-aware, smooth residual correction"]
    assert len(tg["per_scene"]) == 6
    assert tg["mean_gap_closed"] == pytest.approx(quick["result"]["targets"][
        "RF on every factor, scale-aware, smooth residual correction"]["mean_gap_closed"])
    md = (tmp_path / "m" / "ACCURACY.md").read_text()
    assert "Produced by `two runs side by side`" in md and "| mosaic-wet-bias-2 |" in md
