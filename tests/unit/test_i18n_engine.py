"""The engine's messages and reports in Simplified Chinese: the catalog covers the code, real bad inputs and
real reports leave no English a user reads (file names, numbers, units, factor names and product ids apart),
and English stays exactly as it was."""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import os
import re
import sys

import numpy as np
import pytest

from smdownscale.algorithms import i18n, report, series, stations, validate
from smdownscale.algorithms.errors import InputError, SmdError
from smdownscale.algorithms.gee import GeeError, auth
from smdownscale.algorithms.model_io import read_meta
from smdownscale.algorithms.paths import check_apart
from smdownscale.algorithms.raster import Grid, open_raster, srs_from_user, write_raster

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import engine_messages  # noqa: E402

UTM = srs_from_user("EPSG:32650").ExportToWkt()
GRID = Grid(UTM, (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), 12, 10)
CJK = re.compile("[\u4e00-\u9fff]")

#: What may stay in Latin letters: product, data set and software names, acronyms and units, identifiers.
ALLOWED = re.compile(
    r"station[,、] ?lon[,、] ?lat[,、] ?date(?:[,、] ?| 和 )value|"  # the columns a station table must have
    r"smdownscale:\w+|\.(?:smdmodel|tif|csv|json|h5|stm)\b|"  # algorithm ids, file types
    r"“[^”]*”|https?://\S+|[\w./-]*[/\\][\w./\\-]*"  # quoted values, URLs, paths
    r"|\b[\w-]+\.(?:tif|csv|json|h5|stm|smdmodel|html|txt)\b"  # file names
    r"|\b\w*[_=]\w*\b|\b\w*\d\w*\b"  # identifiers (SM_SCALE, sm_1km), words with digits (EPSG:6933, 3x)
    r"|\b[A-Z][A-Z]+[a-z]?\b"  # acronyms: SMAP, ISMN, GDAL, RMSE, MAE, CSV, NDVI, LST, CRS, ubRMSD's RMSD
    r"|\b(?:ubRMSD|m3/m3|km|cm|GB|n/a|Earth Engine|Google|Drive|Cloud Storage|NASA|Earthdata|QGIS|smdownscale"
    r"|scikit-learn|matplotlib|earthengine-api|earthengine|authenticate|Pearson|Spearman|Cram[ée]r's V|eta|rho|r|sqrt"
    r"|GroupKFold|JSON|GeoTIFF|Kelvin|YYYY-MM-DD|YYYYMMDD|nodata|auto|bilinear|average|nearest|cubic|Header\+values"
    r"|CEOP formatted|zip|skops|Cloud|p)\b")


def english_left(text: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """Latin-letter words of ``text`` a Chinese reader would have to read in English."""
    for value in sorted(allowed, key=len, reverse=True):
        text = text.replace(value, " ")
    text = ALLOWED.sub(" ", text)
    return re.findall(r"[A-Za-z]{2,}", text)


@pytest.fixture
def zh():
    assert i18n.set_language("zh_CN") is not None
    yield
    i18n.set_language(None)


# -- the catalog ------------------------------------------------------------------------------------
def test_catalog_covers_every_engine_message_with_its_placeholders():
    templates = engine_messages.engine_templates()
    assert len(templates) > 450
    with open(engine_messages.CATALOG_PATH, encoding="utf-8") as f:
        catalog = json.load(f)
    missing = [t for t in templates if not catalog.get(t, "").strip()]
    assert missing == [], "add them to scripts/zh_CN_engine.json and run `make i18n`"
    assert sorted(catalog) == sorted(templates)  # written from the code by `make i18n`: nothing stale
    for english, chinese in catalog.items():
        assert engine_messages.placeholders(english) == engine_messages.placeholders(chinese), english[:60]
        assert CJK.search(chinese) or not english_left(english), english[:60]


def test_templates_are_found_in_raises_helpers_and_reports():
    source = '''
def check(x, name):
    if x < 0:
        raise InputError(f"The value of {name} must be positive (got {x:.2f}); give another.")
    msg = "Not here: " + ("a second part" if x else "other words") + "."
    raise GeeError(redact(f"Earth Engine said {x}"), kind="other")

def _clash_message(a):
    return f"The output {a} is the input; choose another."

doc.h2("Inputs")
doc.p(f"{n} date(s): {', '.join(dates)}.")
_t("Written by smdownscale on {0}.", created)
N_("reference raster")
'''
    assert sorted(engine_messages.file_templates(source)) == sorted([
        "The value of {0} must be positive (got {1}); give another.", "a second part", "other words",
        "Not here: {0}.", "Earth Engine said {0}", "The output {0} is the input; choose another.", "Inputs",
        "{0} date(s): {1}.", "Written by smdownscale on {0}.", "reference raster"])


def test_english_is_unchanged_and_the_language_follows_the_locale():
    i18n.set_language(None)
    err = InputError("The reference a.tif does not overlap the estimate b.tif; give a reference covering the same "
                     "area.")
    assert str(err) == err.args[0]
    assert i18n.candidates("zh-Hans") == ["zh_CN", "zh_Hans", "zh"] and i18n.candidates("zh_CN.UTF-8")[0] == "zh_CN"
    assert i18n.set_language("en_US") is None and i18n.set_language("de") is None
    assert i18n.set_language("zh-Hans").endswith("smdownscale_engine_zh_CN.json")
    try:
        assert str(err) == "参考值 a.tif 与估计值 b.tif 不重叠；请给出覆盖同一区域的参考值。"
        assert err.args[0].startswith("The reference a.tif")  # the English text is kept
        assert i18n.translate("Something the catalog does not know.") == "Something the catalog does not know."
    finally:
        i18n.set_language(None)
    assert str(err) == err.args[0]


def test_values_inside_messages_are_kept_and_nested_messages_translated(zh):
    inner = "Raster file not found: /data/x 1.tif. Check the path."
    outer = f"No station could be compared on any of the 3 dates; the first problem: {inner}"
    assert i18n.translate(outer) == ("3 个日期中没有任何日期能与站点比较；第一个问题："
                                     "未找到栅格文件：/data/x 1.tif。请检查路径。")
    # braces and placeholders in values are inserted as they are
    assert i18n.translate("Raster file not found: {0} {x}.tif. Check the path.") == \
        "未找到栅格文件：{0} {x}.tif。请检查路径。"
    assert i18n._t("station {0}", "A{1}") == "站点 A{1}"


# -- real bad inputs ---------------------------------------------------------------------------------
def _bad_inputs(tmp_path) -> list:
    est = str(tmp_path / "sm_1km_20230601.tif")
    write_raster(est, GRID, np.full((10, 12), 0.2))
    pct = str(tmp_path / "sm_percent_20230601.tif")
    write_raster(pct, GRID, np.full((10, 12), 25.0))
    far = str(tmp_path / "far.tif")
    write_raster(far, Grid(UTM, (900000.0, 1000.0, 0.0, 3000000.0, 0.0, -1000.0), 5, 5), np.full((5, 5), 0.2))
    empty_csv = tmp_path / "stations.csv"
    empty_csv.write_text("")
    no_value = tmp_path / "no_value.csv"
    no_value.write_text("station,lon,lat,date,reading\nA,116.1,42.1,2023-06-01,0.2\n")
    notes = tmp_path / "notes.smdmodel"
    notes.write_text("not a model")
    obs = [stations.Observation("A", 405500.0, 4594500.0, UTM, dt.date(2023, 6, 5), 0.2)]
    return [
        lambda: validate.validate(est),
        lambda: validate.validate(pct, reference=est),
        lambda: validate.validate(est, reference=far),
        lambda: validate.validate(str(tmp_path / "missing.tif"), reference=est),
        lambda: validate.compare_reference(est, est, resampling="spline"),
        lambda: validate.validate(est, stations=obs, baseline=est),
        lambda: validate.validate(est, stations=obs),
        lambda: validate.validate(est, reference=est, output_csv=est),
        # labels as the Processing wrappers give them (their own, Qt-translated parameter names)
        lambda: check_apart({"“指标” (OUTPUT)": est}, {"“土壤水分估计值” (INPUT)": est}),
        lambda: stations.read_stations(str(empty_csv)),
        lambda: stations.read_stations(str(no_value)),
        lambda: stations.read_stations(str(tmp_path / "nope.csv")),
        lambda: read_meta(str(notes)),
        lambda: open_raster(str(tmp_path)),
        lambda: auth.resolve_project(None),
        lambda: series.validate_series([]),
    ]


def test_bad_inputs_speak_chinese_with_file_names_and_numbers_kept(tmp_path, zh, monkeypatch):
    for name in (auth.ENV_PROJECT, auth.ENV_PROJECT_FALLBACK):
        monkeypatch.delenv(name, raising=False)
    cases = _bad_inputs(tmp_path)
    seen = []
    for case in cases:
        with pytest.raises(SmdError) as err:
            case()
        text = str(err.value)
        english = err.value.args[0]
        seen.append(english)
        assert CJK.search(text), english
        names = tuple(os.path.basename(p) for p in re.findall(r"/\S+?\.(?:tif|csv|smdmodel)", english)) + \
            (str(tmp_path), "station, lon, lat, date, reading")  # the columns the user's table has
        assert english_left(text, names) == [], (english, text)
        for number in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", english):
            assert number in text, (number, english, text)  # every number of the English message is still there
    assert len(set(seen)) == len(cases)


def test_gee_errors_and_their_kinds(zh, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    with pytest.raises(GeeError) as err:
        auth.initialize(project="p", url="https://earthengine.googleapis.com", credentials="persistent", force=True)
    assert err.value.kind == "auth"
    assert str(err.value).startswith("未通过 Earth Engine 身份验证：请在插件设置（栅格 > 土壤水分降尺度 > 设置…）中用")
    assert english_left(str(err.value)) == []


# -- reports -----------------------------------------------------------------------------------------
def visible_text(page: str) -> str:
    """What a reader sees of a report: text outside tags and the images' alt texts, entities decoded."""
    body = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    alts = " ".join(re.findall(r'alt="([^"]*)"', body))
    return html.unescape(re.sub(r"<[^>]+>", " ", body) + " " + alts)


def _station_pairs() -> list:
    out = []
    for k, day in enumerate((dt.date(2023, 6, 1), dt.date(2023, 6, 9))):
        for sid, obs in (("A", 0.21), ("B", 0.3)):
            out.append(validate.StationPair(sid, day, 0.0, 0.0, 1, 1, obs + 0.01 * k, obs + 0.02, "ok"))
    out.append(validate.StationPair("C", dt.date(2023, 6, 1), 0, 0, -1, -1, 0.3, math.nan, "outside"))
    return out


def test_reports_leave_no_english_but_names(tmp_path, zh):
    pairs = _station_pairs()
    pooled = validate.station_metrics(pairs)
    pooled["reference"] = {"n": 900, "r": 0.8, "mae": 0.02, "rmse": 0.03, "bias": -0.005, "ubrmsd": 0.029}
    pooled["baseline"] = {"n": 880, "r": 0.5, "mae": 0.03, "rmse": 0.04, "bias": 0.006, "ubrmsd": 0.039,
                          "estimate": pooled["reference"]}
    rows = [{"source": "stations", "estimate": f"sm_1km_{d:%Y%m%d}.tif", "date": d.isoformat(),
             **validate.station_metrics([p for p in pairs if p.date == d])["stations"]}
            for d in sorted({p.date for p in pairs})]
    rng = np.random.default_rng(0)
    path = str(tmp_path / "validation.html")
    report.validate_report(pooled, pairs, path, samples=(rng.uniform(0.1, 0.4, 300), rng.uniform(0.1, 0.4, 300)),
                           per_date=rows, inputs={"估计值": "sm_1km_20230601.tif"},
                           error_map=rng.normal(0, 0.02, (8, 9)))
    meta = {"model_type": "rf", "n_samples": 420, "fit_samples": 400, "dates": ["2023-06-01", "2023-06-09"],
            "factors": [{"name": "ndvi"}, {"name": "landcover", "kind": "categorical"}],
            "features": ["ndvi", "landcover=10"], "params": {"n_estimators": 50}, "target_range": [0.05, 0.42],
            "soil_moisture_input": {"scale": 0.01, "nodata": -9999.0},
            "dropped_factors": {"slope": "constant over the samples: no information"},
            "cv": {"n_estimators": 20,
                   "spatial": {"method": "spatial blocks (GroupKFold)", "blocks": 6, "block_cells": 4,
                               "pooled": pooled["reference"], "per_fold": [{"fold": 1, **pooled["reference"]}]},
                   "random": {"method": "random K-fold", "label": "optimistic", "pooled": pooled["reference"]}},
            "feature_importances": {"ndvi": 0.7, "landcover=10": 0.3}}
    train_path = str(tmp_path / "train.html")
    report.train_report(meta, train_path)
    for page_path, names in ((path, ("A", "B", "C")), (train_path, ("ndvi", "landcover", "slope"))):
        with open(page_path, encoding="utf-8") as f:
            page = f.read()
        assert '<html lang="zh-CN">' in page
        text = visible_text(page)
        assert english_left(text, names) == [], (page_path, english_left(text, names))
    assert "与基线比较" in open(path, encoding="utf-8").read() and "误差图" in open(path, encoding="utf-8").read()
    i18n.set_language(None)
    report.validate_report(pooled, pairs, path, per_date=rows)
    with open(path, encoding="utf-8") as f:
        english = f.read()
    assert '<html lang="en">' in english and "<h2>Against the baseline</h2>" in english
    assert "<td>reference raster</td>" in english and not CJK.search(visible_text(english))


def test_screening_report_leaves_no_english_but_factor_names(tmp_path, zh):
    from smdownscale.algorithms.features import CATEGORICAL, FactorSpec, Pairs
    from smdownscale.algorithms.screen import screen_pairs

    rng = np.random.default_rng(3)
    n = 300
    a, b, lc = rng.normal(0, 1, n), rng.normal(0, 1, n), rng.integers(0, 3, n)
    y = 0.2 + 0.05 * a + 0.01 * b + 0.02 * (lc == 2) + rng.normal(0, 0.005, n)
    x = np.column_stack([a, b, a + rng.normal(0, 0.3, n), np.full(n, 1.0)]
                        + [(lc == k).astype(float) for k in range(3)])
    specs = [FactorSpec("ndvi"), FactorSpec("slope"), FactorSpec("lst_day"), FactorSpec("elevation"),
             FactorSpec("landcover", CATEGORICAL, [10, 20, 30])]
    names = ["ndvi", "slope", "lst_day", "elevation", "landcover=10", "landcover=20", "landcover=30"]
    grid = Grid(srs_from_user("EPSG:6933").ExportToWkt(), (0.0, 9000.0, 0.0, 0.0, 0.0, -9000.0), 30, 10)
    pairs = Pairs(x, y, names, specs, np.array(["2023-06-01"] * n), np.arange(n), ["2023-06-01"], grid)
    result = screen_pairs(pairs, max_collinearity=0.9, min_abs_r=0.05, n_jobs=1)
    reasons = {r["factor"]: r["reason"] for r in result.rows}
    assert reasons["elevation"] == "constant over the samples: no information"
    assert reasons["lst_day"].startswith("collinear with ndvi (")
    path = str(tmp_path / "screen.html")
    report.screen_report(result, path, inputs={"因子栈": ["factors_20230601.tif"]})
    with open(path, encoding="utf-8") as f:
        page = f.read()
    text = visible_text(page)
    assert english_left(text, ("ndvi", "slope", "lst_day", "elevation", "landcover")) == [], \
        english_left(text, ("ndvi", "slope", "lst_day", "elevation", "landcover"))
    assert "在样本上为常数：不含信息" in text and "与 ndvi 共线（" in text and "入选因子：" in text


def test_plot_texts_are_translated_only_when_a_cjk_font_can_draw_them(zh, monkeypatch):
    rng = np.random.default_rng(1)
    ref = rng.uniform(0.1, 0.4, 100)
    m = {"n": 100, "r": 0.9, "rmse": 0.02, "bias": 0.0, "ubrmsd": 0.02}
    monkeypatch.setattr(report, "_installed_cjk_font", lambda: None)  # no font with Chinese glyphs
    ax = report.scatter_figure(ref, ref + 0.01, m, report.N_("reference (m3/m3)")).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("reference (m3/m3)", "estimate (m3/m3)")
    monkeypatch.setattr(report, "_installed_cjk_font", lambda: "CJK Test Sans")  # stands in for Microsoft YaHei
    import matplotlib

    seen = []
    monkeypatch.setattr(report, "_png", lambda fig: seen.append(matplotlib.rcParams["font.sans-serif"][0]) or b"")
    report.scatter_png(ref, ref + 0.01, m, report.N_("reference (m3/m3)"))
    assert seen == ["CJK Test Sans"]  # drawn with the CJK font, which is not left set afterwards
    assert "CJK Test Sans" not in matplotlib.rcParams["font.sans-serif"]
    ax = report.scatter_figure(ref, ref + 0.01, m, report.N_("reference (m3/m3)")).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("参考值 (m3/m3)", "估计值 (m3/m3)")
    i18n.set_language(None)
    ax = report.scatter_figure(ref, ref + 0.01, m, report.N_("reference (m3/m3)")).axes[0]
    assert ax.get_xlabel() == "reference (m3/m3)"
