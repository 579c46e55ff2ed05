"""Length-generalization sweep: story prompts x requested lengths up to 12k words,
each story judged with the POLARIS Story Quality rubric and measured for length.

    inspect eval tasks/length_gen.py --model <writer> --model-role grader=<judge>
    inspect eval tasks/length_gen.py -T targets=1000,6000,12000 -T prompts=8 ...

The task lives in ``polaris_bench.benchmarks.length_gen`` (also registered with Inspect as
``polaris_bench/length_gen``); this file is its entry point for ``inspect eval tasks/length_gen.py``.
"""

from functools import wraps

from inspect_ai import Task, task

from polaris_bench.benchmarks import length_gen as benchmark


@task
@wraps(benchmark.length_gen, assigned=("__name__", "__qualname__", "__doc__"))  # keeps this module
def length_gen(**task_args) -> Task:
    return benchmark.length_gen(**task_args)
