#!/usr/bin/env bash
# The smoke recipe with checkpoint evaluation (train/configs/smoke_eval.yaml) on one CUDA
# GPU in bf16, on a machine that has torch, transformers, accelerate and datasets but
# reaches no package registry. Prints the step time, the peak GPU memory and the HRI
# statistics.
#
#   scripts/gpu_smoke.sh                  # install from ./wheels if needed, then run on cuda:0
#   scripts/gpu_smoke.sh --cpu            # the same steps on the CPU in fp32 (checks the script)
#   scripts/gpu_smoke.sh --make-wheels    # on a machine WITH network: fill ./wheels
#
# Options: --wheels DIR (default: wheels/, git-ignored), --out DIR (default:
# outputs/gpu_smoke), --steps N (default: the recipe's 4), --no-install (use the
# Python environment as it is), --python PY (default: python3); anything after `--`
# goes to `polaris train` (e.g. -- --set eval.prompts=1).
#
# Making the wheel folder: run `scripts/gpu_smoke.sh --make-wheels` from the repository
# on a machine with network access and the GPU machine's Python version and platform
# (or add --platform/--python-version to the pip download line below), then copy
# wheels/ next to the repository on the GPU machine. It downloads trl, inspect-ai,
# duckdb and every other dependency of polaris-bench[train] except torch, the NVIDIA
# libraries and triton, which the GPU machine already has.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=python3
WHEELS=wheels
OUT=outputs/gpu_smoke
STEPS=""
DEVICE=cuda
INSTALL=1
MAKE_WHEELS=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; EXTRA=("$@"); break ;;
    --cpu) DEVICE=cpu ;;
    --wheels) WHEELS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --steps) STEPS="$2"; shift ;;
    --no-install) INSTALL=0 ;;
    --python) PY="$2"; shift ;;
    --make-wheels) MAKE_WHEELS=1 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "gpu_smoke.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$MAKE_WHEELS" = 1 ]; then
  mkdir -p "$WHEELS"
  "$PY" -m pip download -d "$WHEELS" "setuptools>=77" wheel ".[train]"
  # the GPU machine brings its own torch stack
  rm -f "$WHEELS"/torch-* "$WHEELS"/nvidia_* "$WHEELS"/triton-* "$WHEELS"/polaris_bench-*
  echo "gpu_smoke.sh: $(ls "$WHEELS" | wc -l) files in $WHEELS; copy it next to the repository on the GPU machine"
  exit 0
fi

echo "== 1/4 prerequisites ($DEVICE)"
"$PY" - "$DEVICE" <<'EOF'
import importlib, sys
device = sys.argv[1]
missing = [m for m in ("torch", "transformers", "accelerate", "datasets") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"gpu_smoke.sh: this machine lacks {', '.join(missing)} (expected on the GPU machine)")
import torch
if device == "cuda" and not torch.cuda.is_available():
    sys.exit("gpu_smoke.sh: no CUDA device visible (use --cpu to check the script on a CPU)")
if device == "cuda" and not torch.cuda.is_bf16_supported():
    sys.exit("gpu_smoke.sh: this GPU has no bf16")
name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
print(f"torch {torch.__version__}, device: {name}")
EOF

echo "== 2/4 install (offline, from $WHEELS)"
if "$PY" -c "import trl, inspect_ai, duckdb, polaris_bench.train" 2>/dev/null \
   && "$PY" -c "from importlib.metadata import entry_points as e; assert any(p.name == 'polaris_bench' for p in e(group='inspect_ai'))" 2>/dev/null; then
  echo "already installed"
elif [ "$INSTALL" = 1 ]; then
  if [ ! -d "$WHEELS" ]; then
    echo "gpu_smoke.sh: $WHEELS/ not found: make it with scripts/gpu_smoke.sh --make-wheels on a machine with network" >&2
    exit 2
  fi
  "$PY" -m pip install --no-index --find-links "$WHEELS" --no-build-isolation -e ".[train]"
else
  echo "gpu_smoke.sh: trl, inspect-ai, duckdb or polaris-bench missing and --no-install given" >&2
  exit 2
fi

echo "== 3/4 train: smoke_eval recipe, $DEVICE"
rm -rf "$OUT"
mkdir -p "$OUT"
"$PY" - "$DEVICE" "$OUT" "$STEPS" "${EXTRA[@]}" <<'EOF'
import json, logging, sys, time
import torch
from polaris_bench.train.run import main

device, out, steps, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
args = ["--config", "train/configs/smoke_eval.yaml", "--output-dir", out, "--store", f"{out}/polaris.duckdb", *extra]
if steps:
    args += ["--max-steps", steps]
if device == "cuda":
    args += ["--set", "grpo.use_cpu=false", "--set", "grpo.bf16=true",
             "--set", "model.tiny.cpu_threads=null",
             "--set", "eval.model_args={device: 'cuda:0', torch_dtype: bfloat16}"]
    torch.cuda.reset_peak_memory_stats()
started = time.time()
code = main(args)
wall = time.time() - started
stats = {"exit": code, "wall_s": round(wall, 1)}
if device == "cuda":
    stats["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    stats["gpu"] = torch.cuda.get_device_name(0)
json.dump(stats, open(f"{out}/gpu_smoke_stats.json", "w"))
sys.exit(code)
EOF

echo "== 4/4 results"
"$PY" - "$OUT" <<'EOF'
import json, statistics, sys
from pathlib import Path
out = Path(sys.argv[1])
stats = json.loads((out / "gpu_smoke_stats.json").read_text())
summary = json.loads((out / "train_summary.json").read_text())
metrics = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines() if l.strip()]
steps = {m["step"]: m for m in metrics if "hri/weight" in m}
times = [m["step_time"] for m in steps.values() if isinstance(m.get("step_time"), (int, float))]
def mean(key):
    vals = [m[key] for m in steps.values() if isinstance(m.get(key), (int, float))]
    return round(statistics.fmean(vals), 4) if vals else None
evals = summary.get("checkpoint_evals", {})
print(json.dumps({
    **stats,
    "steps": summary["global_step"],
    "step_time_s_mean": round(statistics.fmean(times), 3) if times else None,
    "step_time_s_max": round(max(times), 3) if times else None,
    "hri": summary["hri"],
    "hri_ref_rows_per_step": mean("hri/ref_rows"),
    "hri_ref_reward_mean": mean("hri/ref_reward"),
    "hri_ref_advantage_mean": mean("hri/ref_advantage"),
    "hri_policy_reward_mean": mean("hri/policy_reward_mean"),
    "hri_weight_by_step": {s: m["hri/weight"] for s, m in sorted(steps.items())},
    "judge_failures": summary["judge_failures"],
    "checkpoint_eval_steps": evals.get("steps"),
    "checkpoint_eval_seconds": evals.get("eval_seconds"),
    "alarms": evals.get("alarms"),
}, indent=2))
EOF
