"""The judge request as it goes over the wire, through Inspect's own providers, to a
loopback OpenAI-compatible server that follows the received schema exactly
(``loopback_openai``): score ranges must reach the server and every story must come
back scored at the first attempt."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from loopback_openai import LoopbackServer

import polaris_bench.judging.prompt as prompt_mod
from polaris_bench.judging.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
TARGETS = "300,600"
PROMPTS = 3


@pytest.fixture
def server():
    srv = LoopbackServer(max_requests=200, lifetime=300).start()
    try:
        yield srv
    finally:
        srv.stop()


def _length_gen(**args):
    sys.path.insert(0, str(ROOT / "tasks"))
    from length_gen import length_gen

    return length_gen(prompts=str(PROMPTS), targets=TARGETS, **args)


def _eval(tmp_path, grader: str):
    [log] = inspect_eval(
        _length_gen(), model="offline/writer", model_roles={"grader": grader},
        log_dir=str(tmp_path), display="none",
    )
    assert log.status == "success", log.error
    return log


def _sent_scores(body: dict) -> dict[str, dict]:
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    criteria = fmt["json_schema"]["schema"]["properties"]["criteria"]["properties"]
    return {cid: entry["properties"]["score"] for cid, entry in criteria.items()}


def _check_run(log, server: LoopbackServer) -> None:
    samples = log.samples
    assert len(samples) == PROMPTS * len(TARGETS.split(","))
    for s in samples:
        sq = s.scores["story_quality"]
        assert "unscored_reason" not in sq.metadata, sq.metadata["unscored_reason"]
        assert math.isfinite(sq.value["overall"]) and sq.metadata["attempts"] == 1
    calls = [b for b in server.requests if "response_format" in b]
    assert len(calls) == len(server.requests)  # the writer is offline: only the judge calls out
    assert len(calls) / len(samples) <= 1.1
    rubric = load_rubric("story_quality")
    for body in calls:
        sent = _sent_scores(body)
        assert set(sent) == {c.id for c in rubric.criteria}
        for c in rubric.criteria:
            # the range reached the server as an enum ...
            assert sent[c.id]["type"] == "integer"
            assert sent[c.id]["enum"] == list(range(c.min, c.max + 1))
            # ... because the provider strips minimum/maximum
            assert "minimum" not in sent[c.id] and "maximum" not in sent[c.id]


def test_openai_api_provider_keeps_score_ranges(tmp_path, server, monkeypatch):
    monkeypatch.setenv("LOOP_BASE_URL", server.base_url)
    monkeypatch.setenv("LOOP_API_KEY", "loopback")
    log = _eval(tmp_path, "openai-api/loop/judge")
    _check_run(log, server)


def test_vllm_provider_keeps_score_ranges(tmp_path, server, monkeypatch):
    # VLLM_BASE_URL points Inspect's vllm provider at an existing server: nothing starts.
    monkeypatch.setenv("VLLM_BASE_URL", server.base_url)
    # The provider caches one server per model name for the process: a fresh name.
    log = _eval(tmp_path, f"vllm/loop-judge-{server.base_url.rsplit(':', 1)[1].split('/')[0]}")
    _check_run(log, server)


def test_without_the_enum_the_server_answers_out_of_range(tmp_path, server, monkeypatch):
    """The server is strict enough to catch the old schema: with minimum/maximum alone
    the provider strips the range and every reply is rejected, the judge retried."""
    monkeypatch.setattr(
        prompt_mod, "score_schema", lambda low, high: {"type": "integer", "minimum": low, "maximum": high}
    )
    monkeypatch.setenv("LOOP_BASE_URL", server.base_url)
    monkeypatch.setenv("LOOP_API_KEY", "loopback")
    log = _eval(tmp_path, "openai-api/loop/judge")
    unscored = [s for s in log.samples if "unscored_reason" in s.scores["story_quality"].metadata]
    assert len(unscored) == len(log.samples)
    assert "outside" in unscored[0].scores["story_quality"].metadata["unscored_reason"]
    assert len(server.requests) / len(log.samples) == 3  # every attempt spent
    assert "enum" not in _sent_scores(server.requests[0])["P1"]
