"""`make help` names every target of the Makefile."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _phony_targets() -> list[str]:
    text = open(os.path.join(ROOT, "Makefile"), encoding="utf-8").read()
    phony = re.search(r"^\.PHONY:(.*)$", text, re.M).group(1).split()
    defined = set(re.findall(r"^([a-z][\w-]*(?: [a-z][\w-]*)*):", text, re.M))
    names = {name for line in defined for name in line.split()}
    assert set(phony) <= names, set(phony) - names  # a .PHONY name without a rule is a typo
    return phony


def test_make_help_lists_every_target():
    if shutil.which("make") is None:
        pytest.fail("make is not installed; install it (apt-get install make) to run this test")
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    listed = {m.group(1) for m in re.finditer(r"^make ([\w-]+)", out, re.M)}
    targets = set(_phony_targets()) - {"help"}
    assert targets - listed == set()
    assert listed - targets == set()  # and nothing that is not a target
