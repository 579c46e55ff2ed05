"""Entry point for Inspect (``[project.entry-points.inspect_ai]``): importing this
module registers the project's model providers, so ``--model offline/writer``,
``--model-role grader=offline/judge`` and ``--model-role grader=hfjson/<path>`` work
from the CLI."""

from .local import registry as _local_registry  # noqa: F401  (hfjson: schema-constrained local judge)
from .providers import offline  # noqa: F401
