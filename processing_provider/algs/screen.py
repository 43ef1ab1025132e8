"""Processing algorithm smdownscale:screen — rank factors by their correlation with SMAP soil moisture."""

from __future__ import annotations

import math

from qgis.core import (
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
)

from ..base import SmdAlgorithm
from ..inputs import (
    add_derived_factors,
    add_min_valid_fraction,
    add_pair_inputs,
    add_sm_reading,
    check_pair_parameters,
    derived_factors,
    optional_number,
    pair_input_paths,
    report_destination,
    report_inputs,
    sm_reading_text,
)

#: Engine collinearity filters (algorithms.screen.COLLINEARITY_MODES) in the order of the COLLINEARITY options.
COLLINEARITY_KEYS = ("study", "transfer", "off")


class ScreenAlgorithm(SmdAlgorithm):
    ALG_ID = "screen"
    GROUP = "model"
    HELP_ANCHOR = "screen"

    SOIL_MOISTURE = "SOIL_MOISTURE"
    FACTORS = "FACTORS"
    MANIFEST = "MANIFEST"
    MAX_COLLINEARITY = "MAX_COLLINEARITY"
    COLLINEARITY = "COLLINEARITY"
    MIN_ABS_R = "MIN_ABS_R"
    MAX_FACTORS = "MAX_FACTORS"
    MIN_VALID_FRACTION = "MIN_VALID_FRACTION"
    OUTPUT = "OUTPUT"
    SELECTED = "SELECTED"
    REPORT = "REPORT"
    MAX_VIF = "MAX_VIF"
    DIAGNOSTICS = "DIAGNOSTICS"
    DERIVED_FACTORS = "DERIVED_FACTORS"
    SM_SCALE = "SM_SCALE"
    SM_NODATA = "SM_NODATA"

    def displayName(self) -> str:
        return self.tr("Screen factors (correlation analysis)")

    def shortHelpString(self) -> str:
        return self.tr(
            "Required: both lists (SMAP rasters and factor stacks, one per date), or a fetch manifest instead of "
            "both. For QGIS (qgis_process, models) all three are optional parameters because either way is "
            "complete; the dialog labels them with the alternative, and the algorithm names what is missing "
            "before anything runs.\n\n"
            "Ranks the downscaling factors by how strongly they relate to SMAP soil moisture and selects a "
            "non-redundant subset for smdownscale:train.\n\n"
            "For every date, the 1 km factor stack is averaged onto the SMAP grid (each coarse cell gets the mean "
            "of the 1 km pixels whose centers fall in it; land cover becomes class fractions) and paired with the "
            "SMAP value; all dates are pooled. For each continuous factor the table gives Pearson and Spearman "
            "correlation with their p-values; a categorical factor (land cover) is judged as a whole by the "
            "correlation ratio eta of soil moisture over the dominant class of each cell (p-value from one-way "
            "ANOVA), in the Pearson column.\n\n"
            "Factors are ranked by |r| (eta) and taken in that order: a factor whose correlation with an already "
            "selected one exceeds the maximum collinearity is dropped, and the table names the factor it "
            "duplicates. Factors below the minimum |r| and those beyond the maximum number are dropped too.\n\n"
            "Beyond pairwise r (diagnostics, on by default): the variance inflation factor (VIF) of each continuous "
            "factor against the other kept factors, which catches a factor explained by several others together; "
            "the mutual information with soil moisture, which also sees nonlinear relations; and the permutation "
            "importance from a quick random forest (how much the held-out RMSE grows, in m3/m3, when the factor is "
            "shuffled in spatial blocks the forest did not see). With a maximum VIF above 1, the kept factor with "
            "the largest VIF above it is dropped, one at a time. The reason column says why each factor was kept or "
            "dropped.\n\n"
            "Derived factors (optional) are computed from the stack bands when their inputs are present: lst_diff "
            "(lst_day - lst_night), tvdi (NDVI-LST space with a fitted dry edge) and api (from daily "
            "precipitation_lag<d> bands).\n\n"
            "Outputs: a CSV table (factor, kind, n, pearson_r, pearson_p, spearman_r, spearman_p, rank, selected, "
            "reason, and with the diagnostics vif, mutual_info, perm_importance) and the selected factor names, "
            "comma-separated, ready for the 'Factors to use' input of "
            "smdownscale:train in a model. Neighbouring cells are autocorrelated, so p-values are optimistic: "
            "use them to rank, not as proof.\n\n"
            "Units: SMAP soil moisture must be in m3/m3; percent, scaled integers or an undeclared fill value (e.g. "
            "-9999) stop the run with the fix. The advanced parameters SM_SCALE (factor to m3/m3, 0.01 for percent) "
            "and SM_NODATA (a fill value the file does not declare) say how to read SMAP. NDVI-like factors must lie "
            "within -1 to 1.")

    def checkParameterValues(self, parameters, context):
        return check_pair_parameters(self, super().checkParameterValues(parameters, context), parameters, context)

    def initAlgorithm(self, config=None):
        add_pair_inputs(self)
        self.add(QgsProcessingParameterNumber(self.MAX_COLLINEARITY, self.tr("Maximum collinearity |r|"),
                                              QgsProcessingParameterNumber.Type.Double, defaultValue=0.8, minValue=0.01,
                                              maxValue=1.0),
                 self.tr("A factor correlated more strongly than this with a better-ranked selected factor "
                         "is dropped. 1 keeps every factor."))
        self.add(QgsProcessingParameterEnum(self.COLLINEARITY, self.tr("Collinearity filter"),
                                            options=[self.tr("Study's correlation screening"),
                                                     self.tr("Decided by the scale-transfer check"), self.tr("Off")],
                                            defaultValue=0),
                 self.tr("Study's: of two collinear factors the weaker one is dropped, as the reference "
                         "study screens. Scale-transfer check: such a factor is dropped only when a random "
                         "forest trained on grids 2x and 3x coarser than SMAP predicts SMAP's cells no worse "
                         "without it (tree models use collinear factors well). Off: no factor is dropped "
                         "for collinearity."), advanced=True)
        self.add(QgsProcessingParameterNumber(self.MIN_ABS_R, self.tr("Minimum |r| with soil moisture"),
                                              QgsProcessingParameterNumber.Type.Double, defaultValue=0.0, minValue=0.0,
                                              maxValue=0.99),
                 self.tr("Factors correlating more weakly than this with soil moisture are dropped."), advanced=True)
        self.add(QgsProcessingParameterNumber(self.MAX_FACTORS, self.tr("Maximum factors (0 = no limit)"),
                                              QgsProcessingParameterNumber.Type.Integer, defaultValue=0, minValue=0),
                 self.tr("Keep at most this many factors, best ranked first. 0 keeps all that pass."))
        self.add(QgsProcessingParameterNumber(self.MAX_VIF, self.tr("Maximum VIF (0 = off)"),
                                              QgsProcessingParameterNumber.Type.Double, defaultValue=0.0, minValue=0.0),
                 self.tr("Drop, one at a time, the kept continuous factor whose VIF against the other kept "
                         "factors exceeds this (5 or 10 are usual). 0 switches the filter off."))
        self.add(QgsProcessingParameterBoolean(self.DIAGNOSTICS,
                                               self.tr("Compute VIF, mutual information and permutation "
                                                                         "importance"), defaultValue=True),
                 self.tr("Adds the columns vif, mutual_info and perm_importance (a quick random forest; "
                         "needs scikit-learn) and their values in the reasons."), advanced=True)
        add_derived_factors(self, self.tr("Computed from the stack bands when their inputs are present and screened "
                                          "with the other factors."))
        add_min_valid_fraction(self)
        add_sm_reading(self)
        self.add(QgsProcessingParameterFileDestination(self.OUTPUT, self.tr("Screening table"),
                                                       self.tr("CSV files (*.csv)")),
                 self.tr("CSV table with one row per factor, in rank order."))
        self.add(QgsProcessingParameterFileDestination(self.REPORT, self.tr("Screening report"),
                                                       self.tr("HTML files (*.html)"), optional=True,
                                                       createByDefault=True),
                 self.tr("HTML report: factors ranked by their correlation with soil moisture (selected "
                         "and dropped), the correlation heatmap and the table; shown in the Processing "
                         "results viewer."))
        self.addOutput(QgsProcessingOutputString(self.SELECTED, self.tr("Selected factors (comma-separated)")))

    def processAlgorithm(self, parameters, context, feedback):
        from ...algorithms import screen

        diagnostics = self.parameterAsBool(parameters, self.DIAGNOSTICS, context)
        max_vif = self.parameterAsDouble(parameters, self.MAX_VIF, context)
        if diagnostics:
            from .. import dependencies

            dependencies.require(["sklearn"])
        derived = derived_factors(self, parameters, context)
        sm, stacks = pair_input_paths(self, parameters, context)
        output = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        report_path = report_destination(self, parameters, context)
        sm_scale = self.parameterAsDouble(parameters, self.SM_SCALE, context)
        sm_nodata = optional_number(self, parameters, self.SM_NODATA, context)
        reading = sm_reading_text(self, sm_scale, sm_nodata)
        if reading:
            feedback.pushInfo(self.tr("SMAP values read with {}.").format(reading))
        progress, is_canceled = self.callbacks(feedback)
        result = self.run_engine(
            screen.screen_factors, sm, stacks,
            max_collinearity=self.parameterAsDouble(parameters, self.MAX_COLLINEARITY, context),
            min_abs_r=self.parameterAsDouble(parameters, self.MIN_ABS_R, context),
            max_factors=self.parameterAsInt(parameters, self.MAX_FACTORS, context),
            min_valid_fraction=self.parameterAsDouble(parameters, self.MIN_VALID_FRACTION, context),
            output_csv=output, progress=progress, is_canceled=is_canceled, max_vif=max_vif, diagnostics=diagnostics,
            derived=derived, sm_scale=sm_scale, sm_nodata=sm_nodata,
            collinearity=COLLINEARITY_KEYS[self.parameterAsEnum(parameters, self.COLLINEARITY, context)])

        def num(v: float) -> str:
            return "   n/a" if not math.isfinite(v) else f"{v:6.3f}"

        feedback.pushInfo(self.tr("{} coarse samples over {} date(s).").format(result.n_samples, len(result.dates)))
        for name, why in (result.pairs.derived_skipped if result.pairs is not None else {}).items():
            feedback.pushWarning(self.tr("Derived factor {} was not computed: it {}.").format(name, why))
        for label, absent in (result.pairs.dates_left_out if result.pairs is not None else {}).items():
            feedback.pushWarning(self.tr("Date {} was left out: {} missing at every pixel of its factor stack (all "
                                         "under cloud, or without a radar overpass).").format(label, ", ".join(absent)))
        feedback.pushInfo(f"{self.tr('rank'):>4s} {self.tr('factor'):24s} {self.tr('r/eta'):>6s} "
                          f"{self.tr('rho'):>6s}  {self.tr('kept'):4s} {self.tr('reason')}")
        for row in result.rows:
            kept = self.tr("yes") if row["selected"] else self.tr("no")
            feedback.pushInfo(f"{row['rank']:4d} {row['factor'][:24]:24s} {num(row['pearson_r'])} "
                              f"{num(row['spearman_r'])}  {kept:4s} {row['reason']}")
        feedback.pushInfo(self.tr("Selected factors: {}").format(result.selected_text))
        if report_path:
            from ...algorithms import report

            settings = {self.tr("Maximum collinearity"): self.parameterAsDouble(parameters, self.MAX_COLLINEARITY,
                                                                                context),
                        self.tr("Minimum |r|"): self.parameterAsDouble(parameters, self.MIN_ABS_R, context),
                        self.tr("Maximum number of factors"): self.parameterAsInt(parameters, self.MAX_FACTORS,
                                                                                  context) or self.tr("no limit"),
                        self.tr("Maximum VIF"): max_vif or self.tr("off"),
                        self.tr("Collinearity filter"): COLLINEARITY_KEYS[self.parameterAsEnum(
                            parameters, self.COLLINEARITY, context)]}
            if reading:
                settings[self.tr("SMAP values")] = reading
            self.run_engine(report.screen_report, result, report_path, inputs=report_inputs(self, sm, stacks),
                            settings=settings)
        return {self.OUTPUT: output, self.SELECTED: result.selected_text, self.REPORT: report_path}
