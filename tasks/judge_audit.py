"""The judge audit: noise, position, length and injection checks of the grader on
embedded probe stories (optional human agreement with -T preferences=<jsonl>).

    inspect eval tasks/judge_audit.py --model none/none --model-role grader=<judge>
    inspect eval tasks/judge_audit.py -T repeats=3 -T probes=6 ... (or: polaris audit --judge <judge>)

The task lives in ``polaris_bench.benchmarks.judge_audit`` (also registered with Inspect as
``polaris_bench/judge_audit``); this file is its entry point for ``inspect eval tasks/judge_audit.py``.
"""

from functools import wraps

from inspect_ai import Task, task

from polaris_bench.benchmarks import judge_audit as benchmark


@task
@wraps(benchmark.judge_audit, assigned=("__name__", "__qualname__", "__doc__"))  # keeps this module
def judge_audit(**task_args) -> Task:
    return benchmark.judge_audit(**task_args)
