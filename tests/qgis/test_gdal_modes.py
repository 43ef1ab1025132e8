"""The plugin leaves GDAL's exception mode (gdal, ogr, osr) as the rest of QGIS set it: loading it and running its
algorithms, successful or refused, switch it on only around the engine's own calls."""

from __future__ import annotations

import os
import pathlib

import pytest
from osgeo import gdal, ogr, osr
from qgis.core import QgsProcessingException

import smdownscale

MODULES = (gdal, ogr, osr)


def _modes() -> tuple[bool, ...]:
    return tuple(bool(m.GetUseExceptions()) for m in MODULES)


def _set(on: bool) -> None:
    for m in (MODULES if on else reversed(MODULES)):  # off in the reverse order: GDAL < 3.7 keeps them stacked
        if on and not m.GetUseExceptions():
            m.UseExceptions()
        elif not on and m.GetUseExceptions():
            m.DontUseExceptions()
    assert _modes() == (on, on, on)


@pytest.fixture
def keep_modes():
    before = _modes()
    yield
    _set(before[0])


@pytest.mark.parametrize("on", [False, True], ids=["off", "on"])
def test_plugin_keeps_gdal_exception_modes(on, keep_modes, plugin, run, qgis_iface, tmp_path):
    _set(on)
    expected = (on, on, on)
    extra = smdownscale.classFactory(qgis_iface)  # loading the plugin (again) imports the provider and the engine
    extra.initProcessing()
    extra.unload()
    assert _modes() == expected

    scene = run("smdownscale:sampledata", {"SIZE_KM": 20, "N_DATES": 1, "OUTPUT": str(tmp_path / "sample")})
    assert _modes() == expected
    stack = pathlib.Path(scene["OUTPUT"]) / "static" / "elevation.tif"
    out = run("smdownscale:align", {"INPUTS": [str(stack)], "REFERENCE": str(stack),
                                    "OUTPUT": str(tmp_path / "aligned.tif")})
    assert os.path.exists(out["OUTPUT"])
    assert _modes() == expected

    # a refused run: a truncated factor stack
    cut = tmp_path / "elevation_cut.tif"
    data = stack.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(QgsProcessingException, match=r"elevation_cut\.tif is damaged or incomplete"):
        run("smdownscale:align", {"INPUTS": [str(cut)], "REFERENCE": str(stack),
                                  "OUTPUT": str(tmp_path / "aligned_cut.tif")})
    assert not os.path.exists(tmp_path / "aligned_cut.tif")
    assert _modes() == expected
