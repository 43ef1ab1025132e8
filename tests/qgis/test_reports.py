"""HTML reports of screen, train and validate through Processing, and how outputs load as layers."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from qgis.core import (
    QgsApplication,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputHtml,
    QgsProcessingOutputLayerDefinition,
    QgsProject,
)

from smdownscale.algorithms import raster
from smdownscale.processing_provider.algs.align import AlignAlgorithm as A
from smdownscale.processing_provider.algs.screen import ScreenAlgorithm as S
from smdownscale.processing_provider.algs.train import TrainAlgorithm as T
from smdownscale.processing_provider.algs.validate import ValidateAlgorithm as V
from smdownscale.tests.report_checks import ESCAPED, EVIL, check_self_contained
from smdownscale.tests.scenes import DYNAMIC, STATIC, build_scene


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return build_scene(str(tmp_path_factory.mktemp("qgis_reports")))


def _text(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def test_report_outputs_are_html_for_the_results_viewer(plugin):
    for alg_id in ("screen", "train", "validate"):
        alg = QgsApplication.processingRegistry().createAlgorithmById(f"smdownscale:{alg_id}")
        param = alg.parameterDefinition("REPORT")
        assert param.flags() & param.Flag.FlagOptional and param.createByDefault()
        assert isinstance(alg.outputDefinition("REPORT"), QgsProcessingOutputHtml)
        assert alg.hasHtmlOutputs()


def test_screen_and_train_reports(run, chain, tmp_path):
    screen_html = str(tmp_path / "screen.html")
    res = run("smdownscale:screen", {S.SOIL_MOISTURE: chain["smap"], S.FACTORS: chain["stacks"],
                                     S.OUTPUT: str(tmp_path / "screen.csv"), S.REPORT: screen_html})
    assert res[S.REPORT] == screen_html
    text = _text(screen_html)
    assert len(check_self_contained(text)) == 2
    assert "<b>Selected factors:</b> " + res[S.SELECTED].replace(",", ", ") in text
    assert "factors_20230601.tif, factors_20230609.tif" in text and "Maximum collinearity</td><td>0.8</td>" in text
    with open(tmp_path / "screen.csv", newline="") as fh:
        import csv

        for row in csv.DictReader(fh):  # every factor's r in the report, as in the CSV
            assert f"<td>{row['factor']}</td><td>{row['kind']}</td><td class=\"num\">" \
                   f"{float(row['pearson_r']):.3f}</td>" in text

    train_html = str(tmp_path / "train.html")
    res = run("smdownscale:train", {T.SOIL_MOISTURE: chain["smap"], T.FACTORS: chain["stacks"],
                                    T.SELECTED_FACTORS: res[S.SELECTED], T.N_ESTIMATORS: 20, T.CV_FOLDS: 3,
                                    T.OUTPUT: str(tmp_path / "m.smdmodel"), T.REPORT: train_html})
    assert res[T.REPORT] == train_html
    text = _text(train_html)
    assert len(check_self_contained(text)) == 2
    pooled = re.search(r'<tr class="pooled"><td>spatial blocks \(GroupKFold\)[^<]*</td><td>pooled</td>(.*?)</tr>',
                       text).group(1)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", pooled)
    assert cells[:4] == [str(res[T.N_SAMPLES]), f"{res[T.CV_R]:.3f}", f"{res[T.CV_MAE]:.4f}", f"{res[T.CV_RMSE]:.4f}"]
    assert cells[5] == f"{res[T.CV_UBRMSD]:.4f}"

    # REPORT left out (scripts written before reports): no report, no file
    res = run("smdownscale:screen", {S.SOIL_MOISTURE: chain["smap"], S.FACTORS: chain["stacks"],
                                     S.OUTPUT: str(tmp_path / "again.csv")})
    assert res[S.REPORT] is None
    assert sorted(os.listdir(tmp_path)) == ["again.csv", "m.smdmodel", "screen.csv", "screen.html", "train.html"]


def test_report_in_a_missing_folder_fails_before_the_run(run, chain, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("x")
    with pytest.raises(QgsProcessingException, match="Cannot create the output folder"):
        run("smdownscale:screen", {S.SOIL_MOISTURE: chain["smap"], S.FACTORS: chain["stacks"],
                                   S.OUTPUT: str(tmp_path / "s.csv"), S.REPORT: str(blocked / "sub" / "r.html")})
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_validate_report_with_reference_and_escaped_station_names(run, chain, tmp_path):
    estimate = str(tmp_path / "sm_1km_20230601.tif")
    run("smdownscale:downscale", {"MODEL": chain["model"], "FACTORS": chain["stacks"][0],
                                  "SOIL_MOISTURE": chain["smap"][0], "OUTPUT": estimate})
    values = raster.read_all(estimate)[0]
    grid = raster.Grid.from_path(estimate)
    from osgeo import osr

    ct = osr.CoordinateTransformation(grid.srs, raster.srs_from_user("EPSG:4326"))
    lines = ["station,lon,lat,date,value"]
    for name, (col, row) in ((f'"{EVIL}"', (20, 30)), ("B", (40, 12))):
        lon, lat, _ = ct.TransformPoint(grid.transform[0] + (col + 0.5) * 1000.0,
                                        grid.transform[3] - (row + 0.5) * 1000.0)
        lines.append(f"{name},{lon!r},{lat!r},2023-06-01,{float(values[row, col]) + 0.01:.6f}")
    stations = tmp_path / "stations.csv"
    stations.write_text("\n".join(lines) + "\n")
    report = str(tmp_path / "validation.html")
    res = run("smdownscale:validate", {V.INPUT: estimate, V.REFERENCE: chain["truth"][0],
                                       V.BASELINE: chain["smap"][0], V.STATIONS_FILE: str(stations),
                                       V.OUTPUT: str(tmp_path / "v.csv"), V.REPORT: report})
    assert res[V.REPORT] == report
    text = _text(report)
    # density plot, error map and station scatter (one date: no time series)
    assert len(check_self_contained(text)) == 3
    import csv

    with open(tmp_path / "v.csv", newline="") as fh:
        rows = {r["source"]: r for r in csv.DictReader(fh)}
    base = rows["baseline"]
    assert 0.8 * res[V.N] < int(base["n"]) <= res[V.N]  # the pixels where SMAP resampled bilinearly has a value
    assert (f'<td>baseline: SMAP resampled bilinearly</td><td class="num">{base["n"]}</td>'
            f'<td class="num">{float(base["r"]):.3f}</td><td class="num">{float(base["mae"]):.4f}</td>') in text
    assert re.search(r'<tr><td>RMSE \(m3/m3\)</td><td class="num">0\.\d{4}</td>'
                     f'<td class="num">{float(base["rmse"]):.4f}</td>', text)
    assert f"on the same {base['n']} pixels as the estimate" in text
    assert "<h2>Error map</h2>" in text and "Baseline</td><td>smap_20230601.tif" in text
    assert EVIL not in text and f"<td>station {ESCAPED}</td>" in text
    assert (f'<td>reference raster</td><td class="num">{res[V.N]}</td><td class="num">{res[V.R]:.3f}</td>'
            f'<td class="num">{res[V.MAE]:.4f}</td><td class="num">{res[V.RMSE]:.4f}</td>'
            f'<td class="num">{res[V.BIAS]:+.4f}</td><td class="num">{res[V.UBRMSD]:.4f}</td>') in text
    assert '<td>stations (pooled)</td><td class="num">2</td>' in text and "-0.0100" in text.split("Station pairs")[1]
    assert "Estimate</td><td>sm_1km_20230601.tif" in text and "truth_20230601.tif" in text


def test_aligned_factors_load_with_gray_stretch_and_dated_name(plugin, chain, tmp_path, handle_results):
    scene = chain["scene"]
    inputs = [scene.paths[k][0] for k in STATIC] + [scene.paths[k][1] for k in DYNAMIC]
    project = QgsProject.instance()
    context = QgsProcessingContext()
    context.setProject(project)
    feedback = QgsProcessingFeedback()
    alg = QgsApplication.processingRegistry().createAlgorithmById("smdownscale:align")
    out = str(tmp_path / "stack.tif")
    coarse = str(tmp_path / "coarse.tif")
    # as the dialog passes outputs with "open output file after running" checked
    results, ok = alg.run({A.INPUTS: inputs, A.REFERENCE: scene.reference_grid,
                           A.OUTPUT: QgsProcessingOutputLayerDefinition(out, project),
                           A.COARSE_REFERENCE: scene.smap_files[1],
                           A.COARSE_OUTPUT: QgsProcessingOutputLayerDefinition(coarse, project)}, context, feedback)
    assert ok
    names = {os.path.basename(k): v.name for k, v in context.layersToLoadOnCompletion().items()}
    assert names == {"stack.tif": "Aligned factors (fine grid) 2023-06-09",
                     "coarse.tif": "Aggregated factors (coarse grid) 2023-06-09"}
    try:
        assert handle_results(alg, context, feedback, results)
        layer = project.mapLayersByName("Aligned factors (fine grid) 2023-06-09")[0]
        renderer = layer.renderer()
        assert renderer.type() == "singlebandgray" and renderer.grayBand() == 1
        ce = renderer.contrastEnhancement()
        band1 = raster.read_all(out, [1])[0]
        lo, hi = np.nanpercentile(band1, [2, 98])
        span = float(np.nanmax(band1) - np.nanmin(band1))
        assert abs(ce.minimumValue() - lo) < 0.02 * span and abs(ce.maximumValue() - hi) < 0.02 * span
        assert ce.minimumValue() > np.nanmin(band1) and ce.maximumValue() < np.nanmax(band1)
        coarse = project.mapLayersByName("Aggregated factors (coarse grid) 2023-06-09")[0]
        assert coarse.renderer().type() == "singlebandgray"
    finally:
        project.removeAllMapLayers()
        project.layerTreeRoot().removeAllChildren()
