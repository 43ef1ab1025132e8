"""Dependency check: missing packages are named with the exact install command; installs go to the user
site with numpy and GDAL pinned; the plugin loads without scikit-learn, skops, earthengine-api and earthaccess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

from smdownscale.processing_provider import dependencies
from smdownscale.ui.dependencies_dialog import DependenciesDialog

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def no_sklearn(monkeypatch):
    """Make ``import sklearn`` fail as if scikit-learn were not installed."""
    monkeypatch.setitem(sys.modules, "sklearn", None)


def test_installed_versions_are_reported():
    import earthaccess
    import ee
    import sklearn
    import skops

    assert dependencies.status() == {"sklearn": sklearn.__version__, "skops": skops.__version__,
                                     "ee": ee.__version__, "earthaccess": earthaccess.__version__}
    assert earthaccess.__version__ == "0.17.0"  # requirements.txt's pin
    assert dependencies.missing() == []
    assert dependencies.missing_message(["sklearn", "skops", "ee"]) == ""
    dependencies.require(["sklearn", "ee"])  # nothing missing: no exception


def test_missing_module_message_names_it_and_the_install_command(no_sklearn):
    version, reason = dependencies.module_status("sklearn")
    assert version is None and reason.startswith("ModuleNotFoundError")
    assert dependencies.missing(["sklearn", "ee"]) == ["sklearn"]

    message = dependencies.missing_message(["sklearn", "ee"])
    assert "This algorithm needs scikit-learn (module sklearn)" in message
    assert "earthengine-api" not in message
    command = dependencies.install_command(["sklearn"])
    assert message.endswith("\n" + command)
    python = dependencies.python_executable()
    assert os.path.basename(python).startswith("python")
    assert command.startswith(f"{python} -m pip install --user ")
    assert "'scikit-learn>=1.3'" in command
    assert f"numpy=={np.__version__}" in command  # keeps QGIS's numpy
    assert "Check dependencies" in message

    with pytest.raises(QgsProcessingException, match=r"needs scikit-learn \(module sklearn\)"):
        dependencies.require(["ee", "sklearn"])


def test_install_user_pins_numpy_and_gdal():
    calls = []

    def runner(args, **kwargs):
        constraints = args[args.index("-c") + 1]
        with open(constraints, encoding="utf-8") as f:
            calls.append((args, f.read(), kwargs))
        return subprocess.CompletedProcess(args, 0, "Successfully installed skops-0.11.0\n", "")

    ok, output = dependencies.install_user(["skops>=0.9", "earthengine-api>=1.0"], runner=runner)
    assert ok and "Successfully installed skops-0.11.0" in output
    (args, constraints, kwargs), = calls
    assert args[:5] == [dependencies.python_executable(), "-m", "pip", "install", "--user"]
    assert "skops>=0.9" in args and "earthengine-api>=1.0" in args
    assert "--upgrade" not in args and "-U" not in args
    assert constraints.splitlines() == [f"numpy=={np.__version__}", f"GDAL=={gdal.__version__}"]
    assert not os.path.exists(args[args.index("-c") + 1])  # temporary constraints file removed
    assert kwargs["timeout"] > 0 and kwargs["capture_output"]


def test_install_user_failure_is_explained():
    def no_pip(args, **kwargs):
        return subprocess.CompletedProcess(args, 1, "", f"{args[0]}: No module named pip\n")

    ok, output = dependencies.install_user(["skops>=0.9"], runner=no_pip)
    assert not ok
    assert "pip is not available for QGIS's Python" in output and "No module named pip" in output

    def conflict(args, **kwargs):
        return subprocess.CompletedProcess(
            args, 1, "", "ERROR: Cannot install scikit-learn because these package versions have conflicting "
                         "dependencies.\n")

    ok, output = dependencies.install_user(["scikit-learn>=1.3"], runner=conflict)
    assert not ok and "conflicting dependencies" in output

    def missing_python(args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", args[0])

    ok, output = dependencies.install_user(["skops>=0.9"], runner=missing_python)
    assert not ok and "Could not run" in output


def test_dependencies_dialog_offers_install_only_when_missing(qgis_app, monkeypatch):
    dialog = DependenciesDialog()
    assert dialog.table.rowCount() == 4
    assert [dialog.table.item(r, 0).text() for r in range(4)] == ["scikit-learn", "skops", "earthengine-api",
                                                                   "earthaccess"]
    assert not dialog.install_button.isEnabled()
    assert "Every package the algorithms need is installed" in dialog.summary.text()

    monkeypatch.setitem(sys.modules, "ee", None)
    assert dialog.refresh() == ["ee"]
    assert dialog.table.item(2, 3).text() == "missing"
    assert dialog.table.item(2, 3).toolTip().startswith("missing (ModuleNotFoundError")
    assert dialog.install_button.isEnabled()
    assert "Missing: earthengine-api" in dialog.summary.text()
    assert dependencies.install_command(["ee"]) in dialog.summary.text()
    monkeypatch.setitem(sys.modules, "earthaccess", None)
    assert dialog.refresh() == ["ee", "earthaccess"]
    assert dialog.table.item(3, 3).text() == "missing"
    assert "Missing: earthengine-api, earthaccess" in dialog.summary.text()
    assert "'earthaccess>=0.17'" in dialog.summary.text()
    assert not dialog.isVisible()


def test_dependencies_dialog_builds_the_tree_walker_when_absent(qgis_app, monkeypatch, tmp_path):
    from smdownscale.algorithms import native

    dialog = DependenciesDialog()
    assert "predict with the compiled tree walker" in dialog.native_label.text()
    assert not dialog.build_button.isEnabled()  # built already (make test builds it)

    # as after installing from a zip: no library in the plugin folder
    lib = str(tmp_path / os.path.basename(native.library_path()))
    monkeypatch.setattr(native, "library_path", lambda: lib)
    native._state.clear()
    try:
        dialog.refresh()
        assert "Tree models predict with scikit-learn: the compiled tree walker is not built" in \
            dialog.native_label.text()
        assert dialog.build_button.isEnabled()
        dialog.build_button.click()
        assert os.path.isfile(lib) and native.available()
        assert dialog.output.toPlainText().startswith("Built: tree models now predict with the compiled tree walker.")
        assert "predict with the compiled tree walker" in dialog.native_label.text()
        assert not dialog.build_button.isEnabled()

        # no compiler: the reason and no button
        os.remove(lib)
        native._state.clear()
        monkeypatch.setattr(native, "find_compiler", lambda: None)
        dialog.refresh()
        assert "C compiler: none found." in dialog.native_label.text()
        assert not dialog.build_button.isEnabled()
    finally:
        monkeypatch.undo()
        native._state.clear()
    assert native.available()


def test_plugin_loads_without_optional_packages(tmp_path):
    """A fresh Python where sklearn, skops and ee cannot be imported still registers every algorithm."""
    script = tmp_path / "load.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        for name in ("sklearn", "skops", "ee", "earthaccess"):
            sys.modules[name] = None  # import fails as if not installed
        sys.path.insert(0, {os.path.dirname(_plugin_link())!r})
        from qgis.core import QgsApplication
        app = QgsApplication([], False)
        app.initQgis()
        import smdownscale
        plug = smdownscale.classFactory(None)
        plug.initGui()  # without iface: only the provider
        provider = QgsApplication.processingRegistry().providerById("smdownscale")
        print(sorted(a.name() for a in provider.algorithms()))
        from smdownscale.processing_provider import dependencies
        print(dependencies.missing())
        plug.unload()
        print(QgsApplication.processingRegistry().providerById("smdownscale"))
    """))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "profile"))
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    from smdownscale.processing_provider.provider import ALGORITHMS

    algs = os.path.join(ROOT, "processing_provider", "algs")
    present = sorted([m for m, _ in ALGORITHMS if os.path.exists(os.path.join(algs, f"{m}.py"))]
                     + ["workflow"])  # and the shipped workflow model (models/*.model3)
    assert lines[-3] == repr(present)
    assert lines[-2] == repr(["sklearn", "skops", "ee", "earthaccess"])
    assert lines[-1] == "None"


def _plugin_link() -> str:
    import smdownscale

    return os.path.dirname(smdownscale.__file__)


def test_install_command_uses_the_python_qgis_runs_never_one_on_path(monkeypatch, tmp_path):
    # QGIS on macOS: sys.executable is the QGIS binary, its Python is bin/python3 beside it
    macos = tmp_path / "QGIS.app" / "Contents" / "MacOS"
    (macos / "bin").mkdir(parents=True)
    (macos / "QGIS").write_text("")
    (macos / "bin" / "python3").write_text("")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "python3").write_text("#!/bin/sh\n")
    (elsewhere / "python3").chmod(0o755)
    monkeypatch.setenv("PATH", str(elsewhere))
    monkeypatch.setattr(sys, "executable", str(macos / "QGIS"))
    monkeypatch.setattr(sys, "exec_prefix", str(tmp_path / "none"))
    monkeypatch.setattr(sys, "base_exec_prefix", str(tmp_path / "none"))
    monkeypatch.setattr(sys, "_base_executable", str(macos / "QGIS"), raising=False)
    assert dependencies.python_executable() == str(macos / "bin" / "python3")
    assert dependencies.install_command(["ee"]).startswith(str(macos / "bin" / "python3"))
    (macos / "bin" / "python3").unlink()
    assert dependencies.python_executable() == str(macos / "QGIS")  # QGIS's own, not elsewhere/python3


def test_dependencies_dialog_status_column_is_not_cut(qgis_app, monkeypatch):
    monkeypatch.setitem(sys.modules, "ee", None)
    dialog = DependenciesDialog()
    try:
        dialog.show()
        qgis_app.processEvents()
        header = dialog.table.horizontalHeader()
        assert dialog.table.item(2, 3).text() == "missing"
        assert header.sectionSize(3) >= dialog.table.sizeHintForColumn(3)
        assert header.sectionViewportPosition(3) + header.sectionSize(3) <= dialog.table.viewport().width()
        assert dialog.table.horizontalScrollBar().maximum() == 0
    finally:
        dialog.close()
