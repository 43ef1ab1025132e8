#!/usr/bin/env python3
"""Fill the Simplified Chinese .ts file from the translation table ``scripts/zh_CN.json`` and report what is left.

``make i18n`` runs pylupdate5 (which regenerates ``i18n/smdownscale_zh_CN.ts`` from the code), then this
script, then lrelease. The table maps each English source text to its translation, whatever the context,
so a string keeps its translation when it moves between classes. For every message of the .ts:

- source in the table: the translation is written and marked finished;
- otherwise a finished translation already in the .ts (e.g. made in Qt Linguist) is kept; ``--harvest``
  copies such translations into the table;
- otherwise the message stays unfinished and is listed.

``self.tr()`` translates in the context of the algorithm's class, but pylupdate5 files a string under the
class whose body holds the call (``SmdAlgorithm`` for the shared base class) or under the receiver's
name (``alg`` for ``alg.tr(...)`` in helpers shared by several algorithms). ``--shared FILE`` writes a
second .ts with those messages copied into every algorithm's context; lrelease compiles both into the .qm.

Messages of contexts that belong to QGIS itself (:data:`FOREIGN_CONTEXTS`, e.g. the Processing plugin's
"Processing" used to place the options page) are removed: a translation of ours would override QGIS's.
Placeholders (``{}``, ``{name}``, ``{:.4f}``, ``%1``) must be the same in source and translation; a
mismatch is an error (exit status 2). ``--strict`` also fails (exit status 1) when anything is unfinished.

    python3 scripts/translate_zh.py i18n/smdownscale_zh_CN.ts [--shared build/i18n/shared.ts] [--harvest] [--strict]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TS_PATH = os.path.join(ROOT, "i18n", "smdownscale_zh_CN.ts")
TABLE_PATH = os.path.join(ROOT, "scripts", "zh_CN.json")
LANGUAGE = "zh_CN"
#: Translation contexts owned by QGIS: never translated by the plugin.
FOREIGN_CONTEXTS = ("ProcessingPlugin",)
#: Context of the algorithms' base class; contexts starting in lower case are receivers (``alg.tr``).
BASE_CONTEXT = "SmdAlgorithm"
ALGORITHM_SUFFIX = "Algorithm"

_PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\d+")


def placeholders(text: str) -> Counter:
    """The format placeholders of ``text`` ({}, {name}, {:.4f}, %1), with their counts."""
    return Counter(_PLACEHOLDER.findall(text))


def load_table(path: str = TABLE_PATH) -> dict[str, str]:
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        table = json.load(f)
    if not isinstance(table, dict):
        raise SystemExit(f"{path} must hold one JSON object {{source: translation}}.")
    return table


def save_table(table: dict[str, str], path: str = TABLE_PATH) -> None:
    tmp = path + ".partial"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(dict(sorted(table.items())), f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(tmp, path)


@dataclass
class Report:
    total: int = 0
    from_table: int = 0
    kept: list[str] = field(default_factory=list)  #: finished in the .ts but not in the table
    unfinished: list[tuple[str, str]] = field(default_factory=list)  #: (context, source)
    mismatched: list[tuple[str, str, str]] = field(default_factory=list)  #: (context, source, translation)
    removed: int = 0
    unused: int = 0

    @property
    def translated(self) -> int:
        return self.total - len(self.unfinished)


def apply(tree: ET.ElementTree, table: dict[str, str]) -> Report:
    """Write the table's translations into ``tree`` (in place) and return what was done."""
    report = Report()
    root = tree.getroot()
    root.set("language", LANGUAGE)
    used = set()
    for context in list(root.findall("context")):
        name = context.findtext("name") or ""
        if name in FOREIGN_CONTEXTS:
            report.removed += len(context.findall("message"))
            root.remove(context)
            continue
        for message in context.findall("message"):
            source = message.findtext("source") or ""
            translation = message.find("translation")
            if translation is None:
                translation = ET.SubElement(message, "translation")
            report.total += 1
            if source in table and table[source].strip():
                used.add(source)
                translation.text = table[source]
                translation.attrib.pop("type", None)
                report.from_table += 1
            elif (translation.text or "").strip() and translation.get("type") not in ("unfinished", "obsolete",
                                                                                       "vanished"):
                report.kept.append(source)
            else:
                translation.set("type", "unfinished")
                report.unfinished.append((name, source))
                continue
            if placeholders(source) != placeholders(translation.text or ""):
                report.mismatched.append((name, source, translation.text or ""))
    report.unused = len(set(table) - used)
    return report


def is_shared(context: str) -> bool:
    """A context the code never uses at run time: the base class or the receiver of ``x.tr(...)``."""
    return context == BASE_CONTEXT or context[:1].islower()


def shared_messages(tree: ET.ElementTree) -> dict[str, list[tuple[str, str]]]:
    """Algorithm context -> finished (source, translation) of the shared contexts it does not hold itself."""
    contexts = {c.findtext("name") or "": c for c in tree.getroot().findall("context")}
    shared = []
    for name, context in contexts.items():
        if is_shared(name):
            for message in context.findall("message"):
                translation = message.find("translation")
                if translation is not None and (translation.text or "").strip() and not translation.get("type"):
                    shared.append((message.findtext("source") or "", translation.text))
    out = {}
    for name, context in contexts.items():
        if name.endswith(ALGORITHM_SUFFIX) and not is_shared(name):
            own = {m.findtext("source") for m in context.findall("message")}
            seen = set()
            out[name] = [(s, t) for s, t in shared if s not in own and not (s in seen or seen.add(s))]
    return out


def shared_tree(tree: ET.ElementTree) -> ET.ElementTree:
    """A .ts holding the shared messages in every algorithm's context (see the module docstring)."""
    root = ET.Element("TS", {"version": tree.getroot().get("version", "2.1"), "language": LANGUAGE})
    for name, messages in sorted(shared_messages(tree).items()):
        if not messages:
            continue
        context = ET.SubElement(root, "context")
        ET.SubElement(context, "name").text = name
        for source, translation in messages:
            message = ET.SubElement(context, "message")
            ET.SubElement(message, "source").text = source
            ET.SubElement(message, "translation").text = translation
    return ET.ElementTree(root)


def harvest(tree: ET.ElementTree, table: dict[str, str]) -> int:
    """Copy finished translations of the .ts into ``table``; returns how many were new or changed."""
    changed = 0
    for message in tree.getroot().iter("message"):
        source = message.findtext("source") or ""
        translation = message.find("translation")
        if translation is None or not (translation.text or "").strip() or translation.get("type"):
            continue
        if table.get(source) != translation.text:
            table[source] = translation.text
            changed += 1
    return changed


def write_ts(tree: ET.ElementTree, path: str) -> None:
    """Write the .ts as Qt's tools do (declaration, DOCTYPE, 4-space indent), atomically."""
    ET.indent(tree, space="    ")
    body = ET.tostring(tree.getroot(), encoding="unicode")
    tmp = path + ".partial"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n')
        f.write(body)
        f.write("\n")
    os.replace(tmp, path)


def _short(text: str, width: int = 100) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[:width - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ts", nargs="?", default=TS_PATH, help="the .ts file (default: %(default)s)")
    parser.add_argument("--table", default=TABLE_PATH, help="translation table (default: %(default)s)")
    parser.add_argument("--shared", help="also write the shared messages for every algorithm context to this .ts")
    parser.add_argument("--harvest", action="store_true",
                        help="copy finished translations of the .ts into the table first")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when anything is unfinished")
    args = parser.parse_args(argv)

    tree = ET.parse(args.ts)
    table = load_table(args.table)
    if args.harvest:
        n = harvest(tree, table)
        save_table(table, args.table)
        print(f"{n} translation(s) copied from {args.ts} into {args.table}")
    report = apply(tree, table)
    write_ts(tree, args.ts)
    if args.shared:
        os.makedirs(os.path.dirname(os.path.abspath(args.shared)), exist_ok=True)
        write_ts(shared_tree(tree), args.shared)

    print(f"{args.ts}: {report.total} messages, {report.translated} translated "
          f"({report.from_table} from {os.path.basename(args.table)}, {len(report.kept)} kept from the .ts), "
          f"{len(report.unfinished)} unfinished; {report.removed} QGIS message(s) removed; "
          f"{report.unused} table entr{'y' if report.unused == 1 else 'ies'} not used by the code")
    if report.kept:
        print("Translated in the .ts only (run with --harvest to keep them in the table):")
        for source in report.kept:
            print(f"  {_short(source)}")
    if report.unfinished:
        print("Unfinished (add them to the table):")
        for context, source in report.unfinished:
            print(f"  [{context}] {_short(source)}")
    for context, source, translation in report.mismatched:
        print(f"Placeholder mismatch [{context}]: {_short(source, 60)} -> {_short(translation, 60)}",
              file=sys.stderr)
    if report.mismatched:
        return 2
    return 1 if args.strict and report.unfinished else 0


if __name__ == "__main__":
    sys.exit(main())
