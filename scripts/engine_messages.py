#!/usr/bin/env python3
"""The engine's user-visible English templates, found in the code (``algorithms/``), for its translations.

A template is English text with numbered placeholders ``{0}``, ``{1}``, ... where the code inserts values
(see ``algorithms/i18n.py``). Found:

- the message of every error the engine raises (``raise InputError(f"...")``, ``GeeError``, ``Canceled``, any
  ``...Error``/``...Exception``), of ``warn(...)``/``log(...)`` lines, and the values they are built from
  (strings assigned to ``msg``/``message``/``hint``/``reason`` or to UPPER_CASE constants, returned by helpers
  named ``*message*``/``*error*``/``explain``, and the text branches of ``x if c else y`` inside them);
- the pieces of messages collected in ``parts``/``reasons``/``notes`` lists (``parts.append(f"...")``);
- the labels of the files ``check_apart({...}, {...})`` names in its messages, and the values of ``*LABELS``
  dicts (labels shown to users);
- the first argument of every ``_t("...")``, ``N_("...")`` and ``_p("...")`` (plot text) call, as written,
  and the texts given to the report builder's ``Html(...)``, ``h2``, ``p`` and ``figure`` (the reports).

An f-string becomes a template with one placeholder per inserted value (``f"{a} of {b:.2f}"`` ->
``"{0} of {1}"``); a concatenation joins its pieces, a non-text piece being one placeholder. Texts with
fewer than two words are no message and are left out.

    python3 scripts/engine_messages.py            # list the templates
    python3 scripts/engine_messages.py --missing  # those without a translation in scripts/zh_CN_engine.json
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINE_DIR = os.path.join(ROOT, "algorithms")
TABLE_PATH = os.path.join(ROOT, "scripts", "zh_CN_engine.json")
CATALOG_PATH = os.path.join(ROOT, "i18n", "smdownscale_engine_zh_CN.json")

_CALLS = re.compile(r"(Error|Exception)$|^(Canceled|warn|log|_warn|damaged_error)$")
_MESSAGE_NAMES = re.compile(r"^(msg|message|hint|reason|fix|advice|problem|detail|note)$|^_?[A-Z][A-Z0-9_]*$")
#: Lists and dicts whose texts are joined into a message (``parts.append(f"...")``, ``reasons[k] = f"..."``).
_MESSAGE_LISTS = re.compile(r"^(parts|reasons|notes|problems|hints)$")
#: Helpers building an error from a reason: every text argument is part of a message.
_REASON_CALLS = re.compile(r"^_not_|^_damaged|_error$")
_MESSAGE_FUNCTIONS = re.compile(r"message|error|explain|_hint|describe|summary|^_load$|^status$|^build$")
_TRANSPARENT = {"redact", "str"}
#: The report builder's text methods (``algorithms/report.py``): every text they are given is shown.
_REPORT_CALLS = {"h2", "p", "figure", "Html"}
_WORD = re.compile(r"[A-Za-z]{2,}")


def _name(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _is_text(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_text(node.left) or _is_text(node.right)
    if isinstance(node, ast.Call) and _name(node.func) in _TRANSPARENT and len(node.args) == 1:
        return _is_text(node.args[0])
    return False


def template(node: ast.AST, found: list[str] | None = None) -> str:
    """The template of a text expression; text branches of conditional pieces are added to ``found``."""
    parts: list[str] = []
    count = [0]

    def hole(expr: ast.AST) -> None:
        parts.append(f"{{{count[0]}}}")
        count[0] += 1
        if found is not None:
            for sub in ast.walk(expr):
                if isinstance(sub, ast.IfExp):
                    for branch in (sub.body, sub.orelse):
                        if _is_text(branch):
                            text = template(branch, found)
                            if is_message(text):
                                found.append(text)

    def walk(expr: ast.AST) -> None:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            parts.append(expr.value)
        elif isinstance(expr, ast.JoinedStr):
            for value in expr.values:
                if isinstance(value, ast.Constant):
                    parts.append(value.value)
                else:
                    hole(value.value if isinstance(value, ast.FormattedValue) else value)
        elif isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add) and _is_text(expr):
            walk(expr.left)
            walk(expr.right)
        elif isinstance(expr, ast.Call) and _name(expr.func) in _TRANSPARENT and len(expr.args) == 1 and \
                _is_text(expr.args[0]):
            walk(expr.args[0])
        else:
            hole(expr)

    walk(node)
    return "".join(parts)


def is_message(text: str, min_words: int = 2) -> bool:
    """At least ``min_words`` words (two letters or more) once the placeholders are left out, two of them in a
    row separated by a space unless one word is enough; no CSS or URL."""
    bare = re.sub(r"\s+", " ", re.sub(r"\{\d+\}", " ", text))
    if "{" in bare and ":" in bare and ";" in bare or bare.strip().startswith(("http://", "https://", "<!DOCTYPE")):
        return False
    if len(_WORD.findall(bare)) < min_words:
        return False
    return min_words < 2 or re.search(r"[A-Za-z]{2,},? [A-Za-z]{2,}", bare) is not None


def file_templates(source: str) -> list[str]:
    """The templates of one Python file, in the order found (duplicates kept)."""
    tree = ast.parse(source)
    found: list[str] = []

    def add(node: ast.AST, min_words: int = 2) -> None:
        if isinstance(node, ast.IfExp):  # msg = "..." if c else "...": both are messages
            add(node.body, min_words)
            add(node.orelse, min_words)
        elif _is_text(node):
            text = template(node, found)
            if is_message(text, min_words):
                found.append(text)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if name in ("_t", "N_", "_p") and node.args and isinstance(node.args[0], ast.Constant) and \
                    isinstance(node.args[0].value, str):
                found.append(node.args[0].value)
            elif name == "check_apart":  # the labels of the files it names in its messages
                for arg in node.args:
                    if isinstance(arg, ast.Dict):
                        found += [k.value for k in arg.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)
                                  and is_message(k.value, 1)]
            elif name in _REPORT_CALLS:
                for arg in node.args:
                    if _is_text(arg):
                        text = template(arg, found)
                        if is_message(text, 1):
                            found.append(text)
            elif name == "append" and isinstance(node.func, ast.Attribute) and \
                    isinstance(node.func.value, ast.Name) and _MESSAGE_LISTS.search(node.func.value.id):
                for arg in node.args:
                    add(arg)
            elif _REASON_CALLS.search(name):
                for arg in node.args:
                    add(arg)
            elif _CALLS.search(name):
                for arg in node.args[:1]:
                    add(arg)
                for kw in node.keywords:
                    if kw.arg in ("message", "msg"):
                        add(kw.value)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if isinstance(node.value, ast.Dict) and any(isinstance(t, ast.Name) and t.id.endswith("LABELS")
                                                        for t in targets):  # {key: label shown to users}
                for value in node.value.values:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str) and is_message(value.value, 1):
                        found.append(value.value)
            listed = [t for t in targets if isinstance(t, ast.Name) and _MESSAGE_LISTS.search(t.id)
                      or isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name)
                      and _MESSAGE_LISTS.search(t.value.id)]
            if listed and node.value is not None:
                for value in node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]:
                    add(value)
            names = [t.id for t in targets if isinstance(t, ast.Name) and _MESSAGE_NAMES.search(t.id)
                     and not t.id.endswith(("_NAME", "_URL", "_PATH"))]  # names of things, not messages
            if node.value is not None and names:  # module constants: sentences only (not names, URLs, CSS)
                add(node.value, 4 if any(n.isupper() for n in names) else 2)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _MESSAGE_FUNCTIONS.search(node.name):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Return) and sub.value is not None:
                    for value in sub.value.elts if isinstance(sub.value, ast.Tuple) else [sub.value]:
                        add(value)
    return found


def engine_templates(folder: str = ENGINE_DIR) -> list[str]:
    """Every template of the engine, once, sorted."""
    out: set[str] = set()
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    out.update(file_templates(f.read()))
    return sorted(out)


def load_table(path: str = TABLE_PATH) -> dict[str, str]:
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"\{\d+\}", text))


def write_catalog(templates: list[str], table: dict[str, str], path: str = CATALOG_PATH) -> int:
    """Write the runtime catalog (the table's translations of the code's templates); returns its size."""
    catalog = {t: table[t] for t in templates if table.get(t, "").strip()}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".partial"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(catalog, f, ensure_ascii=False, indent=0, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    return len(catalog)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--missing", action="store_true", help="list the templates without a translation")
    parser.add_argument("--catalog", action="store_true", help=f"write {os.path.relpath(CATALOG_PATH, ROOT)}")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a translation is missing")
    args = parser.parse_args(argv)
    templates = engine_templates()
    table = load_table()
    missing = [t for t in templates if not table.get(t, "").strip()]
    mismatched = [t for t in templates if t in table and table[t].strip() and placeholders(t) != placeholders(table[t])]
    if args.catalog:
        n = write_catalog(templates, table)
        print(f"{os.path.relpath(CATALOG_PATH, ROOT)}: {n} engine message(s) translated of {len(templates)}; "
              f"{len(missing)} missing; {len(set(table) - set(templates))} table entries not used by the code")
    if args.missing or args.catalog:
        if missing:
            print("Engine messages without a translation (add them to scripts/zh_CN_engine.json):")
            for t in missing:
                print(f"  {t}")
    else:
        for t in templates:
            print(t)
    for t in mismatched:
        print(f"Placeholder mismatch (engine): {t[:60]} -> {table[t][:60]}", file=sys.stderr)
    if mismatched:
        return 2
    return 1 if args.strict and missing else 0


if __name__ == "__main__":
    sys.exit(main())
