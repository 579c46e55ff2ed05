"""Token usage in the store (per run, role and sample), the price table, and what runs
cost in `polaris cost` and `polaris leaderboard`."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from cost_logs import panel_log

from polaris_bench.cli.main import main as polaris
from polaris_bench.costs.prices import NO_PRICE, PriceError, load_prices, parse_prices
from polaris_bench.store import connect, ingest
from polaris_bench.store.costs import attach_costs, role_costs, sample_costs
from polaris_bench.store.rows import WRITER_ROLE, _UsageRoles, build_rows
from polaris_bench.store.schema import migrate

ROOT = Path(__file__).resolve().parents[1]
README_MODELS = ("openai/gpt-5.4", "anthropic/claude-opus-4-6", "anthropic/claude-sonnet-4-5",
                 "google/gemini-3.1-pro", "google/gemini-3-flash-preview")
PRICES = """\
as_of: "2026-01-01"
models:
  offline/writer*:
    input: 1.0
    output: 2.0
  offline/judge-a:
    input: 3.0
    output: 4.0
    batch: 0.5
"""


@pytest.fixture()
def prices(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text(PRICES)
    return path


@pytest.fixture()
def db(tmp_path):
    path = tmp_path / "p.duckdb"
    con = connect(path)
    ingest(con, [panel_log()])
    con.close()
    return path


# -- usage rows -----------------------------------------------------------------------------


def test_usage_rows_per_role_and_sample_match_inspects_usage():
    from inspect_ai.log import read_eval_log

    log = read_eval_log(str(panel_log()))
    rows = build_rows(log, str(panel_log()), "fp")
    usage = rows.usage.table().to_pylist()
    per_sample = [u for u in usage if u["sample_id"] is not None]
    totals = {u["role"]: u for u in usage if u["sample_id"] is None}
    assert set(totals) == {WRITER_ROLE, "grader", "grader_b"}
    assert totals["grader"]["model"] == "offline/judge-a" and totals["grader_b"]["model"] == "offline/judge-b"
    assert totals[WRITER_ROLE]["model"] == "offline/writer"
    for s in log.samples:
        mine = {u["role"]: u for u in per_sample if u["sample_id"] == s.id}
        assert mine[WRITER_ROLE]["output_tokens"] == s.model_usage["offline/writer"].output_tokens
        assert mine["grader_b"]["input_tokens"] == s.role_usage["grader_b"].input_tokens
        assert all(u["calls"] == 1 for u in mine.values())  # one story, one judgement per member
    for role, t in totals.items():  # the run's totals are Inspect's and equal the samples' sum
        assert t["output_tokens"] == sum(u["output_tokens"] for u in per_sample if u["role"] == role)
        assert t["calls"] == len(log.samples)
    assert totals["grader"]["input_tokens"] == log.stats.role_usage["grader"].input_tokens


def test_writer_usage_is_its_models_usage_less_a_role_of_the_same_model():
    from inspect_ai.model import ModelUsage

    roles = _UsageRoles("openai/gpt-5.4", {"grader": "openai/gpt-5.4", "grader_b": "x/y"}, {"grader": True})
    split = roles.split(
        {"openai/gpt-5.4": ModelUsage(input_tokens=1000, output_tokens=500, input_tokens_cache_read=40),
         "x/y": ModelUsage(input_tokens=10, output_tokens=5), "z/other": ModelUsage(input_tokens=3, output_tokens=1)},
        {"grader": ModelUsage(input_tokens=300, output_tokens=100, input_tokens_cache_read=40),
         "grader_b": ModelUsage(input_tokens=10, output_tokens=5)},
    )
    assert split[WRITER_ROLE] == ("openai/gpt-5.4", pytest.approx({
        "input_tokens": 700, "output_tokens": 400, "input_tokens_cache_read": 0, "input_tokens_cache_write": 0,
        "reasoning_tokens": 0, "total_tokens": 0}))
    assert split["grader"][1]["input_tokens_cache_read"] == 40
    assert split["other"][0] == "z/other"
    assert "x/y" not in {m for r, (m, _) in split.items() if r not in ("grader_b",)}


def test_migration_from_v7_adds_the_usage_table(tmp_path):
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    migrate(con, target=7)
    assert not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'usage'").fetchone()[0]
    assert migrate(con) == [8]
    assert con.execute("SELECT count(*) FROM usage").fetchone()[0] == 0


# -- prices -----------------------------------------------------------------------------------


def test_bundled_prices_cover_the_readme_models_and_state_their_date():
    table = load_prices()
    assert table.as_of
    readme = (ROOT / "README.md").read_text() + (ROOT / "tasks" / "README.md").read_text()
    for model in README_MODELS:
        assert model in readme
        price = table.lookup(model)
        assert price is not None and price.input > 0 and price.output > price.input
    assert table.lookup("google/gemini-3.1-pro-preview") is table.lookup("google/gemini-3.1-pro")
    assert table.lookup("offline/writer") is None


def test_cost_arithmetic_cache_and_batch():
    table = parse_prices("models:\n  a/b:\n    input: 2\n    output: 10\n    cached_input: 0.5\n    batch: 0.5\n", "t")
    p = table.lookup("a/b")
    assert p.cost(1_000_000, 100_000) == pytest.approx(2 + 1)
    assert p.cost(1_000_000, 100_000, cache_read=2_000_000) == pytest.approx(3 + 1)
    assert p.cost(1_000_000, 100_000, batch=True) == pytest.approx(1.5)
    assert p.cache_write == 2  # defaults to the input price


@pytest.mark.parametrize("text, message", [
    ("models:\n  a/b:\n    input: 1\n    outptu: 2\n", r"t.yaml line 4: a/b: unknown key 'outptu'"),
    ("models:\n  a/b:\n    input: -1\n    output: 2\n", r"t.yaml line 3: a/b: input must not be negative, got -1"),
    ("models:\n  a/b:\n    input: 1\n    output: 2\n  a/b:\n    input: 1\n    output: 2\n",
     r"t.yaml line 5: 'a/b' appears twice \(first at line 2\)"),
    ("models:\n  a/b:\n    input: 1\n", r"t.yaml line 2: a/b: the 'output' price is missing"),
    ("models:\n  a/b:\n    input: 1\n    output: x\n", r"t.yaml line 4: a/b: output must be a number"),
    ("models:\n  a/b:\n    input: 1\n    output: 2\n    batch: 2\n", r"t.yaml line 5: a/b: batch is a multiplier"),
    ("prices:\n  a/b: {}\n", r"t.yaml line 1: unknown key 'prices'"),
    ("models:\n  gpt:\n    input: 1\n    output: 2\n", r"t.yaml line 2: 'gpt' is not an Inspect model string"),
    ("models: [\n", r"t.yaml.*not valid YAML"),
])
def test_bad_price_files_name_the_file_and_line(text, message):
    with pytest.raises(PriceError, match=message):
        parse_prices(text, "t.yaml")


def test_a_model_matched_by_two_patterns_is_an_error():
    table = parse_prices("models:\n  a/*:\n    input: 1\n    output: 2\n  a/b*:\n    input: 1\n    output: 2\n"
                         "  a/bc:\n    input: 5\n    output: 5\n", "t.yaml")
    with pytest.raises(PriceError, match=r"t.yaml: model 'a/bx' is matched by 2 entries: 'a/\*' \(line 2\), "
                                         r"'a/b\*' \(line 5\)"):
        table.lookup("a/bx")
    assert table.lookup("a/bc").input == 5  # an exact entry wins


# -- costs from the store -------------------------------------------------------------------------


def test_role_costs_price_each_role_and_leave_unpriced_ones_without_a_number(db, prices):
    table = load_prices(prices)
    con = connect(db)
    rows = {r["role"]: r for r in role_costs(con, table)}
    samples = sample_costs(con, table, rows["grader"]["run_id"])
    words = con.execute("SELECT sum(words) FROM samples").fetchone()[0]
    con.close()
    w = rows[WRITER_ROLE]
    assert w["cost_usd"] == pytest.approx((w["input_tokens"] * 1 + w["output_tokens"] * 2) / 1e6)
    g = rows["grader"]
    assert g["cost_usd"] == pytest.approx((g["input_tokens"] * 3 + g["output_tokens"] * 4) / 1e6)
    assert g["words_judged"] == pytest.approx(words)
    assert g["cost_per_1k_words_usd"] == pytest.approx(g["cost_usd"] / (words / 1000))
    assert g["cost_per_sample_usd"] == pytest.approx(g["cost_usd"] / 4)
    assert rows["grader_b"]["cost_usd"] is None and rows["grader_b"]["price"] == NO_PRICE
    assert rows["grader_b"]["output_tokens"] > 0
    assert w["words_judged"] is None  # the writer judges nothing
    priced = [s for s in samples if s["role"] == "grader"]
    assert sum(s["cost_usd"] for s in priced) == pytest.approx(g["cost_usd"])


def test_batch_runs_are_priced_with_the_batch_multiplier(db, prices):
    con = connect(db)
    before = {r["role"]: r["cost_usd"] for r in role_costs(con, load_prices(prices))}
    con.execute("UPDATE usage SET batch = true WHERE role = 'grader'")
    after = {r["role"]: r["cost_usd"] for r in role_costs(con, load_prices(prices))}
    con.close()
    assert after["grader"] == pytest.approx(before["grader"] * 0.5)
    assert after[WRITER_ROLE] == pytest.approx(before[WRITER_ROLE])


def test_leaderboard_json_carries_cost_and_says_no_price(db, prices, tmp_path, capsys):
    assert polaris(["leaderboard", "--db", str(db), "--prices", str(prices), "--no-reference", "-f", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["leaderboard"]
    assert row["cost_usd"] is None and row["cost_note"] == f"{NO_PRICE}: offline/judge-b"
    assert row["input_tokens"] > 0 and row["output_tokens"] > 0
    assert polaris(["leaderboard", "--db", str(db), "--prices", str(prices), "--no-reference"]) == 0
    out = capsys.readouterr().out
    assert "price:" in out and "offline/judge-b" in out and "$0.0" not in out  # (rich wraps the cell)
    # with every model priced, the cost is the sum of the roles' costs
    full = tmp_path / "full.yaml"
    full.write_text(PRICES + "  offline/judge-b:\n    input: 5.0\n    output: 6.0\n")
    assert polaris(["leaderboard", "--db", str(db), "--prices", str(full), "--no-reference", "-f", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["leaderboard"]
    con = connect(db)
    roles = role_costs(con, load_prices(full))
    con.close()
    assert row["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in roles))
    assert row["cost_per_sample_usd"] == pytest.approx(row["cost_usd"] / 4)
    judges = sum(r["cost_usd"] for r in roles if r["role"] != WRITER_ROLE)
    assert row["judge_cost_per_1k_words_usd"] == pytest.approx(judges / (roles[1]["words_judged"] / 1000))


def test_attach_costs_notes_runs_without_usage(db, prices):
    from polaris_bench.store.queries import leaderboard

    con = connect(db)
    con.execute("DELETE FROM usage")
    board = leaderboard(con, reference=False, n_resamples=50)
    attach_costs(con, board, load_prices(prices))
    con.close()
    assert board.rows[0]["cost_usd"] is None and board.rows[0]["cost_note"] == "no usage recorded"
    assert any("ingest --force" in n for n in board.notes)
    from polaris_bench.report.tables import render_leaderboard

    assert "cost (USD)" not in render_leaderboard(board, "markdown")  # no column of blanks: the note says why


def test_cost_command_per_role_and_per_sample(db, prices, capsys):
    assert polaris(["cost", "--db", str(db), "--prices", str(prices), "-f", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["costs"]
    assert [r["role"] for r in rows] == [WRITER_ROLE, "grader", "grader_b"]
    assert polaris(["cost", "--db", str(db), "--prices", str(prices), "--run", "offline/writer",
                    "--samples", "-f", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["costs"]
    assert len(rows) == 12 and {r["sample_id"] for r in rows} >= {"salt-orchard@1000"}
    assert polaris(["cost", "--db", str(db), "--prices", str(prices)]) == 0
    assert "no price" in capsys.readouterr().out


def test_bad_price_file_is_a_one_line_error_on_every_command(db, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  a/b:\n    input: 1\n    output: -2\n")
    for argv in (["cost", "--db", str(db)], ["leaderboard", "--db", str(db)]):
        assert polaris([*argv, "--prices", str(bad)]) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"error: {bad} line 4: a/b: output must not be negative, got -2"
    assert polaris(["cost", "--db", str(db), "--prices", str(tmp_path / "none.yaml")]) == 2
    assert "none.yaml: cannot read the price file" in capsys.readouterr().err
    assert polaris(["cost", "--db", str(db), "--run", "nobody"]) == 2
    assert "--run nobody" in capsys.readouterr().err
