"""The closing reliability summary (tests/reliability.py), checked on generated test files run by pytester."""

from __future__ import annotations

import os

import pytest

from smdownscale.tests.reliability import Snapshot

pytest_plugins = ["pytester"]

#: The inner runs load the plugin under test and nothing that starts QGIS.
PLUGIN_ARGS = ("-p", "smdownscale.tests.reliability", "-p", "no:pytest_qgis", "-p", "no:cacheprovider")

INPUTS = """
import pytest


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.tif").write_bytes(b"a" * 100)
    (folder / "b.tif").write_bytes(b"b" * 100)
    return folder


@pytest.fixture
def broken():
    raise RuntimeError("this fixture breaks")
"""


def _summary(result: pytest.RunResult) -> list[str]:
    """The lines of the ``reliability`` section of an inner run."""
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if line.startswith("=") and " reliability " in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("=")), len(lines))
    return lines[start + 1:end]


def test_summary_counts_real_outcomes_deselected_cases_and_data_loss(pytester):
    pytester.makeconftest(INPUTS)
    pytester.makepyfile(test_cases="""
        import pytest

        @pytest.mark.bad_input("handled")
        def test_handled(reliability, inputs):
            reliability.watch(inputs)
            (inputs / "a.tif.aux.xml").write_text("<PAMDataset/>")  # a new file beside an input: not data loss

        @pytest.mark.bad_input("fails in call")
        def test_fails():
            assert False

        @pytest.mark.bad_input("errors in setup")
        def test_setup_error(broken):
            pass

        @pytest.mark.fault("left out")
        def test_deselected():
            pass

        @pytest.mark.fault("overwrites its input")
        def test_overwrites(reliability, inputs):
            reliability.watch(inputs)
            (inputs / "b.tif").write_bytes(b"trunc")
            assert 1 == 2, "another reason"
    """)
    result = pytester.runpytest(*PLUGIN_ARGS, "--deselect", "test_cases.py::test_deselected")
    result.assert_outcomes(passed=1, failed=2, errors=1, deselected=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert _summary(result) == [
        "bad inputs: expected 3, ran 3, handled 1, failed 2, skipped 0, deselected 0",
        "faults: expected 2, ran 1, survived 0, failed 1, skipped 0, deselected 1",
        "tests that lost data: 1",
        "  bad input NOT handled: fails in call (test_cases.py::test_fails: failed)",
        "  bad input NOT handled: errors in setup (test_cases.py::test_setup_error: error in setup)",
        "  fault NOT survived: overwrites its input (test_cases.py::test_overwrites: failed)",
        "  fault deselected: left out (test_cases.py::test_deselected)",
        "  DATA LOST: watched inputs: in/b.tif changed (test_cases.py::test_overwrites)",
    ]
    result.stdout.fnmatch_lines(["*AssertionError: another reason*"])  # the test's own failure is shown


def test_skips_several_markers_keyword_deselection_and_loss_in_a_passing_test(pytester):
    pytester.makeconftest(INPUTS)
    pytester.makepyfile(test_more="""
        import os
        import pytest

        @pytest.mark.bad_input("first")
        @pytest.mark.bad_input("second")
        def test_both_cases(reliability):
            pass

        @pytest.mark.bad_input("needs a tool")
        def test_skipped():
            pytest.skip("tool missing")

        @pytest.mark.fault("known bug")
        @pytest.mark.xfail(reason="known")
        def test_xfail():
            assert False

        @pytest.mark.parametrize("n", [pytest.param(1, marks=pytest.mark.fault("one"), id="one"),
                                       pytest.param(2, marks=pytest.mark.fault("two"), id="two")])
        def test_param(n):
            pass

        @pytest.mark.fault("deletes quietly")
        def test_deletes(reliability, inputs):
            reliability.watch(inputs, label="inputs")
            os.remove(inputs / "a.tif")

        def test_truncates_the_previous_result(reliability, inputs):
            with pytest.raises(OSError):
                with reliability.watch(inputs / "b.tif", label="previous result"):
                    (inputs / "b.tif").write_bytes(b"")
                    raise OSError("cannot open the truncated file")
            # the error went on its way; the loss is recorded all the same
    """)
    result = pytester.runpytest(*PLUGIN_ARGS, "-k", "not two")
    result.assert_outcomes(passed=4, skipped=1, xfailed=1, errors=2, deselected=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert _summary(result) == [
        "bad inputs: expected 3, ran 2, handled 2, failed 0, skipped 1, deselected 0",
        "faults: expected 4, ran 3, survived 1, failed 2, skipped 0, deselected 1",
        "tests that lost data: 2",
        "  bad input skipped: needs a tool (test_more.py::test_skipped: tool missing)",
        "  fault NOT survived: known bug (test_more.py::test_xfail: xfail)",
        "  fault NOT survived: deletes quietly (test_more.py::test_deletes: error in teardown)",
        "  fault deselected: test_more.py::test_param[two]",
        "  DATA LOST: inputs: in/a.tif vanished (test_more.py::test_deletes)",
        "  DATA LOST: previous result: b.tif changed (test_more.py::test_truncates_the_previous_result)",
    ]


def test_cases_left_by_an_early_stop_and_loss_outside_any_test(pytester):
    pytester.makepyfile(test_stop="""
        import pytest
        from smdownscale.tests.reliability import record_loss

        @pytest.fixture(scope="module")
        def shared(request):
            record_loss(request.config, "runs made up front changed inputs: x.tif changed", "test_stop.py::shared")

        @pytest.mark.bad_input("first")
        def test_first(shared):
            assert False

        @pytest.mark.bad_input("second")
        def test_second(shared):
            pass
    """)
    result = pytester.runpytest(*PLUGIN_ARGS, "-x")
    result.assert_outcomes(failed=1)
    assert _summary(result) == [
        "bad inputs: expected 2, ran 1, handled 0, failed 1, skipped 0, deselected 0, not run 1",
        "tests that lost data: 1",
        "  bad input NOT handled: first (test_stop.py::test_first: failed)",
        "  bad input not run: second (test_stop.py::test_second)",
        "  DATA LOST: runs made up front changed inputs: x.tif changed (test_stop.py::shared)",
    ]
    pytester.makepyfile(test_stop="""
        import pytest
        from smdownscale.tests.reliability import record_loss

        @pytest.fixture(scope="module")
        def shared(request):
            record_loss(request.config, "x.tif changed", "test_stop.py::shared")

        def test_passes(shared):
            pass
    """)
    result = pytester.runpytest(*PLUGIN_ARGS)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # lost data fails the run whatever passed


def test_no_summary_without_cases(pytester):
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest(*PLUGIN_ARGS)
    assert result.ret == 0 and " reliability " not in result.stdout.str()


def test_snapshot_reads_links_and_unreadable_files_without_following_them(tmp_path):
    (tmp_path / "data.tif").write_bytes(b"x" * 10)
    os.symlink("/proc/self/mem", tmp_path / "mem.tif")  # reading it would fail with an I/O error
    (tmp_path / "empty_dir.tif").mkdir()
    snap = Snapshot(tmp_path)
    assert snap.lost() == [] and snap.new() == []
    (tmp_path / "empty_dir.tif").rmdir()
    (tmp_path / "data.tif.aux.xml").write_text("<PAMDataset/>")
    name = tmp_path.name
    assert snap.lost() == [f"{name}/empty_dir.tif vanished"]
    assert snap.new() == [f"{name}/data.tif.aux.xml"]
