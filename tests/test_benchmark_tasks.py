"""The benchmark tasks end to end with Inspect: offline writers, the offline judge and
a scripted judge whose replies make every aggregation hand-checkable; ``-T
generations=``; story_elo from real Inspect logs; and one run from the CLI."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog
from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    modelapi,
)

from polaris_bench.benchmarks.common import DatasetError
from polaris_bench.judging.rubric import load_rubric
from polaris_bench.metrics.length import count_words, longwriter_length_score
from polaris_bench.stats import N_RESAMPLES
from polaris_bench.stats.inference import bootstrap_mean_ci

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "benchmarks"
_STORY = re.compile(r"<story>\n?(.*?)\n?</story>", re.DOTALL)
_QUALITY = re.compile(r"\bQ(\d)\b")
_STORY_A = re.compile(r"=== Story A ===\n(.*?)\n=== End of Story A ===", re.DOTALL)
_STORY_B = re.compile(r"=== Story B ===\n(.*?)\n=== End of Story B ===", re.DOTALL)


def load_task(name: str):
    """A task function from tasks/<name>.py (task files are not a package)."""
    spec = importlib.util.spec_from_file_location(f"_task_{name}", ROOT / "tasks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


@modelapi(name="benchjudge")
class BenchJudge(ModelAPI):
    """Scripted grader; the model name picks the behaviour:

    * ``fixed-N``: every criterion scored N (clamped to its range);
    * ``index``: a one-criterion WritingBench call on criterion cK scores K, and the
      criterion named "Humour" gets an unusable reply;
    * ``quality``: pairwise, the story marked Q<n> with the higher n wins every
      criterion by 2 pluses, in either slot.
    """

    def __init__(self, model_name: str, base_url=None, api_key=None, config: GenerateConfig = GenerateConfig(), **kw):
        super().__init__(model_name, base_url, api_key, [], config)

    async def count_text_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    async def generate(self, input: list[ChatMessage], tools, tool_choice, config: GenerateConfig) -> ModelOutput:
        prompt = input[-1].text
        story = _STORY.search(prompt).group(1)
        schema = config.response_schema.json_schema.model_dump(exclude_none=True)
        criteria = schema["properties"]["criteria"]["properties"]
        quote = " ".join(story.split()[:3])
        reply: dict[str, Any] = {"criteria": {}}
        for cid, sub in criteria.items():
            rng = sub["properties"]["score"]
            lo, hi = rng["minimum"], rng["maximum"]
            if self.model_name.startswith("fixed-"):
                value = max(lo, min(hi, int(self.model_name.split("-", 1)[1])))
            elif self.model_name == "index":
                if "Humour" in prompt:
                    return self._out("no idea")
                value = int(cid[1:])
            elif self.model_name == "quality":
                qa = int(_QUALITY.search(_STORY_A.search(story).group(1)).group(1))
                qb = int(_QUALITY.search(_STORY_B.search(story).group(1)).group(1))
                value = 2 if qa > qb else -2 if qb > qa else 0
            else:
                raise ValueError(self.model_name)
            reply["criteria"][cid] = {"justification": "scripted", "quotes": [quote], "score": value}
        for key in schema["properties"]:
            if key != "criteria":
                reply[key] = 0
        return self._out(json.dumps(reply))

    def _out(self, text: str) -> ModelOutput:
        out = ModelOutput.from_content(model=self.model_name, content=text)
        out.usage = ModelUsage(input_tokens=10, output_tokens=10, total_tokens=20)
        return out


def run(task, tmp_path: Path, *, model: str = "offline/writer", grader: str = "offline/judge") -> EvalLog:
    logs = inspect_eval(
        task,
        model=model,
        model_roles={"grader": grader},
        log_dir=str(tmp_path / "logs"),
        display="none",
        max_connections=16,
    )
    log = logs[0]
    assert log.status == "success", log.error
    return log


def metrics(log: EvalLog) -> dict[str, dict[str, float]]:
    return {s.name: {k: v.value for k, v in s.metrics.items()} for s in log.results.scores}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def words(n: int, marker: str = "") -> str:
    return " ".join([marker] * bool(marker) + ["tide"] * (n - bool(marker)))


# -- EQ-Bench Creative ------------------------------------------------------------------------


def test_eqbench_creative_end_to_end(tmp_path):
    log = run(load_task("eqbench_creative")(dataset=str(FIXTURES / "eqbench_prompts.json")), tmp_path)
    assert len(log.samples) == 9  # 3 prompts x 3 iterations
    rubric = load_rubric("eqbench_creative")
    for sample in log.samples:
        score = sample.scores["eqbench_creative_score"]
        raw = score.metadata["criteria"]
        adjusted = [rubric.by_id[c].max - v if rubric.by_id[c].invert else v for c, v in raw.items()]
        piece = sum(adjusted) / 22
        assert score.value["piece_score"] == pytest.approx(piece)
        assert score.value["eqbench"] == pytest.approx(piece * 5)
        assert sample.metadata["target_words"] == 1000
        length = sample.scores["length_adherence"].value
        assert length["target_words"] == 1000 and length["words"] > 0
        # the offline provider does not take min_p: requested, not applied, and recorded
        assert sample.metadata["generation_settings"]["min_p"] is None
        assert sample.metadata["generation_settings"]["min_p_requested"] == 0.1
    m = metrics(log)
    values = [s.scores["eqbench_creative_score"].value["eqbench"] for s in log.samples]
    assert m["eqbench"]["mean"] == pytest.approx(sum(values) / len(values))
    # Inspect prefixes a metric's name with its package only when it sees an installed
    # distribution (not for an editable checkout), so match on the suffix.
    ci = {k.rsplit("/", 1)[-1]: v for k, v in m["eqbench"].items()}
    low, high = ci["bootstrap_ci_low"], ci["bootstrap_ci_high"]
    # 3 prompts are too few for a CI (stats.inference.MIN_CLUSTERS): no interval, not a narrow one
    same = bootstrap_mean_ci(values, [s.metadata["prompt_id"] for s in log.samples], n_resamples=N_RESAMPLES)
    assert same.too_small and math.isnan(low) and math.isnan(high)
    assert log.plan.config.temperature == 0.7
    assert log.eval.metadata["generation"]["min_p"] == 0.1


def test_eqbench_ci_is_the_shared_bootstrap():
    from inspect_ai.scorer import SampleScore, Score

    from polaris_bench.benchmarks.eqbench_creative import bootstrap_ci

    values = [float(v * v % 13) for v in range(21)]
    prompts = [str(i % 7) for i in range(21)]
    scores = [
        SampleScore(score=Score(value=v), sample_id=f"{p}_{i}", sample_metadata={"prompt_id": p})
        for i, (v, p) in enumerate(zip(values, prompts))
    ]
    ci = bootstrap_ci()(scores)
    same = bootstrap_mean_ci(values, prompts, n_resamples=N_RESAMPLES)
    assert (ci["low"], ci["high"]) == (same.low, same.high)
    assert bootstrap_ci(n_resamples=50)(scores) != ci


def test_write_response_sends_min_p_only_where_supported(monkeypatch):
    import asyncio

    from polaris_bench.benchmarks import solvers as bench_solvers

    class Stub:
        def __init__(self, name: str) -> None:
            self.name = name

        def __str__(self) -> str:
            return self.name

    class State:
        def __init__(self) -> None:
            self.metadata = {"target_words": 1000}
            self.output = ModelOutput.from_content(model="stub", content="a story")

    seen: list[dict[str, Any]] = []

    async def generate(state, **kwargs):
        seen.append(kwargs)
        return state

    solve = bench_solvers.write_story(min_p=0.1, thinking=False)
    for name in ("vllm/qwen", "openai/gpt-5.4"):
        monkeypatch.setattr(bench_solvers, "get_model", lambda n=name: Stub(n))
        state = asyncio.run(solve(State(), generate))
    assert seen[0]["extra_body"] == {"min_p": 0.1} and "extra_body" not in seen[1]
    assert seen[0]["max_tokens"] == seen[1]["max_tokens"] > 1000
    assert state.metadata["generation_settings"]["min_p"] is None


def test_generations_replace_the_writer(tmp_path):
    story = "A scripted story about a harbour pilot at night. " * 3
    gen = write_jsonl(tmp_path / "g.jsonl", [{"id": "1_2", "story": story, "model": "paper-model"}])
    task = load_task("eqbench_creative")(dataset=str(FIXTURES / "eqbench_prompts.json"), generations=str(gen))
    log = run(task, tmp_path, model="offline/writer", grader="benchjudge/fixed-10")
    assert [s.id for s in log.samples] == ["1_2"]
    sample = log.samples[0]
    assert sample.output.completion == story
    assert sample.metadata["generation_model"] == "paper-model"
    # every criterion 10: positives 10, negatives inverted to 10 -> piece 10, eqbench 50
    assert sample.scores["eqbench_creative_score"].value == {"eqbench": 50.0, "piece_score": 10.0}
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "1_9", "story": story}])
    with pytest.raises(DatasetError, match="'1_9' matches no prompt"):
        load_task("eqbench_creative")(dataset=str(FIXTURES / "eqbench_prompts.json"), generations=str(bad))


# -- EQ-Bench Longform -------------------------------------------------------------------------


def test_eqbench_longform_by_hand_and_per_bucket(tmp_path):
    rows = [
        {"id": "p-001", "story": words(1500)},
        {"id": "p-002", "story": words(4000)},
        {"id": "p-003", "story": words(9000)},
    ]
    gen = write_jsonl(tmp_path / "g.jsonl", rows)
    task = load_task("eqbench_longform")(dataset=str(FIXTURES / "polaris_prompts.jsonl"), generations=str(gen))
    log = run(task, tmp_path, grader="benchjudge/fixed-10")
    # all 10: inverted negatives 10, forced poetry (10/20)^1.7*20 weighted x5:
    expected = (11 * 10 + 5 * (0.5**1.7) * 20) / 16 * 5
    for sample in log.samples:
        assert sample.scores["eqbench_longform_score"].value["eqbench_longform"] == pytest.approx(expected)
    m = metrics(log)
    assert m["eqbench_longform"]["mean"] == pytest.approx(expected)
    assert {k for k in m["eqbench_longform"] if k.startswith("grouped_")} == {
        "grouped_ID",
        "grouped_near",
        "grouped_far",
    }
    ratios = {s.id: s.scores["length_adherence"].value["length_ratio"] for s in log.samples}
    assert ratios == {"p-001": 1.0, "p-002": 0.8, "p-003": 1.0}


def test_eqbench_longform_generates_with_offline_writer(tmp_path):
    log = run(load_task("eqbench_longform")(dataset=str(FIXTURES / "polaris_prompts.csv")), tmp_path)
    assert len(log.samples) == 2
    for sample in log.samples:
        assert 0 <= sample.scores["eqbench_longform_score"].value["eqbench_longform"] <= 100


# -- WritingBench ------------------------------------------------------------------------------------


def test_writingbench_one_call_per_criterion(tmp_path):
    rows = [{"id": "11", "story": "A holiday case for the sergeant."}, {"id": "12", "story": "Three sonnets."}]
    gen = write_jsonl(tmp_path / "g.jsonl", rows)
    task = load_task("writingbench")(dataset=str(FIXTURES / "writingbench.jsonl"), generations=str(gen))
    log = run(task, tmp_path, grader="benchjudge/index")
    by_id = {s.id: s for s in log.samples}
    # sample 12: criteria c1..c5 scored 1..5 in five separate calls -> mean 3
    poems = by_id["12"].scores["writingbench_score"]
    assert poems.value == {"score": 3.0}
    assert poems.metadata["judge_calls"] == 5
    assert [c["score"] for c in poems.metadata["criteria"]] == [1, 2, 3, 4, 5]
    assert [c["name"] for c in poems.metadata["criteria"]] == ["Form", "Imagery", "Theme", "Commentary", "Cohesion"]
    from inspect_ai.log import resolve_sample_attachments

    events = resolve_sample_attachments(by_id["12"]).events
    judge_calls = [e for e in events if e.event == "model" and e.role == "grader"]
    assert len(judge_calls) == 5
    for call in judge_calls:
        text = call.input[-1].text
        assert text.count("Score 9-10:") == 1  # one criterion, with its bands
    # sample 11 has a criterion the judge cannot score: unscored with the reason, not a partial mean
    detective = by_id["11"].scores["writingbench_score"]
    assert detective.reason and "Humour" in detective.reason
    m = metrics(log)
    assert m["score"]["mean"] == 3.0  # only the scored sample counts
    assert m["score"]["grouped_Poetry"] == 3.0
    assert by_id["11"].metadata["target_words"] == 2000


# -- LongBench-Write --------------------------------------------------------------------------------


def test_longbench_write_s_q_s_l_by_hand(tmp_path):
    rows = [{"id": "1", "story": words(300)}, {"id": "2", "story": words(500)}]
    gen = write_jsonl(tmp_path / "g.jsonl", rows)
    task = load_task("longbench_write")(dataset=str(FIXTURES / "longbench_write_en.jsonl"), generations=str(gen))
    log = run(task, tmp_path, grader="benchjudge/fixed-3")
    by_id = {s.id: s.scores["longbench_write_score"].value for s in log.samples}
    # all dimensions 3: S_q = (3 - 1) * 25 = 50
    # 300 of 300 words: S_l = 100; 500 of 1000: S_l = 100 * (1 - (1000/500 - 1) / 2) = 50
    assert by_id["1"]["S_q"] == 50 and by_id["1"]["S_l"] == 100 and by_id["1"]["S"] == 50 and by_id["1"]["S_avg"] == 75
    assert by_id["2"]["S_l"] == 50 and by_id["2"]["S"] == 25 and by_id["2"]["S_avg"] == 50
    m = metrics(log)
    assert m["S"]["mean"] == pytest.approx(37.5) and m["S_q"]["mean"] == 50 and m["S_l"]["mean"] == 75
    assert m["S_l"]["grouped_<500"] == 100


def test_longbench_write_counts_the_longwriter_way(tmp_path):
    log = run(load_task("longbench_write")(dataset=str(FIXTURES / "longbench_write_mixed.jsonl")), tmp_path)
    for sample in log.samples:
        value = sample.scores["longbench_write_score"].value
        produced = count_words(sample.output.completion, "longwriter")
        assert value["S_l"] == pytest.approx(longwriter_length_score(sample.metadata["target_words"], produced))
        assert value["S"] == pytest.approx(value["S_q"] * value["S_l"] / 100)


# -- story_elo -------------------------------------------------------------------------------------


def test_story_elo_from_generations_ranks_and_measures_bias(tmp_path):
    rows = [
        {"model": name, "id": pid, "prompt": f"Write about {pid}.", "story": f"Q{q} a story by {name} on {pid}."}
        for pid in ("p1", "p2", "p3")
        for name, q in (("strong", 3), ("middle", 2), ("weak", 1))
    ]
    gen = write_jsonl(tmp_path / "g.jsonl", rows)
    task = load_task("story_elo")(generations=str(gen), bootstrap=100)
    log = run(task, tmp_path, model="none/none", grader="benchjudge/quality")
    assert len(log.samples) == 9  # 3 prompts x 3 model pairs
    for sample in log.samples:
        value = sample.scores["pairwise_score"].value
        better_x = {"strong": 3, "middle": 2, "weak": 1}
        expected = 1.0 if better_x[sample.metadata["model_x"]] > better_x[sample.metadata["model_y"]] else 0.0
        assert value["score_x"] == expected and value["flipped"] == 0
        assert abs(value["plus_diff_xy"]) == 18
    m = metrics(log)["pairwise_score"]
    assert m["glicko:strong"] > m["glicko:middle"] > m["glicko:weak"]
    assert m["bt:strong"] > m["bt:middle"] > m["bt:weak"]
    assert m["bt_low:strong"] - 1e-6 <= m["bt:strong"] <= m["bt_high:strong"] + 1e-6
    assert m["win_rate:strong"] == 1.0 and m["win_rate:weak"] == 0.0
    assert m["flip_rate"] == 0.0 and m["slot_a_win_rate"] == 0.5 and m["pairs"] == 9


def test_story_elo_options_reach_the_ratings(tmp_path):
    # the better story changes from prompt to prompt, so resampling prompts matters
    # x's wins (1), losses (0) and ties (0.5), one prompt each
    outcomes = [1, 0, 1, 0.5, 1, 0, 1, 1, 0, 1, 0.5, 1]
    quality = {f"p{i}": {1: (2, 1), 0: (1, 2), 0.5: (1, 1)}[o] for i, o in enumerate(outcomes)}
    rows = [
        {"model": m, "id": pid, "prompt": f"Write about {pid}.", "story": f"Q{q[i]} a story by {m} on {pid}."}
        for pid, q in quality.items()
        for i, m in enumerate(("x", "y"))
    ]
    gen = write_jsonl(tmp_path / "g.jsonl", rows)

    def ratings(periods: int, bootstrap: int) -> dict[str, float]:
        task = load_task("story_elo")(generations=str(gen), glicko_periods=periods, bootstrap=bootstrap)
        log = run(task, tmp_path / f"{periods}-{bootstrap}", model="none/none", grader="benchjudge/quality")
        return metrics(log)["pairwise_score"]

    with pytest.raises(ValueError, match="-T glicko_periods=0: must be at least 1"):
        load_task("story_elo")(generations=str(gen), glicko_periods=0)
    base, periods, draws = ratings(1, 20), ratings(4, 20), ratings(1, 400)
    assert periods["glicko:x"] != pytest.approx(base["glicko:x"])
    assert periods["bt_low:x"] == base["bt_low:x"]
    assert draws["glicko:x"] == base["glicko:x"]
    assert (draws["bt_low:x"], draws["bt_high:x"]) != pytest.approx((base["bt_low:x"], base["bt_high:x"]))


def test_story_elo_from_inspect_logs(tmp_path):
    task_fn = load_task("eqbench_creative")
    paths = []
    for writer in ("offline/writer-a", "offline/writer-b"):
        log = run(task_fn(dataset=str(FIXTURES / "eqbench_prompts.json"), iterations=1), tmp_path / "writers", model=writer)
        paths.append(log.location)
    elo = run(load_task("story_elo")(logs=",".join(paths), bootstrap=50), tmp_path, model="none/none")
    assert len(elo.samples) == 3
    sample = elo.samples[0]
    assert (sample.metadata["model_x"], sample.metadata["model_y"]) == ("offline/writer-a", "offline/writer-b")
    assert sample.metadata["words_x"] > 0 and sample.metadata["story_x"] != sample.metadata["story_y"]
    m = metrics(elo)["pairwise_score"]
    assert {"glicko:offline/writer-a", "glicko:offline/writer-b", "flip_rate"} <= set(m)
    assert elo.eval.metadata["models"] == ["offline/writer-a", "offline/writer-b"]
    # a folder of logs works too, and earlier story_elo runs in it are not writers
    folder = load_task("story_elo")(logs=str(tmp_path))
    assert len(folder.dataset) == 3


def test_story_elo_needs_two_models_and_one_source(tmp_path):
    task_fn = load_task("eqbench_creative")
    log = run(task_fn(dataset=str(FIXTURES / "eqbench_prompts.json"), iterations=1), tmp_path)
    from polaris_bench.benchmarks.story_elo import PairingError

    with pytest.raises(PairingError, match="at least two models"):
        load_task("story_elo")(logs=log.location)
    with pytest.raises(ValueError, match="exactly one of"):
        load_task("story_elo")()


# -- the CLI ------------------------------------------------------------------------------------------


def test_cli_runs_a_benchmark_task(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("INSPECT_")}
    cmd = [
        str(Path(sys.executable).parent / "inspect"),
        "eval",
        "tasks/writingbench.py",
        "-T",
        f"dataset={FIXTURES / 'writingbench.jsonl'}",
        "--model",
        "offline/writer",
        "--model-role",
        "grader=offline/judge",
        "--log-dir",
        str(tmp_path),
        "--display",
        "none",
    ]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    from inspect_ai.log import list_eval_logs, read_eval_log

    logs = list_eval_logs(str(tmp_path))
    assert len(logs) == 1
    log = read_eval_log(logs[0])
    assert log.status == "success" and len(log.samples) == 2
    assert 1 <= metrics(log)["score"]["mean"] <= 10
