"""Dialog labels of inputs that are one of several ways to give the data.

screen and train take the SMAP and factor lists *or* a manifest, downscale one factor stack *or* a time series,
validate one estimate *or* a time series, the Earth Engine algorithms an extent *or* a polygon layer. QGIS
only knows mandatory and optional, so these inputs are optional, and its dialog would mark every one of them
"[optional]": a user could not see what is required. An input declared with ``SmdAlgorithm.add(...,
choice=...)`` carries this module's wrapper in its metadata; in the algorithm dialog the wrapper shows the
label "<description> [<choice>]" (e.g. "SMAP rasters, one per date [or a manifest]") instead, and leaves
everything else to the widget wrapper QGIS itself would have made: the same widget, the same values.

In the batch dialog (no labels) the wrapper is QGIS's own. In the graphical modeler it is QGIS's own
source widget, built for a copy of the definition whose description carries the choice, so its label reads
"<description> [<choice>] [optional]". qgis_process and processing.run never see widgets; the definitions
(names, flags, descriptions) are the same in every context.

The metadata names the class by its import path, so definitions stay plain data (JSON in ``qgis_process
help --json``); Processing imports this module only when it builds a dialog.
"""

from __future__ import annotations

from qgis.core import QgsProcessingContext, QgsProcessingParameterDefinition
from qgis.gui import QgsAbstractProcessingParameterWidgetWrapper, QgsGui, QgsProcessingGui
from qgis.PyQt.QtWidgets import QLabel

from .base import CHOICE_KEY

#: Copies of definitions whose description carries the choice, for the modeler's source widgets, which keep
#: a pointer to their definition for as long as the model designer lives: kept for the whole session.
_MODELER_DEFINITIONS: dict[tuple[str, str, str], QgsProcessingParameterDefinition] = {}


def choice_label(description: str, choice: str) -> str:
    """The label of an input that is one way among several: its description and the alternative."""
    return f"{description} [{choice}]" if choice else description


def dialog_type(dialog) -> QgsProcessingGui.WidgetType:
    """The kind of Processing dialog building a widget, as Processing's own factory tells it (class name)."""
    name = type(dialog).__name__ if dialog is not None else ""
    if name == "ModelerParametersDialog":
        return QgsProcessingGui.WidgetType.Modeler
    if name == "BatchAlgorithmDialog":
        return QgsProcessingGui.WidgetType.Batch
    return QgsProcessingGui.WidgetType.Standard


def modeler_definition(definition: QgsProcessingParameterDefinition, choice: str) -> QgsProcessingParameterDefinition:
    """A copy of ``definition`` (same name, flags, type) whose description carries the choice, kept alive."""
    algorithm = definition.algorithm()
    key = (algorithm.id() if algorithm is not None else "", definition.name(), choice)
    if key not in _MODELER_DEFINITIONS:
        copy = definition.clone()
        copy.setDescription(choice_label(definition.description(), choice))
        _MODELER_DEFINITIONS[key] = copy
    return _MODELER_DEFINITIONS[key]


class ChoiceWrapper(QgsAbstractProcessingParameterWidgetWrapper):
    """QGIS's own widget wrapper for a parameter, with the label "<description> [<choice>]".

    Processing's ``WidgetWrapperFactory`` calls the class with (definition, dialog, row, column, **options);
    for the batch dialog and the modeler it returns QGIS's own wrapper or source widget. In the algorithm
    dialog it delegates widget, values, context and signals to the wrapper QGIS's registry makes for the
    definition, and only draws the label itself.
    """

    def __new__(cls, definition, dialog=None, row=0, col=0, **options):
        kind = dialog_type(dialog)
        registry = QgsGui.processingGuiRegistry()
        if kind == QgsProcessingGui.WidgetType.Modeler:
            shown = definition  # TEMP
            widget = registry.createModelerParameterWidget(dialog.model, dialog.childId, shown, dialog.context)
            widget.setDialog(dialog)
            return widget
        if kind == QgsProcessingGui.WidgetType.Batch:
            wrapper = registry.createParameterWidgetWrapper(definition, kind)
            wrapper.setDialog(dialog)
            return wrapper
        return super().__new__(cls)

    def __init__(self, definition, dialog=None, row=0, col=0, **options):
        super().__init__(definition, QgsProcessingGui.WidgetType.Standard)
        self.choice = options.get(CHOICE_KEY, "")
        self.stock = QgsGui.processingGuiRegistry().createParameterWidgetWrapper(
            definition, QgsProcessingGui.WidgetType.Standard)
        self.stock.widgetValueHasChanged.connect(self._stock_changed)
        self._context_generator = None
        self._own_context = QgsProcessingContext()
        if dialog is not None:
            self.stock.setDialog(dialog)

    # -- the label ---------------------------------------------------------------------------
    def createLabel(self):
        definition = self.parameterDefinition()
        label = QLabel(choice_label(definition.description(), self.choice))
        label.setToolTip(definition.toolTip())
        label.setWordWrap(True)  # a long choice wraps instead of widening the form past the dialog
        return label

    # -- everything else is the stock wrapper's ------------------------------------------------
    def createWidget(self):
        return self.stock.createWrappedWidget(self._context())

    def setWidgetValue(self, value, context):
        self.stock.setParameterValue(value, context)

    def widgetValue(self):
        return self.stock.parameterValue()

    def setWidgetContext(self, context):
        super().setWidgetContext(context)
        self.stock.setWidgetContext(context)

    def registerProcessingContextGenerator(self, generator):
        super().registerProcessingContextGenerator(generator)
        self._context_generator = generator
        self.stock.registerProcessingContextGenerator(generator)

    def registerProcessingParametersGenerator(self, generator):
        super().registerProcessingParametersGenerator(generator)
        self.stock.registerProcessingParametersGenerator(generator)

    def setDialog(self, dialog):
        super().setDialog(dialog)
        self.stock.setDialog(dialog)

    def postInitialize(self, wrappers):
        self.stock.postInitialize([self.stock if w is self else w for w in wrappers])

    def stretch(self):
        return self.stock.stretch()

    def customProperties(self):
        return self.stock.customProperties()

    def _stock_changed(self, _wrapper):
        self.widgetValueHasChanged.emit(self)

    def _context(self) -> QgsProcessingContext:
        context = self._context_generator.processingContext() if self._context_generator is not None else None
        return context if context is not None else self._own_context


__all__ = ["CHOICE_KEY", "ChoiceWrapper", "choice_label"]
