"""GDAL's exception mode belongs to the whole QGIS process: the engine switches it on only around its own
calls (``raster.gdal_exceptions``) and restores every module's mode exactly, and importing it changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from osgeo import gdal, ogr, osr

import smdownscale
from smdownscale.algorithms import raster
from smdownscale.algorithms.errors import InputError

MODULES = (gdal, ogr, osr)
OFF, ON = (False, False, False), (True, True, True)


def _modes() -> tuple[bool, ...]:
    return tuple(bool(m.GetUseExceptions()) for m in MODULES)


def _set(wanted: tuple[bool, ...]) -> None:
    """Set each module's mode (off in the reverse order of switching on: GDAL < 3.7 keeps them stacked)."""
    for m, on in zip(reversed(MODULES), reversed(wanted)):
        if not on and m.GetUseExceptions():
            m.DontUseExceptions()
    for m, on in zip(MODULES, wanted):
        if on and not m.GetUseExceptions():
            m.UseExceptions()


@pytest.fixture
def modes():
    """Set the modes a test starts from; the session's modes are restored afterwards."""
    before = _modes()

    def start(wanted):
        _set(wanted)
        if _modes() != wanted:
            pytest.skip(f"this GDAL ({gdal.__version__}) cannot hold the modes {wanted} at once")

    yield start
    _set(before)


@pytest.mark.parametrize("start", [OFF, ON, (True, False, False), (False, True, True)],
                         ids=["off", "on", "gdal-only", "ogr-osr"])
def test_scope_switches_on_and_restores_each_module(modes, start):
    modes(start)
    with raster.gdal_exceptions():
        assert _modes() == ON
        with pytest.raises(RuntimeError):
            gdal.Open("/nonexistent/smd.tif")
    assert _modes() == start


def test_nested_scopes_and_errors_restore(modes):
    modes(OFF)
    with pytest.raises(ValueError):
        with raster.gdal_exceptions():
            with raster.gdal_exceptions():
                assert _modes() == ON
            assert _modes() == ON  # the inner scope left the outer one's mode
            raise ValueError("engine error")
    assert _modes() == OFF


def test_engine_calls_work_and_leave_modes_unchanged(modes, tmp_path):
    text = tmp_path / "notes.tif"
    text.write_text("not a raster\n")
    for start in (OFF, ON):
        modes(start)
        with pytest.raises(InputError, match=r"notes\.tif is not a raster GDAL can read \(.*not recognized"):
            raster.open_raster(str(text))  # the message comes from GDAL's exception
        assert _modes() == start
        with pytest.raises(InputError, match="'EPSG:99999999' is not a coordinate reference system"):
            raster.srs_from_user("EPSG:99999999")
        assert _modes() == start


def test_scope_holds_for_every_thread_inside_it(modes):
    modes(OFF)
    entered, main_left, seen = threading.Event(), threading.Event(), []

    def worker():
        with raster.gdal_exceptions():
            entered.set()
            main_left.wait(10)
            seen.append(_modes())
            try:
                gdal.Open("/nonexistent/smd.tif")
                seen.append("no exception")
            except RuntimeError:
                seen.append("raised")

    t = threading.Thread(target=worker)
    t.start()
    entered.wait(10)
    with raster.gdal_exceptions():  # another engine call enters and leaves while the worker is inside
        pass
    main_left.set()
    t.join(10)
    assert seen == [ON, "raised"]
    assert _modes() == OFF


class _ThreadLocalModule:
    """A module of GDAL >= 3.7 as the scope sees it: a per-thread override (-1: none) over a process-wide mode."""

    def __init__(self) -> None:
        self.local = threading.local()

    def _GetExceptionsLocal(self) -> int:
        return getattr(self.local, "value", -1)

    def _SetExceptionsLocal(self, value: int) -> None:
        self.local.value = value

    def GetUseExceptions(self) -> int:
        return max(self._GetExceptionsLocal(), 0)


def test_newer_gdal_scope_is_per_thread_and_restores_overrides(monkeypatch):
    fakes = [_ThreadLocalModule() for _ in range(4)]  # gdal, ogr, osr, gdal_array
    monkeypatch.setattr(raster, "_THREAD_LOCAL", True)
    monkeypatch.setattr(raster, "_EXCEPTION_MODULES", tuple(fakes))
    fakes[1]._SetExceptionsLocal(0)  # an override set by other code: kept as it was
    other = []
    with pytest.raises(ValueError):
        with raster.gdal_exceptions():
            with raster.gdal_exceptions():
                assert [f.GetUseExceptions() for f in fakes] == [1, 1, 1, 1]
            assert [f._GetExceptionsLocal() for f in fakes] == [1, 1, 1, 1]
            t = threading.Thread(target=lambda: other.append([f._GetExceptionsLocal() for f in fakes]))
            t.start()
            t.join(10)
            raise ValueError("engine error")
    assert other == [[-1, -1, -1, -1]]  # other threads are not switched
    assert [f._GetExceptionsLocal() for f in fakes] == [-1, 0, -1, -1]


SCRIPT = """
import importlib, json, pkgutil, sys
from osgeo import gdal, ogr, osr
mods = (gdal, ogr, osr)
for m in mods:
    (m.UseExceptions if sys.argv[1] == "on" else m.DontUseExceptions)()
before = [bool(m.GetUseExceptions()) for m in mods]
import smdownscale.algorithms as pkg
names = [n for _, n, _ in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
for n in names:
    importlib.import_module(n)
print(json.dumps({"before": before, "after": [bool(m.GetUseExceptions()) for m in mods], "modules": names}))
"""


@pytest.mark.parametrize("mode", ["off", "on"])
def test_importing_the_engine_leaves_modes_unchanged(mode):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(smdownscale.__file__))))
    res = subprocess.run([sys.executable, "-c", SCRIPT, mode], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["before"] == [mode == "on"] * 3
    assert got["after"] == got["before"]
    assert {"smdownscale.algorithms.raster", "smdownscale.algorithms.gee.fetch", "smdownscale.algorithms.gee.tasks",
            "smdownscale.algorithms.gee.transport", "smdownscale.algorithms.train"} <= set(got["modules"])
