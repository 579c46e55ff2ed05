"""A test whose prerequisite is missing is skipped locally and fails with CI=true."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

INNER = '''
from prerequisites import missing, need_module, needs

def test_marked_missing():
    pass

test_marked_missing = needs(False, "../shared/nothing-here")(test_marked_missing)

@needs(True, "something present")
def test_marked_present():
    pass

def test_missing_inside():
    missing("the local model")

def test_module_not_installed():
    need_module("no_such_package_polaris", "no_such_package_polaris from the [local] extra")
'''


@pytest.mark.parametrize("ci", [None, "true"])
def test_missing_prerequisite_skips_locally_and_fails_in_ci(pytester, monkeypatch, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_inprocess("-p", "prerequisites", "-rsf")
    if ci is None:
        result.assert_outcomes(passed=1, skipped=3)
        result.stdout.fnmatch_lines(["*prerequisite missing: ../shared/nothing-here*"])
    else:
        result.assert_outcomes(passed=1, failed=2, errors=1)  # a mark fails in setup: an error
        result.stdout.fnmatch_lines([
            "*CI=true and a prerequisite is missing: ../shared/nothing-here*",
            "*CI=true and a prerequisite is missing: the local model*",
            "*CI=true and a prerequisite is missing: no_such_package_polaris from the [[]local[]] extra*",
        ])


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_ci_off_values(monkeypatch, value):
    from prerequisites import in_ci

    monkeypatch.setenv("CI", value)
    assert not in_ci()
    monkeypatch.setenv("CI", "true")
    assert in_ci()
