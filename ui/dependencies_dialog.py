"""Check dependencies…: which optional Python packages import, and a one-time install into the user's site-packages.

Nothing is installed unless the user presses the install button here.
"""

from __future__ import annotations

import threading
from typing import Optional

from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..algorithms import native
from ..algorithms.i18n import translate
from ..processing_provider import dependencies
from .settings_dialog import plugin_icon


class DependenciesDialog(QDialog):
    """Table of the packages, their versions, and an "Install missing packages" button."""

    installFinished = pyqtSignal(bool, str)
    _installDone = pyqtSignal(bool, str)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Soil moisture downscaling — dependencies"))
        self.setWindowIcon(plugin_icon())
        self._installing = False

        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels([self.tr("Package"), self.tr("Module"), self.tr("Needed for"),
                                              self.tr("Installed")])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # the long "Needed for" texts take the room that is left (elided, full text in the tooltip), so the
        # status column is never cut off
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.native_label = QLabel()
        self.native_label.setWordWrap(True)
        self.native_label.setTextFormat(Qt.TextFormat.PlainText)
        self.native_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setVisible(False)

        self.install_button = QPushButton(self.tr("Install missing packages"))
        self.install_button.setToolTip(self.tr(
            "Runs pip install --user once for the missing packages, keeping the numpy and GDAL that QGIS uses."))
        self.install_button.clicked.connect(self.install_missing)
        self.build_button = QPushButton(self.tr("Build compiled tree walker"))
        self.build_button.setToolTip(self.tr(
            "Compiles the plugin's small C tree walker with this computer's C compiler: random forests, extra "
            "trees and CART then predict several times faster, with the same values."))
        self.build_button.clicked.connect(self.build_native)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.install_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.build_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.summary)
        layout.addWidget(self.native_label)
        layout.addWidget(self.output)
        layout.addWidget(buttons)
        self._installDone.connect(self._on_install_done)
        self.resize(680, 420)
        self.refresh()

    def refresh(self) -> list[str]:
        """Re-check every package; returns the missing module names."""
        deps = list(dependencies.DEPENDENCIES.values())
        self.table.setRowCount(len(deps))
        absent = []
        for row, dep in enumerate(deps):
            version, reason = dependencies.module_status(dep.module)
            if version is None:
                absent.append(dep.module)
            # the status cell stays short (the column is never cut); why a module is missing is in its tooltip
            purpose = self.tr(dep.purpose)  # listed in processing_provider/i18n.EXTRA_MESSAGES
            cells = [(dep.dist, dep.dist), (dep.module, dep.module), (purpose, purpose),
                     (version, version) if version is not None else
                     (self.tr("missing"), self.tr("missing ({reason})").format(reason=reason))]
            for col, (text, tip) in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                self.table.setItem(row, col, item)
        if absent:
            self.summary.setText(self.tr(
                "Missing: {names}. Press \"Install missing packages\" to install them for your user account only "
                "(QGIS's numpy and GDAL stay as they are), or run this command yourself and restart QGIS:\n"
                "{command}").format(names=", ".join(dependencies.DEPENDENCIES[m].dist for m in absent),
                                    command=dependencies.install_command(absent)))
        else:
            self.summary.setText(self.tr("Every package the algorithms need is installed (Python: {python}).")
                                 .format(python=dependencies.python_executable()))
        self.install_button.setEnabled(bool(absent) and not self._installing)
        self._refresh_native()
        return absent

    def _refresh_native(self) -> None:
        compiler = native.find_compiler()
        if native.available():
            self.native_label.setText(self.tr("Tree models (random forest, extra trees, CART, gradient boosting) "
                                              "predict with the compiled tree walker, SVR with its compiled kernel: "
                                              "the same values as scikit-learn, faster."))
        else:
            self.native_label.setText(self.tr(
                "Tree models predict with scikit-learn: the compiled tree walker is {why}. C compiler: {compiler}.")
                .format(why=translate(native.status()), compiler=compiler or self.tr("none found")))
        self.build_button.setEnabled(not native.available() and compiler is not None and not native.switched_off())

    def build_native(self) -> None:
        """Compile the tree walker into the plugin folder (about a second)."""
        self.build_button.setEnabled(False)
        ok, message = native.build()
        self.output.setVisible(True)
        head = self.tr("Built: tree models now predict with the compiled tree walker.") if ok else \
            self.tr("The build failed:")
        self.output.setPlainText(head + "\n\n" + message)
        self._refresh_native()

    def install_missing(self) -> None:
        absent = dependencies.missing()
        if not absent or self._installing:
            return
        self._installing = True
        self.install_button.setEnabled(False)
        self.output.setVisible(True)
        self.output.setPlainText(self.tr("Installing {packages} … this can take a few minutes.").format(
            packages=", ".join(dependencies.requirements_for(absent))))
        packages = dependencies.requirements_for(absent)
        threading.Thread(target=self._run_install, args=(packages,), name="smdownscale-pip", daemon=True).start()

    def _run_install(self, packages: list[str]) -> None:
        ok, output = dependencies.install_user(packages)
        try:
            self._installDone.emit(ok, output)
        except RuntimeError:  # dialog closed meanwhile
            pass

    def _on_install_done(self, ok: bool, output: str) -> None:
        self._installing = False
        still = self.refresh()
        if ok and not still:
            head = self.tr("Installed. The algorithms can use the new packages now.")
        elif ok:
            head = self.tr("Installed; restart QGIS so that the new packages are found.")
        else:
            head = self.tr("The installation failed; pip said:")
        self.output.setPlainText(head + "\n\n" + output)
        self.installFinished.emit(ok, output)

    def reject(self) -> None:
        if not self._installing:
            super().reject()


def open_dependencies(parent: Optional[QWidget] = None) -> None:
    """Show the dependency check (modal). GUI only."""
    DependenciesDialog(parent).exec()
