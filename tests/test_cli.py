"""The polaris command: rubric tools, the train hand-off, and the demo pipeline."""

import json

from polaris_bench.cli.main import main


def test_rubric_validate_reports_good_and_bad_files(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\ntitle: X\ninstructions: judge\naggregation: {kind: polaris_sq}\ncriteria: []\n")
    assert main(["rubric", "validate", "story_quality", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert "ok:" in out and "story_quality" in out
    assert str(bad) in err and "at least one criterion" in err


def test_rubric_show_schema_and_prompt(capsys):
    assert main(["rubric", "show", "story_quality", "--schema", "--compact"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["properties"]["criteria"]["properties"]["P1"]["maximum"] == 15
    assert main(["rubric", "show", "story_quality"]) == 0
    assert "<the story>" in capsys.readouterr().out


def test_train_is_handed_to_the_trainer(monkeypatch):
    seen = {}

    def fake_main(argv):
        seen["argv"] = argv
        return 0

    import polaris_bench.train.run as run

    monkeypatch.setattr(run, "main", fake_main)
    assert main(["train", "--config", "train/configs/smoke.yaml"]) == 0
    assert seen["argv"] == ["--config", "train/configs/smoke.yaml"]


def test_demo_runs_the_whole_pipeline_with_offline_models(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the demo finds tasks/ from the package, not the cwd
    args = ["demo", "--writer", "offline/writer", "--judge", "offline/judge", "--prompts", "2",
            "--targets", "150,300", "--log-dir", str(tmp_path / "logs"), "--db", str(tmp_path / "p.duckdb"),
            "--plot", str(tmp_path / "curve.png")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "lighthouse-ledger@150" in out and "offline/writer" in out
    assert (tmp_path / "curve.png").stat().st_size > 1000
    import duckdb

    con = duckdb.connect(str(tmp_path / "p.duckdb"), read_only=True)
    assert con.execute("select count(*) from samples").fetchone()[0] == 4


def test_demo_and_store_commands_share_their_default_files():
    from polaris_bench.cli.demo import DemoConfig
    from polaris_bench.cli.main import build_parser

    parser = build_parser()
    demo = parser.parse_args(["demo"])
    plot = parser.parse_args(["plot"])
    board = parser.parse_args(["leaderboard"])
    assert demo.plot == plot.out == DemoConfig().plot == "results/length_curves.png"
    assert demo.db == plot.db == board.db == DemoConfig().db == "results/polaris.duckdb"
