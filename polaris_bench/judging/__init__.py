"""Judging: a rubric (data) -> the judge prompt and reply schema -> the grader's reply
-> strict parsing -> the rubric's aggregate. ``judge_story`` is the one code path the
eval scorers, the training reward and re-scoring share."""
