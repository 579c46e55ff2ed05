"""Quality along the story (-T segments=): decay by hand, the scorer's contract on real
offline runs (Python API and the inspect CLI), failing judges, panels and bad input."""

import itertools
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log
from inspect_ai.model import GenerateConfig, get_model

from polaris_bench.benchmarks.task_args import TaskArgumentError
from polaris_bench.judging.panel import MemberResult, Panel, PanelResult
from polaris_bench.judging.prompt import render
from polaris_bench.judging.rubric import RubricError, load_rubric
from polaris_bench.judging.segments import (
    OPENING_NOTE,
    VALUE_KEYS,
    WindowResult,
    decay,
    segments_score,
)
from polaris_bench.metrics.length import count_words
from polaris_bench.metrics.windows import Window
from polaris_bench.story import strip_thinking

ROOT = Path(__file__).resolve().parents[1]
INSPECT = str(Path(sys.executable).parent / "inspect")
ENTRY_KEYS = {"index", "first_word", "last_word", "words", "value", "self_repetition", "overlap_prior",
              "cliche_rate", "unscored_reason"}


def _length_gen(**args):
    sys.path.insert(0, str(ROOT / "tasks"))
    from length_gen import length_gen

    return length_gen(**args)


# -- decay, by hand ---------------------------------------------------------------------

WINDOWS = [(0, 1999), (2000, 3999), (4000, 5999), (6000, 7999)]


def test_decay_slope_and_onset_by_hand():
    points = [(a, b, q) for (a, b), q in zip(WINDOWS, [80.0, 78.0, 70.0, 60.0])]
    # midpoints 1, 3, 5, 7 thousand words (minus 0.5 word): centred -3, -1, 1, 3
    # slope = sum(x * y) / sum(x^2) = (-240 - 78 + 70 + 180) / 20 = -3.4 points per 1,000 words
    slope, onset = decay(points, margin=5)
    assert slope == pytest.approx(-3.4)
    assert onset == 4000  # 70 < 80 - 5; 78 is not
    assert decay(points, margin=15)[1] == 6000
    assert math.isnan(decay(points, margin=25)[1])  # never more than 25 below
    assert math.isnan(decay(points, margin=20)[1])  # 60 is not MORE than 20 below 80


def test_decay_skips_unscored_windows_and_needs_a_reference():
    points = [(0, 1999, 80.0), (2000, 3999, None), (4000, 5999, 70.0), (6000, 7999, math.nan)]
    slope, onset = decay(points, margin=5)
    assert slope == pytest.approx((70 - 80) / 4) and onset == 4000  # two scored windows, 4,000 words apart
    slope, onset = decay([(0, 1999, None), (2000, 3999, 50.0), (4000, 5999, 20.0)], margin=5)
    assert slope == pytest.approx(-15) and math.isnan(onset)  # window 0 unscored: no onset
    assert all(math.isnan(v) for v in decay([(0, 999, 50.0)], margin=5))


def _result(index, first, last, quality, rep=0.1, cliche=1.0, reason=None):
    member = MemberResult(value=None if quality is None else {"quality": quality, "criteria_mean": quality / 10},
                          criteria=None if quality is None else {"scene": 5}, attempts=1, unscored_reason=reason)
    judged = PanelResult(panel=Panel(), members=[], results=[member])
    return WindowResult(Window(index, first, last, "x"), judged, member.value if quality is not None else None,
                        rep, 0.0, cliche)


def test_score_values_and_all_unscored():
    results = [_result(0, 0, 1999, 80.0, 0.1, 2.0), _result(1, 2000, 3999, None, 0.2, 3.0, "attempt 1: no JSON"),
               _result(2, 4000, 5999, 70.0, 0.4, 5.5)]
    score = segments_score(results, 2000, 5.0, {"rubric": "story_segment"})
    v = score.value
    assert set(v) == set(VALUE_KEYS)
    assert v["windows"] == 3 and v["windows_scored"] == 2
    assert v["first_quality"] == 80 and v["last_quality"] == 70 and v["mean_quality"] == 75
    assert v["decay_slope"] == pytest.approx(-2.5) and v["decay_onset"] == 4000
    assert v["self_repetition_growth"] == pytest.approx(0.3) and v["cliche_rate_growth"] == pytest.approx(3.5)
    meta = score.metadata
    assert meta["segment_words"] == 2000 and meta["decay_margin"] == 5.0
    assert [e["unscored_reason"] for e in meta["segments"]] == [None, "attempt 1: no JSON", None]
    assert meta["segments"][1]["value"] is None and meta["segments"][0]["value"]["quality"] == 80
    assert all(ENTRY_KEYS <= set(e) and "panel" not in e for e in meta["segments"])

    bad = segments_score([_result(0, 0, 999, None, reason="attempt 1: judge call failed")], 2000, 5.0, {})
    assert math.isnan(bad.value) and "all 1 windows unscored" in bad.reason and "judge call failed" in bad.reason
    assert bad.metadata["unscored_reason"] == bad.reason and len(bad.metadata["segments"]) == 1
    empty = segments_score([], 2000, 5.0, {})
    assert math.isnan(empty.value) and "empty story" in empty.reason


# -- the judge prompt ------------------------------------------------------------------------


def test_the_window_prompt_has_the_story_so_far_and_the_whole_story_prompt_is_unchanged(tmp_path):
    rubric = load_rubric("story_segment")
    with_context = render(rubric, "Write about a ferry.", "The window.", context="Digest line.").text
    assert "<story_so_far>\nDigest line.\n</story_so_far>\n\n<story>\nThe window.\n</story>" in with_context
    plain = render(rubric, "Write about a ferry.", "The window.")
    assert "story_so_far" not in plain.text
    # a story cannot inject a placeholder: it is filled in one pass
    assert "{{context}}" in render(rubric, "p", "A {{context}} B", context="D").text
    (tmp_path / "t.txt").write_text("{{rubric}}\n{{prompt}}\n{{story}}\n{{output_format}}")
    (tmp_path / "r.yaml").write_text((ROOT / "rubrics/story_segment.yaml").read_text() + "prompt_template: t.txt\n")
    own = load_rubric(tmp_path / "r.yaml")
    render(own, "p", "s")  # fine without a context
    with pytest.raises(RubricError, match=r"t.txt: judging a window .*\{\{context\}\}"):
        render(own, "p", "s", context="D")


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -5, "abc", 2.5, "2.5", "-5", 99, True, ""])
def test_segments_must_be_a_word_count(value):
    with pytest.raises(TaskArgumentError) as err:
        _length_gen(prompts="1", targets="1000", segments=value)
    message = str(err.value)
    assert message.startswith(f"-T segments={str(value).lower() if value is True else value}: expected a window size")
    assert "\n" not in message and ">= 100" in message


def test_decay_margin_is_checked_and_needs_segments():
    with pytest.raises(TaskArgumentError, match=r"^-T decay_margin=3: only applies with -T segments=<words>$"):
        _length_gen(prompts="1", targets="1000", decay_margin=3)
    with pytest.raises(TaskArgumentError, match=r"^-T decay_margin=x: expected a number$"):
        _length_gen(prompts="1", targets="1000", segments=500, decay_margin="x")
    with pytest.raises(TaskArgumentError, match=r"^-T decay_margin=-1: must be between 0 and 100$"):
        _length_gen(prompts="1", targets="1000", segments=500, decay_margin=-1)


def test_segments_scorer_is_added_only_when_asked():
    from polaris_bench.benchmarks.story_quality import story_quality

    def names(task):
        return [s.__registry_info__.name.split("/")[-1] for s in task.scorer]

    assert "story_segments" not in names(_length_gen(prompts="1", targets="1000"))
    assert names(_length_gen(prompts="1", targets="1000", segments="2000"))[-1] == "story_segments"
    sq = story_quality(dataset=str(ROOT / "tests/fixtures/benchmarks/polaris_prompts.jsonl"), segments=500)
    assert names(sq)[-1] == "story_segments"


# -- end to end ------------------------------------------------------------------------------


def check_sample(sample, size: int, margin: float = 5.0) -> list[dict]:
    """Windows cover the story exactly; each is judged or unscored with a reason; the
    score's numbers follow from the entries."""
    story = strip_thinking(sample.output.completion)
    score = sample.scores["story_segments"]
    meta = score.metadata
    entries = meta["segments"]
    assert meta["segment_words"] == size and meta["decay_margin"] == margin
    assert entries[0]["first_word"] == 0 and entries[-1]["last_word"] == count_words(story) - 1
    for a, b in itertools.pairwise(entries):
        assert b["first_word"] == a["last_word"] + 1
    for i, e in enumerate(entries):
        assert ENTRY_KEYS <= set(e) and e["index"] == i
        assert e["words"] == e["last_word"] - e["first_word"] + 1
        assert 0 <= e["overlap_prior"] <= 1 and e["self_repetition"] >= 0 and e["cliche_rate"] >= 0
        if e["value"] is None:
            assert isinstance(e["unscored_reason"], str) and e["unscored_reason"]
        else:
            assert e["unscored_reason"] is None and 0 <= e["value"]["quality"] <= 100
    scored = [e for e in entries if e["value"] is not None]
    if len(scored) >= 2:  # the slope, recomputed with numpy from the entries
        x = [(e["first_word"] + e["last_word"]) / 2000 for e in scored]
        slope = np.polyfit(x, [e["value"]["quality"] for e in scored], 1)[0]
        assert score.value["decay_slope"] == pytest.approx(slope)
        assert score.value["mean_quality"] == pytest.approx(statistics.fmean(e["value"]["quality"] for e in scored))
        assert score.value["windows"] == len(entries) and score.value["windows_scored"] == len(scored)
    return entries


def inspect_cli(*argv: str, log_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("INSPECT_")},
           "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [INSPECT, "eval", *argv, "--log-dir", str(log_dir), "--display", "plain"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


@pytest.mark.slow  # two stories of 9k and 12k words through the inspect CLI: ~20 s, more on a busy machine
def test_cli_length_gen_with_segments_covers_every_story(tmp_path):
    result = inspect_cli("tasks/length_gen.py", "-T", "prompts=1", "-T", "targets=9000,12000", "-T", "segments=2000",
                         "-T", "compact=true", "--model", "offline/writer", "--model-role", "grader=offline/judge",
                         log_dir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    [path] = list(tmp_path.rglob("*.eval"))
    log = read_eval_log(str(path), resolve_attachments=True)
    assert log.status == "success" and len(log.samples) == 2
    for sample in log.samples:
        entries = check_sample(sample, 2000)
        assert len(entries) == round(count_words(sample.output.completion) / 2000)
        assert all(e["value"] is not None for e in entries)
        # the judge saw the prompt, the digest of the story so far and the window
        judge_inputs = [ev.input[0].text for ev in sample.events
                        if ev.event == "model" and ev.model == "offline/judge" and "<story_so_far>" in ev.input[0].text]
        assert len(judge_inputs) == len(entries)
        opening = [t for t in judge_inputs if OPENING_NOTE in t]
        assert len(opening) == 1
        first_sentence = sample.output.completion.split(".")[0]
        for t in judge_inputs:  # the story's first sentence opens the digest of every later window
            digest, window = t.split("<story_so_far>\n", 1)[1].split("\n</story_so_far>\n\n<story>\n", 1)
            assert (window if OPENING_NOTE in digest else digest).startswith(first_sentence)
    metrics = {m.name for m in log.results.scores if m.scorer == "story_segments"}
    assert {"decay_slope", "mean_quality"} <= metrics


@pytest.mark.slow  # an inspect CLI start; the same check runs in Python above
def test_cli_bad_segments_is_one_line(tmp_path):
    result = inspect_cli("tasks/length_gen.py", "-T", "segments=abc", "--model", "offline/writer",
                         "--model-role", "grader=offline/judge", log_dir=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "-T segments=abc: expected a window size in words" in output
    assert "Traceback" not in output and not list(tmp_path.rglob("*.eval"))


def _eval(task, tmp_path, roles):
    [log] = inspect_eval(task, model="offline/writer", model_roles=roles, log_dir=str(tmp_path), display="none")
    assert log.status == "success", log.error
    return log


def test_a_failing_judge_leaves_windows_unscored_with_reasons(tmp_path):
    judge = get_model("offline/judge", fail=0.5, memoize=False, config=GenerateConfig(max_retries=0))
    log = _eval(_length_gen(prompts="2", targets="3000", segments=500, compact=True, judge_attempts=1),
                tmp_path, {"grader": judge})
    entries = [e for s in log.samples for e in check_sample(s, 500)]
    unscored = [e for e in entries if e["value"] is None]
    assert 0 < len(unscored) < len(entries)
    assert all(e["unscored_reason"].startswith("attempt 1: judge call failed: OfflineError") for e in unscored)
    for s in log.samples:
        v, meta = s.scores["story_segments"].value, s.scores["story_segments"].metadata
        if isinstance(v, dict):
            assert v["windows_scored"] == sum(e["value"] is not None for e in meta["segments"])
        else:  # every window failed
            assert math.isnan(v) and "windows unscored" in s.scores["story_segments"].reason


def test_a_panel_judges_every_window(tmp_path):
    roles = {"grader": "offline/judge-a", "grader_b": "offline/judge-b", "grader_c": "offline/judge-c"}
    log = _eval(_length_gen(prompts="1", targets="2000", segments=500, compact=True, judges="grader,grader_b,grader_c"),
                tmp_path, roles)
    [sample] = log.samples
    entries = check_sample(sample, 500)
    assert len(entries) == 4
    meta = sample.scores["story_segments"].metadata
    assert meta["judge_model"] == "offline/judge-a+offline/judge-b+offline/judge-c" and meta["panel_size"] == 3
    disagree = False
    for e in entries:
        assert [m["role"] for m in e["panel"]] == list(roles)
        assert [m["model"] for m in e["panel"]] == list(roles.values())
        members = [m["value"]["quality"] for m in e["panel"]]
        assert e["value"]["quality"] == pytest.approx(statistics.fmean(members))
        assert e["attempts"] == 3
        disagree |= len(set(members)) > 1
    assert disagree


def test_a_degrading_writer_decays_and_its_windows_repeat_and_wear(tmp_path):
    """The offline writer's -M degrade: window quality falls with position, repetition and
    the cliché rate grow; the same writer undegraded shows none of it."""

    def run(degrade: float, folder: str):
        writer = get_model("offline/writer", degrade=degrade, memoize=False)
        [log] = inspect_eval(_length_gen(prompts="2", targets="6000", segments=1000, compact=True), model=writer,
                             model_roles={"grader": "offline/judge"}, log_dir=str(tmp_path / folder), display="none")
        assert log.status == "success", log.error
        for s in log.samples:
            check_sample(s, 1000)
        return [s.scores["story_segments"].value for s in log.samples]

    worn, fresh = run(1.0, "worn"), run(0.0, "fresh")
    for v in worn:
        assert v["windows"] == 6 and v["decay_slope"] < 0 and not math.isnan(v["decay_onset"])
        assert v["self_repetition_growth"] > 0 and v["cliche_rate_growth"] > 0
    for v in fresh:
        assert v["cliche_rate_growth"] == pytest.approx(0, abs=1.0)
    assert statistics.fmean(v["decay_slope"] for v in worn) < statistics.fmean(v["decay_slope"] for v in fresh) - 2
