"""What text in a storyboard may hold: any character except controls other than newline and tab.

A NUL ends a C string (libass and drawtext stop reading there, and every overlay after it is
lost); a carriage return ends a line of an ASS or SRT file; XML has no way to write most
controls, lone surrogates or the noncharacters U+FFFE and U+FFFF. So `validate` refuses them,
naming the field and the character's position, and every writer of text checks the same rule.
Everything else, including right-to-left marks and other invisible formatting characters,
is text the film shows as written.
"""

from __future__ import annotations

import re
import unicodedata

ALLOWED_CONTROLS = "\n\t"

# C0 controls but newline and tab, DEL and the C1 controls; lone surrogates (a YAML "\ud800"
# escape makes one); the 66 noncharacters.
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(f"{chr(plane * 0x10000 + 0xfffe)}{chr(plane * 0x10000 + 0xffff)}"
                                          for plane in range(17))
_FORBIDDEN = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}]")

_C0_NAMES = ("NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "HT", "LF", "VT", "FF", "CR", "SO", "SI",
             "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC", "FS", "GS", "RS", "US")
_SPELLED_OUT = {"NUL": "null", "CR": "carriage return", "ESC": "escape", "VT": "vertical tab", "FF": "form feed",
                "BS": "backspace", "BEL": "bell"}


def forbidden_character(text: str) -> tuple[int, str] | None:
    """The first character ``text`` may not hold, as (index from 0, character); None when it has none."""
    match = _FORBIDDEN.search(text)
    return (match.start(), match.group()) if match else None


def describe_character(char: str) -> str:
    """"control character U+000D (CR, carriage return)", "noncharacter U+FFFF", ..."""
    code = ord(char)
    if code < 0x20:
        name = _C0_NAMES[code]
        spelled = _SPELLED_OUT.get(name)
        return f"control character U+{code:04X} ({name}{', ' + spelled if spelled else ''})"
    if code == 0x7F:
        return "control character U+007F (DEL, delete)"
    if code <= 0x9F:
        return f"control character U+{code:04X} (a C1 control)"
    if 0xD800 <= code <= 0xDFFF:
        return f"lone surrogate U+{code:04X} (half of a character, not a character)"
    return f"noncharacter U+{code:04X}"


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be used, naming the character and its position (from 1); None when it can."""
    found = forbidden_character(text)
    if found is None:
        return None
    index, char = found
    rule = ("text may hold line breaks and tabs but no other control characters" if unicodedata.category(char) == "Cc"
            else "no file the film's text goes into can hold it")
    return f"{describe_character(char)} at character {index + 1}: {rule}"


def check_text(text: str) -> str:
    """``text`` itself, for a writer of text; ValueError if it holds what `validate` refuses."""
    problem = text_problem(text)
    if problem is not None:
        raise ValueError(f"{text[:40]!r}...: {problem}")
    return text
