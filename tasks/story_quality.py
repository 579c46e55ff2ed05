"""Story Quality (ID): the POLARIS test prompts (1k-12k words; ``uid``, ``prompt``,
``target_word_count``) judged with the POLARIS SQ rubric, plus length adherence.

    inspect eval tasks/story_quality.py -T dataset=polaris_test.jsonl \
        --model vllm/Qwen/Qwen3.5-9B --model-role grader=openai/gpt-5.4

Without ``-T dataset=`` the prompts come from the HF dataset
rishanthrajendhran/POLARIS (test split), which needs the `datasets` package and
network access; offline, the loader's error names the ``-T dataset=`` override.
"""

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset

from polaris_bench import __version__
from polaris_bench.bench_solvers import benchmark_solver
from polaris_bench.datasets import load_polaris_prompts, with_generations
from polaris_bench.scorers import length_adherence, story_quality as story_quality_scorer
from polaris_bench.sweep import DEFAULT_THINKING_ALLOWANCE


@task
def story_quality(
    dataset: str | None = None,
    split: str = "test",
    generations: str | None = None,
    max_tokens: int | None = None,
    thinking_allowance: int = DEFAULT_THINKING_ALLOWANCE,
    rubric: str = "story_quality",
    compact: bool = False,
    judge_attempts: int = 3,
) -> Task:
    """Args:
    dataset: POLARIS prompt file (.jsonl/.csv/.parquet); default the HF test split.
    split: HF split when no file is given.
    generations: JSONL of existing stories (id = uid) to judge instead of generating.
    max_tokens: fixed generation limit (default: sized from each target).
    thinking_allowance: extra tokens for a thinking writer's reasoning.
    rubric: a bundled rubric name or a YAML path (polaris_sq aggregation).
    compact: judge with scores only (no justifications or quotes).
    judge_attempts: judge calls per story before it is left unscored.
    """
    samples = with_generations(load_polaris_prompts(dataset, split=split, benchmark="story_quality"), generations)
    return Task(
        dataset=MemoryDataset(samples, name="polaris_id"),
        solver=benchmark_solver(generations, max_tokens=max_tokens, thinking_allowance=thinking_allowance),
        scorer=[
            story_quality_scorer(rubric=rubric, compact=compact, max_attempts=judge_attempts),
            length_adherence(),
        ],
        metadata={
            "polaris_bench_version": __version__,
            "benchmark": "story_quality",
            "split": "ID",
            "units": "SQ overall [-159, 108]",
            "paper_judge": "GPT-5.4",
            "generation": {"source": "generations file" if generations else "model"},
        },
    )
