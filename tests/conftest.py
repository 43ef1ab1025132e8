"""Makes the checkout importable as ``smdownscale`` whatever its folder is called."""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import zlib

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _plugin_parent() -> str:
    """A folder holding a link named 'smdownscale' to this checkout (the plugin folder)."""
    if os.path.basename(ROOT) == "smdownscale":
        return os.path.dirname(ROOT)
    parent = os.path.join(tempfile.gettempdir(), f"smdownscale-plugins-{os.getuid()}-{zlib.crc32(ROOT.encode()):08x}")
    os.makedirs(parent, exist_ok=True)
    link = os.path.join(parent, "smdownscale")
    if os.path.islink(link) and os.readlink(link) != ROOT:
        os.remove(link)
    if not os.path.exists(link):
        os.symlink(ROOT, link)
    return parent


PLUGIN_PARENT = _plugin_parent()
if PLUGIN_PARENT not in sys.path:
    sys.path.insert(0, PLUGIN_PARENT)
os.environ.setdefault("QGIS_PLUGINPATH", PLUGIN_PARENT)

pytest_plugins = ["smdownscale.tests.reliability"]  # closing summary: bad inputs, faults, data loss


@pytest.fixture(autouse=True, scope="session")
def _free_gdal_objects_before_qgis_exits(qgis_app):
    """Collect GDAL datasets still held by garbage cycles while GDAL lives: QGIS's exit tears GDAL down, and a
    dataset freed after that crashes the interpreter at exit (a failed exit status for a green run)."""
    yield
    gc.collect()
