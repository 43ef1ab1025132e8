"""Earth Engine batch tasks: bounded submission, tracking, a resumable task manifest, cancel, downloads.

:func:`submit_batches` keeps at most ``run.batch_size`` (:class:`.request.TaskRun`) tasks queued or running on
Earth Engine at once (READY, RUNNING or CANCEL_REQUESTED), polls their states and starts the next ones as
others finish. Every state change is written at once (atomically) to a JSON task manifest: per task its
description, kind, destination, file prefix or asset id, operation name and task id, state, Earth Engine's
error message, number of submissions. Never a token or key. A later run with the same manifest

* skips tasks that COMPLETED (when the request is unchanged: each task carries a fingerprint of the
  request parameters),
* submits FAILED and CANCELLED ones again,
* re-attaches to tasks still READY or RUNNING instead of starting them twice.

Cancel (``is_canceled``) cancels, on Earth Engine, every task the run is following. The REST calls are
those of earthengine-api: ``Task.start`` (``projects/*/image:export`` or ``classifier:export``),
``ee.data.getOperation`` and ``ee.data.cancelOperation`` (``operations/*`` and ``operations/*:cancel``).

:func:`.pipeline.downscale_gee` is the whole server-side chain (plan with :mod:`.server`, submit with
:func:`submit_batches`, optionally download Cloud Storage results with :func:`download_results`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from .. import raster
from ..errors import Canceled, InputError, SmdError
from ..gapfill import FROM_OTHER_DATE, QUALITY_BAND, QUALITY_CLASSES, QUALITY_NODATA
from ..raster import IsCanceled, Progress, never_canceled, no_progress
from . import GeeError
from .auth import explain, redact
from .request import TaskRun

MANIFEST_FORMAT = "smdownscale-gee-tasks"
MANIFEST_VERSION = 1

UNSUBMITTED = "UNSUBMITTED"
READY = "READY"
RUNNING = "RUNNING"
CANCEL_REQUESTED = "CANCEL_REQUESTED"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
STATES = (UNSUBMITTED, READY, RUNNING, CANCEL_REQUESTED, COMPLETED, FAILED, CANCELLED)
ACTIVE = (READY, RUNNING, CANCEL_REQUESTED)
FINAL = (COMPLETED, FAILED, CANCELLED)
#: Earth Engine operation states -> task states (as earthengine-api's Task.status() names them).
OPERATION_STATES = {"PENDING": READY, "RUNNING": RUNNING, "CANCELLING": CANCEL_REQUESTED, "SUCCEEDED": COMPLETED,
                    "FAILED": FAILED, "CANCELLED": CANCELLED}
RETRYABLE_KINDS = ("quota", "server", "network", "payload")
#: Rounds a start may fail with a retryable error (quota, server, network) before the task is marked FAILED.
MAX_START_RETRIES = 5
#: Longest single sleep while waiting, so cancel is noticed quickly.
SLEEP_SLICE = 0.5

Log = Callable[[str], None]


def task_description(text: str) -> str:
    """Earth Engine task descriptions: at most 100 of [A-Za-z0-9 .,:;_-].

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        The text with other characters replaced by '_', cut at 100 ('smdownscale_export' when empty).
    """
    allowed = "".join(ch if ch.isascii() and (ch.isalnum() or ch in " .,:;_-") else "_" for ch in str(text))
    return allowed[:100] or "smdownscale_export"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- task configurations ---------------------------------------------------------------------------

@dataclass
class TaskConfig:
    """One export task to start: what the manifest records plus the earthengine-api export arguments."""

    description: str
    kind: str  # "image" or "classifier"
    destination: str  # "drive", "gcs" or "asset"
    target: str  # Drive folder, Cloud Storage bucket, asset folder (images) or asset id (classifier)
    file_prefix: str  # file name prefix (Drive, Cloud Storage) or asset id
    date: Optional[str]
    export_kwargs: dict[str, Any] = field(repr=False, default_factory=dict)
    fingerprint: str = ""
    #: Description of a task that must have COMPLETED before this one starts (the classifier it loads).
    after: Optional[str] = None

    def make_task(self) -> Any:
        """A new, unstarted ``ee.batch.Task`` (a new one for every submission).

        Returns
        -------
        Any
            An ``ee.batch.Task`` (classifier to asset, image to Drive, Cloud Storage or asset).

        Raises
        ------
        InputError
            The destination is unknown.
        """
        import ee

        kwargs = dict(self.export_kwargs)
        if self.kind == "classifier":
            return ee.batch.Export.classifier.toAsset(**kwargs)
        if self.destination == "drive":
            return ee.batch.Export.image.toDrive(**kwargs)
        if self.destination == "gcs":
            return ee.batch.Export.image.toCloudStorage(**kwargs)
        if self.destination == "asset":
            return ee.batch.Export.image.toAsset(**kwargs)
        raise InputError(f"Unknown export destination '{self.destination}'; choose drive, gcs or asset.")

    def record(self) -> dict[str, Any]:
        """The task's manifest record before any submission.

        Returns
        -------
        dict[str, Any]
            Description, kind, destination, fingerprint, state :data:`UNSUBMITTED` and empty progress fields.
        """
        return {"description": self.description, "kind": self.kind, "date": self.date,
                "step": "training" if self.kind == "classifier" else "prediction", "after": self.after,
                "destination": self.destination, "target": self.target, "file_prefix": self.file_prefix,
                "fingerprint": self.fingerprint, "state": UNSUBMITTED, "operation": None, "task_id": None,
                "error": None, "progress": 0.0, "submissions": 0, "destination_uris": [], "submitted_at": None,
                "updated_at": None, "eecu_seconds": None, "files": []}


def start_task(config: TaskConfig) -> str:
    """Start ``config`` on Earth Engine (``Task.start``); returns the operation name.

    Parameters
    ----------
    config : TaskConfig
        The task.

    Returns
    -------
    str
        The operation name.

    Raises
    ------
    GeeError
        Earth Engine returned no task.
    """
    task = config.make_task()
    task.start()
    if not task.name:
        raise GeeError(f"Earth Engine did not return a task for {config.description}; run again.", kind="server")
    return str(task.name)


def operation_status(operation: dict[str, Any]) -> dict[str, Any]:
    """``{"state", "error", "progress", "destination_uris", "eecu_seconds"}`` of an Earth Engine operation
    (``eecu_seconds``: the batch compute the task used so far, None when Earth Engine does not say).

    Parameters
    ----------
    operation
        An operation as ``ee.data.getOperation`` returns it.

    Returns
    -------
    dict[str, Any]
        Its state (:data:`STATES`), error, progress, destination URIs and compute.
    """
    meta = operation.get("metadata", {}) or {}
    state = OPERATION_STATES.get(str(meta.get("state", "PENDING")), READY)
    error = None
    if operation.get("done"):
        if "error" in operation:
            error = str((operation.get("error") or {}).get("message") or "unknown error")
            if state not in (FAILED, CANCELLED):
                state = FAILED
        elif state not in FINAL:
            state = COMPLETED
    eecu = meta.get("batchEecuUsageSeconds")
    return {"state": state, "error": error, "progress": float(meta.get("progress", 0.0) or 0.0),
            "destination_uris": list(meta.get("destinationUris", []) or []),
            "eecu_seconds": float(eecu) if eecu is not None else None}


def task_status(operation_name: str) -> dict[str, Any]:
    """The status of a started task (``ee.data.getOperation``), see :func:`operation_status`.

    Parameters
    ----------
    operation_name : str
        The task's operation name.

    Returns
    -------
    dict[str, Any]
        State, error, progress, destination URIs and compute (:func:`operation_status`).
    """
    import ee

    return operation_status(ee.data.getOperation(operation_name))


def cancel_task(operation_name: str) -> None:
    """Cancel a task on Earth Engine (``ee.data.cancelOperation``).

    Parameters
    ----------
    operation_name : str
        The task's operation name.
    """
    import ee

    ee.data.cancelOperation(operation_name)


# -- the task manifest -----------------------------------------------------------------------------

def new_manifest(request: Optional[dict[str, Any]] = None, project: Optional[str] = None) -> dict[str, Any]:
    """An empty task manifest for ``request`` and ``project``.

    Parameters
    ----------
    request : dict[str, Any] or None
        The request the tasks carry out (None: empty).
    project : str or None
        The Cloud project.

    Returns
    -------
    dict[str, Any]
        Format, version, times, project, request, empty counts and tasks.
    """
    now = _now()
    return {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "created": now, "updated": now,
            "project": project, "request": request or {}, "counts": {}, "tasks": []}


def read_task_manifest(path: str) -> dict[str, Any]:
    """A task manifest written by :func:`submit_batches`; InputError with the fix when it is not one.

    Parameters
    ----------
    path
        The task manifest.

    Returns
    -------
    dict[str, Any]
        The manifest document.

    Raises
    ------
    InputError
        The file is missing or unreadable, not a task manifest, or from a newer version.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise InputError(f"The task manifest {path} does not exist; choose the file a previous run wrote, or a new "
                         "file name to start afresh.") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"The task manifest {path} cannot be read ({exc}); choose another file or delete it to "
                         "start afresh (tasks already finished on Earth Engine will then be started again).") from exc
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("tasks"), list):
        raise InputError(f"{path} is not a smdownscale Earth Engine task manifest; choose another file name so it is "
                         "not overwritten.")
    if int(doc.get("version", 0)) > MANIFEST_VERSION:
        raise InputError(f"The task manifest {path} was written by a newer version of the plugin; update the plugin.")
    return doc


def write_task_manifest(path: str, doc: dict[str, Any]) -> str:
    """Write the manifest atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    path
        Where to write.
    doc
        The manifest document (counts and compute updated).

    Returns
    -------
    str
        ``path``.
    """
    raster.check_output_path(path)
    doc["updated"] = _now()
    counts: dict[str, int] = {}
    for rec in doc.get("tasks", []):
        counts[rec.get("state", UNSUBMITTED)] = counts.get(rec.get("state", UNSUBMITTED), 0) + 1
    doc["counts"] = counts
    doc["eecu_hours"] = round(sum(float(r.get("eecu_seconds") or 0.0) for r in doc.get("tasks", [])) / 3600.0, 6)
    text = json.dumps(doc, indent=1, default=str)
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return path


# -- submission ------------------------------------------------------------------------------------

@dataclass
class BatchResult:
    """What :func:`submit_batches` did and where the tasks stand."""

    manifest_path: str
    tasks: list[dict[str, Any]]
    started: int = 0
    skipped: int = 0
    reattached: int = 0
    max_active: int = 0

    @property
    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATES}
        for rec in self.tasks:
            out[rec["state"]] = out.get(rec["state"], 0) + 1
        return out

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.tasks if r["state"] in (FAILED, CANCELLED)]

    @property
    def pending(self) -> list[dict[str, Any]]:
        return [r for r in self.tasks if r["state"] not in FINAL]

    @property
    def completed(self) -> list[dict[str, Any]]:
        return [r for r in self.tasks if r["state"] == COMPLETED]

    @property
    def eecu_hours(self) -> float:
        """Earth Engine batch compute used by these tasks (EECU-hours, as far as Earth Engine reported it)."""
        return sum(float(r.get("eecu_seconds") or 0.0) for r in self.tasks) / 3600.0


def _merge(config: TaskConfig, prev: Optional[dict[str, Any]], say: Log) -> tuple[dict[str, Any], str]:
    """The record of ``config`` from the previous manifest record, and what happens to it:
    'skip' (completed), 'attach' (still running), 'submit'."""
    rec = config.record()
    if prev is None:
        return rec, "submit"
    if prev.get("fingerprint") != config.fingerprint:
        say(f"{config.description}: the request changed since the manifest was written; the task is submitted again.")
        rec["submissions"] = int(prev.get("submissions", 0) or 0)
        return rec, "submit"
    for key in ("state", "operation", "task_id", "error", "progress", "submissions", "destination_uris",
                "submitted_at", "updated_at", "eecu_seconds", "files"):
        if key in prev:
            rec[key] = prev[key]
    state = rec.get("state")
    if state == COMPLETED:
        return rec, "skip"
    if state in ACTIVE and rec.get("operation"):
        return rec, "attach"
    if state in (FAILED, CANCELLED):
        say(f"{config.description}: {state.lower()} in the previous run"
            + (f" ({rec['error']})" if rec.get("error") else "") + "; submitting it again.")
        rec["previous_error"] = rec.get("error")
    rec.update({"state": UNSUBMITTED, "operation": None, "task_id": None, "error": None, "progress": 0.0,
                "destination_uris": []})
    return rec, "submit"


@dataclass
class TaskClient:
    """How :func:`submit_batches` talks to Earth Engine: start a task (returns its operation name), ask for a
    started task's state (:func:`operation_status`'s form) and cancel one. Earth Engine's own calls by default."""

    start: Callable[[TaskConfig], str] = start_task
    status: Callable[[str], dict[str, Any]] = task_status
    cancel: Callable[[str], None] = cancel_task


def _check_configs(task_configs: Sequence[TaskConfig], batch_size: int) -> None:
    if int(batch_size) < 1:
        raise InputError(f"The batch size must be at least 1 task (got {batch_size}).")
    if not task_configs:
        raise InputError("There is no export task to submit; check the date range.")
    names = [c.description for c in task_configs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"Several tasks are named {', '.join(dupes)}; every task needs its own description.")


def _open_manifest(manifest_path: str, request: Optional[dict[str, Any]], project: Optional[str]) -> dict[str, Any]:
    """The task manifest to continue (its request and project updated), or a new one."""
    if not os.path.exists(manifest_path):
        return new_manifest(request, project)
    doc = read_task_manifest(manifest_path)
    if request is not None:
        doc["request"] = request
    if project:
        doc["project"] = project
    return doc


class _Batch:
    """One run of :func:`submit_batches`: the records of its tasks, the manifest they are saved in, and the two
    things a round does (follow the started tasks, start the next ones)."""

    def __init__(self, task_configs: Sequence[TaskConfig], batch_size: int, manifest_path: str,
                 doc: dict[str, Any], client: TaskClient, progress: Progress, is_canceled: IsCanceled,
                 say: Log) -> None:
        self.batch_size = int(batch_size)
        self.manifest_path, self.doc = manifest_path, doc
        self.client = client
        self.progress, self.is_canceled, self.say = progress, is_canceled, say
        self.by_desc = {c.description: c for c in task_configs}
        self.records: list[dict[str, Any]] = []
        self.result = BatchResult(manifest_path, self.records)
        self.start_retries = 0
        previous = {r.get("description"): r for r in doc["tasks"] if isinstance(r, dict)}
        for cfg in task_configs:
            rec, action = _merge(cfg, previous.pop(cfg.description, None), say)
            self.records.append(rec)
            if action == "skip":
                self.result.skipped += 1
            elif action == "attach":
                self.result.reattached += 1
        doc["tasks"] = self.records + list(previous.values())  # records of other requests are kept as they are
        if self.result.skipped:
            say(f"{self.result.skipped} task(s) completed in a previous run; not started again.")
        if self.result.reattached:
            say(f"Following {self.result.reattached} task(s) started in a previous run.")

    def save(self) -> None:
        write_task_manifest(self.manifest_path, self.doc)

    def n_active(self) -> int:
        return sum(r["state"] in ACTIVE for r in self.records)

    def report(self) -> None:
        self.progress(sum(r["state"] in FINAL for r in self.records) / len(self.records))

    def unfinished(self) -> bool:
        return any(r["state"] not in FINAL for r in self.records)

    def check_canceled(self) -> None:
        if self.is_canceled():
            raise Canceled()

    def set_state(self, rec: dict[str, Any], state: str, error: Optional[str] = None) -> None:
        """A new state (and Earth Engine's message, redacted) for one task, saved with the manifest."""
        rec["state"] = state
        rec["error"] = redact(error) if error else None
        rec["updated_at"] = _now()
        self.save()

    def follow(self) -> None:
        """Ask Earth Engine for the state of every started task; record what changed."""
        for rec in self.records:
            self.check_canceled()
            if rec["state"] in ACTIVE and rec.get("operation"):
                self._follow_one(rec)
        self.report()

    def _follow_one(self, rec: dict[str, Any]) -> None:
        try:
            status = self.client.status(rec["operation"])
        except Exception as exc:
            err = explain(exc)
            if err.kind in RETRYABLE_KINDS:
                self.say(f"{rec['description']}: status not available this time ({err}); asking again later.")
                return
            self.set_state(rec, FAILED, f"Earth Engine cannot report on task {rec['operation']}: {err}")
            self.say(f"{rec['description']}: FAILED: {rec['error']}")
            return
        rec["progress"] = status.get("progress", rec.get("progress", 0.0))
        if status.get("destination_uris"):
            rec["destination_uris"] = status["destination_uris"]
        if status.get("eecu_seconds") is not None:
            rec["eecu_seconds"] = status["eecu_seconds"]
        if status["state"] != rec["state"] or (status.get("error") and status["error"] != rec.get("error")):
            self.set_state(rec, status["state"], status.get("error"))
            self.say(f"{rec['description']}: {rec['state']}" + (f": {rec['error']}" if rec.get("error") else ""))

    def start_next(self) -> None:
        """Start unsubmitted tasks while the batch has room (a task waits for the classifier it loads)."""
        for rec in self.records:
            if rec["state"] != UNSUBMITTED:
                continue
            if self.n_active() >= self.batch_size or self.is_canceled():
                break
            cfg = self.by_desc[rec["description"]]
            if not self._dependency_met(rec, cfg):
                continue
            if self._start_one(rec, cfg) == "later":
                break
        self.result.max_active = max(self.result.max_active, self.n_active())
        self.report()

    def _dependency_met(self, rec: dict[str, Any], cfg: TaskConfig) -> bool:
        """Whether the task ``cfg`` waits for has completed; fails ``rec`` when that task did not complete."""
        needed = next((r for r in self.records if cfg.after and r["description"] == cfg.after), None)
        if needed is None or needed["state"] == COMPLETED:
            return True
        if needed["state"] in (FAILED, CANCELLED):
            rec["submissions"] = int(rec.get("submissions", 0))
            self.set_state(rec, FAILED, f"Not started: {cfg.after} did not complete ({needed['state']}).")
            self.say(f"{cfg.description}: FAILED: {rec['error']}")
        return False

    def _start_one(self, rec: dict[str, Any], cfg: TaskConfig) -> str:
        """Start one task: 'started', 'failed', or 'later' (a retryable refusal: the round stops starting)."""
        try:
            operation = self.client.start(cfg)
        except Exception as exc:
            err = exc if isinstance(exc, SmdError) else explain(exc)
            retryable = isinstance(err, GeeError) and err.kind in RETRYABLE_KINDS
            if retryable and self.start_retries < MAX_START_RETRIES:
                self.start_retries += 1
                self.say(f"{cfg.description}: Earth Engine did not accept the task yet ({err}); trying again later.")
                return "later"
            rec["submissions"] = int(rec.get("submissions", 0)) + 1
            self.set_state(rec, FAILED, str(err))
            self.say(f"{cfg.description}: FAILED to start: {rec['error']}")
            return "failed"
        self.start_retries = 0
        rec.update({"operation": operation, "task_id": str(operation).rsplit("/", 1)[-1],
                    "submissions": int(rec.get("submissions", 0)) + 1, "submitted_at": _now(),
                    "progress": 0.0, "destination_uris": []})
        self.set_state(rec, READY)
        self.result.started += 1
        self.say(f"{cfg.description}: started (task {rec['task_id']}).")
        return "started"

    def pause(self, seconds: float, sleep: Callable[[float], None]) -> None:
        """Wait ``seconds`` in slices, so cancel is noticed quickly."""
        slept = 0.0
        while slept < seconds:
            self.check_canceled()
            step = min(SLEEP_SLICE, seconds - slept)
            sleep(step)
            slept += step


@raster.gdal_exceptions()
def submit_batches(task_configs: Sequence[TaskConfig], manifest_path: str, run: Optional[TaskRun] = None,
                   client: Optional[TaskClient] = None, progress: Progress = no_progress,
                   is_canceled: IsCanceled = never_canceled, log: Optional[Log] = None,
                   request: Optional[dict[str, Any]] = None, project: Optional[str] = None) -> BatchResult:
    """Start the tasks, at most ``run.batch_size`` queued or running at once, and follow them (see the module doc).

    Each round follows the started tasks, then starts the next ones while the batch has room, then waits
    ``run.poll_interval`` seconds. Failed tasks do not raise: they are in the result (``failed``) and the manifest.

    Parameters
    ----------
    task_configs
        The tasks, each with its own description (a task waits for the one named in its ``after``).
    manifest_path
        The task manifest, written after every change; an existing one is continued (completed tasks are
        skipped, running ones followed, failed ones submitted again).
    run
        Batch size, whether to wait until every task has finished (else start what the batch allows and return;
        a later run with the same manifest picks up from there), the poll interval, how to sleep, and the
        seconds of waiting after which the run stops following (the tasks go on); see :class:`.request.TaskRun`.
    client
        How tasks are started, asked for their state and canceled (:class:`TaskClient`).
    progress, is_canceled, log
        Finished tasks / all tasks; cancel check; messages for the user.
    request, project
        Recorded in the manifest (the request record and the Earth Engine project).

    Returns
    -------
    BatchResult
        The task records and what this run did (started, skipped, reattached, most active at once).

    Raises
    ------
    InputError
        A batch size below 1, no task, two tasks with one description, or a manifest that cannot be used.
    Canceled
        ``is_canceled()`` became true: the followed tasks are canceled on Earth Engine and the manifest says so.
    """
    run = run or TaskRun()
    client = client or TaskClient()
    batch_size = run.batch_size
    say = log or (lambda _m: None)
    _check_configs(task_configs, batch_size)
    manifest_path = os.path.abspath(manifest_path) if manifest_path else ""
    raster.check_output_path(manifest_path)
    doc = _open_manifest(manifest_path, request, project)
    batch = _Batch(task_configs, batch_size, manifest_path, doc, client, progress, is_canceled, say)
    batch.save()
    batch.report()
    waited = 0.0
    try:
        while True:
            batch.check_canceled()
            batch.follow()
            batch.start_next()
            if not batch.unfinished() or not run.wait:
                break
            if run.timeout is not None and waited >= run.timeout:
                say(f"Stopped following after {waited:.0f} s; {len(batch.result.pending)} task(s) go on. Run again "
                    "with the same manifest to follow them.")
                break
            batch.pause(run.poll_interval, run.sleep)
            waited += run.poll_interval
    except Canceled:
        n = _cancel_active(batch.records, client.cancel, say)
        n_canceled = sum(r["state"] == CANCELLED for r in batch.records)
        batch.save()
        raise Canceled(f"Canceled by the user; {n} Earth Engine task(s) were canceled on Earth Engine. The manifest "
                       f"{manifest_path} records them ({n_canceled} canceled): run again with it to submit them "
                       "again; completed tasks are kept.") from None
    return batch.result


def _cancel_active(records: list[dict[str, Any]], cancel_fn: Callable[[str], None], say: Log) -> int:
    n = 0
    for rec in records:
        if rec["state"] in ACTIVE and rec.get("operation"):
            try:
                cancel_fn(rec["operation"])
            except Exception as exc:
                say(f"{rec['description']}: could not be canceled ({explain(exc)}); cancel it in the Code Editor "
                    "(Tasks tab).")
                continue
            rec["state"] = CANCELLED
            rec["error"] = "Canceled by the user."
            rec["updated_at"] = _now()
            n += 1
    return n


def failure_message(records: Sequence[dict[str, Any]], manifest_path: str, limit: int = 3) -> str:
    """A message naming the failed or canceled tasks with Earth Engine's messages.

    Parameters
    ----------
    records
        Task records.
    manifest_path
        The task manifest, named in the message.
    limit
        How many tasks the message names.

    Returns
    -------
    str
        The message.
    """
    bad = [r for r in records if r["state"] in (FAILED, CANCELLED)]
    lines = [f"{r['description']}: {r['state']}: {r.get('error') or 'no message'}" for r in bad[:limit]]
    more = f" (and {len(bad) - limit} more)" if len(bad) > limit else ""
    return (f"{len(bad)} of {len(records)} Earth Engine task(s) did not complete{more}: " + "; ".join(lines)
            + f". Fix the cause and run again with the manifest {manifest_path}: completed tasks are kept, these are "
              "submitted again.")


# -- Cloud Storage downloads -----------------------------------------------------------------------

class GcsStorage:
    """Lists and downloads Cloud Storage objects with google-cloud-storage (optional dependency).

    ``credentials``: None/'persistent' (the Earth Engine credentials stored by ``earthengine authenticate``;
    anonymous when ``STORAGE_EMULATOR_HOST`` points at a local emulator), a service-account key (dict) or a
    google-auth credentials object.
    """

    def __init__(self, project: Optional[str] = None, credentials: Any = None) -> None:
        self.project = project
        self.credentials = credentials
        self._client: Any = None

    def client(self) -> Any:
        """The google-cloud-storage client (made once).

        Returns
        -------
        Any
            A ``google.cloud.storage.Client``.

        Raises
        ------
        InputError
            google-cloud-storage is not installed.
        """
        if self._client is None:
            try:
                from google.cloud import storage
            except ImportError as exc:
                raise InputError("Downloading from Cloud Storage needs google-cloud-storage; install it into the "
                                 "Python that QGIS uses (python -m pip install google-cloud-storage), or download the "
                                 "files from the Cloud console.") from exc
            creds = self.credentials
            if os.environ.get("STORAGE_EMULATOR_HOST"):
                creds = None if creds in (None, "persistent") else creds
            elif isinstance(creds, dict):
                import ee
                from google.oauth2 import service_account

                creds = service_account.Credentials.from_service_account_info(creds, scopes=ee.oauth.SCOPES)
            elif creds in (None, "persistent"):
                import ee

                creds = ee.data.get_persistent_credentials()
            self._client = storage.Client(project=self.project, credentials=creds)
        return self._client

    def list(self, bucket: str, prefix: str) -> list[str]:
        """The object names in ``bucket`` starting with ``prefix``.

        Parameters
        ----------
        bucket : str
            The bucket.
        prefix : str
            The name prefix.

        Returns
        -------
        list of str
            The object names.
        """
        return [b.name for b in self.client().list_blobs(bucket, prefix=prefix)]

    def download(self, bucket: str, name: str, path: str) -> None:
        """Download object ``name`` of ``bucket`` to ``path``.

        Parameters
        ----------
        bucket : str
            The bucket.
        name : str
            The object name.
        path : str
            The local file.
        """
        self.client().bucket(bucket).blob(name).download_to_filename(path)


def _export_files(names: Sequence[str], prefix: str) -> list[str]:
    """The GeoTIFFs Earth Engine wrote for ``prefix``: ``<prefix>.tif`` or tiles ``<prefix>-<row>-<col>.tif``."""
    rx = re.compile(re.escape(prefix) + r"(?:-\d+-\d+)?\.tif{1,2}$")
    return sorted(n for n in names if rx.fullmatch(n))


@raster.gdal_exceptions()
def download_results(records: Sequence[dict[str, Any]] | str, folder: str, storage: Any = None,
                     manifest_path: Optional[str] = None, band_name: str = "soil_moisture",
                     nodata: float = raster.NODATA_F32, progress: Progress = no_progress,
                     is_canceled: IsCanceled = never_canceled, log: Optional[Log] = None) -> list[str]:
    """Download the GeoTIFFs of the COMPLETED Cloud Storage image tasks into ``folder`` (one file per task,
    ``<name>.tif``, tiles merged), nodata and band name set; returns their paths.

    ``records``: task records or the task manifest's path (then updated with the files). ``storage``: an
    object with ``list(bucket, prefix) -> names`` and ``download(bucket, name, path)`` (default
    :class:`GcsStorage`). Files already there are kept. Each file is written atomically.

    Parameters
    ----------
    records
        Task records, or the task manifest's path.
    folder
        Where to save the maps.
    storage
        Lists and downloads objects (default: :class:`GcsStorage`).
    manifest_path
        A task manifest to update with the files, or None.
    band_name, nodata
        The maps' band description and nodata value.
    progress, is_canceled
        Progress fraction and cancel check (:mod:`.raster` defaults).
    log
        Messages for the user, or None.

    Returns
    -------
    list[str]
        The downloaded maps, one per completed task.

    Raises
    ------
    InputError
        No download folder; also from :func:`read_task_manifest`.
    GeeError
        The bucket cannot be listed, an exported file is missing, or a download fails.
    Canceled
        ``is_canceled()`` became true.
    """
    say = log or (lambda _m: None)
    doc = None
    if isinstance(records, str):
        manifest_path = records
        doc = read_task_manifest(records)
        records = doc["tasks"]
    elif manifest_path and os.path.exists(manifest_path):
        doc = read_task_manifest(manifest_path)
    todo = [r for r in records if r.get("destination") == "gcs" and r.get("kind", "image") == "image"
            and r.get("state") == COMPLETED]
    if not folder:
        raise InputError("No download folder was given; choose where to save the downloaded files.")
    os.makedirs(folder, exist_ok=True)
    storage = storage or GcsStorage()
    out_paths: list[str] = []
    for k, rec in enumerate(todo):
        if is_canceled():
            raise Canceled()
        prefix = rec["file_prefix"]
        out = os.path.join(folder, os.path.basename(prefix) + ".tif")
        if not os.path.exists(out):
            try:
                names = _export_files(storage.list(rec["target"], prefix), prefix)
            except SmdError:
                raise
            except Exception as exc:
                raise GeeError(f"Cannot list gs://{rec['target']}/{prefix}* ({redact(exc)}); check the bucket name "
                               "and your access to it.", kind="other") from None
            if not names:
                raise GeeError(f"No exported file gs://{rec['target']}/{prefix}.tif was found although the task "
                               f"{rec['description']} completed; check the bucket (files moved or deleted?).",
                               kind="other")
            _download_one(storage, rec, names, out, band_name, nodata, is_canceled)
            say(f"Downloaded {out} ({len(names)} file(s) from gs://{rec['target']}).")
        rec["files"] = [out]
        out_paths.append(out)
        if doc is not None and manifest_path:
            for stored in doc["tasks"]:
                if stored.get("description") == rec["description"]:
                    stored["files"] = [out]
            write_task_manifest(manifest_path, doc)
        progress((k + 1) / len(todo))
    return out_paths


def _download_one(storage: Any, rec: dict[str, Any], names: Sequence[str], out: str, band_name: str,
                  nodata: float, is_canceled: IsCanceled) -> None:
    from osgeo import gdal

    folder = os.path.dirname(os.path.abspath(out))
    parts: list[str] = []
    try:
        for name in names:
            if is_canceled():
                raise Canceled()
            part = os.path.join(folder, f".{os.path.basename(name)}.download-{uuid.uuid4().hex[:8]}.tif")
            parts.append(part)
            try:
                storage.download(rec["target"], name, part)
            except Exception as exc:
                raise GeeError(f"Cannot download gs://{rec['target']}/{name} ({redact(exc)}); run again (downloaded "
                               "files are kept).", kind="network") from None
        shown = {part: f"gs://{rec['target']}/{name}" for part, name in zip(parts, names)}
        with raster.atomic_path(out) as tmp, raster.reading(*parts, shown=shown):
            src = parts[0] if len(parts) == 1 else gdal.BuildVRT("", parts)
            ds = gdal.Translate(tmp, src, format="GTiff", outputType=gdal.GDT_Float32, noData=nodata,
                                creationOptions=["COMPRESS=DEFLATE", "TILED=YES"])
            band = ds.GetRasterBand(1)
            band.SetDescription(band_name)
            if ds.RasterCount > 1:  # each pixel's path (build_prediction with fill): the local quality codes
                quality = ds.GetRasterBand(2)
                quality.SetDescription(QUALITY_BAND)
                # the server fills no factor from another date: its codes are the local ones up to coarse only
                quality.SetMetadataItem("SMD_QUALITY_CLASSES", "; ".join(
                    [f"{QUALITY_NODATA} no value"] + [f"{code} {label}" for code, label in QUALITY_CLASSES.items()
                                                      if code != FROM_OTHER_DATE]))
            meta = {"SMD_SOURCE": "Google Earth Engine", "SMD_TASK": rec["description"]}
            if rec.get("date"):
                meta["SMD_DATE"] = rec["date"]
            ds.SetMetadata(meta)
            ds = None
            src = None
    finally:
        for part in parts:
            with contextlib.suppress(OSError):
                os.remove(part)


__all__ = ["TaskConfig", "TaskClient", "BatchResult", "submit_batches", "download_results",
           "start_task", "task_status", "cancel_task", "operation_status", "read_task_manifest",
           "write_task_manifest", "failure_message", "GcsStorage", "task_description", "STATES", "ACTIVE", "FINAL"]
