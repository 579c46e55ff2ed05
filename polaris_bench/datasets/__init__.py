"""Loaders for the benchmark prompt files, in their real public formats.

Each loader returns Inspect ``Sample``s whose metadata carries ``benchmark``,
``prompt_id``, ``prompt``, ``target_words`` (the length the benchmark states, else
None), ``bucket`` and ``bucket_2k``. A malformed input raises ``DatasetError`` naming
the file, the line and the problem.
"""

from ._common import DatasetError, read_jsonl, read_table
from .eqbench import load_eqbench_criteria, load_eqbench_prompts
from .generations import Generation, load_generations, select_samples, use_generations, with_generations
from .longbench_write import load_longbench_write
from .polaris import POLARIS_HF_ID, load_polaris_prompts
from .stated_length import StatedLength, find_stated_lengths, parse_stated_length
from .writingbench import ChecklistItem, load_writingbench, parse_checklist

__all__ = [
    "ChecklistItem",
    "DatasetError",
    "Generation",
    "POLARIS_HF_ID",
    "StatedLength",
    "find_stated_lengths",
    "load_eqbench_criteria",
    "load_eqbench_prompts",
    "load_generations",
    "load_longbench_write",
    "load_polaris_prompts",
    "load_writingbench",
    "parse_checklist",
    "parse_stated_length",
    "read_jsonl",
    "read_table",
    "select_samples",
    "use_generations",
]
