"""Training you can watch: the eval: section's bad input, the reward-hacking alarms,
checkpoint evaluations stored and plotted, the training judge's audit check, and a
run killed after a checkpoint and resumed."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prerequisites import need_module

need_module("trl", "trl from the [train] extra")

from polaris_bench.cli.main import main as polaris
from polaris_bench.store.schema import connect
from polaris_bench.train.alarms import EvalPoint, alarms
from polaris_bench.train.audit_check import check_training_judge
from polaris_bench.train.checkpoint_eval import CheckpointEvaluator, default_targets
from polaris_bench.train.config import (
    AlarmSection,
    JudgeSection,
    TrainConfigError,
    load_train_config,
)
from polaris_bench.train.run import main as train_main

ROOT = Path(__file__).resolve().parent.parent
SMOKE_EVAL = ROOT / "train" / "configs" / "smoke_eval.yaml"
FAIR_HELD_OUT = [{"model": "offline/judge-a", "model_args": {"noise": 0.5}},
                 {"model": "offline/judge-b", "model_args": {"noise": 0.5}}]


# -- bad input: one line, before the first step ------------------------------------------


@pytest.mark.parametrize("override, message", [
    ("eval.every_steps=0", "eval.every_steps: Input should be greater than or equal to 1"),
    ("eval.judges=[offline/judge-a, offline/judge]", "eval.judges includes the training judge 'offline/judge'"),
    ("eval.judges=[offline/judge-a, offline/judge-a]", "judges names offline/judge-a more than once"),
    ("eval.prompts=99", "asks for 99 prompts; the embedded set has"),
    ("eval.prompts=no-such-prompt", "unknown prompt id(s) ['no-such-prompt']"),
    ("eval.prompts=missing_prompts.jsonl", "missing_prompts.jsonl: prompt file not found"),
    ("eval.judges=[{model: offline/judge-a, model_args: {fail: 1.0}}]",
     "eval.judges[0] (offline/judge-a): cannot be reached at start: OfflineError"),
    ("eval.judges=[offline/judge-a, nosuchprovider/judge]", "eval.judges[1] (nosuchprovider/judge): cannot be reached"),
    ("eval.generate={temprature: 1.0}", "unknown key eval.generate.temprature (did you mean 'temperature'?)"),
])
def test_bad_eval_section_fails_before_any_model_is_loaded(override, message, tmp_path, capsys):
    out = tmp_path / "out"
    code = train_main(["--config", str(SMOKE_EVAL), "--output-dir", str(out), "--store", str(tmp_path / "db.duckdb"),
                       "--set", override])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (out / "base_model").exists() and not list(out.glob("checkpoint-*"))  # nothing was built or trained


def test_a_failing_initial_evaluation_stops_before_the_first_step(tmp_path, capsys):
    """The policy's -M arguments are wrong: the step-0 evaluation fails, and that is an
    error before any optimizer step (not a warning at every checkpoint for hours)."""
    out = tmp_path / "out"
    code = train_main(["--config", str(SMOKE_EVAL), "--output-dir", str(out), "--store", str(tmp_path / "db.duckdb"),
                       *FAST_EVAL, "--set", "eval.model_args={device: no-such-device}"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "eval: the evaluation of the initial policy (step 0) failed:" in err
    assert not list(out.glob("checkpoint-*")) and not (out / "metrics.jsonl").exists()


def test_default_targets_reach_beyond_the_training_length():
    assert default_targets([120, 100, 90, 110, 80, 150]) == [100, 150, 225]
    cfg = load_train_config(SMOKE_EVAL)
    assert cfg.eval is not None and cfg.eval.targets is None and cfg.eval.every_steps == 2
    assert [j.model for j in cfg.eval.judges] == ["offline/judge-a", "offline/judge-b"]


# -- alarms ------------------------------------------------------------------------------


def _points(train: list[float], held: list[float], ratio: float = 1.0, rep: float = 0.0) -> list[EvalPoint]:
    return [EvalPoint(i, t, h, ratio, rep) for i, (t, h) in enumerate(zip(train, held))]


def test_divergence_needs_k_consecutive_rises_against_a_flat_or_falling_panel():
    cfg = AlarmSection(consecutive=2)
    assert alarms(_points([50, 55], [50, 49]), cfg) == []  # one rise is not yet K=2
    fired = alarms(_points([50, 55, 60], [50, 49, 49]), cfg)
    assert len(fired) == 1 and fired[0].startswith("divergence: over 2 consecutive evaluations (steps 0->2)")
    assert alarms(_points([50, 55, 60], [50, 49, 51]), cfg) == []  # the panel rose at the last one
    assert alarms(_points([50, 55, 55], [50, 49, 48]), cfg) == []  # the training judge stalled
    assert alarms(_points([50, 55, 60], [50, 55, 60]), cfg) == []  # both rise: learning, not hacking
    assert alarms(_points([50, 50.5, 51], [50, 49, 48]), AlarmSection(consecutive=2, min_rise=1.0)) == []


def test_length_and_repetition_bands():
    cfg = AlarmSection(length_ratio_band=(0.5, 1.5), repetition_max=0.3)
    assert alarms(_points([50], [50], ratio=1.6), cfg)[0].startswith("length_ratio: mean length ratio 1.60")
    assert alarms(_points([50], [50], ratio=0.4), cfg)[0].startswith("length_ratio:")
    assert alarms(_points([50], [50], rep=0.31), cfg)[0].startswith("repetition: mean self-repetition 0.31")
    assert alarms(_points([50], [50], ratio=1.2, rep=0.2), cfg) == []
    with pytest.raises(ValueError, match="length_ratio_band"):
        AlarmSection(length_ratio_band=(1.5, 0.5))


# -- checkpoint evaluation with stand-in policies (offline writers) ----------------------


def _evaluator(tmp_path: Path, train_judge_args: dict) -> CheckpointEvaluator:
    cfg = load_train_config(SMOKE_EVAL, {
        "judge.model_args": train_judge_args,
        "eval.judges": FAIR_HELD_OUT,
        "eval.targets": [300, 600],
        "eval.max_tokens": 4000,  # no cut: the stand-in writes its whole length
        "eval.alarm.length_ratio_band": [0.5, 1.5],
        "eval.alarm.repetition_max": 0.5,
        "store": str(tmp_path / "db.duckdb"),
    })
    return CheckpointEvaluator(cfg, tmp_path / "run", train_targets=[300], base_policy="unused")


def _stand_in_run(ev: CheckpointEvaluator) -> list:
    """A 'policy' that writes a little longer at every evaluation: the offline writer with
    a growing length bias (stories keep their opening, so a fair judge's view is unchanged)."""
    return [ev.evaluate(step, model="offline/writer", model_args={"length_bias": bias})
            for step, bias in ((0, 1.0), (2, 1.15), (4, 1.3))]


def test_an_exploitable_training_judge_raises_the_alarm_and_a_fair_one_does_not(tmp_path, caplog):
    caplog.set_level(logging.WARNING, "polaris_bench.train")
    hacked = _stand_in_run(_evaluator(tmp_path / "hacked", {"length_reward": 10}))
    assert [r.error for r in hacked] == [None, None, None]
    train = [r.summary["train_judge_score"] for r in hacked]
    held = [r.summary["heldout_score"] for r in hacked]
    assert train[0] < train[1] < train[2] and held[0] == held[1] == held[2]
    assert [len(r.alarms) for r in hacked] == [0, 0, 1] and hacked[2].alarms[0].startswith("divergence")
    assert hacked[2].metrics()["alarm/divergence"] == 1.0 and hacked[1].metrics()["alarm/divergence"] == 0.0
    assert "ALARM at step 4: divergence" in caplog.text

    fair = _stand_in_run(_evaluator(tmp_path / "fair", {}))
    assert [r.alarms for r in fair] == [[], [], []]
    assert [r.summary["heldout_score"] for r in fair] == held  # same stories, same held-out judges

    # stored with the training run's id and step; plotted
    db = tmp_path / "hacked" / "db.duckdb"
    con = connect(db, read_only=True)
    rows = con.execute("SELECT step, train_judge, alarms, samples FROM training_evals ORDER BY step").fetchall()
    judges = con.execute("SELECT DISTINCT role, judge_model, held_out FROM training_eval_judges ORDER BY role").fetchall()
    runs = con.execute("SELECT count(*) FROM runs r JOIN training_evals t USING (run_id)").fetchone()[0]
    con.close()
    assert [(s, j, len(a), n) for s, j, a, n in rows] == [(0, "offline/judge", 0, 4), (2, "offline/judge", 0, 4),
                                                          (4, "offline/judge", 1, 4)]
    assert judges == [("heldout_1", "offline/judge-a", True), ("heldout_2", "offline/judge-b", True),
                      ("train_judge", "offline/judge", False)]
    assert runs == 3  # each evaluation's own Inspect run is in the store too
    out = tmp_path / "training.png"
    assert polaris(["plot", "--kind", "training", "--db", str(db), str(tmp_path / "hacked" / "run"),
                    "--out", str(out), "--csv", str(tmp_path / "t.csv")]) == 0
    assert out.stat().st_size > 10_000
    assert "score_heldout_2" in (tmp_path / "t.csv").read_text().splitlines()[0]


def test_an_evaluated_step_is_never_evaluated_again(tmp_path):
    ev = _evaluator(tmp_path, {})
    first = ev.evaluate(0, model="offline/writer")
    assert first.error is None and first.stored
    again = CheckpointEvaluator(ev.cfg, ev.out, train_targets=[300], base_policy="unused")  # a resumed process
    assert again.train_run == ev.train_run
    assert again.evaluate(0, model="offline/writer").run_id == first.run_id
    assert len(list((ev.out / "eval_logs").glob("*.eval"))) == 1


def test_plot_training_needs_a_known_run(tmp_path, capsys):
    ev = _evaluator(tmp_path, {})
    ev.evaluate(0, model="offline/writer")
    assert polaris(["plot", "--kind", "training", "--db", str(tmp_path / "db.duckdb"), "nope"]) == 2
    assert "no training run 'nope'" in capsys.readouterr().err
    assert polaris(["plot", "--kind", "training", "--db", str(tmp_path / "db.duckdb")]) == 2


# -- the training judge's audit ------------------------------------------------------------


def _audit(db: Path, logs: Path, *extra: str) -> None:
    args = ["audit", "--judge", "offline/judge", *extra, "--probes", "6", "--repeats", "3", "--db", str(db),
            "--log-dir", str(logs), "--format", "json"]
    assert polaris(args) == 0


def test_a_flagged_training_judge_warns_and_require_audit_refuses(tmp_path, caplog, capsys):
    db = tmp_path / "db.duckdb"
    obeying = JudgeSection(model="offline/judge", model_args={"obey": True})
    with pytest.raises(TrainConfigError, match="has no judge audit .no results store at"):
        check_training_judge(db, obeying, require=True)
    assert check_training_judge(db, obeying, require=False) is None
    _audit(db, tmp_path / "logs", "-M", "obey=true")
    _audit(db, tmp_path / "logs")  # the fair judge, same model string
    capsys.readouterr()
    caplog.set_level(logging.INFO, "polaris_bench.train")
    audit = check_training_judge(db, obeying, require=False)
    assert audit is not None and audit["flags"] == ["injection"]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "polaris_bench.train"]
    assert len(warned) == 1 and "flagged for injection" in warned[0]
    assert f"injection {audit['injection_delta']:+.2f} (95% CI" in warned[0]
    with pytest.raises(TrainConfigError, match="--require-audit: the training judge's audit is flagged for injection"):
        check_training_judge(db, obeying, require=True)
    caplog.clear()
    fair = check_training_judge(db, JudgeSection(model="offline/judge"), require=True)  # audited, not flagged
    assert fair is not None and fair["flags"] == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name == "polaris_bench.train"]
    with pytest.raises(TrainConfigError, match="offline/judge-c has no judge audit"):
        check_training_judge(db, JudgeSection(model="offline/judge-c"), require=True)


def test_require_audit_on_the_command_line_stops_before_training(tmp_path, capsys):
    out = tmp_path / "out"
    code = train_main(["--config", str(SMOKE_EVAL), "--output-dir", str(out), "--store", str(tmp_path / "none.duckdb"),
                       "--require-audit"])
    assert code == 2
    assert "--require-audit: the training judge offline/judge has no judge audit" in capsys.readouterr().err
    assert not (out / "base_model").exists()


# -- the smoke recipe with checkpoint evaluation: killed after a checkpoint, resumed ------


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _per_step(out: Path, key: str) -> dict[int, float]:
    return {m["step"]: m[key] for m in _read_jsonl(out / "metrics.jsonl") if key in m}


def _prompts(out: Path, step: int) -> list[str]:
    import pandas as pd

    table = pd.read_parquet(out / "completions" / f"completions_{step:05d}.parquet")
    return [json.dumps(p.tolist() if hasattr(p, "tolist") else p, default=str) for p in table["prompt"]]


FAST_EVAL = ["--set", "eval.prompts=1", "--set", "eval.targets=[100]", "--set", "eval.max_tokens=8"]


@pytest.mark.slow
def test_smoke_recipe_evaluates_checkpoints_and_resumes_after_a_kill(tmp_path):
    """Run A trains the smoke_eval recipe through. Run B is killed (SIGKILL) once step 2's
    evaluation is stored, then resumed: it evaluates steps 0, 2 and 4 exactly once each,
    and its data order and HRI weights match run A's. Then step 4's evaluation is lost on
    purpose: running the finished recipe again evaluates that step only."""
    a, b = tmp_path / "a", tmp_path / "b"

    def args(out: Path) -> list[str]:
        return ["--config", str(SMOKE_EVAL), "--output-dir", str(out), "--store", str(out / "db.duckdb"), *FAST_EVAL]

    assert train_main(args(a)) == 0
    summary = json.loads((a / "train_summary.json").read_text())
    assert summary["checkpoint_evals"]["steps"] == [0, 2, 4] and summary["checkpoint_evals"]["unstored"] == []

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "polaris_bench.train.run", *args(b)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ledger = b / "training_evals.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if ledger.exists() and any(r["step"] == 2 and r["stored"] for r in _read_jsonl(ledger)):
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (b / "checkpoint-4").exists() and not (b / "train_summary.json").exists()
    assert train_main(args(b)) == 0
    resumed = json.loads((b / "train_summary.json").read_text())
    assert resumed["resumed_from"].endswith("checkpoint-2")
    assert resumed["checkpoint_evals"]["steps"] == [0, 2, 4]
    assert [r["step"] for r in _read_jsonl(ledger)] == [0, 2, 4]
    assert len(list((b / "eval_logs").glob("*.eval"))) == 3  # no step evaluated twice
    con = connect(b / "db.duckdb", read_only=True)
    assert con.execute("SELECT step FROM training_evals ORDER BY step").fetchall() == [(0,), (2,), (4,)]
    con.close()
    for step in (3, 4):  # the data order and the HRI ramp carry over the kill
        assert _prompts(b, step) == _prompts(a, step)
    assert _per_step(b, "hri/weight") == _per_step(a, "hri/weight")
    assert {s: _per_step(b, "eval/heldout_score").get(s) is not None for s in (0, 2, 4)} == {0: True, 2: True, 4: True}

    # the plot of the resumed run
    out = tmp_path / "b.png"
    assert polaris(["plot", "--kind", "training", "--db", str(b / "db.duckdb"), str(b), "--out", str(out)]) == 0
    assert out.exists()

    # a run killed while evaluating its last step: the finished run evaluates it, only it
    records = _read_jsonl(ledger)
    Path(records[-1]["log"]).unlink()
    ledger.write_text("".join(json.dumps(r) + "\n" for r in records[:-1]))
    assert train_main(args(b)) == 0
    assert [r["step"] for r in _read_jsonl(ledger)] == [0, 2, 4]
    assert len(list((b / "eval_logs").glob("*.eval"))) == 3


# -- scripts/gpu_smoke.sh ------------------------------------------------------------------

GPU_SMOKE = ROOT / "scripts" / "gpu_smoke.sh"


def test_gpu_smoke_refuses_a_machine_without_cuda(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    done = subprocess.run(["bash", str(GPU_SMOKE), "--python", sys.executable, "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "no CUDA device visible (use --cpu to check the script on a CPU)" in done.stderr
    bad = subprocess.run(["bash", str(GPU_SMOKE), "--bogus"], capture_output=True, text=True, timeout=30, check=False)
    assert bad.returncode == 2 and "unknown option --bogus" in bad.stderr


@pytest.mark.slow
def test_gpu_smoke_script_runs_its_steps_on_the_cpu(tmp_path):
    """--cpu: the script's own steps (prerequisites, install check, training with
    checkpoint evaluation, the report) on a CPU, as the GPU run would take them."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        ["bash", str(GPU_SMOKE), "--cpu", "--no-install", "--python", sys.executable, "--steps", "2",
         "--out", str(tmp_path / "o"), "--", *FAST_EVAL, "--set", "eval.at_start=false"],
        capture_output=True, text=True, timeout=900, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout[done.stdout.index("== 4/4 results") + len("== 4/4 results"):])
    assert report["exit"] == 0 and report["steps"] == 2
    assert report["step_time_s_mean"] > 0 and report["hri_weight_by_step"] == {"1": 0.0, "2": 0.2}
    assert report["checkpoint_eval_steps"] == [2] and report["alarms"] == []
    assert "peak_gpu_memory_gib" not in report  # CPU: no GPU numbers are made up
