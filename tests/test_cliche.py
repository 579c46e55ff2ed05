"""The cliché index: the matcher's rules, the rate per 1,000 words, the bundled list,
bad list files, and the ``cliche_index`` scorer on every single-story task (a real
``inspect eval`` with the offline providers, and into the store)."""

from __future__ import annotations

import inspect as pyinspect
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import get_model

from polaris_bench.benchmarks.task_args import TaskArgumentError
from polaris_bench.metrics.cliche import (
    BUNDLED,
    ClicheListError,
    Lexicon,
    cliche_rate,
    load_lexicon,
)
from polaris_bench.metrics.length import count_words
from polaris_bench.story import strip_thinking

ROOT = Path(__file__).resolve().parents[1]
SINGLE_STORY_TASKS = ("length_gen", "story_quality", "eqbench_longform", "eqbench_creative", "writingbench",
                      "longbench_write")


def lexicon(*entries: str) -> Lexicon:
    return Lexicon.from_entries(list(entries), "test", "0" * 64)


def own_list(tmp_path: Path, *entries: str, name: str = "mine.txt") -> Path:
    path = tmp_path / name
    path.write_text("# my list\n\n" + "\n".join(entries) + "\n", encoding="utf-8")
    return path


# -- the matcher ---------------------------------------------------------------------------------


def test_words_match_on_boundaries_only():
    lex = lexicon("tapestry")
    assert lex.hits("A tapestry, tapestrying, tapestry's edge, tapestry_1, untapestry.") == {"tapestry": 2}
    assert lexicon("tapestry", "tapestrying").hits("tapestrying tapestry") == {"tapestrying": 1, "tapestry": 1}


def test_matching_ignores_case_and_apostrophe_style():
    lex = lexicon("Eyes Widened", "didn't know she was holding")
    text = "EYES WIDENED. Her eyes widened. A breath she didn\u2019t know she was holding."
    assert lex.hits(text) == {"eyes widened": 2, "didn't know she was holding": 1}


def test_phrases_match_across_any_whitespace_but_not_punctuation():
    lex = lexicon("the weight of the world")
    assert lex.hits("She bore the weight\nof   the\n\nworld.") == {"the weight of the world": 1}
    assert lex.hits("the weight, of the world; the weight-of the world") == {}


def test_longest_entry_at_a_position_counts_once():
    lex = lexicon("testament", "a testament to", "the weight of", "the weight of the world")
    hits = lex.hits("It was a testament to grit. A testament. The weight of the world, the weight of it.")
    assert hits == {"a testament to": 1, "testament": 1, "the weight of the world": 1, "the weight of": 1}
    # a longer entry that fails its closing boundary falls back to the shorter one
    assert lexicon("a sense of", "a sense of purpose").hits("a sense of purposefulness") == {"a sense of": 1}


def test_matcher_agrees_with_a_plain_search_on_the_bundled_list():
    """Every bundled entry is found in a sentence made for it, alone: the compiled prefix
    tree loses none of them."""
    lex = load_lexicon()
    for entry in lex.entries:
        assert lex.hits(f"Then {entry} again.")[entry] >= 1 or any(
            len(other) > len(entry) and other in f"then {entry} again." for other in lex.entries
        ), entry


def test_bundled_list_is_large_original_and_clean():
    lex = load_lexicon()
    assert lex.source == BUNDLED and len(lex.entries) >= 300
    assert len(set(lex.entries)) == len(lex.entries)
    assert sum(" " in e for e in lex.entries) >= 150  # phrases, not just words
    assert load_lexicon(None) is lex  # compiled once


# -- the rate ------------------------------------------------------------------------------------


def test_rate_is_hits_per_thousand_words_by_the_paper_rule():
    lex = lexicon("tapestry")
    # "don't" is two words by the paper's rule: 1 + 2 + 1 + 1 + 1 = 6 words... then 1 hit
    text = "I don't like a tapestry much"
    assert count_words(text) == 7
    assert cliche_rate(text, lex) == pytest.approx(1000 / 7)
    assert cliche_rate("tapestry " * 4 + "word " * 996, lex) == pytest.approx(4.0)
    assert math.isnan(cliche_rate("", lex)) and math.isnan(cliche_rate("  ...  ", lex))
    assert cliche_rate("plain words only", lex) == 0.0


def test_rate_uses_the_bundled_list_by_default():
    assert cliche_rate("It was a testament to her palpable resolve.") > 0


# -- bad list files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "file not found"),
        (b"", "the file is empty"),
        (b"  \n\n", "the file is empty"),
        (b"# only comments\n\n# here\n", "no entries"),
        (b"tapestry\x00\x01\x02binary", "not a text file"),
        (b"tapestry\n\xff\xfe\xfa caf\xe9\n", "not a UTF-8 text file"),
        (b"tapestry\n---\n", "line 2: entry '---' has no letters or digits"),
    ],
)
def test_bad_list_files_name_the_file(tmp_path, content, problem):
    path = tmp_path / "list.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ClicheListError) as caught:
        load_lexicon(path)
    message = str(caught.value)
    assert str(path) in message and problem in message and "\n" not in message
    assert isinstance(caught.value, ValueError)


def test_a_folder_is_not_a_list(tmp_path):
    with pytest.raises(ClicheListError, match="not a file"):
        load_lexicon(tmp_path)


def _task(name: str):
    if str(ROOT / "tasks") not in sys.path:
        sys.path.insert(0, str(ROOT / "tasks"))
    return getattr(__import__(name), name)


@pytest.mark.parametrize("name", SINGLE_STORY_TASKS)
def test_every_single_story_task_takes_and_checks_the_list(tmp_path, name):
    task = _task(name)
    params = pyinspect.signature(task).parameters  # the tasks/*.py wrapper shows the real signature
    assert "cliche_list" in params and params["cliche_list"].default is None
    assert "cliche_list:" in (task.__doc__ or "")
    missing = tmp_path / "nope.txt"
    with pytest.raises(TaskArgumentError) as caught:
        task(cliche_list=str(missing))
    assert str(caught.value) == f"-T cliche_list={missing}: file not found"
    (tmp_path / "bin.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(TaskArgumentError, match=r"^-T cliche_list=.*bin\.txt: not a text file"):
        task(cliche_list=str(tmp_path / "bin.txt"))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(TaskArgumentError, match=r"^-T cliche_list=.*empty\.txt: the file is empty$"):
        task(cliche_list=str(tmp_path / "empty.txt"))


def test_cli_bad_list_is_one_line_naming_the_option(tmp_path):
    (tmp_path / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "inspect"), "eval", "tasks/length_gen.py", "-T",
         f"cliche_list={tmp_path / 'cover.jpg'}", "--model", "offline/writer", "--model-role",
         "grader=offline/judge", "--log-dir", str(tmp_path), "--display", "plain"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode != 0
    assert (done.stdout + done.stderr).strip().splitlines() == [
        f"-T cliche_list={tmp_path / 'cover.jpg'}: not a text file (it contains NUL bytes)"
    ]


# -- the scorer in a real run --------------------------------------------------------------------


def _run(task, tmp_path: Path, name: str, **model_args):
    [log] = inspect_eval(
        task, model="offline/writer-a", model_args=model_args,
        model_roles={"grader": get_model("offline/judge", memoize=False)}, log_dir=str(tmp_path / name), display="none",
    )
    assert log.status == "success", log.error
    return log


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """length_gen with the bundled list and with one's own list (the offline writer's
    own vocabulary), the same stories (a degrading writer, so both lists find hits)."""
    tmp = tmp_path_factory.mktemp("cliche_runs")
    mine = own_list(tmp, "lantern", "harbor", "quiet", "the orchard")
    task = _task("length_gen")
    bundled = _run(task(prompts="2", targets="300"), tmp, "bundled", degrade=1.0)
    custom = _run(task(prompts="2", targets="300", cliche_list=str(mine)), tmp, "custom", degrade=1.0)
    return bundled, custom, mine


def test_length_gen_scores_the_cliche_rate_of_every_sample(runs):
    bundled, _, _ = runs
    assert len(bundled.samples) == 2
    lex = load_lexicon()
    for sample in bundled.samples:
        score = sample.scores["cliche_index"]
        story = strip_thinking(sample.output.completion)
        hits = lex.hits(story)
        assert set(score.value) == {"cliche_rate", "cliche_hits"}
        assert score.value["cliche_hits"] == sum(hits.values()) > 0
        assert score.value["cliche_rate"] == pytest.approx(cliche_rate(story))
        assert score.metadata["cliche_list"] == BUNDLED and score.metadata["cliche_list_sha256"] == lex.sha256
        assert score.metadata["top_cliches"] == sorted(
            ([k, v] for k, v in hits.items()), key=lambda kv: (-kv[1], kv[0])
        )[:10]
    summary = {m.name: m for m in bundled.results.scores if m.scorer == "cliche_index" and m.metrics}
    assert set(summary) == {"cliche_rate", "cliche_hits"}
    assert "mean" in summary["cliche_rate"].metrics


def test_own_list_changes_the_numbers(runs):
    bundled, custom, mine = runs
    lex = load_lexicon(mine)
    rates = {s.id: s.scores["cliche_index"].value["cliche_rate"] for s in bundled.samples}
    stories = {s.id: s.output.completion for s in bundled.samples}
    for sample in custom.samples:
        score = sample.scores["cliche_index"]
        story = strip_thinking(sample.output.completion)
        assert score.value["cliche_rate"] == pytest.approx(cliche_rate(story, lex))
        assert sample.output.completion == stories[sample.id]  # the same story, another list
        assert score.value["cliche_rate"] > 0 and score.value["cliche_rate"] != rates[sample.id]
        assert score.metadata["cliche_list"] == str(mine) and score.metadata["cliche_list_sha256"] == lex.sha256
        assert {phrase for phrase, _ in score.metadata["top_cliches"]} <= set(lex.entries)


def test_cliche_rate_lands_in_the_store(runs, tmp_path):
    from polaris_bench.cli.main import main as polaris
    from polaris_bench.store import connect

    bundled, _, _ = runs
    db = tmp_path / "store.duckdb"
    assert polaris(["ingest", bundled.location, "--db", str(db)]) == 0
    con = connect(db)
    stored = dict(con.execute(
        "SELECT sample_id, value FROM scores WHERE scorer = 'cliche_index' AND key = 'cliche_rate'"
    ).fetchall())
    assert stored == pytest.approx({s.id: s.scores["cliche_index"].value["cliche_rate"] for s in bundled.samples})
    # a measurement, never the benchmark's headline
    from polaris_bench.store.queries import main_scores

    assert set(main_scores(con, "length_gen").values()) == {("story_quality", "overall")}
