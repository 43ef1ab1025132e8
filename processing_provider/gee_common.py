"""Parameter handling shared by the Earth Engine algorithms (fetchgee, downscalegee)."""

from __future__ import annotations

import datetime as dt
import json

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeatureRequest,
    QgsGeometry,
    QgsProcessingException,
    QgsProcessingFeatureSource,
    QgsSettings,
    QgsWkbTypes,
)


def crs_text(crs: QgsCoordinateReferenceSystem) -> str:
    """'EPSG:code' when the CRS has one, else GDAL-flavoured WKT."""
    authid = crs.authid()
    if authid.upper().startswith("EPSG:"):
        return authid
    return crs.toWkt(QgsCoordinateReferenceSystem.WktVariant.WKT_PREFERRED_GDAL)


def parse_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat((text or "").strip())
    except ValueError:
        return None


class GeeParameters:
    """Mixin for algorithms with AREA / EXTENT / PROJECT parameters (expects ``SmdAlgorithm``)."""

    AREA = "AREA"
    EXTENT = "EXTENT"
    PROJECT = "PROJECT"

    def _area(self, parameters, context):
        """(area, area_crs) for the engine: a GeoJSON polygon and its CRS, or an extent tuple and None."""
        source = self.parameterAsSource(parameters, self.AREA, context)
        if source is not None:
            # no validity check while reading: an invalid polygon gets the engine's message (with the fix),
            # and an exception thrown by the feature iterator inside checkParameterValues would abort QGIS
            features = source.getFeatures(QgsFeatureRequest(),
                                          QgsProcessingFeatureSource.Flag.FlagSkipGeometryValidityChecks)
            geoms = [f.geometry() for f in features if f.hasGeometry() and not f.geometry().isEmpty()]
            if not geoms:
                raise QgsProcessingException(self.tr("The area layer has no polygon; choose a layer with at least "
                                                     "one polygon, or give an extent."))
            geom = QgsGeometry.unaryUnion(geoms) if len(geoms) > 1 else geoms[0]
            if geom.isNull() or QgsWkbTypes.geometryType(geom.wkbType()) != QgsWkbTypes.GeometryType.PolygonGeometry:
                raise QgsProcessingException(self.tr("The area layer must hold polygons."))
            return json.loads(geom.asJson(17)), crs_text(source.sourceCrs())
        raw = parameters.get(self.EXTENT)
        rect = self.parameterAsExtent(parameters, self.EXTENT, context)
        if raw in (None, "") or rect.isNull():
            return None, None
        crs = self.parameterAsExtentCrs(parameters, self.EXTENT, context)
        if not crs.isValid():
            raise QgsProcessingException(self.tr("The extent has no CRS; give it as "
                                                 "'xmin,xmax,ymin,ymax [EPSG:code]'."))
        return (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum(), crs_text(crs)), None

    def _project(self, parameters, context) -> str | None:
        """The PROJECT parameter, else the plugin settings (the engine then falls back to the environment)."""
        from . import settings

        return (self.parameterAsString(parameters, self.PROJECT, context) or "").strip() or settings.ee_project() \
            or None

    def _credentials(self):
        """None (persistent credentials) or the service-account key (a dict, never logged)."""
        from . import settings

        mode_set = QgsSettings().contains(settings.KEY_CREDENTIALS)
        if settings.ee_credentials_mode() == settings.SERVICE_ACCOUNT or (not mode_set and settings.ee_authcfg()):
            key = settings.service_account_key(prompt=False)
            if key is None:
                raise QgsProcessingException(self.tr(
                    "The plugin settings ask for a service account but no key is stored; import the key in Soil "
                    "moisture downscaling > Settings…, or switch to your own Earth Engine credentials."))
            return key
        return None
