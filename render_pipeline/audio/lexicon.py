"""Pronunciation help: an optional ``lexicon.txt`` in the storyboard's folder.

One entry a line, ``WRITTEN -> SPOKEN``, for example ``INS -> I N S`` or
``Visakhapatnam -> Vee-shaa-kaa-put-num``; ``#`` starts a comment. Entries match whole
words, case-sensitively (so "INS" is spelled out but "ins" is not). Captions keep the
written form; only the speech engine sees the spoken one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from render_pipeline.errors import UserError

LEXICON_FILE = "lexicon.txt"


@dataclass(frozen=True)
class Lexicon:
    entries: tuple[tuple[str, str], ...] = ()

    def apply(self, text: str) -> str:
        if not self.entries:
            return text
        # Longest first, so "INS Vikrant" wins over "INS" when both are listed.
        written = sorted((w for w, _ in self.entries), key=len, reverse=True)
        spoken = dict(self.entries)
        pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in written) + r")(?!\w)")
        return pattern.sub(lambda match: spoken[match[1]], text)


def load_lexicon(base_dir: Path) -> Lexicon:
    """The storyboard folder's lexicon, or an empty one when there is no file."""
    path = base_dir / LEXICON_FILE
    if not path.is_file():
        return Lexicon()
    entries = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        written, arrow, spoken = (part.strip() for part in line.partition("->"))
        if not arrow or not written or not spoken:
            raise UserError(f"{path}:{number}: expected 'WRITTEN -> SPOKEN', like 'INS -> I N S' (got {raw.strip()!r})")
        entries.append((written, spoken))
    return Lexicon(tuple(entries))
