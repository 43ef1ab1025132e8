"""The Qt6/QGIS 4 readiness check flags bad Qt usage and passes the plugin."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "lint_qt.py")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import lint_qt  # noqa: E402

BAD = (  # the first two lines are built so that no line of this file is itself a direct PyQt import
    "from PyQt5.QtCore import Qt\n"
    "import PyQt6.QtWidgets\n"
) + '''\
import sip
from qgis.PyQt.QtWidgets import QMessageBox
from qgis.core import QgsProcessing, QgsProcessingParameterNumber, Qgis

label.setAlignment(Qt.AlignLeft | Qt.AlignmentFlag.AlignTop)
if QMessageBox.question(None, "t", "q") == QMessageBox.Yes:
    pass
p = QgsProcessingParameterNumber("N", "n", QgsProcessingParameterNumber.Double)
types = [QgsProcessing.TypeVectorPoint, QgsProcessing.SourceType.TypeVectorLine]
out = QgsProcessing.TEMPORARY_OUTPUT
dialog.exec_()
dialog.exec()
bar.pushMessage("x", level=Qgis.Info)
'''

EXPECTED = [
    "1: from PyQt5.QtCore import ...: import Qt through qgis.PyQt instead",
    "2: import PyQt6.QtWidgets: import Qt through qgis.PyQt instead",
    "3: import sip: import Qt through qgis.PyQt.sip instead",
    "7: Qt.AlignLeft: use the fully qualified Qt.AlignmentFlag.AlignLeft",
    "8: QMessageBox.Yes: use the fully qualified QMessageBox.StandardButton.Yes",
    "10: QgsProcessingParameterNumber.Double: use the fully qualified QgsProcessingParameterNumber.Type.Double",
    "11: QgsProcessing.TypeVectorPoint: use the fully qualified QgsProcessing.SourceType.TypeVectorPoint",
    "13: exec_(): use exec() (exec_ is gone in PyQt6)",
    "15: Qgis.Info: use the fully qualified Qgis.MessageLevel.Info",
]


def test_bad_snippet_flagged_with_builtin_table():
    found = [f"{f.line}: {f.message}" for f in lint_qt.check_source(BAD, "bad.py")]
    assert found == EXPECTED


def test_bad_snippet_flagged_through_the_command_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(BAD)
    proc = subprocess.run([sys.executable, SCRIPT, str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    lines = [ln.split(":", 1)[1] for ln in proc.stdout.splitlines() if ln.startswith(str(bad))]
    assert [ln.strip() for ln in lines] == EXPECTED
    assert "9 Qt6/QGIS 4 readiness problem(s) in 1 files" in proc.stdout


def test_good_code_passes():
    good = BAD.replace("from PyQt5.QtCore", "from qgis.PyQt.QtCore").replace("import PyQt6.QtWidgets\n", "") \
        .replace("import sip\n", "from qgis.PyQt import sip\n").replace("Qt.AlignLeft", "Qt.AlignmentFlag.AlignLeft") \
        .replace("QMessageBox.Yes", "QMessageBox.StandardButton.Yes").replace(".Double", ".Type.Double") \
        .replace("QgsProcessing.TypeVectorPoint", "QgsProcessing.SourceType.TypeVectorPoint") \
        .replace("exec_()", "exec()").replace("Qgis.Info", "Qgis.MessageLevel.Info")
    assert lint_qt.check_source(good, "good.py") == []


def test_repository_passes():
    proc = subprocess.run([sys.executable, SCRIPT], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout
    assert "files OK" in proc.stdout
    files = lint_qt.plugin_files(ROOT)
    rel = {os.path.relpath(f, ROOT) for f in files}
    assert {"plugin.py", "processing_provider/base.py", "ui/settings_dialog.py"} <= rel
    assert not [r for r in rel if r.startswith(("tests", "scripts", "bench", ".venv"))]
