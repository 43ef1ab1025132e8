"""Pytest plugin counting the reliability cases of a run: bad inputs, injected faults, lost data.

Tests take the ``reliability`` fixture and record what they exercised::

    reliability.bad_input("align: raster without CRS", passed=True)
    reliability.fault("fetch: HTTP 503 x2", survived=True)
    reliability.data_loss("downscale: output truncated after SIGKILL")   # must never happen

A record belongs to the test that made it: when that test fails, its records count as not passed /
not survived. ``data_loss`` also fails the test. The closing summary of ``make test`` lists the
figures and every case that failed or lost data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

BAD_INPUT = "bad input"
FAULT = "fault"
DATA_LOSS = "data loss"


@dataclass
class Record:
    kind: str
    name: str
    ok: bool
    nodeid: str


@dataclass
class Registry:
    """All records of the session."""

    records: list[Record] = field(default_factory=list)

    def of(self, kind: str) -> list[Record]:
        return [r for r in self.records if r.kind == kind]

    def fail_test(self, nodeid: str) -> None:
        for r in self.records:
            if r.nodeid == nodeid and r.kind != DATA_LOSS:
                r.ok = False

    def summary_lines(self) -> list[str]:
        bad, faults, lost = self.of(BAD_INPUT), self.of(FAULT), self.of(DATA_LOSS)
        lines = [
            f"bad inputs tried: {len(bad)}, handled: {sum(r.ok for r in bad)} (refused with a clear message and "
            "nothing written, or worked where they must)",
            f"faults injected: {len(faults)}, survived: {sum(r.ok for r in faults)} (completed as if undisturbed, "
            "or stopped cleanly and resumed)",
            "cases that lost data: " + (str(len(lost)) if lost else "none"),
        ]
        for r in bad:
            if not r.ok:
                lines.append(f"  bad input NOT handled: {r.name} ({r.nodeid})")
        for r in faults:
            if not r.ok:
                lines.append(f"  fault NOT survived: {r.name} ({r.nodeid})")
        for r in lost:
            lines.append(f"  DATA LOST: {r.name} ({r.nodeid})")
        return lines


class Recorder:
    """What the ``reliability`` fixture gives a test."""

    def __init__(self, registry: Registry, nodeid: str) -> None:
        self._registry = registry
        self._nodeid = nodeid

    def bad_input(self, name: str, passed: bool = True) -> None:
        self._registry.records.append(Record(BAD_INPUT, name, bool(passed), self._nodeid))

    def fault(self, name: str, survived: bool = True) -> None:
        self._registry.records.append(Record(FAULT, name, bool(survived), self._nodeid))

    def data_loss(self, name: str) -> None:
        self._registry.records.append(Record(DATA_LOSS, name, False, self._nodeid))
        pytest.fail(f"data lost: {name}")


_REGISTRY_KEY = pytest.StashKey[Registry]() if hasattr(pytest, "StashKey") else None


def registry_of(config: pytest.Config) -> Registry:
    if _REGISTRY_KEY is not None:
        if _REGISTRY_KEY not in config.stash:
            config.stash[_REGISTRY_KEY] = Registry()
        return config.stash[_REGISTRY_KEY]
    if not hasattr(config, "_smd_reliability"):
        config._smd_reliability = Registry()  # type: ignore[attr-defined]
    return config._smd_reliability  # type: ignore[attr-defined]


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> Recorder:
    """Records bad inputs, faults and data loss for the closing summary."""
    return Recorder(registry_of(request.config), request.node.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        registry_of(item.config).fail_test(item.nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    registry = registry_of(config)
    if not registry.records:
        return
    terminalreporter.section("reliability")
    for line in registry.summary_lines():
        terminalreporter.write_line(line)
