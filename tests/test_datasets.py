"""Benchmark loaders: the real formats (small fixtures written for this project), clear
errors for malformed rows, stated-length parsing, generations files, and the counts of
the real public files when ../shared/benchmarks/ exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prerequisites import needs

from polaris_bench.benchmarks import common as _common
from polaris_bench.benchmarks.common import DatasetError
from polaris_bench.benchmarks.eqbench_creative import (
    load_eqbench_criteria,
    load_eqbench_prompts,
)
from polaris_bench.benchmarks.generations import load_generations, select_samples
from polaris_bench.benchmarks.longbench_write import load_longbench_write
from polaris_bench.benchmarks.stated_length import (
    find_stated_lengths,
    parse_stated_length,
)
from polaris_bench.benchmarks.story_quality import load_polaris_prompts
from polaris_bench.benchmarks.writingbench import load_writingbench
from polaris_bench.judging.rubric import load_rubric
from polaris_bench.metrics.length import has_cjk

FIXTURES = Path(__file__).parent / "fixtures" / "benchmarks"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- stated lengths ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, target, low, high, kind, unit",
    [
        ("First person, past tense, 1000 words.", 1000, None, None, "exact", "words"),
        ("<SEED> Length: 1000 words.", 1000, None, None, "exact", "words"),
        ("Please write an essay of around 2,000 words describing a station.", 2000, None, None, "about", "words"),
        ("The article should be between 2000 and 2500 words.", 2250, 2000, 2500, "range", "words"),
        ("Keep it to 2000-2500 words.", 2250, 2000, 2500, "range", "words"),
        ("Suggested word count: 3,000–5,000 words", 4000, 3000, 5000, "range", "words"),
        ("Write a 1000-word China travel guide", 1000, None, None, "exact", "words"),
        ("a word count of no less than 5000 words", 5000, 5000, None, "at_least", "words"),
        ("no more than 800 words, please", 800, None, 800, "at_most", "words"),
        ("in no less than 800 words", 800, 800, None, "at_least", "words"),
        ("it must not exceed 800 words", 800, None, 800, "at_most", "words"),
        ("in fewer than 800 words", 800, None, 800, "at_most", "words"),
        ("全文1000字左右，须分为三部分", 1000, None, None, "about", "characters"),
        ("字数在3000～4000字。", 3500, 3000, 4000, "range", "characters"),
        ("篇幅控制在300字以内。", 300, None, 300, "at_most", "characters"),
        ("字数控制在5000到8000字", 6500, 5000, 8000, "range", "characters"),
    ],
)
def test_stated_length(text, target, low, high, kind, unit):
    found = parse_stated_length(text)
    assert found is not None
    assert (found.target, found.low, found.high, found.kind, found.unit) == (target, low, high, kind, unit)


def test_stated_length_takes_the_total_and_ignores_changes():
    text = "Each section should be around 2000 words, with the total text exceeding 6000 words."
    assert len(find_stated_lengths(text)) == 2
    assert parse_stated_length(text).target == 6000
    assert parse_stated_length("The article needs to increase by 300-500 words.") is None
    assert parse_stated_length("Write a poem of 12-16 lines.") is None
    assert parse_stated_length("Use an A4 words page") is None


def test_stated_length_after_kana_uses_the_one_cjk_definition():
    # a length glued to kana or hangul counts, as after a Han character (has_cjk's set)
    assert has_cjk("ど") and parse_stated_length("ちょうど3000字で書いてください").target == 3000
    assert parse_stated_length("약3000자") is None  # 자 is not a length unit here


# -- EQ-Bench ---------------------------------------------------------------------------------


def test_eqbench_prompts_fill_the_seed_slot_per_iteration():
    samples = load_eqbench_prompts(FIXTURES / "eqbench_prompts.json", iterations=3)
    assert len(samples) == 9
    first = [s for s in samples if s.metadata["prompt_id"] == "1"]
    assert [s.id for s in first] == ["1_1", "1_2", "1_3"]
    modifiers = [s.metadata["seed_modifier"] for s in first]
    assert len(set(modifiers)) == 3  # three iterations, three different modifiers
    for s in first:
        assert "<SEED>" not in s.input and s.metadata["seed_modifier"] in s.input
        assert s.metadata["target_words"] == 1000 and s.metadata["bucket"] == "ID"
    # two modifiers for three iterations: the third wraps around to the first
    second = [s.metadata["seed_modifier"] for s in samples if s.metadata["prompt_id"] == "2"]
    assert second[0] == second[2] != second[1]
    # a prompt without a slot is used as written
    third = [s for s in samples if s.metadata["prompt_id"] == "4"]
    assert third[0].metadata["seed_modifier"] is None and third[0].input.endswith("1000 words.")


@pytest.mark.parametrize(
    "entry, problem",
    [
        ({"title": "x", "seed_modifiers": []}, "writing_prompt"),
        ({"writing_prompt": "A <SEED> story. 1000 words.", "seed_modifiers": []}, "no seed_modifiers"),
        ({"writing_prompt": "A <SEED> story.", "seed_modifiers": ["ok", 3]}, "seed_modifiers"),
        ("not an object", "expected an object"),
    ],
)
def test_eqbench_errors_name_the_file_line_and_problem(tmp_path, entry, problem):
    good = {"writing_prompt": "Fine. <SEED> 1000 words.", "seed_modifiers": ["a"]}
    path = write(tmp_path, "p.json", json.dumps({"1": good, "7": entry}, indent=2))
    with pytest.raises(DatasetError) as err:
        load_eqbench_prompts(path)
    assert str(path) in str(err.value) and problem in str(err.value)
    assert err.value.line is not None and err.value.line > 1


def test_eqbench_missing_file_names_the_override(tmp_path):
    with pytest.raises(DatasetError, match="-T dataset="):
        load_eqbench_prompts(tmp_path / "nope.json")


def test_default_source_without_network_names_the_override(tmp_path, monkeypatch):
    import urllib.request

    monkeypatch.setenv("POLARIS_CACHE", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DatasetError, match="-T dataset="):
        load_eqbench_prompts(None)
    with pytest.raises(DatasetError, match="-T dataset="):
        load_longbench_write(None)


def test_default_source_uses_the_cache_and_checks_the_pin(tmp_path, monkeypatch):
    from polaris_bench.local import model_dir

    # one cache for everything: downloaded datasets and pulled local models
    monkeypatch.setenv("POLARIS_CACHE", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    # a cached file that is not the pinned one (here a fixture) is refused, naming the override
    (tmp_path / "datasets" / "creative_writing_prompts_v3.json").write_text(
        (FIXTURES / "eqbench_prompts.json").read_text(encoding="utf-8"), encoding="utf-8"
    )
    with pytest.raises(DatasetError, match=r"is not the pinned EQ-Bench Creative Writing v3 prompts.*-T dataset="):
        load_eqbench_prompts(None, iterations=1)
    assert model_dir("smollm2") == tmp_path / "models" / "smollm2"


# -- WritingBench ----------------------------------------------------------------------------


def test_writingbench_filters_domain_and_language():
    en = load_writingbench(FIXTURES / "writingbench.jsonl")
    assert [s.id for s in en] == ["11", "12"]  # Literature & Arts, no CJK
    assert en[0].metadata["domain2"] == "Fan Fiction"
    assert len(en[0].metadata["checklist"]) == 5
    assert en[0].metadata["checklist"][0]["9-10"] == "Faithful and deepened."
    assert en[0].metadata["target_words"] == 2000 and en[0].metadata["length_kind"] == "about"
    assert en[1].metadata["target_words"] == 2250 and en[1].metadata["target_range"] == [2000, 2500]
    zh = load_writingbench(FIXTURES / "writingbench.jsonl", language="zh")
    assert [s.id for s in zh] == ["13"] and zh[0].metadata["length_unit"] == "characters"
    everything = load_writingbench(FIXTURES / "writingbench.jsonl", domain="all", language="all")
    assert len(everything) == 4


def test_writingbench_no_length_gives_none():
    rows = load_writingbench(FIXTURES / "writingbench.jsonl", domain="Education")
    assert rows[0].metadata["target_words"] is None and rows[0].metadata["bucket"] is None


@pytest.mark.parametrize(
    "mutate, problem",
    [
        (lambda r: r.pop("query"), "missing field 'query'"),
        (lambda r: r["checklist"][2].pop("7-8"), "missing band description(s) ['7-8']"),
        (lambda r: r["checklist"][0].update(name=""), "checklist item 1: missing or empty 'name'"),
        (lambda r: r.update(checklist=[]), "non-empty list"),
        (lambda r: r.update(index=None), "'index'"),
    ],
)
def test_writingbench_errors(tmp_path, mutate, problem):
    rows = [json.loads(line) for line in (FIXTURES / "writingbench.jsonl").read_text(encoding="utf-8").splitlines()]
    mutate(rows[1])
    path = write(tmp_path, "wb.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    with pytest.raises(DatasetError) as err:
        load_writingbench(path)
    assert err.value.line == 2 and problem in str(err.value) and str(path) in str(err.value)


def test_writingbench_duplicate_index_and_bad_json(tmp_path):
    line = (FIXTURES / "writingbench.jsonl").read_text(encoding="utf-8").splitlines()[0]
    with pytest.raises(DatasetError, match=r"duplicate index '11' \(first on line 1\)"):
        load_writingbench(write(tmp_path, "dup.jsonl", f"{line}\n{line}\n"))
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2: not valid JSON"):
        load_writingbench(write(tmp_path, "bad.jsonl", f"{line}\n{{oops\n"))


def test_writingbench_default_needs_inspect_evals():
    try:
        import inspect_evals  # noqa: F401
    except ImportError:
        with pytest.raises(DatasetError, match="inspect-evals.*-T dataset="):
            load_writingbench(None)
    else:  # pragma: no cover - only where the package is installed
        assert load_writingbench(None)


# -- LongBench-Write -------------------------------------------------------------------------


def test_longbench_write_rows():
    samples = load_longbench_write(FIXTURES / "longbench_write_en.jsonl")
    assert [s.id for s in samples] == ["1", "2", "3"]
    assert [s.metadata["target_words"] for s in samples] == [300, 1000, 5000]
    assert [s.metadata["length_range"] for s in samples] == ["<500", "500-2k", ">4k"]
    mixed = load_longbench_write(FIXTURES / "longbench_write_mixed.jsonl")
    assert [s.metadata["language"] for s in mixed] == ["en", "zh"]
    assert mixed[1].metadata["length_unit"] == "characters"


@pytest.mark.parametrize(
    "row, problem",
    [
        ({"prompt": "Write.", "type": "x", "length": 0}, "positive integer"),
        ({"prompt": "Write.", "type": "x", "length": "many"}, "positive integer"),
        ({"prompt": "", "type": "x", "length": 10}, "'prompt' is empty"),
        ({"type": "x", "length": 10}, "missing field 'prompt'"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_longbench_write_errors(tmp_path, row, problem):
    good = json.dumps({"prompt": "Write a 100-word note.", "type": "x", "length": 100})
    path = write(tmp_path, "lb.jsonl", f"{good}\n\n{json.dumps(row)}\n")
    with pytest.raises(DatasetError) as err:
        load_longbench_write(path)
    assert err.value.line == 3 and problem in str(err.value)


# -- POLARIS prompts -----------------------------------------------------------------------------


def test_polaris_prompts_jsonl_csv_parquet(tmp_path):
    rows = load_polaris_prompts(FIXTURES / "polaris_prompts.jsonl")
    assert [s.id for s in rows] == ["p-001", "p-002", "p-003"]
    assert [s.metadata["bucket"] for s in rows] == ["ID", "near", "far"]
    # the length sentence is appended where the prompt lacks it, never doubled
    assert rows[1].input.endswith("Your story should be approximately 5000 words long.")
    assert rows[0].input.count("words long") == 1
    csv_rows = load_polaris_prompts(FIXTURES / "polaris_prompts.csv")
    assert [(s.id, s.metadata["target_words"]) for s in csv_rows] == [("c-1", 2000), ("c-2", 7000)]
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"uid": ["q1"], "prompt": ["Write a story about rain."], "target_word_count": [3000]})
    pq.write_table(table, tmp_path / "p.parquet")
    parquet = load_polaris_prompts(tmp_path / "p.parquet")
    assert parquet[0].id == "q1" and parquet[0].metadata["target_words"] == 3000


def test_polaris_training_schema_with_chat_messages(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    messages = [
        [{"role": "user", "content": "Write a story about fog. Your story should be approximately 800 words long."}],
        [  # the last user turn is the prompt (the same helper as story_elo and training)
            {"role": "user", "content": "An example. Your story should be approximately 100 words long."},
            {"role": "assistant", "content": "A short example."},
            {"role": "user", "content": "Write about rain. Your story should be approximately 900 words long."},
        ],
    ]
    pq.write_table(pa.table({"prompt": messages, "story": ["...", "..."]}), tmp_path / "train.parquet")
    rows = load_polaris_prompts(tmp_path / "train.parquet")
    assert rows[0].id == "row1" and rows[0].metadata["target_words"] == 800
    assert rows[1].metadata["target_words"] == 900 and "rain" in rows[1].input


@pytest.mark.parametrize(
    "row, problem",
    [
        ({"uid": "a", "prompt": "Write.", "target_word_count": -3}, "positive integer"),
        ({"uid": "a", "prompt": "Write."}, "no 'target_word_count'"),
        ({"uid": "", "prompt": "Write.", "target_word_count": 1000}, "'uid' is empty"),
        ({"uid": "a", "prompt": "Write. Your story should be approximately 900 words long.", "target_word_count": 1000}, "disagrees"),
        ({"uid": "z", "prompt": 5, "target_word_count": 1000}, "'prompt' must be"),
    ],
)
def test_polaris_errors(tmp_path, row, problem):
    good = json.dumps({"uid": "ok", "prompt": "Write.", "target_word_count": 1000})
    path = write(tmp_path, "p.jsonl", f"{good}\n{json.dumps(row)}\n")
    with pytest.raises(DatasetError) as err:
        load_polaris_prompts(path)
    assert err.value.line == 2 and problem in str(err.value)


def test_polaris_duplicate_uid_and_bad_suffix(tmp_path):
    row = json.dumps({"uid": "a", "prompt": "Write.", "target_word_count": 1000})
    with pytest.raises(DatasetError, match="duplicate uid 'a'"):
        load_polaris_prompts(write(tmp_path, "d.jsonl", f"{row}\n{row}\n"))
    with pytest.raises(DatasetError, match="unsupported file type"):
        load_polaris_prompts(write(tmp_path, "d.txt", row))


def test_csv_line_numbers_count_the_header(tmp_path):
    path = write(tmp_path, "p.csv", 'uid,prompt,target_word_count\na,"Write.",1000\nb,"Write,\nplease.",x\n')
    with pytest.raises(DatasetError) as err:
        load_polaris_prompts(path)
    assert err.value.line == 3


# -- generations ------------------------------------------------------------------------------------


def test_generations_select_and_reject_unknown_ids(tmp_path):
    samples = load_longbench_write(FIXTURES / "longbench_write_en.jsonl")
    path = write(
        tmp_path,
        "g.jsonl",
        json.dumps({"id": "2", "story": "A ferry story.", "model": "m"}) + "\n" + json.dumps({"sample_id": 3, "output": "A history."}) + "\n",
    )
    generations = load_generations(path)
    assert sorted(generations) == ["2", "3"] and generations["2"].model == "m"
    assert [s.id for s in select_samples(samples, generations, path)] == ["2", "3"]
    bad = write(tmp_path, "bad.jsonl", json.dumps({"id": "2", "story": "x"}) + "\n" + json.dumps({"id": "99", "story": "y"}) + "\n")
    with pytest.raises(DatasetError) as err:
        select_samples(samples, load_generations(bad), bad)
    assert err.value.line == 2 and "'99' matches no prompt" in str(err.value)


@pytest.mark.parametrize(
    "rows, problem",
    [
        ([{"story": "x"}], "no id field"),
        ([{"id": "1"}], "no story field"),
        ([{"id": "1", "story": 3}], "must be a string"),
        ([{"id": "1", "story": "a"}, {"id": "1", "story": "b"}], "duplicate id '1'"),
    ],
)
def test_generations_errors(tmp_path, rows, problem):
    path = write(tmp_path, "g.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(DatasetError, match=problem):
        load_generations(path)


def test_read_table_rejects_non_list_json(tmp_path):
    with pytest.raises(DatasetError, match="list of objects"):
        list(_common.read_table(write(tmp_path, "x.json", '{"a": 1}')))


# -- the real public files (when ../shared/benchmarks exists) ---------------------------------------


needs_shared = needs(SHARED.is_dir(), f"the public benchmark files in {SHARED}")


@needs_shared
def test_real_eqbench_creative_counts_and_rubric_names():
    samples = load_eqbench_prompts(SHARED / "eqbench_creative" / "creative_writing_prompts_v3.json")
    assert len({s.metadata["prompt_id"] for s in samples}) == 32
    assert len(samples) == 96
    assert all(s.metadata["target_words"] == 1000 for s in samples)
    assert all("<SEED>" not in s.input for s in samples)
    rubric = load_rubric("eqbench_creative")
    criteria = load_eqbench_criteria(SHARED / "eqbench_creative" / "creative_writing_criteria.txt")
    negatives = load_eqbench_criteria(SHARED / "eqbench_creative" / "negative_criteria.txt")
    assert [c.name for c in rubric.criteria] == criteria
    assert {c.name for c in rubric.criteria if c.invert} == set(negatives)


@needs_shared
def test_real_eqbench_longform_names_are_a_subset():
    final = load_eqbench_criteria(SHARED / "eqbench_longform" / "longform_creative_writing_criteria_final.txt")
    negatives = load_eqbench_criteria(SHARED / "eqbench_longform" / "longform_negative_criteria_final.txt")
    rubric = load_rubric("eqbench_longform")
    assert len(rubric.criteria) == 12
    assert {c.name for c in rubric.criteria} <= set(final)
    assert {c.name for c in rubric.criteria if c.invert} <= set(negatives)
    weights = json.loads((SHARED / "eqbench_longform" / "criteria_weights.json").read_text())
    assert rubric.by_id["forced_poetry_metaphor"].weight == weights["forced poetry or metaphor"]


@needs_shared
def test_real_writingbench_length_subset():
    path = SHARED / "writingbench" / "literature_arts_length_subset.jsonl"
    everything = load_writingbench(path, language="all")
    assert len(everything) == 56
    english = load_writingbench(path)
    assert 0 < len(english) < 56
    assert all(len(s.metadata["checklist"]) == 5 for s in everything)
    by_id = {s.id: s for s in english}
    assert by_id["176"].metadata["target_words"] == 2000
    assert by_id["989"].metadata["target_range"] == [2000, 2500]


@needs_shared
def test_real_longbench_write_counts():
    en = load_longbench_write(SHARED / "longbench_write" / "longbench_write_en.jsonl")
    assert len(en) == 60
    # one "English" prompt is written in Chinese (it asks for an English article)
    assert sum(s.metadata["language"] == "en" for s in en) == 59
    both = load_longbench_write(SHARED / "longbench_write" / "longbench_write.jsonl")
    assert len(both) == 120 and {s.metadata["language"] for s in both} == {"en", "zh"}


@needs_shared
def test_real_polaris_training_schema():
    rows = load_polaris_prompts(SHARED / "polaris" / "smoke_train.parquet")
    assert len(rows) == 8 and all(700 <= s.metadata["target_words"] <= 900 for s in rows)


def test_polaris_default_source_offline_names_the_override(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DatasetError, match="-T dataset="):
        load_polaris_prompts(None)


def test_relative_paths_resolve_from_the_starting_directory(tmp_path, monkeypatch):
    # Inspect runs a task file with the working directory set to the file's folder
    (tmp_path / "data").mkdir()
    target = tmp_path / "data" / "p.jsonl"
    target.write_text((FIXTURES / "polaris_prompts.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    elsewhere = tmp_path / "tasks"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("PWD", str(tmp_path))
    assert len(load_polaris_prompts("data/p.jsonl")) == 3
    monkeypatch.setenv("PWD", str(elsewhere))
    with pytest.raises(DatasetError, match="not found"):
        load_polaris_prompts("data/p.jsonl")
