"""Length-generalization sweep: story prompts x requested lengths up to 12k words,
each story judged with the POLARIS Story Quality rubric and measured for length.

    inspect eval tasks/length_gen.py --model <writer> --model-role grader=<judge>
    inspect eval tasks/length_gen.py -T targets=1000,6000,12000 -T prompts=8 ...
"""

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset

from polaris_bench import __version__
from polaris_bench.datasets import use_generations, with_generations
from polaris_bench.scorers import length_adherence, story_quality
from polaris_bench.solvers import write_story
from polaris_bench.sweep import DEFAULT_THINKING_ALLOWANCE, parse_targets, select_prompts, sweep_samples


@task
def length_gen(
    prompts: str | None = None,
    targets: str | None = None,
    max_tokens: int | None = None,
    thinking_allowance: int = DEFAULT_THINKING_ALLOWANCE,
    rubric: str = "story_quality",
    compact: bool = False,
    judge_attempts: int = 3,
    generations: str | None = None,
) -> Task:
    """Args:
    prompts: embedded set (default), a JSONL path, N (first N) or comma-separated ids.
    targets: comma-separated word counts (default 1000,3000,5000,7000,9000,12000).
    max_tokens: fixed generation limit (default: sized from each target).
    thinking_allowance: extra tokens for a thinking writer's reasoning.
    rubric: a bundled rubric name or a YAML path (polaris_sq aggregation).
    compact: judge with scores only (no justifications or quotes).
    judge_attempts: judge calls per story before it is left unscored.
    generations: JSONL of existing stories (id = "<prompt id>@<target>") to judge
      instead of generating.
    """
    samples = with_generations(sweep_samples(select_prompts(prompts), parse_targets(targets)), generations)
    solver = (
        use_generations(generations)
        if generations
        else write_story(max_tokens=max_tokens, thinking_allowance=thinking_allowance)
    )
    return Task(
        dataset=MemoryDataset(samples, name="length_gen"),
        solver=solver,
        scorer=[
            story_quality(rubric=rubric, compact=compact, max_attempts=judge_attempts),
            length_adherence(),
        ],
        metadata={"benchmark": "length_gen", "split": "ID+OOD", "polaris_bench_version": __version__},
    )
