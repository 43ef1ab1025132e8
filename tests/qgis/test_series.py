"""Time series through Processing: downscale and validate over several dates, temporal layers, bad inputs."""

from __future__ import annotations

import csv
import os
import shutil

import numpy as np
import pytest
from qgis.core import (
    Qgis,
    QgsApplication,
    QgsDateTimeRange,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputLayerDefinition,
    QgsProject,
)
from qgis.PyQt.QtCore import QDate, QDateTime, QTime

from smdownscale.algorithms import raster, series
from smdownscale.processing_provider.algs.downscale import DownscaleAlgorithm as D
from smdownscale.processing_provider.algs.validate import ValidateAlgorithm as V
from smdownscale.tests.scenes import build_scene


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return build_scene(str(tmp_path_factory.mktemp("qgis_series")))


def _qdt(text: str) -> QDateTime:
    y, m, d = (int(v) for v in text.split("-"))
    return QDateTime(QDate(y, m, d), QTime(0, 0))


def _same(a: str, b: str) -> bool:
    return np.array_equal(raster.read_all(a), raster.read_all(b), equal_nan=True)


def test_downscale_series_equals_single_date_runs(run, chain, tmp_path):
    out = str(tmp_path / "series")
    res = run("smdownscale:downscale", {D.MODEL: chain["model"], D.FACTORS_SERIES: chain["stacks"],
                                        D.SOIL_MOISTURE_SERIES: list(reversed(chain["smap"])),
                                        D.OUTPUT_FOLDER: out, D.FILL_WINDOW_DAYS: 12})
    files = [os.path.join(out, "sm_1km_20230601.tif"), os.path.join(out, "sm_1km_20230609.tif")]
    assert res[D.OUTPUT_FOLDER] == out and res[D.OUTPUT_FILES] == ";".join(files) and res[D.OUTPUT] is None
    means, counts = [], []
    for path, stack, sm in zip(files, chain["stacks"], chain["smap"]):
        single = str(tmp_path / f"single_{os.path.basename(path)}")
        # a series fills missing factors from its other dates (FILL_WINDOW_DAYS 12, the default; 8 days
        # apart here)
        one = run("smdownscale:downscale", {D.MODEL: chain["model"], D.FACTORS: stack, D.SOIL_MOISTURE: sm,
                                            D.NEIGHBOUR_FACTORS: [s for s in chain["stacks"] if s != stack],
                                            D.OUTPUT: single, D.FILL_WINDOW_DAYS: 12})
        assert _same(path, single)
        values = raster.read_all(path)[0]
        assert one[D.MEAN] == pytest.approx(float(np.nanmean(values.astype(np.float64))), abs=1e-9)
        means.append(one[D.MEAN])
        counts.append(int(np.isfinite(values).sum()))
    assert res[D.MEAN] == pytest.approx(np.average(means, weights=counts), abs=1e-12)
    entries = series.read_series_list(os.path.join(out, series.LIST_NAME))
    assert [e.path for e in entries] == files


def test_downscale_series_from_folder_and_manifest(run, chain, tmp_path):
    folder = tmp_path / "inputs"
    folder.mkdir()
    for p in chain["stacks"] + chain["smap"]:
        shutil.copy(p, folder / os.path.basename(p))
    reference = str(tmp_path / "by_list")
    run("smdownscale:downscale", {D.MODEL: chain["model"], D.FACTORS_SERIES: chain["stacks"],
                                  D.SOIL_MOISTURE_SERIES: chain["smap"], D.OUTPUT_FOLDER: reference,
                                  D.FILL_WINDOW_DAYS: 12})
    by_folder = str(tmp_path / "by_folder")
    res = run("smdownscale:downscale", {D.MODEL: chain["model"], D.INPUT_FOLDER: str(folder),
                                        D.OUTPUT_FOLDER: by_folder, D.FILL_WINDOW_DAYS: 12})
    assert len(res[D.OUTPUT_FILES].split(";")) == 2
    from smdownscale.algorithms.manifest import write_manifest

    write_manifest(str(folder / "manifest.json"), [{"date": "2023-06-09", "smap": "smap_20230609.tif",
                                                    "factors": "factors_20230609.tif"}], {}, {}, {})
    by_manifest = str(tmp_path / "by_manifest")
    res = run("smdownscale:downscale", {D.MODEL: chain["model"], D.MANIFEST: str(folder / "manifest.json"),
                                        D.OUTPUT_FOLDER: by_manifest, D.FILL_WINDOW_DAYS: 12})
    assert res[D.OUTPUT_FILES] == os.path.join(by_manifest, "sm_1km_20230609.tif")
    for name in ("sm_1km_20230601.tif", "sm_1km_20230609.tif"):
        assert _same(os.path.join(reference, name), os.path.join(by_folder, name))
    # the manifest lists one date: no other date to fill from, as a list of that date alone
    alone = str(tmp_path / "alone")
    run("smdownscale:downscale", {D.MODEL: chain["model"], D.FACTORS_SERIES: chain["stacks"][1:],
                                  D.SOIL_MOISTURE_SERIES: chain["smap"][1:], D.OUTPUT_FOLDER: alone,
                                  D.FILL_WINDOW_DAYS: 12})
    assert _same(os.path.join(alone, "sm_1km_20230609.tif"), os.path.join(by_manifest, "sm_1km_20230609.tif"))
    assert not _same(os.path.join(alone, "sm_1km_20230609.tif"), os.path.join(reference, "sm_1km_20230609.tif"))


def test_series_layers_are_temporal_styled_and_grouped(plugin, chain, tmp_path, handle_results):
    project = QgsProject.instance()
    context = QgsProcessingContext()
    context.setProject(project)
    feedback = QgsProcessingFeedback()
    alg = QgsApplication.processingRegistry().createAlgorithmById("smdownscale:downscale")
    out = str(tmp_path / "animated")
    params = {D.MODEL: chain["model"], D.FACTORS_SERIES: chain["stacks"], D.SOIL_MOISTURE_SERIES: chain["smap"],
              D.OUTPUT_FOLDER: out,  # and what the dialog passes by default for the single-date output:
              D.OUTPUT: QgsProcessingOutputLayerDefinition("TEMPORARY_OUTPUT", project)}
    results, ok = alg.run(params, context, feedback)
    assert ok
    files = results[D.OUTPUT_FILES].split(";")
    to_load = context.layersToLoadOnCompletion()
    assert sorted(to_load) == sorted(files)  # the unused single-date output is not loaded
    assert [to_load[f].name for f in files] == ["Soil moisture 1 km 2023-06-01", "Soil moisture 1 km 2023-06-09"]
    try:
        assert handle_results(alg, context, feedback, results)
        layers = [project.mapLayersByName(f"Soil moisture 1 km {d}")[0] for d in ("2023-06-01", "2023-06-09")]
        for layer, (start, end) in zip(layers, (("2023-06-01", "2023-06-09"), ("2023-06-09", "2023-06-17"))):
            props = layer.temporalProperties()
            assert props.isActive() and props.mode() == Qgis.RasterTemporalMode.FixedTemporalRange
            rng = props.fixedTemporalRange()
            assert rng.begin() == _qdt(start) and rng.end() == _qdt(end)
            assert rng.includeBeginning() and not rng.includeEnd()
            renderer = layer.renderer()
            assert renderer.type() == "singlebandpseudocolor"
            assert (renderer.classificationMin(), renderer.classificationMax()) == (0.0, 0.45)
        day = QgsDateTimeRange(_qdt("2023-06-05"), _qdt("2023-06-06"))
        assert [lyr.temporalProperties().isVisibleInTemporalRange(day) for lyr in layers] == [True, False]
        day = QgsDateTimeRange(_qdt("2023-06-12"), _qdt("2023-06-13"))
        assert [lyr.temporalProperties().isVisibleInTemporalRange(day) for lyr in layers] == [False, True]
        group = project.layerTreeRoot().findGroup("Soil moisture 1 km 2023-06-01 to 2023-06-09")
        assert group is not None
        # (QGIS 3.32+ places the layers in the group itself, newest on top; the animation does not depend on it)
        assert sorted(n.layerId() for n in group.findLayers()) == sorted(lyr.id() for lyr in layers)
        span = project.timeSettings().temporalRange()
        assert span.begin() <= _qdt("2023-06-01") and span.end() >= _qdt("2023-06-17")
    finally:
        project.removeAllMapLayers()
        project.layerTreeRoot().removeAllChildren()
        project.timeSettings().reset()


def test_downscale_series_bad_inputs(run, chain, tmp_path):
    out = tmp_path / "never"
    common = {D.MODEL: chain["model"], D.OUTPUT_FOLDER: str(out)}
    (tmp_path / "manifest.json").write_text("{}")
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        ({D.FACTORS: chain["stacks"][0], D.FACTORS_SERIES: chain["stacks"], D.SOIL_MOISTURE_SERIES: chain["smap"]},
         "Give either one factor stack (one date) or a time series"),
        ({D.FACTORS_SERIES: chain["stacks"]}, "Residual correction needs the SMAP rasters of the same dates"),
        ({}, "Give a factor stack, or a time series"),
        ({D.INPUT_FOLDER: str(tmp_path), D.MANIFEST: str(tmp_path / "manifest.json")}, "Give the time series one way"),
        ({D.FACTORS_SERIES: chain["stacks"], D.SOIL_MOISTURE_SERIES: chain["smap"][:1]},
         "Dates do not match between the inputs: 2023-06-09 only among the factor stack rasters"),
        ({D.INPUT_FOLDER: str(empty)}, "No factor stack named factors_<date>.tif"),
    ]
    for extra, message in cases:
        with pytest.raises(QgsProcessingException, match=message.replace("(", r"\(").replace(")", r"\)")):
            run("smdownscale:downscale", {**common, **extra})
        assert not out.exists() or os.listdir(out) == []
    with pytest.raises(QgsProcessingException, match="is not a smdownscale manifest"):
        run("smdownscale:downscale", {**common, D.MANIFEST: str(tmp_path / "manifest.json")})
    assert not out.exists() or os.listdir(out) == []


def test_downscale_single_date_still_needs_no_series(run, chain, tmp_path):
    """Scripts written before time series keep working; OUTPUT left out falls back to a temporary file."""
    res = run("smdownscale:downscale", {D.MODEL: chain["model"], D.FACTORS: chain["stacks"][0],
                                        D.SOIL_MOISTURE: chain["smap"][0]})
    assert os.path.isfile(res[D.OUTPUT]) and res[D.OUTPUT].endswith(".tif")
    assert D.OUTPUT_FOLDER not in res or res[D.OUTPUT_FOLDER] is None


@pytest.fixture(scope="module")
def estimates(chain, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("qgis_estimates"))
    return [r.output for r in series.downscale_series(chain["model"], chain["stacks"], chain["smap"], out, n_jobs=1)]


def test_validate_series_pooled_outputs_csv_and_report(run, chain, estimates, tmp_path):
    out = str(tmp_path / "metrics.csv")
    report = str(tmp_path / "validation.html")
    res = run("smdownscale:validate", {V.INPUT_SERIES: estimates, V.REFERENCE_SERIES: chain["truth"],
                                       V.RESAMPLING: 3, V.OUTPUT: out, V.REPORT: report})
    expected = series.validate_series(estimates, chain["truth"], resampling="nearest")
    pooled = expected.pooled["reference"]
    assert res[V.N] == pooled["n"] and res[V.R] == pytest.approx(pooled["r"], abs=1e-12)
    assert res[V.UBRMSD] == pytest.approx(pooled["ubrmsd"], abs=1e-12) and res[V.REPORT] == report
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["date"] for r in rows] == ["2023-06-01", "2023-06-09", "all"]
    text = open(report, encoding="utf-8").read()
    assert text.count('src="data:image/png;base64,') == 2  # density plot and metrics per date
    assert f'<td class="num">{pooled["n"]}</td><td class="num">{pooled["r"]:.3f}</td>' in text
    assert "<td>2023-06-09</td><td>reference raster</td><td>sm_1km_20230609.tif</td>" in text


def test_validate_series_bad_inputs(run, chain, estimates, tmp_path):
    out = tmp_path / "m.csv"
    cases = [
        ({V.INPUT: estimates[0], V.INPUT_SERIES: estimates, V.REFERENCE_SERIES: chain["truth"]},
         r"Give either one soil moisture estimate or a time series of estimates \(not both\)"),
        ({V.INPUT_SERIES: estimates, V.REFERENCE: chain["truth"][0]}, "give them under 'Time series: reference"),
        ({V.INPUT: estimates[0], V.REFERENCE_SERIES: chain["truth"]}, "need a time series of estimates"),
        ({V.INPUT_SERIES: estimates}, "Nothing to validate against"),
        ({V.INPUT_SERIES: estimates, V.REFERENCE_SERIES: chain["truth"][:1]},
         "Dates do not match between the inputs: 2023-06-09 only among the estimate rasters"),
    ]
    for extra, message in cases:
        with pytest.raises(QgsProcessingException, match=message):
            run("smdownscale:validate", {**extra, V.OUTPUT: str(out), V.REPORT: str(tmp_path / "r.html")})
        assert sorted(os.listdir(tmp_path)) == []
