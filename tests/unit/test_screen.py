"""Factor screening: ranking, p-values, collinearity filter, categorical factors, CSV output."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
from scipy import stats

from smdownscale.algorithms.aggregate import CellIndex, broadcast
from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.screen import correlation_ratio, cramers_v, screen_factors

from .test_features import make_scene

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
