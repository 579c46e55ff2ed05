"""EQ-Bench Longform as POLARIS applies it (ID): the POLARIS test prompts (1k-12k words;
``uid``, ``prompt``, ``target_word_count``) judged on 12 EQ-Bench Longform dimensions
0-20: negatives inverted, "Forced Poetry or Metaphor" reshaped (x/20)^1.7*20 and
weighted x5, weighted mean scaled to 0-100; reported per length bucket.

    inspect eval tasks/eqbench_longform.py -T dataset=polaris_test.jsonl \
        --model <writer> --model-role grader=<judge>
"""

from __future__ import annotations

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset
from inspect_ai.scorer import Scorer, grouped, mean, scorer

from polaris_bench import __version__
from polaris_bench.benchmarks.generations import with_generations
from polaris_bench.benchmarks.solvers import DEFAULT_THINKING_ALLOWANCE, story_solver
from polaris_bench.benchmarks.story_quality import POLARIS_HF_REVISION, load_polaris_prompts
from polaris_bench.judging.judge import DEFAULT_JUDGE_ATTEMPTS
from polaris_bench.judging.rubric import load_rubric
from polaris_bench.judging.scorers import _judge_config, make_rubric_scorer
from polaris_bench.metrics.scorer import length_adherence, prompt_stderr


@scorer(
    metrics={
        "eqbench_longform": [
            mean(),
            prompt_stderr(),
            grouped(mean(), "bucket", all=False),
        ],
        "criteria_mean": [mean()],
    }
)
def eqbench_longform_score(
    rubric: str = "eqbench_longform",
    compact: bool = False,
    max_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    grader: str | None = None,
    partial_replies: bool = False,
) -> Scorer:
    """EQ-Bench Longform (POLARIS's 12 dimensions): ``eqbench_longform`` 0-100."""
    loaded = load_rubric(rubric)
    return make_rubric_scorer(loaded, judge=_judge_config(compact, max_attempts, partial_replies), grader=grader)



@task
def eqbench_longform(
    dataset: str | None = None,
    split: str = "test",
    revision: str | None = POLARIS_HF_REVISION,
    generations: str | None = None,
    max_tokens: int | None = None,
    thinking_allowance: int = DEFAULT_THINKING_ALLOWANCE,
    rubric: str = "eqbench_longform",
    compact: bool = False,
    judge_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    partial_replies: bool = False,
) -> Task:
    """Args:
    dataset: POLARIS prompt file (.jsonl/.csv/.parquet with uid, prompt,
      target_word_count); default the HF dataset rishanthrajendhran/POLARIS (needs
      the `datasets` package and network).
    split: HF split when no file is given.
    revision: HF dataset commit id to pin when no file is given (default: main, warned).
    generations: JSONL of existing stories (id = uid) to judge instead of generating.
    max_tokens: fixed generation limit (default: sized from each target).
    thinking_allowance: extra tokens for a thinking writer's reasoning.
    rubric, compact, judge_attempts: judging options.
    partial_replies: average the criteria a judge reply returned when it leaves some
      out, as the POLARIS evaluation code does (default: retry, then unscored).
    """
    samples = with_generations(
        load_polaris_prompts(dataset, split=split, benchmark="eqbench_longform", revision=revision), generations
    )
    return Task(
        dataset=MemoryDataset(samples, name="polaris_id"),
        solver=story_solver(generations, max_tokens=max_tokens, thinking_allowance=thinking_allowance),
        scorer=[
            eqbench_longform_score(rubric=rubric, compact=compact, max_attempts=judge_attempts,
                partial_replies=partial_replies),
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
