"""EQ-Bench Longform as POLARIS applies it (ID): the POLARIS test prompts (1k-12k words;
``uid``, ``prompt``, ``target_word_count``) judged on 12 EQ-Bench Longform dimensions
0-20: negatives inverted, "Forced Poetry or Metaphor" reshaped (x/20)^1.7*20 and
weighted x5, weighted mean scaled to 0-100; reported per length bucket.

    inspect eval tasks/eqbench_longform.py -T dataset=polaris_test.jsonl \
        --model <writer> --model-role grader=<judge>
"""

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset

from polaris_bench import __version__
from polaris_bench.bench_scorers import eqbench_longform_score
from polaris_bench.bench_solvers import benchmark_solver
from polaris_bench.datasets import load_polaris_prompts, with_generations
from polaris_bench.scorers import length_adherence
from polaris_bench.sweep import DEFAULT_THINKING_ALLOWANCE


@task
def eqbench_longform(
    dataset: str | None = None,
    split: str = "test",
    generations: str | None = None,
    max_tokens: int | None = None,
    thinking_allowance: int = DEFAULT_THINKING_ALLOWANCE,
    rubric: str = "eqbench_longform",
    compact: bool = False,
    judge_attempts: int = 3,
) -> Task:
    """Args:
    dataset: POLARIS prompt file (.jsonl/.csv/.parquet with uid, prompt,
      target_word_count); default the HF dataset rishanthrajendhran/POLARIS (needs
      the `datasets` package and network).
    split: HF split when no file is given.
    generations: JSONL of existing stories (id = uid) to judge instead of generating.
    max_tokens: fixed generation limit (default: sized from each target).
    thinking_allowance: extra tokens for a thinking writer's reasoning.
    rubric, compact, judge_attempts: judging options.
    """
    samples = with_generations(load_polaris_prompts(dataset, split=split, benchmark="eqbench_longform"), generations)
    return Task(
        dataset=MemoryDataset(samples, name="polaris_id"),
        solver=benchmark_solver(generations, max_tokens=max_tokens, thinking_allowance=thinking_allowance),
        scorer=[
            eqbench_longform_score(rubric=rubric, compact=compact, max_attempts=judge_attempts),
            length_adherence(),
        ],
        metadata={
            "polaris_bench_version": __version__,
            "benchmark": "eqbench_longform",
            "split": "ID",
            "units": "0-100",
            "paper_judge": "GPT-5.4",
            "generation": {"source": "generations file" if generations else "model"},
        },
    )
