"""GRPO with human-reference injection (HRI) on TRL's ``GRPOTrainer``.

In every group of G completions whose prompt has a human reference story, the last
slot is not sampled: it is the reference, as token ids (the chat template's rendering
of an assistant turn holding the story, with the reasoning in think tags when the row
has one and ``hri.use_reasoning`` is on), ending with EOS. From there the row goes
through TRL's own pipeline: it is decoded and judged like the others, its
log-probabilities are computed by teacher forcing in the same forward passes, and it
enters the same clipped policy loss. Only its advantage differs:

* the group mean and std are computed over the sampled rows only;
* the reference's advantage is ``(r_ref - mean) / (std + eps)`` times a weight that
  ramps linearly from 0 to ``peak_weight`` over the first ``warmup_steps`` optimizer
  steps, then stays.

With vLLM's importance-sampling correction on, the reference row has no sampling
log-probs; they are NaN (TRL then leaves its importance ratio at 1), never 0, which
would make the ratio exp(logp) and silently shrink the row's gradient to nothing.

A reference longer than ``max_completion_length`` tokens is not cut: that group's last
slot is sampled like the others, and the skip is counted. ``hri.enabled: false`` gives
the paper's no-HRI ablation (all G rows sampled).

A reference the chat template cannot render as an assistant turn (the template raises,
or drops the story or its reasoning) is written with ``hri.think_format`` instead: a
warning names the row and the reason, and ``hri/ref_template_fallback`` counts such rows
per step. If the template fails on every reference of the training set, the trainer
refuses to start: the reference rows would not be in the policy's own format.

If every judgment of a generation batch fails, the optimizer steps that would train on
it are skipped (gradients dropped before ``optimizer.step``), with a warning and the
``train/skipped_step`` metric. That is the one case where a reference advantage is
legitimately NaN (no reward at all); it is set to 0 and counted
(``hri/ref_advantage_nan``). A NaN reference advantage in a batch that has rewards is
an error.

The subclass overrides three internals of TRL 1.16.0 (``_generate_and_score_completions``,
``_generate_single_turn``, ``_calculate_rewards``) and relies on the behaviour of a few
more. Their source hashes are pinned below; a mismatch raises at construction (and in
the test suite) instead of training wrongly.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import gather
from transformers import TrainerCallback
from trl import GRPOTrainer
from trl.data_utils import is_conversational
from trl.trainer.utils import nanstd

from polaris_bench.train.config import HRISection
from polaris_bench.train.grpo_keys import PINNED_TRL_VERSION

log = logging.getLogger(__name__)

# sha256 of inspect.getsource(GRPOTrainer.<name>) in TRL 1.16.0: the methods this
# subclass overrides, and the ones whose behaviour it depends on (per-row prompt ids
# reaching _generate_single_turn; NaN rewards dropped from group statistics; the
# advantages tensor used as is by the loss; the optimizer-step callback order).
PINNED_TRL_SOURCES: dict[str, str] = {
    "_generate_and_score_completions": "1fa48922792dcd5c72da155cfe99db477771a7c61cde15519fe8c86d0cdc0b65",
    "_generate_single_turn": "e0f02e4fc094cefdb306c6f04da26a2547c8b8225161a90e87a6803b21989b8e",
    "_calculate_rewards": "736ae29b083840b5da2638b55ad1258659c644589991fe6a494131354952efef",
    "_generate": "2a27fdf8f5e6f3562508eec3efb9e9dade2e0bf810de5031cdfab429d0a048f2",
    "_compute_loss": "80295546bbdbf6f711acce7f6e69b0100ab40aa8f23ed8052cc564ff024e3e40",
    "_prepare_inputs": "f824e7fb0714795697c9b4d574de1e139dd5f4404c2554e92cf1db7f60fa6c96",
}
ALLOW_MISMATCH_ENV = "POLARIS_ALLOW_TRL_MISMATCH"


def trl_source_hashes() -> dict[str, str]:
    return {
        name: hashlib.sha256(inspect.getsource(getattr(GRPOTrainer, name)).encode()).hexdigest()
        for name in PINNED_TRL_SOURCES
    }


def trl_internals_mismatches() -> list[str]:
    """What differs from the TRL internals this trainer was written against."""
    import trl

    problems = []
    if trl.__version__ != PINNED_TRL_VERSION:
        problems.append(f"trl {trl.__version__} is installed; HRI is written against trl=={PINNED_TRL_VERSION}")
    for name, digest in trl_source_hashes().items():
        if digest != PINNED_TRL_SOURCES[name]:
            problems.append(f"GRPOTrainer.{name} changed (sha256 {digest[:12]}, pinned {PINNED_TRL_SOURCES[name][:12]})")
    return problems


def hri_weight(step: int, peak: float, warmup_steps: int) -> float:
    """The reference advantage's weight after ``step`` completed optimizer steps."""
    if warmup_steps <= 0:
        return peak
    return peak * min(1.0, step / warmup_steps)


class _SkipFailedSteps(TrainerCallback):
    """Drops the gradients of an optimizer step whose batch had no judged story, so the
    optimizer leaves the weights (and its own state) as they were."""

    def __init__(self, trainer: "HRIGRPOTrainer"):
        self.trainer = trainer

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        t = self.trainer
        if t._skip_generation:
            t.hri_stats["skipped_steps"] += 1
            if t.is_deepspeed_enabled:  # DeepSpeed keeps its own gradient buffers
                log.warning(
                    "step %d: every judgment of its batch failed; under DeepSpeed it cannot be dropped, so it "
                    "trains on zero advantages (no policy gradient)", state.global_step + 1
                )
                return control
            for p in t.model.parameters():
                p.grad = None
            log.warning("step %d skipped: every judgment of its batch failed", state.global_step + 1)
        return control


class HRIGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` with human-reference injection; see the module docstring.

    Dataset rows carry ``reference_story`` (may be empty) and ``reference_reasoning``
    (see ``polaris_bench.train.data``)."""

    def __init__(self, *args: Any, hri: HRISection = HRISection(), hri_rows_path: str | None = None, **kwargs: Any):
        problems = trl_internals_mismatches()
        if problems:
            message = "HRI trainer cannot vouch for this TRL: " + "; ".join(problems)
            if os.environ.get(ALLOW_MISMATCH_ENV) != "1":
                raise RuntimeError(
                    message + f". Install trl=={PINNED_TRL_VERSION}, or set {ALLOW_MISMATCH_ENV}=1 at your own risk."
                )
            log.warning(message)
        super().__init__(*args, **kwargs)
        self.hri = hri
        self.hri_rows_path = hri_rows_path
        self.hri_stats: Counter[str] = Counter()
        self._hri_plan: list[list[int] | None] | None = None
        self._hri_last: dict[str, Any] | None = None
        self._skip_generation = False
        self._ref_cache: dict[tuple[str, str, str], list[int]] = {}
        # references the chat template could not render, and why (same keys)
        self._ref_fallback: dict[tuple[str, str, str], str] = {}
        if hri.enabled:
            if self.tools or self.rollout_func is not None or self.environment_factories is not None:
                raise ValueError("HRI does not support tools, rollout_func or environments; set hri.enabled: false")
            if self.num_generations < 3:
                raise ValueError("HRI needs num_generations >= 3 (two sampled rows for the group std + the reference)")
            if self.multi_objective_aggregation != "sum_then_normalize":
                raise ValueError("HRI supports multi_objective_aggregation='sum_then_normalize' only")
            self._check_reference_templates()
        self.add_callback(_SkipFailedSteps(self))

    # -- the reference row ---------------------------------------------------------

    def hri_weight(self, step: int | None = None) -> float:
        step = self.state.global_step if step is None else step
        return hri_weight(step, self.hri.peak_weight, self.hri.warmup_steps)

    def _reference_parts(self, row: dict[str, Any]) -> tuple[str, str]:
        story = (row.get("reference_story") or "").strip()
        reasoning = (row.get("reference_reasoning") or "").strip() if self.hri.use_reasoning else ""
        return story, reasoning

    def _render_reference(self, prompt: Any, story: str, reasoning: str) -> tuple[str, str | None]:
        """The reference as completion text, in the form the policy's completions take,
        and why the chat template could not give it (None when it did). Text prompts
        have no template: their reference is ``hri.think_format`` (or the story) by design."""
        fallback = self.hri.think_format.format(reasoning=reasoning, story=story) if reasoning else story
        if not is_conversational({"prompt": prompt}):
            return fallback, None
        message: dict[str, str] = {"role": "assistant", "content": story}
        if reasoning:
            message["reasoning_content"] = reasoning
        try:
            kwargs = dict(tokenize=False, chat_template=self.chat_template, **self.chat_template_kwargs)
            head = self.processing_class.apply_chat_template(prompt, add_generation_prompt=True, **kwargs)
            full = self.processing_class.apply_chat_template([*prompt, message], **kwargs)
        except Exception as exc:  # noqa: BLE001  (any template error; reported, never silent)
            return fallback, f"the chat template raised {type(exc).__name__}: {exc}"
        if not full.startswith(head):
            return fallback, "the rendered conversation does not start with the rendered generation prompt"
        tail = full[len(head) :]
        if story not in tail:
            return fallback, "the template dropped the story from the assistant turn"
        if reasoning and reasoning not in tail:
            return fallback, "the template dropped the reasoning (reasoning_content) from the assistant turn"
        return tail, None

    def _check_reference_templates(self) -> None:
        """Render every reference of the training set once; refuse to start when the
        chat template can render none of them."""
        dataset = self.train_dataset
        if dataset is None or "reference_story" not in getattr(dataset, "column_names", []):
            return
        tried = 0
        failed: Counter[str] = Counter()
        for row in dataset:
            story, reasoning = self._reference_parts(row)
            if not story or not is_conversational({"prompt": row["prompt"]}):
                continue
            tried += 1
            _, reason = self._render_reference(row["prompt"], story, reasoning)
            if reason is not None:
                failed[reason] += 1
        if not failed:
            return
        reasons = "; ".join(f"{n} x {r}" for r, n in failed.most_common(3))
        total = sum(failed.values())
        if total == tried:
            raise ValueError(
                f"HRI: the chat template cannot render any of the {tried} reference stories as an assistant "
                f"turn ({reasons}). Fix the template or model.chat_template_kwargs, set hri.use_reasoning: "
                "false if it drops reasoning_content, or train without HRI (hri.enabled: false)."
            )
        log.warning(
            "HRI: the chat template cannot render %d of %d reference stories (%s); those rows are written "
            "with hri.think_format instead (counted per step as hri/ref_template_fallback)",
            total, tried, reasons,
        )

    def reference_completion_ids(self, row: dict[str, Any]) -> list[int] | None:
        """Token ids of the row's reference, ending with EOS; None when it has none or
        it is longer than ``max_completion_length`` (counted as skipped)."""
        story, reasoning = self._reference_parts(row)
        if not story:
            return None
        key = self._reference_key(row)
        ids = self._ref_cache.get(key)
        if ids is None:
            text, reason = self._render_reference(row["prompt"], story, reasoning)
            if reason is not None:
                self._ref_fallback[key] = reason
                log.warning(
                    "HRI reference of row %s: %s; using hri.think_format for it", row.get("uid", "?"), reason
                )
            ids = self._tokenizer(text, add_special_tokens=False)["input_ids"]
            eos = set(self.eos_token_ids)
            end = next((j for j, t in enumerate(ids) if t in eos), None)
            ids = ids[: end + 1] if end is not None else [*ids, self._tokenizer.eos_token_id]
            self._ref_cache[key] = ids
        if self.max_completion_length is not None and len(ids) > self.max_completion_length:
            return None
        return list(ids)

    def _reference_key(self, row: dict[str, Any]) -> tuple[str, str, str]:
        story, reasoning = self._reference_parts(row)
        return (repr(row["prompt"]), story, reasoning)

    def _plan_references(self, inputs: list[dict[str, Any]], num_generations: int) -> list[list[int] | None]:
        plan: list[list[int] | None] = [None] * len(inputs)
        offset = self.accelerator.process_index * len(inputs)
        missing = too_long = fallback = 0
        for i, row in enumerate(inputs):
            if (offset + i) % num_generations != num_generations - 1:
                continue
            if not (row.get("reference_story") or "").strip():
                missing += 1
                continue
            ids = self.reference_completion_ids(row)
            if ids is None:
                too_long += 1
                continue
            plan[i] = ids
            fallback += self._reference_key(row) in self._ref_fallback
        counts = gather(torch.tensor([missing, too_long, fallback], device=self.accelerator.device).unsqueeze(0))
        missing, too_long, fallback = (int(x) for x in counts.sum(dim=0).tolist())
        self.hri_stats["skipped_too_long"] += too_long
        self.hri_stats["missing_reference"] += missing
        self.hri_stats["ref_template_fallback"] += fallback
        metrics = self._metrics["train"]
        metrics["hri/skipped_too_long"].append(float(too_long))
        metrics["hri/skipped_too_long_total"].append(float(self.hri_stats["skipped_too_long"]))
        metrics["hri/missing_reference"].append(float(missing))
        metrics["hri/ref_template_fallback"].append(float(fallback))
        if too_long:
            log.warning(
                "%d reference(s) longer than max_completion_length=%s skipped (not truncated)",
                too_long,
                self.max_completion_length,
            )
        return plan

    # -- TRL overrides -------------------------------------------------------------

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        mode = "train" if self.model.training else "eval"
        use_hri = self.hri.enabled and mode == "train"
        plan: list[list[int] | None] = [None] * len(inputs)
        if use_hri:
            plan = self._plan_references(inputs, self.num_generations)
        for row, ids in zip(inputs, plan):
            row["hri_reference"] = ids is not None
        self._hri_plan = plan
        self._hri_last = None
        try:
            output = super()._generate_and_score_completions(inputs)
        finally:
            self._hri_plan = None
        last = self._hri_last
        if mode == "train" and last is not None:
            self._skip_generation = last["all_failed"]
            self._metrics["train"]["train/skipped_step"].append(float(last["all_failed"]))
            if last["all_failed"]:
                log.warning("every judgment of this batch failed: its optimizer step will be skipped")
            if use_hri:
                self._apply_reference_advantages(inputs, output, last)
        return output

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        plan = self._hri_plan
        if not plan or len(plan) != len(prompt_ids) or all(p is None for p in plan):
            return super()._generate_single_turn(
                prompt_ids, images, multimodal_fields, num_generations, has_tool_images
            )
        n = len(prompt_ids)
        # Generate only the sampled rows where the backend takes rows one by one
        # (transformers, colocated vLLM without tensor parallelism); vLLM server mode
        # expands each prompt to num_generations itself, so there the reference slot is
        # generated and then replaced.
        per_row_backend = images is None and not multimodal_fields and (
            not self.use_vllm
            or (self.args.vllm_mode == "colocate" and self.args.vllm_tensor_parallel_size == 1)
        )
        if per_row_backend:
            # At least one row, so every process joins the backend's collectives.
            keep = [i for i in range(n) if plan[i] is None] or [0]
            sampled, sampled_logps = super()._generate_single_turn(
                [prompt_ids[i] for i in keep], None, multimodal_fields, num_generations, has_tool_images
            )
            completion_ids: list[Any] = [None] * n
            logprobs: list[Any] | None = [None] * n if sampled_logps is not None else None
            for j, i in enumerate(keep):
                completion_ids[i] = sampled[j]
                if logprobs is not None:
                    logprobs[i] = sampled_logps[j]
        else:
            completion_ids, logprobs = super()._generate_single_turn(
                prompt_ids, images, multimodal_fields, num_generations, has_tool_images
            )
            completion_ids = list(completion_ids)
            logprobs = list(logprobs) if logprobs is not None else None
        for i, ids in enumerate(plan):
            if ids is None:
                continue
            completion_ids[i] = list(ids)
            if logprobs is not None:
                # Not sampled, so no sampling log-probs: NaN keeps TRL's importance ratio
                # at 1 for these tokens (0 would give exp(logp) ~ 0 and kill the gradient).
                logprobs[i] = [math.nan] * len(ids)
        return completion_ids, logprobs

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        plan = self._hri_plan or [None] * len(prompts)
        local = torch.tensor([p is not None for p in plan], dtype=torch.bool, device=rewards_per_func.device)
        ref_mask = gather(local)
        self._hri_last = {
            "rewards_per_func": rewards_per_func.clone(),
            "ref_mask": ref_mask,
            "all_failed": bool(torch.isnan(rewards_per_func).all().item()),
        }
        if ref_mask.any():
            # NaN rows are left out of TRL's group mean/std (and its reward logs); the
            # reference's own advantage is set afterwards.
            rewards_per_func = rewards_per_func.clone()
            rewards_per_func[ref_mask] = torch.nan
        return rewards_per_func

    # -- the reference advantage ---------------------------------------------------

    def _apply_reference_advantages(self, inputs: list[dict[str, Any]], output: dict[str, Any], last: dict[str, Any]):
        metrics = self._metrics["train"]
        weight = self.hri_weight()
        metrics["hri/weight"].append(weight)
        ref_mask: torch.Tensor = last["ref_mask"]
        n_ref = int(ref_mask.sum().item())
        metrics["hri/ref_rows"].append(float(n_ref))
        rpf: torch.Tensor = last["rewards_per_func"]
        rewards = (rpf * self.reward_weights.to(rpf.device).unsqueeze(0)).nansum(dim=1)
        rewards[torch.isnan(rpf).all(dim=1)] = torch.nan
        policy = rewards.masked_fill(ref_mask, torch.nan)
        metrics["hri/policy_reward_mean"].append(torch.nanmean(policy).item())
        metrics["hri/policy_reward_std"].append(nanstd(policy).item())
        if n_ref == 0:
            return
        G = self.num_generations
        grouped = policy.view(-1, G)
        mean = torch.nanmean(grouped, dim=1).repeat_interleave(G)
        if self.scale_rewards == "group":
            std = nanstd(grouped, dim=1).repeat_interleave(G)
        elif self.scale_rewards == "batch":
            std = nanstd(policy).expand_as(policy)
        else:
            std = None
        raw = rewards - mean
        if std is not None:
            raw = raw / (std + self.hri.eps)
        nan_ref = torch.isnan(raw) & ref_mask
        n_nan = int(nan_ref.sum().item())
        metrics["hri/ref_advantage_nan"].append(float(n_nan))
        if n_nan:
            if not last["all_failed"]:
                i = int(nan_ref.nonzero()[0, 0])
                raise RuntimeError(
                    f"HRI: {n_nan} reference advantage(s) are NaN in a batch that has rewards (row {i}: reward "
                    f"{rewards[i].item()}, group mean {mean[i].item()}, std "
                    f"{std[i].item() if std is not None else 'unused'}); a reward function returned None for "
                    "some rows only, which the reference advantage cannot use"
                )
            # every judgment failed: no reward anywhere, the step is skipped (see _SkipFailedSteps)
            log.warning("HRI: %d reference advantage(s) are NaN (every judgment failed); set to 0", n_nan)
        raw = raw.masked_fill(nan_ref, 0.0)
        weighted = weight * raw
        metrics["hri/ref_reward"].append(torch.nanmean(rewards[ref_mask]).item())
        metrics["hri/ref_advantage_raw"].append(raw[ref_mask].mean().item())
        metrics["hri/ref_advantage"].append(weighted[ref_mask].mean().item())
        metrics["hri/ref_beats_group_mean"].append((raw[ref_mask] > 0).float().mean().item())

        n_local = len(inputs)
        start = self.accelerator.process_index * n_local
        local_mask = ref_mask[start : start + n_local]
        advantages = output["advantages"]
        advantages[local_mask.to(advantages.device)] = weighted[start : start + n_local][local_mask].to(
            advantages.device, advantages.dtype
        )
        self._fix_completion_logs(rewards, weighted, ref_mask, rpf)
        self._write_reference_rows(inputs, output, rewards, raw, weighted, weight, local_mask, start)

    def _fix_completion_logs(self, rewards, weighted, ref_mask, rpf) -> None:
        """TRL logged the reference row's reward as NaN and advantage as 0 (the values it
        computed); put the real ones in the completions table."""
        n = rewards.numel()
        adv_log = self._logs["advantages"]
        if len(adv_log) >= n:
            base = len(adv_log) - n
            for i in ref_mask.nonzero(as_tuple=True)[0].tolist():
                adv_log[base + i] = float(weighted[i])
        for k, name in enumerate(self.reward_func_names):
            col = self._logs["rewards"][name]
            if len(col) >= n:
                base = len(col) - n
                for i in ref_mask.nonzero(as_tuple=True)[0].tolist():
                    col[base + i] = float(rpf[i, k])

    def _write_reference_rows(self, inputs, output, rewards, raw, weighted, weight, local_mask, start) -> None:
        if self.hri_rows_path is None:
            return
        mask = output["completion_mask"]
        lines = []
        for i in local_mask.nonzero(as_tuple=True)[0].tolist():
            g = start + i
            group = slice(g - (g % self.num_generations), g - (g % self.num_generations) + self.num_generations)
            lines.append(
                {
                    "step": self.state.global_step,
                    "uid": inputs[i].get("uid"),
                    "reference_tokens": int(mask[i].sum().item()),
                    "reference_reward": float(rewards[g]),
                    "group_policy_rewards": [
                        None if math.isnan(x) else float(x)
                        for j, x in enumerate(rewards[group].tolist())
                        if j != g % self.num_generations
                    ],
                    "advantage_raw": float(raw[g]),
                    "weight": weight,
                    "advantage": float(weighted[g]),
                }
            )
        gathered = lines
        if self.accelerator.num_processes > 1:
            from accelerate.utils import gather_object

            gathered = gather_object(lines)
        if self.accelerator.is_main_process and gathered:
            path = Path(self.hri_rows_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                for line in gathered:
                    fh.write(json.dumps(line) + "\n")
