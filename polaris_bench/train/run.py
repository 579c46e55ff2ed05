"""Entry point: ``python -m polaris_bench.train.run --config train/configs/smoke.yaml``
(also ``polaris train --config ...``).

Builds the model (or the tiny one), the data, the judge reward and the HRI trainer
from one recipe file, trains with TRL (resuming from the newest checkpoint in the
output dir unless told otherwise), and writes next to TRL's checkpoints:

* ``metrics.jsonl``: every logged step (TRL's metrics plus ``reward/*`` components,
  ``hri/*`` reference-row statistics, ``train/skipped_step``);
* ``hri_rows.jsonl``: one line per injected reference row (reward, group rewards,
  advantage before and after the ramp weight);
* ``final/``: the trained model and tokenizer, loadable with ``--model hf/<dir>``;
* ``train_summary.json``: wall time, steps, skipped references and steps, judge failures.

A run whose newest checkpoint already reached its last step is finished: running the
recipe again loads nothing, trains nothing, leaves ``train_summary.json`` as it is and
says so. To train further, ask for more steps (``--max-steps N`` above the checkpoint's
step); to start over, use a new ``--output-dir``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from polaris_bench.train.checkpoint_eval import eval_callback
from polaris_bench.train.config import (
    PolarisTrainConfig,
    TrainConfigError,
    load_train_config,
)
from polaris_bench.train.data import (
    TrainDataError,
    drop_long_prompts,
    load_train_rows,
    to_dataset,
)

log = logging.getLogger("polaris_bench.train")


def _metrics_callback(path: Path):
    from transformers import TrainerCallback

    class MetricsFile(TrainerCallback):
        """Appends every log record as one JSON line."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs:
                path.parent.mkdir(parents=True, exist_ok=True)
                record = {"step": state.global_step, **logs}
                with path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, default=float) + "\n")
            return control

    return MetricsFile()


def grpo_args(cfg: PolarisTrainConfig, output_dir: Path):
    from trl import GRPOConfig

    kwargs = dict(cfg.grpo)
    kwargs["output_dir"] = str(output_dir)
    if cfg.model.chat_template_kwargs:
        kwargs.setdefault("chat_template_kwargs", dict(cfg.model.chat_template_kwargs))
    if cfg.model.name_or_path is not None and cfg.model.dtype != "auto":
        kwargs.setdefault("model_init_kwargs", {}).setdefault("dtype", cfg.model.dtype)
    try:
        return GRPOConfig(**kwargs)
    except (TypeError, ValueError) as exc:  # TRL's and transformers' own value checks
        detail = " ".join(str(exc).split())
        raise TrainConfigError(f"{cfg.source_path}: grpo section: {detail}") from exc


def build_trainer(
    cfg: PolarisTrainConfig,
    *,
    grader: Any | None = None,
    callbacks: list[Any] | None = None,
    output_dir: str | Path | None = None,
):
    """The HRI trainer and its reward function for a recipe. ``grader`` replaces the
    configured judge (tests pass an in-process Inspect model)."""
    from polaris_bench.train.hri_trainer import HRIGRPOTrainer
    from polaris_bench.train.reward import StoryReward

    out = Path(output_dir) if output_dir is not None else cfg.output_dir
    rows = load_train_rows(cfg.resolve(cfg.data.train), cfg.data.limit, cfg.data.ignore_columns)
    args = grpo_args(cfg, out)  # TRL checks the values before any model is loaded
    if cfg.model.tiny is not None:
        from polaris_bench.train.tiny_model import build_tiny

        texts = [r["prompt_text"] for r in rows] + [r["reference_story"] for r in rows]
        texts += [r["reference_reasoning"] for r in rows]
        tokenizer, model = build_tiny(texts, cfg.model.tiny, save_dir=out / "base_model")
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(
            cfg.model.name_or_path, padding_side="left", trust_remote_code=cfg.model.trust_remote_code
        )
        model = cfg.model.name_or_path  # TRL loads it with grpo.model_init_kwargs
    rows, dropped = drop_long_prompts(rows, tokenizer, cfg.data.max_prompt_tokens, cfg.model.chat_template_kwargs)
    if dropped:
        log.warning("dropped %d prompt(s) longer than %d tokens", dropped, cfg.data.max_prompt_tokens)
    if not rows:
        raise TrainDataError("no training rows left after dropping long prompts")
    reward = StoryReward.from_config(
        cfg.judge, cfg.reward, tokenizer=tokenizer, max_completion_length=args.max_completion_length, grader=grader
    )
    trainer = HRIGRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=to_dataset(rows),
        processing_class=tokenizer,
        hri=cfg.hri,
        hri_rows_path=str(out / cfg.hri_rows_file),
        callbacks=[_metrics_callback(out / cfg.metrics_file), *(callbacks or [])],
    )
    reward.set_eos_token_ids(trainer.eos_token_ids)  # the generation's EOS ids (overlong penalty)
    return trainer, reward


SUMMARY_FILE = "train_summary.json"


def make_evaluator(cfg: PolarisTrainConfig, out: Path, *, probe: bool = True):
    """The checkpoint evaluator of a recipe with an ``eval:`` section, its judges probed."""
    from polaris_bench.train.checkpoint_eval import CheckpointEvaluator, probe_judges

    assert cfg.eval is not None
    if probe and cfg.eval.probe:
        probe_judges(cfg)
    rows = load_train_rows(cfg.resolve(cfg.data.train), cfg.data.limit, cfg.data.ignore_columns)
    base = str(out / "base_model") if cfg.model.tiny is not None else str(cfg.model.name_or_path)
    return CheckpointEvaluator(cfg, out, train_targets=[r["target_words"] for r in rows], base_policy=base)


def resolve_resume(resume: str | None, output_dir: Path) -> str | None:
    if resume in (None, "", "none", "false"):
        return None
    if resume == "auto":
        from transformers.trainer_utils import get_last_checkpoint

        return get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    if not Path(resume).is_dir():
        raise TrainConfigError(f"resume: checkpoint directory {resume!r} not found")
    return resume


def checkpoint_step(checkpoint: str) -> tuple[int, int]:
    """(global_step, max_steps) recorded in a TRL checkpoint's trainer_state.json."""
    path = Path(checkpoint) / "trainer_state.json"
    try:
        state = json.loads(path.read_text())
        return int(state["global_step"]), int(state["max_steps"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrainConfigError(f"{path}: not a readable trainer state ({exc})") from exc


def finished_at(cfg: PolarisTrainConfig, checkpoint: str | None) -> int | None:
    """The step a resumed run already finished at, or None if it has steps to go.

    The target is ``grpo.max_steps`` when the recipe sets it, else the step count the
    run computed for itself (from its epochs) and recorded in the checkpoint."""
    if checkpoint is None:
        return None
    step, recorded_max = checkpoint_step(checkpoint)
    requested = int(cfg.grpo.get("max_steps", -1) or -1)
    target = requested if requested > 0 else recorded_max
    return step if target > 0 and step >= target else None


def _existing_run(out: Path) -> list[str]:
    found = sorted(p.name for p in out.glob("checkpoint-*")) if out.is_dir() else []
    if (out / SUMMARY_FILE).exists():
        found.append(SUMMARY_FILE)
    return found


def train(cfg: PolarisTrainConfig, *, grader: Any | None = None, output_dir: str | Path | None = None) -> dict[str, Any]:
    """Run a recipe; returns the summary written to ``train_summary.json`` (for a run
    that was already finished: the summary it wrote then, untouched, with ``already_finished``)."""
    started = time.time()
    out = Path(output_dir) if output_dir is not None else cfg.output_dir
    checkpoint = resolve_resume(cfg.resume, out)
    if checkpoint is None and cfg.resume in (None, "", "none", "false") and _existing_run(out):
        raise TrainConfigError(
            f"{out} already holds a run ({', '.join(_existing_run(out)[:3])}); with resume: none it would be "
            "overwritten. Use another --output-dir, or --resume auto to continue it."
        )
    done = finished_at(cfg, checkpoint)
    if done is not None:
        log.info(
            "%s: this run is finished (%s is at step %d); nothing to do. To train further, pass --max-steps "
            "above %d.", out, Path(checkpoint).name, done, done,
        )
        if cfg.eval is not None:  # a run killed while evaluating its last step
            make_evaluator(cfg, out, probe=False).catch_up(done, done)
        summary_path = out / SUMMARY_FILE
        previous = json.loads(summary_path.read_text()) if summary_path.exists() else {"global_step": done}
        return {**previous, "already_finished": True}
    from polaris_bench.train.audit_check import check_training_judge

    check_training_judge(cfg.resolve(cfg.store), cfg.judge, require=cfg.require_audit)
    evaluator = make_evaluator(cfg, out) if cfg.eval is not None else None
    callback = eval_callback(evaluator) if evaluator is not None else None
    trainer, reward = build_trainer(cfg, grader=grader, output_dir=out, callbacks=[callback] if callback else None)
    if checkpoint:
        log.info("resuming from %s", checkpoint)
    if callback is not None:
        callback.trainer = trainer  # evaluates the due steps still missing when training begins
    result = trainer.train(resume_from_checkpoint=checkpoint)
    final = out / "final"
    trainer.save_model(str(final))
    trainer.processing_class.save_pretrained(str(final))
    summary = {
        "wall_s": round(time.time() - started, 2),
        "global_step": trainer.state.global_step,
        "resumed_from": checkpoint,
        "train_loss": result.training_loss,
        "hri_enabled": cfg.hri.enabled,
        "hri": dict(trainer.hri_stats),
        "judge_failures": reward.total_failures,
        "sq_filled_with_batch_mean": reward.total_filled,
        "batches_without_any_judgment": reward.total_skipped_batches,
        "final_model": str(final),
        "metrics": str(out / cfg.metrics_file),
        "hri_rows": str(out / cfg.hri_rows_file),
    }
    if evaluator is not None:
        evaluator.store_pending()
        recs = [r for _, r in sorted(evaluator.records.items())]
        summary["checkpoint_evals"] = {
            "train_run": evaluator.train_run,
            "steps": [r.step for r in recs],
            "failed": [r.step for r in recs if r.error],
            "alarms": [f"step {r.step}: {a}" for r in recs for a in r.alarms],
            "eval_seconds": round(sum(r.eval_seconds for r in recs), 2),
            "store": str(evaluator.db),
            "unstored": [r.step for r in recs if r.summary and not r.stored],
        }
    if trainer.accelerator.is_main_process:
        (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return summary


def _parse_set(items: list[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise TrainConfigError(f"--set expects key=value, got {item!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="polaris train", description="GRPO + human-reference injection with the SQ judge")
    p.add_argument("--config", required=True, help="recipe YAML (train/configs/*.yaml)")
    p.add_argument("--output-dir", help="override grpo.output_dir")
    p.add_argument("--max-steps", type=int, help="override grpo.max_steps")
    p.add_argument("--no-hri", action="store_true", help="the no-HRI ablation: all G rows sampled")
    p.add_argument("--resume", help="'auto' (default from the recipe), 'none', or a checkpoint dir")
    p.add_argument("--judge", help="override judge.model (any Inspect model)")
    p.add_argument("--store", help="override store: the results store (judge audits, checkpoint evaluations)")
    p.add_argument(
        "--require-audit", action="store_true",
        help="refuse to train unless the training judge has a judge audit in the store that is not flagged for "
        "injection or padding",
    )
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override any recipe key, e.g. --set grpo.learning_rate=2e-6 --set reward.length_weight=0.5",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        overrides = _parse_set(args.set)
        if args.output_dir:
            overrides["grpo.output_dir"] = args.output_dir
        if args.max_steps is not None:
            overrides["grpo.max_steps"] = args.max_steps
        if args.no_hri:
            overrides["hri.enabled"] = False
        if args.resume is not None:
            overrides["resume"] = args.resume
        if args.judge:
            overrides["judge.model"] = args.judge
        if args.store:
            overrides["store"] = args.store
        if args.require_audit:
            overrides["require_audit"] = True
        cfg = load_train_config(args.config, overrides)
        summary = train(cfg)
    except (TrainConfigError, TrainDataError) as exc:
        print(f"polaris train: {exc}", file=sys.stderr)
        return 2
    if summary.get("already_finished"):
        print(
            f"polaris train: {cfg.output_dir} is already finished at step {summary.get('global_step')}; "
            "nothing trained (pass --max-steps above it to train further)",
            file=sys.stderr,
        )
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
