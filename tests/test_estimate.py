"""`polaris estimate`: calls, tokens and dollars before a run, and `--check LOG` against
the usage an offline run recorded."""

from __future__ import annotations

import json

import pytest
from cost_logs import ROLES, TASK_ARGS, WRITER, panel_log

from polaris_bench.cli.main import main as polaris
from polaris_bench.costs.estimate import (
    Assumptions,
    EstimateError,
    check,
    estimate,
    expected_calls,
)
from polaris_bench.costs.prices import load_prices, parse_prices
from polaris_bench.judging.judge import _default_max_tokens
from polaris_bench.judging.prompt import render
from polaris_bench.judging.rubric import load_rubric
from polaris_bench.metrics.length import count_words, length_instruction

PRICES = parse_prices("models:\n  offline/*:\n    input: 1.0\n    output: 10.0\n"
                      "  x/judge:\n    input: 2.0\n    output: 20.0\n    batch: 0.5\n", "t.yaml")
FIRST_PROMPT = "lighthouse-ledger"


def _prompt_text() -> str:
    from polaris_bench.benchmarks.length_gen import embedded_prompts

    return next(p.prompt for p in embedded_prompts() if p.id == FIRST_PROMPT)


def test_one_sample_one_judge_by_hand():
    a = Assumptions(tokens_per_word=1.5, failure_rate=0.1, judge_reply_share=0.5)
    est = estimate("length_gen", {"prompts": FIRST_PROMPT, "targets": "2000"}, "offline/writer",
                   {"grader": "x/judge"}, PRICES, a)
    writer, judge = est.roles
    prompt = f"{_prompt_text()} {length_instruction(2000)}"
    assert (writer.role, writer.calls) == ("writer", 1)
    assert writer.input_tokens == pytest.approx(count_words(prompt) * 1.5)
    assert writer.output_tokens == pytest.approx(2000 * 1.5)  # within its 3,000-token budget
    rubric = load_rubric("story_quality")
    template = count_words(render(rubric, _prompt_text(), "", compact=False).text)
    calls = 1 + 0.1 + 0.01  # three attempts at a 10% failure rate
    assert judge.calls == pytest.approx(calls) == pytest.approx(expected_calls(0.1, 3))
    assert judge.input_tokens == pytest.approx((template + 2000) * 1.5 * calls)
    budget = _default_max_tokens(rubric, False)
    assert est.judge_reply_budget == budget
    assert judge.output_tokens == pytest.approx(budget * 0.5 * calls)
    assert judge.output_ceiling == 3 * budget and judge.input_ceiling == pytest.approx((template + 2000) * 1.5 * 3)
    # (dollars are Inspect's formula over whole tokens)
    assert judge.cost_usd == pytest.approx((judge.input_tokens * 2 + judge.output_tokens * 20) / 1e6, rel=1e-3)
    assert writer.cost_usd == pytest.approx((writer.input_tokens + writer.output_tokens * 10) / 1e6, rel=1e-3)
    assert est.total() == pytest.approx(judge.cost_usd + writer.cost_usd)
    assert est.total("cost_ceiling_usd") > est.total()


def test_panels_compact_attempts_and_batch():
    base = {"prompts": "3", "targets": "1000,5000"}
    one = estimate("length_gen", base, WRITER, {"grader": "x/judge"}, PRICES)
    panel = estimate("tasks/length_gen.py", base | {"judges": "grader,grader_b"}, WRITER,
                     {"grader": "x/judge", "grader_b": "offline/judge-b"}, PRICES)
    assert [r.role for r in panel.roles] == ["writer", "grader", "grader_b"] and panel.samples == 6
    assert panel.roles[2].input_tokens == pytest.approx(one.roles[1].input_tokens)
    compact = estimate("length_gen", base | {"compact": "true"}, WRITER, {"grader": "x/judge"}, PRICES)
    assert compact.roles[1].output_tokens < one.roles[1].output_tokens
    once = estimate("length_gen", base | {"judge_attempts": 1}, WRITER, {"grader": "x/judge"}, PRICES,
                    Assumptions(failure_rate=0.5))
    assert once.roles[1].calls == 6
    batched = estimate("length_gen", base, WRITER, {"grader": "x/judge"}, PRICES, batch={"grader": True})
    assert batched.roles[1].cost_usd == pytest.approx(one.roles[1].cost_usd * 0.5)
    judged_only = estimate("length_gen", base | {"generations": "stories.jsonl"}, None, {"grader": "x/judge"}, PRICES)
    assert [r.role for r in judged_only.roles] == ["grader"]


def test_a_thinking_writer_counts_its_allowance_and_a_fixed_budget_caps_output():
    thinking = estimate("length_gen", {"prompts": "1", "targets": "1000", "thinking": "true"}, WRITER,
                        {"grader": "x/judge"}, PRICES, Assumptions(tokens_per_word=1.0))
    assert thinking.roles[0].output_tokens == pytest.approx(1000 + 4096)
    assert any("thinking allowance" in n for n in thinking.notes)
    capped = estimate("length_gen", {"prompts": "1", "targets": "3000", "max_tokens": 500}, WRITER,
                      {"grader": "x/judge"}, PRICES)
    assert capped.roles[0].output_tokens == 500


def test_a_model_without_a_price_has_no_total_and_the_bundled_prices_apply():
    est = estimate("length_gen", {"prompts": "1", "targets": "1000"}, "vllm/some-model",
                   {"grader": "openai/gpt-5.4"}, load_prices())
    assert est.roles[0].cost_usd is None and est.roles[0].price == "no price"
    assert est.roles[1].cost_usd > 0 and est.total() is None


@pytest.mark.parametrize("task, args, roles, message", [
    ("length_gen", {"judges": "grader,grader_b"}, {"grader": "x/judge"}, r"--model-role grader_b=MODEL is needed"),
    ("length_gen", {"targets": "0"}, {"grader": "x/judge"}, r"targets"),
    ("length_gen", {"segmnets": "3"}, {"grader": "x/judge"}, r"-T segmnets: length_gen has no such option"),
    ("story_elo", {}, {"grader": "x/judge"}, r"'story_elo' is not modelled yet"),
    ("length_gen", {"prompts": "/nowhere/prompts.jsonl"}, {"grader": "x/judge"},
     r"-T prompts=/nowhere/prompts.jsonl: /nowhere/prompts.jsonl.*not found"),
])
def test_bad_options_are_named(task, args, roles, message):
    with pytest.raises(EstimateError, match=message):
        estimate(task, args, WRITER, roles, PRICES)


def test_an_unreadable_prompt_file_says_which_file_and_why(tmp_path):
    bad = tmp_path / "prompts.jsonl"
    bad.write_text('{"id": "a", "prompt": "A story."}\n{"id": "b", "prompt": \n')
    with pytest.raises(EstimateError, match=rf"-T prompts={bad}: {bad}:2: not valid JSON"):
        estimate("length_gen", {"prompts": str(bad)}, WRITER, {"grader": "x/judge"}, PRICES)


def test_check_against_the_offline_run_is_within_15_percent_on_tokens():
    est, rows = check(str(panel_log()), PRICES)
    by_role = {r["role"]: r for r in rows}
    assert set(by_role) == {"writer", "grader", "grader_b", "all"}
    assert TASK_ARGS.items() <= est.task_args.items()  # the log records every option, defaults too
    assert [r.model for r in est.roles] == [WRITER, *ROLES.values()]
    for role in ("writer", "grader", "grader_b"):
        assert by_role[role]["calls"] == 4
        assert abs(by_role[role]["total_err"]) < 0.15, by_role[role]
        assert abs(by_role[role]["input_err"]) < 0.15, by_role[role]
    assert abs(by_role["all"]["total_err"]) < 0.15
    assert 0 < by_role["grader"]["reply_share"] < 1


def test_cli_estimate_json_table_and_check(capsys):
    argv = ["estimate", "length_gen", "-T", "prompts=2", "-T", "targets=1000,3000", "-T", "judges=grader,grader_b",
            "--model", WRITER, "--model-role", "grader=openai/gpt-5.4",
            "--model-role", "grader_b={model: anthropic/claude-opus-4-6, batch: true}", "-f", "json"]
    assert polaris(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["samples"] == 4 and [r["role"] for r in out["roles"]] == ["writer", "grader", "grader_b"]
    assert [r["batch"] for r in out["roles"]] == [False, False, True]
    assert out["cost_usd"] is None and out["roles"][1]["cost_usd"] > 0  # offline/writer has no bundled price
    assert out["assumptions"]["tokens_per_word"] == 1.33
    assert polaris(argv[:-2] + ["--tokens-per-word", "2"]) == 0
    text = capsys.readouterr().out
    assert "no price" in text and "assumed: 2.0 tokens per word" in text
    assert polaris(["estimate", "--check", str(panel_log()), "-f", "json"]) == 0
    checked = json.loads(capsys.readouterr().out)["check"]
    assert {r["role"] for r in checked} == {"writer", "grader", "grader_b", "all"}
    assert polaris(["estimate", "--check", str(panel_log())]) == 0
    assert "total error" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["estimate"], "name a task"),
    (["estimate", "length_gen", "--model", WRITER, "--model-role", "grader"], "--model-role 'grader': expected"),
    (["estimate", "length_gen", "--model", WRITER, "--model-role", "grader={batch: true}"], "needs a 'model' string"),
    (["estimate", "length_gen", "--model-role", "grader=x/judge"], "--model WRITER is needed"),
    (["estimate", "length_gen", "--model", WRITER, "--model-role", "grader=x/y", "--failure-rate", "1.5"],
     "--failure-rate must be in"),
    (["estimate", "--check", "/nowhere/log.eval"], "/nowhere/log.eval: cannot be read as an Inspect log"),
])
def test_cli_errors_are_one_line(argv, message, capsys):
    assert polaris(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_segments_add_one_judgement_per_window_for_every_judge():
    from polaris_bench.judging.segments import DIGEST_WORDS
    from polaris_bench.metrics.windows import expected_window_count

    a = Assumptions(tokens_per_word=1.5, failure_rate=0.0, judge_reply_share=0.5)
    base = {"prompts": FIRST_PROMPT, "targets": "4500"}
    whole = estimate("length_gen", base, "offline/writer", {"grader": "x/judge"}, PRICES, a)
    cut = estimate("length_gen", base | {"segments": "2000"}, "offline/writer", {"grader": "x/judge"}, PRICES, a)
    assert expected_window_count(4500, 2000) == 2 and expected_window_count(3000, 2000) == 1
    assert expected_window_count(5000, 2000) == 3  # a remainder of half a window is a window
    assert expected_window_count(5999, 2000) == 3 and expected_window_count(0, 2000) == 0
    (_, j0), (_, j1) = whole.roles, cut.roles
    assert (j0.calls, j1.calls) == (1, 3)
    seg = load_rubric("story_segment")
    template = count_words(render(seg, _prompt_text(), "", compact=False, context="").text)
    extra_in = (2 * template + 4500 + DIGEST_WORDS) * 1.5  # two windows, one digest (before the second)
    assert j1.input_tokens - j0.input_tokens == pytest.approx(extra_in)
    assert j1.output_tokens - j0.output_tokens == pytest.approx(2 * _default_max_tokens(seg, False) * 0.5)
    assert any("2 windows" in n for n in cut.notes)
    with pytest.raises(EstimateError, match="segments"):
        estimate("length_gen", base | {"segments": "abc"}, "offline/writer", {"grader": "x/judge"}, PRICES, a)


def test_check_a_segmented_offline_run(tmp_path):
    """The estimate's window judging against what a real segmented offline run used."""
    import sys

    from cost_logs import ROOT
    from inspect_ai import eval as inspect_eval

    if str(ROOT / "tasks") not in sys.path:
        sys.path.insert(0, str(ROOT / "tasks"))
    from length_gen import length_gen

    [log] = inspect_eval(length_gen(prompts="2", targets="3000,5000", segments=1000), model=WRITER,
                         model_roles={"grader": "offline/judge"}, log_dir=str(tmp_path), display="none",
                         score_display=False)
    assert log.status == "success", log.error
    real_calls = sum(1 + len(s.scores["story_segments"].metadata["segments"]) for s in log.samples)
    _, rows = check(log.location, PRICES)
    grader = next(r for r in rows if r["role"] == "grader")
    assert grader["calls"] == real_calls
    assert abs(grader["input_err"]) < 0.15, grader
