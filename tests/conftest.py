"""Shared fixtures. Every test is offline and CPU-only."""

from __future__ import annotations

import os

import pytest

from polaris_bench.judging.rubric import Rubric, load_rubric

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def sq_rubric() -> Rubric:
    return load_rubric("story_quality")
