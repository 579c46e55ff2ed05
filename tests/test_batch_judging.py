"""Judging through a provider's batch API (Inspect's ``batch`` generate option on the
judge's model role), offline: Inspect's own OpenAI provider uploads the judge requests
as a JSONL file to the loopback server's Files + Batches endpoints, which answer them
like the chat endpoint. What is checked: every judge request went through the batch
API, each uploaded line is a chat completion request that carries the judge's
response_format schema (score ranges as enums, strict) and reply budget, every story
came back scored, and the store prices the role at the batch multiplier.

Not exercised here: the Responses API batch endpoint (``/v1/responses``, the OpenAI
provider's default for its own models; the loopback serves chat completions only, so
the judge runs with ``-M responses_api=false``), other providers' batch APIs
(Anthropic, Google, Together, Grok), and batches that fail, expire or are cancelled."""

from __future__ import annotations

import json

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import BatchConfig, GenerateConfig, get_model
from loopback_openai import LoopbackServer
from test_wire import PROMPTS, TARGETS, _length_gen, _sent_scores

from polaris_bench.costs.prices import parse_prices
from polaris_bench.judging.judge import _default_max_tokens
from polaris_bench.judging.rubric import load_rubric
from polaris_bench.store import connect, ingest
from polaris_bench.store.costs import role_costs

SAMPLES = PROMPTS * len(TARGETS.split(","))


@pytest.fixture
def server():
    srv = LoopbackServer(max_requests=200, lifetime=300).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_the_judge_runs_through_the_openai_batch_api(tmp_path, server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "loopback")
    # one batch for all samples; short delays so that the test does not wait Inspect's 15 s defaults
    judge = get_model("openai/judge", base_url=server.base_url, responses_api=False, memoize=False,
                      config=GenerateConfig(batch=BatchConfig(size=SAMPLES, send_delay=0.2, tick=0.1)))
    [log] = inspect_eval(_length_gen(), model="offline/writer", model_roles={"grader": judge},
                         log_dir=str(tmp_path / "logs"), display="none")
    assert log.status == "success", log.error
    assert log.eval.model_roles["grader"].config.batch is not None

    # every judge request went through the batch API, none through the chat endpoint
    assert server.batches and len(server.batch_lines) == len(server.requests) == SAMPLES
    assert all(b["status"] == "completed" for b in server.batches.values())
    rubric = load_rubric("story_quality")
    ids = set()
    for line in server.batch_lines:
        assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
        ids.add(line["custom_id"])
        body = line["body"]
        assert body["model"] == "judge"
        assert body["response_format"]["json_schema"]["strict"] is True
        assert body["max_completion_tokens"] == _default_max_tokens(rubric, False)
        assert "<story>" in body["messages"][0]["content"]
        sent = _sent_scores(body)  # the judge's schema, criterion by criterion, with its score ranges
        assert set(sent) == {c.id for c in rubric.criteria}
        assert all(sent[c.id]["enum"] == list(range(c.min, c.max + 1)) for c in rubric.criteria)
    assert len(ids) == SAMPLES
    for s in log.samples:  # every story came back scored, at the first attempt
        sq = s.scores["story_quality"]
        assert "unscored_reason" not in sq.metadata and sq.metadata["attempts"] == 1

    # the store sees a batch role, priced at its batch multiplier
    db = tmp_path / "p.duckdb"
    con = connect(db)
    ingest(con, [tmp_path / "logs"])
    assert con.execute("SELECT bool_and(batch), sum(calls) FROM usage WHERE role = 'grader' AND sample_id IS NOT NULL"
                       ).fetchone() == (True, SAMPLES)
    prices = parse_prices("models:\n  openai/judge:\n    input: 2.0\n    output: 8.0\n    batch: 0.5\n", "t.yaml")
    [grader] = [r for r in role_costs(con, prices) if r["role"] == "grader"]
    con.close()
    assert grader["batch"] is True
    assert grader["cost_usd"] == pytest.approx((grader["input_tokens"] * 2 + grader["output_tokens"] * 8) / 1e6 * 0.5)


@pytest.mark.parametrize("value, expected", [
    ("{model: openai/gpt-5.4, batch: true}", True),
    ('{"model": "openai/gpt-5.4", "batch": {"size": 50, "send_delay": 60}}', BatchConfig(size=50, send_delay=60)),
])
def test_the_documented_model_role_form_turns_batch_on(value, expected, monkeypatch):
    """The README's `--model-role grader={model: ..., batch: true}` as Inspect's CLI parses it."""
    from inspect_ai._cli.util import parse_model_role_cli_args

    monkeypatch.setenv("OPENAI_API_KEY", "unused")
    roles = parse_model_role_cli_args((f"grader={value}",))
    assert str(roles["grader"]) == "openai/gpt-5.4"
    assert roles["grader"].config.batch == expected


def test_estimate_prices_a_batch_judge_at_half(capsys):
    from polaris_bench.cli.main import main as polaris

    base = ["estimate", "length_gen", "-T", "prompts=1", "-T", "targets=1000", "--model", "offline/writer", "-f", "json"]
    assert polaris([*base, "--model-role", "grader=openai/gpt-5.4"]) == 0
    plain = json.loads(capsys.readouterr().out)["roles"][1]
    assert polaris([*base, "--model-role", "grader={model: openai/gpt-5.4, batch: true}"]) == 0
    batched = json.loads(capsys.readouterr().out)["roles"][1]
    assert batched["batch"] is True and batched["cost_usd"] == pytest.approx(plain["cost_usd"] / 2)
