"""EQ-Bench Longform as POLARIS applies it (ID): the POLARIS test prompts (1k-12k words;
``uid``, ``prompt``, ``target_word_count``) judged on 12 EQ-Bench Longform dimensions
0-20: negatives inverted, "Forced Poetry or Metaphor" reshaped (x/20)^1.7*20 and
weighted x5, weighted mean scaled to 0-100; reported per length bucket.

    inspect eval tasks/eqbench_longform.py -T dataset=polaris_test.jsonl \
        --model <writer> --model-role grader=<judge>

The task lives in ``polaris_bench.benchmarks.eqbench_longform`` (also registered with Inspect as
``polaris_bench/eqbench_longform``); this file is its entry point for ``inspect eval tasks/eqbench_longform.py``.
"""

from functools import wraps

from inspect_ai import Task, task

from polaris_bench.benchmarks import eqbench_longform as benchmark


@task
@wraps(benchmark.eqbench_longform, assigned=("__name__", "__qualname__", "__doc__"))  # keeps this module
def eqbench_longform(**task_args) -> Task:
    return benchmark.eqbench_longform(**task_args)
