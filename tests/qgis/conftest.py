"""QGIS tier: loads the plugin through classFactory + initProcessing, as QGIS does."""

from __future__ import annotations

import sys

import pytest

sys.path.insert(0, "/usr/share/qgis/python/plugins")


def pytest_report_header(config):
    from osgeo import gdal
    from qgis.core import Qgis

    return [f"QGIS {Qgis.QGIS_VERSION}, GDAL {gdal.__version__}, Python {sys.version.split()[0]}"]


@pytest.fixture(scope="session")
def plugin(qgis_app, qgis_processing, qgis_iface):
    import smdownscale

    plug = smdownscale.classFactory(qgis_iface)
    plug.initProcessing()
    yield plug
    plug.unload()
    # Free GDAL objects kept in reference cycles (e.g. frames held by pytest.raises(...) as err) while
    # GDAL is still alive: collected after QGIS exits, they crash the interpreter at shutdown.
    import gc

    gc.collect()


@pytest.fixture(scope="session")
def run(plugin):
    """processing.run with the plugin loaded; returns the result dict."""
    import processing

    def _run(alg_id: str, params: dict, **kwargs):
        return processing.run(alg_id, params, **kwargs)

    return _run


@pytest.fixture
def handle_results(plugin, qgis_iface, monkeypatch):
    """Processing's handleAlgorithmResults (loads the outputs as the dialog does). QGIS 3.22 takes
    (alg, context, feedback, showResults, parameters); later versions dropped showResults. QGIS 3.44 hands
    iface.layerTreeView() to C++: a real view of the project's layer tree instead of the mock's."""
    import inspect

    from processing.gui.Postprocessing import handleAlgorithmResults
    from qgis.core import QgsLayerTreeModel, QgsProject
    from qgis.gui import QgsLayerTreeView

    view = QgsLayerTreeView()
    view.setModel(QgsLayerTreeModel(QgsProject.instance().layerTreeRoot(), view))
    monkeypatch.setattr(qgis_iface, "layerTreeView", lambda: view)

    takes_show_results = "showResults" in inspect.signature(handleAlgorithmResults).parameters

    def _handle(alg, context, feedback, results) -> bool:
        if takes_show_results:
            return handleAlgorithmResults(alg, context, feedback, False, results)
        return handleAlgorithmResults(alg, context, feedback, results)

    return _handle


@pytest.fixture(scope="session")
def warnings_feedback():
    """A QgsProcessingFeedback class whose instances keep the warnings pushed to them in ``lines``."""
    from qgis.core import QgsProcessingFeedback

    class Warnings(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.lines: list[str] = []

        def pushWarning(self, warning):
            self.lines.append(warning)

    return Warnings
