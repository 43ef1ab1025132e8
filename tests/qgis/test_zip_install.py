"""The release zip installs into a fresh QGIS profile and its algorithms run from there through qgis_process."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import sysconfig
import zipfile

import numpy as np
import pytest

from smdownscale.algorithms import raster

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import build_zip  # noqa: E402

QGIS_PROCESS = os.environ.get("QGIS_PROCESS", "/usr/bin/qgis_process.bin")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh profile with the built zip extracted into its plugins folder, and the qgis_process env."""
    base = tmp_path_factory.mktemp("zip_install")
    zip_path = build_zip.build(str(base / "dist"))
    profile = base / "profile"
    plugins = profile / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(plugins)
    runtime = base / "runtime"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k not in ("QGIS_PLUGINPATH", "PYTHONPATH")}
    env.update({"QT_QPA_PLATFORM": "offscreen", "QGIS_CUSTOM_CONFIG_PATH": str(profile),
                "XDG_RUNTIME_DIR": str(runtime), "PYTHONDONTWRITEBYTECODE": "1"})
    if sys.prefix != sys.base_prefix:  # qgis_process runs the system Python: lend it the venv's packages
        env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    proc = subprocess.run([QGIS_PROCESS, "plugins", "enable", "smdownscale"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"plugins": plugins, "env": env, "base": base, "zip": zip_path}


def test_zip_plugin_is_loaded_from_the_profile(installed):
    plugin_dir = installed["plugins"] / "smdownscale"
    assert (plugin_dir / "metadata.txt").is_file() and not (plugin_dir / "tests").exists()
    env = installed["env"]
    assert "QGIS_PLUGINPATH" not in env
    # Nothing else on the path could provide the package.
    assert not [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and (
        os.path.realpath(p) == ROOT or os.path.exists(os.path.join(p, "smdownscale")))]
    proc = subprocess.run([QGIS_PROCESS, "--json", "plugins"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["plugins"]["smdownscale"] == {"loaded": True}
    proc = subprocess.run([QGIS_PROCESS, "--json", "help", "smdownscale:sampledata"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    info = json.loads(proc.stdout)
    assert info["algorithm_details"]["id"] == "smdownscale:sampledata"
    assert info["algorithm_details"]["help_url"] == "https://github.com/smdownscale/smdownscale#sampledata"
    assert info["provider_details"]["name"] == "Soil moisture downscaling"


def test_sampledata_runs_from_the_zip(installed):
    out = installed["base"] / "sample"
    proc = subprocess.run([QGIS_PROCESS, "--json", "run", "smdownscale:sampledata", "--", "SEED=5", "SIZE_KM=30",
                           "N_DATES=1", f"OUTPUT={out}"], env=installed["env"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(proc.stdout)["results"]
    assert os.path.samefile(results["OUTPUT"], out)
    smap = glob.glob(str(out / "smap" / "smap_*.tif"))
    truth = glob.glob(str(out / "truth" / "truth_*.tif"))
    assert len(smap) == 1 and len(truth) == 1
    elevation = raster.read_all(str(out / "static" / "elevation.tif"))[0]
    assert elevation.shape == (30, 30)
    assert 850 <= np.nanmin(elevation) and np.nanmax(elevation) <= 1850
    sm = raster.read_all(truth[0])[0]
    assert sm.shape == (30, 30)
    assert 0.02 - 1e-6 <= np.nanmin(sm) and np.nanmax(sm) <= 0.50 + 1e-6  # truth is clipped to 0.02-0.50
    assert np.isfinite(sm).mean() > 0.5
