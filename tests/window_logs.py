"""Logs with windows along the story and cliché scores, for the store / leaderboard /
plot tests of the length lens: copies of the offline length_gen sweeps (store_logs)
where every sample gets a ``story_segments`` score and a ``cliche_index`` score laid
out as the scorers write them (CONTRACT12), with planted numbers: window quality falls
with position at a known rate per writer, some windows are unscored.

The windows here are cut at fixed word counts over the story's real length; the
numbers are planted, not measured, because these tests check the store and its
reports against the log's own metadata, whatever produced it.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
from inspect_ai.log import read_eval_log, write_eval_log
from inspect_ai.scorer import Score
from store_logs import one_log

from polaris_bench.metrics.length import count_words

WINDOW_WORDS = 200
# writer -> (window quality at position 0, change per 1,000 words)
PLANTED = {"sweeps/a": (72.0, -20.0), "sweeps/b": (60.0, -5.0)}
UNSCORED = "judge reply had no usable JSON after 2 attempts"


def _noise(*parts: object) -> float:
    """A fixed pseudo-random number in [-1, 1) from its arguments."""
    h = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:4], "big") / 2**31 - 1.0


def windows_of(n_words: int, size: int = WINDOW_WORDS) -> list[tuple[int, int]]:
    """(first_word, last_word) of consecutive windows covering 0..n_words-1 (a story
    shorter than two windows is one window)."""
    if n_words < 2 * size:
        return [(0, max(n_words - 1, 0))]
    return [(start, min(start + size, n_words) - 1) for start in range(0, n_words, size)]


def segment_score(sample_key: str, n_words: int, base: float, slope: float) -> Score:
    entries = []
    xs, ys = [], []
    for i, (first, last) in enumerate(windows_of(n_words)):
        mid = (first + last + 1) / 2
        unscored = i == 1 and _noise(sample_key, "unscored") > 0.3
        quality = round(base + slope * mid / 1000 + 4 * _noise(sample_key, i), 3)
        entries.append({
            "index": i, "first_word": first, "last_word": last, "words": last - first + 1,
            "value": None if unscored else {"quality": quality, "scene": round(quality / 10, 2)},
            "criteria": None if unscored else {"scene": round(quality / 10), "voice": 5.0},
            "attempts": 2 if unscored else 1,
            "self_repetition": round(0.04 + 0.03 * i + 0.01 * _noise(sample_key, "rep", i), 4),
            "overlap_prior": 0.0 if i == 0 else round(0.1 + 0.05 * i, 4),
            "cliche_rate": round(3 + i + _noise(sample_key, "cl", i), 3),
            "unscored_reason": UNSCORED if unscored else None,
        })
        if not unscored:
            xs.append(mid)
            ys.append(quality)
    decay = float(np.polyfit(xs, ys, 1)[0] * 1000) if len(xs) >= 2 else math.nan
    scored = [e for e in entries if e["value"] is not None]
    value = {
        "decay_slope": decay, "decay_onset": math.nan, "windows": float(len(entries)),
        "windows_scored": float(len(scored)), "first_quality": scored[0]["value"]["quality"],
        "last_quality": scored[-1]["value"]["quality"],
        "mean_quality": float(np.mean([e["value"]["quality"] for e in scored])),
        "self_repetition_growth": entries[-1]["self_repetition"] - entries[0]["self_repetition"],
        "cliche_rate_growth": entries[-1]["cliche_rate"] - entries[0]["cliche_rate"],
    }
    return Score(value=value, metadata={"segment_words": WINDOW_WORDS, "decay_margin": 10.0, "segments": entries,
                                        "rubric": "story_segment", "rubric_sha256": "5" * 64,
                                        "judge_model": "offline/judge"})


def cliche_score(sample_key: str) -> Score:
    rate = round(5 + 3 * _noise(sample_key, "cliche"), 3)
    return Score(value={"cliche_rate": rate, "cliche_hits": int(rate)},
                 metadata={"top_cliches": [["tapestry", 2]], "cliche_list": "bundled", "cliche_list_sha256": "c" * 64})


def with_lens_scores(src: Path, dest: Path, base: float, slope: float) -> Path:
    """A copy of the log at ``src`` (new eval id) whose samples carry story_segments
    and cliche_index scores."""
    log = read_eval_log(str(src))
    log.eval.eval_id += "-lens"
    for s in log.samples:
        key = f"{src.name}|{s.id}|{s.epoch}"
        s.scores["story_segments"] = segment_score(key, count_words(s.output.completion), base, slope)
        s.scores["cliche_index"] = cliche_score(key)
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / src.name.replace("_length-gen_", "_length-gen-lens_")
    write_eval_log(log, str(out))
    return out


@lru_cache(maxsize=1)
def lens_logs() -> Path:
    """A folder with one lens log per writer of store_logs' sweeps."""
    base = Path(tempfile.mkdtemp(prefix="polaris-lens-logs-"))
    for folder, (q0, slope) in PLANTED.items():
        with_lens_scores(one_log(folder), base / folder.split("/")[-1], q0, slope)
    return base
