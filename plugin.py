"""Plugin class: registers the Processing provider (also for qgis_process) and the menu."""

from __future__ import annotations

from qgis.core import QgsApplication


class SmDownscalePlugin:
    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider = None
        self.actions: list = []

    def initProcessing(self) -> None:  # noqa: N802 (QGIS API name)
        from .processing_provider.provider import SmDownscaleProvider

        if self.provider is None:
            self.provider = SmDownscaleProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 (QGIS API name)
        self.initProcessing()
        if self.iface is None:
            return
        from qgis.PyQt.QtWidgets import QAction

        from .processing_provider.base import tr

        action = QAction(tr("SmDownscalePlugin", "Soil moisture downscaling toolbox"), self.iface.mainWindow())
        action.triggered.connect(self._show_toolbox)
        self.iface.addPluginToRasterMenu(tr("SmDownscalePlugin", "&Soil moisture downscaling"), action)
        self.actions.append(action)

    def _show_toolbox(self) -> None:
        from qgis import processing

        processing.execAlgorithmDialog("smdownscale:sampledata")

    def unload(self) -> None:
        if self.iface is not None:
            from .processing_provider.base import tr

            for action in self.actions:
                self.iface.removePluginRasterMenu(tr("SmDownscalePlugin", "&Soil moisture downscaling"), action)
        self.actions = []
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
