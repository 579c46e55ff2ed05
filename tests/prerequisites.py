"""What some tests need from outside the repository: ``../shared/``, the local model, an
optional extra. Where it is missing the test is skipped, except with ``CI=true``: there
it fails, naming the prerequisite, so a CI run cannot pass by skipping."""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(what: str) -> NoReturn:
    """Skip (or, in CI, fail) the current test or module: ``what`` is not there."""
    if in_ci():
        pytest.fail(f"CI=true and a prerequisite is missing: {what}", pytrace=False)
    pytest.skip(f"prerequisite missing: {what}", allow_module_level=True)


def needs(ok: bool, what: str) -> pytest.MarkDecorator:
    """A mark for a test (or a module's ``pytestmark``) that needs ``what``."""
    return pytest.mark.prerequisite(ok=ok, what=what)


def need_module(name: str, what: str | None = None) -> ModuleType:
    """``pytest.importorskip`` that fails in CI."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        reason = str(exc)
    missing(f"{what or 'the Python package ' + name} ({reason})")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Hook (re-exported by conftest.py): applies the ``prerequisite`` marks."""
    for mark in item.iter_markers("prerequisite"):
        if not mark.kwargs["ok"]:
            missing(mark.kwargs["what"])
