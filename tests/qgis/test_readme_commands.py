"""Every qgis_process command of the README, taken from README.md and run as written through the real
qgis_process of the QGIS under test (3.22 on the host, 3.40 and 3.44 in `make test-qgis-versions`).

Only the data folder differs: ``/data/`` becomes a temporary folder. The commands run in README order, each
code block as one shell script, so later commands use what earlier ones wrote.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from smdownscale.algorithms import metrics, raster
from smdownscale.algorithms.model_io import read_meta

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from qgisproc import QgisProcess  # noqa: E402

README = os.path.join(ROOT, "README.md")
#: Commands that need Earth Engine (a Cloud project and a sign-in); not run here.
EARTH_ENGINE = ("smdownscale:fetchgee", "smdownscale:downscalegee")


def readme_blocks() -> list[str]:
    """The README's code blocks that call qgis_process, in order."""
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M)
    return [b for b in blocks if "qgis_process" in b]


def commands(block: str) -> list[str]:
    """The qgis_process commands of a block, continuation lines joined."""
    return [line.strip() for line in block.replace("\\\n", " ").splitlines() if "qgis_process" in line]


def algorithm(command: str) -> str:
    return re.search(r"\brun\s+(\S+)", command).group(1)


def test_readme_commands_cover_every_algorithm():
    algs = [algorithm(c) for b in readme_blocks() for c in commands(b)]
    assert {"smdownscale:sampledata", "smdownscale:align", "smdownscale:screen", "smdownscale:train",
            "smdownscale:downscale", "smdownscale:validate", "smdownscale:workflow"} <= set(algs)
    assert set(EARTH_ENGINE) <= set(algs)


def test_readme_commands_use_the_parameter_syntax_every_qgis_reads():
    """QGIS 3.22 silently ignores repeated parameters written --NAME=value after '--'."""
    for block in readme_blocks():
        for command in commands(block):
            assert command.startswith("qgis_process.bin run smdownscale:"), command
            tail = command.split(" -- ", 1)[1]
            assert not re.search(r"(^|\s|')--[A-Za-z_]+=", tail), command


@pytest.mark.slow
def test_local_readme_commands_run_as_written(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    qp = QgisProcess(str(tmp_path / "qgis"))
    env = qp.shell_env(str(tmp_path / "bin"))
    ran = []
    for block in readme_blocks():
        if any(algorithm(c) in EARTH_ENGINE for c in commands(block)):
            continue
        folder = re.match(r"cd (/data/\S+)", block)
        if folder:  # the folder fetchgee writes (Earth Engine): the same layout from the local files here
            _fetch_layout(data, folder.group(1).replace("/data/", f"{data}/"))
        scripts = [block]
        if "smdownscale:align" in block:  # screen and train take two dates: align the second one the same way
            scripts.append(block.replace("20230601", "20230609"))
        for script in scripts:
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script.replace("/data/", f"{data}/")],
                                  cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=900)
            assert proc.returncode == 0, \
                f"{script}\nexit {proc.returncode}\n{proc.stderr[-3000:]}\n{proc.stdout[-2000:]}"
            ran += [algorithm(c) for c in commands(script)]
    assert ran == ["smdownscale:sampledata", "smdownscale:align", "smdownscale:align", "smdownscale:screen",
                   "smdownscale:train", "smdownscale:downscale", "smdownscale:validate", "smdownscale:train",
                   "smdownscale:workflow"]

    # what the commands wrote, by value
    stack = data / "factors_20230601.tif"
    assert raster.band_names(raster.open_raster(str(stack))) == ["elevation", "slope", "landcover", "ndvi",
                                                                 "lst_day", "precipitation"]
    with open(data / "screening.csv", newline="") as fh:
        assert {r["factor"] for r in csv.DictReader(fh)} >= {"ndvi", "lst_day", "precipitation", "slope"}
    meta = read_meta(str(data / "model_rf.smdmodel"))
    assert [f["name"] for f in meta["factors"]] == ["ndvi", "lst_day", "precipitation", "slope"]
    sm = raster.read_all(str(data / "sm_1km_20230601.tif"))[0].astype(np.float64)
    truth = raster.read_all(str(data / "sample" / "truth" / "truth_20230601.tif"))[0].astype(np.float64)
    expected = metrics.metrics(sm, truth)
    with open(data / "validation_20230601.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert int(row["n"]) == expected["n"] > 30000
    assert float(row["r"]) == pytest.approx(expected["r"], abs=1e-6) and expected["r"] > 0.8
    fetched = read_meta(str(data / "xilingol_2023_07" / "model_rf.smdmodel"))
    assert len(fetched["dates"]) == 2 and fetched["factors"]
    for name in ("sm_1km.tif", "model.smdmodel", "screen.csv", "validation.csv"):  # the workflow model's outputs
        assert (data / name).stat().st_size > 0


def _fetch_layout(data, folder: str) -> None:
    """smap/smap_YYYYMMDD.tif and factors/factors_YYYYMMDD.tif, as fetchgee writes them, from the local run."""
    import shutil

    for sub in ("smap", "factors"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    for day in ("20230601", "20230609"):
        shutil.copy(data / "sample" / "smap" / f"smap_{day}.tif", os.path.join(folder, "smap", f"smap_{day}.tif"))
        shutil.copy(data / f"factors_{day}.tif", os.path.join(folder, "factors", f"factors_{day}.tif"))
