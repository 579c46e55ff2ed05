"""Shared fixtures. Every test is offline and CPU-only. A test that needs something
outside the repository declares it with ``prerequisites`` (skipped where missing, a
failure when CI=true)."""

from __future__ import annotations

import os

import pytest
from prerequisites import pytest_runtest_setup  # noqa: F401  (the hook for `needs` marks)

from polaris_bench.judging.rubric import Rubric, load_rubric

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def sq_rubric() -> Rubric:
    return load_rubric("story_quality")
