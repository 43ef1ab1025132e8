"""The one rule protecting a user's files: no output may be the same file as an input.

Every algorithm states its destinations and its inputs (with the labels the user knows, e.g.
``"'Model file' (OUTPUT)"``) and calls :func:`check_apart` before anything is written. Files are
compared by what they are, not by how they are written: resolved real paths (symlinks, ``..``,
relative paths, ``~``), hard links and other aliases of one file (same device and inode), and
GDAL/QGIS source strings (``NETCDF:"f.nc":sm``, ``/vsizip/f.zip/a.tif``, ``f.gpkg|layername=x``)
are reduced to the file on disk first.

A destination may also be a folder that receives files the algorithm names in advance
(:class:`FolderOutput`); an input is then protected when it is one of those files or lies inside one of
the subfolders the algorithm fills (tile caches, per-date folders).
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence, Union

from .errors import InputError
from .i18n import N_

#: Files of an input folder examined at most (a folder of ISMN files holds a few thousand).
MAX_FOLDER_FILES = 200_000
#: Files GDAL reads beside a raster as part of it (statistics and metadata, overviews, masks).
SIDECARS = (".aux.xml", ".ovr", ".msk")

_PREFIXED = re.compile(r'^[A-Za-z][A-Za-z0-9_]*:"([^"]+)"')  # NETCDF:"f.nc":sm, HDF5:"f.h5"://sm
_PREFIXED_BARE = re.compile(r"^(?:NETCDF|HDF5|HDF4_SDS|HDF4_EOS:EOS_GRID|GPKG|GTIFF_DIR:\d+):([^:]+(?:\.[A-Za-z0-9]+))")
_ARCHIVE = re.compile(r"^/vsi(?:zip|tar|gzip|7z|rar)/(.+?\.(?:zip|tar|tgz|tar\.gz|gz|7z|rar))(?:/|$)", re.I)


@dataclass
class FolderOutput:
    """A destination folder and what the algorithm writes into it.

    ``files``: file names (relative to ``folder``) it will create or replace; ``subfolders``: folders
    (relative) whose content it creates or replaces (caches, per-date outputs); ``patterns``: shell patterns
    of the file names it writes directly in ``folder`` when the names are known only while running
    (e.g. ``sm_1km_*.tif``, one per date).
    """

    folder: str
    files: Sequence[str] = field(default_factory=tuple)
    subfolders: Sequence[str] = field(default_factory=tuple)
    patterns: Sequence[str] = field(default_factory=tuple)

    def paths(self) -> list[str]:
        """The full paths of the files the folder receives.

        Returns
        -------
        list of str
            The folder joined with each file name.
        """
        return [os.path.join(self.folder, f) for f in self.files]


Paths = Union[str, Sequence[str], FolderOutput, None]


def file_of(source: str) -> str:
    """The file on disk behind a raster or vector source string (GDAL prefixes, /vsi archives, QGIS options).

    Parameters
    ----------
    source : str
        A path or a GDAL/QGIS source string.

    Returns
    -------
    str
        The file path inside it (the string itself when it has no prefix or option).
    """
    text = str(source).strip()
    if "|" in text:  # QGIS: path|layername=x, path|option:...
        text = text.split("|", 1)[0]
    m = _PREFIXED.match(text)
    if m:
        return m.group(1)
    m = _ARCHIVE.match(text)
    if m:
        return m.group(1) if m.group(1).startswith("/") else "/" + m.group(1)
    m = _PREFIXED_BARE.match(text)
    if m:
        return m.group(1)
    return text


def resolve(path: str) -> str:
    """The canonical absolute path of ``path`` (user folder expanded, symlinks and ``..`` resolved).

    Parameters
    ----------
    path : str
        A path or source string (see :func:`file_of`).

    Returns
    -------
    str
        The absolute path with symlinks resolved.
    """
    return os.path.realpath(os.path.abspath(os.path.expanduser(file_of(path))))


def same_file(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` name one file: the same real path, or the same inode (hard links, case aliases).

    Parameters
    ----------
    a, b : str
        Paths or source strings.

    Returns
    -------
    bool
        True when both name the same file (files that do not exist compare by path only).
    """
    ra, rb = resolve(a), resolve(b)
    if ra == rb:
        return True
    try:
        sa, sb = os.stat(ra), os.stat(rb)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _inside(path: str, folder: str) -> bool:
    rp, rf = resolve(path), resolve(folder)
    return rp != rf and rp.startswith(rf.rstrip(os.sep) + os.sep)


def _as_list(value: Paths) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, (str, FolderOutput)):
        return [value]
    return [v for v in value if v]


def folder_files(folder: str, limit: int = MAX_FOLDER_FILES) -> list[str]:
    """Every file under an input folder (the files an algorithm may read from it), up to ``limit``.

    Parameters
    ----------
    folder : str
        An input folder (empty or missing: none).
    limit : int
        The most files listed.

    Returns
    -------
    list of str
        Paths of the files found (walking subfolders), at most ``limit``.
    """
    found: list[str] = []
    if not folder or not os.path.isdir(folder):
        return found
    for root, _dirs, names in os.walk(folder):
        for name in names:
            found.append(os.path.join(root, name))
            if len(found) >= limit:
                return found
    return found


def _clash_message(out_label: str, out_path: str, in_label: str, in_path: str) -> str:
    shown_out = out_path if os.path.basename(out_path) == os.path.basename(in_path) else \
        f"{out_path}, which is {os.path.basename(in_path)}"
    target = out_label if "(" in out_label else N_("the output")  # a parameter, e.g. 'Model file' (OUTPUT)
    return (f"The output {out_label} ({shown_out}) is the same file as the input {in_label} ({in_path}): "
            f"writing it would destroy that input. Choose another file name or folder for {target}; "
            "nothing was written.")


def check_apart(outputs: Mapping[str, Paths], inputs: Mapping[str, Paths]) -> None:
    """Refuse, before anything is written, any destination that is the same file as an input or another output.

    ``outputs`` and ``inputs`` map the label the user knows (e.g. ``"'Model file' (OUTPUT)"``) to a path,
    a list of paths, or (outputs only) a :class:`FolderOutput`. Empty values are ignored. The error names
    both parameters and both paths.

    Parameters
    ----------
    outputs : Mapping[str, Paths]
        Parameter label -> destination path(s) or :class:`FolderOutput`.
    inputs : Mapping[str, Paths]
        Parameter label -> input path(s).

    Raises
    ------
    InputError
        A destination is an input, a GDAL sidecar of an input, or another output; a folder output is an input
        file or would replace an input it holds.
    """
    in_items = [(label, p) for label, value in inputs.items() for p in _as_list(value)]
    out_files: list[tuple[str, str]] = []
    out_folders: list[tuple[str, FolderOutput]] = []
    for label, value in outputs.items():
        for item in _as_list(value):
            if isinstance(item, FolderOutput):
                out_folders.append((label, item))
                out_files += [(label, p) for p in item.paths()]
            else:
                out_files.append((label, item))
    for out_label, out_path in out_files:
        for in_label, in_path in in_items:
            if same_file(out_path, in_path):
                raise InputError(_clash_message(out_label, out_path, in_label, in_path))
            sidecar = next((s for s in SIDECARS if resolve(out_path) == resolve(file_of(in_path)) + s), None)
            if sidecar:
                raise InputError(f"The output {out_label} ({out_path}) is the {sidecar} file GDAL reads as part of the "
                                 f"input {in_label} ({in_path}): writing it would change that input. Choose another "
                                 "file name; nothing was written.")
    for out_label, folder in out_folders:
        for in_label, in_path in in_items:
            if same_file(folder.folder, in_path) and not os.path.isdir(resolve(in_path)):
                raise InputError(f"The output folder {out_label} ({folder.folder}) is the input file {in_label}; "
                                 f"choose a folder for {out_label}; nothing was written.")
            in_real = resolve(in_path)
            if folder.patterns and os.path.dirname(in_real) == resolve(folder.folder) and \
                    any(fnmatch.fnmatch(os.path.basename(in_real), pat) for pat in folder.patterns):
                raise InputError(f"The input {in_label} ({in_path}) lies in the output folder {out_label} "
                                 f"({folder.folder}) under a name the output writes ({', '.join(folder.patterns)}): "
                                 f"choose another folder for {out_label}, or move the input; nothing was written.")
            for sub in folder.subfolders:
                sub_path = os.path.join(folder.folder, sub)
                if _inside(in_path, sub_path) or same_file(sub_path, in_path):
                    raise InputError(f"The input {in_label} ({in_path}) lies in {sub_path}, which the output "
                                     f"{out_label} fills and replaces: choose another folder for {out_label}, or "
                                     "move the input out of it; nothing was written.")
    seen: list[tuple[str, str]] = []
    for out_label, out_path in out_files:
        for other_label, other_path in seen:
            if other_label != out_label and same_file(out_path, other_path):
                raise InputError(f"The outputs {other_label} and {out_label} are the same file ({out_path}): one "
                                 "would overwrite the other. Give them different file names; nothing was written.")
        seen.append((out_label, out_path))


def check_not_compared_with_itself(estimate: str, reference: str | None) -> None:
    """Refuse an estimate compared with itself (the same layer picked twice): every metric would be perfect.

    Parameters
    ----------
    estimate : str
        The estimate raster.
    reference : str or None
        The reference raster (None: no reference).

    Raises
    ------
    InputError
        ``reference`` is the same file as ``estimate`` (however the two paths are written).
    """
    if reference and same_file(estimate, reference):
        raise InputError(f"The reference {reference} is the estimate itself ({estimate}): the comparison would be "
                         "perfect whatever the estimate holds. Give another raster as the reference (e.g. SMAP or "
                         "in-situ data of the same date).")


#: What the engine writes for each kind of file destination: the extensions a name may end in (the first is
#: the one to suggest) and how the file type is called in messages.
GEOTIFF = (("tif", "tiff"), "GeoTIFF")


def check_file_name(label: str, path: str, extensions: Sequence[str], kind: str) -> None:
    """Refuse a file destination that names a folder, or a file type other than the one written.

    A name ending in ``.jpg``, ``.nc``, ``.gpkg`` or without extension would receive a file of another type
    under a misleading name (a GeoTIFF called ``.jpg``, a CSV called ``.xlsx``, a model that ``downscale``
    then refuses to read); a name ending in ``/`` or naming an existing folder would be found out only when
    the finished file is moved into place.

    Parameters
    ----------
    label : str
        The destination as the user knows it (e.g. ``"'Soil moisture 1 km' (OUTPUT)"``).
    path : str
        The destination path.
    extensions : Sequence[str]
        The extensions (without dot, lower case) the file may have; the first is suggested.
    kind : str
        What the file is, named in the message (e.g. ``"GeoTIFF"``, ``"CSV"``).

    Raises
    ------
    InputError
        The path ends with a folder separator or is an existing folder, or its extension is not one of
        ``extensions``.
    """
    ext = extensions[0]
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        inside = os.path.join(path.rstrip("/" + os.sep) or path, f"<name>.{ext}")
        raise InputError(f"The output {label} ({path}) is a folder, not a file name; give a file name such as "
                         f"{inside}; nothing was written.")
    stem, given = os.path.splitext(os.path.basename(path))
    if given.lower().lstrip(".") in extensions and stem:
        return
    suggestion = os.path.join(os.path.dirname(path), f"{stem or 'output'}.{ext}")
    if not given or not stem:
        raise InputError(f"The output {label} ({path}) is written as a {kind} file, but its name has no extension; "
                         f"give a name ending in .{ext}, such as {suggestion}; nothing was written.")
    raise InputError(f"The output {label} ({path}) is written as a {kind} file, but its name ends in {given}; "
                     f"give a name ending in .{ext}, such as {suggestion}; nothing was written.")


def inputs_of(labelled: Iterable[tuple[str, Paths]]) -> dict[str, list[str]]:
    """Merge (label, paths) pairs into the mapping :func:`check_apart` takes (labels may repeat).

    Parameters
    ----------
    labelled : Iterable[tuple[str, Paths]]
        (label, path or paths) pairs; non-string items are skipped.

    Returns
    -------
    dict[str, list[str]]
        Label -> every path given under it.
    """
    merged: dict[str, list[str]] = {}
    for label, value in labelled:
        merged.setdefault(label, []).extend(p for p in _as_list(value) if isinstance(p, str))
    return merged
