"""Checkpoint evaluation during training (the recipe's ``eval:`` section).

At step 0 (``at_start``), every ``every_steps`` optimizer steps and at the last step,
the trainer saves a checkpoint (the callback asks for one at those steps) and, right
after TRL has written it, the policy in that folder writes for the held-out prompts
through the ``length_gen`` Inspect task (``polaris_bench/length_gen`` with
``prompts``/``targets``/``judges`` task arguments), loaded by Inspect's ``hf/``
provider. Every story is judged by one panel: the training judge (role
``train_judge``) and the held-out judges (``heldout_1``, ``heldout_2``, ...). The log
goes to ``<output dir>/eval_logs``, is ingested into the results store, and its
summary (``store.training``) goes into ``training_evals`` with the training run's id
and the step, and into ``<output dir>/training_evals.jsonl`` (the ledger).

The ledger makes resuming exact: a step in it is never evaluated again, and a due step
whose checkpoint exists but whose evaluation is missing (the run was killed while
evaluating it) is evaluated before training continues. Evaluations run in the training
process, between two optimizer steps: the loop waits for the evaluation's own time
(loading the checkpoint, generating, judging; ``eval/seconds``), then the store write,
and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polaris_bench.train.alarms import KINDS as ALARM_KINDS
from polaris_bench.train.alarms import EvalPoint, alarms, kind
from polaris_bench.train.config import PolarisTrainConfig, TrainConfigError

log = logging.getLogger("polaris_bench.train")

LEDGER = "training_evals.jsonl"
RUN_FILE = "train_run.json"
STORE_TRIES, STORE_WAIT_S = 5, 2.0  # the store may be locked by another process for a moment


def is_main_process() -> bool:
    """Rank 0 of an ``accelerate``/``torchrun`` launch, or a single process."""
    return os.environ.get("RANK", "0") == "0"


def train_run_id(out: Path) -> str:
    """The training run's id, kept in ``train_run.json`` (a resumed run keeps it)."""
    path = out / RUN_FILE
    if path.exists():
        return str(json.loads(path.read_text())["train_run"])
    out.mkdir(parents=True, exist_ok=True)
    run = f"{out.resolve().name}-{uuid.uuid4().hex[:8]}"
    path.write_text(json.dumps({"train_run": run, "output_dir": str(out.resolve()), "created": time.time()}))
    return run


def default_targets(train_targets: list[int]) -> list[int]:
    """The median and the longest training target, and 1.5 x the longest (beyond it)."""
    if not train_targets:
        raise TrainConfigError("eval.targets: the training rows have no target lengths; set eval.targets")
    longest = max(train_targets)
    return sorted({int(statistics.median_low(train_targets)), longest, round(longest * 1.5)})


def _judge_model(model: str, model_args: dict[str, Any], base_url: str | None, **config: Any) -> Any:
    from inspect_ai.model import GenerateConfig, get_model

    return get_model(model, base_url=base_url, config=GenerateConfig(**config), **model_args)


async def _probe_one(model: Any, timeout_s: float) -> None:
    await asyncio.wait_for(model.generate("Reply with the single word OK."), timeout_s)


def probe_judges(cfg: PolarisTrainConfig, timeout_s: float = 60.0) -> None:
    """One short call to every held-out judge; the first that fails is a one-line error."""
    assert cfg.eval is not None
    if not is_main_process():
        return
    for i, judge in enumerate(cfg.eval.judges):
        where = f"eval.judges[{i}] ({judge.model})"
        try:
            model = _judge_model(judge.model, dict(judge.model_args), judge.base_url, max_tokens=16, max_retries=1,
                                 timeout=int(timeout_s))
            asyncio.run(_probe_one(model, timeout_s))
        except Exception as exc:  # noqa: BLE001  any failure to answer: unknown provider, no key, refused, timeout
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            raise TrainConfigError(f"{where}: cannot be reached at start: {detail}") from None


@dataclass
class EvalRecord:
    step: int
    checkpoint: str
    log: str | None
    run_id: str | None
    eval_seconds: float
    train_reward: float | None
    summary: dict[str, Any] | None
    alarms: list[str] = field(default_factory=list)
    stored: bool = False
    error: str | None = None

    def point(self) -> EvalPoint:
        s = self.summary or {}
        return EvalPoint(self.step, s.get("train_judge_score"), s.get("heldout_score"), s.get("length_ratio"),
                         s.get("self_repetition"))

    def metrics(self) -> dict[str, float]:
        """Trainer metrics for this evaluation (``eval/*``, ``alarm/*``)."""
        s = self.summary or {}
        out: dict[str, float] = {"eval/seconds": self.eval_seconds, "eval/failed": float(self.error is not None)}
        for key in ("train_judge_score", "heldout_score", "length_ratio", "self_repetition", "cliche_rate"):
            if s.get(key) is not None:
                out[f"eval/{key}"] = float(s[key])
        for j in s.get("judges", []):
            if j.get("score") is not None:
                out[f"eval/judge/{j['role']}"] = float(j["score"])
        raised = {kind(a) for a in self.alarms}
        out.update({f"alarm/{k}": float(k in raised) for k in ALARM_KINDS})
        return out


class CheckpointEvaluator:
    """Runs, records and stores the checkpoint evaluations of one training run."""

    def __init__(self, cfg: PolarisTrainConfig, out: Path, *, train_targets: list[int], base_policy: str) -> None:
        if cfg.eval is None:
            raise ValueError("the recipe has no eval: section")
        self.cfg = cfg
        self.section = cfg.eval
        self.out = out
        self.base_policy = base_policy
        self.targets = list(self.section.targets or default_targets(train_targets))
        self.db = Path(self.section.db or cfg.store)
        self.log_dir = out / self.section.log_dir
        self.ledger_path = out / LEDGER
        # Only the main process evaluates; the others need only due() (the same on every rank).
        self.train_run = train_run_id(out) if is_main_process() else ""
        self.records: dict[int, EvalRecord] = {}
        if self.ledger_path.exists():
            for line in self.ledger_path.read_text().splitlines():
                if line.strip():
                    rec = EvalRecord(**json.loads(line))
                    self.records[rec.step] = rec

    # -- which steps ---------------------------------------------------------------------

    def due(self, step: int, max_steps: int) -> bool:
        if step == 0:
            return self.section.at_start
        return step % self.section.every_steps == 0 or (max_steps > 0 and step == max_steps)

    def done(self, step: int) -> bool:
        """Evaluated successfully (a failed evaluation is tried again when the run resumes)."""
        return step in self.records and self.records[step].error is None

    def policy_dir(self, step: int) -> str:
        return self.base_policy if step == 0 else str(self.out / f"checkpoint-{step}")

    # -- the Inspect eval -----------------------------------------------------------------

    def roles(self) -> dict[str, Any]:
        from polaris_bench.store.training import TRAIN_ROLE, heldout_role

        j = self.cfg.judge
        cfg = {k: v for k, v in (("temperature", j.temperature), ("top_p", j.top_p), ("max_tokens", j.max_tokens))
               if v is not None}
        roles = {TRAIN_ROLE: _judge_model(j.model, dict(j.model_args), j.base_url, max_connections=j.concurrency,
                                          **cfg)}
        for i, h in enumerate(self.section.judges):
            roles[heldout_role(i)] = _judge_model(h.model, dict(h.model_args), h.base_url,
                                                  max_connections=j.concurrency)
        return roles

    def task_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "prompts": self.section.prompts,
            "targets": ",".join(str(t) for t in self.targets),
            "judges": ",".join(self.roles_order()),
            "rubric": self.cfg.judge.rubric,
            "compact": self.cfg.judge.compact,
            "judge_attempts": self.cfg.judge.max_attempts,
        }
        if self.section.max_tokens is not None:
            args["max_tokens"] = self.section.max_tokens
        return args

    def roles_order(self) -> list[str]:
        from polaris_bench.store.training import TRAIN_ROLE, heldout_role

        return [TRAIN_ROLE, *(heldout_role(i) for i in range(len(self.section.judges)))]

    def policy_model_args(self) -> dict[str, Any]:
        args = dict(self.section.model_args)
        thinking = self.cfg.model.chat_template_kwargs.get("enable_thinking")
        if thinking is not None:
            args.setdefault("enable_thinking", thinking)
        return args

    # -- evaluating one step ---------------------------------------------------------------

    def evaluate(self, step: int, *, model: str | None = None, model_args: dict[str, Any] | None = None) -> EvalRecord:
        """Evaluate the policy of ``step`` (by default ``hf/<its checkpoint>``; ``model``
        evaluates another Inspect model as that step), record, store, raise alarms."""
        from inspect_ai import eval as inspect_eval

        from polaris_bench.benchmarks.length_gen import length_gen
        from polaris_bench.store.ingest import fingerprint
        from polaris_bench.store.rows import build_rows
        from polaris_bench.store.training import summarise

        if self.done(step):
            return self.records[step]
        started = time.perf_counter()
        checkpoint = self.policy_dir(step) if model is None else model
        policy = f"hf/{checkpoint}" if model is None else model
        log.info("checkpoint evaluation at step %d: %s on %d target(s) %s, judges %s", step, policy,
                 len(self.targets), self.targets, ", ".join([self.cfg.judge.model, *(j.model for j in self.section.judges)]))
        summary: dict[str, Any] | None = None
        error = log_path = run_id = None
        try:
            # the task object itself, not its registry name: a name is resolved through
            # Inspect's entry points and the working folder, which a training job should not
            # depend on (the log records the task's name and arguments all the same)
            logs = inspect_eval(
                length_gen(**self.task_args()),
                model=policy,
                model_args=self.policy_model_args() if model is None else dict(model_args or {}),
                model_roles=self.roles(),
                log_dir=str(self.log_dir),
                display="none",
                tags=["training-eval", f"train_run={self.train_run}", f"step={step}"],
                metadata={"train_run": self.train_run, "train_step": step},
                **self.section.generate,
            )
            result = logs[0]
            log_path, run_id = result.location, str(result.eval.eval_id)
            if result.status != "success":
                error = f"evaluation {result.status}: {result.error.message if result.error else ''}".strip()
            else:
                summary = summarise(build_rows(result, log_path, fingerprint(result))).to_json()
        except Exception as exc:  # noqa: BLE001  a failed evaluation is reported and recorded; training goes on
            error = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
        rec = EvalRecord(step=step, checkpoint=checkpoint, log=log_path, run_id=run_id, eval_seconds=0.0,
                         train_reward=self.train_reward(step), summary=summary, error=error)
        if error:
            log.warning("checkpoint evaluation at step %d failed: %s", step, error)
        else:
            history = [r.point() for s, r in sorted(self.records.items()) if r.summary and s < step]
            rec.alarms = alarms([*history, rec.point()], self.section.alarm)
            for message in rec.alarms:
                log.warning("ALARM at step %d: %s", step, message)
        rec.eval_seconds = round(time.perf_counter() - started, 3)
        self.records[step] = rec
        self._write_ledger()
        self.store_pending()
        s = summary or {}
        log.info("checkpoint evaluation at step %d: training judge %s, held-out %s, length ratio %s (%.1f s)", step,
                 s.get("train_judge_score"), s.get("heldout_score"), s.get("length_ratio"), rec.eval_seconds)
        return rec

    def train_reward(self, step: int) -> float | None:
        """Mean of TRL's ``reward`` over the steps since the previous evaluation (the last
        logged record of each step, so a resumed run's repeated steps count once)."""
        path = self.out / self.cfg.metrics_file
        if step == 0 or not path.exists():
            return None
        earlier = [s for s in self.records if s < step]
        since = max(earlier) if earlier else 0
        per_step: dict[int, float] = {}
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec.get("reward"), (int, float)) and since < int(rec.get("step", -1)) <= step:
                per_step[int(rec["step"])] = float(rec["reward"])
        return sum(per_step.values()) / len(per_step) if per_step else None

    # -- resume --------------------------------------------------------------------------

    def catch_up(self, resume_step: int, max_steps: int) -> list[int]:
        """Before training (re)starts at ``resume_step``: forget evaluations of steps
        after it (a policy this run no longer has), and evaluate every due step up to
        it that has no evaluation yet and whose policy still exists. Returns those steps."""
        later = [s for s in self.records if s > resume_step]
        if later:
            log.warning("forgetting checkpoint evaluations of steps %s: the run resumes at step %d", later, resume_step)
            for s in later:
                del self.records[s]
            self._write_ledger()
            self._forget_stored(later)
        evaluated = []
        for step in range(resume_step + 1):
            if self.done(step) or not self.due(step, max_steps):
                continue
            if step > 0 and not Path(self.policy_dir(step)).is_dir():
                log.warning("checkpoint evaluation of step %d is missing and its checkpoint is gone; not evaluated",
                            step)
                continue
            rec = self.evaluate(step)
            if step == 0 and rec.error:  # the set-up is wrong: say so before the first step, not after hours
                raise TrainConfigError(f"eval: the evaluation of the initial policy (step 0) failed: {rec.error}")
            evaluated.append(step)
        self.store_pending()
        return evaluated

    # -- ledger and store --------------------------------------------------------------------

    def _write_ledger(self) -> None:
        tmp = self.ledger_path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r.__dict__, default=float) + "\n" for _, r in sorted(self.records.items())))
        os.replace(tmp, self.ledger_path)

    def _connect(self) -> Any:
        from polaris_bench.store.schema import SchemaError, connect

        last: Exception | None = None
        for attempt in range(STORE_TRIES):
            try:
                return connect(self.db)
            except SchemaError as exc:  # most often: another process holds the file's lock
                last = exc
                time.sleep(STORE_WAIT_S * (attempt + 1))
        raise RuntimeError(f"results store {self.db}: {last}")

    def store_pending(self) -> None:
        """Ingest every recorded evaluation not yet in the store (a store that stays
        locked is a warning; those evaluations are stored at the next try)."""
        from polaris_bench.store.ingest import ingest_file
        from polaris_bench.store.training import EvalSummary, store_training_eval

        pending = [r for _, r in sorted(self.records.items()) if not r.stored and r.summary and r.log]
        if not pending:
            return
        try:
            con = self._connect()
        except RuntimeError as exc:
            log.warning("checkpoint evaluations of steps %s not stored yet: %s", [r.step for r in pending], exc)
            return
        try:
            for rec in pending:
                st = os.stat(rec.log)
                ingest_file(con, str(Path(rec.log).resolve()), st.st_size, st.st_mtime)
                store_training_eval(
                    con, train_run=self.train_run, step=rec.step, run_id=rec.run_id, output_dir=str(self.out.resolve()),
                    checkpoint=rec.checkpoint, train_judge=self.cfg.judge.model, train_reward=rec.train_reward,
                    summary=EvalSummary(**rec.summary), eval_seconds=rec.eval_seconds, alarms=rec.alarms,
                )
                rec.stored = True
        finally:
            con.close()
        self._write_ledger()

    def _forget_stored(self, steps: list[int]) -> None:
        try:
            con = self._connect()
        except RuntimeError as exc:
            log.warning("could not remove stored evaluations of steps %s: %s", steps, exc)
            return
        try:
            for s in steps:
                con.execute("DELETE FROM training_evals WHERE train_run = ? AND step = ?", [self.train_run, s])
                con.execute("DELETE FROM training_eval_judges WHERE train_run = ? AND step = ?", [self.train_run, s])
        finally:
            con.close()


def eval_callback(evaluator: CheckpointEvaluator):
    """The TrainerCallback: a checkpoint at every due step, evaluated right after TRL saves it."""
    from transformers import Trainer, TrainerCallback

    class CheckpointEval(TrainerCallback):
        trainer: Any = None  # set by run.train (for Trainer.log)

        def _log(self, rec: EvalRecord) -> None:
            if self.trainer is not None:
                # transformers' own log (not GRPOTrainer.log, which would flush the next step's metrics)
                Trainer.log(self.trainer, rec.metrics())

        def on_train_begin(self, args, state, control, **kwargs):
            # the trainer state is loaded by now: global_step is the step the run (re)starts at
            if state.is_world_process_zero:
                for step in evaluator.catch_up(state.global_step, state.max_steps):
                    self._log(evaluator.records[step])
            return control

        def on_step_end(self, args, state, control, **kwargs):
            if evaluator.due(state.global_step, state.max_steps):
                control.should_save = True
            return control

        def on_save(self, args, state, control, **kwargs):
            step = state.global_step
            if not evaluator.due(step, state.max_steps) or evaluator.done(step) or not state.is_world_process_zero:
                return control
            self._log(evaluator.evaluate(step))
            return control

    return CheckpointEval()
