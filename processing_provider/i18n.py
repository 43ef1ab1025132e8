"""The plugin's translations: ``i18n/smdownscale_<locale>.qm`` loaded for the QGIS locale.

:func:`install_translator` runs in ``classFactory`` before the plugin is created, so the desktop and
``qgis_process`` (classFactory + initProcessing) both see translated provider, algorithm and parameter
names. The locale is the one QGIS uses: ``locale/userLocale`` from QgsSettings (QGIS writes its effective
locale there at start; with ``locale/overrideFlag`` it is the user's choice), else the system locale.
QGIS names Simplified Chinese ``zh-Hans``; it maps to ``zh_CN``.

The engine's messages and HTML reports (``algorithms/``, no Qt) are translated by ``algorithms/i18n.py`` from
its own catalog (``i18n/smdownscale_engine_<locale>.json``); :func:`install_translator` selects it too.

Regenerate the ``.ts``, ``.qm`` and engine catalog files with ``make i18n`` (pylupdate5, scripts/translate_zh.py,
scripts/engine_messages.py, lrelease).
Strings of the shared base class and of helpers shared by several algorithms are compiled into every
algorithm's context (``self.tr()`` uses the class name at run time), see scripts/translate_zh.py.
"""

from __future__ import annotations

import os

from qgis.core import QgsSettings
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QLocale, QTranslator

I18N_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "i18n")
FILE_PREFIX = "smdownscale_"

#: Strings the code translates from variables (group names, shipped model names), through a wrapper
#: pylupdate5 does not recognise (``_tr``) or inside f-strings (which pylupdate5 does not look into):
#: listed here so that pylupdate5 puts them in the .ts file.
#: tests/qgis/test_i18n.py checks that this list covers the code.
EXTRA_MESSAGES = (
    QT_TRANSLATE_NOOP("SmdAlgorithm", "Data preparation"),
    QT_TRANSLATE_NOOP("SmdAlgorithm", "Factors and models"),
    QT_TRANSLATE_NOOP("SmdAlgorithm", "Validation"),
    QT_TRANSLATE_NOOP("ShippedModel", "Workflows"),
    QT_TRANSLATE_NOOP("ShippedModel", "Workflow: local files to validated 1 km soil moisture"),
    QT_TRANSLATE_NOOP("GeeTaskMonitor", "Earth Engine exports ({} tasks)"),
    QT_TRANSLATE_NOOP("GeeTaskMonitor", "All {} Earth Engine task(s) completed; manifest {}"),
    QT_TRANSLATE_NOOP("GeeTaskMonitor", "The Earth Engine tasks were not followed to the end."),
    # self.tr() inside f-strings (the screening table's header in the log)
    QT_TRANSLATE_NOOP("ScreenAlgorithm", "rank"),
    QT_TRANSLATE_NOOP("ScreenAlgorithm", "factor"),
    QT_TRANSLATE_NOOP("ScreenAlgorithm", "r/eta"),
    QT_TRANSLATE_NOOP("ScreenAlgorithm", "rho"),
    QT_TRANSLATE_NOOP("ScreenAlgorithm", "kept"),
    QT_TRANSLATE_NOOP("ScreenAlgorithm", "reason"),
    # what each optional package is needed for (dependencies.DEPENDENCIES), in the dependency dialog's column
    QT_TRANSLATE_NOOP("DependenciesDialog", "screen, train, downscale"),
    QT_TRANSLATE_NOOP("DependenciesDialog", "model files (train, downscale)"),
    QT_TRANSLATE_NOOP("DependenciesDialog", "Earth Engine download (fetchgee)"),
    QT_TRANSLATE_NOOP("DependenciesDialog", "NASA Earthdata search and login (importsmap)"),
)

_installed: QTranslator | None = None


def qgis_locale() -> str:
    """The locale QGIS runs in, e.g. 'zh_CN', 'zh-Hans', 'en_US'."""
    settings = QgsSettings()
    user = str(settings.value("locale/userLocale", "", type=str) or "").strip()
    if settings.value("locale/overrideFlag", False, type=bool) and user:
        return user  # the user's choice in Settings > Options > General
    # Without the override QGIS writes the locale it runs in (system locale or --lang) to userLocale.
    return user or QLocale.system().name()


def candidates(locale: str) -> list[str]:
    """Translation file suffixes to try for ``locale``, most specific first ('zh-Hans' -> zh_CN, zh)."""
    names = []
    raw = locale.replace("-", "_").split(".")[0].split("@")[0]
    loc = QLocale(raw)
    for name in (raw, loc.name(),
                 "zh_CN" if loc.language() == QLocale.Language.Chinese
                 and loc.script() == QLocale.Script.SimplifiedHanScript else "",
                 raw.split("_")[0]):
        if name and name not in names and name not in ("C", "POSIX"):
            names.append(name)
    return names


def translation_file(locale: str, folder: str = I18N_DIR) -> str | None:
    """The .qm file of the plugin for ``locale``, or None (e.g. English: the source strings are English)."""
    for name in candidates(locale):
        path = os.path.join(folder, f"{FILE_PREFIX}{name}.qm")
        if os.path.isfile(path):
            return path
    return None


def install_translator(locale: str | None = None) -> str | None:
    """Install the plugin's translation for ``locale`` (default: QGIS's), replacing one installed before.

    Returns the .qm file loaded, or None when there is none for the locale (strings stay English).
    """
    global _installed
    from ..algorithms import i18n as engine_i18n

    app = QCoreApplication.instance()
    if app is None:
        return None
    if _installed is not None:
        QCoreApplication.removeTranslator(_installed)
        _installed = None
    locale = locale if locale is not None else qgis_locale()
    # the engine's messages and reports follow the same locale (their own catalog, no Qt)
    engine_i18n.set_language(next((c for c in candidates(locale) if engine_i18n.catalog_file(c)), None))
    path = translation_file(locale)
    if path is None:
        return None
    translator = QTranslator()
    if not translator.load(path):
        return None
    QCoreApplication.installTranslator(translator)
    _installed = translator  # Qt does not own it: keep it alive while installed
    return path


def remove_translator() -> None:
    """Remove the plugin's translation (strings go back to English)."""
    global _installed
    from ..algorithms import i18n as engine_i18n

    engine_i18n.set_language(None)
    if _installed is not None:
        QCoreApplication.removeTranslator(_installed)
        _installed = None
