"""EQ-Bench Creative Writing v3 (OOD in POLARIS): 32 prompts x 3 iterations, each
iteration filling the prompt's <SEED> slot with a different seed modifier (96 samples),
judged on 22 criteria 0-20 (9 negatives inverted); piece score = mean, benchmark score
= mean x 5 on 0-100 with a bootstrap 95% CI over prompts.

    inspect eval tasks/eqbench_creative.py -T dataset=creative_writing_prompts_v3.json \
        --model <writer> --model-role grader=<judge>
    inspect eval tasks/eqbench_creative.py -T dataset=... -T generations=stories.jsonl \
        --model none --model-role grader=<judge>

Generation follows EQ-Bench v3: temperature 0.7 (``--temperature`` overrides it) and
min_p 0.1 where the provider accepts it (vLLM, SGLang, OpenAI-compatible servers,
Together, OpenRouter); each sample records what was applied.

The task lives in ``polaris_bench.benchmarks.eqbench_creative`` (also registered with Inspect as
``polaris_bench/eqbench_creative``); this file is its entry point for ``inspect eval tasks/eqbench_creative.py``.
"""

from functools import wraps

from inspect_ai import Task, task

from polaris_bench.benchmarks import eqbench_creative as benchmark


@task
@wraps(benchmark.eqbench_creative, assigned=("__name__", "__qualname__", "__doc__"))  # keeps this module
def eqbench_creative(**task_args) -> Task:
    return benchmark.eqbench_creative(**task_args)
