"""How outputs load as layers: styles, layer names with dates, time series for the temporal controller.

Soil moisture layers get :func:`apply_soil_moisture_style` (fixed 0-0.45 m3/m3 ramp). Factor stacks
show their first band in gray, stretched to the 2-98 % cumulative cut (the default multiband colour
of three unrelated factors means nothing). The files of a downscaled time series load into one group,
each with a fixed temporal range (its date until the next date), so the temporal controller animates
them; the project's time range is widened to cover the series.

Processing holds a layer post-processor by a plain pointer, so each one is kept here (``_PENDING``) from
its creation until it has run, and released then: nothing accumulates from run to run.
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

from qgis.core import (
    Qgis,
    QgsColorRampShader,
    QgsContrastEnhancement,
    QgsDateTimeRange,
    QgsPalettedRasterRenderer,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingUtils,
    QgsRasterLayer,
    QgsRasterShader,
    QgsRectangle,
    QgsSingleBandGrayRenderer,
    QgsSingleBandPseudoColorRenderer,
)
from qgis.PyQt.QtCore import QCoreApplication, QDate, QDateTime, QTime
from qgis.PyQt.QtGui import QColor

from ..algorithms.dates import date_from_name

#: Fixed display range of soil moisture layers (m3/m3), documented in the README.
SM_STYLE_RANGE = (0.0, 0.45)
#: The unit shown in legends.
SM_UNIT = "m³/m³"
SM_RAMP = ["#8c510a", "#d8b365", "#f6e8c3", "#c7eae5", "#5ab4ac", "#01665e", "#08306b"]
#: The uncertainty layer (standard deviation across the trees, m3/m3): light (certain) to dark purple.
SD_STYLE_RANGE = (0.0, 0.05)
SD_RAMP = ["#fcfbfd", "#dadaeb", "#9e9ac8", "#6a51a3", "#3f007d"]
#: Share of pixels cut at each end of the factor stretch.
FACTOR_CUT = 0.02

#: Post-processors created and not run yet (Processing keeps only a pointer to them).
_PENDING: set = set()


class OneShotPostProcessor(QgsProcessingLayerPostProcessorInterface):
    """A layer post-processor kept alive from :meth:`create` until it has run once, then released."""

    @classmethod
    def create(cls, *args):
        inst = cls(*args)
        _PENDING.add(inst)
        return inst

    def postProcessLayer(self, layer, context, feedback):
        try:
            if layer is not None and layer.isValid():
                self.apply(layer, context)
        finally:
            _PENDING.discard(self)

    def apply(self, layer, context) -> None:
        raise NotImplementedError


def single_date(paths: Sequence[str]) -> str | None:
    """The one date (YYYY-MM-DD) the dated file names among ``paths`` share, else None."""
    dates = {d for d in (date_from_name(p) for p in paths) if d is not None}
    return next(iter(dates)).isoformat() if len(dates) == 1 else None


def apply_soil_moisture_style(layer, value_range: tuple[float, float] = SM_STYLE_RANGE,
                              colors: list[str] | None = None) -> None:
    """A fixed colour ramp (default: soil moisture, 0-0.45 m3/m3), its legend labelled in m³/m³."""
    lo, hi = value_range
    colors = colors or SM_RAMP
    ramp = QgsColorRampShader(lo, hi)
    ramp.setColorRampType(QgsColorRampShader.Type.Interpolated)
    n = len(colors)
    items = [QgsColorRampShader.ColorRampItem(lo + (hi - lo) * i / (n - 1), QColor(c),
                                              f"{lo + (hi - lo) * i / (n - 1):.3f} {SM_UNIT}")
             for i, c in enumerate(colors)]
    ramp.setColorRampItemList(items)
    legend = ramp.legendSettings()  # the continuous legend: "0 m³/m³ ... 0.45 m³/m³"
    legend.setSuffix(f" {SM_UNIT}")
    ramp.setLegendSettings(legend)
    shader = QgsRasterShader()
    shader.setRasterShaderFunction(ramp)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
    renderer.setClassificationMin(lo)
    renderer.setClassificationMax(hi)
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def style_output(context, path: str, style: str = "soil_moisture", name: str | None = None) -> None:
    """Style (and optionally rename) an output layer when Processing loads it.

    ``style``: 'soil_moisture' (fixed 0-0.45 m3/m3 ramp), 'uncertainty' (fixed 0-0.05 m3/m3 ramp), 'factors'
    (first band gray, 2-98 % stretch), 'quality' (categorical classes of the gap-filling paths) or 'none'.
    """
    if not context.willLoadLayerOnCompletion(path):
        return
    details = context.layerToLoadOnCompletionDetails(path)
    if name:
        details.name = name
    if style == "soil_moisture":
        details.setPostProcessor(SoilMoistureStyle.create())
    elif style == "factors":
        details.setPostProcessor(FactorsStyle.create())
    elif style == "quality":
        details.setPostProcessor(QualityStyle.create())
    elif style == "uncertainty":
        details.setPostProcessor(UncertaintyStyle.create())


def apply_factors_style(layer) -> None:
    """First band in gray, stretched between the 2 % and 98 % cumulative cut."""
    provider = layer.dataProvider()
    lo, hi = provider.cumulativeCut(1, FACTOR_CUT, 1.0 - FACTOR_CUT, QgsRectangle(), 250000)
    renderer = QgsSingleBandGrayRenderer(provider, 1)
    ce = QgsContrastEnhancement(provider.dataType(1))
    ce.setContrastEnhancementAlgorithm(QgsContrastEnhancement.ContrastEnhancementAlgorithm.StretchToMinimumMaximum)
    if hi > lo:
        ce.setMinimumValue(lo)
        ce.setMaximumValue(hi)
    renderer.setContrastEnhancement(ce)
    layer.setRenderer(renderer)
    layer.triggerRepaint()


class SoilMoistureStyle(OneShotPostProcessor):
    """Applies the soil moisture colour ramp (fixed range, m3/m3) to a loaded output layer."""

    def apply(self, layer, context) -> None:
        apply_soil_moisture_style(layer)


class UncertaintyStyle(OneShotPostProcessor):
    """Applies the uncertainty colour ramp (standard deviation across the trees, m3/m3) to a loaded layer."""

    def apply(self, layer, context) -> None:
        apply_soil_moisture_style(layer, SD_STYLE_RANGE, SD_RAMP)


class FactorsStyle(OneShotPostProcessor):
    """Applies :func:`apply_factors_style` to a loaded factor stack."""

    def apply(self, layer, context) -> None:
        if isinstance(layer, QgsRasterLayer):
            apply_factors_style(layer)


#: Colours of the quality classes (gapfill codes): observed green, filled amber, coarse only grey-violet,
#: factors from a neighbouring date light green (observed, but not on this date).
QUALITY_COLORS = {1: "#1a9850", 2: "#fdae61", 3: "#8073ac", 4: "#a6d96a"}


def quality_labels() -> dict[int, str]:
    """The legend of the quality classes (gapfill codes), translated."""
    return {1: QCoreApplication.translate("QualityStyle", "All factors observed"),
            2: QCoreApplication.translate("QualityStyle", "Missing factors filled (coarse-cell means)"),
            3: QCoreApplication.translate("QualityStyle", "Coarse field only (no factor observed)"),
            4: QCoreApplication.translate("QualityStyle", "Factors partly from a neighbouring date")}


def apply_quality_style(layer) -> None:
    """Categorical style of a quality raster: one colour and legend entry per path (nodata 0 transparent)."""
    labels = quality_labels()
    classes = [QgsPalettedRasterRenderer.Class(code, QColor(QUALITY_COLORS[code]), labels[code])
               for code in sorted(QUALITY_COLORS)]
    layer.setRenderer(QgsPalettedRasterRenderer(layer.dataProvider(), 1, classes))
    layer.triggerRepaint()


class QualityStyle(OneShotPostProcessor):
    """Applies :func:`apply_quality_style` to a loaded quality raster."""

    def apply(self, layer, context) -> None:
        if isinstance(layer, QgsRasterLayer):
            apply_quality_style(layer)


def _qdatetime(day: dt.date) -> QDateTime:
    return QDateTime(QDate(day.year, day.month, day.day), QTime(0, 0))


def date_range(start: dt.date, end: dt.date) -> QgsDateTimeRange:
    """[start 00:00, end 00:00): the end day is excluded."""
    return QgsDateTimeRange(_qdatetime(start), _qdatetime(end), True, False)


def set_fixed_range(layer, start: dt.date, end: dt.date) -> None:
    """Make the layer temporal: visible from ``start`` (included) to ``end`` (excluded)."""
    props = layer.temporalProperties()
    props.setMode(Qgis.RasterTemporalMode.FixedTemporalRange)
    props.setFixedTemporalRange(date_range(start, end))
    props.setIsActive(True)


def _move_to_group(project, layer, group_name: str) -> None:
    root = project.layerTreeRoot()
    node = root.findLayer(layer.id())
    if node is None:
        return
    parent = node.parent()
    if parent is not None and parent.name() == group_name:
        return
    group = (parent or root).findGroup(group_name)
    if group is None:
        group = (parent or root).insertGroup(0, group_name)
    group.addChildNode(node.clone())
    (parent or root).removeChildNode(node)


def _widen_project_range(project, start: dt.date, end: dt.date) -> None:
    settings = project.timeSettings()
    current = settings.temporalRange()
    lo, hi = _qdatetime(start), _qdatetime(end)
    if current.begin().isValid() and current.begin() < lo:
        lo = current.begin()
    if current.end().isValid() and current.end() > hi:
        hi = current.end()
    settings.setTemporalRange(QgsDateTimeRange(lo, hi))


class TemporalSoilMoistureLayer(OneShotPostProcessor):
    """Soil moisture style, a fixed temporal range, and a place in the series' layer group."""

    def __init__(self, start: dt.date, end: dt.date, group: str | None = None) -> None:
        super().__init__()
        self.start = start
        self.end = end
        self.group = group

    def apply(self, layer, context) -> None:
        apply_soil_moisture_style(layer)
        set_fixed_range(layer, self.start, self.end)
        project = context.project()
        if project is not None:
            if self.group:
                _move_to_group(project, layer, self.group)
            _widen_project_range(project, self.start, self.end)


def load_series(context, entries: Sequence, name_template: str, group: str | None, output_name: str) -> int:
    """Ask Processing to load each series file (``entries``: series.SeriesEntry) as a temporal layer.

    ``name_template`` gets the date (YYYY-MM-DD). Returns how many layers were queued; none without
    a project (e.g. qgis_process).
    """
    project = context.project()
    if project is None:
        return 0
    for e in entries:
        details = QgsProcessingContext.LayerDetails(name_template.format(e.date.isoformat()), project, output_name,
                                                    QgsProcessingUtils.LayerHint.Raster)
        if hasattr(details, "groupName") and group:  # QGIS >= 3.32 places the layer in the group itself
            details.groupName = group
        details.setPostProcessor(TemporalSoilMoistureLayer.create(e.start, e.end, group))
        context.addLayerToLoadOnCompletion(e.path, details)
    return len(entries)
