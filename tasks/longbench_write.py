"""LongBench-Write (OOD in POLARIS): LongWriter's prompts with a required length
(English file by default: 60 prompts). Quality S_q from six judge dimensions 1-5 (the
judge ignores length) as mean((s-1)*25); length S_l from LongWriter's counting (CJK
characters + English words); S = S_q*S_l/100, and (S_q+S_l)/2 as LongWriter reports.

    inspect eval tasks/longbench_write.py -T dataset=longbench_write_en.jsonl \
        --model <writer> --model-role grader=<judge>
    inspect eval tasks/longbench_write.py -T dataset=longbench_write.jsonl ...  # zh+en
"""

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset

from polaris_bench import __version__
from polaris_bench.bench_scorers import longbench_write_score
from polaris_bench.bench_solvers import MAX_TOKENS_CAP, benchmark_solver
from polaris_bench.datasets import load_longbench_write, with_generations
from polaris_bench.scorers import length_adherence


@task
def longbench_write(
    dataset: str | None = None,
    generations: str | None = None,
    max_tokens: int | None = MAX_TOKENS_CAP,
    rubric: str = "longbench_write",
    compact: bool = False,
    judge_attempts: int = 3,
) -> Task:
    """Args:
    dataset: longbench_write_en.jsonl / longbench_write.jsonl (default: the English
      file, downloaded from LongWriter's GitHub repository into the cache).
    generations: JSONL of existing responses (id = the 1-based line number) to judge.
    max_tokens: generation limit (LongWriter uses 32768).
    rubric, compact, judge_attempts: judging options.
    """
    samples = with_generations(load_longbench_write(dataset), generations)
    return Task(
        dataset=MemoryDataset(samples, name="longbench_write"),
        solver=benchmark_solver(generations, max_tokens=max_tokens),
        scorer=[
            longbench_write_score(rubric=rubric, compact=compact, max_attempts=judge_attempts),
            length_adherence(method="longwriter"),
        ],
        metadata={
            "polaris_bench_version": __version__,
            "benchmark": "longbench_write",
            "split": "OOD",
            "units": "S = S_q * S_l / 100 (0-100)",
            "paper_judge": "Gemini 3.1 Pro",
            "generation": {"max_tokens": max_tokens, "source": "generations file" if generations else "model"},
        },
    )
