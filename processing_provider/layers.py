"""How outputs load as layers: factor stack style, layer names with dates, time series for the temporal controller.

Soil moisture layers get :func:`base.apply_soil_moisture_style` (fixed 0-0.45 m3/m3 ramp). Factor stacks
show their first band in gray, stretched to the 2-98 % cumulative cut (the default multiband colour
of three unrelated factors means nothing). The files of a downscaled time series load into one group,
each with a fixed temporal range (its date until the next date), so the temporal controller animates
them; the project's time range is widened to cover the series.
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

from qgis.core import (
    Qgis,
    QgsContrastEnhancement,
    QgsDateTimeRange,
    QgsPalettedRasterRenderer,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingUtils,
    QgsRasterLayer,
    QgsRectangle,
    QgsSingleBandGrayRenderer,
)
from qgis.PyQt.QtCore import QCoreApplication, QDate, QDateTime, QTime
from qgis.PyQt.QtGui import QColor

from .base import apply_soil_moisture_style

#: Share of pixels cut at each end of the factor stretch.
FACTOR_CUT = 0.02


def single_date(paths: Sequence[str]) -> str | None:
    """The one date (YYYY-MM-DD) the dated file names among ``paths`` share, else None."""
    from ..algorithms.dates import date_from_name

    dates = {d for d in (date_from_name(p) for p in paths) if d is not None}
    return next(iter(dates)).isoformat() if len(dates) == 1 else None


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


class FactorsStyle(QgsProcessingLayerPostProcessorInterface):
    """Applies :func:`apply_factors_style` to a loaded factor stack."""

    _keep: list = []  # post-processors must outlive processAlgorithm

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802
        if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
            return
        apply_factors_style(layer)

    @classmethod
    def create(cls) -> FactorsStyle:
        inst = cls()
        cls._keep.append(inst)
        return inst


#: Colours of the quality classes (gapfill codes): observed green, filled amber, coarse only grey-violet.
QUALITY_COLORS = {1: "#1a9850", 2: "#fdae61", 3: "#8073ac"}


def quality_labels() -> dict[int, str]:
    """The legend of the quality classes (gapfill codes), translated."""
    return {1: QCoreApplication.translate("QualityStyle", "All factors observed"),
            2: QCoreApplication.translate("QualityStyle", "Missing factors filled (coarse-cell means)"),
            3: QCoreApplication.translate("QualityStyle", "Coarse field only (no factor observed)")}


def apply_quality_style(layer) -> None:
    """Categorical style of a quality raster: one colour and legend entry per path (nodata 0 transparent)."""
    labels = quality_labels()
    classes = [QgsPalettedRasterRenderer.Class(code, QColor(QUALITY_COLORS[code]), labels[code])
               for code in sorted(QUALITY_COLORS)]
    layer.setRenderer(QgsPalettedRasterRenderer(layer.dataProvider(), 1, classes))
    layer.triggerRepaint()


class QualityStyle(QgsProcessingLayerPostProcessorInterface):
    """Applies :func:`apply_quality_style` to a loaded quality raster."""

    _keep: list = []

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802
        if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
            return
        apply_quality_style(layer)

    @classmethod
    def create(cls) -> QualityStyle:
        inst = cls()
        cls._keep.append(inst)
        return inst


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


class TemporalSoilMoistureLayer(QgsProcessingLayerPostProcessorInterface):
    """Soil moisture style, a fixed temporal range, and a place in the series' layer group."""

    _keep: list = []

    def __init__(self, start: dt.date, end: dt.date, group: str | None = None) -> None:
        super().__init__()
        self.start = start
        self.end = end
        self.group = group

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802
        if layer is None or not layer.isValid():
            return
        apply_soil_moisture_style(layer)
        set_fixed_range(layer, self.start, self.end)
        project = context.project()
        if project is not None:
            if self.group:
                _move_to_group(project, layer, self.group)
            _widen_project_range(project, self.start, self.end)

    @classmethod
    def create(cls, start: dt.date, end: dt.date, group: str | None = None) -> TemporalSoilMoistureLayer:
        inst = cls(start, end, group)
        cls._keep.append(inst)
        return inst


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
