"""The HRI trainer on a tiny random model (CPU): the reference row, its advantage,
the ramp, the no-HRI switch, skipped references and steps, vLLM IS log-probs, and the
pinned TRL internals."""

from __future__ import annotations

import math

import pytest
from prerequisites import need_module

torch = need_module("torch", "torch from the [train] extra")
need_module("trl", "trl from the [train] extra")

from trl import GRPOConfig  # noqa: E402

from polaris_bench.train import hri_trainer as hri_mod  # noqa: E402
from polaris_bench.train.config import HRISection, TinyModelConfig  # noqa: E402
from polaris_bench.train.data import normalize_rows, to_dataset  # noqa: E402
from polaris_bench.train.hri_trainer import (  # noqa: E402
    HRIGRPOTrainer,
    hri_weight,
    trl_internals_mismatches,
)
from polaris_bench.train.reward import StoryReward  # noqa: E402
from polaris_bench.train.tiny_model import build_model, build_tokenizer  # noqa: E402

G = 3
RAW_ROWS = [
    {
        "prompt": [{"role": "user", "content": "Write a story about a red kite. Your story should be approximately 60 words long."}],
        "story": "The kite rose over the field and Nell let the string run.",
        "ground_truth_reasoning": "Kite, wind, letting go.",
        "uid": "kite",
    },
    {
        "prompt": [{"role": "user", "content": "Write a story about a cold river. Your story should be approximately 50 words long."}],
        "story": "Ivo crossed the river at dawn and did not look back.",
        "reasoning": "Crossing as a choice.",
        "uid": "river",
    },
    {
        "prompt": [{"role": "user", "content": "Write a story about a long winter. Your story should be approximately 70 words long."}],
        "story": " ".join(["Snow fell on the roofs of the village for a hundred days and nights."] * 6),
        "uid": "long",
    },
]


@pytest.fixture(scope="module")
def rows():
    torch.set_num_threads(1)
    return normalize_rows(RAW_ROWS)


@pytest.fixture(scope="module")
def tokenizer(rows):
    texts = [r["prompt_text"] for r in rows] + [r["reference_story"] for r in rows]
    texts += [r["reference_reasoning"] for r in rows]
    return build_tokenizer(texts, 600)


class FixedReward:
    """Sync reward: sampled rows of a group get 1.0, 3.0, ...; the reference 10.0."""

    __name__ = "fixed"

    def __init__(self, values=None):
        self.calls: list[dict] = []
        self.values = values

    def __call__(self, prompts, completions, completion_ids, hri_reference=None, **kw):
        self.calls.append({"completions": completions, "hri_reference": list(hri_reference or [])})
        if self.values is not None:
            return list(self.values)
        out = []
        for i, is_ref in enumerate(hri_reference):
            out.append(10.0 if is_ref else 1.0 + 2.0 * (i % G))
        return out


def make_trainer(tmp_path, rows, tokenizer, reward_funcs, hri=HRISection(warmup_steps=0), **grpo):
    model = build_model(tokenizer, TinyModelConfig(architecture="qwen3", vocab_size=600, seed=1))
    args = dict(
        output_dir=str(tmp_path),
        per_device_train_batch_size=2 * G,
        num_generations=G,
        max_completion_length=40,
        max_steps=2,
        learning_rate=1e-2,
        report_to="none",
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        logging_steps=1,
        save_strategy="no",
        beta=0.0,
        seed=0,
        shuffle_dataset=False,
        chat_template_kwargs={"enable_thinking": True},
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    args.update(grpo)
    return HRIGRPOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=GRPOConfig(**args),
        train_dataset=to_dataset(rows),
        processing_class=tokenizer,
        hri=hri,
    )


def group_inputs(rows, names):
    by_uid = {r["uid"]: r for r in rows}
    return [dict(by_uid[n]) for n in names for _ in range(G)]


def unpadded(output, i):
    mask = output["completion_mask"][i].bool()
    return output["completion_ids"][i][mask].tolist()


# -- pinned internals ---------------------------------------------------------------


def test_trl_internals_are_the_pinned_ones():
    import trl

    assert trl.__version__ == hri_mod.PINNED_TRL_VERSION
    assert trl_internals_mismatches() == [], "TRL internals changed: re-read GRPOTrainer and update hri_trainer"


def test_changed_internals_stop_the_trainer(tmp_path, rows, tokenizer, monkeypatch):
    monkeypatch.setitem(hri_mod.PINNED_TRL_SOURCES, "_calculate_rewards", "0" * 64)
    monkeypatch.delenv(hri_mod.ALLOW_MISMATCH_ENV, raising=False)
    assert any("_calculate_rewards" in p for p in trl_internals_mismatches())
    with pytest.raises(RuntimeError, match="_calculate_rewards changed"):
        make_trainer(tmp_path, rows, tokenizer, [FixedReward()])


# -- the reference row -----------------------------------------------------------------


def test_reference_row_is_in_every_group_teacher_forced(tmp_path, rows, tokenizer):
    reward = FixedReward()
    trainer = make_trainer(tmp_path, rows, tokenizer, [reward])
    trainer.model.train()
    inputs = group_inputs(rows, ["kite", "river"])
    out = trainer._generate_and_score_completions(inputs)
    eos = tokenizer.eos_token_id
    for g, uid in enumerate(["kite", "river"]):
        ref = trainer.reference_completion_ids(inputs[g * G])
        assert ref[-1] == eos
        assert unpadded(out, g * G + G - 1) == ref  # the last slot is the reference
        for j in range(G - 1):
            assert unpadded(out, g * G + j) != ref  # the others were sampled
    assert reward.calls[0]["hri_reference"] == [False, False, True] * 2
    # judged like the others: the reward saw the decoded reference, thinking and story
    ref_text = reward.calls[0]["completions"][G - 1][0]["content"]
    assert "<think>" in ref_text and "Kite, wind, letting go." in ref_text
    assert "The kite rose over the field" in ref_text

    # teacher-forced log-probs: TRL's batched computation equals a plain forward pass
    # over prompt + reference
    model = trainer.model
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], dim=1)
    mask = torch.cat([out["prompt_mask"], out["completion_mask"]], dim=1)
    with torch.no_grad():
        logps, _, _ = trainer._get_per_token_logps_and_entropies(
            model, ids, mask, out["completion_ids"].size(1), batch_size=2 * G
        )
        for g in range(2):
            i = g * G + G - 1
            prompt = out["prompt_ids"][i][out["prompt_mask"][i].bool()]
            ref = torch.tensor(unpadded(out, i))
            full = torch.cat([prompt, ref]).unsqueeze(0)
            logits = model(input_ids=full).logits[0, len(prompt) - 1 : -1].float()
            expected = torch.log_softmax(logits, dim=-1).gather(1, ref.unsqueeze(1)).squeeze(1)
            assert torch.allclose(logps[i, : len(ref)], expected, atol=1e-4)


def test_group_statistics_exclude_the_reference(tmp_path, rows, tokenizer):
    trainer = make_trainer(tmp_path, rows, tokenizer, [FixedReward()], hri=HRISection(warmup_steps=0, peak_weight=0.4))
    trainer.model.train()
    out = trainer._generate_and_score_completions(group_inputs(rows, ["kite", "river"]))
    policy = torch.tensor([1.0, 3.0])
    mean, std = policy.mean(), policy.std()  # over the sampled rows only
    expected_policy = (policy - mean) / (std + 1e-4)
    expected_ref = 0.4 * (10.0 - mean) / (std + 1e-4)
    adv = out["advantages"].view(2, G)
    for g in range(2):
        assert torch.allclose(adv[g, : G - 1], expected_policy, atol=1e-5)
        assert adv[g, G - 1].item() == pytest.approx(expected_ref.item(), rel=1e-5)
    metrics = trainer._metrics["train"]
    assert metrics["reward"][-1] == pytest.approx(2.0)  # TRL's reward log: policy rows only
    assert metrics["hri/policy_reward_mean"][-1] == pytest.approx(2.0)
    assert metrics["hri/ref_reward"][-1] == pytest.approx(10.0)
    assert metrics["hri/ref_advantage"][-1] == pytest.approx(expected_ref.item(), rel=1e-5)
    assert metrics["hri/ref_rows"][-1] == 2.0
    # the completions table shows the reference's real reward and advantage
    assert list(trainer._logs["rewards"]["fixed"])[G - 1] == 10.0
    assert list(trainer._logs["advantages"])[G - 1] == pytest.approx(expected_ref.item(), rel=1e-5)


def test_advantage_weight_ramps_linearly():
    assert [hri_weight(s, 0.4, 15) for s in (0, 3, 15, 40)] == pytest.approx([0.0, 0.08, 0.4, 0.4])
    assert hri_weight(0, 0.4, 0) == 0.4


def test_ramp_reaches_the_advantage(tmp_path, rows, tokenizer):
    trainer = make_trainer(tmp_path, rows, tokenizer, [FixedReward()], hri=HRISection(warmup_steps=15))
    trainer.model.train()
    policy = torch.tensor([1.0, 3.0])
    unweighted = ((10.0 - policy.mean()) / (policy.std() + 1e-4)).item()
    for step, weight in ((0, 0.0), (6, 0.16), (30, 0.4)):
        trainer.state.global_step = step
        assert trainer.hri_weight() == pytest.approx(weight)
        out = trainer._generate_and_score_completions(group_inputs(rows, ["kite"]))
        assert out["advantages"][G - 1].item() == pytest.approx(weight * unweighted, abs=1e-5)
        assert trainer._metrics["train"]["hri/weight"][-1] == pytest.approx(weight)


def test_no_hri_switch_samples_every_row(tmp_path, rows, tokenizer):
    reward = FixedReward(values=[1.0, 2.0, 6.0])
    trainer = make_trainer(tmp_path, rows, tokenizer, [reward], hri=HRISection(enabled=False), per_device_train_batch_size=G)
    trainer.model.train()
    inputs = group_inputs(rows, ["kite"])
    out = trainer._generate_and_score_completions(inputs)
    ref = trainer.reference_completion_ids(inputs[0])
    assert all(unpadded(out, i) != ref for i in range(G))
    assert reward.calls[0]["hri_reference"] == [False] * G
    r = torch.tensor([1.0, 2.0, 6.0])
    assert torch.allclose(out["advantages"], (r - r.mean()) / (r.std() + 1e-4), atol=1e-5)
    assert "hri/ref_rows" not in trainer._metrics["train"]


def test_too_long_reference_is_skipped_not_cut(tmp_path, rows, tokenizer, caplog):
    reward = FixedReward()
    trainer = make_trainer(tmp_path, rows, tokenizer, [reward])
    trainer.model.train()
    inputs = group_inputs(rows, ["long", "kite"])
    assert len(tokenizer(inputs[0]["reference_story"])["input_ids"]) > trainer.max_completion_length
    out = trainer._generate_and_score_completions(inputs)
    assert reward.calls[0]["hri_reference"] == [False, False, False, False, False, True]
    assert trainer._metrics["train"]["hri/skipped_too_long"][-1] == 1.0
    assert trainer.hri_stats["skipped_too_long"] == 1
    assert max(len(unpadded(out, i)) for i in range(G)) <= trainer.max_completion_length
    assert "skipped" in caplog.text


def test_vllm_reference_logprobs_are_nan_not_zero(tmp_path, rows, tokenizer):
    """With vLLM's importance-sampling correction, the reference row has no sampling
    log-probs: NaN, so TRL keeps its IS ratio at 1 (a 0 would zero its gradient)."""
    trainer = make_trainer(tmp_path, rows, tokenizer, [FixedReward()])
    eos = tokenizer.eos_token_id
    seen: list[int] = []

    class FakeVLLM:
        def generate(self, prompts, images, num_generations, profiler):
            seen.append(len(prompts))
            completions = [[5, 6, 7, eos] for _ in prompts]
            logprobs = [[[-2.0] for _ in c] for c in completions]
            return prompts, completions, logprobs, None

    trainer.use_vllm = True
    trainer.vllm_importance_sampling_correction = True
    trainer.vllm_generation = FakeVLLM()
    trainer._last_loaded_step = trainer.state.global_step
    trainer.model.train()
    out = trainer._generate_and_score_completions(group_inputs(rows, ["kite", "river"]))
    assert seen == [4]  # colocated vLLM generated only the sampled rows
    for g in range(2):
        i = g * G + G - 1
        n = int(out["completion_mask"][i].sum())
        assert torch.isnan(out["sampling_per_token_logps"][i, :n]).all()
        assert not torch.isnan(out["sampling_per_token_logps"][g * G, :4]).any()
        assert torch.allclose(out["importance_sampling_ratio"][i], torch.ones(1))


def test_vllm_server_mode_replaces_the_generated_slot(tmp_path, rows, tokenizer):
    trainer = make_trainer(tmp_path, rows, tokenizer, [FixedReward()])
    eos = tokenizer.eos_token_id
    seen: list[int] = []

    class FakeServer:
        def generate(self, prompts, images, num_generations, profiler):
            seen.append(len(prompts))
            return prompts, [[5, 6, eos] for _ in prompts], [[[-1.0]] * 3 for _ in prompts], None

    trainer.use_vllm = True
    trainer.args.vllm_mode = "server"
    trainer.vllm_generation = FakeServer()
    trainer._last_loaded_step = trainer.state.global_step
    trainer.model.train()
    inputs = group_inputs(rows, ["kite", "river"])
    out = trainer._generate_and_score_completions(inputs)
    assert seen == [2 * G]  # the server expands prompts itself: every slot generated
    assert unpadded(out, G - 1) == trainer.reference_completion_ids(inputs[0])
    assert torch.isnan(out["sampling_per_token_logps"][G - 1, 0])


# -- training steps ----------------------------------------------------------------------


def test_two_training_steps_with_hri_and_the_judge(tmp_path, rows, tokenizer):
    reward = StoryReward(rubric="story_quality", grader="offline/judge", tokenizer=tokenizer, max_completion_length=40)
    trainer = make_trainer(
        tmp_path, rows[:2], tokenizer, [reward], hri=HRISection(warmup_steps=1, peak_weight=0.4), max_steps=2
    )
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train()
    logs = [h for h in trainer.state.log_history if "hri/weight" in h]
    assert len(logs) == 2
    assert [h["hri/weight"] for h in logs] == pytest.approx([0.0, 0.4])
    assert all(h["hri/ref_rows"] == 2 for h in logs)
    assert all(not math.isnan(h["hri/ref_reward"]) for h in logs)
    assert logs[0]["hri/ref_advantage"] == 0.0 and "hri/ref_advantage_raw" in logs[0]
    for key in (
        "reward/sq", "reward/self_rep", "reward/length_pen", "reward/blank", "reward/total", "hri/ref/sq",
        "reward/judge_failures", "reward/judge_failure_rate", "reward/sq_filled", "hri/ref_template_fallback",
    ):
        assert key in logs[0]
    assert all(h["train/skipped_step"] == 0 for h in logs)
    after = trainer.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_step_with_no_judged_story_is_skipped(tmp_path, rows, tokenizer, caplog):
    class NoReward:
        __name__ = "nothing"

        def __call__(self, prompts, completions, **kw):
            return [None] * len(prompts)

    trainer = make_trainer(tmp_path, rows[:2], tokenizer, [NoReward()], max_steps=1)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train()
    after = trainer.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # no update at all
    assert trainer.hri_stats["skipped_steps"] == 1
    logs = [h for h in trainer.state.log_history if "train/skipped_step" in h]
    assert logs[0]["train/skipped_step"] == 1.0
    assert "skipped" in caplog.text


def test_hri_needs_room_for_the_group(tmp_path, rows, tokenizer):
    with pytest.raises(ValueError, match="num_generations >= 3"):
        make_trainer(tmp_path, rows, tokenizer, [FixedReward()], num_generations=2, per_device_train_batch_size=2)


# -- what must not be silent -------------------------------------------------------------


def with_template(tokenizer, template: str):
    import copy

    tok = copy.deepcopy(tokenizer)
    tok.chat_template = template
    return tok


def test_reference_the_template_cannot_render_is_reported_and_counted(tmp_path, rows, tokenizer, caplog):
    from polaris_bench.train.tiny_model import CHAT_TEMPLATE

    # a template that ignores reasoning_content: the two references with reasoning fail
    no_reasoning = CHAT_TEMPLATE.replace("message.get('reasoning_content')", "false")
    tok = with_template(tokenizer, no_reasoning)
    with caplog.at_level("WARNING"):
        trainer = make_trainer(tmp_path, rows, tok, [FixedReward()])
    assert "cannot render 2 of 3 reference stories" in caplog.text
    assert "dropped the reasoning" in caplog.text
    trainer.model.train()
    caplog.clear()
    with caplog.at_level("WARNING"):
        trainer._generate_and_score_completions(group_inputs(rows, ["kite", "river"]))
    assert trainer._metrics["train"]["hri/ref_template_fallback"][-1] == 2.0
    assert trainer.hri_stats["ref_template_fallback"] == 2
    assert "HRI reference of row kite" in caplog.text and "hri.think_format" in caplog.text
    # the fallback form is still the reference: reasoning in think tags, then the story
    ids = trainer.reference_completion_ids(group_inputs(rows, ["kite"])[0])
    text = tok.decode(ids)
    assert "<think>" in text and "Kite, wind, letting go." in text and "The kite rose" in text


def test_template_that_renders_no_reference_stops_the_trainer(tmp_path, rows, tokenizer):
    from polaris_bench.train.tiny_model import CHAT_TEMPLATE

    broken = CHAT_TEMPLATE.replace(
        "{{- message['content'] + '<|im_end|>\\n' -}}",
        "{%- if message['role'] == 'assistant' -%}{{ raise_exception('no assistant turns') }}{%- endif -%}"
        "{{- message['content'] + '<|im_end|>\\n' -}}",
    )
    with pytest.raises(ValueError, match=r"cannot render any of the 3 reference stories.*no assistant turns"):
        make_trainer(tmp_path, rows, with_template(tokenizer, broken), [FixedReward()])
    # without HRI the template is not needed for references
    make_trainer(tmp_path, rows, with_template(tokenizer, broken), [FixedReward()], hri=HRISection(enabled=False))


def test_nan_reference_advantage_is_an_error_when_the_batch_has_rewards(tmp_path, rows, tokenizer):
    """One sampled row without a reward leaves one row for the group std: NaN. That is
    never turned into a 0 advantage silently."""
    trainer = make_trainer(tmp_path, rows, tokenizer, [FixedReward(values=[None, 3.0, 10.0])])
    trainer.model.train()
    with pytest.raises(RuntimeError, match="reference advantage.*NaN"):
        trainer._generate_and_score_completions(group_inputs(rows, ["kite"]))


def test_nan_reference_advantage_of_an_unjudged_batch_is_counted(tmp_path, rows, tokenizer, caplog):
    trainer = make_trainer(tmp_path, rows, tokenizer, [FixedReward(values=[None] * (2 * G))])
    trainer.model.train()
    with caplog.at_level("WARNING"):
        out = trainer._generate_and_score_completions(group_inputs(rows, ["kite", "river"]))
    assert trainer._metrics["train"]["hri/ref_advantage_nan"][-1] == 2.0
    assert "2 reference advantage(s) are NaN (every judgment failed)" in caplog.text
    assert trainer._skip_generation  # and the step that would use it is skipped
    assert not torch.isnan(out["advantages"]).any()
