"""LongBench-Write (OOD in POLARIS): LongWriter's prompts with a required length
(English file by default: 60 prompts). Quality S_q from six judge dimensions 1-5 (the
judge ignores length) as mean((s-1)*25); length S_l from LongWriter's counting (CJK
characters + English words); S = S_q*S_l/100, and (S_q+S_l)/2 as LongWriter reports.

    inspect eval tasks/longbench_write.py -T dataset=longbench_write_en.jsonl \
        --model <writer> --model-role grader=<judge>
    inspect eval tasks/longbench_write.py -T dataset=longbench_write.jsonl ...  # zh+en

The task lives in ``polaris_bench.benchmarks.longbench_write`` (also registered with Inspect as
``polaris_bench/longbench_write``); this file is its entry point for ``inspect eval tasks/longbench_write.py``.
"""

from functools import wraps

from inspect_ai import Task, task

from polaris_bench.benchmarks import longbench_write as benchmark


@task
@wraps(benchmark.longbench_write, assigned=("__name__", "__qualname__", "__doc__"))  # keeps this module
def longbench_write(**task_args) -> Task:
    return benchmark.longbench_write(**task_args)
