"""The one rule: no output may be the same file as an input, however the two paths are written."""

from __future__ import annotations

import os
import re

import pytest

from smdownscale.algorithms.errors import InputError
from smdownscale.algorithms.paths import (
    GEOTIFF,
    FolderOutput,
    check_apart,
    check_file_name,
    file_of,
    folder_files,
    same_file,
)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "data").mkdir()
    smap = tmp_path / "data" / "smap_20230601.tif"
    smap.write_bytes(b"smap")
    other = tmp_path / "data" / "factors_20230601.tif"
    other.write_bytes(b"factors")
    return tmp_path, str(smap), str(other)


def test_same_file_by_every_spelling(files, tmp_path):
    base, smap, other = files
    assert same_file(smap, smap)
    assert same_file(os.path.join(base, "data", "..", "data", "smap_20230601.tif"), smap)
    os.symlink(smap, base / "link.tif")
    assert same_file(str(base / "link.tif"), smap)
    os.symlink(base / "data", base / "linked_folder")
    assert same_file(str(base / "linked_folder" / "smap_20230601.tif"), smap)
    os.link(smap, base / "hard.tif")
    assert same_file(str(base / "hard.tif"), smap)
    assert not same_file(other, smap)
    assert not same_file(str(base / "new.tif"), smap)  # a file that does not exist yet


def test_relative_paths(files, monkeypatch):
    base, smap, _ = files
    monkeypatch.chdir(base / "data")
    assert same_file("smap_20230601.tif", smap)
    assert same_file("./../data/smap_20230601.tif", smap)


@pytest.mark.parametrize("source, expected", [
    ('NETCDF:"/d/SMAP_L4.nc":sm_surface', "/d/SMAP_L4.nc"),
    ('HDF5:"/d/SMAP_L4.h5"://Geophysical_Data/sm_surface', "/d/SMAP_L4.h5"),
    ("/vsizip//d/download.zip/smap.tif", "/d/download.zip"),
    ("/vsizip/d/download.zip/a/smap.tif", "/d/download.zip"),
    ("/d/stations.gpkg|layername=stations", "/d/stations.gpkg"),
    ("/d/plain.tif", "/d/plain.tif"),
])
def test_file_behind_a_source_string(source, expected):
    assert file_of(source) == expected


def test_output_naming_an_input_is_refused_naming_both_parameters(files):
    _, smap, other = files
    with pytest.raises(InputError) as err:
        check_apart({"'Model file' (OUTPUT)": smap},
                    {"'Factor stacks' (FACTORS)": [other], "'SMAP soil moisture rasters' (SOIL_MOISTURE)": [smap]})
    assert str(err.value) == (
        f"The output 'Model file' (OUTPUT) ({smap}) is the same file as the input 'SMAP soil moisture rasters' "
        f"(SOIL_MOISTURE) ({smap}): writing it would destroy that input. Choose another file name or folder for "
        "'Model file' (OUTPUT); nothing was written.")


def test_a_hard_link_output_names_the_input_file(files, tmp_path):
    _, smap, _ = files
    os.link(smap, tmp_path / "model.smdmodel")
    with pytest.raises(InputError, match=r"\(.*model\.smdmodel, which is smap_20230601\.tif\) is the same file as "
                                         r"the input SMAP"):
        check_apart({"OUTPUT": str(tmp_path / "model.smdmodel")}, {"SMAP": smap})


def test_netcdf_input_is_protected(tmp_path):
    nc = tmp_path / "SMAP_L4.nc"
    nc.write_bytes(b"CDF")
    with pytest.raises(InputError, match="is the same file as the input SOIL_MOISTURE"):
        check_apart({"OUTPUT": str(nc)}, {"SOIL_MOISTURE": f'NETCDF:"{nc}":sm_surface'})


def test_distinct_files_pass(files, tmp_path):
    _, smap, other = files
    check_apart({"OUTPUT": str(tmp_path / "out.tif"), "REPORT": str(tmp_path / "out.html"), "EMPTY": None},
                {"A": [smap, other], "B": None, "C": ""})


def test_two_outputs_on_one_file(tmp_path):
    with pytest.raises(InputError, match=r"The outputs OUTPUT and REPORT are the same file \(.*same\.html\): one "
                                         r"would overwrite the other"):
        check_apart({"OUTPUT": str(tmp_path / "same.html"), "REPORT": str(tmp_path / "x" / ".." / "same.html")}, {})


def test_folder_outputs(files, tmp_path):
    base, smap, other = files
    # an input among the files the folder receives
    with pytest.raises(InputError, match=r"The output OUTPUT_FOLDER .*is the same file as the input FACTORS"):
        check_apart({"OUTPUT_FOLDER": FolderOutput(str(base / "data"), ["factors_20230601.tif"])},
                    {"FACTORS": [other]})
    # an input inside a subfolder the output fills and replaces (e.g. a tile cache)
    with pytest.raises(InputError, match=r"The input AREA \(.*data/smap_20230601\.tif\) lies in .*data, which the "
                                         r"output OUTPUT fills and replaces"):
        check_apart({"OUTPUT": FolderOutput(str(base), ["manifest.json"], ["data"])}, {"AREA": smap})
    # an output folder that is an input file
    with pytest.raises(InputError, match=r"The output folder OUTPUT \(.*smap_20230601\.tif\) is the input file AREA"):
        check_apart({"OUTPUT": FolderOutput(smap)}, {"AREA": smap})
    # other files in the same folder are fine
    check_apart({"OUTPUT_FOLDER": FolderOutput(str(base / "data"), ["sm_1km_20230601.tif"])}, {"FACTORS": [other]})


def test_folder_files_lists_nested_files(files):
    base, smap, other = files
    (base / "data" / "deeper").mkdir()
    (base / "data" / "deeper" / "x.stm").write_text("x")
    assert sorted(folder_files(str(base / "data"))) == sorted([smap, other, str(base / "data" / "deeper" / "x.stm")])
    assert folder_files(str(base / "missing")) == []


def test_sidecars_gdal_reads_with_an_input_are_protected(files, tmp_path):
    _, smap, _ = files
    for side in (".aux.xml", ".ovr", ".msk"):  # whether the sidecar exists yet or not
        with pytest.raises(InputError, match=rf"The output OUTPUT \(.*smap_20230601\.tif{re.escape(side)}\) is the "
                                             rf"{re.escape(side)} file GDAL reads as part of the input SOIL_MOISTURE"):
            check_apart({"OUTPUT": smap + side}, {"SOIL_MOISTURE": [smap]})
    check_apart({"OUTPUT": smap + ".csv"}, {"SOIL_MOISTURE": [smap]})


def test_folder_output_patterns(files):
    base, smap, other = files
    (base / "data" / "sm_1km_20230601.tif").write_bytes(b"an input named like an output")
    named = str(base / "data" / "sm_1km_20230601.tif")
    with pytest.raises(InputError, match=r"The input SOIL_MOISTURE_SERIES \(.*sm_1km_20230601\.tif\) lies in the "
                                         r"output folder OUTPUT_FOLDER \(.*data\) under a name the output writes "
                                         r"\(sm_1km_\*\.tif\)"):
        check_apart({"OUTPUT_FOLDER": FolderOutput(str(base / "data"), ["sm_1km_series.csv"],
                                                   patterns=["sm_1km_*.tif"])},
                    {"FACTORS_SERIES": [other], "SOIL_MOISTURE_SERIES": [smap, named]})
    # the same name in another folder is no clash
    check_apart({"OUTPUT_FOLDER": FolderOutput(str(base / "out"), ["sm_1km_series.csv"], patterns=["sm_1km_*.tif"])},
                {"SOIL_MOISTURE_SERIES": [named]})


# -- file destinations name a file of the type written ----------------------------------------------

@pytest.mark.parametrize("name, fragment", [
    pytest.param("sm.jpg", r"is written as a GeoTIFF file, but its name ends in \.jpg; give a name ending in \.tif, "
                           r"such as .*/sm\.tif; nothing was written\.",
                 marks=pytest.mark.bad_input("engine: GeoTIFF output named .jpg"), id="jpg"),
    pytest.param("sm.gpkg", r"its name ends in \.gpkg; give a name ending in \.tif",
                 marks=pytest.mark.bad_input("engine: GeoTIFF output named .gpkg"), id="gpkg"),
    pytest.param("sm_1km", r"its name has no extension; give a name ending in \.tif, such as .*/sm_1km\.tif",
                 marks=pytest.mark.bad_input("engine: GeoTIFF output without extension"), id="no-extension"),
    pytest.param("out/", r"\(.*out/\) is a folder, not a file name; give a file name such as .*/out/<name>\.tif",
                 marks=pytest.mark.bad_input("engine: output path ending in '/'"), id="trailing-slash"),
])
def test_check_file_name_refuses_other_types_and_folders(tmp_path, name, fragment):
    with pytest.raises(InputError, match=fragment):
        check_file_name("raster", str(tmp_path / name) + ("/" if name.endswith("/") else ""), *GEOTIFF)


def test_check_file_name_accepts_the_type_written_in_any_case(tmp_path):
    for name in ("sm.tif", "SM.TIF", "sm.tiff", "sm.v2.tif"):
        check_file_name("raster", str(tmp_path / name), *GEOTIFF)  # no error
    (tmp_path / "results.tif").mkdir()
    with pytest.raises(InputError, match=r"results\.tif\) is a folder, not a file name"):
        check_file_name("raster", str(tmp_path / "results.tif"), *GEOTIFF)
    with pytest.raises(InputError, match=r"written as a CSV file, but its name ends in \.xlsx; give a name ending in "
                                         r"\.csv, such as .*/metrics\.csv"):
        check_file_name("metrics", str(tmp_path / "metrics.xlsx"), ("csv",), "CSV")
