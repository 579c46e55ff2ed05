import json

import pytest
from judge_helpers import STORY, valid_reply

from polaris_bench.judging.parse import ReplyError, parse_reply, quote_in_story


def test_valid_reply_parses_and_reported_totals_are_only_recorded(sq_rubric):
    text = valid_reply(sq_rubric, {"P1": 12, "N3": 4}, overall=999, label="excellent")
    parsed = parse_reply(text, sq_rubric, STORY)
    assert parsed.scores["P1"] == 12 and parsed.scores["N3"] == 4
    assert parsed.reported["overall"] == 999  # recorded...
    assert sq_rubric.aggregate(parsed.scores)["overall"] == 12 - 4  # ...but recomputed
    assert parsed.evidence["P1"]["quotes"] == ["counted the boats"]


def test_thinking_before_the_object_is_removed(sq_rubric):
    parsed = parse_reply("<think>hmm</think>\n" + valid_reply(sq_rubric), sq_rubric, STORY)
    assert parsed.scores["P1"] == 0


def _mutate(rubric, fn):
    body = json.loads(valid_reply(rubric))
    fn(body)
    return json.dumps(body)


MALFORMED = {
    "empty": lambda r: "",
    "whitespace only": lambda r: "   \n",
    "not json": lambda r: "The story is good. 7/10.",
    "refusal": lambda r: "I'm sorry, but I can't help with evaluating this story.",
    "json in prose": lambda r: "Here you go: " + valid_reply(r),
    "json in code fence": lambda r: "```json\n" + valid_reply(r) + "\n```",
    "truncated json": lambda r: valid_reply(r)[:-40],
    "json array": lambda r: "[1, 2, 3]",
    "missing criteria object": lambda r: json.dumps({"overall": 3}),
    "missing criterion": lambda r: _mutate(r, lambda b: b["criteria"].pop("N4")),
    "unknown criterion": lambda r: _mutate(r, lambda b: b["criteria"].update(N11=b["criteria"]["N1"])),
    "unknown top-level key": lambda r: _mutate(r, lambda b: b.update(verdict="ok")),
    "out of range high": lambda r: _mutate(r, lambda b: b["criteria"]["P2"].update(score=21)),
    "out of range low": lambda r: _mutate(r, lambda b: b["criteria"]["P2"].update(score=-1)),
    "float score": lambda r: _mutate(r, lambda b: b["criteria"]["P2"].update(score=7.5)),
    "integral float score": lambda r: _mutate(r, lambda b: b["criteria"]["P2"].update(score=7.0)),
    "string score": lambda r: _mutate(r, lambda b: b["criteria"]["P2"].update(score="7")),
    "bool score": lambda r: _mutate(r, lambda b: b["criteria"]["P2"].update(score=True)),
    "null score": lambda r: _mutate(r, lambda b: b["criteria"]["P2"].update(score=None)),
    "missing score": lambda r: _mutate(r, lambda b: b["criteria"]["P2"].pop("score")),
    "bare int in full mode": lambda r: _mutate(r, lambda b: b["criteria"].update(P2=5)),
    "quote not in story": lambda r: _mutate(r, lambda b: b["criteria"]["P3"].update(quotes=["a dragon appeared"])),
    "negative without quote": lambda r: _mutate(r, lambda b: b["criteria"]["N2"].update(score=5, quotes=[])),
    "penalty without quote": lambda r: _mutate(r, lambda b: b["criteria"]["penalty"].update(score=2, quotes=[])),
    "too many quotes": lambda r: _mutate(r, lambda b: b["criteria"]["P1"].update(quotes=["Mara", "harbor", "bells"])),
    "quotes not a list": lambda r: _mutate(r, lambda b: b["criteria"]["P1"].update(quotes="Mara")),
    "extra field in criterion": lambda r: _mutate(r, lambda b: b["criteria"]["P1"].update(confidence=0.9)),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_replies_are_rejected_with_a_reason(sq_rubric, name):
    with pytest.raises(ReplyError) as err:
        parse_reply(MALFORMED[name](sq_rubric), sq_rubric, STORY)
    assert str(err.value)


def test_quote_normalisation():
    story = "\u201cNobody comes back at this hour,\u201d said the ferryman \u2014 and  he was\nwrong."
    from polaris_bench.judging.parse import normalise

    norm = normalise(story)
    assert quote_in_story('"Nobody comes back at this hour,"', norm)  # straight vs curly quotes
    assert quote_in_story("the ferryman - and he was wrong", norm)  # dash and whitespace
    assert quote_in_story("NOBODY comes back", norm)  # case
    assert quote_in_story("Nobody comes back ... he was wrong", norm)  # ellipsis joins fragments
    assert not quote_in_story("Somebody comes back", norm)
    assert not quote_in_story("...", norm)


def test_compact_mode(sq_rubric):
    body = {"criteria": {c.id: c.min for c in sq_rubric.criteria}, "positive_total": 0, "negative_total": 0,
            "overall": 0, "label": "poor"}
    body["criteria"]["N2"] = 3  # no quote needed in compact mode
    parsed = parse_reply(json.dumps(body), sq_rubric, STORY, compact=True)
    assert parsed.scores["N2"] == 3 and parsed.evidence == {}
    with pytest.raises(ReplyError):
        parse_reply(valid_reply(sq_rubric), sq_rubric, STORY, compact=True)
