"""The store's `polaris` sub-commands end to end, and the report formats."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from store_logs import copy_of, one_log, store_logs

from polaris_bench.cli import store as store_cli
from polaris_bench.report.plots import plot_curves
from polaris_bench.report.tables import fmt, render_leaderboard
from polaris_bench.store import connect, curves, ingest, leaderboard


def polaris(*argv: str) -> int:
    """Through the project's `polaris` entry point when it wires the store in."""
    try:
        from polaris_bench.cli.main import main
    except ImportError:  # pragma: no cover - the lead's CLI not there yet
        main = store_cli.main
    return main(list(argv))


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "polaris.duckdb"
    assert polaris("ingest", str(store_logs()), "--db", str(path)) == 0
    return path


def test_ingest_twice_then_the_leaderboard_shows_both_writers(db, capsys):
    before = connect(db).execute("SELECT count(*) FROM samples").fetchone()[0]
    assert polaris("ingest", str(store_logs()), "--db", str(db)) == 0
    out = capsys.readouterr().out
    assert "4 unchanged" in out
    con = connect(db)
    assert con.execute("SELECT count(*) FROM samples").fetchone()[0] == before
    con.close()
    assert polaris("leaderboard", "--db", str(db)) == 0
    out = capsys.readouterr().out
    assert "offline/writer-a [length_bias=0.08]" in out and "offline/writer-b [length_bias=0.08]" in out
    assert "story_elo" in out and "note:" in out


def test_leaderboard_json_csv_markdown(db, capsys, tmp_path):
    assert polaris("leaderboard", "--db", str(db), "-b", "length_gen", "--score", "published_overall", "-f", "json") == 0
    data = json.loads(capsys.readouterr().out)
    rows = data["leaderboard"]
    assert {r["model"] for r in rows} >= {"offline/writer-a [length_bias=0.08]", "offline/writer-b [length_bias=0.08]"}
    assert all({"score", "ci_low", "ci_high", "length_ratio", "ID", "near", "far", "slope", "n", "unscored"} <= set(r)
               for r in rows)
    assert data["notes"]
    out = tmp_path / "lb.csv"
    assert polaris("leaderboard", "--db", str(db), "-b", "length_gen", "-f", "csv", "-o", str(out)) == 0
    parsed = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(parsed) == len(rows) and "rubric_sha256" in parsed[0]
    assert polaris("leaderboard", "--db", str(db), "-b", "length_gen", "-f", "markdown") == 0
    md = capsys.readouterr().out
    # writer-a's judge-x run used another dataset, so the dataset column is shown
    assert "| model | judge | dataset | score [95% CI] | len ratio | truncated | blank |" in md
    assert "### length_gen" in md


def test_judge_policies_on_the_command_line(db, capsys):
    assert polaris("leaderboard", "--db", str(db), "-b", "length_gen", "--judges", "refuse") == 2
    assert "judge model" in capsys.readouterr().err
    assert polaris("leaderboard", "--db", str(db), "-b", "length_gen", "--mix-judges", "--datasets", "mix",
                   "-f", "json") == 0
    rows = json.loads(capsys.readouterr().out)["leaderboard"]
    assert [r["judge"] for r in rows if r["model"].startswith("offline/writer-a")] == ["mixed (2 setups)"]


def test_compare_and_plot(db, capsys, tmp_path):
    assert polaris("compare", "writer-a", "writer-b", "--db", str(db), "-b", "length_gen", "-f", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["bucket"] for r in rows] == ["all", "ID", "near", "far"]
    png = tmp_path / "curves.png"
    assert polaris("plot", "--db", str(db), "-b", "length_gen", "--out", str(png), "--csv", str(tmp_path / "c.csv")) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert (tmp_path / "c.csv").read_text().startswith("benchmark,model,judge,dataset,point")


def test_reference_load_then_published_rows(db, capsys):
    assert polaris("reference", "load", "--db", str(db)) == 0
    assert "published reference numbers" in capsys.readouterr().out
    assert polaris("leaderboard", "--db", str(db), "-b", "length_gen", "--score", "published_overall", "-f", "json") == 0
    rows = json.loads(capsys.readouterr().out)["leaderboard"]
    published = [r for r in rows if r["source"] == "published"]
    assert {r["model"] for r in published} >= {"POLARIS-9B", "Qwen3.5-9B"}
    assert all(r["judge_prompt"] == "the paper's own judge prompts" for r in published)
    assert polaris("leaderboard", "--db", str(db), "--no-reference", "-f", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert not any(r["source"] == "published" for r in data["leaderboard"] + data["elo"])


def test_corrupt_log_exit_status(tmp_path, capsys):
    folder = tmp_path / "logs"
    good = copy_of(one_log("sweeps/a"), folder)
    (folder / "2026-01-01T00-00-00-00-00_cut_X.eval").write_bytes(good.read_bytes()[:2000])
    assert polaris("ingest", str(folder), "--db", str(tmp_path / "c.duckdb")) == 1
    out = capsys.readouterr().out
    assert "error" in out and "unreadable log" in out and "1 ingested" in out


def test_missing_database_and_unknown_model(tmp_path, db, capsys):
    assert polaris("leaderboard", "--db", str(tmp_path / "nope.duckdb")) == 2
    assert "polaris ingest" in capsys.readouterr().err
    assert polaris("compare", "writer-a", "nobody", "--db", str(db)) == 2
    assert "no model matches" in capsys.readouterr().err


def test_report_formatting():
    assert fmt(float("nan")) == "—" and fmt(None) == "—" and fmt(3) == "3"
    assert fmt(52.13) == "52.1" and fmt(0.987) == "0.987"
    con = connect(":memory:")
    ingest(con, [one_log("sweeps/a")])
    text = render_leaderboard(leaderboard(con, "length_gen", reference=False), "markdown")
    row = [line for line in text.splitlines() if line.startswith("| offline/writer-a")][0]
    assert "[" in row and "]" in row  # score with its CI
    frame, _ = curves(con, "length_gen")
    assert not frame.empty and not math.isnan(frame["quality"].iloc[0])


def test_plot_handles_one_point_per_model(tmp_path):
    import pandas as pd

    frame = pd.DataFrame([{"benchmark": "b", "model": "m", "judge": "j", "point": "1000", "order": 1000.0,
                           "target": 1000.0, "n": 1, "unscored": 0, "quality": 1.0, "quality_low": float("nan"),
                           "quality_high": float("nan"), "length_ratio": 1.0, "ratio_low": 1.0, "ratio_high": 1.0}])
    assert plot_curves(frame, tmp_path / "one.png").exists()


# -- issue 9 item 10: truncated/blank, tiny samples, datasets, display names, bad paths -----


def test_leaderboard_shows_truncated_and_blank_shares(tmp_path, capsys):
    db = tmp_path / "t.duckdb"
    assert polaris("ingest", str(store_logs() / "sweeps"), "--db", str(db)) == 0
    con = connect(db)
    con.execute("UPDATE samples SET truncated = true WHERE run_id IN "
                "(SELECT run_id FROM runs WHERE model = 'offline/writer-b')")
    blank_a = con.execute("SELECT avg(blank::INT) FROM samples JOIN runs USING (run_id) "
                          "WHERE model = 'offline/writer-a'").fetchone()[0]
    con.close()
    capsys.readouterr()
    assert polaris("leaderboard", "--db", str(db), "-b", "length_gen", "-f", "json", "--no-reference") == 0
    rows = {r["model"]: r for r in json.loads(capsys.readouterr().out)["leaderboard"]}
    a, b = rows["offline/writer-a [length_bias=0.08]"], rows["offline/writer-b [length_bias=0.08]"]
    assert b["truncated"] == 1.0 and a["truncated"] == 0.0 and a["blank"] == pytest.approx(blank_a)
    assert polaris("leaderboard", "--db", str(db), "-b", "length_gen", "-f", "markdown", "--no-reference") == 0
    md = capsys.readouterr().out
    line = next(x for x in md.splitlines() if x.startswith("| offline/writer-b"))
    assert "| 100% |" in line


def test_tiny_samples_say_n_too_small(db, capsys):
    # writer-a's judge-x run: 2 prompts, 4 samples
    assert polaris("leaderboard", "--db", str(db), "-b", "length_gen", "-f", "json") == 0
    rows = json.loads(capsys.readouterr().out)["leaderboard"]
    [x] = [r for r in rows if r.get("judge_model") == "offline/judge-x"]
    assert x["ci_status"] == "n too small" and x["ci_low"] is None and x["score"] is not None
    [big] = [r for r in rows if r["model"].startswith("offline/writer-b") and r["source"] == "run"]
    assert big["ci_status"] is None and big["ci_low"] < big["score"] < big["ci_high"]
    assert polaris("leaderboard", "--db", str(db), "-b", "length_gen", "-f", "markdown") == 0
    assert "(n too small)" in capsys.readouterr().out


def test_compare_on_few_pairs_shows_no_p_value(tmp_path, capsys):
    # writer-a's judge-x run (2 prompts x 2 lengths) against writer-b: 4 pairs
    db = tmp_path / "few.duckdb"
    assert polaris("ingest", str(one_log("judge_x")), str(one_log("sweeps/b")), "--db", str(db)) == 0
    capsys.readouterr()
    assert polaris("compare", "writer-a", "writer-b", "--db", str(db), "--mix-judges", "-f", "json") == 0
    comp = json.loads(capsys.readouterr().out)["comparison"]
    assert comp and all(r["n"] < 6 for r in comp)
    assert all(r["p_wilcoxon"] is None and r["p_ttest"] is None and r["test_status"] == "n too small"
               and r["ci_status"] == "n too small" for r in comp)
    assert polaris("compare", "writer-a", "writer-b", "--db", str(db), "--mix-judges", "-f", "markdown") == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "| all |" in x)
    assert line.count("n too small") == 3  # the CI and both p-values


def _two_prompt_files(tmp_path):
    from store_logs import _eval, _task

    logs = []
    for name, premise in (("one", "a lighthouse keeper"), ("two", "a night ferry")):
        path = tmp_path / f"{name}.jsonl"
        rows = [{"id": f"p{i}", "prompt": f"Write a story about {premise}, part {i}."} for i in range(5)]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        logs.append(_eval(_task("length_gen")(prompts=str(path), targets="1000", compact=True),
                          tmp_path / "logs" / name, "offline/writer-a", "offline/judge", {"length_bias": 0.08}))
    return tmp_path / "logs"


def test_runs_over_two_prompt_files_are_two_rows(tmp_path, capsys):
    db = tmp_path / "p.duckdb"
    assert polaris("ingest", str(_two_prompt_files(tmp_path)), "--db", str(db)) == 0
    capsys.readouterr()
    assert polaris("leaderboard", "--db", str(db), "-f", "json", "--no-reference") == 0
    data = json.loads(capsys.readouterr().out)
    rows = data["leaderboard"]
    assert len(rows) == 2 and len({r["dataset_sha256"] for r in rows}) == 2 and all(r["n"] == 5 for r in rows)
    assert any("runs over 2 datasets" in n for n in data["notes"])
    assert polaris("leaderboard", "--db", str(db), "-f", "json", "--no-reference", "--datasets", "mix") == 0
    [pooled] = json.loads(capsys.readouterr().out)["leaderboard"]
    assert pooled["n"] == 10 and pooled["dataset"] == "mixed (2 datasets)"


def test_display_names_derived_set_and_accepted_by_compare(tmp_path, capsys):
    from polaris_bench.store.names import short_model

    home = "/home/me/.cache/polaris-bench/models/smollm2"
    assert short_model(f"hf/{home}") == "hf/smollm2"
    assert short_model("hf//x/hub/models--HuggingFaceTB--SmolLM2-135M-Instruct/snapshots/abc123") == \
        "hf/HuggingFaceTB/SmolLM2-135M-Instruct"
    assert short_model("openai/gpt-5.4") == "openai/gpt-5.4" and short_model("hf/org/name") == "hf/org/name"
    db = tmp_path / "n.duckdb"
    assert polaris("ingest", str(store_logs() / "sweeps"), "--db", str(db),
                   "--name", "offline/writer-a=A-team", "--name", "offline/nobody=ghost") == 0
    out = capsys.readouterr().out
    assert "A-team" in out and "no run of 'offline/nobody'" in out
    assert polaris("leaderboard", "--db", str(db), "-f", "json", "--no-reference") == 0
    models = {r["model"] for r in json.loads(capsys.readouterr().out)["leaderboard"]}
    # a name set for the model string keeps the label's -M args
    assert models == {"A-team [length_bias=0.08]", "offline/writer-b [length_bias=0.08]"}
    assert polaris("compare", "A-team [length_bias=0.08]", "offline/writer-b [length_bias=0.08]", "--db", str(db),
                   "-f", "json") == 0
    assert json.loads(capsys.readouterr().out)["comparison"][0]["model_a"] == "A-team [length_bias=0.08]"
    # the full label still works, and a name given by label replaces the whole label
    assert polaris("compare", "offline/writer-a [length_bias=0.08]", "writer-b", "--db", str(db)) == 0
    assert polaris("ingest", str(store_logs() / "sweeps"), "--db", str(db),
                   "--name", "offline/writer-b [length_bias=0.08]=B") == 0
    capsys.readouterr()
    assert polaris("leaderboard", "--db", str(db), "-f", "json", "--no-reference") == 0
    assert {r["model"] for r in json.loads(capsys.readouterr().out)["leaderboard"]} == \
        {"A-team [length_bias=0.08]", "B"}
    # two models under one name are never pooled: they keep their labels
    assert polaris("ingest", str(store_logs() / "sweeps"), "--db", str(db), "--name",
                   "offline/writer-a [length_bias=0.08]=B") == 0
    capsys.readouterr()
    assert polaris("leaderboard", "--db", str(db), "-f", "json", "--no-reference") == 0
    data = json.loads(capsys.readouterr().out)
    assert {r["model"] for r in data["leaderboard"]} == {"offline/writer-a [length_bias=0.08]",
                                                          "offline/writer-b [length_bias=0.08]"}
    assert any("share the display name 'B'" in n for n in data["notes"])
    assert polaris("ingest", str(store_logs() / "sweeps"), "--db", str(db), "--name", "no-equals-sign") == 2
    assert "--name 'no-equals-sign': expected MODEL=DISPLAY" in capsys.readouterr().err


def test_zero_byte_database_and_missing_log_path(tmp_path, capsys):
    empty = tmp_path / "empty.duckdb"
    empty.write_bytes(b"")
    for argv in (("leaderboard", "--db", str(empty)), ("ingest", str(store_logs() / "sweeps"), "--db", str(empty))):
        assert polaris(*argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(empty) in err and "DuckDB" in err
    db = tmp_path / "new" / "never.duckdb"
    assert polaris("ingest", str(tmp_path / "no-such-logs"), "--db", str(db)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-logs: no such file or folder" in err
    assert not db.exists() and not db.parent.exists()


def test_console_script_fails_in_one_line(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("polaris")
    assert script.exists(), f"the polaris console script is not installed next to {sys.executable}"
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    db = tmp_path / "x.duckdb"
    proc = subprocess.run([str(script), "ingest", str(tmp_path / "missing"), "--db", str(db)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    expected = f"error: {tmp_path / 'missing'}: no such file or folder; nothing was ingested"
    assert proc.stderr.strip().splitlines() == [expected]
    assert not db.exists()


def test_ingest_prints_what_it_could_not_read(tmp_path, capsys):
    from inspect_ai.log import read_eval_log, write_eval_log

    log = read_eval_log(str(one_log("sweeps/a")))
    for s in log.samples:
        del s.scores["length_adherence"]
        del s.scores["story_quality"].metadata["criterion_names"]
    path = tmp_path / "2026-01-01T00-00-00-00-00_length-gen_old.eval"
    write_eval_log(log, str(path))
    assert polaris("ingest", str(path), "--db", str(tmp_path / "w.duckdb")) == 0
    out = capsys.readouterr().out
    assert f"warning: {path.name}: no 'length_adherence' scorer in this log" in out
    assert f"warning: {path.name}: story_quality: criterion names are not in the log" in out


def test_tables_show_local_judges_by_folder_name(tmp_path):
    """A judge given as a local path (the demo's hfjson judge) is shown short in the
    tables and notes a person reads, one model at a time in a panel; the machine
    formats keep the full label."""
    from polaris_bench.report.tables import _display
    from polaris_bench.store.audits import audit_lines
    from polaris_bench.store.schema import connect

    path = "hfjson//root/.cache/polaris-bench/models/smollm2"
    assert _display({"judge": f"{path} · compact"})["judge"] == "hfjson/smollm2 · compact"
    assert _display({"judge": f"openai/gpt-5.4+{path}"})["judge"] == "openai/gpt-5.4+hfjson/smollm2"
    con = connect(tmp_path / "s.duckdb")
    assert audit_lines(con, [path]) == ["judge hfjson/smollm2: not audited"]
