"""Optional compiled prediction of tree models and RBF support vector regression (``_native/treewalk.c``),
exact and with a fallback.

``make native`` (run by ``make setup``) compiles ``_native/treewalk.c`` into a small shared library
loaded here with ctypes. :func:`compile_forest` turns a fitted random forest, extra trees or single
regression tree into flat arrays the library walks; its predictions are bit-identical to
scikit-learn's sequential ``predict`` (tested against it). Where the library is absent (a plugin
installed from a zip on a machine without a C compiler), could not be loaded, or is switched off
with ``SMDOWNSCALE_NATIVE=0``, :func:`available` is False and callers use scikit-learn.

Boosted models are walked too (:func:`compile_forest`): histogram gradient boosting with its baseline as a
first one-leaf tree; gradient boosting with its initial estimate as each row's starting value
(``CompiledForest.init``); the linear + boosting hybrid (:class:`.hybrid.LinearBoostRegressor`) as its histogram
boosting, its ridge trend added to each row's sum (``CompiledForest.offset``), as its own ``predict`` adds them.
Histogram boosting compares float64 rows with float64 thresholds; the walker compares float32 rows with each
threshold rounded down to float32, which picks the same side for every float32 value: for float32 rows (the
design matrices of downscale) the walk equals scikit-learn's bit for bit.

The arrays are checked before the library sees them (every child id points to a later node or to a
leaf, every feature id is a column), so a damaged model can never make the walk read outside them
or loop.

The same library holds the SVR kernel (:class:`CompiledSvr`, made by :func:`compile_svr`): distance,
exponential and dual-coefficient sum fused in cache-sized tiles, threads over rows; equal to
scikit-learn's ``SVR.predict`` within 1e-12 (rounding only). Without the library :func:`svr_numpy`
computes the same sums in numpy blocks (same values, slower).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable

import numpy as np

ABI = 2
ENV_SWITCH = "SMDOWNSCALE_NATIVE"
_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_native")
#: Rows walked together through every tree (their sums stay in the CPU cache).
CHUNK_ROWS = 131072
#: Below this many rows a single thread does the work.
MIN_THREAD_ROWS = 16384

#: Compiler flags tried in turn by :func:`build` (the first set the compiler accepts is used).
TUNING_FLAGS = (["-march=native", "-mprefer-vector-width=512"], ["-march=native"], ["-mcpu=native"], [])
#: Rows of the design matrix handed to the SVR kernel at once per thread (bounded memory, any extent).
SVR_CHUNK_ROWS = 16384

_NODE = np.dtype([("threshold", "<f4"), ("feature", "<i4"), ("left", "<i4"), ("right", "<i4")])

_lock = threading.Lock()
_state: dict[str, Any] = {}


def library_path() -> str:
    """Where ``make native`` puts the compiled library on this platform.

    Returns
    -------
    str
        The library's path next to this module (.so, .dylib or .dll).
    """
    ext = ".dll" if sys.platform == "win32" else ".dylib" if sys.platform == "darwin" else ".so"
    return os.path.join(_DIR, "libsmdtreewalk" + ext)


def build_hint(plugin_dir: str = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) -> str:
    """How to build the library here: 'make native' in a checkout (it has the Makefile); from the plugin's
    dependency dialog in a plugin installed from the zip (no Makefile).

    Parameters
    ----------
    plugin_dir : str
        The plugin's folder (default: the one holding this package).

    Returns
    -------
    str
        The instruction, as a phrase to put in a message.
    """
    if os.path.isfile(os.path.join(plugin_dir, "Makefile")):
        return "run 'make native'"
    return "build it with 'Build compiled tree walker' in the plugin menu's 'Check dependencies…'"


def switched_off() -> bool:
    """True when ``SMDOWNSCALE_NATIVE`` asks for scikit-learn (0, no, off or false).

    Returns
    -------
    bool
        True when the environment switches the compiled library off.
    """
    return os.environ.get(ENV_SWITCH, "").strip().lower() in ("0", "no", "off", "false")


def _load() -> tuple[Any, str]:
    if switched_off():
        return None, f"switched off ({ENV_SWITCH}=0)"
    path = library_path()
    if not os.path.isfile(path):
        return None, f"not built ({path} is missing; {build_hint()})"
    try:
        lib = ctypes.CDLL(path)
        abi = int(lib.smd_treewalk_abi())
        node_size = int(lib.smd_treewalk_node_size())
    except (OSError, AttributeError) as exc:
        return None, f"could not be loaded ({exc})"
    if abi != ABI or node_size != _NODE.itemsize:
        return None, f"built for another version (ABI {abi}, node {node_size} bytes); {build_hint()}"
    if not int(lib.smd_cpu_ok()):
        return None, f"built for another processor (it would stop with an illegal instruction here); {build_hint()}"
    fn = lib.smd_forest_predict
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
                   ctypes.c_void_p, ctypes.c_int32, ctypes.c_double, ctypes.c_int64, ctypes.c_void_p,
                   ctypes.c_void_p]
    svr = lib.smd_svr_rbf_predict
    svr.restype = ctypes.c_int
    svr.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
                    ctypes.c_int64, ctypes.c_void_p, ctypes.c_double, ctypes.c_double, ctypes.c_void_p,
                    ctypes.c_void_p]
    _state["svr"] = svr
    _state["svr_rows"] = int(lib.smd_svr_rows())
    return fn, "compiled tree walker"


def _function() -> Any:
    with _lock:
        key = os.environ.get(ENV_SWITCH, "")
        if _state.get("key") != key or "fn" not in _state:
            _state.pop("svr", None)
            _state["fn"], _state["why"] = _load()
            _state["key"] = key
        return _state["fn"]


def _svr_function() -> Any:
    _function()
    return _state.get("svr") if _state.get("fn") is not None else None


def available() -> bool:
    """True when the compiled library is built, loadable and not switched off.

    Returns
    -------
    bool
        True when the compiled tree walker can be used.
    """
    return _function() is not None


def status() -> str:
    """One line saying which prediction backend is used for tree models, and why.

    Returns
    -------
    str
        The backend and the reason (e.g. why the library was not loaded).
    """
    _function()
    return str(_state.get("why"))


def find_compiler() -> str | None:
    """The C compiler :func:`build` would use ($CC, else cc, gcc or clang on the PATH), or None.

    Returns
    -------
    str or None
        The compiler's full path, or None.
    """
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def build(compiler: str | None = None, output: str | None = None, timeout: float = 120.0,
          strict: bool = False) -> tuple[bool, str]:
    """Compile ``_native/treewalk.c`` into ``output`` (default :func:`library_path`): (ok, message).

    The one way the library is built: by ``make native`` (``python3 algorithms/native.py --strict``, warnings
    as errors) and by *Check dependencies…* for a plugin installed from a zip. The library is written under
    a temporary name and renamed when complete; nothing is left on failure.

    Parameters
    ----------
    compiler : str or None
        The C compiler (None: :func:`find_compiler`).
    output : str or None
        The library to write (None: :func:`library_path`).
    timeout : float
        Seconds the compiler may run.
    strict : bool
        Whether compiler warnings are errors.

    Returns
    -------
    tuple
        (True when the library was built, a message saying what happened or what to do).
    """
    cc = compiler or find_compiler()
    if not cc:
        return False, ("no C compiler was found (looked for $CC, cc, gcc and clang); install one (e.g. "
                       "'sudo apt install gcc' or Xcode's command line tools) and build again. Without it, "
                       "tree models predict with scikit-learn: the same values, more slowly.")
    target = output or library_path()
    tmp = target + ".tmp"
    src = os.path.join(_DIR, "treewalk.c")
    cmd = [cc, "-O3", "-std=c99", "-shared", "-o", tmp, src]
    if sys.platform != "win32":
        cmd.insert(3, "-fPIC")
    if strict:
        cmd[1:1] = ["-Wall", "-Wextra", "-Werror"]
    # The library is built on the machine that uses it: this CPU's vector instructions make the SVR kernel
    # 3-4x faster (wide FMA). A compiler that refuses a flag gets the next, more portable set.
    proc = None
    why = ""
    for extra in TUNING_FLAGS:
        try:
            proc = subprocess.run(cmd[:2] + extra + cmd[2:], capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.SubprocessError) as exc:
            proc = None
            why = str(exc)
            break
        why = (proc.stderr or proc.stdout or "").strip()[-2000:]
        if proc.returncode == 0 and os.path.isfile(tmp):
            break
    if proc is None or proc.returncode != 0 or not os.path.isfile(tmp):
        with contextlib.suppress(OSError):
            os.remove(tmp)
        return False, f"compiling {src} with {cc} failed: {why or 'no output'}"
    os.replace(tmp, target)
    with _lock:
        _state.clear()
    if output is None and not available():
        return False, f"built {target}, but it cannot be used: {status()}"
    return True, f"built {target}"


def _trees_of(estimator: Any) -> list[Any] | None:
    """The trees of an estimator whose ``predict`` is the mean of its trees' leaf values (or one tree's), else None."""
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor
    from sklearn.tree import DecisionTreeRegressor, ExtraTreeRegressor

    kind = type(estimator)
    if kind in (RandomForestRegressor, ExtraTreesRegressor):
        trees = list(getattr(estimator, "estimators_", []) or [])
    elif kind in (DecisionTreeRegressor, ExtraTreeRegressor):
        trees = [estimator]
    else:
        return None
    if not trees or int(getattr(estimator, "n_outputs_", 1)) != 1:
        return None
    if any(type(t) not in (DecisionTreeRegressor, ExtraTreeRegressor) or not hasattr(t, "tree_") for t in trees):
        return None
    return trees


def supports(estimator: Any) -> bool:
    """True for the models the compiled walker predicts (single-output forests, extra trees, regression trees,
    squared-error gradient boosting of both kinds, the linear + boosting hybrid).

    Parameters
    ----------
    estimator : Any
        A fitted estimator.

    Returns
    -------
    bool
        True when the compiled walker can predict it.
    """
    return _trees_of(estimator) is not None or _boosted_of(estimator) is not None


def _boosted_of(estimator: Any) -> tuple[str, Any] | None:
    """('hist', predictors) for a single-output, squared-error HistGradientBoostingRegressor without
    categorical splits; ('gb', trees) for a squared-error GradientBoostingRegressor; ('linear+hist', predictors)
    for the linear + boosting hybrid whose boosting is such a HistGradientBoostingRegressor; else None."""
    from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor
    from sklearn.tree import DecisionTreeRegressor

    from .hybrid import LinearBoostRegressor

    kind = type(estimator)
    if kind is LinearBoostRegressor:
        boost = getattr(estimator, "boost_", None)
        coef = getattr(estimator, "coef_", None)
        if type(boost) is not HistGradientBoostingRegressor or coef is None \
                or np.shape(coef) != (int(estimator.n_features_in_),) \
                or int(getattr(boost, "n_features_in_", -1)) != int(estimator.n_features_in_):
            return None
        found = _boosted_of(boost)
        return None if found is None else ("linear+hist", found[1])
    if kind is HistGradientBoostingRegressor:
        predictors = getattr(estimator, "_predictors", None)
        if (not predictors or getattr(estimator, "loss", None) != "squared_error"
                or int(getattr(estimator, "n_trees_per_iteration_", 1)) != 1
                or any(len(p) != 1 for p in predictors)):
            return None
        nodes = [p[0].nodes for p in predictors]
        if any("is_categorical" in n.dtype.names and bool(np.any(n["is_categorical"])) for n in nodes):
            return None
        return "hist", nodes
    if kind is GradientBoostingRegressor:
        stages = getattr(estimator, "estimators_", None)
        if (stages is None or getattr(estimator, "loss", None) != "squared_error" or np.ndim(stages) != 2
                or np.shape(stages)[1] != 1 or np.shape(stages)[0] == 0):
            return None
        trees = list(np.asarray(stages, dtype=object)[:, 0])
        if any(type(t) is not DecisionTreeRegressor for t in trees):
            return None
        return "gb", trees
    return None


def check_tree_arrays(left: np.ndarray, right: np.ndarray, feature: np.ndarray, n_features: int) -> None:
    """Refuse scikit-learn tree arrays a walk could leave or loop in: every internal node's children must
    be later nodes, its feature a column; a leaf has -1 for both children. Raises ValueError.

    Parameters
    ----------
    left, right : numpy.ndarray
        Children of each node (-1 for a leaf).
    feature : numpy.ndarray
        The feature each node splits on.
    n_features : int
        The number of features the model takes.

    Raises
    ------
    ValueError
        Children that do not point to later nodes, malformed leaves, or a split on a feature the model does
        not have.
    """
    m = left.size
    ids = np.arange(m)
    inner = left != -1
    if right.size != m or feature.size != m or np.any((right == -1) != ~inner):
        raise ValueError("tree arrays: malformed children")
    for child in (left, right):
        if np.any(inner & ((child <= ids) | (child >= m))):
            raise ValueError("tree arrays: a child id does not point to a later node")
    if inner.any() and (int(feature[inner].min()) < 0 or int(feature[inner].max()) >= n_features):
        raise ValueError("tree arrays: a node splits on a feature the model does not have")


def in_row_parts(n: int, threads: int, run: Any) -> None:
    """``run(a, b)`` over ``threads`` contiguous parts of rows [0, n), in parallel when threads > 1 (the
    work must release the GIL: the compiled walk does, as does scikit-learn's tree walk).

    Parameters
    ----------
    n : int
        The number of rows.
    threads : int
        The number of parts (and threads).
    run : Any
        A callable ``run(first_row, end_row)`` filling rows [first_row, end_row).
    """
    if threads <= 1:
        run(0, n)
        return
    cuts = np.linspace(0, n, threads + 1).astype(np.int64).tolist()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, cuts[:-1], cuts[1:]))


def _down_to_float32(t: np.ndarray) -> np.ndarray:
    """The largest float32 not above each float64 threshold: x <= t equals x <= result for float32 x."""
    t32 = t.astype(np.float32)
    over = t32.astype(np.float64) > t
    t32[over] = np.nextafter(t32[over], np.float32(-np.inf))
    return t32


class CompiledForest:
    """Flat arrays of a tree ensemble for the compiled walker (see ``_native/treewalk.c``)."""

    def __init__(self, nodes: np.ndarray, leaf_value: np.ndarray, roots: np.ndarray, divisor: float,
                 n_features: int) -> None:
        self.nodes = np.ascontiguousarray(nodes, dtype=_NODE)
        self.leaf_value = np.ascontiguousarray(leaf_value, dtype=np.float64)
        self.roots = np.ascontiguousarray(roots, dtype=np.int32)
        self.divisor = float(divisor)
        self.n_features = int(n_features)
        self.kind = ""  # the scikit-learn class it was made from, when known
        #: gradient boosting's initial estimate per row (a function of the float32 rows), added first; or None
        self.init: Any = None
        #: a term per row (a function of the float32 rows) added to the walk's result last, as the linear + boosting
        #: hybrid adds its ridge trend to its boosting's prediction; or None
        self.offset: Any = None
        self._check()

    @property
    def averaged(self) -> bool:
        """True when the prediction is the mean of several trees' leaf values alone (a forest, extra trees)."""
        return self.roots.size > 1 and self.divisor == self.roots.size and self.init is None and self.offset is None

    @property
    def nbytes(self) -> int:
        return self.nodes.nbytes + self.leaf_value.nbytes + self.roots.nbytes

    def _check(self) -> None:
        """Refuse arrays whose walk could leave them or loop (children must point forward)."""
        n, nleaf = self.nodes.shape[0], self.leaf_value.shape[0]
        if self.nodes.ndim != 1 or self.leaf_value.ndim != 1 or self.roots.ndim != 1 or self.roots.size == 0:
            raise ValueError("compiled forest: malformed arrays")
        if not (self.divisor > 0 and np.isfinite(self.divisor)) or self.n_features < 1:
            raise ValueError("compiled forest: bad divisor or feature count")
        feat = self.nodes["feature"]
        if n and (int(feat.min()) < 0 or int(feat.max()) >= self.n_features):
            raise ValueError("compiled forest: a node splits on a feature the model does not have")
        ids = np.arange(n, dtype=np.int64)
        for side in ("left", "right"):
            child = self.nodes[side].astype(np.int64)
            inner = child >= 0
            if np.any(inner & ((child <= ids) | (child >= n))):
                raise ValueError("compiled forest: a child id does not point to a later node")
            leaf = ~child[~inner]
            if leaf.size and int(leaf.max()) >= nleaf:
                raise ValueError("compiled forest: a leaf id is out of range")
        roots = self.roots.astype(np.int64)
        if np.any(roots >= n) or (np.any(roots < 0) and int((~roots[roots < 0]).max()) >= nleaf):
            raise ValueError("compiled forest: a root id is out of range")

    def predict(self, x: np.ndarray, n_threads: int | None = None) -> np.ndarray:
        """The ensemble's prediction for every row of ``x`` (float64), computed by the compiled library.

        ``x`` must be finite (rows with missing factors are never predicted); the caller checks that
        :func:`available` is True.

        Parameters
        ----------
        x : numpy.ndarray
            Shape (rows, n_features), finite (converted to float32).
        n_threads : int or None
            Threads to use (None: every core; fewer for few rows).

        Returns
        -------
        numpy.ndarray
            float64 predictions, shape (rows,).

        Raises
        ------
        RuntimeError
            The compiled library is not available.
        ValueError
            ``x`` does not have one column per feature.
        """
        fn = _function()
        if fn is None:
            raise RuntimeError(f"the compiled tree walker is not available: {status()}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got shape {x.shape}")
        out = np.empty(x.shape[0], dtype=np.float64)
        if x.shape[0] == 0:
            return out
        init = None
        if self.init is not None:
            init = np.ascontiguousarray(np.asarray(self.init(x), dtype=np.float64).reshape(-1))
            if init.size != x.shape[0]:
                raise ValueError(f"initial estimates: {init.size} values for {x.shape[0]} rows")
        threads = max(1, min(int(n_threads or os.cpu_count() or 1), x.shape[0] // MIN_THREAD_ROWS or 1))
        nodes, leaves, roots = (a.ctypes.data for a in (self.nodes, self.leaf_value, self.roots))

        def run(a: int, b: int) -> None:
            # ctypes releases the GIL for the call, so the threads run in parallel
            fn(x[a:].ctypes.data, b - a, self.n_features, nodes, leaves, roots, self.roots.size, self.divisor,
               CHUNK_ROWS, None if init is None else init[a:].ctypes.data, out[a:].ctypes.data)

        in_row_parts(x.shape[0], threads, run)
        if self.offset is not None:
            extra = np.asarray(self.offset(x), dtype=np.float64).reshape(-1)
            if extra.size != x.shape[0]:
                raise ValueError(f"offsets: {extra.size} values for {x.shape[0]} rows")
            out += extra
        return out


def _compile_boosted(estimator: Any) -> CompiledForest | None:
    found = _boosted_of(estimator)
    if found is None:
        return None
    kind, parts = found
    if kind == "linear+hist":
        # the hybrid: its boosting's walk (exactly HistGradientBoostingRegressor.predict), then its ridge trend
        # added, as LinearBoostRegressor.predict adds them
        compiled = _compile_boosted(estimator.boost_)
        if compiled is not None:
            compiled.offset = estimator.trend
        return compiled
    n_features = int(estimator.n_features_in_)
    if kind == "hist":
        # scikit-learn: raw = 0 + baseline, then each iteration's tree value added in order (divisor 1)
        base = float(np.asarray(estimator._baseline_prediction, dtype=np.float64).reshape(-1)[0])
        leaf = np.array([-1])
        trees: list[tuple[np.ndarray, ...]] = [(leaf, leaf, np.zeros(1, np.int64), np.zeros(1), np.array([base]))]
        for nodes in parts:
            is_leaf = nodes["is_leaf"].astype(bool)
            # the node fields are unsigned: widen before writing -1 (numpy 2 would wrap it to 2**32 - 1)
            left, right = (nodes[k].astype(np.int64) for k in ("left", "right"))
            trees.append((np.where(is_leaf, -1, left), np.where(is_leaf, -1, right),
                          np.where(is_leaf, 0, nodes["feature_idx"].astype(np.int64)), nodes["num_threshold"],
                          nodes["value"]))
        return compile_trees(trees, n_features, divisor=1.0)
    # GradientBoostingRegressor: raw = init(x), then learning_rate * tree value added stage by stage
    rate = float(estimator.learning_rate)
    compiled = compile_trees(((t.tree_.children_left, t.tree_.children_right, t.tree_.feature, t.tree_.threshold,
                               rate * np.asarray(t.tree_.value, dtype=np.float64)) for t in parts),
                             n_features, divisor=1.0)
    if compiled is not None:
        compiled.init = estimator._raw_predict_init
    return compiled


def compile_forest(estimator: Any) -> CompiledForest | None:
    """Flat arrays of a fitted RandomForestRegressor / ExtraTreesRegressor / DecisionTreeRegressor, of a
    squared-error (Hist)GradientBoostingRegressor or of the linear + boosting hybrid, else None.

    Parameters
    ----------
    estimator : Any
        A fitted scikit-learn estimator.

    Returns
    -------
    CompiledForest or None
        The flat arrays (``kind`` set to the estimator's class name), or None for another model.
    """
    trees = _trees_of(estimator)
    if trees is None:
        compiled = _compile_boosted(estimator)
        if compiled is not None:
            compiled.kind = type(estimator).__name__
        return compiled
    n_features = int(getattr(estimator, "n_features_in_", 0) or trees[0].tree_.n_features)
    compiled = compile_trees(((t.tree_.children_left, t.tree_.children_right, t.tree_.feature, t.tree_.threshold,
                               t.tree_.value) for t in trees), n_features)
    if compiled is not None:
        compiled.kind = type(estimator).__name__
    return compiled


def compile_trees(trees: Iterable[tuple[np.ndarray, ...]], n_features: int,
                  divisor: float | None = None) -> CompiledForest | None:
    """Flat arrays of regression trees given as scikit-learn's (children_left, children_right, feature,
    threshold, value) arrays; their prediction is the mean of the trees' leaf values (one tree: its own).

    Trees are consumed one at a time (an iterator of trees read from a file never holds them all).

    Parameters
    ----------
    trees : Iterable[tuple[numpy.ndarray, ...]]
        (children_left, children_right, feature, threshold, value) per tree.
    n_features : int
        The number of features the trees take.
    divisor : float or None
        What the sum of the trees' leaves is divided by (None: the number of trees, a mean).

    Returns
    -------
    CompiledForest or None
        The flat arrays, or None when no tree is given, a tree has several outputs, or the nodes exceed 32-bit ids.

    Raises
    ------
    ValueError
        The trees' arrays are inconsistent or malformed.
    """
    node_parts: list[np.ndarray] = []
    leaf_values: list[np.ndarray] = []
    roots: list[int] = []
    base = 0       # first internal-node id of the tree in the flat array
    leaf_base = 0  # first leaf id of the tree
    for left, right, feature, threshold, value in trees:
        left = np.asarray(left, dtype=np.int64)
        right = np.asarray(right, dtype=np.int64)
        value = np.asarray(value, dtype=np.float64)
        m = left.size
        if m == 0 or right.size != m or np.asarray(feature).size != m or np.asarray(threshold).size != m \
                or value.size == 0 or value.shape[0] != m or value.size != m * (value.size // m):
            raise ValueError("compiled forest: inconsistent tree arrays")
        if value.size != m:
            return None  # several outputs or classes: not a single-output regression tree
        check_tree_arrays(left, right, np.asarray(feature), n_features)
        # internal nodes only, numbered in scikit-learn's depth-first order (children after parents)
        inner = left >= 0
        n_inner, n_leaf = int(inner.sum()), m - int(inner.sum())
        new_id = np.empty(m, dtype=np.int64)
        new_id[inner] = base + np.arange(n_inner)
        new_id[~inner] = ~(leaf_base + np.arange(n_leaf))
        part = np.empty(n_inner, dtype=_NODE)
        part["threshold"] = _down_to_float32(np.asarray(threshold, dtype=np.float64)[inner])
        part["feature"] = np.asarray(feature)[inner]
        part["left"] = new_id[left[inner]]
        part["right"] = new_id[right[inner]]
        node_parts.append(part)
        leaf_values.append(value.reshape(m)[~inner])
        roots.append(int(new_id[0]))
        base += n_inner
        leaf_base += n_leaf
        if base >= 2**31 - 1 or leaf_base >= 2**31 - 1:
            return None
    if not roots:
        return None
    # scikit-learn sums the trees' predictions in order and divides by their number (1 for one tree)
    return CompiledForest(np.concatenate(node_parts), np.concatenate(leaf_values), np.asarray(roots, np.int32),
                          float(len(roots)) if divisor is None else float(divisor), n_features)


def _svr_of(estimator: Any) -> tuple[list[Any], Any] | None:
    """(the fitted transformers before it, the SVR) for an RBF-kernel SVR alone or at the end of a Pipeline."""
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVR

    steps: list[Any] = []
    if type(estimator) is Pipeline:
        parts = [step for _, step in estimator.steps]
        if not parts:
            return None
        steps = [p for p in parts[:-1] if p is not None and p != "passthrough"]
        estimator = parts[-1]
        if any(not hasattr(p, "transform") for p in steps):
            return None
    if type(estimator) is not SVR or getattr(estimator, "kernel", None) != "rbf" or not hasattr(estimator, "support_"):
        return None
    if getattr(estimator, "_sparse", False):
        return None
    return steps, estimator


class CompiledSvr:
    """An RBF support vector regression as arrays: f(x) = intercept + sum_s coef[s] exp(-gamma |x - sv_s|^2).

    Checked when made (shapes agree, every value finite, gamma > 0), so the kernel never reads outside
    the arrays. :meth:`predict` uses the compiled kernel when the library is available, else numpy blocks.
    """

    def __init__(self, support_vectors: np.ndarray, coef: np.ndarray, gamma: float, intercept: float) -> None:
        sv = np.ascontiguousarray(support_vectors, dtype=np.float64)
        coef = np.ascontiguousarray(np.asarray(coef, dtype=np.float64).reshape(-1))
        if sv.ndim != 2 or sv.shape[0] == 0 or sv.shape[1] == 0:
            raise ValueError(f"compiled SVR: support vectors must be a non-empty matrix, got shape {sv.shape}")
        if coef.size != sv.shape[0]:
            raise ValueError(f"compiled SVR: {coef.size} dual coefficients for {sv.shape[0]} support vectors")
        gamma, intercept = float(gamma), float(intercept)
        if not (np.isfinite(gamma) and gamma > 0) or not np.isfinite(intercept):
            raise ValueError(f"compiled SVR: gamma must be positive and finite (got {gamma}), the intercept finite")
        if not (np.isfinite(sv).all() and np.isfinite(coef).all()):
            raise ValueError("compiled SVR: a support vector or dual coefficient is not finite")
        self.support_vectors = sv
        self.sv_norm = np.einsum("ij,ij->i", sv, sv)
        self.coef = coef
        self.gamma = gamma
        self.intercept = intercept
        self.n_features = int(sv.shape[1])

    @property
    def n_support(self) -> int:
        return int(self.coef.size)

    def predict(self, x: np.ndarray, n_threads: int | None = None, use_native: bool | None = None) -> np.ndarray:
        """The decision function for every row of ``x`` (already transformed; finite), float64.

        Parameters
        ----------
        x : numpy.ndarray
            Shape (rows, n_features): the rows after the pipeline's transformers.
        n_threads : int or None
            Threads for the compiled kernel (None: every core).
        use_native : bool or None
            True: the compiled kernel (an error without it); False: numpy; None: the compiled kernel when available.

        Returns
        -------
        numpy.ndarray
            float64 decision values, shape (rows,).

        Raises
        ------
        ValueError
            ``x`` has another number of features or values that are not finite.
        RuntimeError
            ``use_native`` asks for the compiled kernel and it is not available.
        """
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("compiled SVR: the rows to predict must be finite")
        fn = _svr_function() if use_native is not False else None
        if use_native and fn is None:
            raise RuntimeError(f"the compiled SVR kernel is not available: {status()}")
        out = np.empty(x.shape[0], dtype=np.float64)
        if x.shape[0] == 0:
            return out
        if fn is None:
            return svr_numpy(x, self.support_vectors, self.sv_norm, self.coef, self.gamma, self.intercept)
        rows = int(_state.get("svr_rows", 64))
        threads = max(1, min(int(n_threads or os.cpu_count() or 1), -(-x.shape[0] // rows)))
        sv, sn, coef = (a.ctypes.data for a in (self.support_vectors, self.sv_norm, self.coef))

        def run(a: int, b: int) -> None:
            scratch = np.empty(rows * self.n_features, dtype=np.float64)
            # ctypes releases the GIL for the call, so the threads run in parallel
            fn(x[a:].ctypes.data, b - a, self.n_features, sv, sn, self.coef.size, coef, self.gamma,
               self.intercept, scratch.ctypes.data, out[a:].ctypes.data)

        in_row_parts(x.shape[0], threads, run)
        return out


def svr_numpy(x: np.ndarray, sv: np.ndarray, sv_norm: np.ndarray, coef: np.ndarray, gamma: float,
              intercept: float, block: int = 2048) -> np.ndarray:
    """The RBF decision function in numpy blocks (the fallback): exp(-gamma (|x|^2 + |s|^2 - 2 x.s)) through
    BLAS, at most ``block`` x support vectors kernel values in memory at a time.

    Parameters
    ----------
    x : numpy.ndarray
        Shape (rows, n_features), float64.
    sv : numpy.ndarray
        The support vectors, shape (n_sv, n_features).
    sv_norm : numpy.ndarray
        Their squared norms, shape (n_sv,).
    coef : numpy.ndarray
        The dual coefficients, shape (n_sv,).
    gamma : float
        The RBF kernel's gamma.
    intercept : float
        The intercept.
    block : int
        Rows per block.

    Returns
    -------
    numpy.ndarray
        float64 decision values, shape (rows,).
    """
    out = np.empty(x.shape[0], dtype=np.float64)
    for a in range(0, x.shape[0], block):
        xb = x[a:a + block]
        k = xb @ sv.T
        k *= 2.0 * gamma
        k -= gamma * sv_norm
        k -= gamma * np.einsum("ij,ij->i", xb, xb)[:, None]
        np.minimum(k, 0.0, out=k)
        np.exp(k, out=k)
        out[a:a + block] = k @ coef + intercept
    return out


def compile_svr(estimator: Any) -> tuple[list[Any], CompiledSvr] | None:
    """(transformers to apply first, the kernel's arrays) for an RBF SVR or a Pipeline ending in one, else None.

    Parameters
    ----------
    estimator : Any
        A fitted SVR, or a Pipeline ending in one.

    Returns
    -------
    tuple or None
        (the pipeline's steps before the SVR, :class:`CompiledSvr`), or None for another model or kernel.
    """
    found = _svr_of(estimator)
    if found is None:
        return None
    steps, svr = found
    gamma = getattr(svr, "_gamma", None)
    if gamma is None:
        return None
    intercept = np.asarray(svr.intercept_, dtype=np.float64).reshape(-1)
    dual = np.asarray(svr.dual_coef_, dtype=np.float64)
    if intercept.size != 1 or dual.ndim != 2 or dual.shape[0] != 1:
        return None
    return steps, CompiledSvr(svr.support_vectors_, dual[0], float(gamma), float(intercept[0]))


def main(argv: list[str] | None = None) -> int:
    """``python3 algorithms/native.py [--compiler CC] [--strict]``: build the library (``make native``).

    Parameters
    ----------
    argv : list[str] or None
        Command-line arguments (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 when the library was built, else 1.
    """
    import argparse

    ap = argparse.ArgumentParser(description="Build the compiled tree walker next to this file.")
    ap.add_argument("--compiler", help="C compiler (default: $CC, else cc, gcc or clang)")
    ap.add_argument("--strict", action="store_true", help="warnings are errors")
    args = ap.parse_args(argv)
    ok, message = build(args.compiler, strict=args.strict)
    print(message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
