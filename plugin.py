"""Plugin class: registers the Processing provider (also for qgis_process), the menu and the options page."""

from __future__ import annotations

from qgis.core import QgsApplication


class SmDownscalePlugin:
    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider = None
        self.actions: list = []
        self.options_factory = None

    def initProcessing(self) -> None:
        from .processing_provider.provider import SmDownscaleProvider

        if self.provider is None:
            provider = SmDownscaleProvider()
            # Keep it only if registered, so unload() never removes a provider another instance added.
            if QgsApplication.processingRegistry().addProvider(provider):
                self.provider = provider

    def initGui(self) -> None:
        self.initProcessing()
        if self.iface is None:
            return
        from qgis.PyQt.QtCore import QCoreApplication
        from qgis.PyQt.QtWidgets import QAction

        from .ui.settings_dialog import SettingsOptionsFactory

        _translate = QCoreApplication.translate

        menu = self._menu_name()
        entries = [
            (_translate("SmDownscalePlugin", "Soil moisture downscaling toolbox"), "", self._show_toolbox),
            (_translate("SmDownscalePlugin", "Settings…"), "/mActionOptions.svg", self._show_settings),
            (_translate("SmDownscalePlugin", "Check dependencies…"), "/mIconPythonFile.svg", self._show_dependencies),
            (_translate("SmDownscalePlugin", "Help"), "/mActionHelpContents.svg", self._show_help),
        ]
        for text, icon, slot in entries:
            action = QAction(text, self.iface.mainWindow())
            if icon:
                action.setIcon(QgsApplication.getThemeIcon(icon))
            action.triggered.connect(slot)
            self.iface.addPluginToRasterMenu(menu, action)
            self.actions.append(action)
        self.options_factory = SettingsOptionsFactory()
        self.iface.registerOptionsWidgetFactory(self.options_factory)

    @staticmethod
    def _menu_name() -> str:
        from qgis.PyQt.QtCore import QCoreApplication

        return QCoreApplication.translate("SmDownscalePlugin", "&Soil moisture downscaling")

    def _show_toolbox(self) -> None:
        """Show the Processing toolbox (the Processing plugin's dock), filtered to this plugin's algorithms."""
        from qgis.PyQt.QtWidgets import QAction, QDockWidget

        window = self.iface.mainWindow()
        toolbox = window.findChild(QDockWidget, "ProcessingToolbox")
        if toolbox is None:  # not created yet: the Processing plugin's own toggle creates and shows it
            action = window.findChild(QAction, "toolboxAction")
            if action is not None:
                action.setChecked(True)
            toolbox = window.findChild(QDockWidget, "ProcessingToolbox")
        if toolbox is None:
            from qgis.PyQt.QtCore import QCoreApplication

            self.iface.messageBar().pushWarning(
                QCoreApplication.translate("SmDownscalePlugin", "Soil moisture downscaling"),
                QCoreApplication.translate("SmDownscalePlugin", "The Processing toolbox is not available: enable "
                                           "the Processing plugin in Plugins > Manage and Install Plugins."))
            return
        toolbox.setVisible(True)
        toolbox.raise_()
        search = getattr(toolbox, "searchBox", None)
        if search is not None:
            search.setText("smdownscale")

    def _show_settings(self) -> None:
        from .ui.settings_dialog import open_settings

        open_settings(self.iface.mainWindow())

    def _show_dependencies(self) -> None:
        from .ui.dependencies_dialog import open_dependencies

        open_dependencies(self.iface.mainWindow())

    def _show_help(self) -> None:
        from .ui.settings_dialog import show_help

        show_help("")

    def unload(self) -> None:
        if self.iface is not None:
            for action in self.actions:
                self.iface.removePluginRasterMenu(self._menu_name(), action)
                action.deleteLater()
            if self.options_factory is not None:
                self.iface.unregisterOptionsWidgetFactory(self.options_factory)
        self.actions = []
        self.options_factory = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        from .processing_provider.i18n import remove_translator

        remove_translator()  # installed by classFactory
