"""Processing dialog widgets that change what QGIS's own show, and nothing else.

Either-or inputs (``ChoiceWrapper``): screen and train take the SMAP and factor lists *or* a manifest,
downscale one factor stack *or* a time series, validate one estimate *or* a time series, the Earth Engine
algorithms an extent *or* a polygon layer. QGIS only knows mandatory and optional, so these inputs are
optional, and its dialog would mark every one of them "[optional]": a user could not see what is required.
An input declared with ``SmdAlgorithm.add(..., choice=...)`` carries ``ChoiceWrapper`` in its metadata; in the
algorithm dialog it shows the label "<description> [<choice>]" (e.g. "SMAP rasters, one per date [or a
manifest]") instead.

Mandatory layer inputs that start empty (``StartsEmptyWrapper``): QGIS fills every mandatory layer picker
with the active layer, so a form with three raster inputs would start with the same layer in all three. The
workflow model's grid and validation reference carry this wrapper: their pickers start empty (QGIS's picker of
an optional copy of the definition), their labels have no "[optional]", and the dialog refuses to run while
they are empty, as for any mandatory input (it checks the algorithm's own definition).

Both leave everything else to the widget wrapper QGIS's registry makes: the same widget, the same values,
context and signals (``StockWrapper``). In the batch dialog (no labels) and the graphical modeler (its
own source widgets) they are QGIS's own; there a choice input's label reads "<description> [<choice>]
[optional]". qgis_process and processing.run never see widgets; the definitions (names, flags,
descriptions) are the same in every context.

The metadata names the classes by their import path, so definitions stay plain data (JSON in ``qgis_process
help --json``, the .model3 file); Processing imports this module only when it builds a dialog.
"""

from __future__ import annotations

from qgis.core import QgsProcessingContext, QgsProcessingParameterDefinition
from qgis.gui import QgsAbstractProcessingParameterWidgetWrapper, QgsGui, QgsProcessingGui
from qgis.PyQt.QtWidgets import QLabel

from .base import CHOICE_KEY


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


def _copy(definition: QgsProcessingParameterDefinition, description: str | None = None,
          optional: bool = False) -> QgsProcessingParameterDefinition:
    """A copy of ``definition`` (same name and type), with another description or made optional.

    QGIS's widgets keep a pointer to their definition: the caller keeps the copy for as long as the widget
    lives (an attribute of the wrapper, or of the modeler's widget).
    """
    copy = definition.clone()
    if description is not None:
        copy.setDescription(description)
    if optional:
        copy.setFlags(copy.flags() | QgsProcessingParameterDefinition.Flag.FlagOptional)
    return copy


class StockWrapper(QgsAbstractProcessingParameterWidgetWrapper):
    """QGIS's own widget wrapper for a parameter, with another label.

    Processing's ``WidgetWrapperFactory`` calls the class with (definition, dialog, row, column, **options);
    for the batch dialog and the modeler it returns QGIS's own wrapper or source widget. In the algorithm
    dialog it delegates widget, values, context and signals to the wrapper QGIS's registry makes for
    ``stock_definition_for`` (the definition itself unless a subclass says otherwise) and only draws the label.
    """

    def __new__(cls, definition, dialog=None, row=0, col=0, **options):
        kind = dialog_type(dialog)
        registry = QgsGui.processingGuiRegistry()
        if kind == QgsProcessingGui.WidgetType.Modeler:
            shown = cls.modeler_definition(definition, options)
            widget = registry.createModelerParameterWidget(dialog.model, dialog.childId, shown, dialog.context)
            widget.setDialog(dialog)
            widget.smd_definition = shown  # lives as long as the widget's wrapper, which the designer holds
            return widget
        if kind == QgsProcessingGui.WidgetType.Batch:
            wrapper = registry.createParameterWidgetWrapper(definition, kind)
            wrapper.setDialog(dialog)
            return wrapper
        return super().__new__(cls)

    def __init__(self, definition, dialog=None, row=0, col=0, **options):
        super().__init__(definition, QgsProcessingGui.WidgetType.Standard)
        self.options = options
        self.stock_definition = self.stock_definition_for(definition)  # held for as long as the stock wrapper
        self.stock = QgsGui.processingGuiRegistry().createParameterWidgetWrapper(
            self.stock_definition, QgsProcessingGui.WidgetType.Standard)
        self.stock.widgetValueHasChanged.connect(self._stock_changed)
        self._context_generator = None
        self._own_context = QgsProcessingContext()
        if dialog is not None:
            self.stock.setDialog(dialog)

    @classmethod
    def modeler_definition(cls, definition, options: dict):
        """The definition the modeler's source widget is built for."""
        return definition

    def stock_definition_for(self, definition):
        """The definition QGIS's own wrapper is built for."""
        return definition

    def label_text(self) -> str:
        return self.parameterDefinition().description()

    # -- the label ---------------------------------------------------------------------------
    def createLabel(self):
        label = QLabel(self.label_text())
        label.setToolTip(self.parameterDefinition().toolTip())
        label.setWordWrap(True)  # a long label wraps instead of widening the form past the dialog
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


class ChoiceWrapper(StockWrapper):
    """An input that is one way among several: labelled "<description> [<choice>]", not "[optional]"."""

    @classmethod
    def modeler_definition(cls, definition, options: dict):
        # the modeler's label adds "[optional]" itself: "<description> [<choice>] [optional]"
        choice = options.get(CHOICE_KEY, "")
        return _copy(definition, description=choice_label(definition.description(), choice))

    def label_text(self) -> str:
        return choice_label(self.parameterDefinition().description(), self.options.get(CHOICE_KEY, ""))


class StartsEmptyWrapper(StockWrapper):
    """A mandatory layer input whose picker starts empty instead of taking the active layer."""

    def stock_definition_for(self, definition):
        return _copy(definition, optional=True)


__all__ = ["ChoiceWrapper", "StartsEmptyWrapper", "StockWrapper", "choice_label"]
