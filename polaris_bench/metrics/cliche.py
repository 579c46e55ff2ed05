"""The cliché index: hits per 1,000 words of a list of over-used words and phrases.

The bundled list (``polaris_bench/data/cliches.txt``) was written for this project;
``load_lexicon(path)`` reads one's own in the same format: one entry per line, ``#``
comments and blank lines ignored.

Matching rules:

* case-insensitive, on word boundaries: an entry matches only where no word character
  (``\\w``) touches it on either side, so "tapestry" is not found in "tapestrying";
* a multi-word entry matches as a phrase with any run of whitespace between its words
  (a line break included), never across punctuation;
* straight and curly apostrophes are the same character;
* scanning left to right, the longest entry that matches at a position counts, once,
  and matches do not overlap ("a testament to" is one hit, not also "testament").

All entries compile into one regular expression shaped as a prefix tree, so a
12k-word story is scanned in one pass (milliseconds) whatever the list's size.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from polaris_bench.metrics.length import count_words
from polaris_bench.paths import resolve_user_path

BUNDLED = "bundled"  # the ``source`` of the bundled list
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_SPACE = re.compile(r"\s+")
_WORDCHAR = re.compile(r"\w")


class ClicheListError(ValueError):
    """A cliché list file that cannot be used; the message names the file."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"cliché list {source}: {problem}")


def normalize(text: str) -> str:
    """The form entries and matches are compared in: lower case, straight apostrophes."""
    return text.lower().translate(_APOSTROPHES)


@dataclass(frozen=True)
class Lexicon:
    """A compiled cliché list. ``entries`` are normalized (lower case, straight
    apostrophes, single spaces); ``source`` is ``"bundled"`` or the file's path."""

    entries: tuple[str, ...]
    source: str
    sha256: str
    _pattern: re.Pattern[str] = field(repr=False, compare=False)

    @classmethod
    def from_entries(cls, entries: list[str], source: str, sha256: str) -> Lexicon:
        unique = tuple(dict.fromkeys(_SPACE.sub(" ", normalize(e).strip()) for e in entries))
        return cls(unique, source, sha256, _compile(unique))

    def hits(self, text: str) -> Counter[str]:
        """Each entry found in ``text`` with its number of (non-overlapping) hits."""
        return Counter(_SPACE.sub(" ", m.group(0)) for m in self._pattern.finditer(normalize(text)))


def _compile(entries: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for all entries: a prefix tree of characters (a space stands for
    ``\\s+``), where a shorter entry ending inside a longer one makes the rest of the
    longer one an optional, greedy group, so the longest entry is tried first and the
    trailing boundary check backs off to a shorter one."""
    tree: dict = {}
    for entry in entries:
        node = tree
        for ch in entry:
            node = node.setdefault(ch, {})
        node[""] = {}  # end of an entry

    def branch(node: dict) -> str:
        ends = "" in node
        alternatives = [
            (r"\s+" if ch == " " else re.escape(ch)) + branch(child) for ch, child in sorted(node.items()) if ch
        ]
        if not alternatives:
            return ""
        body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
        return f"(?:{body})?" if ends else body

    return re.compile(r"(?<!\w)(?:" + branch(tree) + r")(?!\w)")


def _parse(raw: bytes, source: str) -> Lexicon:
    if b"\x00" in raw:
        raise ClicheListError(source, "not a text file (it contains NUL bytes)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ClicheListError(source, f"not a UTF-8 text file ({exc.reason} at byte {exc.start})") from exc
    entries: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if not _WORDCHAR.search(entry):
            raise ClicheListError(source, f"line {lineno}: entry {entry!r} has no letters or digits")
        entries.append(entry)
    if not entries:
        raise ClicheListError(source, "no entries (only blank lines and # comments)")
    return Lexicon.from_entries(entries, source, hashlib.sha256(raw).hexdigest())


@lru_cache(maxsize=1)
def _bundled() -> Lexicon:
    raw = resources.files("polaris_bench").joinpath("data/cliches.txt").read_bytes()
    return _parse(raw, BUNDLED)


def load_lexicon(path: str | Path | None = None) -> Lexicon:
    """The bundled list (``path`` None) or the list in ``path``. A missing, empty or
    non-text file raises ``ClicheListError``."""
    if path is None:
        return _bundled()
    resolved = resolve_user_path(path)
    shown = str(path)
    if not resolved.exists():
        raise ClicheListError(shown, "file not found")
    if not resolved.is_file():
        raise ClicheListError(shown, "not a file")
    try:
        raw = resolved.read_bytes()
    except OSError as exc:
        raise ClicheListError(shown, f"cannot be read ({exc.strerror or exc})") from exc
    if not raw.strip():
        raise ClicheListError(shown, "the file is empty")
    return _parse(raw, str(resolved))


def cliche_rate(text: str, lexicon: Lexicon | None = None) -> float:
    """Cliché hits per 1,000 words (the paper's word rule); NaN for a text of no words."""
    words = count_words(text)
    if words == 0:
        return math.nan
    hits = (lexicon or load_lexicon()).hits(text)
    return per_thousand_words(sum(hits.values()), words)


def per_thousand_words(hits: int, words: int) -> float:
    """A count per 1,000 words; NaN for no words."""
    return 1000.0 * hits / words if words else math.nan
