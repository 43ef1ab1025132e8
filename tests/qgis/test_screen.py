"""smdownscale:screen through processing.run: ranking, collinearity, CSV and SELECTED outputs, errors."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException

from smdownscale.processing_provider.algs.screen import ScreenAlgorithm as S
from smdownscale.tests.scenes import DATES, make_scene


def _twin(fields, sm, fine, coarse, rng):
    """An exact copy of NDVI and a white-noise factor."""
    return {"ndvi_copy": fields["ndvi"].copy(), "noise": rng.normal(0.0, 1.0, fields["ndvi"].shape)}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return make_scene(str(tmp_path_factory.mktemp("qscreen")), extra=_twin, seed=3)


def test_screen_outputs(run, scene, tmp_path):
    out = str(tmp_path / "screen.csv")
    res = run("smdownscale:screen", {S.SOIL_MOISTURE: scene["sm"], S.FACTORS: scene["stacks"],
                                     S.MAX_COLLINEARITY: 0.8, S.OUTPUT: out})
    assert res[S.OUTPUT] == out
    with open(out, newline="") as fh:
        rows = {r["factor"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"ndvi", "lst_day", "landcover", "ndvi_copy", "noise"}
    # SM = 0.1 + 0.5 * ndvi exactly at the coarse scale
    assert rows["ndvi"]["rank"] == "1" and float(rows["ndvi"]["pearson_r"]) == pytest.approx(1.0, abs=1e-6)
    assert float(rows["ndvi"]["pearson_p"]) < 1e-100
    assert rows["ndvi_copy"]["selected"] == "no"
    assert rows["ndvi_copy"]["reason"].startswith("collinear with ndvi (|r| 1.000 > 0.8)")
    assert rows["landcover"]["kind"] == "categorical" and rows["landcover"]["spearman_r"] == ""
    assert int(rows["noise"]["n"]) == 360 and abs(float(rows["noise"]["pearson_r"])) < 0.2
    selected = res[S.SELECTED].split(",")
    assert selected[0] == "ndvi" and "ndvi_copy" not in selected
    assert set(selected) == {r for r, row in rows.items() if row["selected"] == "yes"}


def test_screen_max_factors_and_min_r(run, scene, tmp_path):
    res = run("smdownscale:screen", {S.SOIL_MOISTURE: scene["sm"], S.FACTORS: scene["stacks"], S.MAX_FACTORS: 1,
                                     S.OUTPUT: "TEMPORARY_OUTPUT"})
    assert res[S.SELECTED] == "ndvi"
    assert res[S.OUTPUT].endswith(".csv") and os.path.isfile(res[S.OUTPUT])
    res = run("smdownscale:screen", {S.SOIL_MOISTURE: scene["sm"], S.FACTORS: scene["stacks"],
                                     S.MAX_COLLINEARITY: 1.0, S.MIN_ABS_R: 0.99,
                                     S.OUTPUT: str(tmp_path / "strong.csv")})
    assert res[S.SELECTED] == "ndvi,ndvi_copy"


def test_screen_says_which_derived_factors_it_could_not_compute(run, scene, tmp_path, warnings_feedback):
    # the stacks hold ndvi and lst_day but no lst_night: TVDI is screened, the day-night difference is named as skipped
    feedback = warnings_feedback()
    out = str(tmp_path / "derived.csv")
    run("smdownscale:screen", {S.SOIL_MOISTURE: scene["sm"], S.FACTORS: scene["stacks"], S.DERIVED_FACTORS: [0, 1],
                               S.OUTPUT: out}, feedback=feedback)
    with open(out, newline="") as fh:
        assert "tvdi" in {r["factor"] for r in csv.DictReader(fh)}
    assert feedback.lines == ["Derived factor lst_diff was not computed: it needs the bands lst_day and lst_night."]


def test_screen_date_mismatch(run, scene, tmp_path):
    out = str(tmp_path / "bad.csv")
    with pytest.raises(QgsProcessingException, match="2023-06-17 only among the soil moisture rasters"):
        run("smdownscale:screen", {S.SOIL_MOISTURE: scene["sm"], S.FACTORS: scene["stacks"][:2], S.OUTPUT: out})
    assert not os.path.exists(out)
    assert os.listdir(tmp_path) == []


def test_screen_too_few_samples(run, tmp_path):
    sc = make_scene(str(tmp_path), dates=DATES[:1], ncols=5, nrows=4)
    out = str(tmp_path / "few.csv")
    with pytest.raises(QgsProcessingException,
                       match="Only 20 valid coarse cells pair soil moisture with all factors; at least 30 are needed"):
        run("smdownscale:screen", {S.SOIL_MOISTURE: sc["sm"], S.FACTORS: sc["stacks"], S.OUTPUT: out})
    assert not os.path.exists(out)
    assert np.all([not f.endswith(".csv") for f in os.listdir(tmp_path)])


@pytest.mark.parametrize(("choice", "copy_kept"), [(0, False), (1, False), (2, True)])
def test_screen_collinearity_filter_choice(run, scene, tmp_path, choice, copy_kept):
    out = str(tmp_path / "screen.csv")
    res = run("smdownscale:screen", {S.SOIL_MOISTURE: scene["sm"], S.FACTORS: scene["stacks"], S.COLLINEARITY: choice,
                                     S.OUTPUT: out})
    with open(out, newline="") as fh:
        rows = {r["factor"]: r for r in csv.DictReader(fh)}
    assert ("ndvi_copy" in res[S.SELECTED].split(",")) is copy_kept
    if choice == 1:  # an exact copy adds nothing to the scale-transfer check
        assert "the scale-transfer check is not clearly better with it" in rows["ndvi_copy"]["reason"]
