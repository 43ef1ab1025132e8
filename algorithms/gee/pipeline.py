"""The whole Earth Engine chain in one call: plan the export tasks (:mod:`.server`), submit and follow them in
batches (:mod:`.tasks`), download the maps from Cloud Storage.

It sits above both modules: :mod:`.server` builds the tasks (and knows nothing of their submission),
:mod:`.tasks` submits and follows any task (and knows nothing of what the tasks compute).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from .. import raster
from ..errors import InputError
from ..raster import IsCanceled, Progress, never_canceled, no_progress
from . import GeeError, server
from .tasks import BatchResult, GcsStorage, Log, TaskConfig, download_results, failure_message, submit_batches


@dataclass
class GeeDownscaleResult:
    """What :func:`downscale_gee` did."""

    manifest_path: str
    batch: Optional[BatchResult]
    n_steps: int
    configs: list[TaskConfig]
    request: dict[str, Any]
    downloaded: list[str] = field(default_factory=list)
    #: The dry run's plan (``plan_only``; then nothing was submitted and ``batch`` is None).
    plan: Any = None


def plan_path(manifest_path: str) -> str:
    """Where the dry run writes its plan: next to the task manifest, ``<name>.plan.csv``."""
    return os.path.splitext(os.path.abspath(manifest_path))[0] + ".plan.csv"


@raster.gdal_exceptions()
def downscale_gee(area: Any, start: Any, end: Any, step: str, factors: Sequence[str], manifest_path: str,
                  smap_product: str = "L4", smap_layer: str = "sm_surface", model_type: str = "rf",
                  params: Optional[dict[str, Any]] = None, residual: str = "constant",
                  clip: Optional[tuple[float, float]] = (0.0, 0.6), fine_resolution: float = 1000.0,
                  target_crs: str = "EPSG:6933", destination: str = "drive", destination_path: Optional[str] = None,
                  batch_size: int = 10, samples_per_step: Optional[int] = 1000, max_training_steps: Optional[int] = 24,
                  seed: int = 0, save_classifier_asset: Optional[str] = None, classifier_asset: Optional[str] = None,
                  wait: bool = True, download_folder: Optional[str] = None, area_crs: Optional[str] = None,
                  window_days: int = 8, orbit_pass: str = "both", sources: Optional[dict[str, str]] = None,
                  max_pixels: float = 1e13, project: Optional[str] = None, credentials: Any = None,
                  url: Optional[str] = None, poll_interval: float = 30.0, storage: Any = None,
                  sleep: Callable[[float], None] = time.sleep, progress: Progress = no_progress,
                  is_canceled: IsCanceled = never_canceled, log: Optional[Log] = None,
                  timeout: Optional[float] = None, plan_only: bool = False) -> GeeDownscaleResult:
    """Train and downscale on Earth Engine and export one soil moisture map per time step (see :mod:`.server`),
    tasks submitted in batches of ``batch_size`` and recorded in ``manifest_path``.

    ``wait``: follow the tasks until they end (else start the first batch and return). ``download_folder``
    (Cloud Storage only): download the completed maps there. Raises GeeError naming the tasks that failed
    (with Earth Engine's message) once all have ended; the manifest is written in every case.
    ``plan_only``: submit nothing; write the plan (tasks, pixels, bytes, source pixels, training runs:
    :func:`.server.plan_table`) as ``<manifest name>.plan.csv`` and return it as ``plan`` (no task manifest).
    """
    say = log or (lambda _m: None)
    if not manifest_path:
        raise InputError("No task manifest file was given; choose where to save it (a .json file).")
    destination = str(destination or "").strip().lower()
    if download_folder and destination != "gcs":
        raise InputError("Downloading results works only with the Cloud Storage destination; choose Cloud Storage, "
                         "or leave the download folder empty.")
    plan = server.plan_downscale(area, start, end, step, factors, smap_product=smap_product, smap_layer=smap_layer,
                                 model_type=model_type, params=params, residual=residual, clip=clip,
                                 fine_resolution=fine_resolution, target_crs=target_crs, destination=destination,
                                 destination_path=destination_path, samples_per_step=samples_per_step,
                                 max_training_steps=max_training_steps, seed=seed,
                                 save_classifier_asset=save_classifier_asset, classifier_asset=classifier_asset,
                                 area_crs=area_crs, window_days=window_days, orbit_pass=orbit_pass, sources=sources,
                                 max_pixels=max_pixels, project=project, credentials=credentials, url=url)
    say(f"{plan.n_steps} time step(s), {len(plan.configs)} export task(s) to {destination}; fine grid "
        f"{plan.fine_grid.width} x {plan.fine_grid.height} pixels, {len(plan.model.features)} feature(s); "
        f"{server.MODEL_LABELS[plan.model.model_type]} "
        + (f"loaded from {classifier_asset}." if classifier_asset else f"with {plan.model.ee_args}."))
    if plan_only:
        run_plan = server.plan_table(plan)
        run_plan.write_csv(plan_path(manifest_path))
        say("Plan only (no task was submitted):\n" + run_plan.table())
        progress(1.0)
        return GeeDownscaleResult("", None, plan.n_steps, plan.configs, plan.request, plan=run_plan)
    share = 0.9 if download_folder else 1.0
    batch = submit_batches(plan.configs, batch_size, manifest_path, poll_interval=poll_interval,
                           progress=lambda f: progress(share * f), is_canceled=is_canceled, sleep=sleep, wait=wait,
                           log=say, request=plan.request, project=plan.project, timeout=timeout)
    result = GeeDownscaleResult(batch.manifest_path, batch, plan.n_steps, plan.configs, plan.request)
    if download_folder and batch.completed:
        result.downloaded = download_results(batch.tasks, download_folder,
                                             storage or GcsStorage(plan.project, credentials),
                                             manifest_path=batch.manifest_path,
                                             progress=lambda f: progress(share + (1 - share) * f),
                                             is_canceled=is_canceled, log=say)
    if batch.failed and not batch.pending:
        raise GeeError(failure_message(batch.tasks, batch.manifest_path), kind="other")
    progress(1.0)
    return result


__all__ = ["GeeDownscaleResult", "downscale_gee", "plan_path"]
