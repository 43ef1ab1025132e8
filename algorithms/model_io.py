"""Model files: a skops archive holding ``{"meta": {...}, "estimator": <scikit-learn estimator>}``.

Loading never runs code from the file before it has been checked: the archive's schema is read as
plain JSON, every type it names (and every skops node kind) is compared against an explicit
allowlist, the metadata (format, versions) is checked, and only then is the file loaded with skops,
trusting exactly the allowlisted types it contains. Pickle files and anything else are refused.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from typing import Any, Callable, Iterator

import numpy as np

from .errors import ModelFileError
from .raster import atomic_path

FORMAT = "smdownscale-model"
FORMAT_VERSION = 1
#: Metadata of the factors' training values that downscale checks a stack against (a file without them, written before,
#: is not checked): the factor stacks' resolution (:func:`.raster.resolution_record`) ...
FINE_RESOLUTION_META = "fine_resolution"
#: ... and the 1st, 50th and 99th percentiles of each continuous factor (:func:`.units.check_factor_scale`).
FACTOR_SUMMARY_META = "factor_percentiles"

_HINT = "Choose a .smdmodel file written by smdownscale:train."
_MAX_SCHEMA_BYTES = 256 * 2**20

#: Every (module, class) a model file may name. Found by saving each supported model with skops
#: 0.11 / scikit-learn 1.9 and listing the types in its schema (see tests/unit/test_model_io.py).
ALLOWED_TYPES: frozenset[tuple[str, str]] = frozenset({
    # containers and JSON values (the metadata, estimator parameters)
    ("builtins", "dict"), ("builtins", "list"), ("builtins", "tuple"), ("builtins", "str"),
    ("builtins", "int"), ("builtins", "float"), ("builtins", "bool"), ("builtins", "NoneType"),
    # numpy arrays and scalars (arrays are stored as .npy and read with allow_pickle=False)
    ("numpy", "ndarray"), ("numpy", "float64"), ("numpy", "float32"), ("numpy", "int64"),
    ("numpy", "int32"), ("numpy", "intp"), ("numpy", "bool_"), ("numpy", "uint8"),
    ("numpy.random.mtrand", "RandomState"),
    # estimators
    ("sklearn.ensemble._forest", "RandomForestRegressor"),
    ("sklearn.ensemble._forest", "ExtraTreesRegressor"),
    ("sklearn.ensemble._gb", "GradientBoostingRegressor"),
    ("sklearn.tree._classes", "DecisionTreeRegressor"),
    ("sklearn.tree._classes", "ExtraTreeRegressor"),
    ("sklearn.svm._classes", "SVR"),
    ("sklearn.pipeline", "Pipeline"),
    ("sklearn.preprocessing._data", "StandardScaler"),
    ("sklearn.dummy", "DummyRegressor"),
    ("sklearn.ensemble._hist_gradient_boosting.gradient_boosting", "HistGradientBoostingRegressor"),
    # the 'linear_gbr' hybrid: ridge trend + histogram boosting (hybrid.py; the module path of the plugin package)
    ("smdownscale.algorithms.hybrid", "LinearBoostRegressor"),
    # model files written before it: GradientBoostingRegressor with Pipeline(StandardScaler, Ridge) as its init
    ("sklearn.linear_model._ridge", "Ridge"),
    # their internals
    ("sklearn.tree._tree", "Tree"),
    ("sklearn.ensemble._hist_gradient_boosting.binning", "_BinMapper"),
    ("sklearn.ensemble._hist_gradient_boosting.predictor", "TreePredictor"),
    ("numpy", "uint64"),
    ("sklearn._loss._loss", "CyHalfSquaredError"),
    ("sklearn._loss.loss", "HalfSquaredError"),
    ("sklearn._loss.link", "IdentityLink"),
    ("sklearn._loss.link", "Interval"),
})

#: skops node kinds that rebuild the allowed types; FunctionNode, MethodNode, ReduceNode, ... are refused.
ALLOWED_LOADERS: frozenset[str] = frozenset({
    "DictNode", "ListNode", "TupleNode", "JsonNode", "TypeNode", "NdArrayNode", "ObjectNode", "TreeNode",
    "CachedNode", "RandomStateNode", "LossNode",
})


def jsonable(value: Any) -> Any:
    """A copy of ``value`` made of JSON types only (numpy scalars/arrays and tuples converted).

    Parameters
    ----------
    value : Any
        Metadata: dicts, lists, tuples, numpy scalars and arrays, JSON scalars.

    Returns
    -------
    Any
        The same content as dicts, lists and JSON scalars (non-finite floats kept as they are).

    Raises
    ------
    TypeError
        ``value`` holds something that is not a JSON type, numpy scalar or array.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"model metadata must hold JSON types only, got {type(value).__name__}")


def save_model(path: str, estimator: Any, meta: dict[str, Any]) -> None:
    """Write ``estimator`` and ``meta`` atomically as a skops model file.

    ``format``, ``format_version``, ``sklearn_version`` and ``numpy_version`` are filled in unless
    ``meta`` sets them.

    Parameters
    ----------
    path : str
        The model file to write.
    estimator : Any
        A fitted scikit-learn estimator (of the :data:`ALLOWED_TYPES`).
    meta : dict[str, Any]
        Metadata (factors, ranges, metrics, ...), converted with :func:`jsonable`.
    """
    import sklearn
    import skops.io as sio

    full = {"format": FORMAT, "format_version": FORMAT_VERSION, "sklearn_version": sklearn.__version__,
            "numpy_version": np.__version__}
    full.update(jsonable(meta))
    json.dumps(full)  # fails early on anything JSON cannot hold
    with atomic_path(path) as tmp:
        sio.dump({"meta": full, "estimator": estimator}, tmp, compression=zipfile.ZIP_DEFLATED)


def _not_model(path: str, why: str) -> ModelFileError:
    return ModelFileError(f"{path} is not a smdownscale model file ({why}). {_HINT}")


def _damaged(path: str, why: str) -> ModelFileError:
    return ModelFileError(f"The model file {path} is damaged or incomplete ({why}). Copy it again or retrain the "
                          "model with smdownscale:train.")


def _read_schema(path: str) -> dict[str, Any]:
    if not os.path.isfile(path):
        raise ModelFileError(f"Model file not found: {path}. {_HINT}")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] != b"PK":
        raise _not_model(path, "not a zip archive")
    try:
        with zipfile.ZipFile(path) as zf:
            try:
                info = zf.getinfo("schema.json")
            except KeyError:
                raise _not_model(path, "no skops schema inside") from None
            if info.file_size > _MAX_SCHEMA_BYTES:
                raise _not_model(path, "its schema is implausibly large")
            # member checksums are verified as skops reads them (zipfile raises on a CRC mismatch)
            schema = json.loads(zf.read(info).decode("utf-8"))
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise _damaged(path, str(exc) or type(exc).__name__) from exc
    if not isinstance(schema, dict):
        raise _not_model(path, "unexpected schema")
    return schema


def _walk_types(node: Any, types: set[tuple[str, str]], loaders: set[str]) -> None:
    if isinstance(node, dict):
        if "__class__" in node or "__module__" in node or "__loader__" in node:
            types.add((str(node.get("__module__")), str(node.get("__class__"))))
            loaders.add(str(node.get("__loader__")))
        for value in node.values():
            _walk_types(value, types, loaders)
    elif isinstance(node, list):
        for value in node:
            _walk_types(value, types, loaders)


def _decode_json(node: Any, path: str) -> Any:
    """Decode a skops subtree made only of JSON values (dict/list/tuple/JsonNode) without skops."""
    if not isinstance(node, dict):
        raise _not_model(path, "malformed metadata")
    loader = node.get("__loader__")
    content = node.get("content")
    if loader == "JsonNode":
        return json.loads(content)
    if loader == "DictNode" and isinstance(content, dict):
        return {k: _decode_json(v, path) for k, v in content.items()}
    if loader in ("ListNode", "TupleNode") and isinstance(content, list):
        return [_decode_json(v, path) for v in content]
    raise _not_model(path, f"its metadata holds a {loader} where only JSON values are allowed")


def _major_minor(version: str) -> str:
    return ".".join(str(version).split(".")[:2])


def read_meta(path: str) -> dict[str, Any]:
    """The metadata of a model file, read as JSON without loading the estimator, after the format checks.

    Parameters
    ----------
    path : str
        A model file.

    Returns
    -------
    dict[str, Any]
        Its metadata.
    """
    return _meta_of(path, _read_schema(path))


def _meta_of(path: str, schema: dict[str, Any]) -> dict[str, Any]:
    content = schema.get("content")
    if schema.get("__loader__") != "DictNode" or not isinstance(content, dict) or "meta" not in content \
            or "estimator" not in content:
        raise _not_model(path, "a skops file without smdownscale metadata")
    meta = _decode_json(content["meta"], path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _not_model(path, "a skops file without smdownscale metadata")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise _not_model(path, f"unknown format version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"The model file {path} uses format version {version}, newer than this plugin reads "
                             f"({FORMAT_VERSION}); update the smdownscale plugin or retrain the model with "
                             "smdownscale:train.")
    return meta


def _checked(path: str, schema: dict[str, Any]) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    """The metadata and the types named by a model file's schema, after every check that needs no loading."""
    import sklearn

    meta = _meta_of(path, schema)
    trained = str(meta.get("sklearn_version", "unknown"))
    if _major_minor(trained) != _major_minor(sklearn.__version__):
        raise ModelFileError(f"The model {path} was trained with scikit-learn {trained}; this system has "
                             f"{sklearn.__version__}; retrain the model with smdownscale:train or install "
                             f"scikit-learn {trained}.")
    types: set[tuple[str, str]] = set()
    loaders: set[str] = set()
    _walk_types(schema, types, loaders)
    refused = sorted(f"{m}.{c}" for m, c in types if (m, c) not in ALLOWED_TYPES)
    refused += sorted(f"skops {lo}" for lo in loaders if lo not in ALLOWED_LOADERS)
    if refused:
        raise ModelFileError(f"The model file {path} contains types a smdownscale model never holds "
                             f"({', '.join(refused)}); it was not loaded, so nothing in it was run. {_HINT}")
    return meta, types


def load_model(path: str) -> tuple[Any, dict[str, Any]]:
    """Load a model file written by :func:`save_model`: (estimator, meta).

    Raises ModelFileError for anything that is not such a file, is damaged, names a type outside
    :data:`ALLOWED_TYPES`, or was written with another scikit-learn major.minor version.
    Nothing from the file is executed before these checks pass.

    Parameters
    ----------
    path : str
        A model file.

    Returns
    -------
    tuple
        (the fitted estimator, its metadata dict).

    Raises
    ------
    ModelFileError
        The file is not a smdownscale model, is damaged, names a type outside :data:`ALLOWED_TYPES`, or comes
        from another scikit-learn version.
    """
    import skops.io as sio

    schema = _read_schema(path)
    meta, types = _checked(path, schema)
    # skops trusts exactly the allowlisted types found above: a type its own reading meets beyond them (were
    # the schema walk to miss one) makes it refuse the file before creating any object of that type
    trusted = sorted(f"{m}.{c}" for m, c in types)
    try:
        obj = sio.load(path, trusted=trusted)
    except Exception as exc:
        raise _damaged(path, str(exc) or type(exc).__name__) from exc
    if not isinstance(obj, dict) or "estimator" not in obj or not hasattr(obj["estimator"], "predict"):
        raise _not_model(path, "no estimator inside")
    return obj["estimator"], obj.get("meta", meta)


def finite_or_none(value: float) -> float | None:
    """NaN/inf become None so metadata stays strict JSON.

    Parameters
    ----------
    value : float
        A number, or None.

    Returns
    -------
    float or None
        ``value`` as a float when it is finite, else None.
    """
    return float(value) if value is not None and math.isfinite(value) else None


_FORESTS = {("sklearn.ensemble._forest", "RandomForestRegressor"), ("sklearn.ensemble._forest", "ExtraTreesRegressor")}
_TREES = {("sklearn.tree._classes", "DecisionTreeRegressor"), ("sklearn.tree._classes", "ExtraTreeRegressor")}


class _UnsupportedError(Exception):
    """The file holds something :func:`load_compiled` does not read directly (it is loaded with skops)."""


def _kind(node: Any) -> tuple[str, str]:
    if not isinstance(node, dict):
        raise _UnsupportedError
    return str(node.get("__module__")), str(node.get("__class__"))


def _attrs(node: Any) -> dict[str, Any]:
    """The attribute dict of a skops ObjectNode (or the state dict of a TreeNode)."""
    try:
        content = node["content"]
        if content.get("__loader__") != "DictNode" or not isinstance(content.get("content"), dict):
            raise _UnsupportedError
        return content["content"]
    except (KeyError, TypeError, AttributeError):
        raise _UnsupportedError from None


def _json_int(node: Any) -> int:
    if not isinstance(node, dict) or node.get("__loader__") != "JsonNode":
        raise _UnsupportedError
    value = json.loads(node.get("content"))
    if not isinstance(value, int) or isinstance(value, bool):
        raise _UnsupportedError
    return value


def _array(zf: zipfile.ZipFile, node: Any) -> np.ndarray:
    if not isinstance(node, dict) or node.get("__loader__") != "NdArrayNode" or node.get("type") != "numpy" \
            or not isinstance(node.get("file"), str):
        raise _UnsupportedError
    with zf.open(node["file"]) as fh:
        return np.lib.format.read_array(fh, allow_pickle=False)


def _tree_state(zf: zipfile.ZipFile, tree: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """One tree's node and value arrays and its depth, read from the archive (no pickle)."""
    if _kind(tree) not in _TREES:
        raise _UnsupportedError
    state = _attrs(_attrs(tree).get("tree_"))
    nodes = _array(zf, state.get("nodes"))
    values = _array(zf, state.get("values"))
    names = nodes.dtype.names or ()
    if not {"left_child", "right_child", "feature", "threshold"} <= set(names) or nodes.ndim != 1:
        raise _UnsupportedError
    if values.ndim != 3 or values.shape[0] != nodes.shape[0] or values.shape[1] * values.shape[2] != 1:
        raise _UnsupportedError
    return nodes, values, _json_int(state.get("max_depth"))


def _read_trees(path: str, build: Callable[[Iterator[tuple[np.ndarray, np.ndarray, int]], int], Any]
                ) -> tuple[Any, dict[str, Any], str] | None:
    """``build(trees, n_features)`` over the trees of a forest / extra trees / regression tree model file,
    read one at a time after the checks of :func:`load_model`: (what build returned, meta, class name).
    None when the file holds another kind of model, or build returned None."""
    schema = _read_schema(path)
    meta, _ = _checked(path, schema)
    try:
        est = schema["content"]["estimator"]
        kind = _kind(est)
        attrs = _attrs(est)
        if _json_int(attrs.get("n_outputs_")) != 1:
            return None
        n_features = _json_int(attrs.get("n_features_in_"))
        if kind in _FORESTS:
            listing = attrs.get("estimators_")
            if not isinstance(listing, dict) or listing.get("__loader__") != "ListNode" \
                    or not isinstance(listing.get("content"), list) or not listing["content"]:
                return None
            trees = listing["content"]
        elif kind in _TREES:
            trees = [est]
        else:
            return None
        with zipfile.ZipFile(path) as zf:
            built = build((_tree_state(zf, t) for t in trees), n_features)
    except (_UnsupportedError, KeyError, TypeError, AttributeError):
        return None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise _damaged(path, str(exc) or type(exc).__name__) from exc
    return None if built is None else (built, meta, kind[1])


def load_compiled(path: str) -> tuple[Any, dict[str, Any]] | None:
    """A tree model's flat arrays for the compiled walker, read straight from the file: (CompiledForest, meta).

    For a random forest, extra trees or a single regression tree, the trees' node arrays are read one at
    a time from the archive (``.npy`` members, no pickle) and flattened by :func:`.native.compile_trees`:
    no scikit-learn object is created, so loading takes a fraction of the time and memory of
    :func:`load_model` and predicts exactly the same values. The file passes the same checks as in
    :func:`load_model` first. Returns None for any other model (load it with :func:`load_model`).

    Parameters
    ----------
    path : str
        A model file.

    Returns
    -------
    tuple or None
        (:class:`.native.CompiledForest`, metadata dict) for a tree model, else None.
    """
    from . import native

    found = _read_trees(path, lambda trees, n_features: native.compile_trees(
        ((n["left_child"], n["right_child"], n["feature"], n["threshold"], v) for n, v, _ in trees), n_features))
    if found is None:
        return None
    compiled, meta, kind = found
    compiled.kind = kind
    return compiled, meta


def load_trees(path: str) -> tuple[Any, dict[str, Any]] | None:
    """A tree model as scikit-learn trees built one at a time from the file: (inference.TreeMean, meta).

    What prediction uses when the compiled walker is absent: the same values as the estimator of
    :func:`load_model` (bit for bit), with the memory of the trees alone (skops holds every array of the
    file three times while it builds a forest). The arrays are checked before any tree is built from them.
    Returns None for any other model (load it with :func:`load_model`).

    Parameters
    ----------
    path : str
        A model file.

    Returns
    -------
    tuple or None
        (:class:`.inference.TreeMean`, metadata dict) for a tree model, else None.
    """
    from .inference import TreeMean

    found = _read_trees(path, TreeMean.from_arrays)
    if found is None:
        return None
    trees, meta, kind = found
    trees.kind = kind
    return trees, meta
