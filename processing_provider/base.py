"""Shared base for the smdownscale Processing algorithms.

Gives ``tr()`` (class name as translation context), ``createInstance()``, icon, help URL, group ids,
the engine callbacks built from the feedback, the single mapping from engine errors to
``QgsProcessingException``, one-call parameter helpers (``add``) and the same-file rule for every destination.
How outputs look once loaded is ``layers.py``'s.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import threading
from typing import Any, Callable, Iterator

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterNumber,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELP_URL = "https://github.com/smdownscale/smdownscale#{anchor}"

GROUPS = {
    "data": "Data preparation",
    "model": "Factors and models",
    "validation": "Validation",
}


#: The dialog wrapper of inputs given one way among several (``widgets.ChoiceWrapper``), by import path:
#: Processing imports it when it builds a dialog, so loading the provider (qgis_process) needs no qgis.gui.
CHOICE_WRAPPER = f"{__package__}.widgets.ChoiceWrapper"
#: Its option holding the label's choice text.
CHOICE_KEY = "choice"
#: The dialog wrapper of a mandatory layer input whose picker starts empty (``widgets.StartsEmptyWrapper``).
STARTS_EMPTY_WRAPPER = f"{__package__}.widgets.StartsEmptyWrapper"
#: A driver or provider prefix before a path (``GTIFF_RAW:``, ``NETCDF:``, ``ogr:``); not a drive letter (``C:``).
_GDAL_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_]+:")


def tr(context: str, text: str) -> str:
    return QCoreApplication.translate(context, text)


def field_decimals(definition, least: int = 2, most: int = 6) -> int | None:
    """Decimals that show a number parameter's default and limits exactly (at least ``least``), or None
    (QGIS's own 6) when it has no default."""
    default = definition.defaultValue()
    if default is None or isinstance(default, bool):
        return None
    values = [default] + [v for v in (definition.minimum(), definition.maximum()) if abs(v) < 1e12]
    for decimals in range(least, most + 1):
        try:
            if all(abs(round(float(v), decimals) - float(v)) < 1e-9 for v in values):
                return decimals
        except (TypeError, ValueError):
            return None
    return most


class SmdAlgorithm(QgsProcessingAlgorithm):
    """Base class: subclasses set ``ALG_ID``, ``GROUP`` and ``HELP_ANCHOR`` and implement the rest."""

    ALG_ID = ""
    GROUP = "data"
    HELP_ANCHOR = ""

    def tr(self, text: str) -> str:
        return QCoreApplication.translate(type(self).__name__, text)

    def createInstance(self):
        return type(self)()

    def name(self) -> str:
        return self.ALG_ID

    def groupId(self) -> str:
        return self.GROUP

    def group(self) -> str:
        return QCoreApplication.translate("SmdAlgorithm", GROUPS[self.GROUP])

    def icon(self) -> QIcon:
        return QIcon(os.path.join(PLUGIN_DIR, "icons", "smdownscale.svg"))

    def helpUrl(self) -> str:
        return HELP_URL.format(anchor=self.HELP_ANCHOR or self.ALG_ID)

    #: Decimals shown in a number field, by parameter name, where the default and limits do not tell
    #: (e.g. a scale factor of 1 that users set to 0.0001).
    DECIMALS = {"SM_SCALE": 4, "REF_SCALE": 4, "LEARNING_RATE": 3, "SVR_GAMMA": 4}

    def add(self, definition, help_text: str, advanced: bool = False, choice: str | None = None):
        """Add one parameter with its help text beside it; ``advanced`` files it under Advanced parameters.

        ``initAlgorithm`` bodies are flat lists of these calls, in form order (as QGIS's own algorithms).
        Whether a parameter is optional is its constructor's ``optional=``. ``choice`` marks an optional
        input that is one way among several to give the data (the lists or a manifest): the dialog labels it
        "<description> [<choice>]" (e.g. "or a manifest") instead of QGIS's "[optional]" (``widgets.py``);
        an empty choice shows the description alone. Returns the definition.
        """
        definition.setHelp(help_text)
        if advanced:
            definition.setFlags(definition.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        if choice is not None:
            metadata = definition.metadata()
            metadata["widget_wrapper"] = {**(metadata.get("widget_wrapper") or {}),
                                          "class": CHOICE_WRAPPER, CHOICE_KEY: choice}
            definition.setMetadata(metadata)
        self.addParameter(definition)
        return definition

    def addParameter(self, definition, createOutput=True):  # noqa: N803 (QGIS API names)
        """As QGIS's, and a decimal field shows as many decimals as its values need (0.80, not 0.800000)."""
        if isinstance(definition, QgsProcessingParameterNumber) and \
                definition.dataType() == QgsProcessingParameterNumber.Type.Double:
            decimals = self.DECIMALS.get(definition.name(), field_decimals(definition))
            if decimals is not None:
                metadata = definition.metadata()
                wrapper = dict(metadata.get("widget_wrapper") or {})
                wrapper.setdefault("decimals", decimals)
                metadata["widget_wrapper"] = wrapper
                definition.setMetadata(metadata)
        return super().addParameter(definition, createOutput)

    def checkParameterValues(self, parameters, context):
        """QGIS's checks; when a raster given by path fails them, the engine's message naming the problem.

        A number parameter given as NaN or infinity, an unknown parameter name and a raster given as a GDAL virtual
        path are refused first, whatever QGIS makes of them.
        """
        first = (self._not_finite_number(parameters) or self._fractional_whole_number(parameters)
                 or self._unknown_parameter(parameters) or self._unloadable_layer_text(parameters, context))
        if first:
            return False, first
        ok, msg = super().checkParameterValues(parameters, context)
        if not ok:
            return False, (self._unopenable_raster(parameters) or self._missing_value(parameters)
                           or self._bad_destination_name(parameters)
                           or self._unacceptable_value(parameters, context) or msg)
        # an output naming an input first (the worse mistake), then one naming a folder or another file type
        clash = self._destination_clash(parameters, context) or self._bad_destination_name(parameters)
        if clash:
            return False, clash
        return ok, msg

    def prepareAlgorithm(self, parameters, context, feedback):
        """Runs before every execution, also as a step of a model, where QGIS does not call
        checkParameterValues: the file-name and same-file rules must hold there too."""
        clash = self._destination_clash(parameters, context) or self._bad_destination_name(parameters)
        if clash:
            raise QgsProcessingException(clash)
        return True

    # -- destinations name files of the type written -------------------------------------------
    #: What a file destination holds, by the extension its file filter names (messages say "a CSV file").
    FILE_KINDS = {"csv": "CSV", "html": "HTML", "json": "JSON", "smdmodel": "smdownscale model"}

    def _bad_destination_name(self, parameters) -> str | None:
        """A message when a file destination names a folder, or a file type other than the one written."""
        from qgis.core import (
            QgsProcessingParameterFileDestination,
            QgsProcessingParameterFolderDestination,
            QgsProcessingParameterRasterDestination,
        )

        from ..algorithms.errors import InputError
        from ..algorithms.paths import GEOTIFF, check_file_name
        from ..algorithms.raster import check_plain_path

        for definition in self.destinationParameterDefinitions():
            path = _destination_path(parameters.get(definition.name()))
            if not path:
                continue  # a temporary output, or a provider's URI (memory:, ogr:): QGIS says what it makes of it
            try:
                check_plain_path(path)
            except InputError as exc:
                return str(exc)
            if isinstance(definition, QgsProcessingParameterFolderDestination):
                if os.path.isfile(path):
                    return self.tr("The output folder {} ({}) is a file; choose a folder (a new name creates it); "
                                   "nothing was written.").format(self._label(definition.name()), path)
                continue
            if isinstance(definition, QgsProcessingParameterRasterDestination):
                extensions, kind = GEOTIFF
            elif isinstance(definition, QgsProcessingParameterFileDestination):
                extensions = [e.lower() for e in re.findall(r"\*\.([A-Za-z0-9]+)", definition.fileFilter())]
                if not extensions:
                    continue
                if "html" in extensions:
                    extensions.append("htm")
                kind = self.FILE_KINDS.get(extensions[0], extensions[0].upper())
                if not os.path.splitext(os.path.basename(path))[1] and not path.endswith(("/", os.sep)):
                    continue  # QGIS adds the extension
            else:
                continue
            try:
                check_file_name(self._label(definition.name()), path, extensions, kind)
            except InputError as exc:
                return str(exc)
        return None

    # -- values QGIS refuses, explained ----------------------------------------------------------
    def _unacceptable_value(self, parameters, context) -> str | None:
        """What is wrong with the first value QGIS refuses (a number out of range or not a number, a choice
        index past the list, a file of another type, a layer QGIS cannot load), or None."""
        from qgis.core import (
            QgsProcessingParameterEnum,
            QgsProcessingParameterFile,
            QgsProcessingParameterMultipleLayers,
        )

        for definition in self.parameterDefinitions():
            name = definition.name()
            label = f"'{definition.description()}' ({name})"
            if definition.isDestination():
                if parameters.get(name) in (None, "") and not definition.checkValueIsAcceptable(
                        parameters.get(name), context):
                    return self.tr("No value for {}; give a file or folder name.").format(label)
                continue
            if name not in parameters or parameters[name] is None:
                continue
            value = parameters[name]
            if definition.checkValueIsAcceptable(value, context):
                continue
            if isinstance(definition, QgsProcessingParameterNumber):
                return self._number_problem(definition, label, value)
            if isinstance(definition, QgsProcessingParameterEnum):
                return self._choice_problem(definition, label, value)
            if isinstance(definition, QgsProcessingParameterFile):
                extensions = [definition.extension()] if definition.extension() else \
                    re.findall(r"\*\.([A-Za-z0-9]+)", definition.fileFilter())
                if extensions:
                    wanted = ", ".join(f".{e}" for e in extensions)
                    return self.tr("{} is {}, not a {} file; give a {} file.").format(label, value, wanted, wanted)
            if isinstance(definition, QgsProcessingParameterMultipleLayers) or definition.type() in (
                    "raster", "vector", "source", "layer"):
                items = value if isinstance(value, (list, tuple)) else [value]
                for item in items:
                    if isinstance(item, str) and not self._loads(item, context):
                        return self._unloadable_message(label, item)
        return None

    def _fractional_whole_number(self, parameters) -> str | None:
        """A message for a whole-number parameter given a fraction (QGIS would round 2.5 trees to 3 silently)."""
        for definition in self.parameterDefinitions():
            if not isinstance(definition, QgsProcessingParameterNumber) \
                    or definition.dataType() != QgsProcessingParameterNumber.Type.Integer:
                continue
            value = parameters.get(definition.name())
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                continue
            try:
                number = float(value.strip()) if isinstance(value, str) else float(value)
            except ValueError:
                continue  # not a number at all: QGIS's check and _number_problem say so
            if math.isfinite(number) and not number.is_integer():
                return self._number_problem(definition, f"'{definition.description()}' ({definition.name()})", value)
        return None

    def _number_problem(self, definition, label: str, value) -> str | None:
        try:
            number = float(str(value).strip()) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            return self.tr("{} must be a number; got '{}'.").format(label, value)
        low, high = definition.minimum(), definition.maximum()
        whole = definition.dataType() == QgsProcessingParameterNumber.Type.Integer
        shown = [f"{int(b)}" if whole or float(b).is_integer() else f"{b:g}" for b in (low, high)]
        if number < low and abs(high) < 1e300:
            return self.tr("{} is {}; give a value from {} to {}.").format(label, value, shown[0], shown[1])
        if number < low:
            return self.tr("{} is {}; give a value of at least {}.").format(label, value, shown[0])
        if number > high:
            return self.tr("{} is {}; give a value of at most {}.").format(label, value, shown[1])
        if whole and not number.is_integer():
            return self.tr("{} is {}; give a whole number.").format(label, value)
        return None

    def _choice_problem(self, definition, label: str, value) -> str:
        options = definition.options()
        listed = "; ".join(f"{k} = {o}" for k, o in enumerate(options))
        return self.tr("{} is {}, which is not one of its choices; give one of: {}.").format(
            label, value if not isinstance(value, (list, tuple)) else ",".join(str(v) for v in value), listed)

    @staticmethod
    def _loads(text: str, context) -> bool:
        from qgis.core import QgsProcessingUtils

        return QgsProcessingUtils.mapLayerFromString(text, context) is not None

    def _unloadable_message(self, label: str, text: str) -> str:
        if text.lower().startswith("/vsi") or _GDAL_PREFIX.match(text):
            return self.tr("{}: QGIS cannot load {} given as text (a file inside an archive, or a GDAL driver "
                           "prefix); extract the raster to a GeoTIFF file (e.g. unzip it, or Export > Save As in "
                           "QGIS) and give that file.").format(label, text)
        return self.tr("{}: QGIS cannot load {} as a layer; give the path of a raster file (e.g. a GeoTIFF).").format(
            label, text)

    def _unloadable_layer_text(self, parameters, context) -> str | None:
        """A message for a raster given as a GDAL string: ``/vsizip/...`` and other virtual paths always (GDAL can
        write statistics into the archive it reads, so an input would change), ``GTIFF_RAW:...`` where this QGIS
        cannot load it (QGIS's own error would call the file missing); for a file parameter (model, manifest,
        station file) given as a virtual path, which the engine would call missing."""
        from qgis.core import (
            QgsProcessingParameterFile,
            QgsProcessingParameterMultipleLayers,
            QgsProcessingParameterRasterLayer,
        )

        for definition in self.parameterDefinitions():
            value = parameters.get(definition.name())
            label = f"'{definition.description()}' ({definition.name()})"
            if isinstance(definition, QgsProcessingParameterFile) and isinstance(value, str) \
                    and value.strip().lower().startswith("/vsi"):  # a model, manifest or station file in a zip
                return self.tr("{}: {} is a file inside an archive or a GDAL virtual path; smdownscale reads files "
                               "on disk only. Extract it (e.g. unzip the archive) and give the extracted file or "
                               "folder.").format(label, value.strip())
            if not isinstance(definition, (QgsProcessingParameterRasterLayer, QgsProcessingParameterMultipleLayers)):
                continue
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, str) and item.lower().startswith("/vsi"):
                    return self.tr("{}: {} is a file inside an archive or a GDAL virtual path; smdownscale reads "
                                   "rasters from files on disk only (reading through an archive can write into it). "
                                   "Extract the raster to a GeoTIFF file (e.g. unzip it, or Export > Save As in QGIS) "
                                   "and give that file.").format(label, item)
                if isinstance(definition, QgsProcessingParameterRasterLayer) and isinstance(item, str) \
                        and _GDAL_PREFIX.match(item) and not self._loads(item, context):
                    return self._unloadable_message(label, item)
        return None

    # -- outputs never replace inputs ---------------------------------------------------------
    def folder_output(self, name: str, folder: str, parameters, context):
        """What the folder destination ``name`` receives (a ``paths.FolderOutput``); override per algorithm."""
        from ..algorithms.paths import FolderOutput

        return FolderOutput(folder)

    def extra_inputs(self, parameters, context) -> dict[str, list[str]]:
        """Input files not given directly as parameters (e.g. the files a manifest names), by label."""
        manifest = parameters.get("MANIFEST")
        if not manifest or not any(d.name() == "MANIFEST" for d in self.parameterDefinitions()):
            return {}
        from ..algorithms.errors import SmdError
        from ..algorithms.manifest import manifest_inputs

        path = self.parameterAsFile(parameters, "MANIFEST", context)
        try:
            sm, stacks = manifest_inputs(path)
        except (SmdError, OSError, ValueError):
            return {}  # the run itself reports what is wrong with the manifest
        label = self._label("MANIFEST")
        return {label: [p for p in list(sm) + list(stacks) if p]}

    def _label(self, name: str) -> str:
        definition = self.parameterDefinition(name)
        return f"'{definition.description()}' ({name})" if definition is not None else name

    def _layer_sources(self, raw, context) -> list[str]:
        """File paths behind a layer parameter's value (paths kept as given; layers by their source)."""
        from qgis.core import QgsMapLayer, QgsProcessingUtils

        items = raw if isinstance(raw, (list, tuple)) else [raw]
        out = []
        for item in items:
            if item is None or item == "":
                continue
            if isinstance(item, QgsMapLayer):
                out.append(item.source())
                continue
            text = str(item)
            if os.path.exists(text.split("|", 1)[0]):
                out.append(text)
                continue
            layer = QgsProcessingUtils.mapLayerFromString(text, context)
            out.append(layer.source() if layer is not None else text)
        return out

    def destinations_and_inputs(self, parameters, context) -> tuple[dict, dict]:
        """Every file destination (and folder destination) and every input file of a run, by label."""
        from qgis.core import (
            QgsProcessingParameterFile,
            QgsProcessingParameterFolderDestination,
        )

        from ..algorithms.paths import folder_files

        outputs: dict = {}
        inputs: dict = {}
        for definition in self.parameterDefinitions():
            name = definition.name()
            raw = parameters.get(name)
            if raw is None or raw == "" or raw == []:
                continue
            label = self._label(name)
            if definition.isDestination():
                path = _destination_path(raw)
                if not path:
                    continue
                if isinstance(definition, QgsProcessingParameterFolderDestination):
                    outputs[label] = self.folder_output(name, path, parameters, context)
                else:
                    outputs[label] = path
            elif isinstance(definition, QgsProcessingParameterFile):
                path = self.parameterAsFile(parameters, name, context)
                if path and definition.behavior() == QgsProcessingParameterFile.Behavior.Folder:
                    inputs[label] = folder_files(path)
                elif path:
                    inputs[label] = [path]
            elif definition.type() in ("raster", "multilayer", "source", "vector", "layer"):
                inputs[label] = self._layer_sources(raw, context)
        for label, paths in self.extra_inputs(parameters, context).items():
            inputs.setdefault(label, []).extend(paths)
        return outputs, inputs

    def _destination_clash(self, parameters, context) -> str | None:
        """The message when an output would replace an input (or another output), else None."""
        from ..algorithms.errors import InputError
        from ..algorithms.paths import check_apart

        outputs, inputs = self.destinations_and_inputs(parameters, context)
        try:
            check_apart(outputs, inputs)
        except InputError as exc:
            return str(exc)
        return None

    def _unknown_parameter(self, parameters) -> str | None:
        """A message naming a parameter the algorithm does not have (a typo in a script: QGIS would ignore it and
        run with the default), or None."""
        import difflib

        known = [d.name() for d in self.parameterDefinitions()]
        outputs = {o.name() for o in self.outputDefinitions()}
        for name in parameters:
            if not isinstance(name, str) or name in known or name in outputs:
                continue
            guess = next(iter(difflib.get_close_matches(name.upper(), known, 1, 0.6)), None)
            if guess:
                text = self.tr("Unknown parameter {} (did you mean {}?) for smdownscale:{}; its parameters are {}. An "
                               "unknown name would be ignored and the default used instead: correct its spelling.")
                return text.format(name, guess, self.name(), ", ".join(known))
            return self.tr("Unknown parameter {} for smdownscale:{}; its parameters are {}. An unknown name would be "
                           "ignored and the default used instead: correct its spelling.").format(
                name, self.name(), ", ".join(known))
        return None

    def _not_finite_number(self, parameters) -> str | None:
        """A message naming the first number parameter whose value is NaN or infinite, or None."""
        for definition in self.parameterDefinitions():
            if not isinstance(definition, QgsProcessingParameterNumber):
                continue
            value = parameters.get(definition.name())
            if isinstance(value, str):  # qgis_process and scripts may pass text: 'nan', 'inf', '-Infinity'
                try:
                    value = float(value.strip())
                except ValueError:
                    continue
            if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isfinite(value):
                continue
            if math.isnan(value):
                return self.tr("'{}' ({}) is not a number (nan); give a finite value.").format(
                    definition.description(), definition.name())
            return self.tr("'{}' ({}) is infinite ({}); give a finite value.").format(
                definition.description(), definition.name(), "inf" if value > 0 else "-inf")
        return None

    def _missing_value(self, parameters) -> str | None:
        """A message naming the first mandatory input parameter left empty, or None."""

        for definition in self.parameterDefinitions():
            if definition.flags() & QgsProcessingParameterDefinition.Flag.FlagOptional or definition.isDestination():
                continue
            value = parameters.get(definition.name(), definition.defaultValue())
            empty = value is None or (hasattr(value, "isNull") and value.isNull())  # NULL QVariant from qgis_process
            if empty or (isinstance(value, (str, list, tuple)) and not value):
                return self.tr("No value for '{}' ({}); give one.").format(definition.description(),
                                                                           definition.name())
        return None

    def _unopenable_raster(self, parameters) -> str | None:
        """Why the first raster file given by path cannot be opened (missing, unreadable, not a raster), or None."""
        from qgis.core import QgsProcessing, QgsProcessingParameterMultipleLayers, QgsProcessingParameterRasterLayer

        from ..algorithms.errors import InputError
        from ..algorithms.raster import open_raster

        for definition in self.parameterDefinitions():
            if not isinstance(definition, QgsProcessingParameterRasterLayer) and not (
                    isinstance(definition, QgsProcessingParameterMultipleLayers)
                    and definition.layerType() == QgsProcessing.SourceType.TypeRaster):
                continue
            raw = parameters.get(definition.name())
            for value in raw if isinstance(raw, (list, tuple)) else [raw]:
                if isinstance(value, str) and ("/" in value or os.sep in value or "." in value
                                               or os.path.isdir(value)):  # a folder named without a '/'
                    joined = self._joined_paths(definition, value)
                    if joined:
                        return joined
                    try:
                        open_raster(value)
                    except InputError as exc:
                        return str(exc)
        return None

    def _joined_paths(self, definition, value: str) -> str | None:
        """A message when one value holds several existing files joined by ',' or ';' (one --NAME= for all)."""
        for sep in (";", ","):
            parts = [p.strip() for p in value.split(sep)]
            if len(parts) > 1 and not os.path.exists(value) and all(p and os.path.isfile(p) for p in parts):
                text = self.tr("'{}' ({}) holds {} file paths joined by '{}' in one value; give each file as its own "
                               "value: in qgis_process repeat --{}=<file> once per file, in Python pass a list.")
                return text.format(definition.description(), definition.name(), len(parts), sep, definition.name())
        return None

    # -- engine glue -------------------------------------------------------------------------
    @staticmethod
    def callbacks(feedback) -> tuple[Callable[[float], None], Callable[[], bool]]:
        """``progress(fraction)`` and ``is_canceled()`` for the engine, bound to the feedback; SIGTERM received
        during :meth:`run_engine` cancels too."""
        if feedback is None:
            return (lambda f: None), (lambda: bool(_STOP_SIGNALS))
        return ((lambda f: feedback.setProgress(100.0 * max(0.0, min(1.0, f)))),
                (lambda: bool(_STOP_SIGNALS) or feedback.isCanceled()))

    def run_engine(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call an engine function, turning engine errors into QgsProcessingException.

        GDAL raises exceptions only during the call (the modes other plugins see are restored after).
        """
        from ..algorithms.errors import Canceled, SmdError
        from ..algorithms.i18n import translate, translating
        from ..algorithms.raster import gdal_exceptions

        # log lines the engine emits through the feedback reach the user in QGIS's language
        kwargs = {k: translating(v) if isinstance(getattr(v, "__self__", None), QgsProcessingFeedback)
                  and getattr(v, "__name__", "") in FEEDBACK_TEXT_METHODS else v for k, v in kwargs.items()}
        try:
            with stop_signals_cancel(), gdal_exceptions():
                return func(*args, **kwargs)
        except Canceled as exc:
            if _STOP_SIGNALS:
                raise QgsProcessingException(self.tr(
                    "Stopped by {}: the run was canceled and no output was written; files already at the output "
                    "paths are unchanged.").format(signal.Signals(_STOP_SIGNALS[0]).name)) from exc
            raise QgsProcessingException(self.tr("Canceled: no output was written.")) from exc
        except SmdError as exc:
            raise QgsProcessingException(translate(exc)) from exc
        except MemoryError as exc:
            raise QgsProcessingException(self.tr(
                "Out of memory; process a smaller extent or close other programs.")) from exc


#: Stop signals received during an engine call: schedulers (systemd, cron wrappers, timeout) stop qgis_process
#: with SIGTERM, which would kill it mid-write; the engine sees it as a cancel and removes its temporary files.
#: Kept for the rest of the process: a later engine call (the next algorithm of a model) is canceled at its first
#: check. (qgis_process itself turns SIGINT, Ctrl+C, into a cancel.)
_STOP_SIGNALS: list[int] = []
_HANDLED = (signal.SIGTERM,)


@contextlib.contextmanager
def stop_signals_cancel() -> Iterator[None]:
    """While an engine call runs in qgis_process, SIGTERM cancels it instead of killing the process mid-write;
    a second SIGTERM stops at once. Only the default disposition is replaced (never a handler or an ignore set
    by someone else), and restored after; the signals received stay in ``_STOP_SIGNALS`` for the message and for
    any later engine call, which is canceled too. A signal after the engine's last cancel check lets that run end
    with its outputs complete. QGIS Desktop keeps its own handling (a terminated QGIS must not carry on)."""
    from qgis.core import QgsApplication

    if QgsApplication.platform() != "qgis_process" or threading.current_thread() is not threading.main_thread() \
            or _INSTALLED:
        yield
        return
    replaced: list[int] = []

    def handler(signum, frame) -> None:
        if _STOP_SIGNALS:  # asked twice: stop now, as without this handler
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        _STOP_SIGNALS.append(signum)

    try:
        for sig in _HANDLED:
            if signal.getsignal(sig) is signal.SIG_DFL:
                signal.signal(sig, handler)
                replaced.append(sig)
    except (ValueError, OSError):  # not the interpreter's main thread after all: signals stay as they were
        for sig in replaced:
            signal.signal(sig, signal.SIG_DFL)
        replaced.clear()
    _INSTALLED.append(True)
    try:
        yield
    finally:
        for sig in replaced:
            signal.signal(sig, signal.SIG_DFL)
        _INSTALLED.clear()


_INSTALLED: list[bool] = []


#: QgsProcessingFeedback methods taking a text the user reads (translated when the engine is given them).
FEEDBACK_TEXT_METHODS = ("pushInfo", "pushWarning", "reportError", "pushDebugInfo", "pushCommandInfo",
                         "pushConsoleInfo", "pushFormattedMessage", "setProgressText")


def _destination_path(raw) -> str | None:
    """The file a destination value names, read without side effects (``parameterAsOutputLayer`` would
    register a layer to load); None for a temporary output, which can never be an input."""
    from qgis.core import QgsProcessing, QgsProcessingOutputLayerDefinition, QgsProperty

    value = raw
    if isinstance(value, QgsProcessingOutputLayerDefinition):
        value = value.sink
    if isinstance(value, QgsProperty):
        value = value.staticValue() if value.propertyType() == QgsProperty.Type.StaticProperty else None
    if value is None:
        return None
    text = str(value).strip()
    if not text or text == QgsProcessing.TEMPORARY_OUTPUT:
        return None
    if text.startswith(("memory:", "ogr:", "postgres:", "postgis:")):
        return None
    return text


__all__ = ["SmdAlgorithm", "tr"]
