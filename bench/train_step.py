"""Training-step benchmarks for the GRPO + HRI add-on (CPU, tiny model, offline judge).

    .venv/bin/python bench/train_step.py            # both parts
    .venv/bin/python bench/train_step.py --part reward --latency 1.0
    .venv/bin/python bench/train_step.py --part step --steps 3

(a) reward phase: one step's reward computation for 8 prompts x 6 completions = 48
    stories, through the trainer's own reward path (TRL's event loop), with a judge of
    ``--latency`` seconds per call. Printed as elapsed / latency: the judge calls must
    overlap, so the target is < 2 (48 serial calls would be 48).
(b) step time with HRI / without: the same recipe (8 prompts x 6 rows per step) with
    ``hri.enabled`` on and off, averaged over the measured steps after a warm-up step,
    alternating the two arms. Printed for process CPU time (the robust number on a
    shared machine) and for wall time (TRL's ``step_time``). Target <= 1.25.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PROMPTS = 8
G = 6
SUBJECTS = [
    "a ferry pilot and a stranger's violin",
    "two sisters and a winter orchard",
    "a clockmaker asked to mend time",
    "a station master with no trains",
    "a cartographer of a moving city",
    "a beekeeper who hears a name",
    "a lighthouse message in the fog",
    "a market that opens at midnight",
]


def bench_rows(words: int = 60) -> list[dict]:
    from polaris_bench.providers.offline import write_story

    rows = []
    for i, subject in enumerate(SUBJECTS[:PROMPTS]):
        prompt = f"Write a story about {subject}. Your story should be approximately {words * 2} words long."
        rows.append(
            {
                "prompt": [{"role": "user", "content": prompt}],
                "story": write_story(f"human-{i}", prompt, words),
                "reasoning": "Plan the scene, the turn and the ending.",
                "uid": f"bench-{i}",
            }
        )
    return rows


def make_trainer(out: Path, rows: list[dict], hri: bool, latency: float, max_completion_length: int):
    import torch
    from inspect_ai.model import GenerateConfig, get_model
    from trl import GRPOConfig

    import polaris_bench._registry  # noqa: F401
    from polaris_bench.train.config import HRISection, TinyModelConfig
    from polaris_bench.train.data import normalize_rows, to_dataset
    from polaris_bench.train.hri_trainer import HRIGRPOTrainer
    from polaris_bench.train.reward import StoryReward
    from polaris_bench.train.tiny_model import build_tiny

    norm = normalize_rows(rows)
    texts = [r["prompt_text"] for r in norm] + [r["reference_story"] for r in norm]
    tokenizer, model = build_tiny(texts, TinyModelConfig(), save_dir=out.parent / "base_model")
    torch.manual_seed(0)
    grader = get_model(
        "offline/judge", config=GenerateConfig(max_connections=64), memoize=False, latency=latency
    )
    reward = StoryReward(
        rubric="story_quality", grader=grader, tokenizer=tokenizer, max_completion_length=max_completion_length
    )
    args = GRPOConfig(
        output_dir=str(out),
        per_device_train_batch_size=PROMPTS * G,
        num_generations=G,
        max_completion_length=max_completion_length,
        learning_rate=1e-4,
        beta=0.0,
        loss_type="dapo",
        report_to="none",
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        logging_steps=1,
        save_strategy="no",
        seed=0,
        shuffle_dataset=False,
        chat_template_kwargs={"enable_thinking": True},
        disable_tqdm=True,
        max_steps=1,
    )
    trainer = HRIGRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=to_dataset(norm * 4),
        processing_class=tokenizer,
        hri=HRISection(enabled=hri, warmup_steps=0),
    )
    return trainer, norm


def part_reward(latency: float, repeat: int = 3) -> tuple[list[float], list[float]]:
    """One step's reward phase, 48 completions, judge latency ``latency``; ``repeat``
    timings (the box may be shared: the median is reported)."""
    from polaris_bench.judging.judge import JudgeConfig
    from polaris_bench.providers.offline import write_story

    with tempfile.TemporaryDirectory() as tmp:
        trainer, rows = make_trainer(Path(tmp) / "reward", bench_rows(), True, latency, 96)
        inputs = [dict(r, hri_reference=False) for r in rows for _ in range(G)]
        prompts = [r["prompt"] for r in inputs]
        completions = [
            [{"role": "assistant", "content": write_story(f"policy-{i}", r["prompt_text"], 300)}]
            for i, r in enumerate(inputs)
        ]
        ids = [[1] * 96 for _ in inputs]
        trainer._calculate_rewards(inputs[:G], prompts[:G], completions[:G], ids[:G])  # warm-up
        timings = []
        for k in range(repeat):
            # a different judge seed each time, so no reply is served from a cache
            trainer.reward_funcs[0].judge_config = JudgeConfig(seed=1000 * (k + 1))
            t0 = time.perf_counter()
            rewards = trainer._calculate_rewards(inputs, prompts, completions, ids)
            timings.append(time.perf_counter() - t0)
            assert rewards.shape[0] == PROMPTS * G and not rewards.isnan().any()
        # the same phase with an instant judge: the CPU cost that latency cannot hide
        from inspect_ai.model import GenerateConfig, get_model

        trainer.reward_funcs[0].grader = get_model(
            "offline/judge", config=GenerateConfig(max_connections=64), memoize=False, latency=0.0
        )
        cpu = []
        for k in range(repeat):
            trainer.reward_funcs[0].judge_config = JudgeConfig(seed=99_000 + k)
            t0 = time.perf_counter()
            trainer._calculate_rewards(inputs, prompts, completions, ids)
            cpu.append(time.perf_counter() - t0)
    return timings, cpu


def part_step(steps: int, reps: int, max_completion_length: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per-step wall time (TRL's ``step_time``) and process CPU time (all threads; less
    sensitive to other processes on a shared machine), warm-up step dropped."""
    wall: dict[str, list[float]] = {"hri": [], "no_hri": []}
    cpu: dict[str, list[float]] = {"hri": [], "no_hri": []}
    with tempfile.TemporaryDirectory() as tmp:
        rows = bench_rows()
        for rep in range(reps):
            order = ("hri", "no_hri") if rep % 2 == 0 else ("no_hri", "hri")
            for arm in order:
                trainer, _ = make_trainer(Path(tmp) / f"{arm}-{rep}", rows, arm == "hri", 0.0, max_completion_length)
                trainer.args.max_steps = steps + 1
                cpu_steps: list[float] = []
                step_fn = trainer.training_step

                def timed(*a, _f=step_fn, _out=cpu_steps, **k):
                    t0 = time.process_time()
                    result = _f(*a, **k)
                    _out.append(time.process_time() - t0)
                    return result

                trainer.training_step = timed
                trainer.train()
                logged = [h["step_time"] for h in trainer.state.log_history if "step_time" in h]
                wall[arm].extend(logged[1:])  # drop the warm-up step
                cpu[arm].extend(cpu_steps[1:])
                if arm == "hri":
                    refs = [h.get("hri/ref_rows", 0) for h in trainer.state.log_history if "step_time" in h]
                    assert all(r == PROMPTS for r in refs), f"every group should hold a reference: {refs}"
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=["reward", "step", "all"], default="all")
    p.add_argument("--latency", type=float, default=1.0)
    p.add_argument("--repeat", type=int, default=5, help="reward-phase timings (median reported)")
    p.add_argument("--steps", type=int, default=3, help="measured steps per arm and repetition")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--max-completion-length", type=int, default=96)
    p.add_argument("--json", help="also write the numbers to this file")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    result: dict[str, object] = {}
    if args.part in ("reward", "all"):
        timings, cpu = part_reward(args.latency, args.repeat)
        elapsed = statistics.median(timings)
        ratio = elapsed / args.latency
        result.update(
            reward_phase_s=round(elapsed, 3), reward_phase_samples=[round(t, 3) for t in timings],
            latency_s=args.latency, reward_phase_ratio=round(ratio, 3),
        )
        print(
            f"(a) reward phase, {PROMPTS * G} completions, judge latency {args.latency:.1f} s: "
            f"median {elapsed:.2f} s = {ratio:.2f} x latency (target < 2; serial would be {PROMPTS * G}); "
            f"runs: {', '.join(f'{t / args.latency:.2f}' for t in timings)}"
        )
        result.update(reward_phase_no_latency_s=round(statistics.median(cpu), 3))
        print(
            f"    the same phase with a 0 s judge (local CPU: judge prompt, Inspect, parsing, length "
            f"metrics): median {statistics.median(cpu):.2f} s"
        )
    if args.part in ("step", "all"):
        wall, cpu = part_step(args.steps, args.reps, args.max_completion_length)
        hri, base = statistics.mean(wall["hri"]), statistics.mean(wall["no_hri"])
        hri_cpu, base_cpu = statistics.mean(cpu["hri"]), statistics.mean(cpu["no_hri"])
        result.update(
            step_s_hri=round(hri, 3), step_s_no_hri=round(base, 3), step_ratio=round(hri / base, 3),
            step_cpu_s_hri=round(hri_cpu, 3), step_cpu_s_no_hri=round(base_cpu, 3),
            step_cpu_ratio=round(hri_cpu / base_cpu, 3), step_wall_samples=wall, step_cpu_samples=cpu,
        )
        print(
            f"(b) step time, {PROMPTS} prompts x {G} rows, {args.max_completion_length} tokens max, "
            f"{len(wall['hri'])} + {len(wall['no_hri'])} steps (target <= 1.25):\n"
            f"    CPU time  HRI {hri_cpu:.2f} s / no-HRI {base_cpu:.2f} s = {hri_cpu / base_cpu:.2f}\n"
            f"    wall time HRI {hri:.2f} s / no-HRI {base:.2f} s = {hri / base:.2f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
