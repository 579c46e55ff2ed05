"""Entry point for Inspect (``[project.entry-points.inspect_ai]``). Importing this
module registers the project's model providers (``--model offline/writer``,
``--model-role grader=offline/judge``, ``--model-role grader=hfjson/<path>``) and its
tasks, so ``inspect eval polaris_bench/length_gen`` works from an installed wheel."""

# ruff: noqa: F401
from polaris_bench.benchmarks.eqbench_creative import eqbench_creative
from polaris_bench.benchmarks.eqbench_longform import eqbench_longform
from polaris_bench.benchmarks.judge_audit import judge_audit
from polaris_bench.benchmarks.length_gen import length_gen
from polaris_bench.benchmarks.longbench_write import longbench_write
from polaris_bench.benchmarks.story_elo import story_elo
from polaris_bench.benchmarks.story_quality import story_quality
from polaris_bench.benchmarks.writingbench import writingbench
from polaris_bench.providers import offline
from polaris_bench.providers import registry as hfjson_registry
