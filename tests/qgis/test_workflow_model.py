"""The shipped workflow model: reproducible from scripts/build_model.py, listed under the provider, and run
end to end through qgis_process on the sample data."""

from __future__ import annotations

import csv
import os
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from qgis.core import Qgis, QgsApplication, QgsProcessingModelAlgorithm, QgsProcessingModelChildParameterSource

from smdownscale.algorithms import metrics, raster, sample
from smdownscale.algorithms.model_io import read_meta
from smdownscale.tests.report_checks import check_self_contained

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import build_model  # noqa: E402
from qgisproc import QgisProcess  # noqa: E402

MODEL_FILE = os.path.join(ROOT, "models", "smdownscale_workflow.model3")
#: The enum moved from QgsProcessingModelChildParameterSource.Source to Qgis in QGIS 3.36.
CHILD_OUTPUT = (Qgis.ProcessingModelChildParameterSource.ChildOutput
                if hasattr(Qgis, "ProcessingModelChildParameterSource")
                else QgsProcessingModelChildParameterSource.Source.ChildOutput)
CHILDREN = {"align": "smdownscale:align", "screen": "smdownscale:screen", "train": "smdownscale:train",
            "downscale": "smdownscale:downscale", "validate": "smdownscale:validate"}


def _canonical(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return ET.canonicalize(fh.read(), strip_text=True)  # attribute order does not matter


def test_committed_model_is_what_the_build_script_writes(plugin, tmp_path):
    built = build_model.build(str(tmp_path / "workflow.model3"))
    # both files as this QGIS reads and writes them back (QGIS 3.40+ writes .model3 files differently from
    # 3.22, which wrote the committed one): the same model gives the same file
    rewritten, variants = [], []
    for i, path in enumerate((built, MODEL_FILE)):
        model = QgsProcessingModelAlgorithm()
        assert model.fromFile(path)
        rewritten.append(str(tmp_path / f"rewritten{i}.model3"))
        assert model.toFile(rewritten[-1])
        variants.append(model.toVariant())
    if variants[0].get("internal_version") != variants[1].get("internal_version"):
        # QGIS 3.36+ builds "Version2" models, whose output parameters drop the child prefix (model_file, not
        # train:model_file); it still reads the committed "Version1" file as it is. Then the chain (children,
        # their parameter sources and outputs), the inputs and the help must agree.
        def inputs(variant):
            return {k: v for k, v in variant["parameterDefinitions"].items()
                    if not v.get("parameter_type", "").endswith(("Destination", "destination"))}

        for key in ("children", "help", "modelVariables", "model_name", "model_group"):
            assert variants[0].get(key) == variants[1].get(key), key
        assert inputs(variants[0]) == inputs(variants[1])
        return
    assert _canonical(rewritten[0]) == _canonical(rewritten[1]), \
        "models/smdownscale_workflow.model3 is out of date: run .venv/bin/python scripts/build_model.py"


def test_model_file_loads_with_the_chain_wired(plugin):
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(MODEL_FILE)
    assert model.name() == "workflow"
    children = model.childAlgorithms()
    assert {cid: c.algorithmId() for cid, c in children.items()} == CHILDREN
    assert all(c.algorithm() is not None for c in children.values())
    assert model.validate()[0]
    selected = children["train"].parameterSources()["SELECTED_FACTORS"]
    assert len(selected) == 1 and selected[0].source() == CHILD_OUTPUT
    assert (selected[0].outputChildId(), selected[0].outputName()) == ("screen", "SELECTED")
    model_src = children["downscale"].parameterSources()["MODEL"][0]
    assert (model_src.outputChildId(), model_src.outputName()) == ("train", "OUTPUT")
    assert children["validate"].parameterSources()["INPUT"][0].outputChildId() == "downscale"
    assert model.dependsOnChildAlgorithms("validate") == {"align", "screen", "train", "downscale"}


def test_model_is_listed_under_the_provider(plugin):
    alg = QgsApplication.processingRegistry().algorithmById("smdownscale:workflow")
    assert alg is not None and alg.provider().id() == "smdownscale"
    assert alg.displayName() == "Workflow: local files to validated 1 km soil moisture"
    assert alg.group() == "Workflows" and alg.groupId() == "workflows"
    names = [p.name() for p in alg.parameterDefinitions()]
    assert names[:5] == ["smap", "factor_rasters", "grid", "validation_reference", "model_type"]
    assert {"downscale:soil_moisture_1km", "downscale:quality_1km", "validate:validation_metrics",
            "validate:validation_report", "train:model_file", "train:training_report",
            "screen:screening_report"} <= set(names)
    assert "train downscaling model on the selected factors" in alg.shortHelpString().lower()


@pytest.mark.slow
def test_model_runs_through_qgis_process(tmp_path):
    scene = sample.make_sample(str(tmp_path / "sample"), size_km=100, n_dates=1, seed=5)
    day = scene.dates[0].replace("-", "")
    factors = [scene.paths[k][0] for k in ("elevation", "slope", "landcover", "ndvi", "lst_day", "lst_night", "vv",
                                           "vh", "precipitation")]
    out = tmp_path / "out"
    out.mkdir()
    qp = QgisProcess(str(tmp_path / "qgis"))
    params = {"smap": scene.smap_files[0], "factor_rasters": factors, "grid": scene.reference_grid,
              "validation_reference": scene.truth_files[0], "model_type": 0,
              "screen:screening_table": str(out / "screen.csv"), "screen:screening_report": str(out / "screen.html"),
              "train:model_file": str(out / "model.smdmodel"), "train:training_report": str(out / "train.html"),
              "downscale:soil_moisture_1km": str(out / f"sm_1km_{day}.tif"),
              "downscale:quality_1km": str(out / f"quality_{day}.tif"),
              "validate:validation_metrics": str(out / "validation.csv"),
              "validate:validation_report": str(out / "validation.html")}
    res = qp.check("smdownscale:workflow", params)
    assert res["validate:validation_metrics"] == str(out / "validation.csv")
    # the validation CSV holds the metrics of the 1 km result against the truth, recomputed here
    estimate = raster.read_all(str(out / f"sm_1km_{day}.tif"))[0].astype(np.float64)
    truth = raster.read_all(scene.truth_files[0])[0].astype(np.float64)
    expected = metrics.metrics(estimate, truth)
    with open(out / "validation.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["source"] for r in rows][:3] == ["reference", "reference:all factors observed", "reference:filled"]
    assert int(rows[0]["n"]) == expected["n"] > 8000
    # validate got downscale's quality raster: the observed and filled pixels are also reported apart
    assert sum(int(r["n"]) for r in rows[1:]) == expected["n"]
    filled = np.isfinite(truth) & (raster.read_all(str(out / f"quality_{day}.tif"))[0] == 2)
    assert int(rows[2]["n"]) == int(filled.sum())
    for key in ("r", "mae", "rmse", "bias", "ubrmsd"):
        assert float(rows[0][key]) == pytest.approx(expected[key], abs=2e-6)
    assert expected["r"] > 0.85 and expected["ubrmsd"] < 0.03
    # complete map: the sample's cloud gaps are filled (quality 2) wherever the truth is known
    quality = raster.read_all(str(out / f"quality_{day}.tif"))[0]
    known = np.isfinite(truth)
    assert np.isfinite(estimate[known]).all() and (quality[known] == 2).sum() > 100
    assert set(np.unique(quality[known]).tolist()) <= {1.0, 2.0, 3.0}
    # train used exactly the factors screen selected
    with open(out / "screen.csv", newline="") as fh:
        selected = [r["factor"] for r in csv.DictReader(fh) if r["selected"] == "yes"]
    assert [f["name"] for f in read_meta(str(out / "model.smdmodel"))["factors"]] == selected
    for name in ("screen.html", "train.html", "validation.html"):
        assert check_self_contained(open(out / name, encoding="utf-8").read())
    assert f"{expected['r']:.3f}" in open(out / "validation.html", encoding="utf-8").read()
