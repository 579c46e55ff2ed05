"""The headline task end to end with the offline providers (Python API and CLI)."""

import math
import subprocess
import sys
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log
from inspect_ai.model import get_model

from polaris_bench.benchmarks.length_gen import (
    PromptFileError,
    select_prompts,
    sweep_samples,
)
from polaris_bench.benchmarks.solvers import MAX_TOKENS_CAP, max_tokens_for
from polaris_bench.metrics.scorer import LENGTH_KEYS

ROOT = Path(__file__).resolve().parents[1]
SQ_KEYS = {"overall", "reward", "positive_total", "negative_total", "bonus", "penalty"}


def _task(**args):
    sys.path.insert(0, str(ROOT / "tasks"))
    from length_gen import length_gen

    return length_gen(**args)


def _run(tmp_path, task, model="offline/writer-a", grader="offline/judge", **model_args):
    grader_model = get_model(grader, memoize=False, **model_args.pop("grader_args", {}))
    [log] = inspect_eval(
        task, model=model, model_args=model_args, model_roles={"grader": grader_model},
        log_dir=str(tmp_path), display="none",
    )
    assert log.status == "success", log.error
    return log


def test_every_sample_has_every_key(tmp_path):
    log = _run(tmp_path, _task(prompts="2", targets="150,1000"))
    assert len(log.samples) == 4
    ids = {s.id for s in log.samples}
    assert "lighthouse-ledger@150" in ids and "salt-orchard@1000" in ids
    for s in log.samples:
        sq, la = s.scores["story_quality"], s.scores["length_adherence"]
        assert set(sq.value) >= SQ_KEYS and sq.value["reward"] == pytest.approx(sq.value["overall"] / 100)
        meta = sq.metadata
        for key in ("criteria", "positive_total", "negative_total", "bonus", "penalty", "label", "attempts",
                    "judge_model", "rubric_sha256", "template_sha256", "evidence"):
            assert key in meta, key
        assert len(meta["criteria"]) == 18 and meta["judge_model"] == "offline/judge"
        assert set(la.value) == set(LENGTH_KEYS)
        assert la.value["target_words"] == s.metadata["target_words"]
        assert la.metadata["bucket"] == s.metadata["bucket"]
        assert la.value["blank"] == 0  # 150-word target: the blank floor drops to 75 words
    metrics = {m.name: m for m in log.results.scores}
    assert "grouped_short" in metrics["overall"].metrics
    # the log's summary aggregates the headline keys; the totals stay per-sample values
    sq_summary = {m.name for m in log.results.scores if m.scorer == "story_quality"}
    assert {"overall", "reward", "published_overall", "totals_mismatch"} <= sq_summary
    assert not sq_summary & {"positive_total", "negative_total", "bonus", "penalty", "published_overall_recomputed"}
    assert set(metrics["totals_mismatch"].metrics) == {"mean"}


def test_unparseable_judge_leaves_samples_unscored_with_reason(tmp_path):
    log = _run(tmp_path, _task(prompts="1", targets="1000", judge_attempts=2), grader_args={"malformed": 1.0})
    [s] = log.samples
    sq = s.scores["story_quality"]
    assert isinstance(sq.value, float) and math.isnan(sq.value)
    assert "attempt 2" in sq.reason and sq.metadata["attempts"] == 2
    assert s.scores["length_adherence"].value["words"] > 500  # length is still measured


def test_truncation_and_thinking_writer(tmp_path):
    log = _run(tmp_path, _task(prompts="1", targets="3000", max_tokens=200), model="offline/writer", think=True)
    [s] = log.samples
    la = s.scores["length_adherence"].value
    assert la["truncated"] == 1 and la["words"] == 150  # 200 tokens at 0.75 words each
    assert "<think>" in s.output.completion and "Plan" not in s.scores["story_quality"].answer


def test_every_sized_token_budget_is_capped(tmp_path):
    task = _task(prompts="1", targets="1000,12000", thinking=True, thinking_allowance=30000)
    log = _run(tmp_path, task, model="offline/writer-a", length_bias=0.01)
    budgets = {s.metadata["target_words"]: s.metadata["max_tokens"] for s in log.samples}
    assert budgets == {1000: 1500 + 30000, 12000: MAX_TOKENS_CAP}


def test_length_bias_writes_shorter(tmp_path):
    log = _run(tmp_path, _task(prompts="1", targets="1000"), model="offline/writer-a", length_bias=0.5)
    assert log.samples[0].scores["length_adherence"].value["length_ratio"] < 0.6


def test_sweep_dataset_and_prompt_selection(tmp_path):
    assert len(select_prompts(None)) >= 24
    assert [p.id for p in select_prompts("salt-orchard,night-ferry")] == ["salt-orchard", "night-ferry"]
    with pytest.raises(PromptFileError, match="unknown prompt id"):
        select_prompts("nope")
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n')
    with pytest.raises(PromptFileError, match=r"p.jsonl:2: duplicate id"):
        select_prompts(str(bad))
    bad.write_text('{"id": "a"}\n')
    with pytest.raises(PromptFileError, match=r"p.jsonl:1: 'prompt'"):
        select_prompts(str(bad))
    [sample] = sweep_samples(select_prompts("1"), [12000])
    assert sample.input.endswith("Your story should be approximately 12000 words long.")
    assert sample.metadata["bucket"] == "far" and sample.metadata["bucket_2k"] == "10-12k"
    assert max_tokens_for(12000) >= 16000


def test_cli_end_to_end(tmp_path):
    inspect = Path(sys.executable).parent / "inspect"
    result = subprocess.run(
        [str(inspect), "eval", "tasks/length_gen.py", "--model", "offline/writer-b",
         "--model-role", "grader=offline/judge", "-T", "prompts=2", "-T", "targets=1000,5000,12000",
         "--log-dir", str(tmp_path), "--display", "none"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    [path] = list(tmp_path.glob("*.eval"))
    log = read_eval_log(str(path))
    assert log.status == "success" and len(log.samples) == 6
    assert {s.metadata["bucket"] for s in log.samples} == {"ID", "near", "far"}
    assert all("story_quality" in s.scores and "length_adherence" in s.scores for s in log.samples)


def _story_quality_task(**args):
    sys.path.insert(0, str(ROOT / "tasks"))
    from story_quality import story_quality

    return story_quality(**args)


def test_story_quality_task_on_a_local_polaris_file(tmp_path):
    import json

    data = tmp_path / "polaris_test.jsonl"
    rows = [
        {"uid": "p1", "prompt": "A clockmaker's last commission. Your story should be approximately 2000 words long.",
         "target_word_count": 2000},
        {"uid": "p2", "prompt": "Two sisters inherit a bakery.", "target_word_count": 9000},
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows))
    log = _run(tmp_path / "logs", _story_quality_task(dataset=str(data)))
    by_id = {s.id: s for s in log.samples}
    assert by_id["p2"].input.endswith("Your story should be approximately 9000 words long.")
    assert by_id["p2"].metadata["bucket"] == "far"
    for s in log.samples:
        assert set(s.scores["story_quality"].value) >= SQ_KEYS
        assert s.scores["length_adherence"].value["target_words"] == s.metadata["target_words"]


def test_story_quality_without_network_names_the_override(monkeypatch):
    from polaris_bench.benchmarks.common import DatasetError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DatasetError, match="-T dataset="):
        _story_quality_task()


def test_length_gen_judges_existing_generations(tmp_path):
    import json

    gens = tmp_path / "gens.jsonl"
    story = "The ferry came in at dusk and nobody counted the passengers twice. " * 30
    gens.write_text(json.dumps({"id": "night-ferry@1000", "story": story, "model": "released-model"}) + "\n")
    log = _run(tmp_path / "logs", _task(prompts="night-ferry", targets="1000,3000", generations=str(gens)))
    [s] = log.samples
    assert s.id == "night-ferry@1000" and s.output.completion == story
    assert s.scores["length_adherence"].value["words"] == 12 * 30
    gens.write_text(json.dumps({"id": "night-ferry@5000", "story": story}) + "\n")
    from polaris_bench.benchmarks.common import DatasetError

    with pytest.raises(DatasetError, match="matches no prompt"):
        _task(prompts="night-ferry", targets="1000", generations=str(gens))


def test_samples_without_a_target_get_no_value_and_metrics_skip_them(tmp_path):
    from inspect_ai import Task
    from inspect_ai.dataset import Sample

    from polaris_bench.benchmarks.solvers import write_story
    from polaris_bench.metrics.scorer import length_adherence

    task = Task(
        # every loader sets "bucket" (None without a target) and "prompt_id": the metrics need them
        dataset=[Sample(id="free", input="Write a poem about rain.", metadata={"bucket": None, "prompt_id": "free"}),
                 Sample(id="fixed", input="Write a poem.", metadata={"target_words": 200, "bucket": "short", "prompt_id": "fixed"})],
        solver=write_story(),
        scorer=length_adherence(),
    )
    log = _run(tmp_path, task)
    by_id = {s.id: s.scores["length_adherence"].value for s in log.samples}
    assert math.isnan(by_id["free"]["length_ratio"]) and math.isnan(by_id["free"]["target_words"])
    assert by_id["free"]["words"] > 0 and by_id["free"]["blank"] in (0, 1)
    ratio = next(m for m in log.results.scores if m.name == "length_ratio").metrics["mean"].value
    assert ratio == pytest.approx(by_id["fixed"]["length_ratio"])  # the target-less sample is left out


def test_relative_prompt_file_resolves_from_the_start_directory(tmp_path, monkeypatch):
    (tmp_path / "mine.jsonl").write_text('{"id": "x", "prompt": "A story about a kettle."}\n')
    monkeypatch.setenv("PWD", str(tmp_path))
    assert [p.id for p in select_prompts("mine.jsonl")] == ["x"]


def test_truncation_is_detected_without_a_max_tokens_stop_reason():
    from inspect_ai.model import ModelOutput, ModelUsage

    from polaris_bench.metrics.scorer import was_truncated

    out = ModelOutput.from_content(model="hf", content="...", stop_reason="unknown")
    out.usage = ModelUsage(input_tokens=5, output_tokens=300, total_tokens=305)
    assert was_truncated(out, 300) is True  # used the whole budget (Inspect's hf/ provider)
    assert was_truncated(out, 400) is False
    assert was_truncated(out, None) is False
    assert was_truncated(ModelOutput.from_content(model="m", content="x", stop_reason="max_tokens"), None) is True
    assert was_truncated(None, 10) is False
