"""Pytest plugin: the reliability summary of a run (bad inputs, injected faults, lost data).

Cases are markers, so the summary knows every case before anything runs::

    @pytest.mark.bad_input("align: raster without CRS")
    @pytest.mark.fault("fetch: HTTP 503 x2")
    pytest.param(case, marks=pytest.mark.bad_input(case.id), id=case.id)   # one case per parameter

A test covering several cases carries several markers. A case counts as handled (bad input) or survived
(fault) only when its test passed setup, call and teardown; a failure or error in any phase counts as
failed, a skip as skipped. Cases deselected with -k, -m or --deselect count as expected but not run.

Data loss is detected, not declared. The ``reliability`` fixture checksums (sha256) what a test watches::

    reliability.watch(inputs_folder)          # compared when the test ends, whatever its outcome
    with reliability.watch(previous_result):   # compared when the block ends, however it ends
        ...kill the process...

A watched file that changed or vanished is DATA LOST: recorded, and the test fails (new files, such as
``.aux.xml`` beside an input, are not data loss). ``reliability.lost(what, files)`` records a loss found
another way (the test fails when it ends); ``reliability.data_loss(what)`` records and fails at once.
Any data loss also makes the run's exit status a failure.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from typing import Iterable, Optional

import pytest

#: marker name -> (plural, word for success, singular)
KINDS = {"bad_input": ("bad inputs", "handled", "bad input"),
         "fault": ("faults", "survived", "fault")}
PHASES = ("setup", "call", "teardown")


# -- checksums --------------------------------------------------------------------------------------

def _digest(path: str) -> str:
    """What a file holds: sha256 of its bytes; a link's target; size and time for a file nobody can read."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return "link to " + os.readlink(path)
    if stat.S_ISDIR(st.st_mode):
        return "folder"
    if not stat.S_ISREG(st.st_mode):
        return f"special file {stat.S_IFMT(st.st_mode):o}"
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError:  # not readable by this user (permissions): size and modification time stand in
        return f"unreadable, {st.st_size} bytes, modified {st.st_mtime_ns}"
    return "sha256 " + h.hexdigest()


class Snapshot:
    """Checksums of files and folders (every file below a folder, links not followed), taken now.

    With ``walk=False`` exactly the paths given are checked (a folder only for being there). Reports name
    files below the watched folder's name, or below ``base`` when given.
    """

    def __init__(self, *paths: str | os.PathLike[str], base: str | os.PathLike[str] | None = None,
                 walk: bool = True) -> None:
        self.roots = [os.path.abspath(os.fspath(p)) for p in paths]
        self.base = os.path.abspath(os.fspath(base)) if base is not None else None
        self.walk = walk
        self.digests = self._take()

    def _take(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for root in self.roots:
            if not os.path.lexists(root):
                continue
            out[root] = _digest(root)
            if out[root] != "folder" or not self.walk:
                continue
            for folder, dirs, files in os.walk(root):
                dirs.sort()
                for name in sorted(dirs + files):
                    out[os.path.join(folder, name)] = _digest(os.path.join(folder, name))
        return out

    def name(self, path: str) -> str:
        """``path`` as shown in a report: below ``base``, the watched folder's name, or the file's name."""
        if self.base is not None and path.startswith(self.base + os.sep):
            return os.path.relpath(path, self.base)
        for root in self.roots:
            if path == root or path.startswith(root + os.sep):
                return os.path.relpath(path, os.path.dirname(root))
        return path

    def changes(self) -> dict[str, str]:
        """Path -> ``"changed"`` or ``"vanished"`` for every file or folder that did since the snapshot."""
        now = self._take()
        return {p: "vanished" if p not in now else "changed" for p, d in self.digests.items() if now.get(p) != d}

    def lost(self) -> list[str]:
        """Files and folders that changed or vanished since the snapshot, as ``"name changed"``."""
        return [f"{self.name(p)} {how}" for p, how in self.changes().items()]

    def new(self) -> list[str]:
        """Files and folders that appeared since the snapshot (not data loss)."""
        return [self.name(p) for p in self._take() if p not in self.digests]


# -- the session's records ---------------------------------------------------------------------------

@dataclass
class Case:
    kind: str  # a key of KINDS
    name: str
    nodeid: str


@dataclass
class Loss:
    what: str
    nodeid: str


@dataclass
class Registry:
    """Marked cases of the collected tests, the outcome of every phase, and the data lost."""

    cases: list[Case] = field(default_factory=list)
    deselected: set[str] = field(default_factory=set)
    phases: dict[str, dict[str, str]] = field(default_factory=dict)  # nodeid -> when -> outcome
    skip_reasons: dict[str, str] = field(default_factory=dict)
    losses: list[Loss] = field(default_factory=list)

    def collect(self, items: Iterable[pytest.Item]) -> None:
        known = {(c.kind, c.name, c.nodeid) for c in self.cases}
        for item in items:
            for mark in item.iter_markers():
                if mark.name in KINDS:
                    name = str(mark.args[0]) if mark.args else item.nodeid
                    if (mark.name, name, item.nodeid) not in known:
                        known.add((mark.name, name, item.nodeid))
                        self.cases.append(Case(mark.name, name, item.nodeid))

    def log(self, report: pytest.TestReport) -> None:
        outcome = report.outcome
        if report.skipped and hasattr(report, "wasxfail"):
            outcome = "xfailed"  # an expected failure is still a failure of the case
        self.phases.setdefault(report.nodeid, {})[report.when] = outcome
        if report.skipped and isinstance(report.longrepr, tuple):
            self.skip_reasons[report.nodeid] = str(report.longrepr[2]).removeprefix("Skipped: ")

    def failed_so_far(self, nodeid: str) -> bool:
        return bool({"failed", "xfailed"} & set(self.phases.get(nodeid, {}).values()))

    def status(self, nodeid: str) -> tuple[str, str]:
        """(``passed`` | ``failed`` | ``skipped`` | ``deselected`` | ``not run``, detail)."""
        if nodeid in self.deselected:
            return "deselected", ""
        phases = self.phases.get(nodeid, {})
        failed = [("xfail" if phases[w] == "xfailed" else "failed" if w == "call" else f"error in {w}")
                  for w in PHASES if phases.get(w) in ("failed", "xfailed")]
        if failed:
            return "failed", ", ".join(failed)
        if any(loss.nodeid == nodeid for loss in self.losses):
            return "failed", "lost data"
        if "skipped" in phases.values():
            return "skipped", self.skip_reasons.get(nodeid, "")
        if all(phases.get(w) == "passed" for w in PHASES):
            return "passed", ""
        return "not run", ""

    def summary_lines(self) -> list[str]:
        lines, details = [], []
        for kind, (plural, success, singular) in KINDS.items():
            cases = [c for c in self.cases if c.kind == kind]
            if not cases:
                continue
            by: dict[str, list[tuple[Case, str]]] = {}
            for c in cases:
                status, detail = self.status(c.nodeid)
                by.setdefault(status, []).append((c, detail))
            n = {s: len(by.get(s, [])) for s in ("passed", "failed", "skipped", "deselected", "not run")}
            line = (f"{plural}: expected {len(cases)}, ran {n['passed'] + n['failed']}, {success} {n['passed']}, "
                    f"failed {n['failed']}, skipped {n['skipped']}, deselected {n['deselected']}")
            lines.append(line + (f", not run {n['not run']}" if n["not run"] else ""))
            for status, label in (("failed", f"NOT {success}"), ("skipped", "skipped"), ("deselected", "deselected"),
                                  ("not run", "not run")):
                for c, detail in by.get(status, []):
                    where = c.nodeid + (f": {detail}" if detail else "")
                    case = where if c.nodeid.endswith(f"[{c.name}]") else f"{c.name} ({where})"  # no name twice
                    details.append(f"  {singular} {label}: {case}")
        lost = sorted({loss.nodeid for loss in self.losses})
        lines.append(f"tests that lost data: {len(lost) if lost else 'none'}")
        details += [f"  DATA LOST: {loss.what} ({loss.nodeid})" for loss in self.losses]
        return lines + details


_REGISTRY_KEY = pytest.StashKey[Registry]()


def registry_of(config: pytest.Config) -> Registry:
    if _REGISTRY_KEY not in config.stash:
        config.stash[_REGISTRY_KEY] = Registry()
    return config.stash[_REGISTRY_KEY]


def record_loss(config: pytest.Config, what: str, where: str) -> None:
    """Record data lost outside any one test (e.g. by a module fixture; ``where`` names it): the run fails."""
    registry_of(config).losses.append(Loss(what, where))


# -- what a test gets --------------------------------------------------------------------------------

class Watch:
    """Files under watch since :meth:`Recorder.watch`; compared once, by :meth:`check` or at the test's end."""

    def __init__(self, recorder: Recorder, paths: tuple, label: str, base=None, walk: bool = True) -> None:
        self._recorder = recorder
        self.label = label
        self.snapshot = Snapshot(*paths, base=base, walk=walk)
        self.checked = False

    def check(self, fail: bool = True) -> list[str]:
        """Compare now (once): record DATA LOST for every file that changed or vanished, and fail the test."""
        if self.checked:
            return []
        self.checked = True
        lost = self.snapshot.lost()
        if lost:
            self._recorder.lost(self.label, lost)
            if fail:
                pytest.fail(f"data lost: {self.label}: {', '.join(lost)}", pytrace=False)
        return lost

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.check(fail=exc_type is None)  # an error already on its way is not replaced; the loss is recorded


class Recorder:
    """What the ``reliability`` fixture gives a test."""

    def __init__(self, registry: Registry, nodeid: str) -> None:
        self._registry = registry
        self._nodeid = nodeid
        self._watches: list[Watch] = []
        self.losses: list[Loss] = []

    def watch(self, *paths: str | os.PathLike[str], label: str = "watched inputs",
              base: str | os.PathLike[str] | None = None, walk: bool = True) -> Watch:
        """Checksum every file under ``paths`` now; compared at the end of the test or of a ``with`` block.
        Reports name the files below ``base`` when given; ``walk=False`` watches exactly ``paths``."""
        w = Watch(self, paths, label, base, walk)
        self._watches.append(w)
        return w

    def lost(self, what: str, files: Iterable[str] = ()) -> None:
        """Record data lost (the test fails when it ends)."""
        files = list(files)
        loss = Loss(f"{what}: {', '.join(files)}" if files else what, self._nodeid)
        self.losses.append(loss)
        self._registry.losses.append(loss)

    def data_loss(self, what: str) -> None:
        """Record data lost and fail the test now."""
        self.lost(what)
        pytest.fail(f"data lost: {what}", pytrace=False)

    def bad_input(self, *_args, **_kwargs) -> None:
        pytest.fail("reliability.bad_input(...) is gone: mark the test with @pytest.mark.bad_input(name)")

    def fault(self, *_args, **_kwargs) -> None:
        pytest.fail("reliability.fault(...) is gone: mark the test with @pytest.mark.fault(name)")

    def _finish(self) -> Optional[str]:
        """At the end of the test: compare what is still watched; a message when data was lost."""
        for w in self._watches:
            w.check(fail=False)
        if self.losses:
            return "data lost: " + "; ".join(loss.what for loss in self.losses)
        return None


@pytest.fixture
def reliability(request: pytest.FixtureRequest):
    """Watches inputs for data loss (see the module's docstring)."""
    registry = registry_of(request.config)
    recorder = Recorder(registry, request.node.nodeid)
    yield recorder
    message = recorder._finish()
    if message and not registry.failed_so_far(request.node.nodeid):
        pytest.fail(message, pytrace=False)


# -- hooks ---------------------------------------------------------------------------------------------

def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bad_input(name): the test is the bad-input case `name` (reliability summary)")
    config.addinivalue_line("markers", "fault(name): the test is the injected-fault case `name` (reliability summary)")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    registry_of(config).collect(items)  # before -k/-m/--deselect remove any


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        registry = registry_of(items[0].config)
        registry.collect(items)
        registry.deselected.update(item.nodeid for item in items)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield  # outermost wrapper: sees the report as other plugins (xfail) leave it
    registry_of(item.config).log(report)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if registry_of(session.config).losses and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # data loss fails the run, whatever was selected


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    registry = registry_of(config)
    if not registry.cases and not registry.losses:
        return
    terminalreporter.section("reliability")
    for line in registry.summary_lines():
        terminalreporter.write_line(line)
