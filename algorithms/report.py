"""Self-contained HTML reports for screening, training and validation, with embedded plots.

Each report is one HTML file: inline CSS, figures as base64 PNG drawn with matplotlib's Agg canvas
on :class:`matplotlib.figure.Figure` objects (never pyplot, so no global figure state), and no
external resource. Every text that comes from the user (factor, file, layer, field and station
names) is escaped with :func:`html.escape`. Without matplotlib the report keeps its tables and says
that plots need matplotlib. Reports are written atomically.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import functools
import glob
import html
import io
import math
import os
import warnings
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from .i18n import N_, _t, language, translate
from .options import MODEL_CHOICES
from .raster import atomic_path

#: Above this many points a scatter plot becomes a hexagonal density plot.
HEXBIN_ABOVE = 2000
#: Most stations drawn as time series (the table lists all of them).
MAX_STATION_PANELS = 12
#: Most station pairs listed in the validation report's pair table.
MAX_PAIR_ROWS = 500

KEPT_COLOUR = "#1b7837"
DROPPED_COLOUR = "#bababa"
SCHEME_COLOURS = ["#2166ac", "#b2182b", "#4d9221", "#8073ac"]

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",Arial,sans-serif;margin:24px auto;
max-width:1100px;color:#222;line-height:1.45;padding:0 16px}
h1{font-size:1.6em;border-bottom:2px solid #01665e;padding-bottom:4px}
h2{font-size:1.25em;margin-top:1.6em;color:#01665e}
table{border-collapse:collapse;margin:8px 0 16px;font-size:0.92em}th,td{border:1px solid #ccc;padding:3px 8px}
th{background:#f0f4f3;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.kept td{background:#eef7ee}tr.dropped td{color:#666}tr.pooled td{font-weight:600;background:#f7f7f7}
figure{margin:12px 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:0.9em;color:#555}.note{color:#555;font-size:0.92em}.meta td:first-child{font-weight:600}
code{background:#f4f4f4;padding:0 3px}
"""


# -- formatting --------------------------------------------------------------------------------------

def esc(value: Any) -> str:
    """HTML-escaped text of any value (quotes too, so it is safe inside attributes).

    Parameters
    ----------
    value : Any
        Any value (converted with ``str``).

    Returns
    -------
    str
        The escaped text.
    """
    return html.escape(str(value), quote=True)


def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, (int, float, np.integer, np.floating)) and \
        math.isfinite(float(value))


def fmt(value: Any, digits: int = 4, signed: bool = False) -> str:
    """A number with ``digits`` decimals ('n/a' when missing or not finite).

    Parameters
    ----------
    value : Any
        A number, a bool or anything else.
    digits : int
        Decimals of a float.
    signed : bool
        Whether a float is written with its sign.

    Returns
    -------
    str
        Integers as such, booleans as yes/no (translated), floats with ``digits`` decimals, 'inf'/'-inf', else 'n/a'.
    """
    if isinstance(value, bool):
        return _t("yes") if value else _t("no")
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if not _finite(value):
        return "n/a"
    return f"{float(value):+.{digits}f}" if signed else f"{float(value):.{digits}f}"


def fmt_p(value: Any) -> str:
    """A p-value: '< 1e-300' for underflow, else two significant digits.

    Parameters
    ----------
    value : Any
        A p-value.

    Returns
    -------
    str
        The HTML text ('&lt; 1e-300' for 0), or 'n/a'.
    """
    if not _finite(value):
        return "n/a"
    v = float(value)
    return "&lt; 1e-300" if v <= 0 else f"{v:.2g}"


#: Metric columns of the tables: (key, heading, digits, signed).
METRIC_COLUMNS = (("n", "n", 0, False), ("r", "R", 3, False), ("mae", "MAE", 4, False), ("rmse", "RMSE", 4, False),
                  ("bias", N_("bias"), 4, True), ("ubrmsd", "ubRMSD", 4, False))


def metric_cells(m: Mapping[str, Any]) -> list[str]:
    """Formatted n, R, MAE, RMSE, bias, ubRMSD of a metrics dict (the report's number format).

    Parameters
    ----------
    m : Mapping[str, Any]
        Metrics (:func:`.metrics.metrics`).

    Returns
    -------
    list of str
        The cells, in :data:`METRIC_COLUMNS` order.
    """
    return [fmt(m.get(k), d, s) if k != "n" else str(int(m.get("n") or 0)) for k, _, d, s in METRIC_COLUMNS]


def metrics_label(m: Mapping[str, Any]) -> str:
    """One line of metrics for a plot legend.

    Parameters
    ----------
    m : Mapping[str, Any]
        Metrics (:func:`.metrics.metrics`).

    Returns
    -------
    str
        'n = ..., R = ..., RMSE = ..., bias = ..., ubRMSD = ...'.
    """
    return (f"n = {int(m.get('n') or 0)}, R = {fmt(m.get('r'), 3)}, RMSE = {fmt(m.get('rmse'), 4)}, "
            f"bias = {fmt(m.get('bias'), 4, True)}, ubRMSD = {fmt(m.get('ubrmsd'), 4)}")


def _mpl_text(value: Any, limit: int = 40) -> str:
    """User text for matplotlib: '$' would start mathtext; long names are shortened."""
    s = str(value)
    if len(s) > limit:
        s = s[:limit - 1] + "…"
    return s.replace("$", r"\$")


# -- document ----------------------------------------------------------------------------------------

class Html:
    """A report being assembled; every method escapes the text it is given unless told it is markup."""

    def __init__(self, title: str) -> None:
        self.title = translate(title)
        self.parts: list[str] = [f"<h1>{esc(self.title)}</h1>"]

    def h2(self, text: str) -> None:
        """Append a section heading (escaped).

        Parameters
        ----------
        text : str
            The heading, in English (translated here).
        """
        self.parts.append(f"<h2>{esc(translate(text))}</h2>")

    def p(self, text: str, note: bool = False) -> None:
        """Append a paragraph (escaped); ``note`` styles it as a side note.

        Parameters
        ----------
        text : str
            The paragraph, in English (translated here).
        note : bool
            Whether it is a side note.
        """
        cls = ' class="note"' if note else ""
        self.parts.append(f"<p{cls}>{esc(translate(text))}</p>")

    def raw(self, markup: str) -> None:
        """Append markup as it is (built by this module, never user text).

        Parameters
        ----------
        markup : str
            HTML.
        """
        self.parts.append(markup)

    def keyvalues(self, items: Iterable[tuple[str, Any]]) -> None:
        """Append a two-column table of (key, value) pairs (escaped).

        Parameters
        ----------
        items : Iterable[tuple[str, Any]]
            (key, value) rows; both translated and escaped.
        """
        rows = "".join(f"<tr><td>{esc(translate(k))}</td><td>{esc(translate(v))}</td></tr>" for k, v in items)
        self.parts.append(f'<table class="meta">{rows}</table>')

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[bool] | None = None,
              row_classes: Sequence[str] | None = None, cells_are_markup: bool = False) -> None:
        """A table; cells are escaped unless ``cells_are_markup`` (then the caller escaped them, or they come
        from :func:`fmt`).

        Parameters
        ----------
        headers : Sequence[str]
            Column headings, in English (translated here).
        rows : Iterable[Sequence[str]]
            The rows' cells.
        numeric : Sequence[bool] or None
            Per column, whether it is right-aligned as numbers (None: none).
        row_classes : Sequence[str] or None
            A CSS class per row ('' for none; None: none).
        cells_are_markup : bool
            Whether the cells are already HTML.
        """
        numeric = list(numeric or [False] * len(headers))
        td = ['<td class="num">' if n else "<td>" for n in numeric]
        head = "".join(f"<th>{esc(translate(h))}</th>" for h in headers)
        body = []
        for i, row in enumerate(rows):
            cls = f' class="{esc(row_classes[i])}"' if row_classes and row_classes[i] else ""
            cells = "".join(f"{td[j]}{cell if cells_are_markup else esc(cell)}</td>" for j, cell in enumerate(row))
            body.append(f"<tr{cls}>{cells}</tr>")
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")

    def figure(self, png: bytes | None, caption: str) -> None:
        """Append an embedded PNG figure with its caption; nothing when ``png`` is None.

        Parameters
        ----------
        png : bytes or None
            The PNG image, or None.
        caption : str
            The caption, in English (translated here).
        """
        if png is None:
            return
        data = base64.b64encode(png).decode("ascii")
        caption = translate(caption)
        self.parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{esc(caption)}">'
                          f"<figcaption>{esc(caption)}</figcaption></figure>")

    def document(self) -> str:
        """The whole self-contained HTML document.

        Returns
        -------
        str
            The HTML text, with its style sheet and a line saying when it was written.
        """
        created = dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")
        lang = (language() or "en").replace("_", "-")
        return (f"<!DOCTYPE html>\n<html lang=\"{esc(lang)}\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{esc(self.title)}</title><style>{CSS}</style></head><body>\n"
                + "\n".join(self.parts)
                + f"\n<p class=\"note\">{esc(_t('Written by smdownscale on {0}.', created))}</p>\n</body></html>\n")

    def write(self, path: str) -> str:
        """Write the document to ``path`` atomically; returns ``path``.

        Parameters
        ----------
        path : str
            The HTML file.

        Returns
        -------
        str
            ``path``.

        Raises
        ------
        InputError
            The file cannot be written (:func:`.raster.atomic_path`).
        """
        text = self.document()
        with atomic_path(path) as tmp:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
        return path


def _inputs(doc: Html, inputs: Mapping[str, Sequence[str] | str] | None) -> None:
    if not inputs:
        return
    items = []
    for label, value in inputs.items():
        values = [value] if isinstance(value, str) else list(value)
        if values:
            items.append((label, ", ".join(str(v) for v in values)))
    if items:
        doc.h2(N_("Inputs"))
        doc.keyvalues(items)


# -- figures -----------------------------------------------------------------------------------------

def plots_available() -> bool:
    """Whether matplotlib can be imported (reports then embed figures).

    Returns
    -------
    bool
        True when matplotlib is available.
    """
    try:
        _import_matplotlib()
    except ImportError:
        return False
    return True


def _import_matplotlib() -> tuple[type, type]:
    """(Figure, FigureCanvasAgg); never pyplot."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    return Figure, FigureCanvasAgg


def _quiet(func: Callable[..., bytes | None]) -> Callable[..., bytes | None]:
    """Mute the warnings matplotlib raises while drawing (e.g. deprecations from a newer pyparsing); draw
    with a CJK font when the plot texts are translated (:func:`_p`)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> bytes | None:
        with warnings.catch_warnings(), _font_context():
            warnings.simplefilter("ignore")
            return func(*args, **kwargs)

    return wrapper


#: Fonts with Chinese glyphs, as Windows, macOS and Linux name them (the first one installed is used).
CJK_FONTS = ("Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
             "WenQuanYi Zen Hei", "SimHei", "Heiti SC", "Heiti TC", "STHeiti", "Droid Sans Fallback")

_WINDOWS_FONTS = [os.path.join(os.environ.get("WINDIR") or os.environ.get("SystemRoot") or "C:\\Windows", "Fonts")]
if os.environ.get("LOCALAPPDATA"):  # fonts installed for the user only
    _WINDOWS_FONTS.append(os.path.join(os.environ["LOCALAPPDATA"], "Microsoft", "Windows", "Fonts"))
#: Font files with Chinese glyphs where Windows, macOS and Linux put them, as glob patterns, in order of
#: preference: tried when matplotlib's font list names none of :data:`CJK_FONTS` (the list is built once and
#: kept, so a font installed later, or in a folder matplotlib does not scan, is missing from it).
CJK_FONT_FILES: tuple[str, ...] = (
    # Windows: Microsoft YaHei, SimHei (system-wide or installed for the user only)
    *(os.path.join(folder, name) for folder in _WINDOWS_FONTS for name in ("msyh.ttc", "msyh.ttf", "simhei.ttf")),
    # macOS: PingFang, Heiti
    "/System/Library/Fonts/PingFang.ttc", "/System/Library/AssetsV2/*/*/AssetData/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc", "/System/Library/Fonts/STHeiti Light.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    # Linux: Noto Sans CJK / Source Han Sans, WenQuanYi, Droid Sans Fallback (Debian, Fedora, Arch layouts)
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/**/NotoSansCJK*-Regular.tt?",
    "/usr/share/fonts/**/NotoSansCJK*.otf", "/usr/share/fonts/**/SourceHanSans*.tt?",
    "/usr/share/fonts/**/wqy-microhei.ttc", "/usr/share/fonts/**/wqy-zenhei.ttc",
    "/usr/share/fonts/**/DroidSansFallback*.ttf",
    os.path.join("~", ".local", "share", "fonts", "**", "*CJK*"), os.path.join("~", ".fonts", "**", "*CJK*"),
)
#: A character every Chinese plot text needs a glyph for (土, as in 土壤水分): a font file without it would
#: draw boxes.
_CJK_PROBE = "\u571f"


def _font_files(patterns: Iterable[str]) -> Iterable[str]:
    """The files the patterns name, in pattern order (each file once)."""
    seen: set[str] = set()
    for pattern in patterns:
        for path in sorted(glob.glob(os.path.expanduser(pattern), recursive=True)):
            if path not in seen and os.path.isfile(path):
                seen.add(path)
                yield path


def _draws_chinese(path: str) -> bool:
    """Whether the font file opens and has a glyph for :data:`_CJK_PROBE`."""
    from matplotlib import ft2font

    try:
        return ft2font.FT2Font(path).get_char_index(ord(_CJK_PROBE)) != 0
    except (OSError, RuntimeError, ValueError):
        return False


def _register_font_file(path: str) -> str | None:
    """Add a font file to matplotlib's font list (for this process); its family name, or None."""
    from matplotlib import font_manager

    try:
        font_manager.fontManager.addfont(path)
        return font_manager.FontProperties(fname=path).get_name()
    except (AttributeError, OSError, RuntimeError, ValueError):  # AttributeError: matplotlib < 3.2
        return None


@functools.lru_cache(maxsize=1)
def _installed_cjk_font() -> str | None:
    """A font family with Chinese glyphs matplotlib can draw with, or None.

    One of :data:`CJK_FONTS` in matplotlib's font list, else the first file of :data:`CJK_FONT_FILES` that has
    Chinese glyphs, registered with matplotlib by its path.
    """
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    listed = next((name for name in CJK_FONTS if name in names), None)
    if listed:
        return listed
    for path in _font_files(CJK_FONT_FILES):
        if _draws_chinese(path):
            name = _register_font_file(path)
            if name:
                return name
    return None


def _cjk_font() -> str | None:
    """The font plots are drawn with in Chinese, or None (English plot texts: no font shows the glyphs)."""
    if not str(language() or "").startswith("zh") or not plots_available():
        return None
    return _installed_cjk_font()


def _font_context() -> Any:
    font = _cjk_font()
    if font is None:
        return contextlib.nullcontext()
    import matplotlib

    return matplotlib.rc_context({"font.family": "sans-serif",
                                  "font.sans-serif": [font, *matplotlib.rcParams["font.sans-serif"]]})


def _p(text: str) -> str:
    """A plot text: translated when a CJK font can draw it (:func:`_cjk_font`), else English."""
    return _t(text) if _cjk_font() else text


def _figure(width: float, height: float):
    Figure, FigureCanvasAgg = _import_matplotlib()  # noqa: N806

    try:
        fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    except TypeError:  # matplotlib < 3.5
        fig = Figure(figsize=(width, height), dpi=100, constrained_layout=True)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _no_plots_note(doc: Html) -> None:
    if not plots_available():
        doc.p("Plots need the Python package matplotlib, which is not installed; the tables hold every number.",
              note=True)


@_quiet
def ranked_bars_png(rows: Sequence[Mapping[str, Any]]) -> bytes | None:
    """Horizontal bars of |r| (eta for categorical factors) in rank order, coloured kept / dropped.

    Parameters
    ----------
    rows : Sequence[Mapping[str, Any]]
        Screening rows in rank order ('factor', 'kind', 'pearson_r', 'rank', 'selected').

    Returns
    -------
    bytes or None
        The PNG, or None without matplotlib or rows.
    """
    if not plots_available() or not rows:
        return None
    from matplotlib.patches import Patch

    n = len(rows)
    fig = _figure(8.0, 1.2 + 0.32 * n)
    ax = fig.subplots()
    values = [abs(float(r["pearson_r"])) if _finite(r["pearson_r"]) else 0.0 for r in rows]
    colours = [KEPT_COLOUR if r["selected"] else DROPPED_COLOUR for r in rows]
    pos = np.arange(n)
    ax.barh(pos, values, color=colours, edgecolor="#555", linewidth=0.5)
    ax.set_yticks(pos)
    ax.set_yticklabels([_mpl_text(f"{r['rank']}. {r['factor']}" + (" (eta)" if r["kind"] == "categorical" else ""))
                        for r in rows])
    ax.invert_yaxis()
    for p, v in zip(pos, values):
        ax.text(v + 0.01, p, f"{v:.3f}", va="center", fontsize=8)
    ax.set_xlim(0, max(1.0, max(values) + 0.12))
    ax.set_xlabel(_p("|r| with SMAP soil moisture (eta for categorical factors)"))
    ax.legend(handles=[Patch(color=KEPT_COLOUR, label=_p("selected")),
                       Patch(color=DROPPED_COLOUR, label=_p("dropped"))], loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


@_quiet
def heatmap_png(names: Sequence[str], matrix: np.ndarray) -> bytes | None:
    """Association matrix as a heatmap (-1..1, diverging colours), values written in the cells.

    Parameters
    ----------
    names : Sequence[str]
        The row and column names.
    matrix : numpy.ndarray
        The (n, n) association matrix, NaN where undefined.

    Returns
    -------
    bytes or None
        The PNG, or None without matplotlib or names.
    """
    if not plots_available() or not len(names):
        return None
    n = len(names)
    size = max(4.5, min(16.0, 1.6 + 0.55 * n))
    fig = _figure(size + 1.2, size)
    ax = fig.subplots()
    im = ax.imshow(np.ma.masked_invalid(matrix), cmap="RdBu_r", vmin=-1, vmax=1)
    labels = [_mpl_text(s, 24) for s in names]
    ax.set_xticks(range(n))
    ax.set_xticklabels(labels, rotation=45, ha="right")
    ax.set_yticks(range(n))
    ax.set_yticklabels(labels)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                v = matrix[i, j]
                if math.isfinite(v):
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7 if n > 12 else 8,
                            color="white" if abs(v) > 0.6 else "black")
    fig.colorbar(im, ax=ax, shrink=0.8, label=_p("r (signed); eta or Cramér's V with categorical factors"))
    return _png(fig)


@_quiet
def importance_png(importances: Mapping[str, float]) -> bytes | None:
    """A bar chart of the importances, largest first, as PNG bytes; None without matplotlib or importances.

    Parameters
    ----------
    importances : Mapping[str, float]
        Feature name -> importance.

    Returns
    -------
    bytes or None
        The PNG, or None.
    """
    if not plots_available() or not importances:
        return None
    ranked = sorted(importances.items(), key=lambda kv: -kv[1])
    n = len(ranked)
    fig = _figure(8.0, 1.2 + 0.3 * n)
    ax = fig.subplots()
    pos = np.arange(n)
    values = [v for _, v in ranked]
    ax.barh(pos, values, color="#2166ac")
    ax.set_yticks(pos)
    ax.set_yticklabels([_mpl_text(k) for k, _ in ranked])
    ax.invert_yaxis()
    for p, v in zip(pos, values):
        ax.text(v, p, f" {v:.3f}", va="center", fontsize=8)
    ax.set_xlim(0, max(values) * 1.18 if max(values) > 0 else 1)
    ax.set_xlabel(_p("impurity-based importance (sums to 1)"))
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


@_quiet
def cv_png(schemes: Sequence[tuple[str, Mapping[str, Any]]]) -> bytes | None:
    """Pooled metrics per cross-validation scheme (bars) with each fold's value (dots).

    Parameters
    ----------
    schemes : Sequence[tuple[str, Mapping[str, Any]]]
        (label, part) per scheme (:func:`cv_schemes`), each part with 'pooled' and optional 'per_fold' metrics.

    Returns
    -------
    bytes or None
        The PNG, or None without matplotlib or schemes.
    """
    if not plots_available() or not schemes:
        return None
    keys = (("r", "R"), ("mae", "MAE"), ("rmse", "RMSE"), ("ubrmsd", "ubRMSD"), ("bias", "bias"))
    fig = _figure(10.0, 3.4)
    axes = fig.subplots(1, len(keys))
    pos = np.arange(len(schemes))
    for ax, (key, label) in zip(axes, keys):
        for s, (_name, part) in enumerate(schemes):
            pooled = part["pooled"].get(key)
            colour = SCHEME_COLOURS[s % len(SCHEME_COLOURS)]
            if _finite(pooled):
                ax.bar(s, pooled, 0.75, color=colour, alpha=0.75)
            folds = [f.get(key) for f in part.get("per_fold", []) if _finite(f.get(key))]
            if folds:
                ax.plot(np.full(len(folds), s), folds, "o", color="black", ms=3)
        ax.set_xticks(pos)
        ax.set_xticklabels([_mpl_text(short_scheme_name(name), 14) for name, _ in schemes], fontsize=8)
        ax.set_xlim(-0.6, len(schemes) - 0.4)
        ax.set_title(label + (" (m3/m3)" if key != "r" else ""), fontsize=10)
        ax.axhline(0, color="#888", lw=0.6)
        ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def short_scheme_name(label: str) -> str:
    """'spatial blocks (GroupKFold)' -> 'spatial', 'random K-fold (optimistic)' -> 'random'.

    Parameters
    ----------
    label : str
        A scheme's label.

    Returns
    -------
    str
        Its first word.
    """
    return label.split()[0] if label else label


def scatter_figure(reference: np.ndarray, estimate: np.ndarray, m: Mapping[str, Any], xlabel: str,
                   ylabel: str = N_("estimate (m3/m3)")) -> Any:
    """The figure of :func:`scatter_png` (None without matplotlib or pairs).

    The frame is square and holds every pair; the 1:1 line runs from corner to corner inside it (clipped to
    the axes); the legend (1:1 line and metrics) sits below the frame, so it never covers a point.

    Parameters
    ----------
    reference, estimate : numpy.ndarray
        Paired values (non-finite pairs left out).
    m : Mapping[str, Any]
        Their metrics, shown in the legend.
    xlabel, ylabel : str
        Axis labels, in English (translated here).

    Returns
    -------
    Any
        A matplotlib Figure, or None.
    """
    if not plots_available():
        return None
    x = np.asarray(reference, dtype=np.float64)
    y = np.asarray(estimate, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if not x.size:
        return None
    fig = _figure(6.4, 6.4)
    ax = fig.subplots()
    lo = float(min(x.min(), y.min()))
    hi = float(max(x.max(), y.max()))
    pad = max(0.01, 0.04 * (hi - lo))
    lo, hi = lo - pad, hi + pad
    if x.size > HEXBIN_ABOVE:
        hb = ax.hexbin(x, y, gridsize=60, extent=(lo, hi, lo, hi), mincnt=1, cmap="viridis", bins="log")
        fig.colorbar(hb, ax=ax, label=_p("pairs per hexagon (log)"), shrink=0.8)
    else:
        ax.scatter(x, y, s=14 if x.size < 300 else 6, alpha=0.75, color="#2166ac", edgecolors="none")
    ax.plot([lo, hi], [lo, hi], color="#b2182b", lw=1.2, label="1:1", clip_on=True, scalex=False, scaley=False)
    ax.plot([], [], " ", label=_mpl_text(metrics_label(m), 200))
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(_mpl_text(_p(xlabel), 80))
    ax.set_ylabel(_mpl_text(_p(ylabel), 80))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, frameon=False, ncol=1)
    ax.grid(alpha=0.3)
    return fig


@_quiet
def scatter_png(reference: np.ndarray, estimate: np.ndarray, m: Mapping[str, Any], xlabel: str,
                ylabel: str = "estimate (m3/m3)") -> bytes | None:
    """Estimate against reference with the 1:1 line and the metrics in the legend (hexbin for many points).

    Parameters
    ----------
    reference, estimate : numpy.ndarray
        Paired values (non-finite pairs left out).
    m : Mapping[str, Any]
        Their metrics, shown in the legend.
    xlabel, ylabel : str
        Axis labels, in English.

    Returns
    -------
    bytes or None
        The PNG, or None without matplotlib or pairs.
    """
    fig = scatter_figure(reference, estimate, m, xlabel, ylabel)
    return None if fig is None else _png(fig)


def error_limit(diff: np.ndarray) -> float:
    """Half the colour range of an error map: the 98th percentile of |difference| (at least 0.01 m3/m3).

    Parameters
    ----------
    diff : numpy.ndarray
        Estimate minus reference, m3/m3, any shape.

    Returns
    -------
    float
        The limit, m3/m3.
    """
    d = np.abs(np.asarray(diff, dtype=np.float64))
    d = d[np.isfinite(d)]
    return max(0.01, float(np.percentile(d, 98))) if d.size else 0.01


def error_map_figure(diff: np.ndarray, extent: Sequence[float] | None = None) -> Any:
    """The figure of :func:`error_map_png` (None without matplotlib or values).

    Parameters
    ----------
    diff : numpy.ndarray
        (rows, cols) estimate minus reference, m3/m3, NaN for nodata.
    extent : Sequence[float] or None
        (left, right, bottom, top) of the map in its CRS (None: pixel coordinates).

    Returns
    -------
    Any
        A matplotlib Figure, or None.
    """
    if not plots_available():
        return None
    d = np.asarray(diff, dtype=np.float64)
    if d.ndim != 2 or not np.isfinite(d).any():
        return None
    limit = error_limit(d)
    height, width = d.shape
    aspect = height / width if width else 1.0
    fig = _figure(6.8, min(9.0, max(3.0, 5.6 * aspect + 1.0)))
    ax = fig.subplots()
    im = ax.imshow(np.ma.masked_invalid(d), cmap="BrBG", vmin=-limit, vmax=limit, interpolation="nearest",
                   extent=None if extent is None else tuple(extent))
    fig.colorbar(im, ax=ax, label=_p("estimate minus reference (m3/m3)"), extend="both", shrink=0.85)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


@_quiet
def error_map_png(diff: np.ndarray, extent: Sequence[float] | None = None) -> bytes | None:
    """Map of estimate minus reference: brown where the estimate is drier, blue-green where it is wetter,
    the colour range symmetric about 0 (see :func:`error_limit`), nodata transparent.

    Parameters
    ----------
    diff : numpy.ndarray
        (rows, cols) estimate minus reference, m3/m3, NaN for nodata.
    extent : Sequence[float] or None
        (left, right, bottom, top) of the map (None: pixel coordinates).

    Returns
    -------
    bytes or None
        The PNG, or None without matplotlib or values.
    """
    fig = error_map_figure(diff, extent)
    return None if fig is None else _png(fig)


@_quiet
def station_series_png(pairs: Sequence[Any]) -> bytes | None:
    """Observed daily means and estimates over time, one panel per station (stations with 2+ dates).

    Parameters
    ----------
    pairs : Sequence[Any]
        Station pairs (:class:`.validate.StationPair`); only status 'ok' counts.

    Returns
    -------
    bytes or None
        The PNG (at most :data:`MAX_STATION_PANELS` panels, most observed stations first), or None.
    """
    if not plots_available():
        return None
    by_station: dict[str, list[Any]] = {}
    for p in pairs:
        if p.status == "ok":
            by_station.setdefault(p.station, []).append(p)
    multi = sorted((s for s, ps in by_station.items() if len({p.date for p in ps}) > 1),
                   key=lambda s: (-len(by_station[s]), s))[:MAX_STATION_PANELS]
    if not multi:
        return None
    ncol = min(3, len(multi))
    nrow = math.ceil(len(multi) / ncol)
    fig = _figure(4.0 * ncol, 2.6 * nrow)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, sharey=True, squeeze=False)).ravel()
    for ax, station in zip(axes, multi):
        ps = sorted(by_station[station], key=lambda p: p.date)
        days = [p.date for p in ps]
        ax.plot(days, [p.observed for p in ps], "o-", color="#333", ms=4, lw=1, label=_p("observed"))
        ax.plot(days, [p.estimated for p in ps], "s--", color="#2166ac", ms=4, lw=1, label=_p("estimate"))
        ax.set_title(_mpl_text(station), fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    for ax in axes[len(multi):]:
        ax.set_visible(False)
    axes[0].set_ylabel(_p("soil moisture (m3/m3)"))
    axes[0].legend(fontsize=8)
    return _png(fig)


@_quiet
def dates_png(rows: Sequence[Mapping[str, Any]]) -> bytes | None:
    """R and ubRMSD per date and source.

    Parameters
    ----------
    rows : Sequence[Mapping[str, Any]]
        Rows with 'source', 'date' and the metrics; station rows are left out.

    Returns
    -------
    bytes or None
        The PNG, or None without matplotlib or without a source on two dates or more.
    """
    if not plots_available():
        return None
    sources: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        if r.get("date") and not str(r["source"]).startswith("station:"):
            sources.setdefault(str(r["source"]), []).append(r)
    if not sources or max(len(v) for v in sources.values()) < 2:
        return None
    fig = _figure(9.0, 3.4)
    ax_r, ax_u = fig.subplots(1, 2)
    for k, (source, rs) in enumerate(sorted(sources.items())):
        rs = sorted(rs, key=lambda r: str(r["date"]))
        days = [dt.date.fromisoformat(str(r["date"])) for r in rs]
        colour = SCHEME_COLOURS[k % len(SCHEME_COLOURS)]
        ax_r.plot(days, [r["r"] if _finite(r["r"]) else np.nan for r in rs], "o-", color=colour,
                  label=_mpl_text(source))
        ax_u.plot(days, [r["ubrmsd"] if _finite(r["ubrmsd"]) else np.nan for r in rs], "o-", color=colour,
                  label=_mpl_text(source))
    ax_r.set_title(_p("R per date"), fontsize=10)
    ax_u.set_title(_p("ubRMSD per date (m3/m3)"), fontsize=10)
    for ax in (ax_r, ax_u):
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax_r.legend(fontsize=8)
    return _png(fig)


# -- screening ---------------------------------------------------------------------------------------

#: Optional screening columns (variance inflation, mutual information, permutation importance): heading, digits.
DIAGNOSTIC_HEADINGS = {"vif": ("VIF", 2), "mutual_info": (N_("mutual information"), 3),
                       "perm_importance": (N_("permutation importance (m3/m3)"), 4)}


def factor_matrix(pairs: Any, order: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
    """Association between every two factors of coarse pairs and with soil moisture (last row and column).

    Two continuous factors (or a continuous factor and soil moisture): Pearson r, signed. With a
    categorical factor (its dominant class per cell): the correlation ratio eta, or Cramér's V between
    two categorical factors; both in [0, 1]. NaN where a side is constant.

    Parameters
    ----------
    pairs : Any
        Coarse pairs (:class:`.features.Pairs`).
    order : Sequence[str] or None
        The factors in the order wanted (None: the pairs' order).

    Returns
    -------
    tuple
        (factor names, ordered as ``order`` then the rest, plus soil moisture last; the (n, n) float64 matrix).
    """
    from .features import CATEGORICAL
    from .screen import correlation_ratio, cramers_v

    cols: dict[str, tuple[bool, np.ndarray]] = {}
    j = 0
    for spec in pairs.specs:
        if spec.kind == CATEGORICAL:
            width = len(spec.classes)
            block = pairs.X[:, j:j + width]
            cols[spec.name] = (True, np.asarray(spec.classes)[np.argmax(block, axis=1)])
        else:
            width = 1
            cols[spec.name] = (False, pairs.X[:, j].astype(np.float64))
        j += width
    names = [n for n in (order or []) if n in cols] + [n for n in cols if n not in (order or [])]
    sm_label = "soil moisture"
    items = [cols[n] for n in names] + [(False, np.asarray(pairs.y, dtype=np.float64))]
    n = len(items)
    mat = np.full((n, n), np.nan)

    def assoc(a: tuple[bool, np.ndarray], b: tuple[bool, np.ndarray]) -> float:
        (ca, va), (cb, vb) = a, b
        if not ca and not cb:
            if np.ptp(va) <= 0 or np.ptp(vb) <= 0:
                return math.nan
            return float(np.corrcoef(va, vb)[0, 1])
        if ca and cb:
            return cramers_v(va, vb)
        cat, cont = (va, vb) if ca else (vb, va)
        return correlation_ratio(cat, cont)

    for i in range(n):
        for k in range(i, n):
            mat[i, k] = mat[k, i] = assoc(items[i], items[k])
    return names + [sm_label], mat


def screen_report(result: Any, path: str, inputs: Mapping[str, Sequence[str] | str] | None = None,
                  settings: Mapping[str, Any] | None = None) -> str:
    """Screening report: ranked |r| bars (kept / dropped), correlation heatmap, the full table.

    ``result`` is a :class:`screen.ScreenResult`; its ``pairs`` (when present) give the heatmap.

    Parameters
    ----------
    result : Any
        The screening result.
    path : str
        The HTML file to write.
    inputs : Mapping[str, Sequence[str] or str] or None
        Input label -> file(s), listed in the report.
    settings : Mapping[str, Any] or None
        The settings used, listed in the report.

    Returns
    -------
    str
        ``path``.
    """
    doc = Html("Factor screening")
    doc.p(f"{result.n_samples} coarse samples (SMAP cells with every factor valid) over {len(result.dates)} "
          f"date(s): {', '.join(result.dates)}.")
    doc.raw(f"<p><b>{esc(_t('Selected factors:'))}</b> " + esc(", ".join(result.selected)) + "</p>")
    _inputs(doc, inputs)
    if settings:
        doc.h2(N_("Settings"))
        doc.keyvalues((k, v) for k, v in settings.items())
    _no_plots_note(doc)
    doc.h2(N_("Ranking"))
    doc.figure(ranked_bars_png(result.rows), "Factors in rank order by |r| with SMAP soil moisture (eta for "
                                             "categorical factors); green: selected, grey: dropped.")
    pairs = getattr(result, "pairs", None)
    if pairs is not None:
        order = [r["factor"] for r in result.rows]
        names, mat = factor_matrix(pairs, order)
        doc.h2("Correlation between factors and soil moisture")
        doc.figure(heatmap_png(names, mat), "Pearson r between continuous factors and with soil moisture (last "
                                            "row); eta (continuous x categorical) or Cramér's V (categorical x "
                                            "categorical), from 0 to 1, with land cover and other class factors.")
    doc.h2("Screening table")
    extra = [c for c in getattr(result, "columns", ()) if c in DIAGNOSTIC_HEADINGS]
    headers = [N_("rank"), N_("factor"), N_("kind"), "r / eta", "p", "Spearman rho", "p (rho)"] + \
        [DIAGNOSTIC_HEADINGS[c][0] for c in extra] + [N_("selected"), N_("reason")]
    rows = []
    classes = []
    for r in result.rows:
        rows.append([str(r["rank"]), esc(r["factor"]), esc(_t(r["kind"])), fmt(r["pearson_r"], 3),
                     fmt_p(r["pearson_p"]), fmt(r["spearman_r"], 3), fmt_p(r["spearman_p"])]
                    + [fmt(r.get(c), DIAGNOSTIC_HEADINGS[c][1]) for c in extra]
                    + [_t("yes") if r["selected"] else _t("no"),
                       esc("; ".join(translate(x) for x in str(r["reason"]).split("; ")) if r["reason"] else "")])
        classes.append("kept" if r["selected"] else "dropped")
    doc.table(headers, rows, [True, False, False, True, True, True, True] + [True] * len(extra) + [False, False],
              classes, cells_are_markup=True)
    doc.p("p-values treat SMAP cells as independent; neighbouring cells are spatially autocorrelated, so read "
          "them as a ranking aid rather than a significance test.", note=True)
    return doc.write(path)


# -- training ----------------------------------------------------------------------------------------



def cv_schemes(cv: Mapping[str, Any] | None) -> list[tuple[str, Mapping[str, Any]]]:
    """(label, part) of every cross-validation scheme in model metadata, spatial first.

    Parameters
    ----------
    cv : Mapping[str, Any] or None
        The 'cv' entry of model metadata.

    Returns
    -------
    list of tuple
        (label, part) per scheme with pooled metrics.
    """
    if not cv:
        return []
    out = []
    for key, part in cv.items():
        if not isinstance(part, Mapping) or "pooled" not in part:
            continue
        label = str(part.get("method") or key)
        if part.get("label"):
            label += f" ({part['label']})"
        out.append((label, part))
    out.sort(key=lambda kv: 0 if "spatial" in kv[0] else 1)
    return out


#: Labels the engine writes and the reports show (statuses, factor kinds, cross-validation schemes).
ENGINE_LABELS = (N_("ok"), N_("outside"), N_("nodata"), N_("continuous"), N_("categorical"),
                 N_("spatial blocks (GroupKFold)"), N_("dates held out (GroupKFold)"), N_("random K-fold"),
                 N_("optimistic"))


def _scheme_text(part: Mapping[str, Any], label: str) -> str:
    """A cross-validation scheme's name in the report's language ('spatial blocks (GroupKFold)', ...)."""
    method = part.get("method")
    if not method:
        return translate(label)
    return _t(str(method)) + (f" ({_t(str(part['label']))})" if part.get("label") else "")


def train_report(meta: Mapping[str, Any], path: str, inputs: Mapping[str, Sequence[str] | str] | None = None) -> str:
    """Training report: model summary, cross-validation table (pooled and per fold) and plot, importances.

    Parameters
    ----------
    meta : Mapping[str, Any]
        The model's metadata.
    path : str
        The HTML file to write.
    inputs : Mapping[str, Sequence[str] or str] or None
        Input label -> file(s), listed in the report.

    Returns
    -------
    str
        ``path``.
    """
    model_type = str(meta.get("model_type", ""))
    doc = Html("Model training")
    dates = [str(d) for d in meta.get("dates", [])]
    doc.keyvalues([
        (N_("Model"), _t(MODEL_CHOICES.label(model_type))),
        (N_("Training samples"), _t("{0} coarse cells x dates", meta.get("n_samples", "n/a"))
         + (_t(" ({0} used for the fit)", meta["fit_samples"]) if meta.get("fit_samples") not in
            (None, meta.get("n_samples")) else "")),
        (N_("Dates"), f"{len(dates)}: {', '.join(dates)}"),
        (N_("Factors"), ", ".join(f["name"] + (_t(" (categorical)") if f.get("kind") == "categorical" else "")
                                  for f in meta.get("factors", []))),
        (N_("Features"), ", ".join(meta.get("features", []))),
        (N_("Parameters"), ", ".join(f"{k}={v}" for k, v in sorted((meta.get("params") or {}).items()))),
        (N_("Soil moisture range in training"), " - ".join(fmt(v, 4) for v in meta.get("target_range", [])) + " m3/m3"),
    ])
    sm_in = meta.get("soil_moisture_input") or {}
    if sm_in.get("scale", 1.0) != 1.0 or sm_in.get("nodata") is not None:
        parts = [_t("scale {0} to m3/m3", f"{sm_in.get('scale', 1.0):g}")]
        if sm_in.get("nodata") is not None:
            parts.append(_t("nodata {0}", f"{sm_in['nodata']:g}"))
        doc.keyvalues([(N_("SMAP values read with"), ", ".join(parts))])
    aug = meta.get("noise_augmentation")
    if aug:
        doc.keyvalues([(N_("Factor noise augmentation"),
                        _t("{0} noisy copies of the samples, noise {1} x each factor's 1 km noise (standard "
                           "deviation: {2})", aug.get("copies"), f"{aug.get('scale'):g}",
                           ", ".join(f"{k} {fmt(v, 4)}" for k, v in (aug.get("factor_noise_sd") or {}).items())))])
    dropped = meta.get("dropped_factors") or {}
    if dropped:
        doc.p(_t("Left out of the model: {0}.", "; ".join(f"{k} ({translate(v)})" for k, v in dropped.items())),
              note=True)
    _inputs(doc, inputs)
    _no_plots_note(doc)
    cv = meta.get("cv")
    schemes = cv_schemes(cv)
    doc.h2(N_("Cross-validation"))
    if not schemes:
        doc.p("No cross-validation was run (0 folds).")
    else:
        doc.p("Spatial folds hold out whole blocks of SMAP cells and estimate how the model does on unseen "
              "ground. Random K-fold mixes neighbouring cells between training and testing and is optimistic. "
              "Soil moisture metrics in m3/m3.", note=True)
        if cv.get("n_estimators") is not None and cv["n_estimators"] < (meta.get("params") or {}).get(
                "n_estimators", 0):
            doc.p(f"Cross-validation forests use {cv['n_estimators']} trees; the saved model "
                  f"{meta['params']['n_estimators']}.", note=True)
        headers = [N_("scheme"), N_("fold")] + [h for _, h, _, _ in METRIC_COLUMNS]
        rows, classes = [], []
        for label, part in schemes:
            extra = []
            if part.get("blocks"):
                extra.append(_t("{0} blocks of {1} x {1} cells", part["blocks"], part.get("block_cells")))
            rows.append([esc(_scheme_text(part, label) + (f"; {', '.join(extra)}" if extra else "")), _t("pooled")]
                        + metric_cells(part["pooled"]))
            classes.append("pooled")
            for f in part.get("per_fold", []):
                rows.append(["", str(f.get("fold", ""))] + metric_cells(f))
                classes.append("")
        doc.table(headers, rows, [False, False] + [True] * len(METRIC_COLUMNS), classes, cells_are_markup=True)
        doc.figure(cv_png(schemes), "Pooled cross-validation metrics per scheme (bars) and the value of each fold "
                                    "(dots).")
    doc.h2("Feature importance")
    imp = meta.get("feature_importances")
    if imp:
        doc.figure(importance_png(imp), "Impurity-based importance of each model input (sums to 1).")
        ranked = sorted(imp.items(), key=lambda kv: -kv[1])
        doc.table([N_("feature"), N_("importance")], [[esc(k), fmt(v, 4)] for k, v in ranked], [False, True],
                  cells_are_markup=True)
    else:
        doc.p(_t("The {0} has no built-in feature importance.", _t(MODEL_CHOICES.label(model_type))),
              note=True)
    return doc.write(path)


# -- validation --------------------------------------------------------------------------------------

class PairSampler:
    """Keeps an evenly spaced subsample (at most ``max_points``) of the (estimate, reference) pairs it is fed.

    Call it with blocks of values (any shape); pairs where either side is not finite are skipped.
    Every ``stride``-th valid pair is kept; the stride doubles whenever the sample would grow too large,
    so memory stays bounded and the result does not depend on the block size.
    """

    def __init__(self, max_points: int = 20000) -> None:
        self.max_points = max(2, int(max_points))
        self.stride = 1
        self.seen = 0
        self._idx: list[np.ndarray] = []
        self._x: list[np.ndarray] = []
        self._y: list[np.ndarray] = []
        self._count = 0

    def __call__(self, estimate: np.ndarray, reference: np.ndarray) -> None:
        e = np.asarray(estimate, dtype=np.float64).ravel()
        r = np.asarray(reference, dtype=np.float64).ravel()
        ok = np.isfinite(e) & np.isfinite(r)
        e, r = e[ok], r[ok]
        idx = np.arange(self.seen, self.seen + e.size)
        self.seen += e.size
        keep = idx % self.stride == 0
        self._idx.append(idx[keep])
        self._x.append(e[keep])
        self._y.append(r[keep])
        self._count += int(keep.sum())
        while self._count > self.max_points:
            self.stride *= 2
            idx_all, x_all, y_all = self._arrays()
            keep = idx_all % self.stride == 0
            self._idx, self._x, self._y = [idx_all[keep]], [x_all[keep]], [y_all[keep]]
            self._count = int(keep.sum())

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self._idx:
            return np.empty(0, np.int64), np.empty(0), np.empty(0)
        return np.concatenate(self._idx), np.concatenate(self._x), np.concatenate(self._y)

    @property
    def estimate(self) -> np.ndarray:
        return self._arrays()[1]

    @property
    def reference(self) -> np.ndarray:
        return self._arrays()[2]


class ErrorMap:
    """Estimate minus reference on a coarser lattice (every ``stride``-th row and column, at most ``max_side``
    pixels a side) of a ``width`` x ``height`` grid, fed its blocks top to bottom.

    Call it with blocks of whole rows, in order, as :func:`validate.compare_reference` gives them to its sink.
    """

    def __init__(self, width: int, height: int, max_side: int = 600) -> None:
        self.width, self.height = int(width), int(height)
        self.stride = max(1, math.ceil(max(self.width, self.height) / max(1, int(max_side))))
        self.rows_seen = 0
        self._rows: list[np.ndarray] = []

    def __call__(self, estimate: np.ndarray, reference: np.ndarray) -> None:
        e = np.asarray(estimate, dtype=np.float64)
        r = np.asarray(reference, dtype=np.float64)
        if e.ndim != 2 or e.shape[1] != self.width:
            raise ValueError(f"ErrorMap expects blocks of whole rows of width {self.width}, got {e.shape}")
        rows = np.arange(self.rows_seen, self.rows_seen + e.shape[0])
        keep = rows % self.stride == 0
        if keep.any():
            self._rows.append((e[keep] - r[keep])[:, ::self.stride])
        self.rows_seen += e.shape[0]

    @property
    def difference(self) -> np.ndarray:
        """The sampled difference (NaN where either side has no value)."""
        if not self._rows:
            return np.empty((0, math.ceil(self.width / self.stride)))
        return np.concatenate(self._rows, axis=0)


class Sinks:
    """Several sinks fed the same blocks (e.g. a :class:`PairSampler` and an :class:`ErrorMap`)."""

    def __init__(self, *sinks: Callable[[np.ndarray, np.ndarray], None] | None) -> None:
        self.sinks = [s for s in sinks if s is not None]

    def __call__(self, estimate: np.ndarray, reference: np.ndarray) -> None:
        for sink in self.sinks:
            sink(estimate, reference)


#: The paths of downscale's quality raster as validate names its sources ('reference:<path>').
QUALITY_PATHS = (N_("all factors observed"), N_("filled"), N_("coarse only"), N_("from a neighbouring date"))


def _source_label(source: str) -> str:
    if source.startswith("station:"):
        return _t("station {0}", source.split(":", 1)[1])
    if source.startswith("reference:"):
        return _t("reference raster, {0} pixels", _t(source.split(":", 1)[1]))
    return _t({"reference": N_("reference raster"), "stations": N_("stations (pooled)"),
               "baseline": N_("baseline: SMAP resampled bilinearly")}.get(source, source))


#: Rows of the baseline comparison: (metric key, label, better when 'lower' | 'higher' | 'closer to 0').
BASELINE_ROWS = (("r", "R", "higher"), ("mae", "MAE (m3/m3)", "lower"), ("rmse", "RMSE (m3/m3)", "lower"),
                 ("bias", N_("bias (m3/m3)"), "closer to 0"), ("ubrmsd", "ubRMSD (m3/m3)", "lower"))


def baseline_rows(estimate: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[list[str]]:
    """Rows (metric, estimate, baseline, change, better) comparing the estimate with the baseline.

    Parameters
    ----------
    estimate, baseline : Mapping[str, Any]
        The metrics of the estimate and of the baseline.

    Returns
    -------
    list of list of str
        One row per metric of :data:`BASELINE_ROWS`.
    """
    rows = []
    for key, label, better in BASELINE_ROWS:
        e, b = estimate.get(key), baseline.get(key)
        digits = 3 if key == "r" else 4
        if _finite(e) and _finite(b):
            change = fmt(float(e) - float(b), digits, True)
            if better == "higher":
                won = float(e) > float(b)
            elif better == "lower":
                won = float(e) < float(b)
            else:
                won = abs(float(e)) < abs(float(b))
            verdict = N_("estimate") if won else (N_("same") if float(e) == float(b) else N_("baseline"))
        else:
            change, verdict = "n/a", "n/a"
        rows.append([esc(_t(label)), fmt(e, digits, key == "bias"), fmt(b, digits, key == "bias"), change,
                     esc(_t(verdict))])
    return rows


def validate_report(results: Mapping[str, Mapping[str, Any]], pairs: Sequence[Any], path: str,
                    samples: tuple[np.ndarray, np.ndarray] | None = None,
                    per_date: Sequence[Mapping[str, Any]] | None = None,
                    inputs: Mapping[str, Sequence[str] | str] | None = None, title: str | None = None,
                    error_map: np.ndarray | None = None) -> str:
    """Validation report: metrics table, estimate-vs-reference density plot (1:1 line, metrics in the legend),
    station scatter and per-station time series, and per-date metrics for a series.

    ``results`` maps a source ('reference', 'stations', 'station:<id>') to its metrics (pooled over the
    dates of a series); ``pairs`` are station pairs (:class:`validate.StationPair`); ``samples`` is
    (estimate, reference) values, e.g. from :class:`PairSampler`; ``per_date`` holds rows with 'source',
    'date', 'estimate' and the metrics. With a 'baseline' source (the coarse SMAP resampled bilinearly, compared
    with the same reference) the report compares the estimate's metrics with the baseline's; ``error_map``
    (e.g. :attr:`ErrorMap.difference`) is drawn as a map of estimate minus reference.

    Parameters
    ----------
    results : Mapping[str, Mapping[str, Any]]
        Source -> metrics.
    pairs : Sequence[Any]
        Station pairs.
    path : str
        The HTML file to write.
    samples : tuple[numpy.ndarray, numpy.ndarray] or None
        (estimate, reference) values for the density plot (None: no plot).
    per_date : Sequence[Mapping[str, Any]] or None
        Per-date rows of a series (None: none).
    inputs : Mapping[str, Sequence[str] or str] or None
        Input label -> file(s), listed in the report.
    title : str or None
        The report's title (None: 'Soil moisture validation').
    error_map : numpy.ndarray or None
        (rows, cols) estimate minus reference (None: no map).

    Returns
    -------
    str
        ``path``.
    """
    doc = Html(title or N_("Soil moisture validation"))
    dates = sorted({str(r["date"]) for r in per_date or [] if r.get("date")})
    if dates:
        doc.p(f"{len(dates)} date(s): {', '.join(dates)}. Pooled metrics use every pair of every date.")
    _inputs(doc, inputs)
    _no_plots_note(doc)
    doc.h2(N_("Metrics (all dates pooled)") if len(dates) > 1 else N_("Metrics"))
    doc.p("Estimate minus reference, soil moisture in m3/m3; ubRMSD = sqrt(RMSE^2 - bias^2).", note=True)
    headers = [N_("source")] + [h for _, h, _, _ in METRIC_COLUMNS]
    doc.table(headers, [[esc(_source_label(s))] + metric_cells(m) for s, m in results.items()],
              [False] + [True] * len(METRIC_COLUMNS), cells_are_markup=True)
    if samples is not None and "reference" in results:
        est, ref = samples
        doc.h2("Estimate against the reference raster")
        shown = int(np.count_nonzero(np.isfinite(np.asarray(est, float)) & np.isfinite(np.asarray(ref, float))))
        doc.figure(scatter_png(ref, est, results["reference"], N_("reference (m3/m3)")),
                   f"Estimate against the reference resampled onto the estimate's grid ({shown} of "
                   f"{int(results['reference'].get('n') or 0)} pixel pairs drawn); red: 1:1 line.")
    if "reference" in results and "baseline" in results:
        doc.h2("Against the baseline")
        baseline = results["baseline"]
        same = baseline.get("estimate") or results["reference"]
        doc.p(f"The baseline is the coarse SMAP resampled bilinearly onto the estimate's grid, compared with the same "
              f"reference on the same {int(same.get('n') or 0)} pixels as the estimate (where all three hold a "
              "value): downscaling adds value where the estimate does better.", note=True)
        doc.table([N_("metric"), N_("estimate"), N_("baseline"), N_("estimate minus baseline"), N_("better")],
                  baseline_rows(same, baseline),
                  [False, True, True, True, False], cells_are_markup=True)
    if error_map is not None:
        png = error_map_png(error_map)
        if png is not None:
            doc.h2(N_("Error map"))
            doc.figure(png, "Estimate minus reference: brown where the estimate is drier, blue-green where it is "
                            f"wetter; colours saturate at +/-{fmt(error_limit(error_map), 3)} m3/m3 (the 98th "
                            "percentile of the absolute difference, at least 0.01); white: no value.")
    ok = [p for p in pairs if p.status == "ok"]
    if ok:
        doc.h2("Estimate against the stations")
        doc.figure(scatter_png(np.array([p.observed for p in ok]), np.array([p.estimated for p in ok]),
                               results.get("stations", {}), N_("station daily mean (m3/m3)")),
                   "Estimate at each station's pixel against the station's daily mean; red: 1:1 line.")
        doc.figure(station_series_png(ok), "Observed daily means (black) and estimates (blue) per station over "
                                           f"time (stations with at least two dates, up to {MAX_STATION_PANELS}).")
    if len(dates) > 1:
        doc.h2("Metrics per date")
        doc.figure(dates_png(per_date or []), "R and ubRMSD of each date.")
        rows = [[esc(r["date"]), esc(_source_label(str(r["source"]))), esc(r.get("estimate", ""))] + metric_cells(r)
                for r in sorted(per_date or [], key=lambda r: (str(r["date"]), str(r["source"])))]
        doc.table([N_("date"), N_("source"), N_("estimate")] + [h for _, h, _, _ in METRIC_COLUMNS], rows,
                  [False, False, False] + [True] * len(METRIC_COLUMNS), cells_are_markup=True)
    if pairs:
        doc.h2("Station pairs")
        shown_pairs = list(pairs)[:MAX_PAIR_ROWS]
        if len(pairs) > MAX_PAIR_ROWS:
            doc.p(f"The first {MAX_PAIR_ROWS} of {len(pairs)} pairs; the pairs CSV output lists all.", note=True)
        doc.table([N_("station"), N_("date"), N_("observed"), N_("estimate"), N_("difference"), N_("status")],
                  [[esc(p.station), esc(p.date.isoformat()), fmt(p.observed, 4), fmt(p.estimated, 4),
                    fmt(p.estimated - p.observed, 4, True), esc(_t(p.status))] for p in shown_pairs],
                  [False, False, True, True, True, False], cells_are_markup=True)
    return doc.write(path)
