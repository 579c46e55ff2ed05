"""WritingBench D4 (OOD in POLARIS): queries of domain "Literature & Arts" in English
(no CJK characters; 93 of the domain's 183), each with five query-specific criteria.
One judge call per criterion, with the criterion's 1-10 band descriptions; the sample
score is the mean (1-10); reported per ``domain2``.

    inspect eval tasks/writingbench.py -T dataset=benchmark_all.jsonl \
        --model <writer> --model-role grader=<judge>
    inspect eval tasks/writingbench.py -T dataset=... -T domain=all -T language=zh ...

The task lives in ``polaris_bench.benchmarks.writingbench`` (also registered with Inspect as
``polaris_bench/writingbench``); this file is its entry point for ``inspect eval tasks/writingbench.py``.
"""

from functools import wraps

from inspect_ai import Task, task

from polaris_bench.benchmarks import writingbench as benchmark


@task
@wraps(benchmark.writingbench, assigned=("__name__", "__qualname__", "__doc__"))  # keeps this module
def writingbench(**task_args) -> Task:
    return benchmark.writingbench(**task_args)
