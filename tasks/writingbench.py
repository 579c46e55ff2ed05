"""WritingBench D4 (OOD in POLARIS): queries of domain "Literature & Arts" in English
(no CJK characters; 93 of the domain's 183), each with five query-specific criteria.
One judge call per criterion, with the criterion's 1-10 band descriptions; the sample
score is the mean (1-10); reported per ``domain2``.

    inspect eval tasks/writingbench.py -T dataset=benchmark_all.jsonl \
        --model <writer> --model-role grader=<judge>
    inspect eval tasks/writingbench.py -T dataset=... -T domain=all -T language=zh ...
"""

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset

from polaris_bench import __version__
from polaris_bench.bench_scorers import writingbench_score
from polaris_bench.bench_solvers import benchmark_solver
from polaris_bench.datasets import load_writingbench, with_generations
from polaris_bench.datasets.writingbench import DEFAULT_DOMAIN
from polaris_bench.scorers import length_adherence


@task
def writingbench(
    dataset: str | None = None,
    domain: str = DEFAULT_DOMAIN,
    language: str = "en",
    generations: str | None = None,
    max_tokens: int | None = None,
    rubric: str = "writingbench",
    compact: bool = False,
    judge_attempts: int = 3,
) -> Task:
    """Args:
    dataset: WritingBench benchmark_all.jsonl or a subset in its format (default: the
      copy in the `inspect-evals` package, when installed).
    domain: domain1 to keep ("all" for every domain).
    language: "en" (no CJK in the query), "zh" or "all".
    generations: JSONL of existing responses (id = the row's index) to judge.
    max_tokens: fixed generation limit (default: sized from a stated length).
    rubric, compact, judge_attempts: judging options (5 judge calls per sample).
    """
    samples = with_generations(load_writingbench(dataset, domain=domain, language=language), generations)  # type: ignore[arg-type]
    return Task(
        dataset=MemoryDataset(samples, name=f"writingbench_{domain}_{language}"),
        solver=benchmark_solver(generations, max_tokens=max_tokens),
        scorer=[
            writingbench_score(rubric=rubric, compact=compact, max_attempts=judge_attempts),
            # Chinese lengths are characters: LongWriter's count (CJK chars + words)
            length_adherence(method="paper" if language == "en" else "longwriter"),
        ],
        metadata={
            "polaris_bench_version": __version__,
            "benchmark": "writingbench",
            "split": "OOD",
            "units": "1-10",
            "paper_judge": "Gemini 3.1 Pro",
            "domain": domain,
            "language": language,
            "generation": {"source": "generations file" if generations else "model"},
        },
    )
