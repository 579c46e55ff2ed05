"""Story Quality's two formulas through the public interface: ``tasks/story_quality.py``
with ``-T generations=`` and a scripted judge reply. ``overall`` is the training formula
(P - N + bonus' - penalty', gated, clamped); ``published_overall`` is the formula of the
paper's published table (min(100, P - N + bonus) from the judge's reported totals).
Each expected number is derived by hand in the test (docs/fidelity.md)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import get_model
from judge_helpers import reply_output

from polaris_bench.judging.rubric import RubricError, load_rubric

ROOT = Path(__file__).resolve().parents[1]
_STORY = re.compile(r"<story>\n?(.*?)\n?</story>", re.DOTALL)
STORY = " ".join(["The lantern swung over the harbor while Mara counted the boats."] * 20)


def _dimension_scores(p: int, n: int, bonus: int, penalty: int) -> dict[str, int]:
    """Criterion scores with the given sums: positives and negatives filled in order."""
    rubric = load_rubric("story_quality")
    left = {"positive": p, "negative": n, "bonus": bonus, "penalty": penalty}
    scores = {}
    for c in rubric.criteria:
        scores[c.id] = min(c.max, left[c.polarity])
        left[c.polarity] -= scores[c.id]
    assert not any(left.values()), left
    return scores


def _judge(scores: dict[str, int], reported: dict[str, Any] | None):
    """A grader that returns one reply: ``scores``, and ``reported`` as top-level totals
    (None: the sums of ``scores``, as an honest judge reports them)."""
    rubric = load_rubric("story_quality")

    def respond(input, tools, tool_choice, config):
        story = _STORY.search(input[-1].text).group(1)
        quote = " ".join(story.split()[:4])
        body: dict[str, Any] = {
            "criteria": {
                cid: {"justification": "scripted", "quotes": [quote], "score": v} for cid, v in scores.items()
            }
        }
        sums = {
            pol: sum(v for cid, v in scores.items() if rubric.by_id[cid].polarity == pol)
            for pol in ("positive", "negative", "bonus", "penalty")
        }
        totals = reported if reported is not None else {
            "positive_total": sums["positive"], "negative_total": sums["negative"], "bonus_total": sums["bonus"],
            "overall": sums["positive"] - sums["negative"] + sums["bonus"] - sums["penalty"], "label": "poor",
        }
        body.update(totals)
        return reply_output(json.dumps(body))

    return get_model("mockllm/model", custom_outputs=respond, memoize=False)


def _run(tmp_path: Path, grader, *, compact: bool = False):
    from test_benchmark_tasks import load_task

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"uid": "p1", "prompt": "Write about a harbor.", "target_word_count": 1000}) + "\n")
    gens = tmp_path / "gens.jsonl"
    gens.write_text(json.dumps({"id": "p1", "story": STORY}) + "\n")
    task = load_task("story_quality")(dataset=str(prompts), generations=str(gens), compact=compact)
    log = inspect_eval(task, model="offline/writer", model_roles={"grader": grader},
                       log_dir=str(tmp_path / "logs"), display="none")[0]
    assert log.status == "success", log.error
    score = log.samples[0].scores["story_quality"]
    # Inspect lists one entry per score key (each with its own metrics)
    metrics = {s.name: s.metrics["mean"].value for s in log.results.scores if "mean" in s.metrics}
    return score, metrics


@pytest.mark.parametrize(
    ("p", "n", "bonus", "penalty", "published", "ours"),
    [
        # issue example 1: N=40 > P/2=30 gates the bonus; P=60 is not > 1.5*N=60, so the
        # penalty is not capped: 60-40+0-8 = 12; published 60-40+0 = 20
        (60, 40, 0, 8, 20.0, 12.0),
        # issue example 2: N=31 > 30 gates the bonus 5 away: 60-31 = 29; published 60-31+5 = 34
        (60, 31, 5, 0, 34.0, 29.0),
        # the cap: published min(100, 100-0+8) = 100; training 108 (clamp [-159, 108])
        (100, 0, 8, 0, 100.0, 108.0),
        # negative scores are not floored in either formula: 10-60 = -50
        (10, 60, 0, 0, -50.0, -50.0),
    ],
)
def test_published_and_training_formulas_side_by_side(tmp_path, p, n, bonus, penalty, published, ours):
    score, metrics = _run(tmp_path, _judge(_dimension_scores(p, n, bonus, penalty), None))
    v = score.value
    assert v["published_overall"] == published and v["overall"] == ours and v["reward"] == ours / 100
    assert v["published_overall_recomputed"] == published and v["totals_mismatch"] == 0
    assert score.metadata["published_source"] == "reported"
    assert metrics["published_overall"] == published and metrics["overall"] == ours
    assert metrics["totals_mismatch"] == 0


def test_reported_totals_that_disagree_are_used_and_counted(tmp_path):
    # dimensions say P=60, N=40, bonus 0; the judge reports P=70, N=35, bonus 2
    reported = {"positive_total": 70, "negative_total": 35, "bonus_total": 2, "overall": 37, "label": "fair"}
    score, metrics = _run(tmp_path, _judge(_dimension_scores(60, 40, 0, 8), reported))
    v = score.value
    assert v["published_overall"] == 70 - 35 + 2  # the authors' evaluation trusts the totals
    assert v["published_overall_recomputed"] == 20.0  # from the dimensions
    assert v["totals_mismatch"] == 1 and metrics["totals_mismatch"] == 1
    assert v["overall"] == 12.0  # the training formula never reads the totals
    assert score.metadata["reported"]["positive_total"] == 70


def test_no_reported_totals_fall_back_to_the_dimensions(tmp_path):
    # a compact reply without totals: published from the dimension sums, no mismatch defined
    scores = _dimension_scores(60, 31, 5, 0)

    def respond(input, tools, tool_choice, config):
        return reply_output(json.dumps({"criteria": scores}))

    score, metrics = _run(tmp_path, get_model("mockllm/model", custom_outputs=respond, memoize=False), compact=True)
    v = score.value
    assert v["published_overall"] == 34.0 and v["published_overall_recomputed"] == 34.0 and v["overall"] == 29.0
    assert math.isnan(v["totals_mismatch"])
    assert score.metadata["published_source"] == "dimensions"
    assert metrics["published_overall"] == 34.0


def test_a_non_integer_total_counts_as_not_reported():
    rubric = load_rubric("story_quality")
    scores = _dimension_scores(60, 40, 0, 8)
    out, source = rubric.published_scores(
        scores, {"positive_total": 60.5, "negative_total": 40, "bonus_total": 0}
    )
    assert source == "dimensions" and out["published_overall"] == 20.0
    out, source = rubric.published_scores(scores, {"positive_total": 60.0, "negative_total": 40, "bonus_total": 0})
    assert source == "reported" and out["published_overall"] == 20.0 and out["totals_mismatch"] == 0


def test_published_formula_needs_its_totals_reported(tmp_path):
    text = (ROOT / "rubrics" / "story_quality.yaml").read_text()
    bad = tmp_path / "sq.yaml"
    bad.write_text(text.replace("reported: [positive_total, negative_total, bonus_total, overall, label]",
                                "reported: [positive_total, negative_total, overall, label]"))
    with pytest.raises(RubricError, match="bonus_total, which the judge is not asked to report"):
        load_rubric(bad)


def _partial_judge(drop: str, reported: dict[str, Any]):
    scores = _dimension_scores(60, 40, 0, 8)

    def respond(input, tools, tool_choice, config):
        story = _STORY.search(input[-1].text).group(1)
        quote = " ".join(story.split()[:4])
        crit = {cid: {"justification": "j", "quotes": [quote], "score": v} for cid, v in scores.items() if cid != drop}
        return reply_output(json.dumps({"criteria": crit, **reported}))

    return get_model("mockllm/model", custom_outputs=respond, memoize=False)


def test_incomplete_reply_is_unscored_by_default_and_scored_the_authors_way_on_request(tmp_path):
    from test_benchmark_tasks import load_task

    # N3 (5 points of the 40) left out; the reported totals still say P=60, N=40, bonus 0
    reported = {"positive_total": 60, "negative_total": 40, "bonus_total": 0, "overall": 12, "label": "very_poor"}
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"uid": "p1", "prompt": "Write about a harbor.", "target_word_count": 1000}) + "\n")
    gens = tmp_path / "gens.jsonl"
    gens.write_text(json.dumps({"id": "p1", "story": STORY}) + "\n")
    logs = {}
    for partial in (False, True):
        task = load_task("story_quality")(dataset=str(prompts), generations=str(gens), partial_replies=partial)
        logs[partial] = inspect_eval(task, model="offline/writer", model_roles={"grader": _partial_judge("N3", reported)},
                                     log_dir=str(tmp_path / f"logs{partial}"), display="none")[0]
    strict = logs[False].samples[0].scores["story_quality"]
    assert "missing criterion id(s): ['N3']" in strict.metadata["unscored_reason"]
    score = logs[True].samples[0].scores["story_quality"]
    assert score.value["published_overall"] == 20.0  # 60 - 40 + 0 from the totals, as their evaluation
    assert math.isnan(score.value["overall"]) and math.isnan(score.value["published_overall_recomputed"])
    assert math.isnan(score.value["totals_mismatch"]) and score.metadata["missing_criteria"] == ["N3"]


def test_partial_weighted_mean_averages_the_criteria_returned(tmp_path):
    rubric_file = tmp_path / "wm.yaml"
    rubric_file.write_text(
        "id: wm\ntitle: WM\ninstructions: Judge.\naggregation: {kind: weighted_mean, scale: 5, name: score}\n"
        "criteria:\n"
        "  - {id: a, name: A, min: 0, max: 20}\n"
        "  - {id: b, name: B, min: 0, max: 20, invert: true}\n"
        "  - {id: c, name: C, min: 0, max: 20, weight: 2}\n"
    )
    rubric = load_rubric(rubric_file)
    # complete: (10 + (20 - 4) + 2 * 13) / 4 = 13 -> x5 = 65
    assert rubric.aggregate({"a": 10, "b": 4, "c": 13})["score"] == 65.0
    # c missing: (10 + 16) / 2 = 13 -> 65 again, from the two returned
    assert rubric.aggregate({"a": 10, "b": 4}, partial=True)["score"] == 65.0
    # b missing: (10 + 2 * 16) / 3 = 14 -> 70
    assert rubric.aggregate({"a": 10, "c": 16}, partial=True)["score"] == 70.0
    with pytest.raises(ValueError, match="missing criteria"):
        rubric.aggregate({"a": 10})


def test_eqbench_longform_partial_replies_average_what_was_returned(tmp_path):
    from test_benchmark_tasks import FIXTURES, load_task

    rubric = load_rubric("eqbench_longform")
    heavy = next(c.id for c in rubric.criteria if c.weight == 5)  # Forced Poetry or Metaphor

    def respond(input, tools, tool_choice, config):
        story = _STORY.search(input[-1].text).group(1)
        quote = " ".join(story.split()[:4])
        crit = {c.id: {"justification": "j", "quotes": [quote], "score": 10} for c in rubric.criteria if c.id != heavy}
        return reply_output(json.dumps({"criteria": crit}))

    gens = tmp_path / "g.jsonl"
    gens.write_text(json.dumps({"id": "p-001", "story": STORY}) + "\n")
    out = {}
    for partial in (False, True):
        task = load_task("eqbench_longform")(dataset=str(FIXTURES / "polaris_prompts.jsonl"), generations=str(gens),
                                             partial_replies=partial)
        grader = get_model("mockllm/model", custom_outputs=respond, memoize=False)
        log = inspect_eval(task, model="offline/writer", model_roles={"grader": grader},
                           log_dir=str(tmp_path / f"l{partial}"), display="none")[0]
        out[partial] = log.samples[0].scores["eqbench_longform_score"]
    assert out[False].value is None or "unscored_reason" in out[False].metadata
    # 11 criteria returned, all 10 (negatives inverted: 20 - 10 = 10): mean 10 -> x5 = 50
    assert out[True].value["eqbench_longform"] == pytest.approx(50.0)


def test_store_and_plot_curves_carry_published_overall():
    import numpy as np
    from inspect_ai.log import read_eval_log
    from store_logs import one_log

    from polaris_bench.store.ingest import ingest
    from polaris_bench.store.queries import curves
    from polaris_bench.store.schema import connect

    con = connect(":memory:")
    ingest(con, [one_log("sweeps/a")])
    stored = con.execute("SELECT count(*) FROM scores WHERE key = 'published_overall'").fetchone()[0]
    assert stored > 0
    frame, _ = curves(con, "length_gen", ["writer-a"], score="published_overall")
    log = read_eval_log(str(one_log("sweeps/a")))
    point = frame[frame["target"] == 1000].iloc[0]
    vals = [s.scores["story_quality"].value["published_overall"] for s in log.samples
            if s.id.endswith("@1000") and isinstance(s.scores["story_quality"].value, dict)]
    assert point["quality"] == pytest.approx(np.mean(vals))
