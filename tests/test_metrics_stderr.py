"""Inspect's standard errors are clustered by prompt, like the store's intervals: the
``stderr`` a log reports is the cluster-robust value computed from the stored rows."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from inspect_ai import eval as inspect_eval

from polaris_bench.store import connect, ingest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "benchmarks"


def clustered_se(values: np.ndarray, clusters: np.ndarray) -> float:
    """Cluster-robust standard error of the mean, by hand:
    sqrt(C / (C - 1) * sum_c (sum_{i in c} (x_i - mean))^2) / n."""
    mean = values.mean()
    sums = [float((values[clusters == c] - mean).sum()) for c in np.unique(clusters)]
    k = len(sums)
    return math.sqrt(k / (k - 1) * sum(s * s for s in sums)) / len(values)


def plain_se(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / math.sqrt(len(values)))


def _length_gen(**args):
    if str(ROOT / "tasks") not in sys.path:
        sys.path.insert(0, str(ROOT / "tasks"))
    from length_gen import length_gen

    return length_gen(**args)


def test_log_stderr_is_the_store_clustered_value(tmp_path):
    [log] = inspect_eval(
        _length_gen(prompts="4", targets="300,600,900"), model="offline/writer",
        model_roles={"grader": "offline/judge"}, log_dir=str(tmp_path / "logs"), display="none",
    )
    assert log.status == "success", log.error
    reported = {s.name: s.metrics for s in log.results.scores}
    # grouped metrics are named grouped_<bucket> under their key, short enough that the
    # terminal's metric table does not cut them off (it did at grouped_length_ratio_...)
    names = {name for metrics in reported.values() for name in metrics}
    assert "grouped_short" in names and max(map(len, names)) <= len("grouped_beyond")

    con = connect(":memory:")
    ingest(con, [tmp_path / "logs"])
    checked = 0
    for scorer, key in (("story_quality", "overall"), ("length_adherence", "length_ratio"),
                        ("length_adherence", "self_repetition")):
        rows = con.execute(
            "SELECT s.prompt_id, v.value FROM scores v JOIN samples s USING (run_id, sample_id, epoch) "
            "WHERE v.scorer = ? AND v.key = ? AND v.value IS NOT NULL ORDER BY s.sample_id",
            [scorer, key],
        ).fetchall()
        assert len(rows) == 12 and len({r[0] for r in rows}) == 4
        clusters = np.array([r[0] for r in rows])
        values = np.array([r[1] for r in rows], dtype=float)
        expected = clustered_se(values, clusters)
        assert reported[key]["stderr"].value == pytest.approx(expected, rel=1e-9), key
        # a check that can fail: the unclustered value is a different number here
        assert abs(plain_se(values) - expected) > 1e-6 * max(1.0, expected), key
        checked += 1
    assert checked == 3


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("length_gen", {"prompts": "3", "targets": "300,600"}),
        ("story_quality", {"dataset": str(FIXTURES / "polaris_prompts.jsonl")}),
        ("eqbench_longform", {"dataset": str(FIXTURES / "polaris_prompts.csv")}),
        ("eqbench_creative", {"dataset": str(FIXTURES / "eqbench_prompts.json")}),
        ("writingbench", {"dataset": str(FIXTURES / "writingbench.jsonl")}),
        ("longbench_write", {"dataset": str(FIXTURES / "longbench_write_mixed.jsonl")}),
    ],
)
def test_every_benchmark_sample_names_its_prompt(name, args):
    """The clustered stderr needs ``prompt_id`` on every sample (story_elo has no
    stderr: its metric is a rating)."""
    if str(ROOT / "tasks") not in sys.path:
        sys.path.insert(0, str(ROOT / "tasks"))
    task = getattr(__import__(name), name)(**args)
    samples = list(task.dataset)
    assert samples
    for sample in samples:
        pid = (sample.metadata or {}).get("prompt_id")
        assert isinstance(pid, str) and pid, (name, sample.id)
