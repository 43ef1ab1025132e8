#!/usr/bin/env python3
"""Build the plugin zip for the QGIS plugin repository: ``dist/smdownscale-<version>.zip``.

The zip holds one folder, ``smdownscale/``, with the files git knows about (tracked, or new and not
ignored) minus what only developers need (tests, benches, build scripts, CI, Makefile, requirements,
pyproject.toml, CONTRIBUTING.md, dotfiles, translation sources), plus the compiled translations
``i18n/*.qm``. Before writing, ``metadata.txt`` is checked for every field plugins.qgis.org requires
or this project promises (name, qgisMinimumVersion, description, about, version, author, email,
repository, tracker, tags, changelog, icon) and the icon and LICENSE files must be present.

    python3 scripts/build_zip.py --out dist
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
import subprocess
import sys
import zipfile
from typing import Iterable
from urllib.parse import urlparse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "smdownscale"

EXCLUDED_DIRS = {"tests", "bench", "scripts", ".ci", "dist", "build", "out", "__pycache__"}
EXCLUDED_FILES = {"Makefile", "pyproject.toml", "CONTRIBUTING.md"}
EXCLUDED_PREFIXES = ("requirements",)
#: plugins.qgis.org accepts no binaries: the compiled tree walker ships as C source (built on the user's machine).
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".ts", ".pro", ".so", ".dll", ".dylib", ".tmp")

#: Fields plugins.qgis.org rejects a zip without, plus those this project always fills in.
REQUIRED_FIELDS = ("name", "qgisMinimumVersion", "description", "about", "version", "author", "email",
                   "repository", "tracker", "tags", "changelog", "icon")
URL_FIELDS = ("repository", "tracker", "homepage")
#: plugins.qgis.org refuses uploads without it (since June 2024).
LICENSE = "LICENSE"
#: Fixed timestamp for every entry, so the same sources give the same zip.
ZIP_DATE = (2020, 1, 1, 0, 0, 0)


class BuildError(Exception):
    """The zip cannot be built; the message says what to fix."""


def excluded(rel: str) -> bool:
    parts = rel.replace(os.sep, "/").split("/")
    name = parts[-1]
    if any(p.startswith(".") for p in parts):
        return True
    if parts[0] in EXCLUDED_DIRS or "__pycache__" in parts:
        return True
    if len(parts) == 1 and (name in EXCLUDED_FILES or name.startswith(EXCLUDED_PREFIXES)):
        return True
    return name.endswith(EXCLUDED_SUFFIXES)


def git_files(root: str) -> list[str]:
    """Files git tracks, or that are new and not ignored, that exist on disk (relative paths)."""
    try:
        proc = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                              capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError(f"'git ls-files' failed in {root}: {exc}; build from a git checkout.") from exc
    names = [n for n in proc.stdout.decode("utf-8").split("\0") if n]
    return sorted(n for n in set(names)
                  if os.path.isfile(os.path.join(root, n)) and not os.path.islink(os.path.join(root, n)))


def plugin_files(root: str = ROOT) -> list[str]:
    """Relative paths of the files that go into the zip."""
    files = {f for f in git_files(root) if not excluded(f)}
    i18n = os.path.join(root, "i18n")
    if os.path.isdir(i18n):  # compiled translations ship even when they are build products
        files |= {f"i18n/{n}" for n in os.listdir(i18n) if n.endswith(".qm")}
    return sorted(files)


def read_metadata(path: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive (qgisMinimumVersion)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except (OSError, configparser.Error, UnicodeDecodeError) as exc:
        raise BuildError(f"Cannot read {path}: {exc}") from exc
    if not parser.has_section("general"):
        raise BuildError(f"{path} has no [general] section.")
    return {k: v.strip() for k, v in parser.items("general")}


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def validate_metadata(meta: dict[str, str], files: Iterable[str]) -> list[str]:
    """Problems that would make plugins.qgis.org (or QGIS) refuse the plugin; empty when valid."""
    files = set(files)
    problems = [f"metadata.txt: '{k}' is missing or empty" for k in REQUIRED_FIELDS if not meta.get(k)]
    version = meta.get("version", "")
    if version and not re.fullmatch(r"\d+\.\d+(\.\d+)?([.-]?[A-Za-z0-9]+)?", version):
        problems.append(f"metadata.txt: version '{version}' is not like 1.2.3")
    for key in ("qgisMinimumVersion", "qgisMaximumVersion"):
        value = meta.get(key)
        if value and not re.fullmatch(r"\d+\.\d+(\.\d+)?", value):
            problems.append(f"metadata.txt: {key} '{value}' is not like 3.22")
    lo, hi = meta.get("qgisMinimumVersion", ""), meta.get("qgisMaximumVersion", "")
    if (re.fullmatch(r"\d+\.\d+(\.\d+)?", lo or "-") and re.fullmatch(r"\d+\.\d+(\.\d+)?", hi or "-")
            and _version_tuple(hi) < _version_tuple(lo)):
        problems.append(f"metadata.txt: qgisMaximumVersion {hi} is below qgisMinimumVersion {lo}")
    for key in URL_FIELDS:
        value = meta.get(key)
        if value:
            url = urlparse(value)
            if url.scheme not in ("http", "https") or not url.netloc:
                problems.append(f"metadata.txt: {key} '{value}' is not an http(s) URL")
    if "/" in meta.get("author", ""):
        problems.append("metadata.txt: author must not contain '/'")
    email = meta.get("email", "")
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        problems.append(f"metadata.txt: email '{email}' is not an e-mail address")
    icon = meta.get("icon", "")
    if icon and icon.removeprefix("./") not in files:
        problems.append(f"metadata.txt: icon '{icon}' is not among the packaged files")
    for flag in ("experimental", "deprecated"):
        if flag in meta and meta[flag].lower() not in ("true", "false", "1", "0"):
            problems.append(f"metadata.txt: {flag} must be True or False")
    if meta.get("hasProcessingProvider", "").lower() not in ("yes", "true"):
        problems.append("metadata.txt: hasProcessingProvider=yes is needed for qgis_process to load the provider")
    if "__init__.py" not in files:
        problems.append("__init__.py (with classFactory) is not among the packaged files")
    if LICENSE not in files:
        problems.append(f"{LICENSE} is not among the packaged files: plugins.qgis.org requires a LICENSE file "
                        "(a GPL-compatible licence) at the top of the plugin folder; add it and commit it")
    return problems


def check_zip(path: str) -> list[str]:
    """Problems plugins.qgis.org reports for an uploaded zip; empty when none."""
    problems = []
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        bad = zf.testzip()
        if bad:
            problems.append(f"corrupt entry {bad}")
    tops = {n.split("/")[0] for n in names}
    if tops != {PACKAGE}:
        problems.append(f"the zip must hold exactly one folder '{PACKAGE}/', not {sorted(tops)}")
    for n in names:
        parts = n.split("/")
        if ".." in parts or n.startswith("/"):
            problems.append(f"entry with a path outside the folder: {n}")
        if n.endswith(".pyc") or {"__pycache__", ".git", "__MACOSX"} & set(parts):
            problems.append(f"forbidden entry: {n}")
    for required in ("__init__.py", "metadata.txt"):
        if f"{PACKAGE}/{required}" not in names:
            problems.append(f"{PACKAGE}/{required} is missing")
    return problems


def build(out_dir: str, root: str = ROOT) -> str:
    """Validate and write the zip; returns its path. Raises :class:`BuildError` listing every problem."""
    files = plugin_files(root)
    meta = read_metadata(os.path.join(root, "metadata.txt"))
    problems = validate_metadata(meta, files)
    if problems:
        raise BuildError("metadata/packaging problems:\n  " + "\n  ".join(problems))
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, f"{PACKAGE}-{meta['version']}.zip")
    partial = target + ".partial"
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            for rel in files:
                info = zipfile.ZipInfo(f"{PACKAGE}/{rel}", date_time=ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                with open(os.path.join(root, rel), "rb") as f:
                    zf.writestr(info, f.read())
        problems = check_zip(partial)
        if problems:
            raise BuildError("zip problems:\n  " + "\n  ".join(problems))
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the smdownscale plugin zip.")
    parser.add_argument("--out", default=os.path.join(ROOT, "dist"), help="output folder (default: dist/)")
    parser.add_argument("--root", default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        path = build(args.out, args.root)
    except BuildError as exc:
        print(f"build_zip: {exc}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(path) as zf:
        count = len(zf.namelist())
    print(f"{path}: {count} files, {os.path.getsize(path) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
