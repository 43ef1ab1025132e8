"""The shape of the code: no import cycles in the engine or the Processing wrappers, no test module importing
another test module, and a documented contract on every public engine function: a docstring with numpydoc
'Parameters' (naming exactly the signature's parameters) and 'Returns' (or 'Yields') sections, and a 'Raises'
section wherever the function raises.

These tests read the source with :mod:`ast`; nothing is imported, so they run without QGIS.
"""

from __future__ import annotations

import ast
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ("algorithms", "processing_provider")

# Known cycles that another change removes; each entry is printed when the test runs so it cannot be forgotten.
# processing_provider.base <-> processing_provider.layers (styling): goes when the wrapper restructuring
# (issue 17, styling wholly in layers.py) lands; drop the entry at that merge.
ALLOWED_CYCLES: set[frozenset[str]] = set()


def _module_name(path: str) -> str:
    rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def _python_files(*folders: str) -> list[str]:
    files = []
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, folder)):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")) or d == "__init__")
            files += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py")]
    return files


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute (root-relative) name an ``from ... import`` statement names."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(*folders: str) -> dict[str, set[str]]:
    """Module -> project modules it imports, counting imports at module level and inside functions alike."""
    files = _python_files(*folders)
    modules = {_module_name(f): f for f in files}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        is_package = path.endswith("__init__.py")
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name.removeprefix("smdownscale.") for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node).removeprefix("smdownscale.")
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            if isinstance(node, ast.ImportFrom):
                # "from . import raster, units" names modules; "from .raster import Grid" names its module
                named = [t for t in targets[:-1] if t in modules]
                targets = named or targets[-1:]
            graph[module].update(t for t in targets if t in modules and t != module)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_import_graph_sees_function_level_imports():
    graph = import_graph(*PACKAGES)
    # processAlgorithm imports its engine module inside the function: such edges count too
    assert "algorithms.align" in graph["processing_provider.algs.align"]
    assert "algorithms.raster" in graph["algorithms.features"]
    assert "algorithms.gee.transport" in graph["algorithms.gee.fetch"]


def test_find_cycles_reports_each_cycle_by_name():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"f"}, "f": {"e"}, "g": set()}
    assert find_cycles(graph) == [["a", "b", "c"], ["e", "f"]]


def test_no_import_cycles(capsys):
    cycles = find_cycles(import_graph(*PACKAGES))
    allowed = [c for c in cycles if frozenset(c) in ALLOWED_CYCLES]
    with capsys.disabled():
        for c in allowed:
            print(f"\nknown import cycle allowed until the wrapper restructuring lands: {' <-> '.join(c)}")
    new = [" <-> ".join(c) for c in cycles if frozenset(c) not in ALLOWED_CYCLES]
    assert not new, ("import cycles (move the shared piece one layer down; an import inside a function counts "
                     "too): " + "; ".join(new))


# -- tests ------------------------------------------------------------------------------------------

def coupled_test_modules(folder: str = "tests") -> dict[str, list[str]]:
    """Test module -> the test modules (tests/unit/test_*.py, tests/qgis/test_*.py) it imports."""
    graph = import_graph(folder)
    is_test = {m for m in graph if m.split(".")[-1].startswith("test_") and m.count(".") == 2}
    return {m: sorted(graph[m] & is_test) for m in sorted(is_test) if graph[m] & is_test}


def test_test_graph_sees_relative_and_absolute_imports(tmp_path, monkeypatch):
    for sub in ("unit", "qgis"):
        (tmp_path / "tests" / sub).mkdir(parents=True)
        (tmp_path / "tests" / sub / "__init__.py").write_text("")
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "scenes.py").write_text("")
    (tmp_path / "tests" / "unit" / "test_a.py").write_text("from smdownscale.tests.scenes import x\n")
    (tmp_path / "tests" / "unit" / "test_b.py").write_text("from .test_a import y\n")
    (tmp_path / "tests" / "qgis" / "test_c.py").write_text(
        "def f():\n    from ..unit.test_b import z\n    from smdownscale.tests.unit import test_a\n")
    monkeypatch.setitem(globals(), "ROOT", str(tmp_path))
    assert coupled_test_modules() == {"tests.qgis.test_c": ["tests.unit.test_a", "tests.unit.test_b"],
                                        "tests.unit.test_b": ["tests.unit.test_a"]}


def test_no_test_module_imports_another_test_module():
    coupled = [f"{m} imports {', '.join(others)}" for m, others in coupled_test_modules().items()]
    assert not coupled, ("test modules import other test modules; move the shared scene or helper to "
                         "tests/scenes.py (or a conftest fixture): " + "; ".join(coupled))


# -- engine contracts -------------------------------------------------------------------------------

RAISES_SECTION = re.compile(r"^\s*Raises\s*\n\s*-{3,}\s*$", re.M)


def _raised(fn: ast.FunctionDef) -> list[str]:
    """The exceptions a function raises itself (``raise X`` statements, not those of nested functions)."""
    found: list[str] = []

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Raise) and child.exc is not None:
                exc = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
                found.append(ast.unparse(exc))
            walk(child)

    walk(fn)
    return found


def public_functions(path: str) -> list[tuple[str, ast.FunctionDef]]:
    """Module-level functions and methods of public classes whose names do not start with '_' (properties
    excluded: they are attributes)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            found.append((node.name, node))
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for m in node.body:
                is_property = any(isinstance(d, ast.Name) and d.id == "property"
                                  or isinstance(d, ast.Attribute) and d.attr == "setter" for d in m.decorator_list) \
                    if isinstance(m, ast.FunctionDef) else False
                if isinstance(m, ast.FunctionDef) and not m.name.startswith("_") and not is_property:
                    found.append((f"{node.name}.{m.name}", m))
    return found


def undocumented(folder: str = "algorithms") -> list[str]:
    """Public engine functions without a docstring, or raising without a numpydoc 'Raises' section."""
    problems = []
    for path in _python_files(folder):
        rel = os.path.relpath(path, ROOT)
        for name, fn in public_functions(path):
            doc = ast.get_docstring(fn)
            raised = sorted(set(_raised(fn)))
            if not doc:
                problems.append(f"{rel}:{fn.lineno} {name}: no docstring")
            elif raised and not RAISES_SECTION.search(doc):
                problems.append(f"{rel}:{fn.lineno} {name}: raises {', '.join(raised)} but has no 'Raises' section")
    return problems


def test_contract_check_finds_missing_docstrings_and_raises_sections(tmp_path, monkeypatch):
    (tmp_path / "algorithms").mkdir()
    (tmp_path / "algorithms" / "mod.py").write_text('''
def bare(x):
    return x


def raises_silently(x):
    """Says nothing about errors."""
    if x:
        raise InputError("bad")


def documented(x):
    """Checks x.

    Raises
    ------
    InputError
        x is bad.
    """
    raise InputError("bad")


def nested_only(x):
    """The raise belongs to the inner function."""
    def inner():
        raise ValueError(x)
    return inner


def _private(x):
    raise ValueError(x)


class Thing:
    @property
    def size(self):
        return 1

    def method(self):
        raise RuntimeError("no")
''')
    monkeypatch.setitem(globals(), "ROOT", str(tmp_path))
    assert undocumented("algorithms") == [
        "algorithms/mod.py:2 bare: no docstring",
        "algorithms/mod.py:6 raises_silently: raises InputError but has no 'Raises' section",
        "algorithms/mod.py:39 Thing.method: no docstring",
    ]


def test_every_public_engine_function_documents_what_it_raises():
    problems = undocumented("algorithms")
    assert not problems, (f"{len(problems)} public engine function(s) lack a docstring or a 'Raises' section "
                          "(numpydoc: Parameters / Returns / Raises):\n" + "\n".join(problems))


def section(doc: str, title: str) -> list[str] | None:
    """The lines of the numpydoc section ``title`` (heading underlined with dashes), None when it is absent."""
    lines = doc.split("\n")
    for i in range(len(lines) - 1):
        if lines[i].strip() == title and re.fullmatch(r"-{3,}", lines[i + 1].strip()):
            body = []
            for j in range(i + 2, len(lines)):
                if j + 1 < len(lines) and lines[j].strip() and re.fullmatch(r"-{3,}", lines[j + 1].strip()):
                    break
                body.append(lines[j])
            return body
    return None


def documented_names(body: list[str]) -> list[str]:
    """The parameter names a 'Parameters' section lists: its least indented lines, ``name : type`` or ``a, b``
    (stars of ``*args``/``**kwargs`` dropped)."""
    entries = [line for line in body if line.strip()]
    if not entries:
        return []
    base = min(len(line) - len(line.lstrip()) for line in entries)
    names = []
    for line in entries:
        if len(line) - len(line.lstrip()) == base:
            names += [n.strip().lstrip("*") for n in line.split(":")[0].split(",") if n.strip()]
    return names


def signature_names(fn: ast.FunctionDef) -> list[str]:
    """The parameters a caller passes (``self`` and ``cls`` excluded)."""
    a = fn.args
    names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs if x.arg not in ("self", "cls")]
    return names + [x.arg for x in (a.vararg, a.kwarg) if x is not None]


def _own_nodes(fn: ast.FunctionDef) -> list[ast.AST]:
    """The nodes of a function's body, not those of nested functions, classes or lambdas."""
    found: list[ast.AST] = []

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            found.append(child)
            walk(child)

    walk(fn)
    return found


NOTHING = re.compile(r"^(None|(typing\.)?(Iterator|Generator|ContextManager)\[None(, .*)?\])$")


def gives_back(fn: ast.FunctionDef) -> bool:
    """Whether the function returns or yields a value: by its return annotation, else by its body (a
    ``return <value>`` or a ``yield``). A context manager yielding None (``Iterator[None]``) gives nothing."""
    if fn.returns is not None:
        return not NOTHING.match(ast.unparse(fn.returns))
    for node in _own_nodes(fn):
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return not (isinstance(node, ast.Yield) and node.value is None)
        if isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            return True
    return False


def without_contract(folder: str = "algorithms") -> list[str]:
    """Public engine functions and methods whose docstring lacks a numpydoc 'Parameters' section naming exactly
    the signature's parameters (none needed without parameters), or a 'Returns' (or 'Yields') section when they
    give a value back."""
    problems = []
    for path in _python_files(folder):
        rel = os.path.relpath(path, ROOT)
        for name, fn in public_functions(path):
            doc = ast.get_docstring(fn) or ""
            repeated = [h for h in ("Parameters", "Returns", "Yields", "Raises")
                        if sum(line.strip() == h for line in doc.splitlines()) > 1]
            if repeated:
                problems.append(f"{rel}:{fn.lineno} {name}: more than one {', '.join(repeated)} section")
            params = section(doc, "Parameters")
            args = signature_names(fn)
            if args and params is None:
                problems.append(f"{rel}:{fn.lineno} {name}: no 'Parameters' section")
            elif params is not None:
                listed = documented_names(params)
                missing = [a for a in args if a not in listed]
                extra = [n for n in listed if n not in args]
                if missing:
                    problems.append(f"{rel}:{fn.lineno} {name}: 'Parameters' omits {', '.join(missing)}")
                if extra:
                    problems.append(f"{rel}:{fn.lineno} {name}: 'Parameters' names {', '.join(extra)}, "
                                    "not in the signature")
            if gives_back(fn) and section(doc, "Returns") is None and section(doc, "Yields") is None:
                problems.append(f"{rel}:{fn.lineno} {name}: no 'Returns' (or 'Yields') section")
    return problems


def test_every_public_engine_function_documents_parameters_and_returns():
    problems = without_contract("algorithms")
    assert not problems, (f"{len(problems)} public engine function(s) without their numpydoc contract (see "
                          "CONTRIBUTING.md, Conventions):\n" + "\n".join(problems))


def test_contract_check_needs_parameters_and_returns(tmp_path, monkeypatch):
    (tmp_path / "algorithms").mkdir()
    (tmp_path / "algorithms" / "mod.py").write_text('''
@raster.gdal_exceptions()
def run(path):
    """Runs."""
    return path


def write(path, rows) -> None:
    """Writes.

    Parameters
    ----------
    path : str
        Where.
    """


def stale(a, *args, **kwargs) -> int:
    """Documents a parameter it no longer has.

    Parameters
    ----------
    a, b : int
        Two numbers.
    *args, **kwargs
        Passed on.

    Returns
    -------
    int
        A number.
    """
    return a


def blocks(n: int) -> Iterator[int]:
    """Yields.

    Parameters
    ----------
    n
        How many.

    Yields
    ------
    int
        Each block.
    """
    yield from range(n)


@contextlib.contextmanager
def scope() -> Iterator[None]:
    """A context manager yielding nothing needs no Returns."""
    yield


def unannotated():
    """Returns a value without saying so."""
    def inner():
        return 1
    return inner


def side_effect():
    """Returns nothing."""
    if True:
        return


class Thing:
    def method(self, x):
        """Described.

        Parameters
        ----------
        x
            A value.

        Parameters
        ----------
        x
            The same value again.
        """

    @classmethod
    def make(cls) -> "Thing":
        """Made."""
        return cls()
''')
    monkeypatch.setitem(globals(), "ROOT", str(tmp_path))
    assert without_contract("algorithms") == [
        "algorithms/mod.py:3 run: no 'Parameters' section",
        "algorithms/mod.py:3 run: no 'Returns' (or 'Yields') section",
        "algorithms/mod.py:8 write: 'Parameters' omits rows",
        "algorithms/mod.py:18 stale: 'Parameters' names b, not in the signature",
        "algorithms/mod.py:58 unannotated: no 'Returns' (or 'Yields') section",
        "algorithms/mod.py:72 Thing.method: more than one Parameters section",
        "algorithms/mod.py:87 Thing.make: no 'Returns' (or 'Yields') section",
    ]
