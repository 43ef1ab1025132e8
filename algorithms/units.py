"""Value and unit sanity of soil moisture rasters and of factors whose range is known.

Soil moisture inside the engine is volumetric, in m3/m3. A raster in percent (0-100), stored as scaled
integers, or holding a fill value (-9999, 65535, ...) that is not declared as nodata would otherwise
train a model on the wrong numbers without any error. Every soil moisture raster the engine reads
(SMAP for screen, train and residual correction; the reference and the estimate in validate) goes
through :func:`read_soil_moisture` or :func:`check_soil_moisture`, which apply the user's nodata value
and scale factor and refuse values that cannot be m3/m3 with a message naming the file, what was found,
the likely cause and the fix.

Rules (after the declared nodata, and the user's nodata value, are set aside):

* fill: any pixel equal to a fill-like value (:data:`FILL_VALUES`, 255 in byte rasters) or at most
  -999 is an undeclared nodata value; real soil moisture never takes these values.
* not m3/m3 (after scaling): a median above 1, more than 1 % (and at least 3) of the pixels outside -0.05..1 m3/m3
  (products carry small negative noise; volumetric soil moisture cannot exceed 1, saturated organic
  soils reach ~0.9), or any pixel outside -0.5..1.5. When the file's own values lie within 0-100 with
  a median above 1 they are percent and the message says ``SM_SCALE=0.01``; otherwise it names the
  scale factor of scaled integers or an undeclared nodata value.
* scaled twice: with a scale factor other than 1, a 99th percentile below 0.01 m3/m3 (no soil is
  that dry everywhere).

Factors: an NDVI-like index (a name token ndvi, evi, evi2, savi, msavi, osavi, ndwi, ndmi) must lie
within -1..1; more than 1 % of its values outside -1.5..1.5 is refused (MODIS stores NDVI as integers
x 10000). Land surface temperature (a name token ``lst``, as in ``lst_day`` or ``MOD11A1.LST_Day_1km``,
except differences such as ``lst_diff``) is compared at downscale with the range the model was trained on: a
Kelvin-trained model refuses a stack whose LST median lies within -60..60 (degrees Celsius), and the reverse;
in training, every date must give an LST factor in the same unit (:class:`LstUnits`). Converting silently
would hide the mistake in the inputs, so both are refused with the exact conversion.

Any other continuous factor is compared at downscale with the 1st/50th/99th percentiles the model recorded of it
(:func:`check_factor_scale`): dB against linear power is refused (the signs tell them apart); mm against m, km
against m, an offset give a warning, since a far drier or wetter date, a coastal plain against a plateau or a flat
plain against hills come as far off in the same units; another date or season passes.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from osgeo import gdal

from .errors import InputError

#: Values that products and tools write for "no data" (255 only counts in byte rasters).
FILL_VALUES = (-9999.0, -999.0, -9998.0, 65535.0, 32767.0, -32768.0, 9.96921e36, -3.4028235e38)
BYTE_FILL = 255.0
#: At most this value is a fill, whatever its exact number.
FILL_BELOW = -999.0
#: Plausible volumetric soil moisture (m3/m3), with the small negative noise some products carry.
SM_MIN = -0.05
SM_MAX = 1.0
#: Share of pixels allowed outside SM_MIN..SM_MAX; beyond SM_HARD_MIN..SM_HARD_MAX no pixel is allowed.
SM_OUTSIDE_SHARE = 0.01
#: ... and never fewer than this many pixels (a small SMAP window of 20 cells may hold one wet cell at 1.02).
SM_OUTSIDE_MIN_COUNT = 3
SM_HARD_MIN = -0.5
SM_HARD_MAX = 1.5
#: With a scale factor other than 1, a 99th percentile below this means the values were scaled twice.
SM_TOO_SMALL = 0.01
#: Coarse soil moisture holding more than this share of exact zeros (and at least SM_OUTSIDE_MIN_COUNT), among other
#: values whose median is at least SM_ZERO_MEDIAN, holds masked pixels written as 0: SMAP reports no dry soil as 0.
SM_ZERO_SHARE = 0.001
SM_ZERO_MEDIAN = 0.02
#: Pixels read to check a large raster (a decimated read; SMAP rasters are read whole).
SAMPLE_PIXELS = 250_000
#: NDVI-like indices: names holding one of these tokens; their values lie within -1..1.
INDEX_TOKENS = ("ndvi", "evi", "evi2", "savi", "msavi", "msavi2", "osavi", "ndwi", "ndmi")
INDEX_LIMIT = 1.5
INDEX_OUTSIDE_SHARE = 0.01
#: Land surface temperature: Kelvin medians lie within 150..350, degrees Celsius within -60..60.
KELVIN_RANGE = (150.0, 350.0)
CELSIUS_RANGE = (-60.0, 60.0)
KELVIN_OFFSET = 273.15
#: Downscale: above this share of clipped pixels a warning; above REFUSE_CLIPPED the run is refused.
WARN_CLIPPED = 0.05
REFUSE_CLIPPED = 0.5

#: Factor names (besides NDVI-like indices and LST) that band 1 of a soil moisture raster never carries: a raster
#: whose first band is one of them is a factor stack given where soil moisture belongs.
FACTOR_NAMES = frozenset({"landcover", "elevation", "slope", "aspect", "precipitation", "antecedent_precipitation",
                          "vv", "vh", "vv_minus_vh", "s1_angle", "albedo", "albedo_landsat", "sand", "clay",
                          "lst_diff", "tvdi", "dem"})

#: Landsat Collection 2 Level-2 surface temperature ('ST_B10', 'ST_B6'), lower-case, as a pattern to embed.
_LANDSAT_ST = r"st_b(?:10|6)(?![0-9a-z])"

#: Temperature factors (checked as LST: Kelvin or degrees Celsius, no 0 K fill): LST by any name, and the surface,
#: skin, soil and air temperatures products give ('ST_B10' of Landsat Collection 2, 'surface_temp' of SMAP L4, ERA5's
#: 'skin_temperature', 'soil_temperature_level_1' and 'temperature_2m', ERA5 daily's 'mean_2m_air_temperature', GLDAS's
#: 'AvgSurfT_inst' and 'Tair_f_inst'), by name only: a
#: bare 'temperature' or 'temp' may be anything (degree-days, an anomaly, 'temporary').
_LST_RE = re.compile(r"(?<![a-z])(lst(?![a-z])|land_surface_temp|surface_temp|skin_temp|soil_temp|temperature_2m"
                     r"|air_temp|tair(?![a-z])|" + _LANDSAT_ST + r"|avgsurft)|地表温度|地温|气温")
#: Names of differences and statistics of a temperature, which are not temperatures themselves.
_NOT_A_TEMPERATURE = re.compile(r"diff|delta|range|anomaly|trend|accum|(?<![a-z])(std|stddev|stdev|sum|count|var"
                                r"|variance)(?![a-z])|差|距平|指数|积")
#: Landsat Collection 2 Level-2 surface temperature ('ST_B10', 'ST_B6') as stored: Kelvin = DN x scale + offset.
LANDSAT_ST_SCALE, LANDSAT_ST_OFFSET = 0.00341802, 149.0
_LANDSAT_ST_RE = re.compile(r"(?<![a-z])" + _LANDSAT_ST)

_INDEX_RE = re.compile(r"(?<![a-z])(" + "|".join(sorted(INDEX_TOKENS, key=len, reverse=True)) + r")(?![a-z])")


@dataclass(frozen=True)
class SmReading:
    """How a soil moisture raster is read: an extra nodata value and a factor to m3/m3.

    ``scale_param`` / ``nodata_param`` are the parameter names the messages tell the user to set.
    """

    scale: float = 1.0
    nodata: float | None = None
    scale_param: str = "SM_SCALE"
    nodata_param: str = "SM_NODATA"

    def __post_init__(self) -> None:
        if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale) and self.scale > 0):
            raise InputError(f"The scale factor {self.scale_param} must be a positive number (got {self.scale}); "
                             "use 1 for m3/m3 and 0.01 for percent.")
        if self.nodata is not None and not math.isfinite(self.nodata):
            raise InputError(f"The nodata value {self.nodata_param} must be a number (got {self.nodata}); "
                             "leave it empty to use the value declared in the file.")

    @property
    def default(self) -> bool:
        return self.scale == 1.0 and self.nodata is None

    def describe(self) -> str:
        """A short text for logs and reports, e.g. 'scale 0.01, nodata -9999'.

        Returns
        -------
        str
            The scale (noting percent) and, when set, the nodata value.
        """
        parts = [f"scale {self.scale:g}" + (" (percent to m3/m3)" if self.scale == 0.01 else "")]
        if self.nodata is not None:
            parts.append(f"nodata {self.nodata:g}")
        return ", ".join(parts)

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """The values in m3/m3 (float64): the user's nodata value becomes NaN, then the scale is applied.

        Parameters
        ----------
        raw : numpy.ndarray
            The file's values, any shape.

        Returns
        -------
        numpy.ndarray
            float64 values of the same shape in m3/m3, NaN for nodata.
        """
        out = np.array(raw, dtype=np.float64)
        if self.nodata is not None:
            out[np.isclose(out, self.nodata, rtol=1e-7, atol=0.0)] = np.nan
        if self.scale != 1.0:
            out *= self.scale
        return out


#: Values read as they are (m3/m3, the file's own nodata).
AS_IS = SmReading()

#: Metadata items of a downscaled map: the SMAP raster it was corrected with and how it was read.
SOURCE_KEY = "coarse_soil_moisture"
READING_SCALE_KEY = "coarse_soil_moisture_scale"
READING_NODATA_KEY = "coarse_soil_moisture_nodata"


def recorded_reading(metadata: Mapping[str, str], path: str) -> SmReading | None:
    """How downscale read ``path`` as its SMAP raster, from the downscaled map's metadata, or None.

    Parameters
    ----------
    metadata : Mapping[str, str]
        The downscaled map's metadata (``gdal.Dataset.GetMetadata()``).
    path : str
        A soil moisture raster (compared by file name with the one the map records).

    Returns
    -------
    SmReading or None
        The scale and nodata value downscale used when ``path`` is the map's SMAP raster and was not read as it
        is; None otherwise (read ``path`` as it is).
    """
    if metadata.get(SOURCE_KEY) != os.path.basename(path) or READING_SCALE_KEY not in metadata:
        return None
    try:
        scale = float(metadata[READING_SCALE_KEY])
        nodata = float(metadata[READING_NODATA_KEY]) if READING_NODATA_KEY in metadata else None
        return SmReading(scale, nodata, "", "")
    except (ValueError, InputError):
        return None


def _num(v: float) -> str:
    """A value as read by a person: 3 significant digits, whole numbers from 100 on."""
    a = abs(v)
    if a >= 1e6:
        return f"{v:.4g}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def _exact(v: float) -> str:
    """A value to type into a parameter or a command (float32 fill values keep their precision)."""
    return f"{v:.9g}"


def _summary(values: np.ndarray) -> str:
    return f"values {_num(float(values.min()))} to {_num(float(values.max()))}, median {_num(float(np.median(values)))}"


def _fill_mask(raw: np.ndarray, byte: bool) -> np.ndarray:
    mask = raw <= FILL_BELOW
    for f in FILL_VALUES + ((BYTE_FILL,) if byte else ()):
        mask |= np.isclose(raw, f, rtol=1e-6, atol=0.0)
    return mask


def is_fill(value: float, byte: bool = False) -> bool:
    """True for a fill-like value (-9999, 65535, ...; 255 in byte data; anything at most -999).

    Parameters
    ----------
    value : float
        A value read from a file.
    byte : bool
        Whether the data are 8-bit (255 is then a fill).

    Returns
    -------
    bool
        True for a fill-like value.
    """
    return bool(_fill_mask(np.array([float(value)]), byte)[0])


def check_soil_moisture(raw: np.ndarray, path: str, reading: SmReading = AS_IS, role: str = "soil moisture raster",
                        byte: bool = False) -> np.ndarray:
    """Check soil moisture values and return them in m3/m3 (float64, NaN for nodata).

    ``raw`` holds the file's values with the declared nodata already NaN (:func:`raster.read_block`);
    ``reading`` adds a nodata value and a scale factor. Raises InputError (naming ``path``, what was
    found, the likely cause and the fix) for undeclared fill values, percent and other non-m3/m3 values.

    Parameters
    ----------
    raw : numpy.ndarray
        The file's values, any shape, declared nodata already NaN.
    path : str
        The file, named in errors.
    reading : SmReading
        Nodata and scale to apply.
    role : str
        What the file is, for the messages.
    byte : bool
        Whether the band is 8-bit (255 is then a fill).

    Returns
    -------
    numpy.ndarray
        float64 values of the same shape in m3/m3, NaN for nodata.

    Raises
    ------
    InputError
        Undeclared fill values (exact zeros in the coarse soil moisture among them), percent instead of m3/m3,
        values outside the range, or values already scaled too small.
    """
    name = os.path.basename(path) or path
    values = reading.apply(raw)
    ok = np.isfinite(values)
    if not ok.any():
        return values
    raw_ok = np.asarray(raw, dtype=np.float64)[ok]
    fill = _fill_mask(raw_ok, byte)
    sp, npar = reading.scale_param, reading.nodata_param
    if fill.any():
        found, counts = np.unique(raw_ok[fill], return_counts=True)
        top = float(found[np.argmax(counts)])
        n = int(fill.sum())
        real = raw_ok[~fill]
        rest = f"; the other pixels hold {_summary(real)}" if real.size else ""
        param = f"set {npar}={_exact(top)} (advanced parameter), or " if npar else ""
        raise InputError(
            f"The {role} {name} holds {n} pixel(s) ({100.0 * n / raw_ok.size:.1f} %) equal to {_exact(top)}, a fill "
            f"value that is not declared as nodata{rest}. They would be used as soil moisture. Declare the "
            f"nodata value: {param}mark it in the file (gdal_edit.py -a_nodata {_exact(top)} {name}, or QGIS "
            "Raster > Conversion > Translate with 'Assign a specified nodata value to output bands').")
    zero = raw_ok == 0.0
    nzero = int(zero.sum())
    if role == "soil moisture raster" and nzero >= SM_OUTSIDE_MIN_COUNT and zero.mean() > SM_ZERO_SHARE \
            and nzero < zero.size and float(np.median(values[ok][~zero])) >= SM_ZERO_MEDIAN:
        param = f"set {npar}=0 (advanced parameter), or " if npar else ""
        raise InputError(
            f"The {role} {name} holds {nzero} pixel(s) ({100.0 * nzero / zero.size:.1f} %) equal to 0, while the other "
            f"pixels hold {_summary(values[ok][~zero])}: SMAP reports no soil as 0 m3/m3, so these are missing "
            "pixels stored as 0 (Earth Engine writes masked pixels, e.g. water, as 0 unless the export sets noData). "
            "Declare 0 as "
            f"nodata: {param}mark it in the file (gdal_edit.py -a_nodata 0 {name}, or QGIS Raster > Conversion > "
            "Translate with 'Assign a specified nodata value to output bands').")
    v = values[ok]
    median = float(np.median(v))
    found = _summary(v) + (f" after {sp}={reading.scale:g}" if reading.scale != 1.0 else "")
    outside = (v < SM_MIN) | (v > SM_MAX)
    hard = bool(((v < SM_HARD_MIN) | (v > SM_HARD_MAX)).any())
    too_many_outside = outside.mean() > SM_OUTSIDE_SHARE and int(outside.sum()) >= SM_OUTSIDE_MIN_COUNT
    if median > 1.0 or hard or too_many_outside:
        if float(np.median(raw_ok)) > 1.0 and float(raw_ok.min()) >= SM_MIN and float(raw_ok.max()) <= 100.5:
            fix = (f"Give {sp}=0.01 (advanced parameter: scale factor to m3/m3) to convert them, or convert the "
                   "raster" if sp else "Convert the raster")
            raise InputError(
                f"The {role} {name} is not in m3/m3: {found}. These look like percent (0-100). {fix} to m3/m3 "
                "(divide by 100 with the Raster calculator).")
        if median > 1.0:
            hint = ("If the raster stores scaled integers, " + (
                f"give the factor to m3/m3 as {sp} (e.g. {sp}=0.0001 for values x 10000, 0.001 for x 1000, 0.01 "
                "for percent)" if sp else "convert it to m3/m3 (Raster calculator)"))
        else:
            hint = (f"If some of these values mean 'no data', declare that value as nodata "
                    f"({npar + ' or ' if npar else ''}gdal_edit.py -a_nodata); if the values are in other units, "
                    + (f"give the factor to m3/m3 as {sp}" if sp else "convert them to m3/m3"))
        raise InputError(
            f"The {role} {name} is not in m3/m3: {found}, {100.0 * float(outside.mean()):.1f} % of the pixels "
            f"outside {SM_MIN:g} to {SM_MAX:g} m3/m3. {hint}.")
    if reading.scale != 1.0 and float(np.percentile(v, 99)) < SM_TOO_SMALL:
        raise InputError(
            f"The {role} {name} holds {found}: too small for soil moisture in m3/m3, so the values were probably "
            f"already in m3/m3. Set {sp} to 1.")
    return values


def is_byte(ds: gdal.Dataset, band: int = 1) -> bool:
    """Whether band ``band`` of ``ds`` is 8-bit.

    Parameters
    ----------
    ds : gdal.Dataset
        An open raster.
    band : int
        The 1-based band number.

    Returns
    -------
    bool
        True when the band's data type is Byte.
    """
    return ds.GetRasterBand(band).DataType == gdal.GDT_Byte


def read_soil_moisture(ds: gdal.Dataset, path: str, reading: SmReading = AS_IS,
                       role: str = "soil moisture raster") -> np.ndarray:
    """Band 1 of a (coarse) soil moisture raster, whole, checked and in m3/m3 (float64, NaN nodata).

    Parameters
    ----------
    ds : gdal.Dataset
        The open raster.
    path : str
        Its path, named in errors.
    reading : SmReading
        Nodata and scale to apply.
    role : str
        What the file is, for the messages.

    Returns
    -------
    numpy.ndarray
        float64 array of shape (rows, cols) in m3/m3, NaN for nodata.
    """
    from .raster import read_block

    check_not_factor_stack(ds, path, role)
    raw = read_block(ds, 0, ds.RasterYSize, [1], np.float64)[0]
    return check_soil_moisture(raw, path, reading, role, is_byte(ds))


def check_not_factor_stack(ds: gdal.Dataset, path: str, role: str = "soil moisture raster") -> None:
    """Refuse a factor stack given where soil moisture belongs (its band 1 named after a factor: ndvi, lst_day,
    landcover, ..., or a band marked categorical): its values would be read as m3/m3 without complaint.

    Parameters
    ----------
    ds : gdal.Dataset
        The open raster.
    path : str
        Its path, named in errors.
    role : str
        What the file should be, for the message.

    Raises
    ------
    InputError
        Band 1 is named after a factor, or a band carries ``SMD_KIND=categorical``.
    """
    names = [(ds.GetRasterBand(k + 1).GetDescription() or "").strip() for k in range(ds.RasterCount)]
    first = names[0].lower() if names else ""
    base = first.split("=")[0]
    categorical = any(ds.GetRasterBand(k + 1).GetMetadataItem("SMD_KIND") == "categorical"
                      for k in range(ds.RasterCount))
    if not (categorical or base in FACTOR_NAMES or (base and (is_index(base) or is_lst(base)))):
        return
    shown = ", ".join(n or "(unnamed)" for n in names[:8]) + (", ..." if len(names) > 8 else "")
    raise InputError(f"The {role} {os.path.basename(path)} is a factor stack (bands: {shown}), not soil moisture; "
                     f"its band 1 would be read as m3/m3. Give the soil moisture raster here (e.g. the SMAP raster of "
                     "that date, or the estimate downscale wrote), and the factor stack where factors are asked for.")


def sample_band(ds: gdal.Dataset, band: int = 1, max_pixels: int = SAMPLE_PIXELS) -> np.ndarray:
    """About ``max_pixels`` values of a band spread over the raster (a decimated read), declared nodata NaN.

    The blocks the read cached are released, so memory stays that of the block-by-block passes.

    Parameters
    ----------
    ds : gdal.Dataset
        An open raster.
    band : int
        The 1-based band number.
    max_pixels : int
        About how many values to read.

    Returns
    -------
    numpy.ndarray
        float64 array (rows/step, cols/step), NaN for nodata and non-finite values.
    """
    return sample_bands(ds, [band], max_pixels)[0]


def sample_bands(ds: gdal.Dataset, bands: list[int], max_pixels: int = SAMPLE_PIXELS) -> list[np.ndarray]:
    """:func:`sample_band` of several bands in one read (a pixel-interleaved raster's tiles are decoded once).

    Parameters
    ----------
    ds : gdal.Dataset
        An open raster.
    bands : list[int]
        The 1-based band numbers.
    max_pixels : int
        About how many values to read per band.

    Returns
    -------
    list[numpy.ndarray]
        One float64 array (rows/step, cols/step) per band, NaN for nodata and non-finite values, scaled as
        :func:`.raster.read_block` does.
    """
    from .raster import band_mask, band_values

    if not bands:
        return []
    w, h = ds.RasterXSize, ds.RasterYSize
    step = max(1, int(math.ceil(math.sqrt(w * h / max(1, max_pixels)))))
    bw, bh = max(1, w // step), max(1, h // step)
    arr = np.asarray(ds.ReadAsArray(0, 0, w, h, buf_xsize=bw, buf_ysize=bh, band_list=list(bands)),
                     dtype=np.float64).reshape(len(bands), bh, bw)
    ds.FlushCache()  # the read pulled every tile (of every band, when pixel-interleaved) into the block cache
    return [band_values(ds.GetRasterBand(band), arr[k].copy(), band_mask(ds.GetRasterBand(band), 0, 0, w, h, bw, bh))
            for k, band in enumerate(bands)]


def check_soil_moisture_sample(ds: gdal.Dataset, path: str, reading: SmReading = AS_IS,
                               role: str = "soil moisture raster") -> None:
    """:func:`check_soil_moisture` on a decimated read of band 1 (for large rasters).

    Parameters
    ----------
    ds : gdal.Dataset
        The open raster.
    path : str
        Its path, named in errors.
    reading : SmReading
        Nodata and scale to apply.
    role : str
        What the file is, for the messages.
    """
    check_not_factor_stack(ds, path, role)
    check_soil_moisture(sample_band(ds), path, reading, role, is_byte(ds))


# -- factors ----------------------------------------------------------------------------------------

def is_index(name: str) -> bool:
    """True for an NDVI-like index name (ndvi, evi, savi, ndwi, ... as a token: 'ndvi_landsat', 'mod13_evi').

    Parameters
    ----------
    name : str
        A factor name.

    Returns
    -------
    bool
        True when it names an NDVI-like index.
    """
    return bool(_INDEX_RE.search(name.lower()))


def is_lst(name: str) -> bool:
    """True for a land surface temperature factor, or another temperature, not for differences ('lst_diff').

    'lst' as a token anywhere in the name ('lst_day', 'LST_Day_1km', 'MOD11A1.LST_Day_1km' as a MODIS file's name
    gives it, 'landsat_lst'), 'land_surface_temperature' or 地表温度; and other temperatures products name, whose units
    are checked alike: 'ST_B10' (Landsat), 'surface_temp' (SMAP L4), 'skin_temperature', 'soil_temperature_level_1',
    'temperature_2m', 'AvgSurfT_inst', 地温. Not differences or statistics of one ('lst_diff', 'temperature_2m_std',
    昼夜温差).

    Parameters
    ----------
    name : str
        A factor name.

    Returns
    -------
    bool
        True when it names a land surface temperature.
    """
    low = name.lower()
    return bool(_LST_RE.search(low)) and not _NOT_A_TEMPERATURE.search(low)


def check_index_factor(name: str, values: np.ndarray, path: str) -> None:
    """Refuse an NDVI-like factor whose values are not within -1..1 (e.g. MODIS integers x 10000).

    Parameters
    ----------
    name : str
        The factor (band) name.
    values : numpy.ndarray
        Its values, any shape (non-finite values are ignored).
    path : str
        The file, named in the error.

    Raises
    ------
    InputError
        The values are outside -1..1 (e.g. MODIS integers x 10000).
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return
    outside = np.abs(v) > INDEX_LIMIT
    if outside.mean() <= INDEX_OUTSIDE_SHARE:
        return
    hi = float(np.percentile(np.abs(v), 99))
    if hi > 1000:
        hint = ("stored as integers x 10000 (as MODIS MOD13 NDVI/EVI): declare its scale in the file it came from "
                "(gdal_edit.py -scale 0.0001; the values it stands for are then read) or multiply the band by 0.0001")
        lowest = -2000.0  # MODIS MOD13's valid range starts at -2000 (-0.2); its fill is -3000
    elif hi > 100:
        hint = "stored as integers x 1000 or x 255: bring it to -1..1"
        lowest = -1000.0
    else:
        hint = "in percent: multiply the band by 0.01"
        lowest = -100.0
    fix = ""
    if (v <= FILL_BELOW).any() and float(v.min()) < lowest:  # below any index value in those units: a fill
        fix = f", and declare its fill value ({_num(float(v.min()))}) as nodata (gdal_edit.py -a_nodata)"
    raise InputError(
        f"The factor {name} in {os.path.basename(path)} looks like a vegetation index but holds {_summary(v)}, "
        f"{100.0 * float(outside.mean()):.1f} % of them outside -1 to 1. It is probably {hint} (Raster "
        f"calculator){fix}, then rebuild the factor stack with smdownscale:align.")


#: Share of an LST factor's values below the Kelvin range (while its median is in Kelvin) that makes them a fill.
LST_FILL_SHARE = 0.001
#: Medians of a temperature stored as integers (MODIS: Kelvin x 50; Landsat Collection 2: (Kelvin - 149) / 0.00341802),
#: where 0 is the products' fill value.
STORED_LST_RANGE = (5000.0, 65535.0)


def check_lst_fill(name: str, values: np.ndarray, path: str) -> None:
    """Refuse an LST factor in Kelvin that holds values no land surface has (0, from masked pixels exported as 0).

    Earth Engine writes masked pixels of a GeoTIFF export as 0 unless the export sets a nodata value; cloud gaps in
    LST then arrive as 0 K, which would be used as temperatures (and, after resampling, blend into their
    neighbours).

    Parameters
    ----------
    name : str
        The factor (band) name.
    values : numpy.ndarray
        Its values, any shape (nodata NaN; non-finite values are ignored).
    path : str
        The file, named in the error.

    Raises
    ------
    InputError
        The median is in Kelvin and more than :data:`LST_FILL_SHARE` of the values lie below the Kelvin range, or
        it is in :data:`STORED_LST_RANGE` (integers as MODIS and Landsat store them) and more than that share is 0.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return
    median = float(np.median(v))
    zeros = float(np.mean(v == 0.0))
    if STORED_LST_RANGE[0] <= median <= STORED_LST_RANGE[1] and zeros > LST_FILL_SHARE:
        raise InputError(
            f"The factor {name} in {os.path.basename(path)} holds stored integers (median {_num(median)}) but "
            f"{100.0 * zeros:.1f} % of its values are 0, the fill value of these products (no data; Earth Engine "
            "also writes masked pixels as 0 unless the export sets noData): they would be read as a temperature. "
            "Declare 0 as nodata in the file (gdal_edit.py -a_nodata 0 <file>, or QGIS Raster > Conversion > "
            "Translate with 'Assign a specified nodata value to output bands') and convert the band to Kelvin, then "
            f"align the factors again (smdownscale:align).{_stored_hint(name, float(np.median(v[v != 0.0])))}")
    if lst_unit(median) != "K":
        return
    low = v < KELVIN_RANGE[0]
    if low.mean() <= LST_FILL_SHARE:
        return
    fill = float(np.median(v[low]))
    raise InputError(
        f"The factor {name} in {os.path.basename(path)} is in Kelvin (median {_num(float(np.median(v)))}) but "
        f"{100.0 * float(low.mean()):.1f} % of its values lie below {_num(KELVIN_RANGE[0])} K (most often "
        f"{_num(fill)}): no land surface is that cold, so they are missing pixels stored as a value (Earth Engine "
        "writes masked pixels as 0 unless the export sets noData). Declare that value as nodata in the LST file "
        f"(gdal_edit.py -a_nodata {_num(fill)} <file>, or QGIS Raster > Conversion > Translate with 'Assign a "
        "specified nodata value to output bands'), then align the factors again (smdownscale:align).")


def _stored_hint(name: str, median: float) -> str:
    """' <how the product stores it as integers, and its conversion to Kelvin>.' for a median in MODIS's or Landsat's
    stored range, else ''."""
    if _LANDSAT_ST_RE.search(name.lower()) and 20000.0 <= median <= 65535.0:
        return (f" Landsat Collection 2 stores surface temperature as integers: Kelvin = band x "
                f"{LANDSAT_ST_SCALE} + {LANDSAT_ST_OFFSET:.0f} (here a median of "
                f"{_num(median * LANDSAT_ST_SCALE + LANDSAT_ST_OFFSET)} K).")
    if 5000.0 <= median <= 20000.0:
        return " MODIS stores LST as integers x 50: multiply the band by 0.02 to get Kelvin."
    return ""


def lst_unit(values_median: float) -> str | None:
    """'K' or 'C' when a temperature median is clearly in Kelvin or degrees Celsius, else None.

    Parameters
    ----------
    values_median : float
        The median of a temperature factor.

    Returns
    -------
    str or None
        'K', 'C' or None.
    """
    if KELVIN_RANGE[0] <= values_median <= KELVIN_RANGE[1]:
        return "K"
    if CELSIUS_RANGE[0] <= values_median <= CELSIUS_RANGE[1]:
        return "C"
    return None


def check_lst_factor(name: str, values: np.ndarray, path: str, trained: Any) -> None:
    """Refuse an LST factor in degrees Celsius for a model trained on Kelvin, and the reverse.

    ``trained`` is the model's training range [min, max] of the factor (``meta['feature_ranges']``).

    Parameters
    ----------
    name : str
        The factor (band) name.
    values : numpy.ndarray
        Its values, any shape (non-finite values are ignored).
    path : str
        The file, named in the error.
    trained : Any
        The model's [min, max] of the factor; anything else skips the check.

    Raises
    ------
    InputError
        The values are neither Kelvin nor Celsius, or in the other unit than the model's training range.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    try:
        lo, hi = float(trained[0]), float(trained[1])
    except (TypeError, ValueError, IndexError):
        return
    if not v.size or not (math.isfinite(lo) and math.isfinite(hi)):
        return
    model_unit = lst_unit(0.5 * (lo + hi))
    median = float(np.median(v))
    given = lst_unit(median)
    units = {"K": "Kelvin", "C": "degrees Celsius"}
    if model_unit is not None and given is None:
        hint = _stored_hint(name, median)
        raise InputError(
            f"The factor {name} in {os.path.basename(path)} holds {_summary(v)}, which is neither Kelvin nor "
            f"degrees Celsius, but the model was trained on {name} in {units[model_unit]} (training range "
            f"{_num(lo)} to {_num(hi)}).{hint} Convert it, then rebuild the factor stack with smdownscale:align.")
    if model_unit is None and given is not None and not lo <= median <= hi:
        # trained on stored integers (or another unit): the generic scale check is skipped for temperatures
        hint = _stored_hint(name, 0.5 * (lo + hi))
        raise InputError(
            f"The factor {name} in {os.path.basename(path)} holds {_summary(v)}, which is in {units[given]}, but the "
            f"model was trained on {name} in neither Kelvin nor degrees Celsius (training range {_num(lo)} to "
            f"{_num(hi)}). Retrain the model on factors in {units[given]} (convert the training stacks' band, then "
            f"rebuild them with smdownscale:align), or give this stack in the units of training.{hint}")
    if model_unit is None or given is None or given == model_unit:
        return
    fix = ("add 273.15 to the band (Raster calculator: band + 273.15)" if model_unit == "K"
           else "subtract 273.15 from the band (Raster calculator: band - 273.15)")
    raise InputError(
        f"The factor {name} in {os.path.basename(path)} holds {_summary(v)}, which is in {units[given]}, but the "
        f"model was trained on {name} in {units[model_unit]} (training range {_num(lo)} to {_num(hi)}). Convert "
        f"it: {fix}, then rebuild the factor stack with smdownscale:align; or retrain the model on factors in "
        f"{units[given]}.")


class LstUnits:
    """Remembers the unit (Kelvin or degrees Celsius) of each LST factor over the dates of a training set and
    refuses a date whose LST is in the other unit."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, float, str]] = {}

    def check(self, name: str, values: np.ndarray, path: str) -> None:
        """Record the unit of an LST factor (from its median) and refuse it in another unit than the same factor
        had in an earlier file.

        Parameters
        ----------
        name : str
            The factor (band) name; factors that are not LST are ignored.
        values : numpy.ndarray
            Its values, any shape (non-finite values are ignored).
        path : str
            The file, named in the error.

        Raises
        ------
        InputError
            The factor is in Kelvin in one file and in degrees Celsius in another, or holds a fill value
            (:func:`check_lst_fill`).
        """
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if not v.size or not is_lst(name):
            return
        check_lst_fill(name, v, path)
        median = float(np.median(v))
        unit = lst_unit(median)
        if unit is None:
            return
        first = self.seen.setdefault(name, (unit, median, path))
        if first[0] != unit:
            units = {"K": "Kelvin", "C": "degrees Celsius"}
            raise InputError(
                f"The factor {name} is in {units[first[0]]} in {os.path.basename(first[2])} (median {_num(first[1])}) "
                f"but in {units[unit]} in {os.path.basename(path)} (median {_num(median)}); give every date in the "
                f"same unit (Kelvin = degrees Celsius + 273.15, Raster calculator), then rebuild the stacks with "
                "smdownscale:align.")


# -- any continuous factor against the values it was trained on ----------------------------------------

#: A stack's median beyond the training's 1st-99th percentile range widened by this many times its width (at least half
#: the largest magnitude) gives a warning (data with negative values).
SCALE_MARGIN = 1.0
#: Non-negative factors: a 99th percentile this many times larger or smaller than in training gives a warning.
SCALE_RATIO_WARN = 100.0
#: Decibels: a model trained on a factor whose median is below this (dB) refuses small non-negative values (linear
#: power), and one trained on small non-negative values refuses a median below it.
DB_BELOW = -1.0
#: Linear power: the largest 99th percentile of a backscatter in linear power (1 = 0 dB).
LINEAR_AT_MOST = 1.0


def _percentiles(trained: Any) -> tuple[float, float, float] | None:
    try:
        p1, p50, p99 = (float(trained[0]), float(trained[1]), float(trained[2]))
    except (TypeError, ValueError, IndexError):
        return None
    if not all(math.isfinite(p) for p in (p1, p50, p99)) or not p1 <= p50 <= p99:
        return None
    return p1, p50, p99


def check_factor_scale(name: str, values: np.ndarray, path: str, trained: Any) -> str:
    """Refuse a continuous factor in decibels for a model trained on linear power, and the reverse; warn of one whose
    values lie far from the model's training values (other units, scaled otherwise, or another area or season).

    ``trained`` holds the 1st, 50th and 99th percentiles of the factor over the training samples
    (``meta['factor_percentiles']``; s1, s50, s99 are the stack's). Refused, as the values tell the units apart:

    * the training values are all negative with a median below :data:`DB_BELOW` (decibels: p99 < 0, p50 < -1) and the
      stack's non-negative and at most :data:`LINEAR_AT_MOST` (linear power: s1 >= 0, s99 <= 1);
    * the reverse: training values from 0 to at most 1 (p1 >= 0, p99 <= 1), the stack's all negative with a median
      below -1 (s99 < 0, s50 < -1).

    A warning, as a real difference comes as far off in the same units (a far drier or wetter date, a coastal plain
    against a plateau, a flat plain against hills, winter against summer):

    * scale (non-negative data, in training and in the stack: p1 >= 0 and s1 >= 0): s99 is at least
      :data:`SCALE_RATIO_WARN` times p99, or at most 1 / :data:`SCALE_RATIO_WARN` of it (mm against m, m against km,
      percent against fractions, x 10000 integers; the 99th percentile, as precipitation's median may be 0);
    * range (data with negative values): s50 lies outside [p1 - w, p99 + w], w = :data:`SCALE_MARGIN` x
      max(p99 - p1, max(abs(p1), abs(p99)) / 2) (an offset, another unit).

    Parameters
    ----------
    name : str
        The factor (band) name.
    values : numpy.ndarray
        Its values in the stack, any shape (a decimated sample; non-finite values are ignored).
    path : str
        The stack, named in the message.
    trained : Any
        [p1, p50, p99] of the factor in training; anything else skips the check (older models).

    Returns
    -------
    str
        A warning for the log when the values lie far from the training values (the scale or range rule above); ''
        otherwise.

    Raises
    ------
    InputError
        Decibels against linear power, either way: the message names the factor, the stack's typical values, the
        training range and the conversion.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    pct = _percentiles(trained)
    if pct is None or not v.size:
        return ""
    p1, p50, p99 = pct
    median = float(np.median(v))
    s1, s99 = (float(x) for x in np.percentile(v, [1.0, 99.0]))
    def problem_message(detail: str) -> str:
        return (f"The factor {name} in {os.path.basename(path)} holds values of about {_num(median)} (median; 1st to "
                f"99th percentile {_num(s1)} to {_num(s99)}), but the model was trained on {name} from {_num(p1)} to "
                f"{_num(p99)} (1st to 99th percentile, median {_num(p50)}): {detail}")
    if p99 < 0.0 and p50 < DB_BELOW and s1 >= 0.0 and s99 <= LINEAR_AT_MOST:
        detail = ("the training values are all negative (as in decibels) and these are small non-negative values (as "
                  "in linear power)")
        shown = problem_message(detail)
        raise InputError(
            f"{shown}. Convert the band to decibels, dB = 10 x log10(linear) (Raster calculator 10 * log10(band)), "
            "then rebuild the factor stack with smdownscale:align, or retrain the model on factors in linear power.")
    if p1 >= 0.0 and p99 <= LINEAR_AT_MOST and s99 < 0.0 and median < DB_BELOW:
        detail = ("the training values are small non-negative values (as in linear power) and these are all negative "
                  "(as in decibels)")
        shown = problem_message(detail)
        raise InputError(
            f"{shown}. Convert the band to linear power, linear = 10 ^ (dB / 10) (Raster calculator 10 ^ (band / 10)), "
            "then rebuild the factor stack with smdownscale:align, or retrain the model on factors in decibels.")
    if p1 >= 0.0 and s1 >= 0.0:
        if not (p99 > 0.0 and s99 > 0.0) or 1.0 / SCALE_RATIO_WARN < s99 / p99 < SCALE_RATIO_WARN:
            return ""
        ratio = s99 / p99
        detail = (f"its 99th percentile is {_num(ratio)} times larger than in training" if ratio > 1 else
                  f"its 99th percentile is {_num(1.0 / ratio)} times smaller than in training")
        hint = "e.g. mm against m or m against km (x 1000), percent against fractions (x 100), integers x 10000"
    else:
        width = SCALE_MARGIN * max(p99 - p1, 0.5 * max(abs(p1), abs(p99)))
        lo, hi = p1 - width, p99 + width
        if lo <= median <= hi:
            return ""
        detail = f"the median lies outside {_num(lo)} to {_num(hi)}, the training range widened on each side"
        hint = "e.g. another unit, an offset or scaled integers"
    shown = problem_message(detail)
    message = (f"{shown}. The factor may be in other units or scaled otherwise than in training ({hint}), or the date "
               "or area lie far from those the model was trained on (a far drier or wetter, colder or warmer date, a "
               "lower or flatter area); it is used as it is. If its units differ, convert the band (Raster calculator) "
               "and rebuild the factor stack with smdownscale:align; if not, the estimates rest on values the model "
               "never saw: retrain it on data covering them.")
    return message
