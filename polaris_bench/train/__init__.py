"""GRPO with human-reference injection (HRI) on TRL, rewarded by the eval scorer's judge.

* ``config``: the typed recipe (``load_train_config``)
* ``data``: the POLARIS training schema (JSONL / parquet)
* ``reward``: ``StoryReward``, the async TRL reward (SQ judge + the paper's composite)
* ``hri_trainer``: ``HRIGRPOTrainer``, a ``trl.GRPOTrainer`` with the reference row
* ``tiny_model``: a tiny random model and a run-time tokenizer for CPU smoke runs
* ``run``: the entry point (``python -m polaris_bench.train.run --config ...``)

Nothing heavy (torch, trl) is imported until a module that needs it is.
"""
