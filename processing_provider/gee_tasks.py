"""Follow Earth Engine export tasks in the QGIS task manager after smdownscale:downscalegee returned (WAIT off).

:class:`GeeTaskMonitor` is a ``QgsTask`` that runs :func:`algorithms.gee.tasks.submit_batches` with the
run's task configurations and manifest: it starts the tasks not started yet (batch size respected), follows
the others, shows progress (finished / all tasks), and canceling it in the task manager cancels the Earth
Engine tasks. The manifest stays up to date, so a later run with it resumes.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional, Sequence

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsTask
from qgis.PyQt.QtCore import QCoreApplication

LOG_TAG = "smdownscale"
_running: list[GeeTaskMonitor] = []  # tasks must outlive the algorithm that started them


def _tr(text: str) -> str:
    return QCoreApplication.translate("GeeTaskMonitor", text)


class GeeTaskMonitor(QgsTask):
    """A task manager task following (and starting) a run's Earth Engine export tasks."""

    def __init__(self, configs: Sequence[Any], manifest_path: str, batch_size: int, poll_interval: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, description: Optional[str] = None) -> None:
        super().__init__(description or _tr("Earth Engine exports ({} tasks)").format(len(configs)),
                         QgsTask.Flag.CanCancel)
        self.configs = list(configs)
        self.manifest_path = manifest_path
        self.batch_size = int(batch_size)
        self.poll_interval = float(poll_interval)
        self.sleep = sleep
        self.result: Any = None
        self.error = ""
        self.messages: list[str] = []

    def _log(self, message: str) -> None:
        from ..algorithms.gee.auth import redact

        text = redact(message)
        self.messages.append(text)
        QgsMessageLog.logMessage(text, LOG_TAG, Qgis.MessageLevel.Info)

    def run(self) -> bool:
        from ..algorithms.errors import Canceled, SmdError
        from ..algorithms.gee import tasks
        from ..algorithms.gee.request import TaskRun

        try:
            self.result = tasks.submit_batches(
                self.configs, self.manifest_path,
                TaskRun(batch_size=self.batch_size, wait=True, poll_interval=self.poll_interval, sleep=self.sleep),
                progress=lambda f: self.setProgress(100.0 * f), is_canceled=self.isCanceled, log=self._log)
        except Canceled as exc:
            self.error = str(exc)
            return False
        except SmdError as exc:
            self.error = str(exc)
            return False
        if self.result.failed:
            self.error = tasks.failure_message(self.result.tasks, self.manifest_path)
            return False
        return True

    def finished(self, result: bool) -> None:
        if result:
            QgsMessageLog.logMessage(_tr("All {} Earth Engine task(s) completed; manifest {}").format(
                len(self.configs), self.manifest_path), LOG_TAG, Qgis.MessageLevel.Info)
        else:
            QgsMessageLog.logMessage(self.error or _tr("The Earth Engine tasks were not followed to the end."),
                                     LOG_TAG, Qgis.MessageLevel.Warning)
        if self in _running:
            _running.remove(self)


def start_monitor(configs: Sequence[Any], manifest_path: str, batch_size: int, poll_interval: float = 30.0,
                  sleep: Callable[[float], None] = time.sleep) -> GeeTaskMonitor:
    """Create the monitor task and add it to the QGIS task manager."""
    task = GeeTaskMonitor(configs, manifest_path, batch_size, poll_interval, sleep)
    _running.append(task)
    QgsApplication.taskManager().addTask(task)
    return task
