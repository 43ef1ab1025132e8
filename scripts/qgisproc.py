"""Run smdownscale algorithms through the real command-line runner, qgis_process.

Used by ``make demo`` and by the end-to-end tests. The plugin is enabled from this checkout in a
private QGIS profile, under its real name ``smdownscale`` whatever the checkout folder is called.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QGIS_PROCESS = os.environ.get("QGIS_PROCESS", "/usr/bin/qgis_process.bin")


@dataclass
class Result:
    returncode: int
    results: dict[str, Any]
    stdout: str
    stderr: str


class QgisProcess:
    """A qgis_process runner with the plugin enabled in a private profile below ``workdir``."""

    def __init__(self, workdir: str | None = None) -> None:
        self.workdir = workdir or tempfile.mkdtemp(prefix="smdownscale-qgis-")
        plugins = os.path.join(self.workdir, "plugins")
        os.makedirs(plugins, exist_ok=True)
        link = os.path.join(plugins, "smdownscale")
        if os.path.islink(link) and os.readlink(link) != ROOT:
            os.remove(link)
        if not os.path.lexists(link):
            os.symlink(ROOT, link)
        runtime = os.path.join(self.workdir, "runtime")
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        self.env = dict(os.environ)
        self.env.update({
            "QT_QPA_PLATFORM": "offscreen",
            "QGIS_PLUGINPATH": plugins,
            "QGIS_CUSTOM_CONFIG_PATH": os.path.join(self.workdir, "profile"),
            "XDG_RUNTIME_DIR": runtime,
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        # qgis_process runs the system Python; give it this venv's packages (scikit-learn, skops, ee).
        venv_site = _venv_site_packages()
        if venv_site:
            self.env["PYTHONPATH"] = os.pathsep.join(p for p in (venv_site, os.environ.get("PYTHONPATH")) if p)
        self._enabled = False

    def _enable(self) -> None:
        if not self._enabled:
            proc = subprocess.run([QGIS_PROCESS, "plugins", "enable", "smdownscale"], env=self.env,
                                  capture_output=True, text=True)
            if proc.returncode != 0 and "already enabled" not in (proc.stdout + proc.stderr).lower():
                raise RuntimeError(f"Could not enable the plugin in qgis_process: {proc.stderr or proc.stdout}")
            self._enabled = True

    def shell_env(self, bindir: str) -> dict[str, str]:
        """The environment for running qgis_process commands as a user types them: the plugin enabled, and
        ``qgis_process.bin`` (the README's name) on PATH through a link in ``bindir`` to this QGIS's runner."""
        self._enable()
        os.makedirs(bindir, exist_ok=True)
        link = os.path.join(bindir, "qgis_process.bin")
        if not os.path.lexists(link):
            os.symlink(QGIS_PROCESS, link)
        env = dict(self.env)
        env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "/usr/bin:/bin")])
        return env

    def run(self, alg: str, params: dict[str, Any], timeout: float = 900) -> Result:
        """Run ``smdownscale:<alg>``; list values become repeated parameters."""
        self._enable()
        args = [QGIS_PROCESS, "--json", "run", alg if ":" in alg else f"smdownscale:{alg}", "--"]
        for key, value in params.items():
            for v in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(v, bool):
                    v = "true" if v else "false"
                args.append(f"{key}={v}")
        proc = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=timeout)
        results: dict[str, Any] = {}
        if proc.returncode == 0:
            try:
                results = json.loads(proc.stdout).get("results", {})
            except json.JSONDecodeError:
                results = {}
        return Result(proc.returncode, results, proc.stdout, proc.stderr)

    def check(self, alg: str, params: dict[str, Any], timeout: float = 900) -> dict[str, Any]:
        res = self.run(alg, params, timeout)
        if res.returncode != 0:
            raise RuntimeError(f"qgis_process {alg} failed (exit {res.returncode}):\n{res.stderr[-4000:]}\n"
                               f"{res.stdout[-2000:]}")
        return res.results


def _venv_site_packages() -> str | None:
    import sys
    import sysconfig

    if sys.prefix == sys.base_prefix:
        return None
    path = sysconfig.get_paths()["purelib"]
    return path if os.path.isdir(path) else None
