"""HTML reports: one self-contained file, the numbers as computed, embedded plots, escaped user text."""

from __future__ import annotations

import datetime as dt
import math
import os
import re

import numpy as np
import pytest

from smdownscale.algorithms import report
from smdownscale.algorithms.features import CATEGORICAL, CONTINUOUS, FactorSpec, Pairs
from smdownscale.algorithms.raster import Grid, srs_from_user
from smdownscale.algorithms.screen import correlation_ratio, screen_pairs
from smdownscale.algorithms.validate import StationPair
from smdownscale.tests.report_checks import ESCAPED, EVIL, check_self_contained


def _read(path) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _pairs(n: int = 300, seed: int = 3) -> Pairs:
    """Coarse pairs: soil moisture from 'a' (and a little 'b'), 'twin' = a copy of 'a', land cover classes,
    and a factor whose name is a script tag."""
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1, n)
    b = rng.normal(0, 1, n)
    lc = rng.integers(0, 3, n)
    evil = rng.normal(0, 1, n)
    y = 0.2 + 0.05 * a + 0.01 * b + 0.02 * (lc == 2) + rng.normal(0, 0.005, n)
    fractions = np.stack([(lc == k).astype(float) for k in range(3)], axis=1)
    x = np.column_stack([a, b, a + rng.normal(0, 0.3, n), fractions, evil])
    specs = [FactorSpec("a"), FactorSpec("b"), FactorSpec("twin"), FactorSpec("landcover", CATEGORICAL, [10, 20, 30]),
             FactorSpec(EVIL, CONTINUOUS)]
    names = ["a", "b", "twin", "landcover=10", "landcover=20", "landcover=30", EVIL]
    grid = Grid(srs_from_user("EPSG:6933").ExportToWkt(), (0.0, 9000.0, 0.0, 0.0, 0.0, -9000.0), 30, 10)
    return Pairs(x, y, names, specs, np.array(["2023-06-01"] * n), np.arange(n), ["2023-06-01"], grid)


def test_factor_matrix_values():
    pairs = _pairs()
    names, mat = report.factor_matrix(pairs, ["b", "a"])
    assert names == ["b", "a", "twin", "landcover", EVIL, "soil moisture"]
    a, b, y = pairs.X[:, 0], pairs.X[:, 1], pairs.y
    assert mat[1, 0] == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-12)
    assert mat[1, 5] == pytest.approx(np.corrcoef(a, y)[0, 1], abs=1e-12)
    assert mat[1, 2] == pytest.approx(np.corrcoef(a, pairs.X[:, 2])[0, 1], abs=1e-12)
    dominant = np.array([10, 20, 30])[np.argmax(pairs.X[:, 3:6], axis=1)]
    assert mat[3, 5] == pytest.approx(correlation_ratio(dominant, y), abs=1e-12)
    assert mat[3, 3] == pytest.approx(1.0)  # Cramér's V of a labelling with itself
    assert np.allclose(mat, mat.T, equal_nan=True)


def test_screen_report(tmp_path):
    result = screen_pairs(_pairs(), max_collinearity=0.9)
    assert result.pairs is not None
    path = str(tmp_path / "screen.html")
    out = report.screen_report(result, path, inputs={"Factor stacks": [f"{EVIL}.tif"]},
                               settings={"Maximum collinearity": 0.9})
    assert out == path and os.listdir(tmp_path) == ["screen.html"]
    text = _read(path)
    images = check_self_contained(text)
    assert len(images) == 2  # ranked bars and heatmap
    assert EVIL not in text and text.count(ESCAPED) >= 3  # inputs, selected factors, table
    rows = {r["factor"]: r for r in result.rows}
    assert rows["twin"]["selected"] is False
    for r in result.rows:
        assert f"{r['pearson_r']:.3f}" in text
    # the table row of the dropped twin, with its reason
    twin_row = re.search(r'<tr class="dropped">(<td class="num">\d+</td><td>twin</td>.*?)</tr>', text).group(1)
    collinear = np.corrcoef(result.pairs.X[:, 0], result.pairs.X[:, 2])[0, 1]
    assert f"{rows['twin']['pearson_r']:.3f}" in twin_row
    assert f"collinear with a (|r| {collinear:.3f} &gt; 0.9)" in twin_row
    assert "<b>Selected factors:</b> " + ", ".join(
        report.esc(s) for s in result.selected).replace(EVIL, ESCAPED) in text
    assert "Maximum collinearity</td><td>0.9</td>" in text


def _meta(evil_feature: str = EVIL) -> dict:
    fold = [{"fold": k + 1, "n": 40, "r": 0.8 + 0.01 * k, "mae": 0.02, "rmse": 0.03, "bias": -0.001, "ubrmsd": 0.029}
            for k in range(3)]
    return {
        "model_type": "rf", "n_samples": 120, "fit_samples": 120, "dates": ["2023-06-01", "2023-06-09"],
        "factors": [{"name": "ndvi", "kind": "continuous", "classes": []},
                    {"name": "landcover", "kind": "categorical", "classes": [10, 20]},
                    {"name": evil_feature, "kind": "continuous", "classes": []}],
        "features": ["ndvi", "landcover=10", "landcover=20", evil_feature],
        "params": {"n_estimators": 100, "min_samples_leaf": 2}, "target_range": [0.05, 0.41],
        "cv": {"spatial": {"method": "spatial blocks (GroupKFold)", "folds": 3, "block_cells": 4, "blocks": 6,
                           "pooled": {"n": 120, "r": 0.8123, "mae": 0.02111, "rmse": 0.03049, "bias": -0.00123,
                                      "ubrmsd": 0.02987}, "per_fold": fold},
               "random": {"method": "random K-fold", "label": "optimistic", "folds": 3,
                          "pooled": {"n": 120, "r": 0.9345, "mae": 0.0151, "rmse": 0.0199, "bias": 0.0004,
                                     "ubrmsd": 0.0198}, "per_fold": fold},
               "n_estimators": 50},
        "feature_importances": {"ndvi": 0.55, "landcover=10": 0.1, "landcover=20": 0.05, evil_feature: 0.3},
        "dropped_factors": {"slope": "constant over the training samples"},
    }


def test_train_report(tmp_path):
    path = str(tmp_path / "train.html")
    report.train_report(_meta(), path, inputs={"SMAP soil moisture": ["smap_20230601.tif"]})
    text = _read(path)
    images = check_self_contained(text)
    assert len(images) == 2  # cross-validation and importance
    assert EVIL not in text and ESCAPED in text
    # pooled rows (spatial first, random labelled optimistic) and every fold
    spatial = re.search(r'<tr class="pooled"><td>spatial blocks \(GroupKFold\); 6 blocks of 4 x 4 cells</td>'
                        r"<td>pooled</td>(.*?)</tr>", text).group(1)
    assert re.findall(r"<td[^>]*>([^<]*)</td>", spatial) == ["120", "0.812", "0.0211", "0.0305", "-0.0012", "0.0299"]
    assert '<td>random K-fold (optimistic)</td><td>pooled</td><td class="num">120</td><td class="num">0.934' \
           "</td>" in text
    assert text.index("spatial blocks") < text.index("random K-fold (optimistic)</td>")
    assert text.count("<td>3</td>") == 2 and "0.820" in text
    assert "Cross-validation forests use 50 trees; the saved model 100." in text
    assert f"<td>{ESCAPED}</td><td class=\"num\">0.3000</td>" in text
    assert "slope (constant over the training samples)" in text
    assert "Dates</td><td>2: 2023-06-01, 2023-06-09" in text


def test_train_report_svr_without_cv(tmp_path):
    meta = _meta()
    meta.update(model_type="svr", cv=None)
    del meta["feature_importances"]
    path = str(tmp_path / "svr.html")
    report.train_report(meta, path)
    text = _read(path)
    assert check_self_contained(text) == []
    assert "No cross-validation was run (0 folds)." in text
    assert "The support vector regression has no built-in feature importance." in text


def _station_pairs() -> list[StationPair]:
    out = []
    for k, day in enumerate((dt.date(2023, 6, 1), dt.date(2023, 6, 9), dt.date(2023, 6, 17))):
        out.append(StationPair(EVIL, day, 116.0, 43.0, 3, 4, 0.20 + 0.01 * k, 0.21 + 0.01 * k, "ok"))
        out.append(StationPair("B", day, 116.1, 43.1, 5, 6, 0.30, 0.28 + 0.005 * k, "ok"))
    out.append(StationPair("C", dt.date(2023, 6, 1), 0, 0, -1, -1, 0.3, math.nan, "outside"))
    return out


def test_validate_report_single_date_with_density_plot(tmp_path):
    rng = np.random.default_rng(0)
    ref = rng.uniform(0.05, 0.4, 5000)
    est = ref + rng.normal(0, 0.02, ref.size)
    sampler = report.PairSampler(3000)
    for i in range(0, ref.size, 700):
        sampler(est[i:i + 700], ref[i:i + 700])
    results = {"reference": {"n": 5000, "r": 0.9512, "mae": 0.0161, "rmse": 0.0201, "bias": 0.00031,
                             "ubrmsd": 0.02009, "resampling": "bilinear"}}
    path = str(tmp_path / "v.html")
    report.validate_report(results, [], path, samples=(sampler.estimate, sampler.reference),
                           inputs={"Estimate": f"{EVIL}.tif"})
    text = _read(path)
    assert len(check_self_contained(text)) == 1
    assert EVIL not in text and ESCAPED in text
    assert ('<td>reference raster</td><td class="num">5000</td><td class="num">0.951</td><td class="num">0.0161</td>'
            '<td class="num">0.0201</td><td class="num">+0.0003</td><td class="num">0.0201</td>') in text
    assert f"({sampler.estimate.size} of 5000 pixel pairs drawn)" in text
    assert 1500 < sampler.estimate.size <= 3000


def test_validate_report_series_with_station_time_series(tmp_path):
    pairs = _station_pairs()
    ok = [p for p in pairs if p.status == "ok"]
    from smdownscale.algorithms.validate import station_metrics

    pooled = station_metrics(pairs)
    rows = [{"source": "stations", "estimate": f"sm_1km_{d:%Y%m%d}.tif", "date": d.isoformat(),
             **station_metrics([p for p in pairs if p.date == d])["stations"]}
            for d in sorted({p.date for p in ok})]
    path = str(tmp_path / "series.html")
    report.validate_report(pooled, pairs, path, per_date=rows)
    text = _read(path)
    # station scatter, station time series, per-date metrics
    assert len(check_self_contained(text)) == 3
    assert EVIL not in text and text.count(ESCAPED) >= 4  # metrics table and pair table
    assert "3 date(s): 2023-06-01, 2023-06-09, 2023-06-17." in text
    s = pooled["stations"]
    assert (f'<td>stations (pooled)</td><td class="num">6</td><td class="num">{s["r"]:.3f}</td>'
            f'<td class="num">{s["mae"]:.4f}</td>') in text
    assert f"<td>station {ESCAPED}</td>" in text
    assert '<td>2023-06-09</td><td>stations (pooled)</td><td>sm_1km_20230609.tif</td><td class="num">2</td>' in text
    assert "<td>C</td><td>2023-06-01</td><td class=\"num\">0.3000</td><td class=\"num\">n/a</td>" in text


def test_report_without_matplotlib_keeps_tables(tmp_path, monkeypatch):
    def no_matplotlib():
        raise ImportError("No module named 'matplotlib'")

    monkeypatch.setattr(report, "_import_matplotlib", no_matplotlib)
    path = str(tmp_path / "t.html")
    report.train_report(_meta(), path)
    text = _read(path)
    assert check_self_contained(text) == []
    assert "Plots need the Python package matplotlib" in text and "0.812" in text


def test_plot_text_with_dollar_signs_and_atomic_write(tmp_path, monkeypatch):
    meta = _meta("cost $x$ \\frac{a}{")  # mathtext would fail on this; it is drawn literally
    report.train_report(meta, str(tmp_path / "ok.html"))
    assert len(check_self_contained(_read(tmp_path / "ok.html"))) == 2

    def broken(self):
        raise RuntimeError("disk trouble")

    monkeypatch.setattr(report.Html, "document", broken)
    (tmp_path / "old.html").write_text("previous report")
    with pytest.raises(RuntimeError):
        report.train_report(meta, str(tmp_path / "old.html"))
    assert sorted(os.listdir(tmp_path)) == ["ok.html", "old.html"]
    assert (tmp_path / "old.html").read_text() == "previous report"


def test_pair_sampler_is_bounded_even_and_independent_of_blocks():
    x = np.arange(10000, dtype=float)
    y = x * 2
    x[::7] = np.nan  # skipped pairs
    results = []
    for block in (1000, 333, 10000):
        s = report.PairSampler(1000)
        for i in range(0, x.size, block):
            s(x[i:i + block], y[i:i + block])
        results.append((s.estimate, s.reference))
    for e, r in results[1:]:
        assert np.array_equal(e, results[0][0]) and np.array_equal(r, results[0][1])
    e, r = results[0]
    valid = x[np.isfinite(x)]
    assert 500 < e.size <= 1000 and np.array_equal(r, 2 * e)
    assert np.array_equal(e, valid[::16])  # every 16th valid pair


def test_screen_report_shows_the_diagnostics_when_computed(tmp_path):
    result = screen_pairs(_pairs(), max_collinearity=0.9, diagnostics=True, n_jobs=1)
    path = str(tmp_path / "diag.html")
    report.screen_report(result, path)
    text = _read(path)
    assert "<th>VIF</th><th>mutual information</th><th>permutation importance (m3/m3)</th>" in text
    for r in result.rows:
        cells = [report.fmt(r["vif"], 2), report.fmt(r["mutual_info"], 3), report.fmt(r["perm_importance"], 4)]
        assert "".join(f'<td class="num">{c}</td>' for c in cells) in text
    plain = str(tmp_path / "plain.html")
    report.screen_report(screen_pairs(_pairs(), max_collinearity=0.9), plain)
    assert "<th>VIF</th>" not in _read(plain)


@pytest.mark.parametrize("n", [200, 6000], ids=["scatter", "hexbin"])
def test_scatter_legend_stays_off_the_data_and_the_one_to_one_line_inside_the_frame(n):
    rng = np.random.default_rng(5)
    ref = rng.uniform(0.02, 0.45, n)
    est = np.clip(ref + rng.normal(0, 0.05, n), 0.0, 0.6)
    ref[:3] = [0.02, 0.45, 0.3]  # points in the corners where a legend used to sit
    est[:3] = [0.45, 0.02, 0.6]
    m = {"n": n, "r": 0.9, "rmse": 0.05, "bias": 0.001, "ubrmsd": 0.05}
    fig = report.scatter_figure(ref, est, m, "reference (m3/m3)")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    frame = ax.get_window_extent(renderer)
    legend = ax.get_legend().get_window_extent(renderer)
    assert not legend.overlaps(frame)  # below the frame, so over no point
    assert fig.bbox.contains(legend.x0, legend.y0) and fig.bbox.contains(legend.x1, legend.y1)
    points = ax.transData.transform(np.column_stack([ref, est]))
    assert not (((points[:, 0] >= legend.x0) & (points[:, 0] <= legend.x1)
                 & (points[:, 1] >= legend.y0) & (points[:, 1] <= legend.y1)).any())
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["1:1", f"n = {n}, R = 0.900, RMSE = 0.0500, bias = +0.0010, ubRMSD = 0.0500"]
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "1:1"]
    lo, hi = ax.get_xlim()
    assert ax.get_ylim() == (lo, hi) and lo < min(ref.min(), est.min()) and hi > max(ref.max(), est.max())
    assert list(line.get_xdata()) == [lo, hi] and list(line.get_ydata()) == [lo, hi]
    assert line.get_clip_on() and line.get_clip_box().bounds == ax.bbox.bounds
    ends = ax.transData.transform(np.column_stack([line.get_xdata(), line.get_ydata()]))
    assert np.allclose(ends, [[frame.x0, frame.y0], [frame.x1, frame.y1]], atol=0.5)  # corner to corner


def test_error_map_keeps_every_stride_th_pixel_of_the_blocks():
    h, w = 250, 130
    rng = np.random.default_rng(2)
    est = rng.uniform(0.1, 0.4, (h, w))
    ref = est - np.linspace(-0.05, 0.05, w)[None, :]
    est[10:20, 0:4] = np.nan
    em = report.ErrorMap(w, h, max_side=100)
    assert em.stride == 3
    for row0 in range(0, h, 37):  # blocks of any height
        em(est[row0:row0 + 37], ref[row0:row0 + 37])
    expected = (est - ref)[::3, ::3]
    d = em.difference
    assert d.shape == (84, 44) and np.allclose(d, expected, equal_nan=True)
    assert np.isnan(d[4, 0]) and d[0, -1] == pytest.approx(0.05)
    assert report.error_limit(d) == pytest.approx(np.percentile(np.abs(d[np.isfinite(d)]), 98))
    assert report.error_limit(np.full((3, 3), 0.001)) == 0.01
    fig = report.error_map_figure(d)
    (image,) = fig.axes[0].get_images()
    assert image.get_clim() == (-report.error_limit(d), report.error_limit(d))
    assert fig.axes[1].get_ylabel() == "estimate minus reference (m3/m3)"
    with pytest.raises(ValueError, match="blocks of whole rows of width 130"):
        em(est[:, :10], ref[:, :10])


def test_validate_report_with_baseline_and_error_map(tmp_path):
    same = {"n": 850, "r": 0.81, "mae": 0.021, "rmse": 0.028, "bias": -0.004, "ubrmsd": 0.0277}
    results = {"reference": {"n": 900, "r": 0.8, "mae": 0.022, "rmse": 0.029, "bias": -0.005, "ubrmsd": 0.0286},
               "baseline": {"n": 850, "r": 0.52, "mae": 0.035, "rmse": 0.044, "bias": 0.006, "ubrmsd": 0.0436,
                            "estimate": same}}
    rng = np.random.default_rng(1)
    est, ref = rng.uniform(0.1, 0.4, 900), rng.uniform(0.1, 0.4, 900)
    diff = rng.normal(0, 0.03, (30, 30))
    diff[:2] = np.nan
    path = str(tmp_path / "v.html")
    report.validate_report(results, [], path, samples=(est, ref), error_map=diff)
    text = _read(path)
    assert len(check_self_contained(text)) == 2  # density plot and error map
    assert ('<td>baseline: SMAP resampled bilinearly</td><td class="num">850</td><td class="num">0.520</td>'
            '<td class="num">0.0350</td><td class="num">0.0440</td><td class="num">+0.0060</td>') in text
    section = text.split("<h2>Against the baseline</h2>")[1].split("<h2>")[0]
    assert "on the same 850 pixels as the estimate" in section  # the estimate's metrics on the baseline's pixels
    rows = re.findall(r"<tr><td>([^<]*)</td>" + r"<td[^>]*>([^<]*)</td>" * 4 + "</tr>", section)
    assert rows == [("R", "0.810", "0.520", "+0.290", "estimate"),
                    ("MAE (m3/m3)", "0.0210", "0.0350", "-0.0140", "estimate"),
                    ("RMSE (m3/m3)", "0.0280", "0.0440", "-0.0160", "estimate"),
                    ("bias (m3/m3)", "-0.0040", "+0.0060", "-0.0100", "estimate"),
                    ("ubRMSD (m3/m3)", "0.0277", "0.0436", "-0.0159", "estimate")]
    assert f"colours saturate at +/-{report.error_limit(diff):.3f} m3/m3" in text
    # without the baseline or the error map neither section appears
    report.validate_report({"reference": results["reference"]}, [], path, samples=(est, ref))
    text = _read(path)
    assert "Against the baseline" not in text and "Error map" not in text and len(check_self_contained(text)) == 1


def test_train_report_names_the_noise_augmentation(tmp_path):
    meta = _meta()
    meta["noise_augmentation"] = {"scale": 0.75, "copies": 5, "factor_noise_sd": {"ndvi": 0.0412, "vv": 2.43},
                                  "method": "..."}
    path = str(tmp_path / "aug.html")
    report.train_report(meta, path)
    text = _read(path)
    assert ("Factor noise augmentation</td><td>5 noisy copies of the samples, noise 0.75 x each factor&#x27;s 1 km "
            "noise (standard deviation: ndvi 0.0412, vv 2.4300)") in text
