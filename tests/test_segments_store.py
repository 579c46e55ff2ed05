"""A real offline length_gen run with -T segments= through the store: the story_windows
rows, the leaderboard's decay and the position plot agree with the log's own numbers."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log

from polaris_bench.cli.main import main as polaris_main
from polaris_bench.store import connect

ROOT = Path(__file__).resolve().parents[1]


def test_a_segmented_run_in_the_store_leaderboard_and_position_plot(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "tasks"))
    from length_gen import length_gen

    logs = tmp_path / "logs"
    [log] = inspect_eval(length_gen(prompts="3", targets="1000,2000", segments=500, compact=True),
                         model="offline/writer", model_roles={"grader": "offline/judge"},
                         log_dir=str(logs), display="none")
    assert log.status == "success", log.error
    log = read_eval_log(log.location)
    db = tmp_path / "polaris.duckdb"
    assert polaris_main(["ingest", str(logs), "--db", str(db)]) == 0

    expected = {}
    slopes = []
    for s in log.samples:
        score = s.scores["story_segments"]
        slopes.append(score.value["decay_slope"])
        for e in score.metadata["segments"]:
            q = math.nan if e["value"] is None else e["value"]["quality"]
            expected[(s.id, e["index"])] = (e["first_word"], e["last_word"], q, e["self_repetition"],
                                            e["overlap_prior"], e["cliche_rate"])
    con = connect(db, read_only=True)
    stored = con.execute("SELECT sample_id, idx, first_word, last_word, quality, self_repetition, overlap_prior, "
                         "cliche_rate FROM story_windows").fetchall()
    con.close()
    assert len(stored) == len(expected) >= 3 * (2 + 4)
    for sid, idx, *values in stored:
        want = expected[(sid, idx)]
        assert values[:2] == list(want[:2])
        assert (math.nan if values[2] is None else values[2]) == pytest.approx(want[2], nan_ok=True)
        assert values[3:] == pytest.approx(list(want[3:]))

    capsys.readouterr()
    assert polaris_main(["leaderboard", "--db", str(db), "-b", "length_gen", "-f", "json", "--resamples", "200"]) == 0
    [row] = [r for r in json.loads(capsys.readouterr().out)["leaderboard"] if r["source"] == "run"]
    assert row["decay"] == pytest.approx(float(np.nanmean(slopes)))

    points = tmp_path / "position.csv"
    assert polaris_main(["plot", "--kind", "position", "--db", str(db), "-b", "length_gen",
                         "--out", str(tmp_path / "p.png"), "--csv", str(points), "--resamples", "200"]) == 0
    for p in csv.DictReader(io.StringIO(points.read_text())):
        qs = [v[2] for (sid, idx), v in expected.items() if idx == int(p["window"]) and not math.isnan(v[2])]
        assert float(p["quality"]) == pytest.approx(float(np.mean(qs)))
