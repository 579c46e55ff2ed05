"""Real Inspect logs for the store tests, made once per test session with the offline
providers (short stories so that it stays fast) and shared by the test_store_* files.

Layout under the returned folder:
  sweeps/a/      length_gen (5 prompts x 6 lengths), offline/writer-a, judge offline/judge
  sweeps/b/      length_gen, offline/writer-b, judge offline/judge (30% malformed replies)
  judge_x/       length_gen, offline/writer-a, judge offline/judge-x (another judge model)
  elo/           story_elo over the two sweeps
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = "1000,3000,5000,7000,9000,11000"
SWEEP_SAMPLES = 30  # 5 prompts x 6 lengths: enough prompts for a CI (MIN_CLUSTERS)
BIAS = 0.08  # stories of 8% of the requested length: fast to write and judge


def _task(name: str):
    if str(ROOT / "tasks") not in sys.path:
        sys.path.insert(0, str(ROOT / "tasks"))
    module = __import__(name)
    return getattr(module, name)


def _eval(task, log_dir: Path, model: str | None, grader: str, model_args=None, grader_args=None):
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import get_model

    judge = get_model(grader, memoize=False, **(grader_args or {}))
    [log] = inspect_eval(
        task,
        model=model,
        model_args=model_args or {},
        model_roles={"grader": judge},
        log_dir=str(log_dir),
        display="none",
        log_format="eval",
        score_display=False,
        log_realtime=False,
    )
    assert log.status == "success", log.error
    return Path(log.location)


@lru_cache(maxsize=1)
def store_logs() -> Path:
    base = Path(tempfile.mkdtemp(prefix="polaris-store-logs-"))
    length_gen = _task("length_gen")
    a = _eval(length_gen(prompts="5", targets=TARGETS), base / "sweeps" / "a", "offline/writer-a", "offline/judge",
              {"length_bias": BIAS})
    b = _eval(length_gen(prompts="5", targets=TARGETS, judge_attempts=1), base / "sweeps" / "b", "offline/writer-b",
              "offline/judge", {"length_bias": BIAS}, {"malformed": 0.3})
    _eval(length_gen(prompts="2", targets="1000,5000"), base / "judge_x", "offline/writer-a", "offline/judge-x",
          {"length_bias": BIAS})
    story_elo = _task("story_elo")
    _eval(story_elo(logs=f"{a},{b}", max_words=120, bootstrap=50), base / "elo", None, "offline/judge")
    return base


def copy_of(src: Path, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / src.name
    shutil.copy2(src, out)
    return out


def one_log(folder: str) -> Path:
    [path] = sorted((store_logs() / folder).rglob("*.eval"))
    return path
