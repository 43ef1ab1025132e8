"""Translations of what the engine says: error messages, log lines and the HTML reports (no ``qgis``).

The engine writes English. The plugin chooses a language from QGIS's locale (:func:`set_language`, called
where the plugin installs its Qt translation); from then on

- :func:`translate` turns a finished English message (e.g. ``str(exc)`` of an :class:`errors.SmdError`) into
  the chosen language: the message is matched against the catalog's templates, English text with numbered
  placeholders (``"The reference {0} does not overlap the estimate {1}; ..."``), and the captured values are
  put into the translated template (themselves translated when they are messages too, e.g. "the first
  problem: ...");
- :func:`_t` translates a template the code names directly (the reports: ``_t("{0} date(s): {1}.", n, days)``;
  not ``tr``, which Qt's tools would take for theirs), and :func:`N_` marks a label translated later.

A message without a translation stays English, so the English texts (which tests assert on) never change.
The catalog is ``i18n/smdownscale_engine_<locale>.json`` ({English template: translation}), written by
``make i18n`` from ``scripts/zh_CN_engine.json``; ``scripts/engine_messages.py`` finds the templates in the
code (the messages of raised errors, ``warn``/``log`` lines, ``_t``/``N_`` calls) and lists the missing ones.
"""

from __future__ import annotations

import json
import os
import re
import threading
from typing import Any

I18N_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "i18n")
FILE_PREFIX = "smdownscale_engine_"
#: Placeholders of a template: {0}, {1}, ...
PLACEHOLDER = re.compile(r"\{(\d+)\}")
#: Recursion limit for messages inside messages.
MAX_DEPTH = 3

_lock = threading.Lock()
_state: dict[str, Any] = {"language": None, "table": {}, "patterns": None}


def candidates(locale: str) -> list[str]:
    """Catalog suffixes to try for ``locale``, most specific first ('zh-Hans' and 'zh_CN.UTF-8' -> zh_CN, zh).

    Parameters
    ----------
    locale : str
        A locale name ('zh_CN', 'zh-Hans', 'de_DE.UTF-8', ...).

    Returns
    -------
    list of str
        Language codes, most specific first; empty for '', 'C' and 'POSIX'.
    """
    raw = (locale or "").replace("-", "_").split(".")[0].split("@")[0]
    names: list[str] = []
    lower = raw.lower()
    if lower in ("zh_hans", "zh_cn", "zh_sg") or lower.startswith("zh_hans_"):
        names.append("zh_CN")
    for name in (raw, raw.split("_")[0]):
        if name and name not in names and name not in ("C", "POSIX"):
            names.append(name)
    return names


def catalog_file(locale: str, folder: str = I18N_DIR) -> str | None:
    """The engine catalog for ``locale``, or None (English, or no catalog).

    Parameters
    ----------
    locale : str
        A locale name.
    folder : str
        The folder holding the catalogs.

    Returns
    -------
    str or None
        The path of the first catalog found for :func:`candidates`, or None.
    """
    for name in candidates(locale):
        path = os.path.join(folder, f"{FILE_PREFIX}{name}.json")
        if os.path.isfile(path):
            return path
    return None


def set_language(locale: str | None, folder: str = I18N_DIR) -> str | None:
    """Use the catalog of ``locale`` (None or English: no translation). Returns the catalog file loaded.

    Parameters
    ----------
    locale : str or None
        A locale name (None: English).
    folder : str
        The folder holding the catalogs.

    Returns
    -------
    str or None
        The catalog loaded, or None (messages stay English).
    """
    path = catalog_file(locale, folder) if locale else None
    table: dict[str, str] = {}
    if path is not None:
        with open(path, encoding="utf-8") as f:
            loaded = json.load(f)
        table = {str(k): str(v) for k, v in loaded.items() if isinstance(v, str) and v.strip()}
    with _lock:
        _state["language"] = candidates(locale)[0] if path and locale else None
        _state["table"] = table
        _state["patterns"] = None
    return path


def language() -> str | None:
    """The language messages are translated into (None: English).

    Returns
    -------
    str or None
        A language code such as 'zh_CN', or None for English.
    """
    return _state["language"]


def template_regex(template: str) -> re.Pattern:
    """A regular expression matching the messages ``template`` produces; group i captures placeholder {i}.

    Parameters
    ----------
    template : str
        An English message with placeholders {0}, {1}, ...

    Returns
    -------
    re.Pattern
        The compiled pattern; placeholder {i} is group 'p<i>'.
    """
    pieces = []
    pos = 0
    seen: set[str] = set()
    for m in PLACEHOLDER.finditer(template):
        pieces.append(re.escape(template[pos:m.start()]))
        index = m.group(1)
        if index in seen:  # the same value twice
            pieces.append(f"(?P=p{index})")
        else:
            pieces.append(f"(?P<p{index}>.*?)")
            seen.add(index)
        pos = m.end()
    pieces.append(re.escape(template[pos:]))
    return re.compile("".join(pieces) + r"\Z", re.S)


def _literal_length(template: str) -> int:
    return len(PLACEHOLDER.sub("", template))


def _patterns() -> list[tuple[re.Pattern, str, str]]:
    with _lock:
        if _state["patterns"] is None:
            items = sorted(_state["table"].items(), key=lambda kv: -_literal_length(kv[0]))
            _state["patterns"] = [(template_regex(k), k, v) for k, v in items if _literal_length(k) >= 4]
        return _state["patterns"]


def fill(template: str, values: dict[str, str] | list[Any] | tuple[Any, ...]) -> str:
    """``template`` with {i} replaced by value i (values are inserted as they are, braces and all).

    Parameters
    ----------
    template : str
        A message with placeholders {0}, {1}, ...
    values : dict[str, str] or list[Any] or tuple[Any, ...]
        Values by group name ('p0', ...) or by position; placeholders without a value stay.

    Returns
    -------
    str
        The filled message.
    """
    if isinstance(values, dict):
        return PLACEHOLDER.sub(lambda m: values.get(f"p{m.group(1)}", m.group(0)), template)
    return PLACEHOLDER.sub(lambda m: str(values[int(m.group(1))]) if int(m.group(1)) < len(values) else m.group(0),
                           template)


def translate(message: Any, depth: int = 0) -> str:
    """``message`` in the chosen language (unchanged in English or when the catalog has no template for it).

    Parameters
    ----------
    message : Any
        A message (converted with ``str``).
    depth : int
        The nesting depth of translated placeholder values (stops at :data:`MAX_DEPTH`).

    Returns
    -------
    str
        The translated text, or the message's text as it is.
    """
    text = str(message)
    if not _state["table"] or not text or depth > MAX_DEPTH:
        return text
    exact = _state["table"].get(text)
    if exact is not None:
        return exact
    for regex, _english, translated in _patterns():
        m = regex.match(text)
        if m is None:
            continue
        values = {k: translate(v, depth + 1) if v else v for k, v in m.groupdict().items()}
        return fill(translated, values)
    return text


def _t(template: str, *values: Any) -> str:
    """``template`` (English, placeholders {0}, {1}, ...) in the chosen language, filled with ``values``."""
    translated = _state["table"].get(template, template) if _state["table"] else template
    return fill(translated, values)


def N_(text: str) -> str:
    """``text`` unchanged: marks a label translated later (``_t(label)``, or where the reports print it).

    Parameters
    ----------
    text : str
        A label.

    Returns
    -------
    str
        ``text``.
    """
    return text


def translating(callback: Any) -> Any:
    """``callback(text, ...)`` that receives its text translated (for log lines the engine emits).

    Parameters
    ----------
    callback : Any
        A log callback taking the text first, or None.

    Returns
    -------
    Any
        A callback passing the translated text on, or None when ``callback`` is None.
    """
    if callback is None:
        return None

    def wrapped(text: Any, *args: Any, **kwargs: Any) -> Any:
        return callback(translate(text), *args, **kwargs)

    wrapped.__wrapped__ = callback  # type: ignore[attr-defined]
    return wrapped


__all__ = ["N_", "_t", "set_language", "language", "translate", "translating", "catalog_file", "template_regex", "fill"]
