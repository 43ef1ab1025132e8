"""Processing algorithm smdownscale:validate — metrics against a reference raster and/or in-situ stations."""

from __future__ import annotations

import math
import os

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeatureRequest,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsRasterLayer,
)

from ..base import SmdAlgorithm
from ..inputs import add_sm_reading, optional_number, sm_reading_text

RESAMPLING = ("auto", "bilinear", "average", "nearest")
OUTPUT_METRICS = (("N", "n"), ("R", "r"), ("MAE", "mae"), ("RMSE", "rmse"), ("BIAS", "bias"), ("UBRMSD", "ubrmsd"))


def _python_value(value):
    """QVariant-ish attribute values (QDate, QDateTime, NULL) as Python values."""
    if value is None:
        return None
    if hasattr(value, "isNull") and value.isNull():
        return None
    if hasattr(value, "toPyDateTime"):
        return value.toPyDateTime()
    if hasattr(value, "toPyDate"):
        return value.toPyDate()
    return value


class ValidateAlgorithm(SmdAlgorithm):
    ALG_ID = "validate"
    GROUP = "validation"
    HELP_ANCHOR = "validate"

    INPUT = "INPUT"
    REFERENCE = "REFERENCE"
    BASELINE = "BASELINE"
    QUALITY = "QUALITY"
    RESAMPLING = "RESAMPLING"
    REF_SCALE = "REF_SCALE"
    REF_NODATA = "REF_NODATA"
    STATIONS = "STATIONS"
    STATION_ID_FIELD = "STATION_ID_FIELD"
    DATE_FIELD = "DATE_FIELD"
    VALUE_FIELD = "VALUE_FIELD"
    STATIONS_FILE = "STATIONS_FILE"
    STATIONS_FOLDER = "STATIONS_FOLDER"
    MAX_DEPTH = "MAX_DEPTH"
    DATE = "DATE"
    OUTPUT = "OUTPUT"
    PAIRS = "PAIRS"
    INPUT_SERIES = "INPUT_SERIES"
    REFERENCE_SERIES = "REFERENCE_SERIES"
    REPORT = "REPORT"
    N = "N"
    R = "R"
    MAE = "MAE"
    RMSE = "RMSE"
    BIAS = "BIAS"
    UBRMSD = "UBRMSD"

    def displayName(self) -> str:
        return self.tr("Validate soil moisture")

    def shortHelpString(self) -> str:
        return self.tr(
            "Compares a soil moisture raster (e.g. the 1 km result of 'Downscale soil moisture') with a reference "
            "raster and/or in-situ stations and reports n, R, MAE, RMSE, bias (estimate minus reference) and "
            "ubRMSD (unbiased RMSD, sqrt(RMSE^2 - bias^2)), all in m3/m3.\n\n"
            "Reference raster (e.g. SMAP of the same date): it is resampled onto the estimate's grid, averaged "
            "when it is finer and bilinearly interpolated when it is coarser (advanced: choose the method), and "
            "compared pixel by pixel where both are valid.\n\n"
            "Stations: a point layer (fields for station id, date and soil moisture are found by name when not "
            "chosen: station/id/name, date/time, value/sm/soil_moisture), a CSV table (columns station, lon, lat, "
            "date, value in EPSG:4326), an ISMN .stm file ('Header+values' or 'CEOP formatted'), or a folder of "
            "them (only 'G' flagged values of sensors within the maximum depth are used). Each station's daily "
            "mean on the estimate's date is compared with the estimate pixel containing the station. The date "
            "comes from the estimate's file name (YYYYMMDD or YYYY-MM-DD) unless given.\n\n"
            "The CSV output has one row per source: 'reference', 'stations' (pooled) and 'station:<id>'; the "
            "numeric outputs are those of the reference comparison when a reference is given, else of the "
            "stations. With the quality raster 'Downscale soil moisture' wrote for the estimate, the reference "
            "comparison is also split by the path of each pixel: 'reference:all factors observed', "
            "'reference:filled', 'reference:coarse only' and 'reference:from a neighbouring date'.\n\n"
            "Time series: give several estimates (dates in the file names, e.g. the sm_1km_<YYYYMMDD>.tif of a "
            "downscaling series) with reference rasters of the same dates and/or stations. Each date is compared "
            "as above; the CSV has one row per date and source, then the metrics of all dates pooled (date "
            "'all'), which are also the numeric outputs.\n\n"
            "The HTML report holds the metrics table, a density plot of the estimate against the reference with "
            "the 1:1 line, a map of the estimate minus the reference, the station comparison and, when stations "
            "cover several dates, their time series.\n\n"
            "Baseline (optional): the coarse SMAP raster the estimate was downscaled from. It is resampled "
            "bilinearly onto the estimate's grid and compared with the same reference on the same pixels; its "
            "metrics ('baseline' in the CSV) stand next to the estimate's in the report, showing what downscaling "
            "adds. It is read as downscale read it (SM_SCALE and SM_NODATA, recorded in the estimate), so SMAP in "
            "percent or with an undeclared fill value needs nothing more.\n\n"
            "Units: the estimate and the reference must be in m3/m3; percent, scaled integers or an undeclared fill "
            "value (e.g. -9999) stop the run with the fix. The advanced parameters REF_SCALE (factor to m3/m3, 0.01 "
            "for percent) and REF_NODATA (a fill value the file does not declare) say how to read the reference. "
            "Station values must lie within 0-1 m3/m3.")

    def initAlgorithm(self, config=None):
        self.add(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Soil moisture estimate"), optional=True),
                 self.tr("The raster to validate (band 1, m3/m3); leave empty for a time series."),
                 choice=self.tr("or a time series"))
        self.add(QgsProcessingParameterRasterLayer(self.REFERENCE, self.tr("Reference raster"), optional=True),
                 self.tr("A soil moisture raster of the same date, e.g. SMAP."), choice=self.tr("or stations"))
        self.add(QgsProcessingParameterRasterLayer(self.BASELINE, self.tr("Baseline: coarse SMAP"), optional=True),
                 self.tr("The SMAP raster the estimate was downscaled from (read with the SM_SCALE and SM_NODATA "
                         "downscale used): resampled bilinearly and compared with the same reference, so the report "
                         "shows what downscaling adds."))
        self.add(QgsProcessingParameterRasterLayer(self.QUALITY, self.tr("Quality raster of the estimate"),
                                                   optional=True),
                 self.tr("The quality raster 'Downscale soil moisture' wrote with the estimate: the "
                         "reference comparison is also reported for fully observed, filled and coarse-only "
                         "pixels (one date)."))
        self.add(QgsProcessingParameterEnum(self.RESAMPLING, self.tr("Reference resampling"),
                                            options=[self.tr("Automatic (average if finer, bilinear if coarser)"),
                                                     self.tr("Bilinear"), self.tr("Average"), self.tr("Nearest")],
                                            defaultValue=0),
                 self.tr("How the reference is brought onto the estimate's grid."), advanced=True)
        add_sm_reading(self, self.REF_SCALE, self.REF_NODATA, reference=True)
        self.add(QgsProcessingParameterFeatureSource(self.STATIONS, self.tr("Station points"),
                                                     [QgsProcessing.SourceType.TypeVectorPoint], optional=True),
                 self.tr("Point layer of in-situ observations, one feature per station and time."))
        self.add(QgsProcessingParameterField(self.STATION_ID_FIELD, self.tr("Station id field"),
                                             parentLayerParameterName=self.STATIONS, optional=True),
                 self.tr("Field identifying the station; empty: found by name (station, id, name), "
                         "else stations are told apart by their coordinates."))
        self.add(QgsProcessingParameterField(self.DATE_FIELD, self.tr("Date field"),
                                             parentLayerParameterName=self.STATIONS, optional=True),
                 self.tr("Date or date-time field (or text YYYY-MM-DD); empty: found by name."))
        self.add(QgsProcessingParameterField(self.VALUE_FIELD, self.tr("Soil moisture field (m3/m3)"),
                                             parentLayerParameterName=self.STATIONS, optional=True),
                 self.tr("Observed volumetric soil moisture in m3/m3; empty: found by name "
                         "(value, sm, soil_moisture)."))
        self.add(QgsProcessingParameterFile(self.STATIONS_FILE, self.tr("Station file (CSV, ISMN .stm)"),
                                            behavior=QgsProcessingParameterFile.Behavior.File, optional=True,
                                            fileFilter=self.tr("Station observations (*.csv *.txt *.stm)")),
                 self.tr("A CSV table with columns station, lon, lat, date, value (EPSG:4326, or a crs "
                         "column; Chinese headers such as 区站号, 经度, 纬度, 日期, 土壤水分 too, in UTF-8 or GBK), "
                         "or one ISMN .stm file ('Header+values' or 'CEOP formatted')."))
        self.add(QgsProcessingParameterFile(self.STATIONS_FOLDER, self.tr("Folder of ISMN .stm files"),
                                            behavior=QgsProcessingParameterFile.Behavior.Folder, optional=True),
                 self.tr("An unzipped ISMN download ('Header+values' or 'CEOP formatted'); its soil "
                         "moisture files are read, other files are listed in the log."))
        self.add(QgsProcessingParameterNumber(self.MAX_DEPTH, self.tr("Maximum sensor depth for ISMN files (m)"),
                                              QgsProcessingParameterNumber.Type.Double, defaultValue=0.05,
                                              minValue=0.0),
                 self.tr("ISMN sensors whose top is deeper are ignored (SMAP surface soil moisture is "
                         "0-5 cm)."), advanced=True)
        self.add(QgsProcessingParameterString(self.DATE, self.tr("Date of the estimate"), optional=True),
                 self.tr("Day compared with the stations; empty: the date in the estimate's file name."))
        self.add(QgsProcessingParameterFileDestination(self.OUTPUT, self.tr("Metrics"), self.tr("CSV files (*.csv)")),
                 self.tr("CSV with one row per source and the metrics n, r, mae, rmse, bias, ubrmsd."))
        self.add(QgsProcessingParameterFileDestination(self.PAIRS, self.tr("Station pairs"),
                                                       self.tr("CSV files (*.csv)"),
                                                       optional=True, createByDefault=False),
                 self.tr("CSV with each station's observed daily mean and the estimate at its pixel."))
        self.add(QgsProcessingParameterMultipleLayers(self.INPUT_SERIES, self.tr("Time series: estimates"),
                                                      QgsProcessing.SourceType.TypeRaster, optional=True),
                 self.tr("Estimates of several dates, each with its date in the file name (YYYYMMDD or "
                         "YYYY-MM-DD), instead of one estimate."), choice=self.tr("or one estimate"))
        self.add(QgsProcessingParameterMultipleLayers(self.REFERENCE_SERIES, self.tr("Time series: reference rasters"),
                                                      QgsProcessing.SourceType.TypeRaster, optional=True),
                 self.tr("Reference rasters of the same dates, paired with the estimates by the date in "
                         "the file names."), choice=self.tr("or stations"))
        self.add(QgsProcessingParameterFileDestination(self.REPORT, self.tr("Report"), self.tr("HTML files (*.html)"),
                                                       optional=True, createByDefault=True),
                 self.tr("HTML report with the metrics and plots (estimate against reference with the 1:1 "
                         "line, stations over time); shown in the Processing results viewer."))
        names = {"N": self.tr("Number of pairs"), "R": self.tr("Correlation R"), "MAE": self.tr("MAE (m3/m3)"),
                 "RMSE": self.tr("RMSE (m3/m3)"), "BIAS": self.tr("Bias (m3/m3)"),
                 "UBRMSD": self.tr("ubRMSD (m3/m3)")}
        for key, _ in OUTPUT_METRICS:
            self.addOutput(QgsProcessingOutputNumber(key, names[key]))

    # -- parameters ------------------------------------------------------------------------------
    def _raster_path(self, parameters, name, context) -> str | None:
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None:
            return None
        if isinstance(layer, QgsRasterLayer) and layer.providerType() != "gdal":
            raise QgsProcessingException(self.tr(
                "{} is not a raster file (provider '{}'); save it as a GeoTIFF (Export > Save As...) and use "
                "that file.").format(layer.name(), layer.providerType()))
        return layer.source()

    def _has_stations(self, parameters, context) -> bool:
        return (parameters.get(self.STATIONS) not in (None, "")
                or bool(self.parameterAsFile(parameters, self.STATIONS_FILE, context))
                or bool(self.parameterAsFile(parameters, self.STATIONS_FOLDER, context)))

    def checkParameterValues(self, parameters, context):
        ok, msg = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, msg
        series = parameters.get(self.INPUT_SERIES) not in (None, "", [])
        single = parameters.get(self.INPUT) not in (None, "")
        if series == single:
            return False, self.tr("Give either one soil moisture estimate or a time series of estimates (not both).")
        if parameters.get(self.BASELINE) not in (None, "") and (series or parameters.get(self.REFERENCE) in
                                                                 (None, "")):
            return False, self.tr("A baseline is compared with the reference raster of one estimate: give a "
                                  "reference raster too, or leave the baseline empty.")
        if series and parameters.get(self.REFERENCE) not in (None, ""):
            return False, self.tr("A time series of estimates is compared with a time series of reference rasters: "
                                  "give them under 'Time series: reference rasters'.")
        if not series and parameters.get(self.REFERENCE_SERIES) not in (None, "", []):
            return False, self.tr("Reference rasters of a time series need a time series of estimates: give the "
                                  "estimates under 'Time series: estimates'.")
        if self.parameterAsRasterLayer(parameters, self.REFERENCE, context) is None and \
                parameters.get(self.REFERENCE_SERIES) in (None, "", []) and \
                not self._has_stations(parameters, context):
            return False, self.tr("Nothing to validate against: give a reference raster, station points, a station "
                                  "file or a folder of ISMN files.")
        text = (self.parameterAsString(parameters, self.DATE, context) or "").strip()
        if text:
            from ...algorithms.stations import parse_date

            try:
                parse_date(text)
            except ValueError:
                return False, self.tr("The date '{}' is not a date; write it as YYYY-MM-DD.").format(text)
        return True, ""

    def _layer_observations(self, parameters, context, feedback):
        from ...algorithms import stations

        source = self.parameterAsSource(parameters, self.STATIONS, context)
        if source is None:
            return []
        names = source.fields().names()
        label = source.sourceName() or self.tr("The station layer")

        def field(param: str, key: str, required: bool) -> str | None:
            chosen = self.parameterAsString(parameters, param, context)
            name = chosen or stations.find_column(names, key)
            if name is None and required:
                what = {"date": self.tr("date"), "value": self.tr("soil moisture")}[key]
                raise QgsProcessingException(self.tr(
                    "The station layer {} has no {} field that could be recognised; its fields are: {}. Choose "
                    "the field in the algorithm's parameters.").format(label, what, ", ".join(names)))
            return name

        id_field = field(self.STATION_ID_FIELD, "station", False)
        date_field = field(self.DATE_FIELD, "date", True)
        value_field = field(self.VALUE_FIELD, "value", True)
        feedback.pushInfo(self.tr("Station fields: id {}, date {}, soil moisture {}")
                          .format(id_field or self.tr("(coordinates)"), date_field, value_field))
        crs = source.sourceCrs()
        if not crs.isValid():
            raise QgsProcessingException(self.tr("The station layer {} has no coordinate reference system; set "
                                                 "one (Layer Properties > Source) and run again.").format(label))
        wkt = crs.toWkt(QgsCoordinateReferenceSystem.WktVariant.WKT_PREFERRED_GDAL)
        records = []
        for feat in source.getFeatures(QgsFeatureRequest()):
            geom = feat.geometry()
            if geom is None or geom.isNull() or geom.isEmpty():
                x = y = math.nan
            else:
                pt = geom.vertexAt(0)
                x, y = pt.x(), pt.y()
            sid = _python_value(feat[id_field]) if id_field else None
            records.append((sid, x, y, _python_value(feat[date_field]), _python_value(feat[value_field])))
        return self.run_engine(stations.from_records, records, wkt, label)

    def _file_observations(self, parameters, context, feedback):
        from ...algorithms import stations

        out = []
        depth = self.parameterAsDouble(parameters, self.MAX_DEPTH, context)
        path = self.parameterAsFile(parameters, self.STATIONS_FILE, context)
        if path:
            out += self.run_engine(stations.read_stations, path, max_depth=depth, warn=feedback.pushWarning)
        folder = self.parameterAsFile(parameters, self.STATIONS_FOLDER, context)
        if folder:
            out += self.run_engine(stations.read_stations, folder, max_depth=depth, warn=feedback.pushWarning)
        return out

    # -- run -------------------------------------------------------------------------------------
    def _stations_and_outputs(self, parameters, context, feedback):
        """(station observations, metrics CSV, pairs CSV or None, report or None), shared by both modes."""
        observations = self._layer_observations(parameters, context, feedback)
        observations += self._file_observations(parameters, context, feedback)
        if observations:
            feedback.pushInfo(self.tr("{} station observations from {} stations")
                              .format(len(observations), len({o.station for o in observations})))
        output = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        pairs = self.parameterAsFileOutput(parameters, self.PAIRS, context) or None
        from ..inputs import report_destination

        return observations, output, pairs, report_destination(self, parameters, context)

    def processAlgorithm(self, parameters, context, feedback):
        from ...algorithms import validate as engine
        from ...algorithms.report import ErrorMap, PairSampler, Sinks
        from ...algorithms.stations import parse_date

        if parameters.get(self.INPUT_SERIES) not in (None, "", []):
            return self._process_series(parameters, context, feedback)
        estimate = self._raster_path(parameters, self.INPUT, context)
        if estimate is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, self.INPUT))
        reference = self._raster_path(parameters, self.REFERENCE, context)
        quality = self._raster_path(parameters, self.QUALITY, context)
        resampling = RESAMPLING[self.parameterAsEnum(parameters, self.RESAMPLING, context)]
        text = (self.parameterAsString(parameters, self.DATE, context) or "").strip()
        try:
            day = parse_date(text) if text else None
        except ValueError as exc:
            raise QgsProcessingException(self.tr("The date '{}' is not a date; write it as YYYY-MM-DD.")
                                         .format(text)) from exc
        observations, output, pairs, report_path = self._stations_and_outputs(parameters, context, feedback)
        progress, is_canceled = self.callbacks(feedback)
        baseline = self._raster_path(parameters, self.BASELINE, context)
        sampler = PairSampler() if report_path else None
        error_map = None
        if report_path and reference:
            layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
            error_map = ErrorMap(layer.width(), layer.height())
        ref_scale, ref_nodata = self._ref_reading(parameters, context, feedback, bool(reference))

        results = self.run_engine(engine.validate, estimate, reference=reference, stations=observations or None,
                                  date=day, output_csv=output, reference_resampling=resampling, pairs_csv=pairs,
                                  progress=progress, is_canceled=is_canceled,
                                  sink=Sinks(sampler, error_map) if sampler else None, ref_scale=ref_scale,
                                  ref_nodata=ref_nodata, baseline=baseline, quality=quality,
                                  warn=feedback.pushWarning)

        if "reference" in results:
            feedback.pushInfo(self.tr("Reference resampled onto the estimate's grid with '{}'.")
                              .format(results["reference"].get("resampling", resampling)))
        feedback.pushInfo(self._table(results))
        main = results.get("reference") or results.get("stations")
        out = {self.OUTPUT: output}
        if pairs and os.path.exists(pairs):
            out[self.PAIRS] = pairs
        for key, metric in OUTPUT_METRICS:
            out[key] = main[metric]
        if report_path:
            station_pairs = []
            if observations:
                from ...algorithms.dates import date_from_name

                station_pairs = self.run_engine(engine.sample_stations, estimate, observations,
                                                day or date_from_name(estimate))
            inputs = {self.tr("Estimate"): self._layer_label(parameters, self.INPUT, context)}
            if reference:
                inputs[self.tr("Reference")] = self._layer_label(parameters, self.REFERENCE, context)
            if baseline:
                inputs[self.tr("Baseline")] = self._layer_label(parameters, self.BASELINE, context)
            out[self.REPORT] = self._write_report(results, station_pairs, report_path, sampler, None, inputs,
                                                  error_map.difference if error_map is not None else None)
        return out

    def _ref_reading(self, parameters, context, feedback, used: bool) -> tuple[float, float | None]:
        """(scale, nodata) of the reference rasters, logged when they change the values."""
        scale = self.parameterAsDouble(parameters, self.REF_SCALE, context)
        nodata = optional_number(self, parameters, self.REF_NODATA, context)
        text = sm_reading_text(self, scale, nodata)
        if used and text:
            feedback.pushInfo(self.tr("Reference values read with {}.").format(text))
        return scale, nodata

    # -- report and time series ------------------------------------------------------------------
    def _layer_label(self, parameters, name, context) -> str:
        """'layer name (file name)' of a raster parameter, for the report."""
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None:
            return ""
        base = os.path.basename(layer.source())
        return base if layer.name() in (base, os.path.splitext(base)[0]) else f"{layer.name()} ({base})"

    def _write_report(self, results, station_pairs, path, sampler, per_date, inputs, error_map=None) -> str:
        from ...algorithms import report

        samples = (sampler.estimate, sampler.reference) if sampler is not None and "reference" in results else None
        return self.run_engine(report.validate_report, results, station_pairs, path, samples=samples,
                               per_date=per_date, inputs=inputs, error_map=error_map)

    def _process_series(self, parameters, context, feedback):
        from ...algorithms import report, series
        from ..inputs import raster_paths

        estimates = raster_paths(self, parameters, self.INPUT_SERIES, context)
        references = raster_paths(self, parameters, self.REFERENCE_SERIES, context)
        resampling = RESAMPLING[self.parameterAsEnum(parameters, self.RESAMPLING, context)]
        if (self.parameterAsString(parameters, self.DATE, context) or "").strip():
            feedback.pushWarning(self.tr("The date parameter is ignored for a time series: each estimate's date "
                                         "comes from its file name."))
        observations, output, pairs, report_path = self._stations_and_outputs(parameters, context, feedback)
        progress, is_canceled = self.callbacks(feedback)
        ref_scale, ref_nodata = self._ref_reading(parameters, context, feedback, bool(references))

        res = self.run_engine(series.validate_series, estimates, references or None, observations or None,
                              output_csv=output, pairs_csv=pairs, resampling=resampling, progress=progress,
                              is_canceled=is_canceled, ref_scale=ref_scale, ref_nodata=ref_nodata)

        for note in res.skipped:
            feedback.pushWarning(self.tr("Stations skipped on {}").format(note))
        feedback.pushInfo(self.tr("Per date:"))
        for row in res.rows:
            feedback.pushInfo(self._table({f"{row['date']} {row['source']}": row}).splitlines()[1])
        feedback.pushInfo(self.tr("All dates pooled:"))
        feedback.pushInfo(self._table(res.pooled))
        main = res.pooled.get("reference") or res.pooled.get("stations")
        out = {self.OUTPUT: output}
        if pairs and os.path.exists(pairs):
            out[self.PAIRS] = pairs
        for key, metric in OUTPUT_METRICS:
            out[key] = main[metric]
        if report_path:
            inputs = {self.tr("Estimates"): [os.path.basename(p) for p in estimates]}
            if references:
                inputs[self.tr("References")] = [os.path.basename(p) for p in references]
            out[self.REPORT] = self.run_engine(report.validate_report, res.pooled, res.pairs, report_path,
                                               samples=res.samples, per_date=res.rows, inputs=inputs)
        return out

    @staticmethod
    def _table(results: dict) -> str:
        width = max([len("source")] + [len(s) for s in results])
        lines = [f"{'source':<{width}}  {'n':>7}  {'R':>7}  {'MAE':>7}  {'RMSE':>7}  {'bias':>8}  {'ubRMSD':>7}"]
        for source, m in results.items():
            r = "-" if math.isnan(m["r"]) else f"{m['r']:.3f}"
            lines.append(f"{source:<{width}}  {m['n']:>7d}  {r:>7}  {m['mae']:>7.4f}  {m['rmse']:>7.4f}  "
                         f"{m['bias']:>+8.4f}  {m['ubrmsd']:>7.4f}")
        return "\n".join(lines)
