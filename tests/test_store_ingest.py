"""Ingesting real offline-provider logs: counts, idempotence, incremental folders,
corrupt logs, replaced / superseded runs, and no secrets in the store."""

from __future__ import annotations

import importlib
import math
import os
import shutil

import pytest
from inspect_ai.log import EvalRevision, read_eval_log, write_eval_log
from store_logs import copy_of, one_log, store_logs

from polaris_bench.store import connect, counts, ingest
from polaris_bench.store.ingest import model_label, scrub, scrub_text


@pytest.fixture(scope="module")
def logs():
    return store_logs()


def _expected(paths):
    """Row counts computed straight from the logs with Inspect's reader."""
    samples = scores = criteria = pairs = 0
    for p in paths:
        log = read_eval_log(str(p))
        samples += len(log.samples)
        for s in log.samples:
            for name, sc in s.scores.items():
                v = sc.value
                if isinstance(v, dict):
                    scores += len(v)
                elif not (isinstance(v, float) and math.isnan(v)):
                    scores += 1
                crit = (sc.metadata or {}).get("criteria")
                if isinstance(crit, (dict, list)):
                    criteria += len(crit)
                for order in ("xy", "yx"):
                    criteria += len(((sc.metadata or {}).get(order) or {}).get("margins") or {})
                if "model_x" in (sc.metadata or {}):
                    pairs += 1
    return {"runs": len(paths), "samples": samples, "scores": scores, "criteria": criteria, "pairwise": pairs}


def test_ingest_counts_match_the_logs(logs):
    con = connect(":memory:")
    report = ingest(con, [logs])
    paths = sorted(logs.rglob("*.eval"))
    assert report.counts() == {"ingested": len(paths)}
    assert report.samples == _expected(paths)["samples"]
    got = counts(con)
    for table, n in _expected(paths).items():
        assert got[table] == n, table
    # one scorer_results row per (sample, scorer)
    n_sr = sum(len(s.scores) for p in paths for s in read_eval_log(str(p)).samples)
    assert got["scorer_results"] == n_sr
    # story_elo's ratings (Glicko-2, Bradley-Terry, win rate) for both models
    assert got["ratings"] == 6


def test_reingest_changes_nothing(logs, tmp_path):
    db = tmp_path / "r.duckdb"
    con = connect(db)
    ingest(con, [logs])
    before = counts(con)
    again = ingest(con, [logs])
    assert set(again.counts()) == {"unchanged"}
    assert counts(con) == before
    forced = ingest(con, [logs], force=True)  # re-read and re-written: same rows
    assert set(forced.counts()) == {"replaced"}
    assert counts(con) == before
    con.close()
    con = connect(db)  # and after reopening the file
    assert counts(con) == before


def test_folder_ingest_is_incremental(logs, tmp_path, monkeypatch):
    folder = tmp_path / "logs"
    copy_of(one_log("sweeps/a"), folder)
    con = connect(":memory:")
    assert ingest(con, [folder]).counts() == {"ingested": 1}
    copy_of(one_log("sweeps/b"), folder)
    reads = []
    mod = importlib.import_module("polaris_bench.store.ingest")  # the module, not the re-exported function
    real = mod._read_log
    monkeypatch.setattr(mod, "_read_log", lambda p: reads.append(p) or real(p))
    report = ingest(con, [folder])
    assert report.counts() == {"ingested": 1, "unchanged": 1}
    assert len(reads) == 1 and reads[0].endswith(one_log("sweeps/b").name)  # the old log was not even opened


def test_same_run_from_another_path_is_a_duplicate(logs, tmp_path):
    con = connect(":memory:")
    ingest(con, [one_log("sweeps/a")])
    before = counts(con)
    copy = copy_of(one_log("sweeps/a"), tmp_path / "elsewhere")
    report = ingest(con, [copy])
    [o] = report.outcomes
    assert o.outcome == "duplicate" and "already ingested" in o.reason
    assert {k: v for k, v in counts(con).items() if k != "log_files"} == {
        k: v for k, v in before.items() if k != "log_files"
    }


def test_corrupt_and_truncated_logs_are_reported_and_the_rest_ingested(logs, tmp_path):
    folder = tmp_path / "mixed"
    good = copy_of(one_log("sweeps/a"), folder)
    data = good.read_bytes()
    (folder / "2026-01-01T00-00-00-00-00_truncated_AAAA.eval").write_bytes(data[: len(data) // 2])
    (folder / "2026-01-01T00-00-00-00-00_garbage_BBBB.json").write_text('{"version": 2, "status": "succ')
    (folder / "notes.txt").write_text("not a log")
    con = connect(":memory:")
    report = ingest(con, [folder, tmp_path / "missing"])
    by_name = {os.path.basename(o.path): o for o in report.outcomes}
    assert by_name[good.name].outcome == "ingested"
    assert by_name["2026-01-01T00-00-00-00-00_truncated_AAAA.eval"].outcome == "error"
    assert "unreadable log" in by_name["2026-01-01T00-00-00-00-00_truncated_AAAA.eval"].reason
    assert by_name["2026-01-01T00-00-00-00-00_garbage_BBBB.json"].outcome == "error"
    assert by_name["missing"].outcome == "error" and "no such file" in by_name["missing"].reason
    assert counts(con)["runs"] == 1
    # errors are reported again next time (never cached as done), the good log is not re-read
    again = ingest(con, [folder])
    assert again.counts() == {"unchanged": 1, "error": 2}


def test_running_eval_is_skipped_with_a_reason(logs, tmp_path):
    log = read_eval_log(str(one_log("sweeps/a")))
    log.status = "started"
    path = tmp_path / "running.eval"
    write_eval_log(log, str(path))
    con = connect(":memory:")
    [o] = ingest(con, [path]).outcomes
    assert o.outcome == "skipped" and "still running" in o.reason
    assert counts(con)["runs"] == 0
    assert ingest(con, [path], include_started=True).outcomes[0].outcome == "ingested"


def test_changed_log_replaces_its_run(logs, tmp_path):
    src = read_eval_log(str(one_log("sweeps/a")))
    path = tmp_path / "run.eval"
    first = src.model_copy(deep=True)
    first.samples = first.samples[:5]
    write_eval_log(first, str(path))
    con = connect(":memory:")
    ingest(con, [path])
    assert counts(con)["samples"] == 5
    write_eval_log(src, str(path))  # the same run, now complete
    os.utime(path, (1, 1))
    [o] = ingest(con, [path]).outcomes
    assert o.outcome == "replaced"
    assert counts(con)["samples"] == len(src.samples)
    assert counts(con)["runs"] == 1


def test_eval_retry_supersedes_the_earlier_attempt(logs, tmp_path):
    src = read_eval_log(str(one_log("sweeps/a")))
    failed = src.model_copy(deep=True)
    failed.status = "error"
    failed.samples = failed.samples[:4]
    write_eval_log(failed, str(tmp_path / "attempt1.eval"))
    retry = src.model_copy(deep=True)
    retry.eval.eval_id = "retry-" + src.eval.eval_id  # eval-retry: new eval_id, same task_id
    retry.eval.created = "2099-01-01T00:00:00+00:00"
    write_eval_log(retry, str(tmp_path / "attempt2.eval"))
    con = connect(":memory:")
    ingest(con, [tmp_path])
    rows = dict(con.execute("SELECT run_id, superseded_by FROM runs").fetchall())
    assert rows[src.eval.eval_id] == retry.eval.eval_id
    assert rows[retry.eval.eval_id] is None


def test_no_secrets_reach_the_store(logs, tmp_path):
    log = read_eval_log(str(one_log("sweeps/a")))
    secret, hf, pw = "sk-proj-ABCDEF1234567890abcdef", "hf_ABCDEFGHIJKLMNOPQRSTUVWX", "hunter2pass"
    log.eval.model_args = {"api_key": secret, "length_bias": 0.08, "hf_token": hf, "device": "cpu"}
    log.eval.model_base_url = f"https://user:{pw}@llm.example.com:8000/v1?key={secret}"
    log.eval.model_generate_config.extra_headers = {"Authorization": f"Bearer {secret}"}
    log.eval.model_roles["grader"].args = {"api_key": secret}
    log.eval.task_args = {**log.eval.task_args, "note": f"called with {secret}"}
    log.eval.revision = EvalRevision(type="git", origin=f"https://oauth2:{pw}@git.example.com/r.git", commit="abc")
    path = tmp_path / "secret.eval"
    write_eval_log(log, str(path))
    db = tmp_path / "s.duckdb"
    con = connect(db)
    assert ingest(con, [path]).counts() == {"ingested": 1}
    dump = []
    for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
        dump.append(con.execute(f"SELECT * FROM {table}").df().to_csv())
    text = "\n".join(dump)
    for s in (secret, hf, pw):
        assert s not in text
    base_url, label = con.execute("SELECT model_base_url, model_label FROM runs").fetchone()
    assert base_url == "https://llm.example.com:8000/v1"
    assert label == "offline/writer-a [length_bias=0.08]"  # runtime args and redacted keys are not identity
    con.close()
    assert secret.encode() not in db.read_bytes()


def test_scrub_rules():
    out = scrub({"max_tokens": 10, "tokenizer": "t", "token": "x", "headers": {"a": "b"}, "author": "me"})
    assert out == {"max_tokens": 10, "tokenizer": "t", "token": "[redacted]", "headers": "[redacted]", "author": "me"}
    assert scrub_text("see https://a:b@h.org/x?token=1 now") == "see https://h.org/x now"
    assert model_label("m", {"temperature": 0.7, "device": "cuda"}) == "m [temperature=0.7]"


def test_unscored_samples_keep_their_reason(logs):
    con = connect(":memory:")
    ingest(con, [one_log("sweeps/b")])
    log = read_eval_log(str(one_log("sweeps/b")))
    unscored = {s.id for s in log.samples if isinstance(s.scores["story_quality"].value, float)}
    assert unscored, "the fixture's judge should fail on some samples"
    rows = con.execute(
        "SELECT sample_id, unscored_reason FROM scorer_results WHERE scorer = 'story_quality' AND NOT scored"
    ).fetchall()
    assert {r[0] for r in rows} == unscored
    assert all(r[1] for r in rows)
    # no value rows for them: an unscored judge score is never a 0
    n = con.execute(
        "SELECT count(*) FROM scores WHERE scorer = 'story_quality' AND sample_id IN "
        "(SELECT sample_id FROM scorer_results WHERE scorer = 'story_quality' AND NOT scored)"
    ).fetchone()[0]
    assert n == 0


def test_sample_and_criteria_columns(logs):
    con = connect(":memory:")
    ingest(con, [one_log("sweeps/a")])
    log = read_eval_log(str(one_log("sweeps/a")))
    s = log.samples[0]
    row = con.execute(
        "SELECT prompt_id, target_words, bucket, bucket_2k, words, length_ratio, epoch FROM samples "
        "WHERE sample_id = ?", [s.id]
    ).fetchone()
    la = s.scores["length_adherence"].value
    assert row == (s.metadata["prompt_id"], s.metadata["target_words"], s.metadata["bucket"],
                   s.metadata["bucket_2k"], la["words"], pytest.approx(la["length_ratio"]), 1)
    meta = s.scores["story_quality"].metadata
    crit = dict(con.execute(
        "SELECT criterion_id, score FROM criteria WHERE sample_id = ? AND scorer = 'story_quality'", [s.id]
    ).fetchall())
    assert crit == {k: float(v) for k, v in meta["criteria"].items()}
    just, quotes, name = con.execute(
        "SELECT justification, quotes, name FROM criteria WHERE sample_id = ? AND criterion_id = 'P1'", [s.id]
    ).fetchone()
    assert just == meta["evidence"]["P1"]["justification"] and quotes == meta["evidence"]["P1"]["quotes"]
    assert name  # from the bundled rubric with the same hash
    run = con.execute("SELECT judge_model, rubric_sha256s, template_sha256s, judge_modes, benchmark FROM runs").fetchone()
    assert run == ("offline/judge", [meta["rubric_sha256"]], [meta["template_sha256"]], ["full"], "length_gen")


def test_story_elo_pairwise_rows(logs):
    con = connect(":memory:")
    ingest(con, [store_logs() / "elo"])
    log = read_eval_log(str(one_log("elo")))
    s = log.samples[0]
    row = con.execute(
        "SELECT model_x, model_y, score_x, verdict_xy, source_sample_id FROM pairwise WHERE sample_id = ?", [s.id]
    ).fetchone()
    v, m = s.scores["pairwise_score"].value, s.scores["pairwise_score"].metadata
    assert row == (m["model_x"], m["model_y"], v["score_x"], m["xy"]["verdict"], s.metadata["sample_id"])
    glicko = dict(con.execute("SELECT model, rating FROM ratings WHERE method = 'glicko2'").fetchall())
    metrics = {k: mv.value for es in log.results.scores for k, mv in es.metrics.items()}
    assert glicko == {k.split(":", 1)[1]: pytest.approx(v) for k, v in metrics.items() if k.startswith("glicko:")}
    # the stories are not copied into the store
    meta = con.execute("SELECT metadata FROM samples WHERE sample_id = ?", [s.id]).fetchone()[0]
    assert s.metadata["story_x"][:200] not in meta


def test_json_logs_are_read_too(logs, tmp_path):
    log = read_eval_log(str(one_log("sweeps/a")))
    folder = tmp_path / "json"
    folder.mkdir()
    write_eval_log(log, str(folder / "2026-01-01T00-00-00-00-00_length-gen_X.json"), format="json")
    (folder / "config.json").write_text("{}")  # in a folder, Inspect lists only log-named .json files
    con = connect(":memory:")
    [o] = ingest(con, [folder]).outcomes
    assert o.outcome == "ingested" and o.samples == len(log.samples)
    other = tmp_path / "named-by-hand.json"  # given by path, any name is read
    write_eval_log(log, str(other), format="json")
    assert ingest(con, [other]).outcomes[0].outcome == "duplicate"  # the same run as the .json above


def test_unchanged_file_removed_from_runs_is_read_again(logs, tmp_path):
    folder = tmp_path / "f"
    copy_of(one_log("sweeps/a"), folder)
    con = connect(":memory:")
    ingest(con, [folder])
    con.execute("DELETE FROM runs")
    assert ingest(con, [folder]).counts() == {"ingested": 1}
    shutil.rmtree(folder)


# -- issue 9 item 6: names from the log, the length scorer by name, warnings ---------------


def _edited_copy(tmp_path, folder: str, edit) -> str:
    """A copy of a fixture log with ``edit(sample)`` applied to every sample, under a
    new eval id (a different run)."""
    log = read_eval_log(str(one_log(folder)))
    log.eval.eval_id = log.eval.eval_id + "-edited"
    for s in log.samples:
        edit(s)
    out = tmp_path / "2026-01-01T00-00-00-00-00_length-gen_edited.eval"
    write_eval_log(log, str(out))
    return str(out)


def _names(con):
    return dict(con.execute(
        "SELECT DISTINCT criterion_id, name FROM criteria WHERE scorer = 'story_quality'").fetchall())


def test_criterion_names_are_read_from_the_score_metadata(logs, tmp_path):
    meta = read_eval_log(str(one_log("sweeps/a"))).samples[0].scores["story_quality"].metadata
    assert meta["criterion_names"]["P1"]  # judge_story logs them with the score

    def custom(s):  # a custom rubric: its own names and hash, no bundled copy
        m = s.scores["story_quality"].metadata
        m["rubric"], m["rubric_sha256"] = "my_rubric", "0" * 64
        m["criterion_names"] = {k: f"custom {k}" for k in m["criterion_names"]}

    con = connect(":memory:")
    [o] = ingest(con, [_edited_copy(tmp_path, "sweeps/a", custom)]).outcomes
    assert o.outcome == "ingested" and o.warnings == []
    names = _names(con)
    assert names and all(v == f"custom {k}" for k, v in names.items())


def test_logs_without_names_fall_back_to_the_bundled_rubric_and_say_so(logs, tmp_path):
    def older(s):
        del s.scores["story_quality"].metadata["criterion_names"]

    con = connect(":memory:")
    [o] = ingest(con, [_edited_copy(tmp_path, "sweeps/a", older)]).outcomes
    assert _names(con)["P1"] and None not in _names(con).values()
    assert any("criterion names are not in the log" in w and "bundled rubric 'story_quality'" in w
               for w in o.warnings)

    def older_custom(s):
        older(s)
        s.scores["story_quality"].metadata["rubric_sha256"] = "f" * 64

    (tmp_path / "b").mkdir()
    con = connect(":memory:")
    [o] = ingest(con, [_edited_copy(tmp_path / "b", "sweeps/a", older_custom)]).outcomes
    assert set(_names(con).values()) == {None}
    [w] = [w for w in o.warnings if "criterion names" in w]
    assert "another hash" in w and "names stored as NULL" in w
    # and the warning is kept with the file
    assert con.execute("SELECT warnings FROM log_files").fetchone()[0] == o.warnings


def test_length_columns_come_from_length_adherence_only(logs, tmp_path):
    def renamed(s):  # a scorer with length-like keys under another name is not guessed at
        s.scores["my_lengths"] = s.scores.pop("length_adherence")

    con = connect(":memory:")
    [o] = ingest(con, [_edited_copy(tmp_path, "sweeps/a", renamed)]).outcomes
    assert con.execute("SELECT count(*) FROM samples WHERE words IS NOT NULL OR length_ratio IS NOT NULL"
                       ).fetchone()[0] == 0
    assert any("no 'length_adherence' scorer" in w for w in o.warnings)


def test_unreadable_values_are_reported_not_swallowed(logs, tmp_path):
    def broken(s):
        m = s.scores["story_quality"].metadata
        if s.id.startswith("salt"):
            m["criteria"] = "P1=3"
        else:
            m["criteria"]["P1"] = "three"

    con = connect(":memory:")
    [o] = ingest(con, [_edited_copy(tmp_path, "sweeps/a", broken)]).outcomes
    assert o.outcome == "ingested"
    assert any("'criteria' metadata of type str" in w and "(6 samples)" in w for w in o.warnings)
    assert any("criterion 'P1' has a non-numeric score" in w for w in o.warnings)
    assert con.execute("SELECT count(*) FROM criteria WHERE criterion_id = 'P1' AND score IS NULL").fetchone()[0] > 0


def test_dataset_identity_and_input_hashes(logs):
    con = connect(":memory:")
    ingest(con, [store_logs() / "sweeps"])
    rows = con.execute("SELECT dataset_name, dataset_sha256, dataset_samples FROM runs").fetchall()
    assert len({r[1] for r in rows}) == 1 and rows[0][0] == "length_gen" and rows[0][2] == 30
    assert con.execute("SELECT count(DISTINCT input_sha256) FROM samples").fetchone()[0] == 30
