"""The quoted strings in a prompt: straight and curly marks of many scripts, and apostrophes that are not quotes."""

from __future__ import annotations

from dataclasses import dataclass

# Opening mark -> the marks that may close it. Writers mix straight and curly marks.
QUOTE_MARKS = {
    '"': '"”“',
    "“": "”\"",
    "„": "“”\"",
    "«": "»",
    "»": "«",
    "‹": "›",
    "「": "」",
    "『": "』",
    "《": "》",
    "〈": "〉",
    "'": "'’",
    "‘": "’'",
}
# Marks that double as apostrophes ("sailor's", "sailors’"): they open only after a
# non-letter and close only before one.
APOSTROPHE_LIKE = "'‘’"


@dataclass(frozen=True)
class Quote:
    start: int  # index of the opening mark
    end: int  # index just after the closing mark
    text: str  # what is inside the marks, as written


def find_quotes(prompt: str) -> tuple[list[Quote], bool]:
    """Every quoted string, in order, and whether an opening mark was left unclosed."""
    quotes: list[Quote] = []
    unmatched = False
    index = 0
    # Past this index no mark closes these marks: a later opening of the same kind is not looked up again.
    unclosed_after: dict[str, int] = {}
    while index < len(prompt):
        mark = prompt[index]
        if mark in QUOTE_MARKS and _may_open(prompt, index):
            closers = QUOTE_MARKS[mark]
            close = None if unclosed_after.get(closers, len(prompt)) <= index else _closing_index(prompt, index)
            if close is None:
                unclosed_after[closers] = min(index, unclosed_after.get(closers, index))
                unmatched = unmatched or mark not in APOSTROPHE_LIKE
            elif prompt[index + 1 : close].strip() and not _is_elision(prompt, index, close):
                quotes.append(Quote(index, close + 1, prompt[index + 1 : close].strip()))
                index = close + 1
                continue
        index += 1
    return quotes, unmatched


def _is_elision(prompt: str, open_index: int, close_index: int) -> bool:
    """Rock 'n' roll: one letter between apostrophes is a shortened word, not a quotation."""
    return prompt[open_index] in APOSTROPHE_LIKE and close_index - open_index <= 2


def _may_open(prompt: str, index: int) -> bool:
    before = prompt[index - 1] if index else " "
    after = prompt[index + 1] if index + 1 < len(prompt) else " "
    if after.isspace():
        return False
    if prompt[index] in APOSTROPHE_LIKE or prompt[index] == '"':
        # 12" screen, rock'n'roll: a mark after a letter or digit is not an opening one.
        return not before.isalnum()
    return True


def _closing_index(prompt: str, index: int) -> int | None:
    closers = QUOTE_MARKS[prompt[index]]
    for position in range(index + 1, len(prompt)):
        if prompt[position] not in closers:
            continue
        if prompt[position] in APOSTROPHE_LIKE:
            after = prompt[position + 1] if position + 1 < len(prompt) else " "
            if after.isalnum():  # sailor's, don't: an apostrophe inside a word
                continue
        return position
    return None
