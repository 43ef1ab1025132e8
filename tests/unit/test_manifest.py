"""The fetch manifest: round trip, relative paths, escapes refused, missing files named, no secrets."""

from __future__ import annotations

import json
import os

import pytest

from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.manifest import StepFiles, manifest_inputs, read_manifest, write_manifest

BANDS = {"smap": {"name": "sm_surface", "unit": "m3/m3"},
         "factors": [{"name": "ndvi", "unit": "1", "kind": "continuous"},
                     {"name": "landcover", "unit": "class", "kind": "categorical"}]}
REQUEST = {"area": {"bbox": [115.5, 41.5, 116.5, 42.5], "crs": "EPSG:4326"}, "start": "2023-06-01",
           "end": "2023-06-02", "step": "daily", "factors": ["ndvi", "landcover"], "crs": "EPSG:6933",
           "resolution": 1000.0}
PROV = {"collections": {"ndvi": ["MODIS/061/MOD13A2"]}, "earthengine_api": "1.7.50", "requested": "2024-01-01T00:00Z"}


def _files(folder, dates=("20230601", "20230602")):
    steps = []
    for d in dates:
        for sub in ("smap", "factors"):
            os.makedirs(folder / sub, exist_ok=True)
            (folder / sub / f"{sub}_{d}.tif").write_bytes(b"x")
        steps.append(StepFiles(f"{d[:4]}-{d[4:6]}-{d[6:]}", str(folder / "smap" / f"smap_{d}.tif"),
                               f"factors/factors_{d}.tif"))
    return steps


def test_round_trip_stores_relative_paths_and_resolves_them(tmp_path):
    steps = _files(tmp_path)
    path = write_manifest(str(tmp_path / "manifest.json"), steps[::-1], BANDS, REQUEST, PROV)
    doc = json.loads(open(path).read())
    assert doc["format"] == "smdownscale-manifest" and doc["version"] == 1
    assert doc["created"].endswith("Z")
    assert [f["smap"] for f in doc["files"]] == ["smap/smap_20230602.tif", "smap/smap_20230601.tif"]
    assert all(not os.path.isabs(f["factors"]) and not os.path.isabs(f["smap"]) for f in doc["files"])
    m = read_manifest(path)
    assert m.dates == ["2023-06-02", "2023-06-01"]
    assert m.factor_names == ["ndvi", "landcover"]
    assert m.units == {"ndvi": "1", "landcover": "class", "sm_surface": "m3/m3"}
    assert m.request["resolution"] == 1000.0 and m.provenance["earthengine_api"] == "1.7.50"
    sm, st = manifest_inputs(path)
    assert sm == [str(tmp_path / "smap" / "smap_20230601.tif"), str(tmp_path / "smap" / "smap_20230602.tif")]
    assert st == [str(tmp_path / "factors" / f"factors_{d}.tif") for d in ("20230601", "20230602")]


def test_moved_folder_still_reads(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    write_manifest(str(a / "manifest.json"), _files(a, ("20230601",)), BANDS, REQUEST, PROV)
    b = tmp_path / "b"
    os.rename(a, b)
    assert manifest_inputs(str(b / "manifest.json"))[0] == [str(b / "smap" / "smap_20230601.tif")]


def _rewrite(path, **changes):
    doc = json.loads(open(path).read())
    doc["files"][0].update(changes)
    with open(path, "w") as fh:
        json.dump(doc, fh)


@pytest.mark.parametrize("bad, fragment", [
    ("../outside.tif", "points outside the manifest's folder"),
    ("smap/../../outside.tif", "points outside the manifest's folder"),
    ("/etc/passwd", "lists the absolute path '/etc/passwd'"),
    ("C:\\data\\smap.tif", "lists the absolute path"),
])
def test_paths_outside_the_folder_are_refused(tmp_path, bad, fragment):
    (tmp_path / "outside.tif").write_bytes(b"x")
    inner = tmp_path / "run"
    inner.mkdir()
    path = write_manifest(str(inner / "manifest.json"), _files(inner, ("20230601",)), BANDS, REQUEST, PROV)
    _rewrite(path, smap=bad)
    with pytest.raises(InputError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        read_manifest(path)


def test_symlink_leading_out_is_refused(tmp_path):
    (tmp_path / "secret.tif").write_bytes(b"x")
    inner = tmp_path / "run"
    inner.mkdir()
    path = write_manifest(str(inner / "manifest.json"), _files(inner, ("20230601",)), BANDS, REQUEST, PROV)
    os.symlink(tmp_path / "secret.tif", inner / "link.tif")
    _rewrite(path, smap="link.tif")
    with pytest.raises(InputError, match="points outside the manifest's folder"):
        read_manifest(path)


def test_writing_a_path_outside_the_folder_is_refused(tmp_path):
    inner = tmp_path / "run"
    inner.mkdir()
    with pytest.raises(InputError, match="is outside the manifest's folder"):
        write_manifest(str(inner / "manifest.json"), [StepFiles("2023-06-01", str(tmp_path / "x.tif"), None)],
                       BANDS, REQUEST, PROV)
    assert not os.listdir(inner)


def test_missing_files_are_named(tmp_path):
    path = write_manifest(str(tmp_path / "manifest.json"), _files(tmp_path), BANDS, REQUEST, PROV)
    os.remove(tmp_path / "factors" / "factors_20230602.tif")
    os.remove(tmp_path / "smap" / "smap_20230601.tif")
    with pytest.raises(InputError) as info:
        read_manifest(path)
    msg = str(info.value)
    assert "are missing: smap/smap_20230601.tif, factors/factors_20230602.tif" in msg
    assert "Fetch the data again" in msg


def test_secrets_never_reach_the_manifest(tmp_path):
    request = dict(REQUEST, credentials={"private_key": "-----BEGIN PRIVATE KEY-----abc"}, access_token="ya29.x",
                   project="my-project")
    path = write_manifest(str(tmp_path / "manifest.json"), _files(tmp_path), BANDS, request, PROV)
    text = open(path).read()
    assert "ya29" not in text and "PRIVATE KEY" not in text and "credentials" not in text
    assert json.loads(text)["request"]["project"] == "my-project"
    with pytest.raises(InputError, match=r"Refusing to write a credential into the manifest \(provenance.note\)"):
        write_manifest(str(tmp_path / "m2.json"), [], BANDS, REQUEST, dict(PROV, note="Bearer abc.def"))
    assert not (tmp_path / "m2.json").exists()
    assert not [f for f in os.listdir(tmp_path) if ".partial-" in f]


def test_not_a_manifest_and_newer_versions(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"hello": 1}')
    with pytest.raises(InputError, match="is not a smdownscale manifest"):
        read_manifest(str(p))
    p.write_text('{"format": "smdownscale-manifest", "version": 7, "files": []}')
    with pytest.raises(InputError, match="version 7, newer than this plugin reads"):
        read_manifest(str(p))
    p.write_text("{not json")
    with pytest.raises(InputError, match="is not a readable JSON manifest"):
        read_manifest(str(p))
    with pytest.raises(InputError, match="Manifest not found"):
        read_manifest(str(tmp_path / "none.json"))


def test_export_only_manifest_explains_itself(tmp_path):
    path = write_manifest(str(tmp_path / "manifest.json"), [StepFiles("2023-06-01", None, None)], BANDS, REQUEST,
                          PROV, exports=[{"task_id": "ABC", "kind": "smap", "date": "2023-06-01"}])
    with pytest.raises(InputError, match="describes Earth Engine export tasks, not downloaded files"):
        manifest_inputs(path)
