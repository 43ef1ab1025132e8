"""Simplified Chinese: the translation loads with the QGIS locale, is complete, and matches the code and the .qm."""

from __future__ import annotations

import ast
import contextlib
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from qgis.core import QgsApplication, QgsProcessingException, QgsProcessingParameterEnum, QgsSettings
from qgis.PyQt.QtCore import QCoreApplication, QLocale, QTranslator

from smdownscale.processing_provider import i18n
from smdownscale.processing_provider.base import GROUPS
from smdownscale.processing_provider.models import DISPLAY_NAMES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TS = os.path.join(ROOT, "i18n", "smdownscale_zh_CN.ts")
QM = os.path.join(ROOT, "i18n", "smdownscale_zh_CN.qm")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import translate_zh  # noqa: E402

LOCALE_KEYS = ("locale/userLocale", "locale/overrideFlag")
CJK = re.compile("[\u4e00-\u9fff]")
ID = re.compile("[A-Za-z0-9_]+")
#: Folders whose Python files are not part of the plugin (as in `make i18n`).
NOT_PLUGIN = {"tests", "bench", "scripts", "build", "dist", "out"}

DISPLAY = {"sampledata": "创建示例数据集", "align": "将栅格对齐到格网", "screen": "因子筛选（相关分析）",
           "train": "训练降尺度模型", "downscale": "土壤水分降尺度", "validate": "验证土壤水分",
           "fetchgee": "从 Earth Engine 获取数据", "downscalegee": "在 Earth Engine 上降尺度",
           "importsmap": "导入 SMAP 数据文件（NASA Earthdata）",
           "workflow": "工作流：从本地文件到经过验证的 1 km 土壤水分"}
GROUP_NAMES = {"data": "数据准备", "model": "因子与模型", "validation": "验证", "workflows": "工作流"}


def ts_messages(path: str = TS) -> list[tuple[str, str, str, bool]]:
    """(context, source, translation, finished) of every message of a .ts file."""
    out = []
    for context in ET.parse(path).getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            tr = message.find("translation")
            text = (tr.text or "") if tr is not None else ""
            out.append((name, message.findtext("source") or "", text,
                        tr is not None and not tr.get("type") and bool(text.strip())))
    return out


def translations() -> dict[str, str]:
    """Source -> finished translation, from the .ts."""
    return {source: text for _, source, text, done in ts_messages() if done}


@contextlib.contextmanager
def locale_settings(user_locale: str | None, override: bool | None):
    """QGIS locale settings for the block; the previous values and translation come back afterwards."""
    settings = QgsSettings()
    saved = {key: settings.value(key) for key in LOCALE_KEYS}
    for key, value in zip(LOCALE_KEYS, (user_locale, override)):
        if value is None:
            settings.remove(key)
        else:
            settings.setValue(key, value)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                settings.remove(key)
            else:
                settings.setValue(key, value)
        i18n.install_translator()  # as classFactory does, for the locale the session runs in


@contextlib.contextmanager
def chinese():
    """QGIS switched to Simplified Chinese as the options dialog does; yields the loaded .qm path."""
    with locale_settings("zh_CN", True):
        yield i18n.install_translator()


def plugin_files() -> list[str]:
    """The plugin's Python files, as `make i18n` gives them to pylupdate5."""
    out = []
    for folder, dirs, files in os.walk(ROOT):
        rel = os.path.relpath(folder, ROOT)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__"
                         and not (rel == "." and d in NOT_PLUGIN))
        out += [os.path.join(folder, f) for f in sorted(files) if f.endswith(".py")]
    return out


def algorithms() -> dict:
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("smdownscale")
    return {a.name(): registry.createAlgorithmById(a.id()) for a in provider.algorithms()}


def visible_texts(alg) -> list[str]:
    """The texts an algorithm shows in the toolbox and its dialog (Python algorithms; models: the names)."""
    texts = [alg.displayName(), alg.group()]
    if alg.name() == "workflow":
        return texts
    texts.append(alg.shortHelpString())
    for p in alg.parameterDefinitions():
        texts.append(p.description())
        choice = (p.metadata().get("widget_wrapper") or {}).get("choice")  # the label's "[or a manifest]"
        if choice:
            texts.append(choice)
        if hasattr(p, "help") and p.help():
            texts.append(p.help())
        if isinstance(p, QgsProcessingParameterEnum) and not getattr(p, "usesStaticStrings", bool)():
            texts += p.options()
    texts += [o.description() for o in alg.outputDefinitions()]
    return texts


# -- locale -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("locale", ["zh_CN", "zh-Hans", "zh_CN.UTF-8", "zh", "zh_SG"])
def test_simplified_chinese_locales_find_the_translation(locale):
    path = i18n.translation_file(locale)
    assert path and os.path.samefile(path, QM)


@pytest.mark.parametrize("locale", ["en_US", "en", "C", "de_DE", "zh-Hant", "zh_TW"])
def test_other_locales_stay_english(locale):
    assert i18n.translation_file(locale) is None


def test_locale_comes_from_the_qgis_settings(plugin):
    with locale_settings("zh-Hans", True):
        assert i18n.qgis_locale() == "zh-Hans"
    with locale_settings("zh_CN", False):  # QGIS writes the locale it runs in (system or --lang) there
        assert i18n.qgis_locale() == "zh_CN"
    with locale_settings(None, None):
        assert i18n.qgis_locale() == QLocale.system().name()


# -- the plugin in Chinese ----------------------------------------------------------------------------
def test_provider_algorithms_and_parameters_in_chinese(plugin):
    provider = QgsApplication.processingRegistry().providerById("smdownscale")
    english = {name: visible_texts(alg) for name, alg in algorithms().items()}
    assert provider.name() == "Soil moisture downscaling"
    table = translations()
    with chinese() as loaded:
        assert loaded and os.path.samefile(loaded, QM)
        assert provider.name() == "土壤水分降尺度"
        algs = algorithms()
        assert {n: a.displayName() for n, a in algs.items()} == DISPLAY
        assert {a.groupId(): a.group() for a in algs.values()} == GROUP_NAMES
        downscale, train = algs["downscale"], algs["train"]
        assert downscale.parameterDefinition("MODEL").description() == "模型文件"
        assert downscale.parameterDefinition("RESIDUAL_CORRECTION").options() == [
            "每个粗像元取常数", "无", "平滑（质量守恒）", "面到点克里金"]
        assert downscale.shortHelpString().startswith("将用“训练降尺度模型”训练的模型应用于 1 km 因子堆栈")
        assert train.parameterDefinition("MODEL_TYPE").options()[:3] == [
            "随机森林（RF）", "支持向量回归（SVR）", "分类回归树（CART）"]
        # written once in a helper shared by screen and train (pylupdate5 context 'alg')
        assert train.parameterDefinition("SOIL_MOISTURE").description() == "SMAP 栅格，每个日期一个"
        assert train.parameterDefinition("SOIL_MOISTURE").metadata()["widget_wrapper"]["choice"] == "或清单文件"
        assert algs["screen"].parameterDefinition("MIN_VALID_FRACTION").description() == "每个粗像元的最小有效比例"
        # every text each algorithm shows is the .ts translation of its English text
        for name, alg in algs.items():
            shown = visible_texts(alg)
            assert len(shown) == len(english[name])
            assert sum(bool(CJK.search(t)) for t in shown) > 0.8 * len(shown), name
            for en, zh in zip(english[name], shown):
                if ID.fullmatch(en) and zh == en:  # enum options that are ids (factors before QGIS 3.24)
                    continue
                assert en in table, f"{name}: no translation for {en[:80]!r}"
                assert zh == table[en], f"{name}: {en[:60]!r} shows {zh[:60]!r}"
    assert provider.name() == "Soil moisture downscaling"
    assert algorithms()["downscale"].displayName() == "Downscale soil moisture"


def test_messages_in_chinese(plugin, run, tmp_path):
    from smdownscale.algorithms import raster

    stack = str(tmp_path / "factors.tif")
    from osgeo import osr

    grid = raster.Grid(osr.SRS_WKT_WGS84_LAT_LONG, (116.0, 0.01, 0.0, 43.5, 0.0, -0.01), 4, 4)
    raster.write_raster(stack, grid, np.full((4, 4), 0.5, dtype="float32"), names=["ndvi"])
    out = tmp_path / "sm.tif"
    with chinese():
        # base-class strings are translated in every algorithm's context
        assert QCoreApplication.translate("DownscaleAlgorithm", "Canceled: no output was written.") == \
            "已取消：未写出任何输出。"
        assert QCoreApplication.translate("SmDownscalePlugin", "&Soil moisture downscaling") == "土壤水分降尺度(&S)"
        with pytest.raises(QgsProcessingException) as err:
            run("smdownscale:downscale", {"MODEL": str(tmp_path / "m.smdmodel"), "FACTORS": stack,
                                          "RESIDUAL_CORRECTION": 1, "CLIP_MIN": 0.5, "CLIP_MAX": 0.1,
                                          "OUTPUT": str(out)})
    assert "土壤水分最小值必须小于最大值。" in str(err.value)
    assert not out.exists()


# -- the files -----------------------------------------------------------------------------------------
def test_ts_has_no_unfinished_message():
    messages = ts_messages()
    unfinished = [(c, s[:70]) for c, s, _, done in messages if not done]
    print(f"{len(messages)} messages, {len(messages) - len(unfinished)} translated, {len(unfinished)} unfinished")
    assert len(messages) > 400
    assert unfinished == []


def test_translations_keep_placeholders_and_paragraphs():
    for context, source, text, _ in ts_messages():
        assert translate_zh.placeholders(text) == translate_zh.placeholders(source), (context, source[:60])
        assert text.count("\n") == source.count("\n"), (context, source[:60])


def lookup(translator: QTranslator, context: str, source: str) -> str:
    """QTranslator.translate (PyQt passes str as ASCII: give it UTF-8 bytes, as Qt does)."""
    return translator.translate(context.encode(), source.encode("utf-8"))


def test_qm_is_compiled_from_the_ts():
    translator = QTranslator()
    assert translator.load(QM)
    messages = ts_messages()
    for context, source, text, _ in messages:
        assert lookup(translator, context, source) == text, (context, source[:60])
    # the shared base-class / helper strings also answer in every algorithm's context
    shared = [(s, t) for c, s, t, _ in messages if translate_zh.is_shared(c)]
    contexts = {c for c, *_ in messages if c.endswith("Algorithm") and not translate_zh.is_shared(c)}
    assert shared and len(contexts) >= 8
    for context in contexts:
        for source, text in shared:
            assert lookup(translator, context, source) == text, (context, source[:60])


def test_ts_is_up_to_date_with_the_code(tmp_path):
    """pylupdate5 over the code finds exactly the messages of the .ts (else: run `make i18n`)."""
    pylupdate = shutil.which("pylupdate5")
    assert pylupdate, "pylupdate5 is missing: install pyqt5-dev-tools (make setup)"
    fresh = tmp_path / "fresh.ts"
    proc = subprocess.run([pylupdate, "-noobsolete", *plugin_files(), "-ts", str(fresh)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    in_code = {(c, s) for c, s, *_ in ts_messages(str(fresh)) if c not in translate_zh.FOREIGN_CONTEXTS}
    in_ts = {(c, s) for c, s, *_ in ts_messages()}
    assert sorted(in_code - in_ts) == [], "new strings: run `make i18n` and translate them"
    assert sorted(in_ts - in_code) == [], "strings gone from the code: run `make i18n`"


def literal_tr_calls(path: str) -> set[str]:
    """Literal texts given to tr(), _tr(), translate(ctx, ...) and _translate(ctx, ...), f-strings included
    (not those of QGIS's own contexts)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                 and isinstance(n.value, ast.Constant) for t in n.targets if isinstance(t, ast.Name)}
    out = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        index = {"tr": 0, "_tr": 0, "translate": 1, "_translate": 1}.get(name)
        if index is None or len(node.args) <= index or not isinstance(node.args[index], ast.Constant) \
                or not isinstance(node.args[index].value, str):
            continue
        if index:
            ctx = node.args[0]
            ctx = ctx.value if isinstance(ctx, ast.Constant) else constants.get(getattr(ctx, "id", None))
            if ctx in translate_zh.FOREIGN_CONTEXTS:
                continue
        out.add(node.args[index].value)
    return out


def test_strings_pylupdate5_cannot_see_are_listed():
    """Group names, shipped model names, `_tr("...")` and tr() in f-strings reach the .ts (i18n.EXTRA_MESSAGES)."""
    in_ts = {(c, s) for c, s, *_ in ts_messages()}
    assert {("SmdAlgorithm", g) for g in GROUPS.values()} <= in_ts
    assert {("ShippedModel", n) for n in [*DISPLAY_NAMES.values(), "Workflows"]} <= in_ts
    literals = set().union(*(literal_tr_calls(p) for p in plugin_files()))
    assert {"Soil moisture downscaling", "rank", "Earth Engine exports ({} tasks)"} <= literals
    assert sorted(literals - {s for _, s in in_ts}) == [], "add them to i18n.EXTRA_MESSAGES, then `make i18n`"
    assert set(i18n.EXTRA_MESSAGES) <= {s for _, s in in_ts}


@pytest.mark.slow
def test_qgis_process_speaks_the_profile_locale(tmp_path):
    from qgisproc import QGIS_PROCESS, QgisProcess

    qp = QgisProcess(str(tmp_path))
    qp._enable()
    ini = tmp_path / "profile" / "profiles" / "default" / "QGIS" / "QGIS3.ini"
    with open(ini, "a", encoding="utf-8") as f:
        f.write("\n[locale]\nuserLocale=zh-Hans\noverrideFlag=true\n")
    proc = subprocess.run([QGIS_PROCESS, "help", "smdownscale:train"], env=qp.env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "训练降尺度模型 (smdownscale:train)" in proc.stdout
    assert "SOIL_MOISTURE: SMAP 栅格，每个日期一个" in proc.stdout
    assert "MODEL_TYPE: 模型" in proc.stdout


def test_engine_messages_logs_and_dependency_dialog_in_chinese(plugin, run, tmp_path, monkeypatch):
    """Under zh_CN the engine's errors reach Processing in Chinese (English still in the exception's args), the
    engine's log lines too, and the dependency dialog has no English column or mixed line."""
    from smdownscale.algorithms import i18n as engine_i18n
    from smdownscale.algorithms import native, raster, stations
    from smdownscale.processing_provider.base import SmdAlgorithm
    from smdownscale.ui.dependencies_dialog import DependenciesDialog

    grid = raster.Grid(raster.srs_from_user("EPSG:32650").ExportToWkt(),
                       (400000.0, 1000.0, 0.0, 4600000.0, 0.0, -1000.0), 6, 5)
    estimate = str(tmp_path / "sm_1km_20230601.tif")
    raster.write_raster(estimate, grid, np.full((5, 6), 25.0, dtype="float32"))
    reference = str(tmp_path / "ref.tif")
    raster.write_raster(reference, grid, np.full((5, 6), 0.2, dtype="float32"))
    out = tmp_path / "m.csv"
    logged: list = []
    monkeypatch.setattr(native, "status", lambda: "not built (libsmdtreewalk.so is missing; run 'make native')")
    monkeypatch.setattr(native, "available", lambda: False)
    with chinese():
        assert engine_i18n.language() == "zh_CN"
        with pytest.raises(QgsProcessingException) as err:
            run("smdownscale:validate", {"INPUT": estimate, "REFERENCE": reference, "OUTPUT": str(out)})
        # engine log lines (warn/log callbacks given the feedback) are translated on their way
        from qgis.core import QgsProcessingFeedback

        class Feedback(QgsProcessingFeedback):
            def pushWarning(self, text):
                logged.append(text)

        feedback = Feedback()
        alg = SmdAlgorithm()
        alg.run_engine(lambda warn, is_canceled: warn("ISMN file skipped: a.stm"), warn=feedback.pushWarning,
                       is_canceled=feedback.isCanceled)
        dialog = DependenciesDialog()
        purposes = [dialog.table.item(r, 2).text() for r in range(dialog.table.rowCount())]
        native_line = dialog.native_label.text()
        with pytest.raises(Exception) as parse_err:
            stations.read_stations(str(tmp_path / "none.csv"))
    assert str(err.value).startswith("估计值 sm_1km_20230601.tif 的单位不是 m3/m3：数值 25")
    assert str(err.value).endswith("。这些值看起来是百分比（0-100）。请将栅格转换为 m3/m3（用栅格计算器除以 100）。")
    assert not out.exists()
    assert logged == ["已跳过 ISMN 文件：a.stm"]
    assert purposes == ["筛选、训练、降尺度", "模型文件（训练、降尺度）", "Earth Engine 下载（fetchgee）",
                        "NASA Earthdata 搜索与登录（importsmap）"]
    assert native_line.startswith("树模型使用 scikit-learn 预测：编译版决策树遍历器未构建（缺少 libsmdtreewalk.so；"
                                  "请运行“make native”）。C 编译器：")
    assert parse_err.value.args[0] == f"Station file not found: {tmp_path / 'none.csv'}. Check the path."
    assert engine_i18n.language() is None  # back to the session's English
