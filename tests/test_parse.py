import json
import re

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


def _crit(cid, **fields):
    return lambda r: _mutate(r, lambda b: b["criteria"][cid].update(**fields))


_NOT_BARE = "reply is not a bare JSON object (starts with {!r})"

# name -> (reply builder, the exact reason; a compiled pattern where a position varies)
MALFORMED = {
    "empty": (lambda r: "", "empty reply"),
    "whitespace only": (lambda r: "   \n", "empty reply"),
    "not json": (lambda r: "The story is good. 7/10.", _NOT_BARE.format("The story is good. 7/10.")),
    "refusal": (
        lambda r: "I'm sorry, but I can't help with evaluating this story.",
        _NOT_BARE.format("I'm sorry, but I can't help wi"),
    ),
    "json in prose": (lambda r: "Here you go: " + valid_reply(r), _NOT_BARE.format('Here you go: {"criteria": {"P1')),
    "json in code fence": (
        lambda r: "```json\n" + valid_reply(r) + "\n```",
        _NOT_BARE.format('```json\n{"criteria": {"P1": {"'),
    ),
    "truncated json": (
        lambda r: valid_reply(r)[:-40],
        re.compile(r"reply is not valid JSON: Unterminated string starting at \(char \d+\)"),
    ),
    "json array": (lambda r: "[1, 2, 3]", _NOT_BARE.format("[1, 2, 3]")),
    "missing criteria object": (lambda r: json.dumps({"overall": 3}), 'missing "criteria" object'),
    "missing criterion": (lambda r: _mutate(r, lambda b: b["criteria"].pop("N4")), "missing criterion id(s): ['N4']"),
    "unknown criterion": (
        lambda r: _mutate(r, lambda b: b["criteria"].update(N11=b["criteria"]["N1"])),
        "unknown criterion id(s): ['N11']",
    ),
    "unknown top-level key": (lambda r: _mutate(r, lambda b: b.update(verdict="ok")), "unknown top-level key(s): ['verdict']"),
    "out of range high": (_crit("P2", score=21), "P2: score 21 outside 0-20"),
    "out of range low": (_crit("P2", score=-1), "P2: score -1 outside 0-20"),
    "float score": (_crit("P2", score=7.5), "P2: score must be an integer, got float 7.5"),
    "integral float score": (_crit("P2", score=7.0), "P2: score must be an integer, got float 7.0"),
    "string score": (_crit("P2", score="7"), "P2: score must be an integer, got str '7'"),
    "bool score": (_crit("P2", score=True), "P2: score must be an integer, got bool True"),
    "null score": (_crit("P2", score=None), "P2: score must be an integer, got NoneType None"),
    "missing score": (lambda r: _mutate(r, lambda b: b["criteria"]["P2"].pop("score")), "P2: missing score"),
    "bare int in full mode": (
        lambda r: _mutate(r, lambda b: b["criteria"].update(P2=5)),
        "P2: expected an object with justification, quotes and score",
    ),
    "quote not in story": (_crit("P3", quotes=["a dragon appeared"]), "P3: quote not found in the story: 'a dragon appeared'"),
    "negative without quote": (
        _crit("N2", score=5, quotes=[]),
        "N2: score 5 needs at least 1 quote(s) from the story as evidence, got 0",
    ),
    "penalty without quote": (
        _crit("penalty", score=2, quotes=[]),
        "penalty: score 2 needs at least 1 quote(s) from the story as evidence, got 0",
    ),
    "positive above 0 without quote": (
        _crit("P4", score=3, quotes=[]),
        "P4: score 3 needs at least 1 quote(s) from the story as evidence, got 0",
    ),
    "too many quotes": (_crit("P1", quotes=["Mara", "harbor", "bells"]), "P1: 3 quotes, at most 2 allowed"),
    "quote too long": (
        _crit("P1", quotes=["She folded the letter twice and put it in the ledger. By morning the tide"]),
        (
            "P1: quote of 15 words, at most 12 allowed: "
            "'She folded the letter twice and put it in the ledger. By morning the tide'"
        ),
    ),
    "quotes not a list": (_crit("P1", quotes="Mara"), "P1: quotes must be a list of strings"),
    "extra field in criterion": (_crit("P1", confidence=0.9), "P1: unknown field(s) ['confidence']"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_replies_are_rejected_with_their_reason(sq_rubric, name):
    build, reason = MALFORMED[name]
    with pytest.raises(ReplyError) as err:
        parse_reply(build(sq_rubric), sq_rubric, STORY)
    if isinstance(reason, re.Pattern):
        assert reason.fullmatch(str(err.value)), str(err.value)
    else:
        assert str(err.value) == reason


def _with_evidence(rubric, **rules):
    return rubric.model_copy(update={"evidence": rubric.evidence.model_copy(update=rules)})


def test_a_zero_at_the_bottom_needs_no_quote_but_every_other_score_does(sq_rubric):
    body = json.loads(valid_reply(sq_rubric))
    for entry in body["criteria"].values():
        entry["quotes"] = []  # every score at 0: strengths and problems absent
    assert parse_reply(json.dumps(body), sq_rubric, STORY).scores["P1"] == 0
    body["criteria"]["P1"]["score"] = 1
    with pytest.raises(ReplyError, match=r"^P1: score 1 needs at least 1 quote\(s\)"):
        parse_reply(json.dumps(body), sq_rubric, STORY)


def test_min_quotes_is_enforced_above_the_bottom(sq_rubric):
    rubric = _with_evidence(sq_rubric, min_quotes=2)
    one = valid_reply(rubric, {"P1": 5})
    with pytest.raises(ReplyError) as err:
        parse_reply(one, rubric, STORY)
    assert str(err.value) == "P1: score 5 needs at least 2 quote(s) from the story as evidence, got 1"
    body = json.loads(one)
    body["criteria"]["P1"]["quotes"] = ["counted the boats", "the town woke"]
    assert parse_reply(json.dumps(body), rubric, STORY).evidence["P1"]["quotes"][1] == "the town woke"


def test_signed_scales_need_evidence_at_both_ends():
    from polaris_bench.judging.rubric import load_rubric

    elo = load_rubric("story_elo")  # -5..5 margins: -5 is a decisive win for B, not an absence
    body = json.loads(valid_reply(elo, quote="Mara"))
    body["criteria"][elo.criteria[0].id].update(score=-5, quotes=[])
    with pytest.raises(ReplyError, match=r"score -5 needs at least 1 quote\(s\)"):
        parse_reply(json.dumps(body), elo, STORY)


def test_require_quote_when_flagged_holds_when_min_quotes_is_zero(sq_rubric):
    lenient = _with_evidence(sq_rubric, min_quotes=0)
    body = json.loads(valid_reply(lenient, {"P1": 9, "N2": 4}))
    body["criteria"]["P1"]["quotes"] = []  # a positive above 0: min_quotes 0 allows none
    body["criteria"]["N2"]["quotes"] = []
    with pytest.raises(ReplyError) as err:
        parse_reply(json.dumps(body), lenient, STORY)
    assert str(err.value) == "N2: score 4 needs at least 1 quote(s) from the story as evidence, got 0"
    unflagged = _with_evidence(lenient, require_quote_when_flagged=False)
    assert parse_reply(json.dumps(body), unflagged, STORY).scores == {**{c.id: 0 for c in sq_rubric.criteria},
                                                                       "P1": 9, "N2": 4}


def test_max_quote_words_counts_words_as_a_judge_does(sq_rubric):
    from polaris_bench.judging.parse import quote_words

    assert quote_words("Nobody comes back ... he was wrong") == 6  # the ellipsis is not a word
    assert quote_words("salt-stained - don't") == 2
    assert quote_words("\u6211\u4eec\u8d70\u5427 go") == 5  # CJK characters count one each
    twelve = "The lantern swung over the harbor while Mara counted the boats. \"Nobody"
    assert quote_words(twelve) == 12
    assert parse_reply(valid_reply(sq_rubric, quote=twelve), sq_rubric, STORY).scores
    tight = _with_evidence(sq_rubric, max_quote_words=3)
    assert parse_reply(valid_reply(tight, quote="counted the boats."), tight, STORY).scores
    with pytest.raises(ReplyError) as err:
        parse_reply(valid_reply(tight, quote="Mara counted the boats"), tight, STORY)
    assert str(err.value) == "P1: quote of 4 words, at most 3 allowed: 'Mara counted the boats'"


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
