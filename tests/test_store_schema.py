"""Schema versioning and migrations; the published reference rows."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from prerequisites import missing

from polaris_bench.store import schema
from polaris_bench.store.benchmarks import benchmark_of, main_score, reference_benchmark
from polaris_bench.store.reference import JUDGE_PROMPT, load_reference, published_rows
from polaris_bench.store.schema import (
    SCHEMA_VERSION,
    SchemaError,
    connect,
    current_version,
    migrate,
)

ROOT = Path(__file__).resolve().parents[1]


def test_new_database_is_at_the_current_version(tmp_path):
    con = connect(tmp_path / "x.duckdb")
    assert current_version(con) == SCHEMA_VERSION
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"runs", "samples", "scores", "scorer_results", "criteria", "pairwise", "ratings", "reference",
            "log_files", "schema_info"} <= tables
    con.close()
    assert migrate(connect(tmp_path / "x.duckdb")) == []  # nothing pending the second time


def test_a_newer_database_is_refused(tmp_path):
    con = connect(tmp_path / "n.duckdb")
    con.execute("INSERT INTO schema_info VALUES (?, now()::TIMESTAMP, 'from the future')", [SCHEMA_VERSION + 1])
    con.close()
    with pytest.raises(SchemaError, match="newer"):
        connect(tmp_path / "n.duckdb")
    with pytest.raises(SchemaError, match="newer"):
        connect(tmp_path / "n.duckdb", read_only=True)


def test_migrations_run_once_in_order(tmp_path, monkeypatch):
    path = tmp_path / "m.duckdb"
    connect(path).close()
    calls = []

    def to_next(con: duckdb.DuckDBPyConnection) -> None:
        """add a column"""
        calls.append(1)
        con.execute("ALTER TABLE runs ADD COLUMN note VARCHAR")

    monkeypatch.setattr(schema, "MIGRATIONS", {**schema.MIGRATIONS, SCHEMA_VERSION: to_next})
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    con = duckdb.connect(str(path))
    assert migrate(con) == [SCHEMA_VERSION + 1]
    assert migrate(con) == []
    assert calls == [1]
    assert "note" in {r[0] for r in con.execute("DESCRIBE runs").fetchall()}
    assert con.execute("SELECT description FROM schema_info ORDER BY version DESC LIMIT 1").fetchone()[0] == "add a column"


def test_a_failed_migration_leaves_the_database_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "f.duckdb"
    connect(path).close()

    def broken(con):
        con.execute("ALTER TABLE runs ADD COLUMN half VARCHAR")
        raise RuntimeError("boom")

    monkeypatch.setattr(schema, "MIGRATIONS", {**schema.MIGRATIONS, SCHEMA_VERSION: broken})
    con = duckdb.connect(str(path))
    with pytest.raises(RuntimeError):
        migrate(con, SCHEMA_VERSION + 1)
    assert current_version(con) == SCHEMA_VERSION
    assert "half" not in {r[0] for r in con.execute("DESCRIBE runs").fetchall()}


def test_read_only_needs_an_existing_file(tmp_path):
    with pytest.raises(SchemaError, match="no results database"):
        connect(tmp_path / "none.duckdb", read_only=True)


def test_an_older_database_is_migrated_by_the_cli(tmp_path, monkeypatch):
    from polaris_bench.cli import store as store_cli

    path = tmp_path / "old.duckdb"
    connect(path).close()
    monkeypatch.setattr(schema, "MIGRATIONS", {**schema.MIGRATIONS, SCHEMA_VERSION: lambda con: None})
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(schema.SchemaOutdated):
        connect(path, read_only=True)
    con = store_cli._open(str(path))
    assert current_version(con) == SCHEMA_VERSION + 1


def test_readme_documents_every_table_and_column():
    readme = (ROOT / "results" / "README.md").read_text()
    con = connect(":memory:")
    for (table,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name <> 'schema_info'"
    ).fetchall():
        assert f"### `{table}`" in readme, table
        section = readme.split(f"### `{table}`", 1)[1].split("### ", 1)[0]
        for (column,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
        ).fetchall():
            assert f"`{column}`" in section, f"{table}.{column}"


# -- benchmarks table -------------------------------------------------------------------


def test_main_scores_per_benchmark():
    assert main_score("length_gen", {"story_quality": {"overall", "reward"}, "length_adherence": {"words"}}) == (
        "story_quality", "overall")
    assert main_score("eqbench_creative", {"eqbench_creative_score": {"eqbench", "piece_score"}}) == (
        "eqbench_creative_score", "eqbench")
    assert main_score("longbench_write", {"longbench_write_score": {"S", "S_q", "S_l"}}) == ("longbench_write_score", "S")
    assert main_score("writingbench_d4", {"writingbench_score": {"score"}}) == ("writingbench_score", "score")
    # an unknown benchmark: the first non-length scorer's value
    assert main_score("my_task", {"length_adherence": {"words"}, "match": {"value"}}) == ("match", "value")
    assert main_score("my_task", {"length_adherence": {"words"}}) is None
    assert benchmark_of("pkg/length-gen") == "length_gen"
    assert benchmark_of("x", {"benchmark": "writingbench"}) == "writingbench"
    assert reference_benchmark("length_gen") == "story_quality"


# -- published reference ----------------------------------------------------------------


def _polaris_md() -> str | None:
    for p in (ROOT.parent / "shared" / "POLARIS.md", ROOT / "shared" / "POLARIS.md"):
        if p.exists():
            return re.sub(r"\s+", " ", p.read_text())
    return None


def _num(v: float) -> str:
    return f"{v:.2f}" if abs(v) < 1.5 else (str(int(v)) if float(v).is_integer() and abs(v) > 100 else f"{v:.1f}")


def test_reference_numbers_are_those_of_polaris_md():
    text = _polaris_md()
    if text is None:
        missing("../shared/POLARIS.md beside this checkout")
    rows = published_rows()
    by = {}
    for r in rows:
        by.setdefault((r.benchmark, r.model), {})[r.metric] = r.value
    sq = by[("story_quality", "POLARIS-9B")]
    assert f"POLARIS-9B {' / '.join(_num(sq[m]) for m in ('ID', 'near', 'far', 'aggregate', 'slope'))}" in text
    for (bench, model), metrics in by.items():
        if bench == "story_elo":
            assert f"{model} {_num(metrics['elo'])}" in text, model
        elif bench == "story_quality" and "slope" in metrics:
            seq = " / ".join(_num(metrics[m]) for m in ("ID", "near", "far", "aggregate", "slope"))
            assert seq in text, (model, seq)
        elif bench == "eqbench_longform":
            seq = " / ".join(_num(metrics[m]) for m in ("ID", "near", "far", "aggregate"))
            assert seq in text, (model, seq)
        elif "length_ratio" in metrics:
            seq = " / ".join(_num(metrics[m]) for m in ("length_ratio_ID", "length_ratio_near", "length_ratio_far",
                                                        "length_ratio"))
            assert seq in text, (model, seq)
    ood = " / ".join(_num(by[(b, "POLARIS-9B")]["aggregate"]) for b in ("writingbench", "longbench_write",
                                                                         "eqbench_creative"))
    assert f"POLARIS-9B {ood}" in text
    assert "Qwen3.5-27B 0.82, Gemma 4 31B 0.36" in text
    assert by[("story_quality", "Gemma 4 31B")]["length_ratio_far"] == 0.36


def test_reference_load_is_idempotent_and_marked():
    con = connect(":memory:")
    n = load_reference(con)
    assert load_reference(con) == n
    assert con.execute("SELECT count(*) FROM reference").fetchone()[0] == n
    assert con.execute("SELECT bool_and(published), min(judge_prompt), max(judge_prompt) FROM reference").fetchone() == (
        True, JUDGE_PROMPT, JUDGE_PROMPT)
    judges = dict(con.execute("SELECT benchmark, any_value(judge_model) FROM reference GROUP BY 1").fetchall())
    assert judges == {"story_quality": "GPT-5.4", "eqbench_longform": "GPT-5.4", "eqbench_creative": "GPT-5.4",
                      "writingbench": "Gemini 3.1 Pro", "longbench_write": "Gemini 3.1 Pro",
                      "story_elo": "Gemini 3 Flash"}


def test_v1_database_migrates_to_v2_with_display_names(tmp_path):
    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, 1)
    con.execute("INSERT INTO runs (run_id, model, model_label, status) VALUES "
                "('r1', 'hf//home/me/models/smollm2', 'hf//home/me/models/smollm2 [temperature=0.7]', 'success')")
    con.close()
    con = connect(path)  # migrates
    assert current_version(con) == SCHEMA_VERSION >= 2
    assert con.execute("SELECT display_name, dataset_sha256 FROM runs").fetchone() == (
        "hf/smollm2 [temperature=0.7]", None)
    cols = {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_name = 'samples'").fetchall()}
    assert "input_sha256" in cols
    assert con.execute("SELECT count(*) FROM model_names").fetchone()[0] == 0


def test_v2_database_migrates_to_v3_with_the_panel_tables(tmp_path):
    path = tmp_path / "v2.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, 2)
    con.execute("INSERT INTO scorer_results (run_id, sample_id, epoch, scorer, scored) VALUES ('r', 's', 1, 'sq', true)")
    con.close()
    con = connect(path)
    assert current_version(con) == SCHEMA_VERSION >= 3
    assert con.execute("SELECT panel_aggregate FROM scorer_results").fetchall() == [(None,)]
    for table in ("judgements", "judgement_scores", "judgement_criteria"):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
