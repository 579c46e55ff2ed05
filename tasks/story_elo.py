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
"""

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.solver import Generate, Solver, TaskState, solver

from polaris_bench import __version__
from polaris_bench.bench_scorers import pairwise_score
from polaris_bench.length import count_words, strip_thinking
from polaris_bench.pairwise import PAIRWISE_RUBRIC, round_robin, stories_from_generations, stories_from_logs


@solver
def compare_existing() -> Solver:
    """Nothing to generate: the stories are in the sample metadata."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        return state

    return solve


@task
def story_elo(
    logs: str | None = None,
    generations: str | None = None,
    models: str | None = None,
    max_words: int | None = None,
    rubric: str = PAIRWISE_RUBRIC,
    compact: bool = False,
    judge_attempts: int = 3,
    glicko_periods: int = 1,
    bootstrap: int = 1000,
) -> Task:
    """Args:
    logs: comma-separated Inspect logs (or folders of logs) of the models to compare.
    generations: instead of logs, a JSONL with model, id, prompt and story per row.
    models: comma-separated subset of the models found (default: all).
    max_words: truncate each story to this many words before judging (default: none).
    rubric: pairwise rubric (default story_elo: nine criteria, signed plus margins).
    compact, judge_attempts: judging options (2 judge calls per pair).
    glicko_periods: Glicko-2 rating periods over the round robin (1: textbook).
    bootstrap: bootstrap resamples for the Bradley-Terry CIs.
    """
    if bool(logs) == bool(generations):
        raise ValueError("story_elo needs exactly one of -T logs=<a.eval,b.eval|folder> or -T generations=<jsonl>")
    pool = stories_from_logs(logs) if logs else stories_from_generations(generations)  # type: ignore[arg-type]
    chosen = [m.strip() for m in models.split(",")] if models else None
    pairs = round_robin(pool, chosen)
    samples = [
        Sample(
            id=pair.id,
            input=pair.prompt,
            metadata={
                "benchmark": "story_elo",
                "prompt": pair.prompt,
                "sample_id": pair.sample_id,
                "epoch": pair.epoch,
                "model_x": pair.x.model,
                "model_y": pair.y.model,
                "story_x": pair.x.story,
                "story_y": pair.y.story,
                "words_x": count_words(strip_thinking(pair.x.story)),
                "words_y": count_words(strip_thinking(pair.y.story)),
                "source_x": pair.x.source,
                "source_y": pair.y.source,
            },
        )
        for pair in pairs
    ]
    return Task(
        dataset=MemoryDataset(samples, name="story_elo_pairs"),
        solver=compare_existing(),
        scorer=pairwise_score(
            rubric=rubric,
            max_words=max_words,
            compact=compact,
            max_attempts=judge_attempts,
            glicko_periods=glicko_periods,
            bootstrap=bootstrap,
        ),
        model="none/none",
        metadata={
            "polaris_bench_version": __version__,
            "benchmark": "story_elo",
            "split": "ID+OOD",
            "units": "Glicko-2 rating (Elo scale); Bradley-Terry with 95% CI",
            "paper_judge": "Gemini 3 Flash",
            "models": sorted({p.x.model for p in pairs} | {p.y.model for p in pairs}),
            "skipped": pool.skipped,
            "max_words": max_words,
        },
    )
