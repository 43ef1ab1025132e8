"""The smdownscale Processing provider."""

from __future__ import annotations

import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from .base import PLUGIN_DIR

# Module name -> class name of each algorithm, in toolbox order. Ids (name()) are public API.
ALGORITHMS = [
    ("sampledata", "SampleDataAlgorithm"),
    ("align", "AlignAlgorithm"),
    ("screen", "ScreenAlgorithm"),
    ("train", "TrainAlgorithm"),
    ("downscale", "DownscaleAlgorithm"),
    ("validate", "ValidateAlgorithm"),
    ("fetchgee", "FetchGeeAlgorithm"),
    ("downscalegee", "DownscaleGeeAlgorithm"),
    ("importsmap", "ImportSmapAlgorithm"),
]


class SmDownscaleProvider(QgsProcessingProvider):
    def id(self) -> str:
        return "smdownscale"

    def name(self) -> str:
        return QCoreApplication.translate("SmDownscaleProvider", "Soil moisture downscaling")

    def longName(self) -> str:
        return self.name()

    def icon(self) -> QIcon:
        return QIcon(os.path.join(PLUGIN_DIR, "icons", "smdownscale.svg"))

    def supportedOutputRasterLayerExtensions(self) -> list[str]:
        """The algorithms write GeoTIFF only: the output file dialog offers .tif, not every GDAL format."""
        return ["tif", "tiff"]

    def loadAlgorithms(self) -> None:
        import importlib

        for module, cls in ALGORITHMS:
            mod = importlib.import_module(f"{__package__}.algs.{module}")
            self.addAlgorithm(getattr(mod, cls)())
        from .models import load_models, reload_when_registered

        for model in load_models():  # the workflow models of the plugin's models/ folder
            self.addAlgorithm(model)
        reload_when_registered(self)
