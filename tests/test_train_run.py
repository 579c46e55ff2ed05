"""The entry point end to end: the smoke recipe (tiny model, offline judge) trains,
writes metrics with the HRI row, resumes from its checkpoint, and the checkpoint is
evaluated with the same Inspect task through the hf provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prerequisites import need_module

need_module("trl", "trl from the [train] extra")

from polaris_bench.train.run import main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "train" / "configs" / "smoke.yaml"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    base = ["--config", str(SMOKE), "--output-dir", str(out), "--set", "grpo.save_steps=1"]
    assert main([*base, "--max-steps", "2"]) == 0
    first = json.loads((out / "train_summary.json").read_text())
    assert main([*base, "--max-steps", "3"]) == 0  # resumes from checkpoint-2
    second = json.loads((out / "train_summary.json").read_text())
    return out, first, second


def snapshot(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and "eval_logs" not in p.parts
    }


def test_rerunning_a_finished_run_does_nothing(smoke_run, capsys):
    """The run is finished at step 3 (checkpoint-3): the same command again trains no
    step, writes no checkpoint and leaves train_summary.json and metrics.jsonl as they were."""
    out, _, second = smoke_run
    base = ["--config", str(SMOKE), "--output-dir", str(out), "--set", "grpo.save_steps=1"]
    before = snapshot(out)
    capsys.readouterr()
    assert main([*base, "--max-steps", "3"]) == 0
    assert snapshot(out) == before
    assert not (out / "checkpoint-4").exists()
    assert "already finished at step 3" in capsys.readouterr().err
    assert json.loads((out / "train_summary.json").read_text()) == second


def test_resume_none_refuses_to_overwrite_a_run(smoke_run, capsys):
    out, _, _ = smoke_run
    before = snapshot(out)
    assert main(["--config", str(SMOKE), "--output-dir", str(out), "--resume", "none"]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert snapshot(out) == before


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_smoke_recipe_trains_and_logs_the_hri_row(smoke_run):
    out, first, _ = smoke_run
    assert first["global_step"] == 2 and first["resumed_from"] is None
    metrics = [m for m in read_jsonl(out / "metrics.jsonl") if "hri/weight" in m]
    assert [m["step"] for m in metrics] == [1, 2, 3]
    assert sum(m["hri/ref_rows"] for m in metrics) > 0
    assert all("reward/sq" in m and "hri/policy_reward_std" in m and "hri/skipped_too_long" in m for m in metrics)
    rows = read_jsonl(out / "hri_rows.jsonl")
    assert rows and {"reference_reward", "advantage_raw", "weight", "advantage", "group_policy_rewards"} <= set(rows[0])
    assert len(rows[0]["group_policy_rewards"]) == 3  # G=4: three sampled rows beside the reference
    # the shipped smoke data has a too-long reference: counted as skipped
    assert sum(m["hri/skipped_too_long"] for m in metrics) > 0
    # TRL's completions table carries the reference flag and its real advantage
    import pandas as pd

    table = pd.read_parquet(sorted((out / "completions").glob("*.parquet"))[-1])
    assert "hri_reference" in table.columns


def test_resume_continues_from_the_checkpoint(smoke_run):
    out, _, second = smoke_run
    assert second["global_step"] == 3
    assert second["resumed_from"].endswith("checkpoint-2")
    assert (out / "final" / "config.json").exists() and (out / "final" / "tokenizer.json").exists()
    config = json.loads((out / "final" / "config.json").read_text())
    assert config["model_type"] == "qwen3_5_text"  # the Qwen3.5 text architecture, shrunk


def test_checkpoint_is_evaluated_with_inspect_hf_provider(smoke_run, monkeypatch):
    """`inspect eval tasks/length_gen.py --model hf/<checkpoint dir>` with the offline judge."""
    from inspect_ai import eval as inspect_eval

    out, _, _ = smoke_run
    checkpoint = out / "checkpoint-3"
    assert checkpoint.is_dir()
    monkeypatch.chdir(ROOT)  # Inspect resolves task files relative to the working dir
    logs = inspect_eval(
        "tasks/length_gen.py",
        model=f"hf/{checkpoint}",
        model_args={"device": "cpu"},
        model_roles={"grader": "offline/judge"},
        task_args={"targets": "100", "prompts": "1", "max_tokens": 6},
        limit=1,
        display="none",
        log_dir=str(out / "eval_logs"),
    )
    log = logs[0]
    assert log.status == "success", log.error
    sample = log.samples[0]
    assert sample.output.completion  # the checkpoint generated tokens
    assert "story_quality" in sample.scores and "length_adherence" in sample.scores


def test_bad_recipe_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {tiny: {}}\ndata: {train: missing.jsonl}\njudge: {model: offline/judge}\n")
    assert main(["--config", str(bad), "--output-dir", str(tmp_path / "o")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
