"""Title cards: a sentence that is wholly a card ("Title card: Ten years later"), and what the camera sees of one."""

from __future__ import annotations

import re

from render_pipeline.prompts.onscreen_edits import tidy
from render_pipeline.prompts.onscreen_quotes import find_quotes

# A sentence that is wholly text: "Title card: X", "Text - X", "Black screen with white text: X".
# The visual part ends at neither a space nor inside a word, and spaces and words are taken
# whole (possessively): each is then tried from one place, not again from every character.
_CARD_SENTENCE = re.compile(
    r"(?P<visual>.*?)(?<!\s)\s*+,?\s*+(?:with\s++)?(?:(?<![\w-])[\w-]++\s++)?"
    r"(?:title\s+card|intertitle|end\s+card|text\s+card|on-?screen\s+text|text|titles?|caption|subtitles?|super"
    r"|chyron|lower\s+third|card)"
    r"\s*+(?:reading|reads|that\s+reads|saying|says)?\s*+[:\-–—]\s++(?P<text>\S.*)$",
    re.IGNORECASE | re.DOTALL,
)
_CARD_WORDS = re.compile(r"\b(?:title\s+card|intertitle|end\s+card|text\s+card|title|card)\b", re.IGNORECASE)
_COLOUR = re.compile(r"\b(black|white|dark|grey|gray|red|blue|navy|cream|gold)\b", re.IGNORECASE)
_CARD_NOUN = re.compile(r"\b(?:title\s+card|intertitle|end\s+card|text\s+card)\b", re.IGNORECASE)
CARD_START = re.compile(r"^(?:(?:a|an|the)\s+)?(?P<looks>(?:[\w-]+\s+){0,2})"
                        r"(?:title\s+card|intertitle|end\s+card|text\s+card)\b", re.IGNORECASE)
# Words leading from a card to what lies behind it; from a label's quoted text, also "as" and "while".
_GROUND = re.compile(r"^(?:,\s*)?(?:over|above|on|onto|against|across|atop|upon|with|under|below)\s+", re.IGNORECASE)
_LABEL_TO_SCENE = re.compile(rf"^(?:,\s*)?(?:as|while)\s+|{_GROUND.pattern}", re.IGNORECASE)


def card_sentence(sentence: str) -> tuple[str, str] | None:
    """("Black screen", "Ten years later") for "Black screen with white text: Ten years later"."""
    match = _CARD_SENTENCE.match(sentence.strip())
    if not match:
        return None
    text = match["text"].strip()
    quotes, _ = find_quotes(text)
    scene = ""
    if quotes and quotes[0].start == 0:
        # 'Title: "The Deal" as two men shake hands': the quoted words are the text, the rest is the scene.
        scene = text[quotes[0].end:].strip(" .")
        text = quotes[0].text
    elif text.endswith(".") and not text.endswith(".."):
        text = text[:-1].rstrip()
    visual = match["visual"].strip(" ,")
    if visual and not _CARD_WORDS.fullmatch(visual):
        return tidy(f"{visual} {scene}"), text
    return tidy(_LABEL_TO_SCENE.sub("", scene)), text


def has_content(cleaned: str) -> bool:
    words = re.findall(r"[^\W\d_]+", cleaned)
    fillers = {"a", "an", "the", "with", "and", "of", "on", "in", "blank", "plain", "text", "words", "word"}
    return any(word.lower() not in fillers for word in words)


def card_scene(sentence: str, start: re.Match[str], cleaned: str) -> str:
    """What the camera sees of a sentence that starts with a card: a plain background in the card's
    own looks, and whatever else the sentence shows ("A dark title card over slow moving water"
    keeps the water); a card with no looks of its own laid on something shows that something.
    ``start``: CARD_START's match of ``sentence``."""
    card = _CARD_NOUN.search(cleaned)
    rest = cleaned[card.end():].strip() if card else ""
    looks = start["looks"].strip()
    if not has_content(_COLOUR.sub("", rest)):  # "with black text", "in gold": the card alone
        return f"A plain {looks.lower()} background" if looks else blank_card(sentence)
    if not looks and _GROUND.match(rest):  # "A title card over a rust-red textured wall": the wall
        return tidy(_GROUND.sub("", rest))
    return tidy((f"A plain {looks.lower()} background " if looks else blank_card(sentence)) + " " + rest)


def blank_card(prompt: str) -> str:
    """What the camera sees of a title card: a plain background, in the card's colour if named."""
    colour = _COLOUR.search(prompt.split(":")[0])
    return f"A plain {colour.group().lower()} background" if colour else "A plain dark background"
