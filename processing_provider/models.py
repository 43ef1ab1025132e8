"""Workflow models shipped in the plugin's ``models/`` folder, listed under the provider.

Each ``.model3`` file becomes an algorithm ``smdownscale:<model name>`` (the model file's own name,
e.g. ``workflow``) with a translated display name and group. Child algorithms of a model are looked
up in the Processing registry, which holds this provider only after it has loaded: the provider
therefore reloads its algorithms once it is registered (:func:`reload_when_registered`), so the
listed models know their outputs.
"""

from __future__ import annotations

import glob
import os

from qgis.core import QgsApplication, QgsMessageLog, QgsProcessingModelAlgorithm
from qgis.PyQt.QtCore import QCoreApplication

from .base import PLUGIN_DIR

MODELS_DIR = os.path.join(PLUGIN_DIR, "models")
GROUP_ID = "workflows"


def _tr(text: str) -> str:
    return QCoreApplication.translate("ShippedModel", text)


#: Display names of the shipped models by model name (the file's own name is the id).
DISPLAY_NAMES = {"workflow": "Workflow: local files to validated 1 km soil moisture"}


class ShippedModel(QgsProcessingModelAlgorithm):
    """A model from the plugin's folder, with a translated display name and the provider's group."""

    def __init__(self, path: str = "") -> None:
        super().__init__()
        if path and not self.fromFile(path):
            raise ValueError(f"{path} is not a readable Processing model")

    def displayName(self) -> str:
        name = self.name()
        return _tr(DISPLAY_NAMES[name]) if name in DISPLAY_NAMES else name

    def group(self) -> str:
        return _tr("Workflows")

    def groupId(self) -> str:
        return GROUP_ID

    def icon(self):
        from qgis.PyQt.QtGui import QIcon

        return QIcon(os.path.join(PLUGIN_DIR, "icons", "smdownscale.svg"))

    def createInstance(self):
        inst = type(self)()
        inst.loadVariant(self.toVariant())
        inst.setSourceFilePath(self.sourceFilePath())
        return inst


def load_models(folder: str = MODELS_DIR) -> list[QgsProcessingModelAlgorithm]:
    """The models of ``folder`` (sorted by file name); a file that does not load is logged and skipped."""
    models = []
    for path in sorted(glob.glob(os.path.join(folder, "*.model3"))):
        try:
            models.append(ShippedModel(path))
        except ValueError as exc:
            QgsMessageLog.logMessage(str(exc), "smdownscale")
    return models


def reload_when_registered(provider) -> None:
    """Refresh ``provider``'s algorithms once it is in the registry, so its models resolve their child algorithms."""
    registry = QgsApplication.processingRegistry()
    if registry.providerById(provider.id()) is provider or getattr(provider, "_reload_pending", False):
        return
    provider._reload_pending = True
    wanted = provider.id()

    def added(provider_id: str) -> None:
        if provider_id != wanted:
            return
        registry.providerAdded.disconnect(added)
        registered = registry.providerById(provider_id)
        if registered is provider:  # not a provider that replaced ours (ours was refused as a duplicate)
            provider._reload_pending = False
            provider.refreshAlgorithms()

    registry.providerAdded.connect(added)
