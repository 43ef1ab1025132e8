"""The release zip: one smdownscale/ folder, plugin files only, metadata complete, reproducible."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import build_zip  # noqa: E402


def _metadata(text: str) -> dict:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(text)
    return dict(parser.items("general"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    path = build_zip.build(str(out))
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        contents = {n: zf.read(n) for n in names}
    return path, names, contents


def test_zip_holds_the_plugin_folder_only(built):
    path, names, contents = built
    version = _metadata(open(os.path.join(ROOT, "metadata.txt"), encoding="utf-8").read())["version"]
    assert os.path.basename(path) == f"smdownscale-{version}.zip"
    assert {n.split("/")[0] for n in names} == {"smdownscale"}
    for required in ("metadata.txt", "__init__.py", "plugin.py", "LICENSE", "icons/smdownscale.svg",
                     "algorithms/__init__.py", "algorithms/raster.py", "algorithms/aggregate.py",
                     "processing_provider/provider.py", "processing_provider/base.py",
                     "processing_provider/settings.py", "processing_provider/dependencies.py",
                     "ui/__init__.py", "ui/settings_dialog.py"):
        assert f"smdownscale/{required}" in names, required
    rel = [n[len("smdownscale/"):] for n in names]
    for prefix in ("tests/", "bench/", "scripts/", ".ci/", ".git/", ".venv/", "dist/"):
        assert not [r for r in rel if r.startswith(prefix)], prefix
    for name in ("Makefile", "pyproject.toml", "CONTRIBUTING.md", ".gitignore", "requirements.txt",
                 "requirements-dev.txt"):
        assert name not in rel
    assert not [r for r in rel if "__pycache__" in r or r.endswith(".pyc") or "/." in "/" + r]
    # the tree walker as source only (plugins.qgis.org accepts no binaries), even where it is built
    assert "algorithms/_native/treewalk.c" in rel and "algorithms/native.py" in rel
    assert not [r for r in rel if r.endswith((".so", ".dll", ".dylib"))]
    # the compiled Qt translations and the engine's message catalogs (algorithms/i18n.py reads them at run time)
    shipped = sorted(f"i18n/{n}" for n in os.listdir(os.path.join(ROOT, "i18n"))
                     if n.endswith(".qm") or (n.startswith("smdownscale_engine_") and n.endswith(".json")))
    assert "i18n/smdownscale_engine_zh_CN.json" in shipped
    assert [r for r in rel if r.startswith("i18n/")] == shipped
    # Every entry is the file from the checkout, byte for byte.
    for r in rel:
        with open(os.path.join(ROOT, r), "rb") as f:
            assert contents[f"smdownscale/{r}"] == f.read(), r


def test_zip_metadata_is_complete(built):
    _, names, contents = built
    meta = _metadata(contents["smdownscale/metadata.txt"].decode("utf-8"))
    for field in ("name", "qgisMinimumVersion", "description", "about", "version", "author", "email",
                  "repository", "tracker", "tags", "changelog", "icon"):
        assert meta.get(field, "").strip(), field
    assert meta["qgisMinimumVersion"] == "3.22"
    assert meta["hasProcessingProvider"] == "yes"
    assert f"smdownscale/{meta['icon']}" in names
    assert build_zip.check_zip(built[0]) == []


def test_build_is_reproducible(built, tmp_path):
    again = build_zip.build(str(tmp_path))
    with open(again, "rb") as a, open(built[0], "rb") as b:
        assert a.read() == b.read()


def test_metadata_problems_are_listed():
    meta = {"name": "x", "qgisMinimumVersion": "3.22", "qgisMaximumVersion": "3.10", "description": "d",
            "version": "one", "author": "a/b", "email": "nobody", "repository": "github.com/x",
            "tracker": "https://example.org/issues", "tags": "", "icon": "icons/missing.svg"}
    problems = "\n".join(build_zip.validate_metadata(meta, ["__init__.py", "LICENSE"]))
    assert "'about' is missing or empty" in problems
    assert "'tags' is missing or empty" in problems
    assert "'changelog' is missing or empty" in problems
    assert "version 'one' is not like 1.2.3" in problems
    assert "qgisMaximumVersion 3.10 is below qgisMinimumVersion 3.22" in problems
    assert "repository 'github.com/x' is not an http(s) URL" in problems
    assert "author must not contain '/'" in problems
    assert "email 'nobody' is not an e-mail address" in problems
    assert "icon 'icons/missing.svg' is not among the packaged files" in problems
    assert "hasProcessingProvider=yes" in problems
    assert "tracker" not in problems
    no_license = "\n".join(build_zip.validate_metadata(meta, ["__init__.py"]))
    assert "plugins.qgis.org requires a LICENSE file" in no_license


@pytest.mark.parametrize(("rel", "out"), [
    ("tests/unit/test_raster.py", True), ("bench/run.py", True), ("scripts/build_zip.py", True),
    (".ci/run", True), (".gitignore", True), ("Makefile", True), ("requirements-dev.txt", True),
    ("pyproject.toml", True), ("CONTRIBUTING.md", True), ("algorithms/__pycache__/x.pyc", True),
    ("i18n/smdownscale_zh_CN.ts", True), ("algorithms/raster.py", False), ("i18n/smdownscale_zh_CN.qm", False),
    ("README.md", False), ("LICENSE", False), ("models/workflow.model3", False), ("docs/Makefile", False),
    ("algorithms/_native/libsmdtreewalk.so", True), ("algorithms/_native/libsmdtreewalk.dll", True),
    ("algorithms/_native/libsmdtreewalk.dylib", True), ("algorithms/_native/treewalk.c", False),
])
def test_excluded(rel, out):
    assert build_zip.excluded(rel) is out


def test_invalid_checkout_gives_no_zip(tmp_path, capsys):
    repo = tmp_path / "repo"
    (repo / "icons").mkdir(parents=True)
    (repo / "icons" / "i.svg").write_text("<svg/>")
    (repo / "__init__.py").write_text("def classFactory(iface):\n    return None\n")
    (repo / "LICENSE").write_text("GPL")
    (repo / "metadata.txt").write_text(
        "[general]\nname=x\nqgisMinimumVersion=3.22\ndescription=d\nversion=1.0.0\nauthor=a\nemail=a@b.org\n"
        "repository=https://example.org/x\ntracker=https://example.org/x/issues\ntags=t\nchangelog=c\n"
        "icon=icons/i.svg\nhasProcessingProvider=yes\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    out = tmp_path / "dist"
    assert build_zip.main(["--out", str(out), "--root", str(repo)]) == 1
    assert "'about' is missing or empty" in capsys.readouterr().err
    assert not out.exists() or os.listdir(out) == []

    with open(repo / "metadata.txt", "a", encoding="utf-8") as f:
        f.write("about=A plugin.\n")
    assert build_zip.main(["--out", str(out), "--root", str(repo)]) == 0
    with zipfile.ZipFile(out / "smdownscale-1.0.0.zip") as zf:
        assert sorted(zf.namelist()) == ["smdownscale/LICENSE", "smdownscale/__init__.py",
                                         "smdownscale/icons/i.svg", "smdownscale/metadata.txt"]
