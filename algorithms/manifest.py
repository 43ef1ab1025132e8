"""The JSON manifest that lists what a fetch wrote, for the chain's algorithms to take instead of file lists.

Layout (``version`` 1)::

    {"format": "smdownscale-manifest", "version": 1, "created": "2024-06-01T12:00:00Z",
     "request": {"area": ..., "start": "2023-06-01", "end": "2023-06-30", "step": "daily", "factors": [...],
                 "crs": "EPSG:6933", "resolution": 1000.0, ...},
     "files": [{"date": "2023-06-01", "end": "2023-06-02", "smap": "smap/smap_20230601.tif",
                "factors": "factors/factors_20230601.tif"}, ...],
     "bands": {"smap": {"name": "sm_surface", "unit": "m3/m3"},
               "factors": [{"name": "ndvi", "unit": "1", "kind": "continuous"}, ...]},
     "provenance": {"collections": {...}, "versions": {...}, "requested": "...", "earthengine_api": "1.7.50"},
     "exports": [...]}

Paths are stored relative to the manifest's folder and, when read, must stay inside it (no absolute
paths, no ``..`` escapes, no links leading out). Credentials never belong in a manifest: keys that
name secrets are dropped and token-like values are refused when writing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Sequence

from .errors import InputError

FORMAT = "smdownscale-manifest"
VERSION = 1
_SECRET_KEYS = re.compile(r"(token|secret|password|passwd|private_key|credential|authorization|api_?key|"
                          r"client_email|refresh)", re.I)
_SECRET_VALUES = re.compile(r"(ya29\.|-----BEGIN [A-Z ]*PRIVATE KEY|\bBearer\s+\S|\b1//[A-Za-z0-9._\-]{10,}|"
                            r"\bAIza[0-9A-Za-z_\-]{20,})")


@dataclass
class StepFiles:
    """One time step: its date (ISO) and the absolute paths of its SMAP raster and factor stack."""

    date: str
    smap: str | None
    factors: str | None


@dataclass
class Manifest:
    """A manifest read from disk, with every path resolved (absolute) and checked."""

    path: str
    version: int
    created: str
    request: dict[str, Any]
    steps: list[StepFiles]
    bands: dict[str, Any]
    provenance: dict[str, Any]
    exports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def folder(self) -> str:
        return os.path.dirname(self.path)

    @property
    def dates(self) -> list[str]:
        return [s.date for s in self.steps]

    @property
    def smap_paths(self) -> list[str]:
        return [s.smap for s in self.steps if s.smap]

    @property
    def factor_paths(self) -> list[str]:
        return [s.factors for s in self.steps if s.factors]

    @property
    def factor_names(self) -> list[str]:
        return [b["name"] for b in self.bands.get("factors", [])]

    @property
    def units(self) -> dict[str, str]:
        out = {b["name"]: b.get("unit", "") for b in self.bands.get("factors", [])}
        smap = self.bands.get("smap")
        if smap:
            out[smap["name"]] = smap.get("unit", "")
        return out


def _scrub(value: Any, where: str = "manifest") -> Any:
    """A copy without secret-named keys; raises when a value looks like a credential."""
    if isinstance(value, dict):
        return {str(k): _scrub(v, f"{where}.{k}") for k, v in value.items() if not _SECRET_KEYS.search(str(k))}
    if isinstance(value, (list, tuple)):
        return [_scrub(v, where) for v in value]
    if isinstance(value, str) and _SECRET_VALUES.search(value):
        raise InputError(f"Refusing to write a credential into the manifest ({where}); this is a bug, "
                         "please report it.")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _relative(path: str | None, folder: str) -> str | None:
    if not path:
        return None
    rel = os.path.relpath(os.path.abspath(path), folder)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        raise InputError(f"{path} is outside the manifest's folder {folder}; write the data next to the manifest.")
    return rel.replace(os.sep, "/")


def remove_written(out_dir: str, written: Sequence[str]) -> None:
    """Undo a failed or canceled fetch/import: remove the files it wrote, then its smap/ and factors/ folders
    when they are left empty (files that were there before are never touched).

    Parameters
    ----------
    out_dir : str
        The fetch's output folder.
    written : Sequence[str]
        The files the run wrote.
    """
    for path in written:
        with contextlib.suppress(OSError):
            os.remove(path)
    for sub in ("smap", "factors"):
        with contextlib.suppress(OSError):
            os.rmdir(os.path.join(out_dir, sub))  # only when empty


def utc_now() -> str:
    """The current UTC time as ISO 8601 text to the second ('2023-06-01T12:00:00Z').

    Returns
    -------
    str
        'YYYY-MM-DDTHH:MM:SSZ'.
    """
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def write_manifest(path: str, steps: Sequence[StepFiles | dict[str, Any]], bands: dict[str, Any],
                   request: dict[str, Any], provenance: dict[str, Any],
                   exports: Sequence[dict[str, Any]] | None = None) -> str:
    """Write the manifest atomically; file paths (absolute or relative to the manifest) are stored relative.

    Parameters
    ----------
    path : str
        The manifest file (its folder is created).
    steps : Sequence[StepFiles or dict[str, Any]]
        One entry per time step: date, optional exclusive end, SMAP file and factor stack.
    bands : dict[str, Any]
        Band descriptions of the stacks.
    request : dict[str, Any]
        The request that produced the files.
    provenance : dict[str, Any]
        Data sources and versions.
    exports : Sequence[dict[str, Any]] or None
        Earth Engine export tasks, when the files are exported rather than downloaded.

    Returns
    -------
    str
        The manifest's absolute path.
    """
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    files = []
    for s in steps:
        s = s if isinstance(s, dict) else {"date": s.date, "smap": s.smap, "factors": s.factors}
        item = {"date": str(s["date"])}
        if s.get("end"):
            item["end"] = str(s["end"])  # exclusive end of the time step
        item["smap"] = _relative(_abs(s.get("smap"), folder), folder)
        item["factors"] = _relative(_abs(s.get("factors"), folder), folder)
        files.append(item)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "created": utc_now(),
        "request": _scrub(request, "request"),
        "files": files,
        "bands": _scrub(bands, "bands"),
        "provenance": _scrub(provenance, "provenance"),
        "exports": _scrub(list(exports or []), "exports"),
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.partial-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _abs(p: str | None, folder: str) -> str | None:
    if not p:
        return None
    return p if os.path.isabs(p) else os.path.join(folder, p)


def _inside(rel: Any, folder: str, manifest: str) -> str:
    """The absolute path of a manifest entry; refuses absolute paths and escapes from the folder."""
    if not isinstance(rel, str) or not rel.strip():
        raise InputError(f"{manifest} has an empty or invalid file entry ({rel!r}); fetch the data again.")
    if os.path.isabs(rel) or re.match(r"^[A-Za-z]:[\\/]", rel) or rel.startswith(("\\", "/")):
        raise InputError(f"{manifest} lists the absolute path '{rel}'; a manifest may only name files inside its "
                         "own folder. Fetch the data again or edit the manifest.")
    full = os.path.normpath(os.path.join(folder, rel.replace("\\", "/")))
    real_folder = os.path.realpath(folder)
    for candidate, base in ((full, os.path.normpath(folder)), (os.path.realpath(full), real_folder)):
        if os.path.commonpath([candidate, base]) != base:
            raise InputError(f"{manifest} lists '{rel}', which points outside the manifest's folder {folder}; "
                             "a manifest may only name files inside its own folder.")
    return full


def read_manifest(path: str, check_files: bool = True) -> Manifest:
    """Read and check a manifest; every listed file must exist (missing ones are named) and stay inside its folder.

    Parameters
    ----------
    path : str
        The manifest file.
    check_files : bool
        Whether every listed file must exist inside the manifest's folder.

    Returns
    -------
    Manifest
        The manifest, every path absolute.

    Raises
    ------
    InputError
        No path, a missing or unreadable file, not a smdownscale manifest, a newer version, an entry without a
        date, or (``check_files``) listed files missing or outside the folder.
    """
    if not path:
        raise InputError("No manifest was given; choose the manifest.json written by 'Fetch data from Earth Engine'.")
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise InputError(f"Manifest not found: {path}. Check the path.")
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable JSON manifest ({exc}); fetch the data again.") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{path} is not a smdownscale manifest; choose the manifest.json written by "
                         "'Fetch data from Earth Engine'.")
    version = doc.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise InputError(f"{path} is a manifest of version {version!r}, newer than this plugin reads ({VERSION}); "
                         "update the plugin.")
    folder = os.path.dirname(path)
    steps = []
    for item in doc.get("files") or []:
        if not isinstance(item, dict) or "date" not in item:
            raise InputError(f"{path} has a file entry without a date; fetch the data again.")
        smap = _inside(item["smap"], folder, path) if item.get("smap") else None
        factors = _inside(item["factors"], folder, path) if item.get("factors") else None
        steps.append(StepFiles(str(item["date"]), smap, factors))
    if check_files:
        missing = [p for s in steps for p in (s.smap, s.factors) if p and not os.path.isfile(p)]
        if missing:
            shown = ", ".join(os.path.relpath(p, folder) for p in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise InputError(f"Files listed in {path} are missing: {shown}{more}. Fetch the data again or restore "
                             "them next to the manifest.")
    return Manifest(path, version, str(doc.get("created", "")), dict(doc.get("request") or {}), steps,
                    dict(doc.get("bands") or {}), dict(doc.get("provenance") or {}), list(doc.get("exports") or []))


def manifest_inputs(path: str) -> tuple[list[str], list[str]]:
    """(SMAP paths, factor stack paths) of a manifest, in date order, for train/screen/downscale.

    Parameters
    ----------
    path : str
        The manifest file.

    Returns
    -------
    tuple of list of str
        (SMAP paths, factor stack paths), one of each per date, in date order.

    Raises
    ------
    InputError
        The manifest describes export tasks, lists no files, or lacks SMAP or the stack of a date; also from
        :func:`read_manifest`.
    """
    m = read_manifest(path)
    steps = sorted(m.steps, key=lambda s: s.date)
    incomplete = [s.date for s in steps if not s.smap or not s.factors]
    if incomplete or not steps:
        if m.exports and not any(s.smap or s.factors for s in steps):
            raise InputError(f"{path} describes Earth Engine export tasks, not downloaded files; download the "
                             "exported GeoTIFFs and give them as file lists instead.")
        if not steps:
            raise InputError(f"{path} lists no files; fetch the data again.")
        raise InputError(f"{path} lacks the SMAP raster or the factor stack for {', '.join(incomplete)}; "
                         "fetch those dates again.")
    return [s.smap for s in steps], [s.factors for s in steps]  # type: ignore[misc]
