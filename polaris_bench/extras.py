"""Optional extras: which commands need which, and a one-line error when one is missing.

The names are import names of the extras' packages in pyproject.toml (a test keeps the
two in step)."""

from __future__ import annotations

import importlib.util

from inspect_ai._util.error import PrerequisiteError
from rich.markup import escape

EXTRAS: dict[str, tuple[str, ...]] = {
    "train": ("torch", "transformers", "trl", "accelerate", "datasets", "tokenizers"),
    "local": ("torch", "transformers", "accelerate", "gguf", "llguidance", "anyio"),
}


class MissingExtraError(PrerequisiteError):
    """A feature whose optional extra is not installed. A ``PrerequisiteError`` so that
    Inspect prints it as a message rather than a traceback; Inspect prints it with rich,
    so the ``[extra]`` is escaped there, and ``str()`` gives the plain text."""

    def __init__(self, message: str) -> None:
        super().__init__(escape(message))
        self.args = (message,)

    def __str__(self) -> str:
        return self.args[0]


def missing_modules(extra: str) -> list[str]:
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def extra_error(extra: str, feature: str, missing: list[str]) -> MissingExtraError:
    return MissingExtraError(
        f"{feature} needs the [{extra}] extra ({', '.join(missing)} not installed): "
        f"pip install 'polaris-bench[{extra}]'"
    )


def require_extra(extra: str, feature: str) -> None:
    """Raise ``MissingExtraError`` naming the extra when any of its packages is missing."""
    missing = missing_modules(extra)
    if missing:
        raise extra_error(extra, feature, missing)
