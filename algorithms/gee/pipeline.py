"""The whole Earth Engine chain in one call: plan the export tasks (:mod:`.server`), submit and follow them in
batches (:mod:`.tasks`), download the maps from Cloud Storage.

It sits above both modules: :mod:`.server` builds the tasks (and knows nothing of their submission),
:mod:`.tasks` submits and follows any task (and knows nothing of what the tasks compute).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from .. import raster
from ..errors import InputError
from ..raster import IsCanceled, Progress, never_canceled, no_progress
from . import GeeError, server
from .request import Connection, DownscaleRequest, TaskRun
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
    """Where the dry run writes its plan: next to the task manifest, ``<name>.plan.csv``.

    Parameters
    ----------
    manifest_path : str
        The task manifest.

    Returns
    -------
    str
        The plan's absolute path.
    """
    return os.path.splitext(os.path.abspath(manifest_path))[0] + ".plan.csv"


@raster.gdal_exceptions()
def downscale_gee(request: DownscaleRequest, manifest_path: str, run: TaskRun | None = None,
                  connection: Connection | None = None, progress: Progress = no_progress,
                  is_canceled: IsCanceled = never_canceled, log: Optional[Log] = None) -> GeeDownscaleResult:
    """Train and downscale on Earth Engine and export one soil moisture map per time step (see :mod:`.server`),
    tasks submitted in batches and recorded in ``manifest_path``.

    Parameters
    ----------
    request
        Area, dates, factors, model, residual correction and exports (:class:`.request.DownscaleRequest`).
    manifest_path
        The task manifest (JSON) to write, or the one of a previous run to resume.
    run
        How to submit and follow the tasks (:class:`.request.TaskRun`): batch size, wait or not, Cloud Storage
        download folder, ``plan_only`` (submit nothing; write the plan, :func:`.server.plan_table`, as
        ``<manifest name>.plan.csv`` and return it as ``plan``, no task manifest).
    connection
        Earth Engine project, credentials and endpoint (:func:`.auth.initialize`).
    progress, is_canceled, log
        Progress fraction, cancel check and messages for the user.

    Returns
    -------
    GeeDownscaleResult
        The manifest, the batch (its tasks and their states), the request record and the downloaded files.

    Raises
    ------
    InputError
        No manifest path, a download folder without Cloud Storage, or a bad request (:func:`.server.plan_downscale`).
    GeeError
        Earth Engine failed, or tasks failed: raised once all have ended, naming them with Earth Engine's
        message; the manifest is written in every case.
    Canceled
        ``is_canceled()`` became true; the followed tasks are canceled on Earth Engine and the manifest says so.
    """
    run = run or TaskRun()
    connection = connection or Connection()
    say = log or (lambda _m: None)
    if not manifest_path:
        raise InputError("No task manifest file was given; choose where to save it (a .json file).")
    destination = str(request.destination or "").strip().lower()
    if run.download_folder and destination != "gcs":
        raise InputError("Downloading results works only with the Cloud Storage destination; choose Cloud Storage, "
                         "or leave the download folder empty.")
    plan = server.plan_downscale(replace(request, destination=destination), connection)
    say(f"{plan.n_steps} time step(s), {len(plan.configs)} export task(s) to {destination}; fine grid "
        f"{plan.fine_grid.width} x {plan.fine_grid.height} pixels, {len(plan.model.features)} feature(s); "
        f"{server.MODEL_LABELS[plan.model.model_type]} "
        + (f"loaded from {request.classifier_asset}." if request.classifier_asset else
           f"with {plan.model.ee_args}."))
    if run.plan_only:
        run_plan = server.plan_table(plan)
        run_plan.write_csv(plan_path(manifest_path))
        say("Plan only (no task was submitted):\n" + run_plan.table())
        progress(1.0)
        return GeeDownscaleResult("", None, plan.n_steps, plan.configs, plan.request, plan=run_plan)
    share = 0.9 if run.download_folder else 1.0
    batch = submit_batches(plan.configs, manifest_path, run, progress=lambda f: progress(share * f),
                           is_canceled=is_canceled, log=say, request=plan.request, project=plan.project)
    result = GeeDownscaleResult(batch.manifest_path, batch, plan.n_steps, plan.configs, plan.request)
    if run.download_folder and batch.completed:
        result.downloaded = download_results(batch.tasks, run.download_folder,
                                             run.storage or GcsStorage(plan.project, connection.credentials),
                                             manifest_path=batch.manifest_path,
                                             progress=lambda f: progress(share + (1 - share) * f),
                                             is_canceled=is_canceled, log=say)
    if batch.failed and not batch.pending:
        raise GeeError(failure_message(batch.tasks, batch.manifest_path), kind="other")
    progress(1.0)
    return result


__all__ = ["GeeDownscaleResult", "downscale_gee", "plan_path"]
