"""Python packages the algorithms need beyond QGIS: which are importable, what to tell the user, how to install.

The plugin loads without them; an algorithm that needs one calls :func:`missing_message` (or
:func:`require`) and reports the exact install command. :func:`install_user` installs into the user's
site-packages with ``pip install --user`` and a constraints file pinning the numpy (and GDAL) QGIS
already has, so they are never upgraded. It runs only when the user asks for it from the plugin menu.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import shlex
import site
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from qgis.PyQt.QtCore import QCoreApplication

_translate = QCoreApplication.translate


@dataclass(frozen=True)
class Dependency:
    module: str  #: import name
    dist: str  #: distribution name on PyPI
    spec: str  #: pip requirement installed on request
    purpose: str  #: what needs it (shown to users)


DEPENDENCIES: dict[str, Dependency] = {d.module: d for d in (
    Dependency("sklearn", "scikit-learn", "scikit-learn>=1.3", "screen, train, downscale"),
    Dependency("skops", "skops", "skops>=0.9", "model files (train, downscale)"),
    Dependency("ee", "earthengine-api", "earthengine-api>=1.0", "Earth Engine download (fetchgee)"),
    Dependency("earthaccess", "earthaccess", "earthaccess>=0.17", "NASA Earthdata search and login (importsmap)"),
)}

#: Packages QGIS itself ships with compiled extensions: pinned to the installed version during installs.
PINNED = ("numpy", "GDAL")



def _version_of(module: str, mod: object) -> str:
    version = getattr(mod, "__version__", None)
    if version:
        return str(version)
    dep = DEPENDENCIES.get(module)
    try:
        return importlib.metadata.version(dep.dist if dep else module)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def module_status(module: str) -> tuple[str | None, str]:
    """``(version, "")`` when ``module`` imports, else ``(None, reason)``."""
    try:
        mod = importlib.import_module(module)
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return _version_of(module, mod), ""


def status(modules: Iterable[str] | None = None) -> dict[str, str | None]:
    """Module name -> installed version, or None when it cannot be imported."""
    return {m: module_status(m)[0] for m in (modules if modules is not None else DEPENDENCIES)}


def missing(modules: Iterable[str] | None = None) -> list[str]:
    """The modules among ``modules`` (default: all known) that cannot be imported."""
    return [m for m, v in status(modules).items() if v is None]


def python_executable() -> str:
    """The Python interpreter QGIS runs (``sys.executable`` is the QGIS binary in some builds)."""
    exe = sys.executable or ""
    if os.path.basename(exe).lower().startswith("python") and os.path.isfile(exe):
        return exe
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [
        os.path.join(sys.exec_prefix, "bin", f"python{ver}"),
        os.path.join(sys.exec_prefix, "bin", "python3"),
        os.path.join(sys.exec_prefix, "python.exe"),
        os.path.join(sys.exec_prefix, "python3.exe"),
        os.path.join(os.path.dirname(exe), "bin", "python3"),
    ]
    base = getattr(sys, "_base_executable", "") or ""
    if os.path.basename(base).lower().startswith("python"):
        candidates.append(base)
    candidates += [os.path.join(sys.base_exec_prefix, "bin", f"python{ver}"),
                   os.path.join(sys.base_exec_prefix, "python.exe")]
    for path in candidates:
        if os.path.isfile(path):
            return path
    # never an interpreter found on PATH: it may be another Python than the one QGIS runs
    return exe or candidates[0]


def externally_managed() -> bool:
    """True for a distribution Python marked EXTERNALLY-MANAGED (PEP 668), e.g. Debian 12, Ubuntu 23.04+."""
    if sys.prefix != sys.base_prefix:
        return False
    return os.path.isfile(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))


def pinned_versions() -> dict[str, str]:
    """Installed versions of the packages QGIS ships (numpy, GDAL) that an install must not change."""
    pins = {}
    for dist in PINNED:
        try:
            pins[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            mod = {"numpy": "numpy", "GDAL": "osgeo.gdal"}[dist]
            try:
                pins[dist] = str(importlib.import_module(mod).__version__)
            except (ImportError, AttributeError):
                continue
    return pins


def constraints_text() -> str:
    """pip constraints pinning numpy and GDAL to the versions QGIS already has."""
    return "".join(f"{dist}=={ver}\n" for dist, ver in pinned_versions().items())


def requirements_for(modules: Iterable[str]) -> list[str]:
    """pip requirements installing ``modules`` (known module names)."""
    return [DEPENDENCIES[m].spec for m in modules if m in DEPENDENCIES]


def install_args(packages: Sequence[str], constraints: str | None = None) -> list[str]:
    """The pip command line (without a constraints file the numpy pin is given as a requirement)."""
    args = [python_executable(), "-m", "pip", "install", "--user", "--upgrade-strategy", "only-if-needed"]
    if externally_managed():
        args.append("--break-system-packages")
    args += list(packages)
    if constraints:
        args += ["--disable-pip-version-check", "--no-input", "-c", constraints]
    elif "numpy" in pinned_versions():
        args.append(f"numpy=={pinned_versions()['numpy']}")
    return args


def install_command(modules: Iterable[str]) -> str:
    """The exact command (shell-quoted) that installs ``modules`` for the current user."""
    args = install_args(requirements_for(modules))
    if os.name == "nt":
        return subprocess.list2cmdline(args)
    return " ".join(shlex.quote(a) for a in args)


def missing_message(modules: Iterable[str]) -> str:
    """Text naming the missing modules among ``modules`` and how to install them; '' when none is missing."""
    absent = missing(list(modules))
    if not absent:
        return ""
    names = ", ".join(f"{DEPENDENCIES[m].dist} (module {m})" if m in DEPENDENCIES else m for m in absent)
    return _translate(
        "SmdDependencies",
        "This algorithm needs {names}, which QGIS's Python cannot import. Install it once from the menu "
        "Raster > Soil moisture downscaling > Check dependencies…, or run this command and restart QGIS:\n{command}"
    ).format(names=names, command=install_command(absent))


def require(modules: Iterable[str]) -> None:
    """Raise ``QgsProcessingException`` with :func:`missing_message` when a module is missing."""
    message = missing_message(modules)
    if message:
        from qgis.core import QgsProcessingException

        raise QgsProcessingException(message)


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def install_user(packages: Sequence[str], runner: Runner = subprocess.run,
                 timeout: float = 1800) -> tuple[bool, str]:
    """Install pip requirements into the user's site-packages; returns ``(ok, pip output or reason)``.

    numpy and GDAL are pinned through a constraints file to the installed versions, so pip fails
    rather than upgrade them. Afterwards the user site folder is put on ``sys.path`` so the new
    packages import without restarting QGIS where possible.
    """
    if not packages:
        return True, ""
    with tempfile.TemporaryDirectory(prefix="smdownscale-pip-") as tmp:
        constraints = os.path.join(tmp, "constraints.txt")
        with open(constraints, "w", encoding="utf-8") as f:
            f.write(constraints_text())
        args = install_args(packages, constraints)
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
        env.pop("PYTHONNOUSERSITE", None)
        try:
            proc = runner(args, capture_output=True, text=True, timeout=timeout, env=env)
        except (OSError, subprocess.SubprocessError) as exc:
            return False, _translate("SmdDependencies", "Could not run {python}: {error}").format(
                python=args[0], error=exc)
    output = (proc.stdout or "") + (proc.stderr or "")
    if proc.returncode != 0:
        if "No module named pip" in output:
            output = _translate("SmdDependencies",
                                "pip is not available for QGIS's Python ({python}); install pip first "
                                "(Debian/Ubuntu: sudo apt install python3-pip), then try again.").format(
                python=args[0]) + "\n" + output
        return False, output
    _activate_user_site()
    return True, output


def _activate_user_site() -> None:
    """Make a user site folder created by the install importable in this session."""
    try:
        user_site = site.getusersitepackages()
    except AttributeError:
        return
    if os.path.isdir(user_site) and user_site not in sys.path:
        site.addsitedir(user_site)
    importlib.invalidate_caches()
