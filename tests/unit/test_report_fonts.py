"""Report plots in Chinese find a CJK font as users' machines have one, by name or by file, and fall back to
English plot texts (never boxes) when there is none."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from smdownscale.algorithms import i18n, report

pytest.importorskip("matplotlib")

FAMILY = "SMD CJK Test Sans"


def _cjk_test_font(path: str) -> str:
    """A TrueType font named FAMILY with a glyph (a square) for ASCII, CJK punctuation and every CJK ideograph."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    def square():
        pen = TTGlyphPen(None)
        pen.moveTo((100, 0))
        pen.lineTo((100, 700))
        pen.lineTo((800, 700))
        pen.lineTo((800, 0))
        pen.closePath()
        return pen.glyph()

    codes = [*range(0x20, 0x7F), *range(0x3000, 0x3040), *range(0x4E00, 0xA000), *range(0xFF00, 0xFFF0)]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "square"])
    builder.setupCharacterMap({code: "square" for code in codes})
    builder.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "square": square()})
    builder.setupHorizontalMetrics({".notdef": (1000, 0), "square": (1000, 100)})
    builder.setupHorizontalHeader(ascent=880, descent=-120)
    builder.setupNameTable({"familyName": FAMILY, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=880, usWinAscent=880, usWinDescent=120)
    builder.setupPost()
    builder.save(path)
    return path


@pytest.fixture
def zh():
    assert i18n.set_language("zh_CN") is not None
    yield
    i18n.set_language(None)


@pytest.fixture
def font_search(monkeypatch):
    """Points the search at given font files: no font name matplotlib lists counts (as on a machine where its
    font list predates the CJK font); the fonts registered by the test are removed afterwards."""
    from matplotlib import font_manager

    before = list(font_manager.fontManager.ttflist)
    monkeypatch.setattr(report, "CJK_FONTS", ("SMD font no machine has",))
    report._installed_cjk_font.cache_clear()

    def search(*patterns: str) -> None:
        monkeypatch.setattr(report, "CJK_FONT_FILES", patterns)
        report._installed_cjk_font.cache_clear()

    yield search
    font_manager.fontManager.ttflist[:] = before
    report._installed_cjk_font.cache_clear()


def _glyph_warnings(text: str) -> list[str]:
    """matplotlib's warnings while drawing ``text`` in the report's font (a missing glyph draws a box)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with warnings.catch_warnings(record=True) as caught, report._font_context():
        warnings.simplefilter("always")
        fig = Figure(figsize=(3, 2))
        FigureCanvasAgg(fig)
        fig.add_subplot().set_title(text)
        fig.canvas.draw()
    return [str(w.message) for w in caught if "missing from" in str(w.message)]


def test_a_cjk_font_file_matplotlib_does_not_list_is_registered_and_draws_the_chinese_plot_texts(
        zh, font_search, tmp_path):
    (tmp_path / "fonts" / "Noto").mkdir(parents=True)
    _cjk_test_font(str(tmp_path / "fonts" / "Noto" / "NotoSansCJK-Regular.ttf"))
    font_search(str(tmp_path / "absent" / "msyh.ttc"), str(tmp_path / "fonts" / "**" / "NotoSansCJK*-Regular.tt?"))
    assert report._cjk_font() == FAMILY
    title = report._p("R per date")
    assert title != "R per date" and any("\u4e00" <= ch <= "\u9fff" for ch in title)
    assert _glyph_warnings(title) == []  # every character drawn from a font that has it: no boxes
    rng = np.random.default_rng(3)
    ref = rng.uniform(0.1, 0.4, 200)
    png = report.scatter_png(ref, ref + 0.01, {"n": 200, "r": 0.9, "rmse": 0.02, "bias": 0.0, "ubrmsd": 0.02},
                             report.N_("reference (m3/m3)"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    ax = report.scatter_figure(ref, ref + 0.01, {"n": 200, "r": 0.9, "rmse": 0.02, "bias": 0.0, "ubrmsd": 0.02},
                               report.N_("reference (m3/m3)")).axes[0]
    assert ax.get_xlabel() == "参考值 (m3/m3)"


@pytest.mark.parametrize("found", ["none", "a font without Chinese glyphs"])
def test_without_a_cjk_font_the_plot_texts_stay_english(zh, font_search, found):
    import matplotlib

    latin = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
    assert os.path.isfile(latin)
    font_search(*([] if found == "none" else [latin]))
    assert report._cjk_font() is None
    assert report._p("R per date") == "R per date"
    assert _glyph_warnings(report._p("R per date")) == []
    rng = np.random.default_rng(3)
    ref = rng.uniform(0.1, 0.4, 200)
    ax = report.scatter_figure(ref, ref + 0.01, {"n": 200, "r": 0.9, "rmse": 0.02, "bias": 0.0, "ubrmsd": 0.02},
                               report.N_("reference (m3/m3)")).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("reference (m3/m3)", "estimate (m3/m3)")


def test_the_search_covers_the_fonts_users_machines_have():
    names = " ".join(report.CJK_FONT_FILES)
    for expected in ("msyh.ttc", "simhei.ttf", "PingFang.ttc", "STHeiti", "NotoSansCJK", "wqy-microhei",
                     "DroidSansFallback"):
        assert expected in names, expected
    for family in ("Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei",
                   "Droid Sans Fallback"):
        assert family in report.CJK_FONTS, family
