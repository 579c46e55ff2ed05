"""Story Quality (ID): the POLARIS test prompts (1k-12k words; ``uid``, ``prompt``,
``target_word_count``) judged with the POLARIS SQ rubric, plus length adherence.

    inspect eval tasks/story_quality.py -T dataset=polaris_test.jsonl \
        --model vllm/Qwen/Qwen3.5-9B --model-role grader=openai/gpt-5.4

Without ``-T dataset=`` the prompts come from the HF dataset
rishanthrajendhran/POLARIS (test split), which needs the `datasets` package and
network access; offline, the loader's error names the ``-T dataset=`` override.

The task lives in ``polaris_bench.benchmarks.story_quality`` (also registered with Inspect as
``polaris_bench/story_quality``); this file is its entry point for ``inspect eval tasks/story_quality.py``.
"""

from functools import wraps

from inspect_ai import Task, task

from polaris_bench.benchmarks import story_quality as benchmark


@task
@wraps(benchmark.story_quality, assigned=("__name__", "__qualname__", "__doc__"))  # keeps this module
def story_quality(**task_args) -> Task:
    return benchmark.story_quality(**task_args)
