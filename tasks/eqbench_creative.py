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
"""

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset
from inspect_ai.model import GenerateConfig

from polaris_bench import __version__
from polaris_bench.bench_scorers import eqbench_creative_score
from polaris_bench.bench_solvers import MIN_P_PROVIDERS, benchmark_solver
from polaris_bench.datasets import load_eqbench_prompts, with_generations
from polaris_bench.scorers import length_adherence

TEMPERATURE = 0.7
MIN_P = 0.1


@task
def eqbench_creative(
    dataset: str | None = None,
    iterations: int = 3,
    generations: str | None = None,
    temperature: float = TEMPERATURE,
    min_p: float | None = MIN_P,
    max_tokens: int | None = None,
    rubric: str = "eqbench_creative",
    compact: bool = False,
    judge_attempts: int = 3,
) -> Task:
    """Args:
    dataset: path to creative_writing_prompts_v3.json (default: downloaded from
      EQ-Bench's GitHub repository into the cache; offline, pass the file).
    iterations: iterations per prompt, each with the next seed modifier.
    generations: JSONL of existing stories (id = "<prompt id>_<iteration>") to judge
      instead of generating.
    temperature, min_p: generation settings (EQ-Bench v3: 0.7 and 0.1).
    max_tokens: generation limit (default: sized from the stated 1000 words).
    rubric: bundled rubric name or YAML path.
    compact: judge with scores only (no justifications or quotes).
    judge_attempts: judge calls per story before it is left unscored.
    """
    samples = with_generations(load_eqbench_prompts(dataset, iterations=iterations), generations)
    return Task(
        dataset=MemoryDataset(samples, name="eqbench_creative_v3"),
        solver=benchmark_solver(generations, min_p=min_p, max_tokens=max_tokens),
        scorer=[
            eqbench_creative_score(rubric=rubric, compact=compact, max_attempts=judge_attempts),
            length_adherence(),
        ],
        config=GenerateConfig(temperature=temperature),
        metadata={
            "polaris_bench_version": __version__,
            "benchmark": "eqbench_creative",
            "split": "OOD",
            "units": "0-100 (piece score x 5)",
            "paper_judge": "GPT-5.4",
            "generation": {
                "temperature": temperature,
                "min_p": min_p,
                "min_p_providers": sorted(MIN_P_PROVIDERS),
                "source": "generations file" if generations else "model",
            },
            "iterations": iterations,
        },
    )
