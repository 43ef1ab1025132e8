"""Every list a user chooses from, in one place: keys, English labels and the order forms show them in.

As rasterio keeps its option sets in ``rasterio/enums.py``, the engine (``train``, ``residual``, ``derived``,
``gee.server``), the Processing wrappers (their enum parameters), the reports and the Earth Engine mapping
all read these. A key is stable: it is stored in model files and manifests and passed by scripts. A label is
the English text reports and messages show (the wrappers translate their own form labels). ``form`` is the
order a Processing enum lists the keys in: its indices are public too (scripts pass ``MODEL_TYPE=0``), so a
new option is appended there, never inserted.
"""

from __future__ import annotations

from dataclasses import dataclass

from .i18n import N_


@dataclass(frozen=True)
class Choices:
    """One kind of choice.

    Parameters
    ----------
    labels:
        key -> English label, in the order the engine lists the keys (messages such as "use one of ...").
    form:
        The keys in the order a Processing form lists them, when it differs from ``labels``.
    default:
        The key used when none is chosen (engine defaults and the forms' preselected option); empty: the first
        key of the form.
    """

    labels: dict[str, str]
    form: tuple[str, ...] = ()
    default: str = ""

    def __post_init__(self) -> None:
        if self.form and sorted(self.form) != sorted(self.labels):
            raise ValueError(f"form order {self.form} does not list the keys {tuple(self.labels)}")
        if self.default and self.default not in self.labels:
            raise ValueError(f"default {self.default} is not one of the keys {tuple(self.labels)}")

    @property
    def default_key(self) -> str:
        """The default key."""
        return self.default or self.form_keys[0]

    @property
    def default_index(self) -> int:
        """The default's index in form order (a Processing enum's defaultValue)."""
        return self.form_keys.index(self.default_key)

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys, in the engine's order."""
        return tuple(self.labels)

    @property
    def form_keys(self) -> tuple[str, ...]:
        """The keys in form (enum index) order."""
        return self.form or self.keys

    def label(self, key: str) -> str:
        """The English label of ``key``; an unknown key is shown as it is.

        Parameters
        ----------
        key : str
            An option key.

        Returns
        -------
        str
            Its English label, or ``key`` when it is not one of the keys.
        """
        return self.labels.get(key, key)


#: The local chain's regression models (scikit-learn), and "auto", which picks one of them.
AUTO = "auto"
MODELS = Choices({
    "rf": N_("random forest"),
    "svr": N_("support vector regression"),
    "cart": N_("regression tree (CART)"),
    "gbr": N_("gradient boosting (histogram-based)"),
    "extratrees": N_("extra trees"),
    "linear_gbr": N_("linear trend + gradient boosting"),
})
#: What smdownscale:train's Model list offers: every model, then Auto.
MODEL_CHOICES = Choices({
    **MODELS.labels,
    AUTO: N_("random forest unless another model is clearly better in scale transfer and spatial CV"),
})

#: Earth Engine's regressors (smdownscale:downscalegee); ``EE_FUNCTIONS`` in ``gee/server.py`` names them there.
EE_MODELS = Choices({
    "rf": N_("random forest"),
    "cart": N_("regression tree (CART)"),
    "svr": N_("support vector regression (NU_SVR)"),
    "gbt": N_("gradient tree boosting"),
})

#: Residual correction after downscaling (``residual.py``); Earth Engine offers the first and the last only.
RESIDUAL_MODES = Choices({
    "constant": "constant per coarse cell",
    "smooth": "smooth (mass-conserving)",
    "none": "none",
    "atpk": "area-to-point kriging (mass-conserving)",
}, form=("constant", "none", "smooth", "atpk"), default="smooth")
EE_RESIDUAL_MODES = Choices({
    "constant": RESIDUAL_MODES.label("constant"),
    "none": RESIDUAL_MODES.label("none"),
    "smooth": RESIDUAL_MODES.label("smooth"),
}, default="smooth")

#: The within-cell detail of a downscaled map (``detail.py``): the model's own prediction, or the contrast detail
#: (a linear model of local contrasts fitted in training, anchored on the model's cell means). The contrast detail
#: is the default: on the accuracy bench (bench/ACCURACY.md) the default chain closes 0.75-1.37 of the gap with it,
#: 0.42-1.14 with the model's own detail, higher on every scene. Without contrast coefficients in the model (trained
#: before them, or in the study's mode) or without a SMAP raster, the default falls back to the model's own detail.
DETAIL_MODES = Choices({
    "model": "the model's own 1 km prediction",
    "contrast": "linear model of local contrasts (fitted in scale-aware training)",
}, default="contrast")

#: How training's cross-validation holds samples out.
CV_MODES = Choices({
    "spatial": "spatial blocks",
    "dates": "dates held out",
    "random": "random K-fold (optimistic)",
})

#: Factors computed from the bands of a 1 km stack (``derived.py``; screen's and train's "Derived factors").
#: The labels say what each is; the reports and the model metadata show them.
DERIVED_FACTORS = Choices({
    "lst_diff": N_("LST day-night difference (lst_day - lst_night, K)"),
    "tvdi": N_("TVDI from the NDVI-LST space (fitted dry edge; 0 wet .. 1 dry)"),
    "api": N_("antecedent precipitation index (sum of 0.85^d x precipitation_lag<d>, mm)"),
})

#: At which scale the model learns.
TRAINING_MODES = Choices({
    "coarse": "scale-aware: factors aggregated to the SMAP grid, trained on SMAP cells",
    "paper": "study's mode: SMAP resampled bilinearly to 1 km, trained on 1 km pixels",
})

#: Temporal filling of missing factors (``gapfill.TemporalFill``): the default window in days (0 = off). On the gaps
#: bench (bench/GAPS.md) the values of the nearest date within 12 days, moved to the date's level and weighed against
#: the coarse-cell fill (cell means plus the deviation the known factors predict) by how well each recovers hidden
#: factors, predict the cloud-gapped pixels better than that fill alone on every scene (by 0.0002-0.0030 m3/m3
#: ubRMSD; little on the mosaics, whose factors change between dates, where the weights lean to the fill), so it is
#: on by default where there are other dates (a time series, or neighbouring stacks given).
FILL_WINDOW_DAYS = 12

__all__ = ["AUTO", "CV_MODES", "Choices", "DERIVED_FACTORS", "DETAIL_MODES", "EE_MODELS", "EE_RESIDUAL_MODES",
           "FILL_WINDOW_DAYS", "MODELS", "MODEL_CHOICES", "RESIDUAL_MODES", "TRAINING_MODES"]
