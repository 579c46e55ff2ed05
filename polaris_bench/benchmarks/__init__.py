"""One module per benchmark, each holding its prompt loader, its scorer and its
registered Inspect task (``inspect eval polaris_bench/<name>``):

- ``length_gen``: the embedded story prompts x requested lengths up to 12k words;
- ``story_quality``: POLARIS test prompts, Story Quality rubric;
- ``eqbench_longform``: POLARIS test prompts, EQ-Bench Longform dimensions;
- ``eqbench_creative``: EQ-Bench Creative Writing v3;
- ``writingbench``: WritingBench, Literature & Arts, English;
- ``longbench_write``: LongBench-Write, quality x length;
- ``story_elo``: pairwise judging of existing stories, Glicko-2 and Bradley-Terry;
- ``judge_audit``: the grader's noise, position, length and injection checks on embedded probe stories.

Shared by them: ``solvers`` (the writer solver), ``generations`` (judging existing
stories), ``common`` (reading prompt files with clear errors), ``stated_length``.
"""
