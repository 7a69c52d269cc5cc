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
from render_pipeline.storyboard.inputs import LEXICON_FILE, OutsideFolder, path_in_folder


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
    """The storyboard folder's lexicon, or an empty one when there is no file.

    A lexicon that is a link out of the folder is refused before anything of it is read, so
    no message can show a line of a file the storyboard may not name.
    """
    path = base_dir / LEXICON_FILE
    if not (path.is_symlink() or path.exists()):
        return Lexicon()
    try:
        path = path_in_folder(base_dir, LEXICON_FILE)
    except OutsideFolder as outside:
        raise UserError(f"{base_dir / LEXICON_FILE}: {outside}; copy the lexicon into the folder") from None
    if not path.is_file():
        raise UserError(f"{base_dir / LEXICON_FILE} is not a file; the lexicon is a text file of 'WRITTEN -> SPOKEN' lines")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; save the lexicon as UTF-8") from None
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        written, arrow, spoken = (part.strip() for part in line.partition("->"))
        if not arrow or not written or not spoken:
            raise UserError(f"{path}:{number}: expected 'WRITTEN -> SPOKEN', like 'INS -> I N S' (got {raw.strip()[:80]!r})")
        entries.append((written, spoken))
    return Lexicon(tuple(entries))
