"""One real offline Inspect log for the cost tests, made once per test session:
length_gen, 2 prompts x 2 lengths, offline/writer, a two-judge panel
(grader=offline/judge-a, grader_b=offline/judge-b)."""

from __future__ import annotations

import sys
import tempfile
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASK_ARGS = {"prompts": "2", "targets": "1000,3000", "judges": "grader,grader_b"}
WRITER = "offline/writer"
ROLES = {"grader": "offline/judge-a", "grader_b": "offline/judge-b"}


@lru_cache(maxsize=1)
def panel_log() -> Path:
    from inspect_ai import eval as inspect_eval

    if str(ROOT / "tasks") not in sys.path:
        sys.path.insert(0, str(ROOT / "tasks"))
    from length_gen import length_gen

    [log] = inspect_eval(length_gen(**TASK_ARGS), model=WRITER, model_roles=ROLES,
                         log_dir=tempfile.mkdtemp(prefix="polaris-cost-"), display="none", score_display=False)
    assert log.status == "success", log.error
    return Path(log.location)
