"""Pairwise Elo over existing stories (POLARIS's pairwise ladder): the stories of two or
more models for the same prompts, read from their Inspect logs (no regeneration) and
paired by sample id. Every pair is judged in both A/B orders with anonymised labels on
nine criteria, each won by A or B with 1-5 pluses; plus_diff decides the verdict
(>= 10: A>>B 1.0, > 0: A>B 0.75, 0: tie 0.5, > -10: B>A 0.25, else B>>A 0.0). Reports
Glicko-2 ratings (the paper's), Bradley-Terry ratings with bootstrap 95% CIs over
prompts, win rates, and the position bias (how often the verdict flips with the order).

    inspect eval tasks/story_elo.py -T logs=logs/a.eval,logs/b.eval \
        --model-role grader=<judge>
    inspect eval tasks/story_elo.py -T logs=logs/ -T max_words=4000 ...
    inspect eval tasks/story_elo.py -T generations=stories.jsonl ...  # model,id,prompt,story

The task lives in ``polaris_bench.benchmarks.story_elo`` (also registered with Inspect as
``polaris_bench/story_elo``); this file is its entry point for ``inspect eval tasks/story_elo.py``.
"""

from functools import wraps

from inspect_ai import Task, task

from polaris_bench.benchmarks import story_elo as benchmark


@task
@wraps(benchmark.story_elo, assigned=("__name__", "__qualname__", "__doc__"))  # keeps this module
def story_elo(**task_args) -> Task:
    return benchmark.story_elo(**task_args)
