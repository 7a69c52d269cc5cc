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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
# How far before a quoted string its cue ("with the inscription", "that spells out") and
# its carrier ("a big red neon sign") are looked for, in characters: they are a few words,
# so looking further only costs time.
CUE_CONTEXT = 64
CONTEXT = 160

# Words joining a carrier to its text: removed with the text ("a banner reading" -> "a banner").
_LINK_CUE = (
    r"(?:that|which)\s+(?:reads?|said|says|spells(?:\s+out)?)"
    r"|reads|reading|says|saying|spelling(?:\s+out)?|spells(?:\s+out)?"
    r"|(?:titled|entitled|labell?ed|captioned|marked|headlined|inscribed|signed)(?:\s+with)?"
    r"|(?:written|printed|painted|engraved|stencil+ed|emblazoned|stamped|etched|carved|embroidered"
    r"|scrawled|lettered|spray-painted)(?:\s+(?:with|on\s+it|across\s+it))?"
    r"|(?:with|bearing|showing|displaying)\s+(?:the\s+|a\s+)?(?:words?|text|message|slogan|title|caption"
    r"|headline|inscription|lettering|name|number|logo|sign|letters)"
)
# Nouns that are nothing but text: removed with their determiner and joining word
# ("..., with the caption" / "the words").
_TEXT_NOUN_CUE = (
    r"(?:(?:with|and|plus)\s+)?(?:(?:the|a|an)\s+)?"
    r"(?:on-?screen\s+text|text\s+overlay|overlay|caption|subtitles?|headline|chyron|lower\s+third"
    r"|words?|text|letters|lettering|slogan|message|inscription|title)"
)
# Things that carry text and stay in the picture, blank. (Plural "s" allowed.)
_SURFACES = (
    "sign|signboard|banner|poster|placard|plaque|billboard|board|blackboard|chalkboard|whiteboard"
    "|marquee|label|sticker|tag|card|title card|screen|monitor|display|note|notice|sheet|scroll|flag"
    "|headstone|gravestone|tombstone|wall|logo|sash|ribbon|cake"
)
# Surfaces that read better as "plain" than "blank".
_PLAIN_SURFACES = {"t-shirt", "shirt", "hoodie", "sweatshirt", "jersey", "mug", "cap", "hat", "jacket",
                   "sweater", "tote", "bag", "logo", "cake", "sash", "ribbon", "wall", "flag"}
_CLOTHES = "t-shirt|shirt|hoodie|sweatshirt|jersey|mug|cap|hat|jacket|sweater|tote|bag"
_SURFACE_NOUN = rf"(?:{_SURFACES}|{_CLOTHES})s?"
# Verbs that put text onto a surface, after the quote ("HOPE" painted on a wall).
_APPLIED = (r"(?:is\s+|are\s+)?(?:written|painted|printed|stencil+ed|scrawled|sprayed|spray-painted|etched"
            r"|carved|engraved|embroidered|chalked|projected|lit\s+up|glowing|displayed|shown"
            r"|fades?\s+(?:in|up)|appears?|floats?|scrolls?|rises?|hangs?)")
_DETERMINER = r"(?:a|an|the|its|his|her|their|this|that|one|two|three|some)"
_PLACE = rf"(?:(?:{_DETERMINER})\s+)?(?:[\w-]+\s+){{0,2}}?[\w-]+"

# Patterns "before" a quote are searched for in the CONTEXT characters before it, ending at
# it ($); patterns "after" are matched from its end. Both run on the whole sentence with
# pos and endpos, so lookbehinds and \b see the real characters around the window.
_LINK_BEFORE = re.compile(rf"(?:^|(?<=[\s,(]))(?P<cue>{_LINK_CUE})\s*[:,\-–—]?\s*$", re.IGNORECASE)
_NOUN_BEFORE = re.compile(rf"(?:^|(?<=[\s(])|(?P<comma>,\s*))(?P<cue>{_TEXT_NOUN_CUE})\s*[:,\-–—]?\s*$",
                          re.IGNORECASE)
_SURFACE_BEFORE = re.compile(rf"\b(?P<noun>{_SURFACE_NOUN})\s*[:,\-–—]?\s*$", re.IGNORECASE)
_SURFACE_AFTER = re.compile(rf"\s*(?:[\w-]+\s+)?(?P<noun>{_SURFACE_NOUN})\b", re.IGNORECASE)
_APPLIED_AFTER = re.compile(
    rf"\s*{_APPLIED}(?:\s+in\s+(?:[\w-]+\s+){{0,2}}?[\w-]+?)?\s+(?:on|onto|across|along|above|over|in|into)\s+",
    re.IGNORECASE,
)
_PLACE_AFTER = re.compile(rf"{_PLACE}(?=\s*(?:[,.;!?]|\band\b|$))", re.IGNORECASE)
_MORE_QUOTES = re.compile(r"\s*(?:,\s*(?:and|or)?|and|or|&|/)\s*$", re.IGNORECASE)
_CARRIER_LAST = re.compile(rf"\b(?P<noun>{_SURFACE_NOUN})\s*$", re.IGNORECASE)
_CARRIER_THEN_WORDS = re.compile(rf"\b(?P<noun>{_SURFACE_NOUN})\b(?:\s+[\w-]+){{1,4}}\s*$", re.IGNORECASE)
_DETERMINER_AT = re.compile(rf"{_DETERMINER}\s+", re.IGNORECASE)
_WORD = re.compile(r"(?<![\w-])[\w-]+")

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
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“«'‘„「『])")
_ABBREVIATION = re.compile(r"\b(?:Dr|Mr|Mrs|Ms|St|Mt|Prof|Capt|Lt|Col|Gen|Sgt|No|vs|Jr|Sr)\.$")
_CARD_NOUN = re.compile(r"\b(?:title\s+card|intertitle|end\s+card|text\s+card)\b", re.IGNORECASE)
_CARD_START = re.compile(r"^(?:(?:a|an|the)\s+)?(?P<looks>(?:[\w-]+\s+){0,2})"
                         r"(?:title\s+card|intertitle|end\s+card|text\s+card)\b", re.IGNORECASE)
# Words leading from a card to what lies behind it; from a label's quoted text, also "as" and "while".
_GROUND = re.compile(r"^(?:,\s*)?(?:over|above|on|onto|against|across|atop|upon|with|under|below)\s+", re.IGNORECASE)
_LABEL_TO_SCENE = re.compile(rf"^(?:,\s*)?(?:as|while)\s+|{_GROUND.pattern}", re.IGNORECASE)


@dataclass(frozen=True)
class Quote:
    start: int  # index of the opening mark
    end: int  # index just after the closing mark
    text: str  # what is inside the marks, as written


@dataclass
class TextFindings:
    cleaned: str  # the prompt without its on-screen text, still a sentence
    texts: list[str] = field(default_factory=list)  # on-screen text as written, without quote marks
    kept_quotes: list[str] = field(default_factory=list)  # quoted strings that are not on-screen text
    unmatched_quote: bool = False


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


def find_onscreen_text(prompt: str) -> TextFindings:
    """Split a prompt into what the camera sees and the text that belongs in post."""
    findings = TextFindings(cleaned="")
    sentences = []
    for sentence in _sentences(prompt.strip()):
        card = _card_sentence(sentence)
        if card is not None:
            visual, text = card
            findings.texts.append(text)
            if visual:
                sentences.append(visual)
            continue
        found = len(findings.texts)
        cleaned = _clean_sentence(sentence, findings)
        if len(findings.texts) > found and (start := _CARD_START.match(sentence)):
            cleaned = _card_scene(sentence, start, cleaned)  # "A white title card with black text reading ..."
        sentences.append(cleaned)
    cleaned = " ".join(s for s in sentences if s)
    if findings.texts and not _has_content(cleaned):
        cleaned = _blank_card(prompt)
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


def _card_sentence(sentence: str) -> tuple[str, str] | None:
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
        return _tidy(f"{visual} {scene}"), text
    return _tidy(_LABEL_TO_SCENE.sub("", scene)), text


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
        edit = _text_edit(sentence, quote)
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
    return _tidy("".join(pieces) + sentence[kept_from:])


def _text_edit(sentence: str, quote: Quote) -> tuple[int, int, str] | None:
    """How to take one quoted string out of its sentence, or None when it is not on-screen text."""
    window = max(0, quote.start - CUE_CONTEXT)
    applied = _APPLIED_AFTER.match(sentence, quote.end)

    link = _LINK_BEFORE.search(sentence, window, quote.start)
    if link:
        start, end = link.start("cue"), quote.end
        if applied:  # 'with the words "X" painted on its hull': the place goes too
            place = _PLACE_AFTER.match(sentence, applied.end())
            end = place.end() if place else applied.end()
        return _blank_carrier(sentence, start, end)

    noun = _NOUN_BEFORE.search(sentence, window, quote.start)
    if noun:
        start = noun.start("comma") if noun["comma"] else noun.start("cue")
        if applied:
            start = noun.start("cue")  # 'The word "HOPE" written in chalk on a blackboard' -> 'a blank blackboard'
            skip, replacement = _blank_place(sentence, applied.end())
            return start, applied.end() + skip, " " + replacement
        return start, quote.end, ""

    surface = _SURFACE_BEFORE.search(sentence, window, quote.start)
    if surface:  # 'a neon sign: "OPEN"' -> 'a blank neon sign'
        return _blank_carrier(sentence, surface.end("noun"), quote.end)

    surface = _SURFACE_AFTER.match(sentence, quote.end)
    if surface:  # 'a red "Welcome" banner' -> 'a blank red banner'
        adjective = _adjective_for(surface["noun"].lower())
        phrase_start = _noun_phrase_start(sentence, quote.start)
        determiner = _DETERMINER_AT.match(sentence, phrase_start, quote.start)
        if determiner is None:
            return quote.start, quote.end, adjective
        word = determiner.group().strip()
        word = "a" if word.lower() == "an" else word
        modifiers = sentence[determiner.end() : quote.start]
        return phrase_start, quote.end, f"{word} {adjective} {modifiers}"

    if applied:  # '"HOPE" painted on a wall' -> 'a blank wall'
        skip, replacement = _blank_place(sentence, applied.end())
        return quote.start, applied.end() + skip, replacement
    return None


def _blank_carrier(sentence: str, start: int, end: int) -> tuple[int, int, str]:
    """Remove sentence[start:end]; describe the carrier just before it as blank, if there is one."""
    stop = start
    while stop > 0 and sentence[stop - 1] in " ,:":
        stop -= 1
    window = max(0, stop - CONTEXT)
    carrier = _CARRIER_LAST.search(sentence, window, stop) or _CARRIER_THEN_WORDS.search(sentence, window, stop)
    if carrier is None:
        return start, end, ""
    # Rewrite from the carrier's noun phrase onwards so "blank" sits after its determiner.
    phrase_start = _noun_phrase_start(sentence, carrier.start("noun"))
    if re.search(r"\b(?:blank|plain|empty)\s+(?:[\w-]+\s+){0,2}$", sentence[phrase_start : carrier.start("noun")]):
        return start, end, ""
    adjective = _adjective_for(carrier["noun"].lower())
    head = sentence[phrase_start:stop]
    determiner = _DETERMINER_AT.match(head)
    if determiner:
        word = determiner.group().strip()
        word = "a" if word.lower() == "an" else word
        head = f"{word} {adjective} {head[determiner.end():]}"
    else:
        head = f"{adjective} {head}"
    return phrase_start, end, head


def _noun_phrase_start(sentence: str, noun_start: int) -> int:
    """Where the noun phrase ending at a surface noun begins: its determiner, within three words."""
    words = list(_WORD.finditer(sentence, max(0, noun_start - CONTEXT), noun_start))
    for match in reversed(words[-3:]):
        if re.fullmatch(_DETERMINER, match.group(), re.IGNORECASE):
            return match.start()
        if match.group().lower() in {"of", "with", "on", "in", "and", "at", "from", "by", "over", "under"}:
            break
    return noun_start


def _adjective_for(noun: str) -> str:
    singular = noun[:-1] if noun.endswith("s") and noun[:-1] in _PLAIN_SURFACES else noun
    return "plain" if singular in _PLAIN_SURFACES else "blank"


def _blank_place(sentence: str, pos: int) -> tuple[int, str]:
    """For the words at ``pos``, after 'written on': how many characters to replace, and with what.

    'a wall, at night' -> (2, 'a blank '): "blank" goes after the determiner of the place.
    """
    place = _PLACE_AFTER.match(sentence, pos)
    noun = place.group().split()[-1] if place else ""
    if not re.fullmatch(_SURFACE_NOUN, noun, re.IGNORECASE):  # "over a dark ocean": nothing to blank
        return 0, ""
    adjective = _adjective_for(noun.lower())
    determiner = _DETERMINER_AT.match(sentence, pos)
    if determiner is None:
        return 0, f"{adjective} "
    word = determiner.group().strip()
    return determiner.end() - pos, f"{'a' if word.lower() == 'an' else word} {adjective} "


def _tidy(sentence: str) -> str:
    """Repair the seams left by removals: spaces, commas, dangling joining words, the first capital."""
    text = re.sub(r"\s+", " ", sentence).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r"[,;:]\s*([.!?])", r"\1", text)
    text = re.sub(r"\b(?:with|and|of|on|reading|showing|a|an|the)\s*([,.;!?]|$)", r"\1", text, flags=re.IGNORECASE)
    text = re.sub(r"\(\s*\)", "", text)
    text = text.strip(" ,;:-–—")
    text = re.sub(r"\s+", " ", text)
    return text[:1].upper() + text[1:] if text else text


def _has_content(cleaned: str) -> bool:
    words = re.findall(r"[^\W\d_]+", cleaned)
    fillers = {"a", "an", "the", "with", "and", "of", "on", "in", "blank", "plain", "text", "words", "word"}
    return any(word.lower() not in fillers for word in words)


def _card_scene(sentence: str, start: re.Match[str], cleaned: str) -> str:
    """What the camera sees of a sentence that starts with a card: a plain background in the card's
    own looks, and whatever else the sentence shows ("A dark title card over slow moving water"
    keeps the water); a card with no looks of its own laid on something shows that something.
    ``start``: _CARD_START's match of ``sentence``."""
    card = _CARD_NOUN.search(cleaned)
    rest = cleaned[card.end():].strip() if card else ""
    looks = start["looks"].strip()
    if not _has_content(_COLOUR.sub("", rest)):  # "with black text", "in gold": the card alone
        return f"A plain {looks.lower()} background" if looks else _blank_card(sentence)
    if not looks and _GROUND.match(rest):  # "A title card over a rust-red textured wall": the wall
        return _tidy(_GROUND.sub("", rest))
    return _tidy((f"A plain {looks.lower()} background " if looks else _blank_card(sentence)) + " " + rest)


def _blank_card(prompt: str) -> str:
    """What the camera sees of a title card: a plain background, in the card's colour if named."""
    colour = _COLOUR.search(prompt.split(":")[0])
    return f"A plain {colour.group().lower()} background" if colour else "A plain dark background"
