#!/usr/bin/env python3
"""Qt6 / QGIS 4 readiness check for the plugin's Python files.

Flags, with file:line and the fix:
- Qt imported other than through ``qgis.PyQt`` (``PyQt5``, ``PyQt6``, ``sip``);
- ``exec_()`` calls (use ``exec()``);
- unqualified enum members such as ``Qt.AlignLeft``, ``QMessageBox.Yes``,
  ``QgsProcessingParameterNumber.Double`` or ``QgsProcessing.TypeVectorPoint``: PyQt6 and QGIS 4 only
  know the qualified forms (``Qt.AlignmentFlag.AlignLeft`` ...), which QGIS 3.22 already accepts.

Enum members are recognised by introspecting the installed QGIS/PyQt bindings when they import
(every enum of every class is covered, and the suggested form is one that exists in this QGIS);
otherwise a built-in table of common members is used. Exit status 1 when anything is found.

    python scripts/lint_qt.py            # the plugin's files (git ls-files, without tests/bench/scripts)
    python scripts/lint_qt.py FILE...    # given files or folders
"""

from __future__ import annotations

import argparse
import ast
import enum
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXCLUDED_DIRS = ("tests", "bench", "scripts", ".ci", ".venv", "build", "dist", "out")

#: Fallback when the bindings do not import: class -> {member: enum}.
STATIC_ENUMS: dict[str, dict[str, str]] = {
    "Qt": {
        **{m: "AlignmentFlag" for m in ("AlignLeft", "AlignRight", "AlignHCenter", "AlignJustify", "AlignTop",
                                        "AlignBottom", "AlignVCenter", "AlignCenter", "AlignBaseline")},
        **{m: "ItemDataRole" for m in ("DisplayRole", "EditRole", "UserRole", "ToolTipRole", "DecorationRole",
                                       "CheckStateRole")},
        **{m: "CheckState" for m in ("Checked", "Unchecked", "PartiallyChecked")},
        **{m: "ItemFlag" for m in ("ItemIsEnabled", "ItemIsSelectable", "ItemIsEditable", "ItemIsUserCheckable")},
        **{m: "Orientation" for m in ("Horizontal", "Vertical")},
        **{m: "WindowModality" for m in ("WindowModal", "ApplicationModal", "NonModal")},
        **{m: "TextFormat" for m in ("RichText", "PlainText", "AutoText", "MarkdownText")},
        **{m: "CursorShape" for m in ("WaitCursor", "ArrowCursor", "BusyCursor", "PointingHandCursor")},
        **{m: "DockWidgetArea" for m in ("RightDockWidgetArea", "LeftDockWidgetArea", "BottomDockWidgetArea")},
        **{m: "GlobalColor" for m in ("black", "white", "red", "green", "blue", "gray", "transparent")},
        **{m: "CaseSensitivity" for m in ("CaseInsensitive", "CaseSensitive")},
        **{m: "TextInteractionFlag" for m in ("TextSelectableByMouse", "TextBrowserInteraction")},
        "WA_DeleteOnClose": "WidgetAttribute",
        "ElideRight": "TextElideMode",
        "ScrollBarAlwaysOff": "ScrollBarPolicy",
    },
    "QMessageBox": {
        **{m: "StandardButton" for m in ("Yes", "No", "Ok", "Cancel", "Close", "Abort", "Retry", "Ignore", "Save",
                                         "Discard", "Apply", "Reset", "Help", "NoButton")},
        **{m: "Icon" for m in ("Information", "Warning", "Critical", "Question", "NoIcon")},
    },
    "QDialogButtonBox": {m: "StandardButton" for m in ("Ok", "Cancel", "Close", "Help", "Apply", "Reset",
                                                       "Save", "Yes", "No")},
    "QDialog": {"Accepted": "DialogCode", "Rejected": "DialogCode"},
    "QSizePolicy": {m: "Policy" for m in ("Fixed", "Minimum", "Maximum", "Preferred", "Expanding",
                                          "MinimumExpanding", "Ignored")},
    "QFrame": {m: "Shape" for m in ("NoFrame", "Box", "Panel", "StyledPanel", "HLine", "VLine")},
    "QAbstractItemView": {m: "SelectionBehavior" for m in ("SelectRows", "SelectColumns", "SelectItems")},
    "QHeaderView": {m: "ResizeMode" for m in ("Stretch", "ResizeToContents", "Interactive", "Fixed")},
    "QLineEdit": {m: "EchoMode" for m in ("Password", "Normal", "NoEcho", "PasswordEchoOnEdit")},
    "QFileDialog": {"ShowDirsOnly": "Option", "DontUseNativeDialog": "Option"},
    "QStandardPaths": {m: "StandardLocation" for m in ("CacheLocation", "GenericCacheLocation",
                                                      "AppDataLocation", "TempLocation", "HomeLocation")},
    "QIODevice": {m: "OpenModeFlag" for m in ("ReadOnly", "WriteOnly", "ReadWrite", "Text")},
    "QFont": {m: "Weight" for m in ("Bold", "Normal", "Light")},
    "QPalette": {m: "ColorRole" for m in ("Window", "WindowText", "Base", "Text", "Button", "Highlight")},
    "QgsProcessingParameterNumber": {"Double": "Type", "Integer": "Type"},
    "QgsProcessingParameterFile": {"File": "Behavior", "Folder": "Behavior"},
    "QgsProcessingParameterDefinition": {m: "Flag" for m in ("FlagAdvanced", "FlagHidden", "FlagOptional",
                                                             "FlagIsModelOutput")},
    "QgsProcessingParameterField": {m: "DataType" for m in ("Any", "Numeric", "String", "DateTime")},
    "QgsProcessing": {m: "SourceType" for m in ("TypeVectorPoint", "TypeVectorLine", "TypeVectorPolygon",
                                                "TypeVectorAnyGeometry", "TypeVector", "TypeRaster", "TypeFile",
                                                "TypeMapLayer")},
    "QgsProcessingAlgorithm": {m: "Flag" for m in ("FlagNoThreading", "FlagCanCancel", "FlagHideFromToolbox",
                                                   "FlagSupportsBatch")},
    "Qgis": {m: "MessageLevel" for m in ("Info", "Warning", "Critical", "Success", "NoLevel")},
    "QgsColorRampShader": {m: "Type" for m in ("Interpolated", "Discrete", "Exact")},
    "QgsRasterBandStats": {m: "Stats" for m in ("All", "Min", "Max", "Mean", "StdDev", "Range", "Sum")},
    "QgsWkbTypes": {m: "Type" for m in ("Point", "LineString", "Polygon", "MultiPoint", "MultiPolygon")},
    "QgsFileWidget": {m: "StorageMode" for m in ("GetFile", "GetDirectory", "GetMultipleFiles", "SaveFile")},
}

BANNED_IMPORTS = {"PyQt5": "qgis.PyQt", "PyQt6": "qgis.PyQt", "sip": "qgis.PyQt.sip"}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


EnumLookup = Callable[[str, str], Optional[str]]


def static_lookup(cls: str, member: str) -> Optional[str]:
    """The qualified replacement of ``cls.member`` from the built-in table (``{prefix}`` = what precedes
    ``member`` in the source), or None when it is not an unqualified enum member."""
    enum_name = STATIC_ENUMS.get(cls, {}).get(member)
    return f"{{prefix}}.{enum_name}.{member}" if enum_name else None


def introspection_lookup() -> Optional[EnumLookup]:
    """An enum lookup backed by the installed qgis/PyQt bindings, or None when they do not import."""
    try:
        import qgis.core as core
        import qgis.gui as gui
        from qgis.PyQt import QtCore, QtGui, QtNetwork, QtWidgets
    except Exception:
        return None
    modules = (QtCore, QtGui, QtWidgets, QtNetwork, core, gui)
    cache: dict[tuple[str, str], Optional[str]] = {}

    def lookup(cls_name: str, member: str) -> Optional[str]:
        key = (cls_name, member)
        if key not in cache:
            cls = next((getattr(m, cls_name) for m in modules if isinstance(getattr(m, cls_name, None), type)),
                       None)
            cache[key] = static_lookup(cls_name, member) if cls is None else _qualified(cls, member)
        return cache[key]

    return lookup


def _qualified(cls: type, member: str) -> Optional[str]:
    """The qualified replacement of ``cls.member`` when it is an enum member reached unqualified."""
    value = getattr(cls, member, None)
    enum_type = type(value)
    if value is None or isinstance(value, bool) or enum_type is int:
        return None
    if not isinstance(value, (int, enum.Enum)):
        return None
    enum_name = enum_type.__name__
    if enum_name == member or isinstance(value, type):
        return None
    if getattr(cls, enum_name, None) is enum_type:
        return f"{{prefix}}.{enum_name}.{member}"
    # QGIS 3.36+ moved many enums to Qgis and keeps the class's old name as an alias
    # (QgsProcessingParameterNumber.Type is Qgis.ProcessingNumberParameterType): suggest the alias, which
    # QGIS 3.22 knows too
    known = STATIC_ENUMS.get(cls.__name__, {}).get(member)
    aliases = ([known] if known else []) + sorted(n for n in dir(cls) if n[:1].isupper() and n != member)
    alias = next((n for n in aliases if getattr(cls, n, None) is enum_type), None)
    if alias:
        return f"{{prefix}}.{alias}.{member}"
    if isinstance(value, enum.Enum):  # an enum moved out of the class, e.g. QgsMapLayer.VectorLayer
        return f"{enum_type.__qualname__}.{value.name}"
    return None


def _dotted(node: ast.AST) -> Optional[list[str]]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def check_source(source: str, path: str = "<string>", lookup: EnumLookup = static_lookup) -> list[Finding]:
    """Findings for one file's source text."""
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        return [Finding(path, exc.lineno or 0, f"syntax error: {exc.msg}")]
    found: list[Finding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in BANNED_IMPORTS:
                    found.append(Finding(path, node.lineno, f"import {alias.name}: import Qt through "
                                                            f"{BANNED_IMPORTS[top]} instead"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
            if top in BANNED_IMPORTS:
                found.append(Finding(path, node.lineno, f"from {node.module} import ...: import Qt through "
                                                        f"{BANNED_IMPORTS[top]} instead"))
        elif isinstance(node, ast.Attribute):
            if node.attr == "exec_":
                found.append(Finding(path, node.lineno, "exec_(): use exec() (exec_ is gone in PyQt6)"))
                continue
            parts = _dotted(node)
            if not parts or len(parts) < 2:
                continue
            cls, member = parts[-2], parts[-1]
            if not cls[:1].isupper() or not (cls.startswith(("Q", "Qgs")) or cls == "Qgis"):
                continue
            replacement = lookup(cls, member)
            if replacement:
                prefix = ".".join(parts[:-1])
                found.append(Finding(path, node.lineno, f"{prefix}.{member}: use the fully qualified "
                                                        f"{replacement.format(prefix=prefix)}"))
    # one finding per line and text (nested attributes are visited once each, but be safe)
    unique = sorted(set(found), key=lambda f: (f.line, f.message))
    return unique


def check_file(path: str, lookup: EnumLookup = static_lookup) -> list[Finding]:
    with open(path, encoding="utf-8") as f:
        return check_source(f.read(), os.path.relpath(path, ROOT) if path.startswith(ROOT) else path, lookup)


def plugin_files(root: str = ROOT) -> list[str]:
    """The plugin's .py files: tracked or new (not ignored), without tests, benches and build scripts."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"], cwd=root,
                             capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        out = [os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files
               if f.endswith(".py")]
    files = []
    for rel in sorted(set(out)):
        parts = rel.replace(os.sep, "/").split("/")
        if parts[0] in EXCLUDED_DIRS or any(p.startswith(".") for p in parts):
            continue
        full = os.path.join(root, rel)
        if os.path.isfile(full):
            files.append(full)
    return files


def _expand(paths: Iterable[str]) -> list[str]:
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += [os.path.join(d, f) for d, _, names in os.walk(p) for f in sorted(names) if f.endswith(".py")]
        else:
            files.append(p)
    return files


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="files or folders (default: the plugin's files)")
    parser.add_argument("--static", action="store_true", help="use the built-in enum table, not the bindings")
    args = parser.parse_args(argv)
    lookup = None if args.static else introspection_lookup()
    mode = "bindings" if lookup else "built-in table"
    lookup = lookup or static_lookup
    files = _expand(args.paths) if args.paths else plugin_files()
    findings = [f for path in files for f in check_file(path, lookup)]
    for f in findings:
        print(f)
    if findings:
        print(f"lint_qt: {len(findings)} Qt6/QGIS 4 readiness problem(s) in {len(files)} files (enums: {mode}).")
        return 1
    print(f"lint_qt: {len(files)} files OK (enums: {mode}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
