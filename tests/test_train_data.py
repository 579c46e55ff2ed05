"""Training data (POLARIS schema) and recipe files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prerequisites import needs

from polaris_bench.train.config import TrainConfigError, load_train_config
from polaris_bench.train.data import TrainDataError, load_train_rows, normalize_rows

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "benchmarks" / "polaris" / "smoke_train.parquet"

ROWS = [
    {
        "prompt": [{"role": "user", "content": "Write a story about a lighthouse. Your story should be approximately 800 words long."}],
        "story": "Mara kept the light.",
        "ground_truth_reasoning": "Plan the fog, then the note.",
    },
    {
        "prompt": [{"role": "user", "content": "Write a story about a train."}],
        "target_word_count": 1200,
        "reasoning": "Start at the platform.",
        "uid": "t-2",
    },
    {"prompt": [{"role": "user", "content": "A story, 2,500 words long please."}], "story": None},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_jsonl_and_parquet_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    jsonl = write_jsonl(tmp_path / "train.jsonl", ROWS)
    parquet = tmp_path / "train.parquet"
    keys = sorted({k for r in ROWS for k in r})
    pq.write_table(pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in ROWS]), parquet)
    for path in (jsonl, parquet):
        rows = load_train_rows(path)
        assert [r["target_words"] for r in rows] == [800, 1200, 2500]
        assert rows[0]["reference_story"] == "Mara kept the light."
        assert rows[0]["reference_reasoning"] == "Plan the fog, then the note."
        assert rows[1]["reference_reasoning"] == "Start at the platform."
        assert rows[1]["reference_story"] == "" and rows[2]["reference_story"] == ""
        assert rows[1]["uid"] == "t-2" and rows[0]["uid"] == "row-0"
        assert rows[0]["prompt_text"].startswith("Write a story about a lighthouse")
        assert rows[0]["prompt"][0]["role"] == "user"


def test_text_prompts(tmp_path):
    rows = normalize_rows([{"prompt": "Write a story. Your story should be approximately 900 words long."}])
    assert rows[0]["prompt"] == rows[0]["prompt_text"] and rows[0]["target_words"] == 900


@pytest.mark.parametrize(
    "row, message",
    [
        ({"story": "x"}, "'prompt' is missing"),
        ({"prompt": ""}, "'prompt' is empty"),
        ({"prompt": 5}, "must be text or chat messages"),
        ({"prompt": [{"role": "user"}]}, "needs 'role' and 'content'"),
        ({"prompt": [{"role": "system", "content": "be nice"}]}, "no non-empty user turn"),
        ({"prompt": "Write a story."}, "no 'target_word_count'"),
        ({"prompt": "Write a story.", "target_word_count": -3}, "positive whole number"),
        ({"prompt": "Write a story.", "target_word_count": "many"}, "whole number"),
        ({"prompt": "Write a story, 900 words long.", "story": 7}, "'story' must be text"),
    ],
)
def test_malformed_rows_are_reported_with_row_numbers(row, message):
    good = {"prompt": "Write a story. Your story should be approximately 900 words long."}
    with pytest.raises(TrainDataError) as err:
        normalize_rows([good, row], "data.jsonl")
    assert "data.jsonl" in str(err.value) and "row 1" in str(err.value) and message in str(err.value)


def test_every_bad_row_is_listed_and_forms_are_not_mixed():
    with pytest.raises(TrainDataError) as err:
        normalize_rows([{"prompt": ""}, {"prompt": 3}, {"prompt": "ok, 900 words long"}])
    assert "2 malformed" in str(err.value) and "row 0" in str(err.value) and "row 1" in str(err.value)
    with pytest.raises(TrainDataError, match="mix"):
        normalize_rows([{"prompt": "a, 900 words long"}, {"prompt": [{"role": "user", "content": "b, 900 words long"}]}])


def test_bad_files(tmp_path):
    with pytest.raises(TrainDataError, match="not found"):
        load_train_rows(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x"}\n{oops\n')
    with pytest.raises(TrainDataError, match=r"bad\.jsonl:2: not valid JSON"):  # the shared JSONL reader
        load_train_rows(bad)
    with pytest.raises(TrainDataError, match="unsupported"):
        (tmp_path / "x.csv").write_text("prompt\n")
        load_train_rows(tmp_path / "x.csv")


@needs(SHARED.exists(), f"the POLARIS training example {SHARED}")
def test_real_polaris_example_file():
    rows = load_train_rows(SHARED)
    assert len(rows) == 8
    assert all(r["target_words"] and r["reference_story"] and r["reference_reasoning"] for r in rows)


def test_shipped_smoke_data_and_recipes_load():
    from dataclasses import fields

    from trl import GRPOConfig

    grpo_fields = {f.name for f in fields(GRPOConfig)}
    for name in ("smoke", "polaris_9b"):
        cfg = load_train_config(ROOT / "train" / "configs" / f"{name}.yaml")
        unknown = set(cfg.grpo) - grpo_fields
        assert not unknown, f"{name}.yaml: not GRPOConfig fields: {unknown}"
    smoke = load_train_config(ROOT / "train" / "configs" / "smoke.yaml")
    rows = load_train_rows(smoke.resolve(smoke.data.train))
    assert any(r["reference_story"] for r in rows) and any(not r["reference_story"] for r in rows)
    paper = load_train_config(ROOT / "train" / "configs" / "polaris_9b.yaml")
    g = paper.grpo
    assert paper.model.name_or_path == "Qwen/Qwen3.5-9B" and paper.hri.enabled
    assert (paper.hri.peak_weight, paper.hri.warmup_steps) == (0.4, 15)
    assert (g["learning_rate"], g["num_generations"], g["max_completion_length"]) == (1e-6, 6, 8192)
    assert (g["temperature"], g["top_p"], g["top_k"], g["repetition_penalty"]) == (1.0, 0.95, 20, 1.1)
    assert (g["epsilon"], g["epsilon_high"], g["beta"]) == (0.2, 0.28, 0.0)
    assert g["use_vllm"] and g["vllm_mode"] == "colocate" and g["bf16"] and g["gradient_checkpointing"]
    r = paper.reward
    assert (r.sq_weight, r.self_rep_weight, r.length_weight, r.blank_weight, r.clip) == (1.0, 1.5, 0.8, 1.0, 2.0)
    assert (r.thinking.cap_tokens, r.thinking.per_token, r.overlong.buffer_tokens) == (3072, 0.05, 512)
    # the authors' code: </think> counted, no bound, overlong only for completions cut off
    assert (r.thinking.max_penalty, r.thinking.count_close_tag, r.thinking.count_unclosed) == (None, True, False)
    assert r.overlong.apply_to == "truncated" and r.overlong.factor == 1.0


def test_config_errors_name_the_key(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model: {tiny: {}}\ndata: {train: x.jsonl}\njudge: {model: offline/judge}\nhri: {peek_weight: 1}\n")
    with pytest.raises(TrainConfigError, match="hri.peek_weight"):
        load_train_config(path)
    path.write_text("model: {}\ndata: {train: x.jsonl}\njudge: {model: offline/judge}\n")
    with pytest.raises(TrainConfigError, match="exactly one of"):
        load_train_config(path)
    path.write_text("model: {tiny: {}}\ndata: {train: x.jsonl}\njudge: {model: offline/judge}\n")
    cfg = load_train_config(path, {"grpo.max_steps": 3, "hri.enabled": False})
    assert cfg.grpo["max_steps"] == 3 and not cfg.hri.enabled


def test_long_prompts_are_dropped():
    from polaris_bench.train.data import drop_long_prompts, prompt_token_count
    from polaris_bench.train.tiny_model import build_tokenizer

    rows = normalize_rows(ROWS)
    tok = build_tokenizer([r["prompt_text"] for r in rows], 400)
    counts = [prompt_token_count(r, tok, {}) for r in rows]
    assert all(c > 5 for c in counts)  # real token counts of the templated prompt
    limit = sorted(counts)[1]
    kept, dropped = drop_long_prompts(rows, tok, limit, {})
    assert dropped == sum(c > limit for c in counts) and all(
        prompt_token_count(r, tok, {}) <= limit for r in kept
    )
    assert drop_long_prompts(rows, tok, None, {}) == (rows, 0)


BASE_RECIPE = "model: {tiny: {}}\ndata: {train: x.jsonl}\njudge: {model: offline/judge}\n"


@pytest.mark.parametrize(
    "extra, message",
    [
        ("grpo: {learning_rte: 1.0e-6}\n", "grpo.learning_rte (did you mean 'learning_rate'?): not a field of TRL's GRPOConfig"),
        ("grpo: {max_steps: 2, num_generation: 6}\n", "grpo.num_generation (did you mean 'num_generations'?)"),
        ("reward: {thinking: {max_penality: 1.0}}\n", "reward.thinking.max_penality: unknown key (did you mean 'max_penalty'?)"),
        ("reward: {overlong: {apply_to: finished}}\n", "reward.overlong.apply_to: Input should be 'truncated' or 'all'"),
        ("rewards: {clip: 1.0}\n", "rewards: unknown key (did you mean 'reward'?)"),
        ("data: {train: x.jsonl, ignore_column: [a]}\n", "data.ignore_column: unknown key (did you mean 'ignore_columns'?)"),
    ],
)
def test_every_section_is_checked_at_load_with_one_line(tmp_path, extra, message):
    path = tmp_path / "r.yaml"
    path.write_text(BASE_RECIPE.replace("data: {train: x.jsonl}\n", "") if extra.startswith("data") else BASE_RECIPE)
    path.write_text(path.read_text() + extra)
    with pytest.raises(TrainConfigError) as info:
        load_train_config(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_grpo_keys_are_checked_without_loading_torch(tmp_path):
    """A grpo: typo is reported before torch, TRL or a model is imported."""
    import subprocess
    import sys

    path = tmp_path / "r.yaml"
    path.write_text(BASE_RECIPE + "grpo: {learning_rte: 1.0e-6}\n")
    code = (
        "import sys\n"
        "from polaris_bench.train.config import load_train_config, TrainConfigError\n"
        f"try:\n    load_train_config({str(path)!r})\nexcept TrainConfigError as e:\n    print('ERR', e)\n"
        "print('heavy', sorted(m for m in ('torch', 'trl', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert "ERR" in out and "grpo.learning_rte" in out
    assert "heavy []" in out


def test_pinned_grpo_keys_are_the_installed_trl_fields():
    from polaris_bench.train import grpo_keys

    if grpo_keys.installed_trl_version() != grpo_keys.PINNED_TRL_VERSION:
        pytest.fail(f"trl {grpo_keys.installed_trl_version()} installed; regenerate grpo_keys for it")
    assert grpo_keys.GRPO_CONFIG_FIELDS_PINNED == grpo_keys.fields_of_installed_grpo_config(), (
        "GRPOConfig fields changed: regenerate with python -m polaris_bench.train.grpo_keys"
    )


def test_unknown_columns_are_an_error_unless_ignored(tmp_path):
    typo = [{**ROWS[0], "stroy": "Mara kept the light."}]
    with pytest.raises(TrainDataError, match=r"unknown column\(s\) 'stroy' \(did you mean 'story'\?\)"):
        normalize_rows(typo, "t.jsonl")
    path = write_jsonl(tmp_path / "t.jsonl", [{**ROWS[0], "notes": "x"}])
    with pytest.raises(TrainDataError, match=r"t.jsonl: unknown column\(s\) 'notes'.*data.ignore_columns"):
        load_train_rows(path)
    assert load_train_rows(path, ignore_columns=["notes"])[0]["reference_story"] == "Mara kept the light."
    # the authors' (verl) metadata columns are known and not read
    meta = [{**ROWS[0], "extra_info": {"index": 0}, "source": "x", "data_source": "polaris", "ability": "writing"}]
    assert normalize_rows(meta)[0]["reference_story"] == "Mara kept the light."


def test_ignore_columns_reaches_the_loader(tmp_path):
    from polaris_bench.train.run import build_trainer

    data = write_jsonl(tmp_path / "t.jsonl", [{**ROWS[0], "notes": "x"}])
    path = tmp_path / "r.yaml"
    path.write_text(
        f"model: {{tiny: {{}}}}\ndata: {{train: {data}, ignore_columns: [notes]}}\njudge: {{model: offline/judge}}\n"
        "grpo: {use_cpu: true, bf16: false}\n"
    )
    cfg = load_train_config(path)
    assert cfg.data.ignore_columns == ["notes"]
    trainer, _ = build_trainer(cfg, output_dir=tmp_path / "o")
    assert trainer.train_dataset[0]["reference_story"] == "Mara kept the light."
    with pytest.raises(TrainDataError, match="'notes'"):
        build_trainer(load_train_config(path, {"data.ignore_columns": []}), output_dir=tmp_path / "o")
    # TRL's own value checks run before any model is built, as one line naming the file
    with pytest.raises(TrainConfigError, match=r"r.yaml: grpo section: .*bf16"):
        build_trainer(load_train_config(path, {"grpo.bf16": True, "grpo.use_cpu": False}), output_dir=tmp_path / "o")


def test_the_last_user_turn_is_the_prompt():
    # the same rule as the benchmark loaders and Inspect's input_text
    rows = normalize_rows([{"prompt": [
        {"role": "user", "content": "An example request, 300 words long."},
        {"role": "assistant", "content": "An example story."},
        {"role": "user", "content": "The real request, 900 words long."},
    ]}])
    assert rows[0]["prompt_text"] == "The real request, 900 words long."
