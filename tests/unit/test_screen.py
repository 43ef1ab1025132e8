"""Factor screening: ranking, p-values, collinearity filter, categorical factors, CSV output."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
from scipy import stats

from smdownscale.algorithms.aggregate import CellIndex, broadcast
from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.features import coarse_pairs
from smdownscale.algorithms.screen import correlation_ratio, cramers_v, screen_factors
from smdownscale.tests.scenes import make_scene

N_NOISE = 12


def _sm(m):
    lc_wet = 0.08 * m["landcover=30"]
    return 0.05 + 0.25 * m["ndvi"] + 0.004 * (320.0 - m["lst_day"]) + lc_wet


def _extra(fields, sm, fine, coarse, rng):
    """sm_proxy = coarse SM spread to 1 km + small noise; its exact twin; land cover again as a categorical
    (landcover_copy) and as a continuous factor (lc_numeric); white-noise factors."""
    proxy = broadcast(CellIndex(fine, coarse), 0, fine.height, sm) + rng.normal(0, 0.002, fields["ndvi"].shape)
    out = {"sm_proxy": proxy, "sm_proxy_copy": proxy.copy(), "landcover_copy": fields["landcover"].copy(),
           "lc_numeric": fields["landcover"].copy()}
    for i in range(N_NOISE):
        out[f"noise{i:02d}"] = rng.normal(0, 1, proxy.shape)
    return out


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return make_scene(str(tmp_path_factory.mktemp("screen")), sm_func=_sm, extra=_extra, seed=1)


def test_screen_ranks_proxy_first_and_drops_its_twin(scene, tmp_path):
    out = str(tmp_path / "screen.csv")
    res = screen_factors(scene["sm"], scene["stacks"], max_collinearity=0.8, output_csv=out)
    rows = {r["factor"]: r for r in res.rows}
    first = res.rows[0]
    assert first["factor"] in ("sm_proxy", "sm_proxy_copy") and first["rank"] == 1
    assert first["pearson_r"] > 0.999 and first["spearman_r"] > 0.99
    assert first["pearson_p"] < 1e-100
    twin = "sm_proxy_copy" if first["factor"] == "sm_proxy" else "sm_proxy"
    assert rows[twin]["selected"] is False
    assert rows[twin]["reason"].startswith(f"collinear with {first['factor']} (|r| 1.000 > 0.8)")
    # the true drivers relate strongly; white noise does not
    assert rows["ndvi"]["pearson_r"] > 0.5 and rows["ndvi"]["pearson_p"] < 1e-10
    assert rows["lst_day"]["pearson_r"] < -0.2 and rows["lst_day"]["pearson_p"] < 1e-3
    noise_p = np.array([rows[f"noise{i:02d}"]["pearson_p"] for i in range(N_NOISE)])
    noise_r = np.array([rows[f"noise{i:02d}"]["pearson_r"] for i in range(N_NOISE)])
    assert np.all(np.abs(noise_r) < 0.2)
    # null p-values look uniform (one-sample KS test), and small ones are rare
    assert stats.kstest(noise_p, "uniform").pvalue > 0.01
    assert np.sum(noise_p < 0.01) <= 2
    # categorical landcover is screened as one factor by eta with an ANOVA p-value
    lc = rows["landcover"]
    assert lc["kind"] == "categorical" and 0.0 < lc["pearson_r"] <= 1.0 and np.isnan(lc["spearman_r"])
    assert "landcover" in res.selected and not any("=" in s for s in res.selected)
    # categorical twins are caught by Cramér's V; a continuous copy of the class codes by eta
    assert rows["landcover_copy"]["reason"].startswith("collinear with landcover (Cramér's V 1.000 > 0.8)")
    # (the coarse mean of class codes mixes classes, so eta with the dominant class is high but below 1)
    assert re.match(r"collinear with landcover \(eta 0\.9\d\d > 0\.8\)", rows["lc_numeric"]["reason"])
    assert res.n_samples == 360 and all(r["n"] == 360 for r in res.rows)
    # ranks follow |r|
    strengths = [abs(r["pearson_r"]) for r in res.rows]
    assert strengths == sorted(strengths, reverse=True)
    assert [r["rank"] for r in res.rows] == list(range(1, len(res.rows) + 1))
    # CSV mirrors the table
    with open(out, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == ["factor", "kind", "n", "pearson_r", "pearson_p", "spearman_r", "spearman_p", "rank",
                              "selected", "reason"]
    assert [t["factor"] for t in table] == [r["factor"] for r in res.rows]
    csv_rows = {t["factor"]: t for t in table}
    assert csv_rows[twin]["selected"] == "no" and csv_rows[first["factor"]]["selected"] == "yes"
    assert float(csv_rows["ndvi"]["pearson_r"]) == pytest.approx(rows["ndvi"]["pearson_r"], rel=1e-5)
    assert csv_rows["landcover"]["spearman_r"] == ""
    assert res.selected_text == ",".join(res.selected)


def test_screen_min_abs_r_and_max_factors(scene):
    res = screen_factors(scene["sm"], scene["stacks"], min_abs_r=0.3, max_factors=2)
    rows = {r["factor"]: r for r in res.rows}
    assert len(res.selected) == 2
    assert res.selected[0] in ("sm_proxy", "sm_proxy_copy")
    for i in range(N_NOISE):
        assert "below the minimum 0.3" in rows[f"noise{i:02d}"]["reason"]
    beyond = [r for r in res.rows if "beyond the maximum of 2 factors" in r["reason"]]
    assert beyond, "a third uncorrelated, strong factor must be cut by max_factors"
    # max_collinearity 1.0 keeps the exact twin (association 1.0 is not above 1.0)
    loose = screen_factors(scene["sm"], scene["stacks"], max_collinearity=1.0, min_abs_r=0.3)
    assert {"sm_proxy", "sm_proxy_copy"} <= set(loose.selected)


def test_screen_bad_parameters(scene):
    with pytest.raises(InputError, match="maximum collinearity must be in"):
        screen_factors(scene["sm"], scene["stacks"], max_collinearity=0.0)
    with pytest.raises(InputError, match="No factor passed the screening"):
        screen_factors(scene["sm"], scene["stacks"], min_abs_r=0.9999999)


def test_association_measures():
    groups = np.array([1, 1, 2, 2, 3, 3])
    assert correlation_ratio(groups, np.array([1.0, 1.0, 2.0, 2.0, 3.0, 3.0])) == pytest.approx(1.0)
    assert correlation_ratio(groups, np.array([1.0, 2.0, 1.0, 2.0, 1.0, 2.0])) == pytest.approx(0.0)
    # eta^2 = SSB/SST: groups means 1.5, 3.5; grand mean 2.5; SSB = 4*1; SST = 4*1 + 4*0.25
    assert correlation_ratio(np.array([0, 0, 1, 1]), np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(np.sqrt(4 / 5))
    assert cramers_v(groups, groups * 10) == pytest.approx(1.0)
    assert cramers_v(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])) == pytest.approx(0.0)


# -- beyond pairwise r: VIF, mutual information, permutation importance, reasons ---------------------


def _combo(fields, sm, fine, coarse, rng):
    """combo = scaled ndvi + scaled lst_day (an exact linear combination, pairwise |r| below 0.8) and white noise."""
    return {"combo": (fields["ndvi"] - 0.45) / 0.2 + (fields["lst_day"] - 300.0) / 11.5,
            "noise": rng.normal(0, 1, fields["ndvi"].shape)}


@pytest.fixture(scope="module")
def combo_scene(tmp_path_factory):
    return make_scene(str(tmp_path_factory.mktemp("combo")), sm_func=_sm, extra=_combo, seed=4)


def test_vif_drops_a_factor_explained_by_several_others(combo_scene, tmp_path):
    from smdownscale.algorithms.screen import DIAGNOSTIC_COLUMNS

    sc = combo_scene
    plain = screen_factors(sc["sm"], sc["stacks"], max_collinearity=0.95)
    assert {"ndvi", "lst_day", "combo"} <= set(plain.selected)  # pairwise r misses the combination
    out = str(tmp_path / "vif.csv")
    res = screen_factors(sc["sm"], sc["stacks"], max_collinearity=0.95, max_vif=10, diagnostics=True,
                         output_csv=out, n_jobs=1)
    rows = {r["factor"]: r for r in res.rows}
    dropped = [n for n in ("ndvi", "lst_day", "combo") if not rows[n]["selected"]]
    assert len(dropped) == 1
    assert re.match(r"VIF (inf|\d+\.\d) > 10: largely explained by the other kept factors together",
                    rows[dropped[0]]["reason"])
    kept = [n for n in ("ndvi", "lst_day", "combo") if rows[n]["selected"]]
    for n in kept:
        assert rows[n]["reason"].startswith(f"kept: |r| {abs(rows[n]['pearson_r']):.3f} with soil moisture, rank "
                                            f"{rows[n]['rank']}")
        assert 1.0 <= rows[n]["vif"] < 10
    assert rows[dropped[0]]["vif"] > 1e3 and rows["noise"]["vif"] < 1.5
    assert np.isnan(rows["landcover"]["vif"])  # VIF is for continuous factors
    # mutual information and permutation importance rank the drivers above the white noise
    assert rows["ndvi"]["mutual_info"] > rows["noise"]["mutual_info"] + 0.1
    assert rows["noise"]["mutual_info"] < 0.05
    assert max(rows[n]["perm_importance"] for n in ("ndvi", "combo")) > 0.002
    assert abs(rows["noise"]["perm_importance"]) < 0.001
    assert "mutual information" in rows["noise"]["reason"] and "permutation importance" in rows["noise"]["reason"]
    # the CSV gets the diagnostic columns after the standard ones
    with open(out, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == ["factor", "kind", "n", "pearson_r", "pearson_p", "spearman_r", "spearman_p", "rank",
                              "selected", "reason", *DIAGNOSTIC_COLUMNS]
    assert float(table[0]["mutual_info"]) == pytest.approx(res.rows[0]["mutual_info"], rel=1e-5)
    with pytest.raises(InputError, match="maximum VIF must be above 1"):
        screen_factors(sc["sm"], sc["stacks"], max_vif=0.5)


def test_variance_inflation_by_hand(combo_scene):
    from smdownscale.algorithms.screen import _factor_stats, variance_inflation

    pairs = coarse_pairs(combo_scene["sm"], combo_scene["stacks"])
    f = {x.spec.name: x for x in _factor_stats(pairs)}
    # two continuous factors: VIF = 1 / (1 - r^2)
    r = np.corrcoef(f["ndvi"].values, f["lst_day"].values)[0, 1]
    assert variance_inflation(pairs, f["ndvi"], [f["lst_day"]]) == pytest.approx(1.0 / (1.0 - r * r), rel=1e-9)
    assert variance_inflation(pairs, f["ndvi"], []) == 1.0
    assert variance_inflation(pairs, f["combo"], [f["ndvi"], f["lst_day"]]) > 1e4


def _mix(fields, sm, fine, coarse, rng):
    """ndvi plus some lst_day: collinear with ndvi (r about 0.9), better correlated with soil moisture."""
    return {"mix": fields["ndvi"] + 0.35 * (fields["lst_day"] - 280.0) / 40.0}


@pytest.fixture(scope="module")
def mix_scene(tmp_path_factory):
    # soil moisture = 0.05 + 0.1 ndvi + 0.2 (lst_day - 280) / 40: mix ranks first, and ndvi is needed next to it
    # (sm = 0.05 + 0.571 mix - 0.3 ndvi); lst_day itself is not in the stacks
    return make_scene(str(tmp_path_factory.mktemp("mix")), sm_func=lambda m: 0.05 + 0.1 * m["ndvi"]
                      + 0.2 * (m["lst_day"] - 280.0) / 40.0, extra=_mix, seed=4,
                      band_order=["ndvi", "mix", "landcover"], ncols=20, nrows=18)


def test_collinearity_filter_decided_by_the_scale_transfer_check(mix_scene, scene):
    study = {r["factor"]: r for r in screen_factors(mix_scene["sm"], mix_scene["stacks"]).rows}
    assert study["mix"]["rank"] == 1 and study["mix"]["selected"]
    assert not study["ndvi"]["selected"] and study["ndvi"]["reason"].startswith("collinear with mix (|r| 0.8")
    res = screen_factors(mix_scene["sm"], mix_scene["stacks"], collinearity="transfer")
    rows = {r["factor"]: r for r in res.rows}
    assert rows["ndvi"]["selected"] and "ndvi" in res.selected
    got = re.search(r"but kept: the scale-transfer check is better with it \(RMSE (\d\.\d+) vs (\d\.\d+) without\)",
                    rows["ndvi"]["reason"])
    assert got is not None and float(got.group(1)) < 0.9 * float(got.group(2))  # measured: 0.0220 vs 0.0276
    # an exact twin adds nothing: dropped by the transfer check too; 'off' keeps it
    twin = {r["factor"]: r for r in screen_factors(scene["sm"], scene["stacks"], collinearity="transfer").rows}
    dropped = [k for k in ("sm_proxy", "sm_proxy_copy") if not twin[k]["selected"]]
    assert len(dropped) == 1 and "the scale-transfer check is not clearly better with it" in twin[dropped[0]]["reason"]
    off = screen_factors(scene["sm"], scene["stacks"], collinearity="off")
    assert {"sm_proxy", "sm_proxy_copy", "landcover_copy", "lc_numeric"} <= set(off.selected)
    with pytest.raises(InputError, match="Unknown collinearity filter 'vif'; choose one of study, transfer, off"):
        screen_factors(scene["sm"], scene["stacks"], collinearity="vif")
