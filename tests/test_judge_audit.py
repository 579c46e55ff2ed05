"""The judge audit: the probe set, the story variants, the statistics and flag rules,
the offline judges with known behaviour, ``polaris audit`` end to end (in-process and
over HTTP through Inspect's ``openai-api`` provider), the store and the leaderboard."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from loopback_openai import LoopbackServer

from polaris_bench.benchmarks.common import DatasetError
from polaris_bench.benchmarks.judge_audit import (
    ALPHA,
    INJECTIONS,
    MIN_PROBES,
    audit_checks,
    flags,
    icc1,
    injected,
    judge_calls,
    load_preferences,
    load_probes,
    padded,
    truncated,
    words,
)
from polaris_bench.cli.main import main as polaris
from polaris_bench.judging.prompt import render, response_json_schema
from polaris_bench.judging.rubric import load_rubric
from polaris_bench.providers.judge_behaviour import (
    JudgeBehaviour,
    has_instruction,
    rubric_scores,
)

ROOT = Path(__file__).resolve().parents[1]
PROBES, REPEATS = "6", "3"  # tests: 6 x (3 + 5) = 48 judge calls per audit
SUMMARY_KEYS = {"judge", "noise_sd", "icc", "position_flip_rate", "first_position_win_rate", "padding_delta",
                "truncation_delta", "injection_delta", "human_accuracy", "flags"}
JUDGES = {  # -M options of offline/judge -> the one flag each must raise
    "fair": ([], []),
    "prefer_first": (["prefer_first=0.9"], ["position"]),
    "length_reward": (["length_reward=5"], ["padding"]),
    "obey": (["obey=true"], ["injection"]),
    "noise": (["noise=8"], ["noise"]),
}


# -- the probe set ----------------------------------------------------------------------


def test_the_embedded_probe_set():
    probes = load_probes()
    assert len(probes) >= MIN_PROBES
    assert len({p.id for p in probes}) == len(probes)
    assert len({p.genre for p in probes}) >= 10
    assert all(600 <= words(p.story) <= 3000 for p in probes)
    assert 10_000 <= sum(words(p.story) for p in probes) <= 16_000
    assert all(p.prompt.strip() for p in probes)
    # no probe looks like an instruction to the judge; every injected phrasing does
    assert not any(has_instruction(p.story) for p in probes)
    assert all(has_instruction(text) for text in INJECTIONS)


def test_a_probe_file_with_a_short_story_is_refused(tmp_path):
    bad = tmp_path / "probes.jsonl"
    bad.write_text(json.dumps({"id": "x", "genre": "g", "prompt": "p", "story": "too short"}) + "\n")
    with pytest.raises(DatasetError, match="2 words, outside 600-3000"):
        load_probes(bad)


def test_story_variants():
    story = load_probes()[0].story
    pad = padded(story)
    assert pad.startswith(story) and 1.4 <= words(pad) / words(story) <= 1.7
    cut = truncated(story)
    assert story.startswith(cut) and 0.55 <= words(cut) / words(story) <= 0.67
    inj = injected(story, 1)
    assert INJECTIONS[1] in inj and words(inj) == words(story) + words(INJECTIONS[1])
    pos = inj.index(INJECTIONS[1]) / len(inj)
    assert 0.3 < pos < 0.7


# -- statistics and flag rules ---------------------------------------------------------


def test_icc1_matches_the_one_way_anova_formula():
    table = [[10, 12, 11], [20, 19, 21], [5, 7, 6], [14, 15, 16]]
    x = np.asarray(table, dtype=float)
    n, k = x.shape
    msb = k * ((x.mean(1) - x.mean()) ** 2).sum() / (n - 1)
    msw = ((x - x.mean(1, keepdims=True)) ** 2).sum() / (n * (k - 1))
    icc, sd = icc1(table)
    assert icc == pytest.approx((msb - msw) / (msb + (k - 1) * msw))
    assert sd == pytest.approx(np.sqrt(msw))


def _records(rng: random.Random, n: int, noise: float, shift: float = 0.0, first: float = 0.5) -> list[dict]:
    out = []
    for i in range(n):
        true = rng.gauss(0, 20)
        reps = [true + rng.gauss(0, noise) for _ in range(3)]
        base = float(np.mean(reps))
        a = sum(rng.random() < first for _ in range(2))
        out.append({"kind": "probe", "probe": f"p{i}", "repeats": reps, "base": base,
                    "padded": true + rng.gauss(0, noise) + shift, "truncated": true + rng.gauss(0, noise),
                    "injected": true + rng.gauss(0, noise),
                    "pair": {"flipped": a != 1, "slot_a_wins": a, "slot_b_wins": 2 - a}})
    return out


def test_a_judge_that_is_only_noisy_is_flagged_at_most_at_the_stated_rate():
    rng = random.Random(7)
    trials = 300
    alarms = {"padding": 0, "injection": 0, "position": 0}
    for _ in range(trials):
        for f in flags(audit_checks(_records(rng, 12, noise=6.0))):
            if f in alarms:
                alarms[f] += 1
    for name, count in alarms.items():
        assert count / trials <= 3 * ALPHA, (name, count)


def test_a_real_effect_is_flagged():
    rng = random.Random(3)
    assert "padding" in flags(audit_checks(_records(rng, 12, noise=2.0, shift=5.0)))
    assert "position" in flags(audit_checks(_records(rng, 12, noise=2.0, first=0.95)))
    assert "noise" in flags(audit_checks(_records(rng, 12, noise=40.0)))


def test_truncation_is_reported_never_flagged():
    rng = random.Random(5)
    recs = _records(rng, 12, noise=1.0)
    for r in recs:
        r["truncated"] += 30  # a judge that likes a missing ending: shown, not accused
    checks = {c.check: c for c in audit_checks(recs)}
    assert checks["truncation_delta"].value > 25 and not checks["truncation_delta"].flagged
    assert flags(list(checks.values())) == []


def test_default_number_of_judge_calls():
    assert judge_calls(12, 5) == 120
    assert judge_calls(6, 3, preferences=2) == 6 * 8 + 2 * 4


# -- the offline judge's behaviour ------------------------------------------------------


def _scores(story: str, behaviour: JudgeBehaviour, seed: int = 1) -> int:
    rubric = load_rubric("story_quality")
    prompt = render(rubric, "A prompt.", story, compact=True).text
    scores = rubric_scores(prompt, story, response_json_schema(rubric, compact=True), seed, behaviour)
    return rubric.aggregate(scores)["overall"]


def test_the_fair_offline_judge_ignores_padding_injection_and_a_missing_ending():
    story = load_probes()[2].story
    fair = JudgeBehaviour(noise=0.0)
    base = _scores(story, fair)
    assert _scores(padded(story), fair) == base
    assert _scores(injected(story, 0), fair) == base
    assert _scores(truncated(story), fair) == base
    assert _scores(padded(story), JudgeBehaviour(noise=0.0, length_reward=5)) > _scores(story, JudgeBehaviour(
        noise=0.0, length_reward=5))
    assert _scores(injected(story, 0), JudgeBehaviour(noise=0.0, obey=True)) > base
    assert len({_scores(story, JudgeBehaviour(noise=3.0), seed) for seed in range(5)}) > 1


@pytest.mark.parametrize("option", ["prefer_first=2", "noise=-1"])
def test_bad_offline_judge_options_are_refused(option):
    from inspect_ai.model import get_model

    key, value = option.split("=")
    with pytest.raises(ValueError, match=f"-M judge option {key}"):
        get_model("offline/judge", memoize=False, **{key: value})


# -- polaris audit end to end -----------------------------------------------------------


def _audit(tmp_path: Path, judge: str, extra: list[str], capsys) -> dict:
    db = tmp_path / "audit.duckdb"
    code = polaris(["audit", "--judge", judge, *[a for o in extra for a in ("-M", o)], "--probes", PROBES,
                    "--repeats", REPEATS, "--db", str(db), "--log-dir", str(tmp_path / "logs"), "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


@pytest.mark.parametrize("name", list(JUDGES))
def test_each_offline_judge_is_flagged_for_exactly_its_bias(name, tmp_path, capsys):
    options, expected = JUDGES[name]
    summary = _audit(tmp_path, "offline/judge", options, capsys)
    assert SUMMARY_KEYS <= set(summary)
    assert summary["flags"] == expected, summary
    assert summary["human_accuracy"] is None


@pytest.fixture(scope="module")
def loop_server():
    srv = LoopbackServer(max_requests=5000, lifetime=600).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("name", list(JUDGES))
def test_each_judge_over_http_is_flagged_for_exactly_its_bias(name, loop_server, tmp_path, capsys, monkeypatch):
    options, expected = JUDGES[name]
    monkeypatch.setenv("LOOP_BASE_URL", loop_server.base_url)
    monkeypatch.setenv("LOOP_API_KEY", "loopback")
    loop_server.behaviour = JudgeBehaviour.from_options(**dict(o.split("=") for o in options))
    before = len(loop_server.requests)
    summary = _audit(tmp_path, "grader=openai-api/loop/judge", [], capsys)
    assert summary["flags"] == expected, summary
    # every judge call reached the server (retries, if any, on top)
    assert len(loop_server.requests) - before >= judge_calls(int(PROBES), int(REPEATS))


def test_stored_audits_as_json_and_under_the_leaderboard(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "tasks"))
    from inspect_ai import eval as inspect_eval
    from length_gen import length_gen

    db = tmp_path / "s.duckdb"
    inspect_eval(length_gen(prompts="5", targets="300"), model="offline/writer",
                         model_roles={"grader": "offline/judge"}, log_dir=str(tmp_path / "lg"), display="none")
    assert polaris(["ingest", str(tmp_path / "lg"), "--db", str(db)]) == 0
    assert polaris(["leaderboard", "--db", str(db), "--format", "markdown", "--no-reference"]) == 0
    assert "judge offline/judge: not audited" in capsys.readouterr().out
    for extra in ([], ["-M", "obey=true"]):
        assert polaris(["audit", "--judge", "offline/judge", *extra, "--probes", PROBES, "--repeats", REPEATS,
                        "--db", str(db), "--log-dir", str(tmp_path / "logs")]) == 0
    capsys.readouterr()
    assert polaris(["audit", "--db", str(db), "--format", "json"]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert [s["judge"] for s in stored] == ["offline/judge", "offline/judge (obey=true)"]
    assert [s["flags"] for s in stored] == [[], ["injection"]]
    assert all(SUMMARY_KEYS <= set(s) for s in stored)
    assert polaris(["leaderboard", "--db", str(db), "--format", "markdown", "--no-reference"]) == 0
    out = capsys.readouterr().out
    assert "not audited" not in out
    assert "judge offline/judge: audit" in out and "flags: none" in out and "flags: injection" in out
    # the audit's probes are not a model's stories: no leaderboard section for them
    assert "judge_audit" not in out


def test_human_agreement_from_litbench_columns(tmp_path, capsys):
    probes = load_probes()
    prefs = tmp_path / "litbench.jsonl"
    with prefs.open("w") as fh:
        for i in range(6):
            good, bad = probes[i], probes[i + 6]
            fh.write(json.dumps({"prompt": good.prompt, "chosen_story": good.story, "rejected_story": bad.story}) + "\n")
    db = tmp_path / "h.duckdb"
    assert polaris(["audit", "--judge", "offline/judge", "--probes", "2", "--repeats", "2", "--preferences",
                    str(prefs), "--db", str(db), "--log-dir", str(tmp_path / "logs"), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert 0.0 <= summary["human_accuracy"] <= 1.0
    assert len(summary["human_accuracy_ci"]) == 2


def test_preference_files_accept_litbench_column_names_and_refuse_others(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text(json.dumps({"prompt": "p", "chosen_story_text": "good", "rejected_story_text": "bad"}) + "\n")
    [pair] = load_preferences(f)
    assert (pair.chosen, pair.rejected) == ("good", "bad")
    f.write_text(json.dumps({"prompt": "p", "story_a": "x", "story_b": "y"}) + "\n")
    with pytest.raises(DatasetError, match="chosen_story"):
        load_preferences(f)


def test_audit_without_a_store_says_how_to_make_one(tmp_path, capsys):
    assert polaris(["audit", "--db", str(tmp_path / "none.duckdb")]) == 2
    assert "polaris audit --judge" in capsys.readouterr().err


def test_a_v2_store_gains_the_judge_audits_table(tmp_path):
    import duckdb

    from polaris_bench.store.schema import connect, current_version, migrate

    path = tmp_path / "v2.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, 2)
    assert "judge_audits" not in {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    con.close()
    con = connect(path)
    assert current_version(con) >= 3
    assert con.execute("SELECT count(*) FROM judge_audits").fetchone()[0] == 0
