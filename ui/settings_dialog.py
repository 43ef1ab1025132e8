"""Settings and sign-in: Earth Engine project, credentials, endpoint, cache folder, parallel requests.

One widget (:class:`SettingsWidget`) serves both the dialog opened from the plugin menu
(:class:`SettingsDialog`) and the page in Settings > Options (:class:`SettingsOptionsFactory`). Values
live in QgsSettings (see ``processing_provider/settings.py``); a service-account key lives in the QGIS
authentication database. "Test connection" runs in a background thread and reports in the widget.
"Sign in with Google" runs earthengine-api's sign-in (:class:`algorithms.gee.auth.SignIn`): the browser opens
Google's page, a background thread waits for the answer on the loopback and saves the credentials; the
dialog shows the address to open by hand when no browser opens. Only this dialog signs in: a Processing or
``qgis_process`` run without credentials stops with a message saying how to sign in.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Optional

from qgis.gui import QgsAuthConfigSelect, QgsFileWidget, QgsOptionsPageWidget, QgsOptionsWidgetFactory
from qgis.PyQt.QtCore import QCoreApplication, Qt, QUrl, pyqtSignal
from qgis.PyQt.QtGui import QDesktopServices, QIcon
from qgis.PyQt.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..algorithms.errors import SmdError
from ..processing_provider import settings
from ..processing_provider.base import HELP_URL, PLUGIN_DIR

OK_STYLE = "color: #1a7f37;"
ERROR_STYLE = "color: #b42318;"
HELP_ANCHOR = "settings"
#: Translation context of the Processing plugin (its options page title); not one of ours.
PROCESSING_CONTEXT = "ProcessingPlugin"


def plugin_icon() -> QIcon:
    return QIcon(os.path.join(PLUGIN_DIR, "icons", "smdownscale.svg"))


class SettingsWidget(QWidget):
    """The settings form. ``load()`` fills it from QgsSettings, ``save()`` writes it back."""

    #: (ok, message) once a connection test has finished (emitted in the GUI thread).
    connectionTested = pyqtSignal(bool, str)
    #: (ok, message) once a Google sign-in has finished, failed or was canceled (emitted in the GUI thread).
    signedIn = pyqtSignal(bool, str)
    _checkDone = pyqtSignal(int, bool, str)
    _signInDone = pyqtSignal(object, bool, str)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self._testing = False

        # -- Earth Engine ---------------------------------------------------------------------------
        self.project_edit = QLineEdit()
        self.project_edit.setPlaceholderText(self.tr("e.g. my-cloud-project"))
        self.project_edit.setToolTip(self.tr(
            "Google Cloud project registered for Earth Engine; requests are billed to and limited by it."))

        self.persistent_radio = QRadioButton(self.tr("My Google account"))
        self.service_radio = QRadioButton(self.tr("Service account key, kept in the QGIS authentication database"))
        self.mode_group = QButtonGroup(self)
        self.mode_group.addButton(self.persistent_radio)
        self.mode_group.addButton(self.service_radio)
        self.persistent_help = QLabel(self.tr(
            "Sign in once: your browser opens Google's sign-in page and the credentials are saved on this computer "
            "for QGIS and qgis_process (the same as running  earthengine authenticate  in a terminal)."))
        self.persistent_help.setWordWrap(True)
        self.persistent_help.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sign_in_button = QPushButton(self.tr("Sign in with Google…"))
        self.sign_in_button.setToolTip(self.tr(
            "Opens Google's sign-in page in your browser; QGIS receives the answer on this computer and saves the "
            "Earth Engine credentials."))
        self.sign_in_button.clicked.connect(self.sign_in)
        self.cancel_sign_in_button = QPushButton(self.tr("Cancel sign-in"))
        self.cancel_sign_in_button.clicked.connect(self.cancel_sign_in)
        self.cancel_sign_in_button.setVisible(False)
        self.sign_in_label = QLabel()
        self.sign_in_label.setWordWrap(True)
        self.sign_in_label.setTextFormat(Qt.TextFormat.PlainText)
        self.sign_in_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sign_in_label.setVisible(False)
        sign_in_row = QHBoxLayout()
        sign_in_row.setContentsMargins(0, 0, 0, 0)
        sign_in_row.addWidget(self.sign_in_button)
        sign_in_row.addWidget(self.cancel_sign_in_button)
        sign_in_row.addStretch(1)
        self.sign_in_box = QWidget()
        self.sign_in_box.setLayout(sign_in_row)
        #: Opens the sign-in page (the user's browser); tests replace it.
        self.open_url: Callable[[str], Any] = lambda url: QDesktopServices.openUrl(QUrl(url))
        self._sign_in: Any = None

        self.auth_select = QgsAuthConfigSelect(self, "")
        self.import_button = QPushButton(self.tr("Import key file…"))
        self.import_button.setToolTip(self.tr(
            "Store a service-account JSON key (Google Cloud console > IAM > Service accounts > Keys) in the "
            "QGIS authentication database, encrypted with the master password."))
        self.import_button.clicked.connect(self._choose_key_file)
        key_row = QHBoxLayout()
        key_row.addWidget(self.auth_select, 1)
        key_row.addWidget(self.import_button)
        self.key_box = QWidget()
        self.key_box.setLayout(key_row)
        key_row.setContentsMargins(0, 0, 0, 0)

        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText(self.tr("default (https://earthengine.googleapis.com)"))
        self.url_edit.setToolTip(self.tr(
            "Leave empty for the standard endpoint. https://earthengine-highvolume.googleapis.com suits many "
            "parallel requests."))

        self.test_button = QPushButton(self.tr("Test connection"))
        self.test_button.clicked.connect(self.test_connection)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.PlainText)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        ee_box = QGroupBox(self.tr("Google Earth Engine"))
        form = QFormLayout(ee_box)
        form.addRow(self.tr("Cloud project id"), self.project_edit)
        sign_in = QVBoxLayout()
        sign_in.addWidget(self.persistent_radio)
        sign_in.addWidget(self.persistent_help)
        sign_in.addWidget(self.sign_in_box)
        sign_in.addWidget(self.sign_in_label)
        sign_in.addWidget(self.service_radio)
        sign_in.addWidget(self.key_box)
        form.addRow(self.tr("Sign in with"), sign_in)
        form.addRow(self.tr("Endpoint"), self.url_edit)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addStretch(1)
        form.addRow(test_row)
        form.addRow(self.result_label)

        # -- downloads ------------------------------------------------------------------------------
        self.cache_widget = QgsFileWidget()
        self.cache_widget.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.cache_widget.setDialogTitle(self.tr("Cache folder for Earth Engine downloads"))
        self.cache_widget.setToolTip(self.tr("Downloaded tiles are kept here and not downloaded again."))
        self.parallel_spin = QSpinBox()
        self.parallel_spin.setRange(settings.MIN_PARALLEL, settings.MAX_PARALLEL)
        self.parallel_spin.setToolTip(self.tr(
            "Earth Engine requests sent at the same time. Lower it if Earth Engine reports too many requests."))
        dl_box = QGroupBox(self.tr("Downloads"))
        dl_form = QFormLayout(dl_box)
        dl_form.addRow(self.tr("Cache folder"), self.cache_widget)
        dl_form.addRow(self.tr("Parallel requests"), self.parallel_spin)

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setStyleSheet(ERROR_STYLE)

        layout = QVBoxLayout(self)
        layout.addWidget(ee_box)
        layout.addWidget(dl_box)
        layout.addWidget(self.status_label)
        layout.addStretch(1)

        self.service_radio.toggled.connect(self._update_enabled)
        self._checkDone.connect(self._on_check_done)
        self._signInDone.connect(self._on_sign_in_done)
        self.load()

    # -- values -------------------------------------------------------------------------------------
    def credentials_mode(self) -> str:
        return settings.SERVICE_ACCOUNT if self.service_radio.isChecked() else settings.PERSISTENT

    def authcfg(self) -> str:
        return self.auth_select.configId() or ""

    def load(self) -> None:
        """Show the stored settings."""
        self.project_edit.setText(settings.ee_project())
        service = settings.ee_credentials_mode() == settings.SERVICE_ACCOUNT
        self.service_radio.setChecked(service)
        self.persistent_radio.setChecked(not service)
        self.auth_select.setConfigId(settings.ee_authcfg())
        self.url_edit.setText(settings.ee_url())
        self.cache_widget.setFilePath(settings.cache_dir())
        self.parallel_spin.setValue(settings.parallel_requests())
        self.status_label.clear()
        self._update_enabled()

    def validate(self) -> str:
        """'' when the form can be saved, else what to fix."""
        if self.credentials_mode() == settings.SERVICE_ACCOUNT and not self.authcfg():
            return self.tr("Choose the authentication configuration holding the service-account key, or import "
                           "the key file.")
        url = self.url_edit.text().strip()
        if url and not url.startswith(("https://", "http://")):
            return self.tr("The endpoint must be a URL starting with https://.")
        cache = self.cache_widget.filePath().strip()
        if cache and os.path.exists(cache) and not os.path.isdir(cache):
            return self.tr("The cache folder '{path}' is a file; choose a folder.").format(path=cache)
        return ""

    def save(self) -> bool:
        """Write the form to QgsSettings; False (with the reason shown) when a value is invalid."""
        problem = self.validate()
        self.status_label.setText(problem)
        if problem:
            return False
        settings.set_ee_project(self.project_edit.text())
        settings.set_ee_credentials_mode(self.credentials_mode())
        settings.set_ee_authcfg(self.authcfg())
        settings.set_ee_url(self.url_edit.text())
        settings.set_cache_dir(self.cache_widget.filePath())
        settings.set_parallel_requests(self.parallel_spin.value())
        return True

    def _update_enabled(self) -> None:
        service = self.service_radio.isChecked()
        self.key_box.setEnabled(service)
        self.persistent_help.setEnabled(not service)
        self.sign_in_box.setEnabled(not service)

    # -- service-account key ------------------------------------------------------------------------
    def _choose_key_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Service-account key"), os.path.expanduser("~"),
                                              self.tr("JSON key (*.json);;All files (*)"))
        if path:
            self.import_key_file(path, prompt=True)

    def import_key_file(self, path: str, prompt: bool = False) -> str:
        """Store the key file in the authentication database and select it; returns the config id ('' on error)."""
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            authcfg = settings.store_service_account_key(text, prompt=prompt)
        except (OSError, UnicodeDecodeError) as exc:
            self._show_result(False, self.tr("Cannot read {path}: {error}").format(path=path, error=exc))
            return ""
        except SmdError as exc:
            self._show_result(False, str(exc))
            return ""
        self.auth_select.setConfigId(authcfg)
        self.service_radio.setChecked(True)
        self._show_result(True, self.tr("Key stored in the QGIS authentication database (configuration {id}); "
                                        "the key file itself is no longer needed by QGIS.").format(id=authcfg))
        return authcfg

    # -- Google sign-in ------------------------------------------------------------------------------
    def is_signing_in(self) -> bool:
        return self._sign_in is not None

    def sign_in(self) -> None:
        """Start earthengine-api's sign-in: open Google's page in the browser and wait (in a background thread)
        for its answer on this computer's loopback; the credentials are then saved where Earth Engine reads them."""
        if self._sign_in is not None:
            return
        from ..processing_provider import dependencies

        missing = dependencies.missing_message(["ee"])
        if missing:
            self._show_result(False, missing)
            self.signedIn.emit(False, missing)
            return
        from ..algorithms.gee import auth

        try:
            flow = auth.SignIn()
        except (SmdError, OSError) as exc:
            self._show_result(False, str(exc))
            self.signedIn.emit(False, str(exc))
            return
        self._sign_in = flow
        self.destroyed.connect(flow.cancel)  # closing the settings stops the wait (and its loopback server)
        self.sign_in_button.setEnabled(False)
        self.cancel_sign_in_button.setVisible(True)
        self.sign_in_label.setText(self.tr(
            "Waiting for Google: finish the sign-in in your browser. If no browser page opened, open this address "
            "yourself:\n{url}").format(url=flow.url))
        self.sign_in_label.setVisible(True)
        self.result_label.clear()
        threading.Thread(target=self._wait_sign_in, args=(flow,), name="smdownscale-ee-sign-in", daemon=True).start()
        self.open_url(flow.url)

    def cancel_sign_in(self) -> None:
        """Stop a sign-in in progress (nothing is saved)."""
        if self._sign_in is not None:
            self._sign_in.cancel()

    def _wait_sign_in(self, flow: Any) -> None:
        from ..algorithms.errors import Canceled

        try:
            path = flow.wait()
            ok, message = True, self.tr("Signed in to Earth Engine; credentials saved in {path} for QGIS and "
                                        "qgis_process. Click 'Test connection' to check the project.").format(path=path)
        except Canceled:
            ok, message = False, self.tr("Sign-in canceled; nothing was saved.")
        except SmdError as exc:
            ok, message = False, str(exc)
        except Exception as exc:
            from ..algorithms.gee import auth

            ok, message = False, auth.redact(exc)
        try:
            self._signInDone.emit(flow, ok, message)
        except RuntimeError:  # the widget was closed meanwhile
            pass

    def _on_sign_in_done(self, flow: Any, ok: bool, message: str) -> None:
        if flow is not self._sign_in:
            return
        self._sign_in = None
        self.sign_in_button.setEnabled(True)
        self.cancel_sign_in_button.setVisible(False)
        self.sign_in_label.setVisible(False)
        if ok:
            self.persistent_radio.setChecked(True)
        self._show_result(ok, message)
        self.signedIn.emit(ok, message)

    # -- connection test ----------------------------------------------------------------------------
    def is_testing(self) -> bool:
        return self._testing

    def test_connection(self) -> None:
        """Check the values in the form (saved or not) against Earth Engine, in a background thread."""
        credentials: Any = None
        if self.credentials_mode() == settings.SERVICE_ACCOUNT:
            if not self.authcfg():
                self._show_result(False, self.tr("Choose or import a service-account key first."))
                self.connectionTested.emit(False, self.result_label.text())
                return
            try:
                credentials = settings.read_service_account_key(self.authcfg(), prompt=True)
            except SmdError as exc:
                self._show_result(False, str(exc))
                self.connectionTested.emit(False, str(exc))
                return
        self._generation += 1
        self._testing = True
        self.test_button.setEnabled(False)
        self.result_label.setStyleSheet("")
        self.result_label.setText(self.tr("Connecting to Earth Engine…"))
        args = (self._generation, self.project_edit.text().strip(), self.url_edit.text().strip(), credentials)
        threading.Thread(target=self._run_check, args=args, name="smdownscale-ee-test", daemon=True).start()

    def _run_check(self, generation: int, project: str, url: str, credentials: Any) -> None:
        from .connection import check_connection

        ok, message = check_connection(project, url or None, credentials)
        try:
            self._checkDone.emit(generation, ok, message)
        except RuntimeError:  # the widget was closed meanwhile
            pass

    def _on_check_done(self, generation: int, ok: bool, message: str) -> None:
        if generation != self._generation:
            return
        self._testing = False
        self.test_button.setEnabled(True)
        self._show_result(ok, message)
        self.connectionTested.emit(ok, message)

    def _show_result(self, ok: bool, message: str) -> None:
        self.result_label.setStyleSheet(OK_STYLE if ok else ERROR_STYLE)
        self.result_label.setText(message)


class SettingsDialog(QDialog):
    """The settings form with OK / Cancel / Help, opened from the plugin menu."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Soil moisture downscaling — settings"))
        self.setWindowIcon(plugin_icon())
        self.widget = SettingsWidget(self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.Help)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.helpRequested.connect(lambda: show_help())
        layout = QVBoxLayout(self)
        layout.addWidget(self.widget)
        layout.addWidget(buttons)
        self.resize(620, 520)

    def accept(self) -> None:
        if self.widget.save():
            super().accept()

    def done(self, result: int) -> None:
        self.widget.cancel_sign_in()
        super().done(result)


class SettingsOptionsPage(QgsOptionsPageWidget):
    """The same form as a page of Settings > Options; saved when the options dialog is accepted."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("smdownscaleOptions")
        self.widget = SettingsWidget(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.widget)

    def apply(self) -> None:
        self.widget.save()


class SettingsOptionsFactory(QgsOptionsWidgetFactory):
    """Adds the settings page to Settings > Options (below Processing where the dialog is a tree)."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle(QCoreApplication.translate("SettingsOptionsFactory", "Soil moisture downscaling"))

    def icon(self) -> QIcon:
        return plugin_icon()

    def path(self) -> list[str]:
        # The Processing page's own title, translated as the Processing plugin translates it.
        return [QCoreApplication.translate(PROCESSING_CONTEXT, "Processing")]

    def createWidget(self, parent: Optional[QWidget] = None) -> SettingsOptionsPage:
        return SettingsOptionsPage(parent)


def show_help(anchor: str = HELP_ANCHOR) -> None:
    """Open the README (at ``anchor``) in the browser."""
    url = HELP_URL.format(anchor=anchor)
    QDesktopServices.openUrl(QUrl(url.rstrip("#")))


def open_settings(parent: Optional[QWidget] = None) -> bool:
    """Show the settings dialog (modal); True when the user saved. GUI only."""
    dialog = SettingsDialog(parent)
    return dialog.exec() == QDialog.DialogCode.Accepted


__all__ = ["SettingsWidget", "SettingsDialog", "SettingsOptionsPage", "SettingsOptionsFactory", "open_settings"]
