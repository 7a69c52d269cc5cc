"""Find the text a prompt asks to show on screen, and take it out of the prompt.

Text-to-video models draw letters as garbled shapes, so a title, a sign's words or a
caption belongs in post-production. This module reads a prompt the way an editor would:

- a quoted string is on-screen text when a cue says so: before it ("a banner reading",
  "with the words", "the headline", "a sign:") or after it (a "STOP" sign, "HOPE" painted
  on a wall);
- a sentence that is wholly a card ("Title card: Ten years later", "Text: Day 1") is text; a
  label whose quoted text the scene follows ('Title: "The Deal" as two men shake hands') gives
  the quoted words to the overlay and the scene to the prompt;
- a card described in words ('A dark title card over slow moving water, a logo titled "X"') becomes
  a plain background in the card's own colour or texture, and the rest of its sentence stays
  ("... over slow moving water"); a card of no colour of its own laid on something ('A title
  card over a rust-red textured wall') leaves that something as the picture;
- apostrophes are not quotes ("a sailor's hands", "the sailors' caps").

The words that only served the text go with it ("a banner reading"), and the thing that
carried it stays in the picture, described as blank ("a blank banner"), so the model
neither draws letters nor loses the banner. Quoted strings with no cue (a boat named
"Marie", a man shouting "Down!") are left alone and reported, as the prompt's author
knows better than a rule which of those should be on screen.

The work is linear in the prompt's length: a cue is looked for only in the few characters
before its quote (CUE_CONTEXT, CONTEXT), and no pattern can try a long run of letters or spaces again
from each position in it (a 320 KB prompt once took minutes).

Quoted strings are found by onscreen_quotes.py and taken out by onscreen_edits.py (the cues,
the carriers left blank, CUE_CONTEXT and CONTEXT); onscreen_cards.py reads title cards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from render_pipeline.prompts.onscreen_cards import CARD_START, blank_card, card_scene, card_sentence, has_content
from render_pipeline.prompts.onscreen_edits import text_edit, tidy
from render_pipeline.prompts.onscreen_quotes import find_quotes

_MORE_QUOTES = re.compile(r"\s*(?:,\s*(?:and|or)?|and|or|&|/)\s*$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“«'‘„「『])")
_ABBREVIATION = re.compile(r"\b(?:Dr|Mr|Mrs|Ms|St|Mt|Prof|Capt|Lt|Col|Gen|Sgt|No|vs|Jr|Sr)\.$")


@dataclass
class TextFindings:
    cleaned: str  # the prompt without its on-screen text, still a sentence
    texts: list[str] = field(default_factory=list)  # on-screen text as written, without quote marks
    kept_quotes: list[str] = field(default_factory=list)  # quoted strings that are not on-screen text
    unmatched_quote: bool = False


def find_onscreen_text(prompt: str) -> TextFindings:
    """Split a prompt into what the camera sees and the text that belongs in post."""
    findings = TextFindings(cleaned="")
    sentences = []
    for sentence in _sentences(prompt.strip()):
        card = card_sentence(sentence)
        if card is not None:
            visual, text = card
            findings.texts.append(text)
            if visual:
                sentences.append(visual)
            continue
        found = len(findings.texts)
        cleaned = _clean_sentence(sentence, findings)
        if len(findings.texts) > found and (start := CARD_START.match(sentence)):
            cleaned = card_scene(sentence, start, cleaned)  # "A white title card with black text reading ..."
        sentences.append(cleaned)
    cleaned = " ".join(s for s in sentences if s)
    if findings.texts and not has_content(cleaned):
        cleaned = blank_card(prompt)
    findings.cleaned = cleaned
    return findings


def _sentences(prompt: str) -> list[str]:
    """Split at sentence ends, but not after "Dr." or "St."."""
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(prompt):
        # Abbreviations are at most five characters long, so only the sentence's last ones are looked at.
        if not _ABBREVIATION.search(prompt, max(start, match.start() - 6), match.start()):
            sentences.append(prompt[start : match.start()])
            start = match.end()
    sentences.append(prompt[start:])
    return sentences


def _clean_sentence(sentence: str, findings: TextFindings) -> str:
    quotes, unmatched = find_quotes(sentence)
    findings.unmatched_quote = findings.unmatched_quote or unmatched
    # Each edit: (start, end, replacement), in order and not overlapping.
    edits: list[tuple[int, int, str]] = []
    previous_end = -1
    for quote in quotes:
        if previous_end >= 0 and _MORE_QUOTES.match(sentence, previous_end, quote.start):
            # '... reading "NO ENTRY" and "DANGER"': the list continues the text.
            start, _, replacement = edits.pop()
            findings.texts.append(quote.text)
            edits.append((start, quote.end, replacement))
            previous_end = quote.end
            continue
        edit = text_edit(sentence, quote)
        if edit is None:
            findings.kept_quotes.append(quote.text)
            previous_end = -1
            continue
        findings.texts.append(quote.text)
        if edits and edit[0] < edits[-1][1]:
            # It reaches back into the text the edit before it rewrites (a carrier between two
            # quoted strings): only its own text goes.
            edit = (edits[-1][1], edit[1], "")
        edits.append(edit)
        previous_end = quote.end
    if not edits:  # a prompt without on-screen text reaches the model exactly as written
        return sentence.strip()
    pieces, kept_from = [], 0
    for start, end, replacement in edits:
        pieces += [sentence[kept_from:start], replacement]
        kept_from = end
    return tidy("".join(pieces) + sentence[kept_from:])
