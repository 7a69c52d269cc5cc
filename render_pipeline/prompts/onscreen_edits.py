"""How one quoted string comes out of its sentence: the cue that makes it on-screen text goes with
it, and the thing that carried it stays, described as blank ("a banner reading" -> "a blank banner")."""

from __future__ import annotations

import re

from render_pipeline.prompts.onscreen_quotes import Quote

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
_CARRIER_LAST = re.compile(rf"\b(?P<noun>{_SURFACE_NOUN})\s*$", re.IGNORECASE)
_CARRIER_THEN_WORDS = re.compile(rf"\b(?P<noun>{_SURFACE_NOUN})\b(?:\s+[\w-]+){{1,4}}\s*$", re.IGNORECASE)
_DETERMINER_AT = re.compile(rf"{_DETERMINER}\s+", re.IGNORECASE)
_WORD = re.compile(r"(?<![\w-])[\w-]+")


def text_edit(sentence: str, quote: Quote) -> tuple[int, int, str] | None:
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


def tidy(sentence: str) -> str:
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
