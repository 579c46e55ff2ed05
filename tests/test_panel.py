"""Judge panels: the aggregate math by hand, failures and panel_min, the metadata
contract on every judge-scored task, members judging at once, the roles checked
before any writing, and three offline judges from the CLI on length_gen and
story_elo."""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog, read_eval_log
from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    get_model,
    modelapi,
)

from polaris_bench.benchmarks.length_gen import length_gen
from polaris_bench.benchmarks.task_args import TaskArgumentError
from polaris_bench.judging.panel import (
    Member,
    MemberResult,
    Panel,
    aggregate,
    aggregate_dicts,
    judge_with_panel,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "benchmarks"
INSPECT = str(Path(sys.executable).parent / "inspect")
CONTRACT_KEYS = {"role", "model", "value", "criteria", "attempts", "unscored_reason"}


# -- 1. the aggregate, by hand ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "mean", "median", "trimmed"),
    [
        ([1, 2, 9], 4.0, 2.0, 2.0),  # trimmed drops 1 and 9
        ([1, 2, 3, 10], 4.0, 2.5, 2.5),  # median: the two middle; trimmed: mean(2, 3)
        ([3, 7], 5.0, 5.0, 5.0),  # under 3 members trimmed is the mean
        ([6], 6.0, 6.0, 6.0),
        ([1, math.nan, 3], 2.0, 2.0, 2.0),  # a member without this key is left out
        ([-10, 0, 4, 5, 100], 19.8, 4.0, 3.0),  # trimmed: mean(0, 4, 5)
    ],
)
def test_aggregates_by_hand(values, mean, median, trimmed):
    assert aggregate(values, "mean") == pytest.approx(mean)
    assert aggregate(values, "median") == pytest.approx(median)
    assert aggregate(values, "trimmed") == pytest.approx(trimmed)


def test_aggregate_of_nothing_is_no_value_and_unknown_kind_fails():
    assert math.isnan(aggregate([math.nan, None], "mean"))
    with pytest.raises(ValueError, match="unknown panel aggregate 'mode'"):
        aggregate([1.0], "mode")


def test_aggregate_is_per_value_key():
    members = [{"overall": 10.0, "reward": 0.1}, {"overall": 40.0, "reward": 0.4}, {"overall": 100.0, "reward": 1.0}]
    assert aggregate_dicts(members, "trimmed") == {"overall": 40.0, "reward": 0.4}
    assert aggregate_dicts(members, "mean") == pytest.approx({"overall": 50.0, "reward": 0.5})


def _member(value: float | None, reason: str | None = None) -> MemberResult:
    return MemberResult({"score": value} if value is not None else None, None, 1, reason)


async def _panel_of(results: list[MemberResult], panel: Panel):
    members = [Member(role, get_model("mockllm/model")) for role in panel.judges]
    queue = list(results)

    async def one(model):
        return queue.pop(0)

    return await judge_with_panel(panel, members, one)


def test_a_failed_member_is_left_out_and_counted():
    panel = Panel(judges=("grader", "grader_b", "grader_c"), aggregate="mean")
    result = asyncio.run(_panel_of([_member(3.0), _member(None, "attempt 1: bad json"), _member(9.0)], panel))
    assert result.scored and result.failed == 1
    assert result.value() == {"score": 6.0}  # (3 + 9) / 2: the failed member is not a 0
    meta = result.metadata()
    assert meta["panel_failed"] == 1 and meta["panel_size"] == 3 and meta["panel_min"] == 1
    assert meta["panel"][1] == {
        "role": "grader_b", "model": "mockllm/model", "value": None, "criteria": None,
        "attempts": 1, "unscored_reason": "attempt 1: bad json",
    }


def test_fewer_than_panel_min_members_leaves_the_sample_unscored():
    panel = Panel(judges=("grader", "grader_b", "grader_c"), min_ok=2)
    results = [_member(None, "timeout"), _member(5.0), _member(None, "bad json")]
    result = asyncio.run(_panel_of(results, panel))
    assert not result.scored
    assert result.unscored_reason == (
        "1 of 3 judges scored (panel_min 2): grader (mockllm/model): timeout; grader_c (mockllm/model): bad json"
    )
    ok = asyncio.run(_panel_of([_member(None, "timeout"), _member(5.0), _member(7.0)], panel))
    assert ok.scored and ok.value() == {"score": 6.0}


def test_panel_config_is_checked():
    with pytest.raises(ValueError, match="panel_min must be between 1 and 2"):
        Panel(judges=("a", "b"), min_ok=3)
    with pytest.raises(ValueError, match="appears twice"):
        Panel(judges=("a", "a"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"panel_aggregate": "mode"}, "-T panel_aggregate=mode: expected one of mean, median, trimmed"),
        ({"judges": "grader,grader_b", "panel_min": 3}, "-T panel_min=3: must be at most the number of judges (2)"),
        ({"panel_min": 0}, "-T panel_min=0: must be at least 1"),
        ({"judges": "grader,grader"}, "-T judges=grader,grader: role grader named twice"),
        ({"judges": ["grader", ""]}, "-T judges=grader,: expected model role names separated by commas"),
    ],
)
def test_panel_task_arguments_fail_in_one_line(args, message):
    with pytest.raises(TaskArgumentError) as caught:
        length_gen(**args)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


# -- 2. members judge at once ----------------------------------------------------------------


FLIGHT = {"now": 0, "most": 0}  # judge calls in flight across all paneljudge models


@modelapi(name="paneljudge")
class PanelJudge(ModelAPI):
    """The offline judge (``judge-<name>``) that counts calls in flight across all
    instances; ``fixed-N`` scores every criterion N (clamped); ``broken`` replies
    with prose."""

    def __init__(self, model_name: str, base_url=None, api_key=None, config: GenerateConfig = GenerateConfig(), **kw):
        self.fixed = int(model_name.split("-", 1)[1]) if model_name.startswith("fixed-") else None
        self.broken = model_name == "broken"
        self.offline = get_model(f"offline/judge-{model_name}", memoize=False).api
        super().__init__(model_name, base_url, api_key, [], config)

    async def count_text_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    async def generate(self, input: list[ChatMessage], tools, tool_choice, config: GenerateConfig) -> ModelOutput:
        FLIGHT["now"] += 1
        FLIGHT["most"] = max(FLIGHT["most"], FLIGHT["now"])
        try:
            for _ in range(5):  # yield, so that any other member already started can arrive
                await asyncio.sleep(0)
            if self.broken:
                return self._out("I liked it.")
            if self.fixed is None:
                return await self.offline.generate(input, tools, tool_choice, config)
            schema = config.response_schema.json_schema.model_dump(exclude_none=True)
            reply: dict[str, Any] = {"criteria": {}}
            for cid, sub in schema["properties"]["criteria"]["properties"].items():
                rng = sub["properties"]["score"] if "properties" in sub else sub  # full or compact
                score = max(rng["minimum"], min(rng["maximum"], self.fixed))
                reply["criteria"][cid] = {"score": score, "justification": "fixed", "quotes": []} if "properties" in sub else score
            for key in schema["properties"]:
                if key != "criteria":
                    reply[key] = 0 if key != "label" else "fair"
            return self._out(json.dumps(reply))
        finally:
            FLIGHT["now"] -= 1

    def _out(self, text: str) -> ModelOutput:
        out = ModelOutput.from_content(model=self.model_name, content=text)
        out.usage = ModelUsage(input_tokens=10, output_tokens=10, total_tokens=20)
        return out


def _eval(task, tmp_path: Path, roles: dict[str, str], model: str = "offline/writer") -> EvalLog:
    [log] = inspect_eval(
        task, model=model, model_roles={r: get_model(m, memoize=False) for r, m in roles.items()},
        log_dir=str(tmp_path), display="none", max_samples=1,
    )
    assert log.status == "success", log.error
    return log


def test_panel_members_are_in_flight_together(tmp_path):
    FLIGHT.update(now=0, most=0)
    roles = {"grader": "paneljudge/a", "grader_b": "paneljudge/b", "grader_c": "paneljudge/c"}
    # one sample, one judge call per member: only the panel can overlap calls
    _eval(length_gen(prompts="1", targets="150", compact=True, judges="grader,grader_b,grader_c"), tmp_path, roles)
    assert FLIGHT["most"] == 3


# -- 3. the metadata contract on every judge-scored task ---------------------------------------


def _check_contract(score, roles: dict[str, str], aggregate_kind: str = "mean") -> list[dict[str, Any]]:
    meta = score.metadata
    panel = meta["panel"]
    assert [e["role"] for e in panel] == list(roles)
    assert all(CONTRACT_KEYS <= set(e) for e in panel)
    assert meta["panel_aggregate"] == aggregate_kind and meta["panel_size"] == len(roles)
    assert isinstance(meta["panel_min"], int) and isinstance(meta["panel_failed"], int)
    models = [str(get_model(m, memoize=False)) for m in roles.values()]
    assert [e["model"] for e in panel] == models
    assert meta["judge_model"] == "+".join(models)
    for e in panel:
        if e["value"] is not None:
            assert set(e["value"]) == set(score.value)
    return panel


FIXED = {"grader": "paneljudge/fixed-2", "grader_b": "paneljudge/fixed-4", "grader_c": "paneljudge/fixed-9"}
FIXED_ARGS = {"judges": "grader,grader_b,grader_c"}


def test_writingbench_panel_averages_each_members_checklist_mean(tmp_path):
    from polaris_bench.benchmarks.writingbench import writingbench

    task = writingbench(dataset=str(FIXTURES / "writingbench.jsonl"), compact=True, panel_aggregate="median", **FIXED_ARGS)
    log = _eval(task, tmp_path, FIXED)
    for sample in log.samples:
        score = sample.scores["writingbench_score"]
        panel = _check_contract(score, FIXED, "median")
        assert [e["value"]["score"] for e in panel] == [2.0, 4.0, 9.0]
        assert score.value["score"] == 4.0  # median of 2, 4, 9
        n = len(sample.metadata["checklist"])
        assert all(set(e["criteria"]) == {f"c{i}" for i in range(1, n + 1)} for e in panel)
        assert score.metadata["judge_calls"] == 3 * n


def test_longbench_panel_aggregates_s_q_then_multiplies(tmp_path):
    from polaris_bench.benchmarks.longbench_write import longbench_write

    task = longbench_write(dataset=str(FIXTURES / "longbench_write_en.jsonl"), compact=True, panel_aggregate="trimmed", **FIXED_ARGS)
    log = _eval(task, tmp_path, FIXED)
    for sample in log.samples:
        score = sample.scores["longbench_write_score"]
        panel = _check_contract(score, FIXED, "trimmed")
        s_q = sorted(e["value"]["S_q"] for e in panel)
        assert len(set(s_q)) == 3
        assert score.value["S_q"] == pytest.approx(s_q[1])  # trimmed of 3: the middle one
        assert score.value["S"] == pytest.approx(s_q[1] * score.value["S_l"] / 100)


@pytest.mark.parametrize("name", ["story_quality", "eqbench_longform", "eqbench_creative"])
def test_rubric_tasks_take_a_panel(tmp_path, name):
    import importlib

    module = importlib.import_module(f"polaris_bench.benchmarks.{name}")
    dataset = {"story_quality": "polaris_prompts.jsonl", "eqbench_longform": "polaris_prompts.jsonl",
               "eqbench_creative": "eqbench_prompts.json"}[name]
    kwargs = {"iterations": 1} if name == "eqbench_creative" else {}
    task = getattr(module, name)(dataset=str(FIXTURES / dataset), compact=True, max_tokens=200, **kwargs, **FIXED_ARGS)
    log = _eval(task, tmp_path, FIXED)
    scorer_name = {"story_quality": "story_quality", "eqbench_longform": "eqbench_longform_score",
                   "eqbench_creative": "eqbench_creative_score"}[name]
    for sample in log.samples:
        score = sample.scores[scorer_name]
        panel = _check_contract(score, FIXED)
        for key, v in score.value.items():
            members = [e["value"][key] for e in panel if not math.isnan(e["value"][key])]
            if members:
                assert v == pytest.approx(statistics.fmean(members)), key
        assert score.metadata["criteria"] == {
            cid: pytest.approx(statistics.fmean(e["criteria"][cid] for e in panel)) for cid in panel[0]["criteria"]
        }


def test_single_judge_keeps_its_metadata_and_a_one_entry_panel(tmp_path):
    log = _eval(length_gen(prompts="1", targets="150"), tmp_path, {"grader": "offline/judge"})
    score = log.samples[0].scores["story_quality"]
    [entry] = _check_contract(score, {"grader": "offline/judge"})
    assert entry["value"] == score.value and entry["criteria"] == score.metadata["criteria"]
    assert entry["attempts"] == score.metadata["attempts"] and entry["unscored_reason"] is None
    assert score.metadata["judge_model"] == "offline/judge" and score.metadata["evidence"]
    assert "evidence" not in entry  # kept once, at the top level


def test_a_failing_member_is_counted_and_panel_min_unscores(tmp_path):
    roles = {"grader": "paneljudge/fixed-2", "grader_b": "paneljudge/broken", "grader_c": "paneljudge/fixed-4"}
    log = _eval(length_gen(prompts="1", targets="150", compact=True, judge_attempts=2, **FIXED_ARGS), tmp_path / "a", roles)
    score = log.samples[0].scores["story_quality"]
    panel = _check_contract(score, roles)
    assert score.metadata["panel_failed"] == 1 and panel[1]["value"] is None and panel[1]["attempts"] == 2
    assert "attempt 2" in panel[1]["unscored_reason"]
    assert score.value["overall"] == pytest.approx((panel[0]["value"]["overall"] + panel[2]["value"]["overall"]) / 2)
    assert "unscored_reason" not in score.metadata  # scored: the store must not count it as unscored

    strict = length_gen(prompts="1", targets="150", compact=True, judge_attempts=1, panel_min=3, **FIXED_ARGS)
    score = _eval(strict, tmp_path / "b", roles).samples[0].scores["story_quality"]
    assert isinstance(score.value, float) and math.isnan(score.value)
    assert score.metadata["unscored_reason"].startswith("2 of 3 judges scored (panel_min 3): grader_b (paneljudge/broken):")


# -- 4. every panel role is bound before anything is written ------------------------------------


def inspect_cli(*argv: str, log_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("INSPECT_")},
           "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [INSPECT, "eval", *argv, "--log-dir", str(log_dir), "--display", "plain"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )


def test_cli_unbound_panel_role_fails_before_any_writing(tmp_path):
    logs = tmp_path / "logs"
    result = inspect_cli("tasks/length_gen.py", "-T", "prompts=1", "-T", "targets=150",
                         "-T", "judges=grader,grader_b,grader_c", "--model", "offline/writer",
                         "--model-role", "grader=offline/judge-a", "--model-role", "grader_b=offline/judge-b",
                         log_dir=logs)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "'grader_c' not given: add --model-role grader_c=<model>" in output
    assert "Traceback" not in output
    assert not list(logs.rglob("*.eval"))


def test_python_eval_with_unbound_panel_role_writes_nothing(tmp_path):
    [log] = inspect_eval(length_gen(prompts="1", targets="150", judges="grader,grader_b"), model="offline/writer",
                         model_roles={"grader": "offline/judge"}, log_dir=str(tmp_path), display="none")
    assert log.status == "error" and "grader_b" in str(log.error)
    assert all(not s.output.choices for s in log.samples or [])


# -- 5. three offline judges from the CLI ------------------------------------------------------------


THREE = ["--model-role", "grader=offline/judge-a", "--model-role", "grader_b=offline/judge-b",
         "--model-role", "grader_c=offline/judge-c", "-T", "judges=grader,grader_b,grader_c"]


def _only_log(folder: Path) -> EvalLog:
    [path] = list(folder.rglob("*.eval"))
    return read_eval_log(str(path))


def test_cli_length_gen_with_three_offline_judges(tmp_path):
    result = inspect_cli("tasks/length_gen.py", "-T", "prompts=2", "-T", "targets=150,300", "-T", "compact=true",
                         "--model", "offline/writer", *THREE, log_dir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    log = _only_log(tmp_path)
    assert log.status == "success" and len(log.samples) == 4
    roles = {"grader": "offline/judge-a", "grader_b": "offline/judge-b", "grader_c": "offline/judge-c"}
    overalls = []
    for sample in log.samples:
        score = sample.scores["story_quality"]
        panel = _check_contract(score, roles)
        assert all(isinstance(e["criteria"], dict) and len(e["criteria"]) == 18 for e in panel)  # 16 + bonus, penalty
        assert all(isinstance(v, int) for e in panel for v in e["criteria"].values())
        assert all(e["attempts"] == 1 and e["unscored_reason"] is None for e in panel)
        member = [e["value"]["overall"] for e in panel]
        overalls.append(member)
        assert score.value["overall"] == pytest.approx(statistics.fmean(member))
        assert score.value["reward"] == pytest.approx(statistics.fmean(e["value"]["reward"] for e in panel))
    # the three judges are different judges: they disagree somewhere
    assert any(len(set(m)) > 1 for m in overalls)


def test_cli_story_elo_with_three_offline_judges(tmp_path):
    rows = [
        {"model": m, "id": pid, "prompt": f"Write about {pid}.", "story": f"A story by {m} about {pid}. " * 20}
        for pid in ("p1", "p2", "p3") for m in ("writer-x", "writer-y")
    ]
    gen = tmp_path / "g.jsonl"
    gen.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    logs = tmp_path / "logs"
    result = inspect_cli("tasks/story_elo.py", "-T", f"generations={gen}", "-T", "bootstrap=20",
                         "-T", "panel_aggregate=median", *THREE, log_dir=logs)
    assert result.returncode == 0, result.stdout + result.stderr
    log = _only_log(logs)
    assert log.status == "success" and len(log.samples) == 3
    roles = {"grader": "offline/judge-a", "grader_b": "offline/judge-b", "grader_c": "offline/judge-c"}
    scores_x = []
    for sample in log.samples:
        score = sample.scores["pairwise_score"]
        panel = _check_contract(score, roles, "median")
        for e in panel:
            assert e["attempts"] == 2  # both orders, one call each
            assert {e["xy"]["order"], e["yx"]["order"]} == {"XY", "YX"}
            assert set(e["criteria"]) == {f"{o}:{c}" for o in ("xy", "yx") for c in e["xy"]["margins"]}
            assert e["value"]["flipped"] in (0.0, 1.0)
        for key in score.value:
            assert score.value[key] == pytest.approx(statistics.median(e["value"][key] for e in panel)), key
        scores_x.append(score.value["score_x"])
    # the ratings come from the panel's score_x
    m = {k: v.value for k, v in log.results.scores[0].metrics.items()}
    win_x = statistics.fmean(scores_x)
    assert m["win_rate:writer-x"] == pytest.approx(win_x)


# -- 6. named offline judges disagree the way real judges do ---------------------------------------


def test_named_offline_judges_are_correlated_but_not_identical():
    from scipy.stats import spearmanr

    from polaris_bench.judging.judge import JudgeConfig, judge_story
    from polaris_bench.judging.rubric import load_rubric
    from polaris_bench.providers.offline import write_story

    rubric = load_rubric("story_quality")
    stories = [write_story(f"writer-{i}", f"prompt {i}", 200) for i in range(24)]

    async def overalls(name: str) -> list[float]:
        model = get_model(f"offline/{name}", memoize=False)
        done = await asyncio.gather(*(judge_story(rubric, "Write.", s, model, JudgeConfig(max_attempts=1)) for s in stories))
        return [j.result["overall"] for j in done]

    a, b, c = (asyncio.run(overalls(n)) for n in ("judge-a", "judge-b", "judge-c"))
    for x, y in ((a, b), (a, c), (b, c)):
        rho = spearmanr(x, y).statistic
        assert 0.3 < rho < 0.99  # they agree on which stories are better, not on every score
        assert sum(p == q for p, q in zip(x, y)) < len(stories) / 2
