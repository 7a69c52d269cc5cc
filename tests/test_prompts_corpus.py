"""On-screen text extraction over a corpus of prompts written the way shot lists write them."""

from __future__ import annotations

import re

import pytest

from render_pipeline.prompts.onscreen_text import find_onscreen_text

# (prompt, the on-screen text it asks for, the prompt the camera should see)
WITH_TEXT = [
    ('Aerial view of a quiet harbor at dawn, mist on the water, a banner reading "HARBOR DAYS 2026" strung between two cranes',
     ["HARBOR DAYS 2026"], "Aerial view of a quiet harbor at dawn, mist on the water, a blank banner strung between two cranes"),
    ("A wooden sign above the bakery door that says “Fresh Bread”",
     ["Fresh Bread"], "A blank wooden sign above the bakery door"),
    ("A protester holding a placard saying 'NO MORE WAR' in a crowded square",
     ["NO MORE WAR"], "A protester holding a blank placard in a crowded square"),
    ('A neon sign: "OPEN 24 HOURS" flickering in the rain',
     ["OPEN 24 HOURS"], "A blank neon sign flickering in the rain"),
    ('A rusty "NO ENTRY" sign on a chain-link fence',
     ["NO ENTRY"], "A blank rusty sign on a chain-link fence"),
    ("A fishing boat with the words «La Belle Marie» painted on its hull, gulls overhead",
     ["La Belle Marie"], "A fishing boat, gulls overhead"),
    ('The word "HOPE" written in chalk on a blackboard, morning light',
     ["HOPE"], "A blank blackboard, morning light"),
    ('Title card: "Chapter One"', ["Chapter One"], "A plain dark background"),
    ("Text: Ten years later.", ["Ten years later"], "A plain dark background"),
    ("Black screen with white text: Ten years later", ["Ten years later"], "Black screen"),
    ("A newspaper on a kitchen table with the headline 「港口重开」", ["港口重开"], "A newspaper on a kitchen table"),
    ('Drone shot over the city at night, text overlay "LAGOS 2024"', ["LAGOS 2024"], "Drone shot over the city at night"),
    ("A runner crossing the finish line under a banner that reads ‘City Marathon’, confetti falling",
     ["City Marathon"], "A runner crossing the finish line under a blank banner, confetti falling"),
    ('Close-up of a laptop screen displaying the text "Access Denied"',
     ["Access Denied"], "Close-up of a blank laptop screen"),
    ('A child in a T-shirt printed with "I ♥ NY" waving at the camera',
     ["I ♥ NY"], "A child in a plain T-shirt waving at the camera"),
    ('A brass plaque engraved with "Founded 1887" beside the museum entrance',
     ["Founded 1887"], "A blank brass plaque beside the museum entrance"),
    ('A book titled "The Old Man and the Sea" lying on a wooden table',
     ["The Old Man and the Sea"], "A book lying on a wooden table"),
    ('Street at dusk, a billboard with the slogan "Think Different" above the traffic',
     ["Think Different"], "Street at dusk, a blank billboard above the traffic"),
    ('A road sign reading "Visakhapatnam 12 km" and "Chennai 800 km" by the highway',
     ["Visakhapatnam 12 km", "Chennai 800 km"], "A blank road sign by the highway"),
    ("A coffee mug that reads 'World's Best Dad' on an office desk",
     ["World's Best Dad"], "A plain coffee mug on an office desk"),
    ("Graffiti on a brick wall spelling out »FREIHEIT« in red spray paint",
     ["FREIHEIT"], "Graffiti on a plain brick wall in red spray paint"),
    ("A shop window labelled „Geschlossen“ on a rainy street", ["Geschlossen"], "A shop window on a rainy street"),
    ("Opening titles: HARBOR AT DAWN", ["HARBOR AT DAWN"], "A plain dark background"),
    ('The words "THE END" fade in over a dark ocean', ["THE END"], "A dark ocean"),
    ('A cargo truck with the logo "FASTFREIGHT" on a desert highway', ["FASTFREIGHT"], "A cargo truck on a desert highway"),
    ('Wide shot of the stadium, caption: "Final, 1998"', ["Final, 1998"], "Wide shot of the stadium"),
    ("A tombstone inscribed 『永遠に』 under a cherry tree", ["永遠に"], "A blank tombstone under a cherry tree"),
    ('A hand-painted sign, "Fresh Fish Daily", leaning against a stall',
     ["Fresh Fish Daily"], "A blank hand-painted sign, leaning against a stall"),
    ('Subtitle: "Three days earlier"', ["Three days earlier"], "A plain dark background"),
    ('A vintage poster captioned "Visit Bombay" peeling off a wall',
     ["Visit Bombay"], "A blank vintage poster peeling off a wall"),
    ("Lower third: Dr. Amina Yusuf, marine biologist", ["Dr. Amina Yusuf, marine biologist"], "A plain dark background"),
    ('Close-up of a name tag labeled "HELLO my name is Sam" on a lapel',
     ["HELLO my name is Sam"], "Close-up of a blank name tag on a lapel"),
    ('A red "Welcome" banner flapping above the school gate', ["Welcome"], "A blank red banner flapping above the school gate"),
    ('A white title card with black text reading "Part II"', ["Part II"], "A plain white background"),
    ('A dark title card over slow moving water, golden light, a logo titled "EASTERN SHIPYARD"', ["EASTERN SHIPYARD"],
     "A plain dark background over slow moving water, golden light, a plain logo"),
    ('A black title card with the words "THE END" in gold', ["THE END"], "A plain black background"),
    ('A title card reading "1944" as rain falls on a window', ["1944"], "A plain dark background as rain falls on a window"),
    ('Two men shaking hands in front of a building. Title: "The Deal"',
     ["The Deal"], "Two men shaking hands in front of a building."),
    ('A marathon runner wearing a jersey with the number "42"', ["42"], "A marathon runner wearing a plain jersey"),
    ("Smoke rising from a chimney, the inscription 《山水》 carved on the stone gate",
     ["山水"], "Smoke rising from a chimney, the stone gate"),
    ('A storefront with a sign that says "Bakery" and warm light spilling onto the pavement',
     ["Bakery"], "A storefront with a blank sign and warm light spilling onto the pavement"),
]

# Prompts with no on-screen text, some with apostrophes, inch marks and quoted speech or names
# that are not text to draw: they must come back word for word.
WITHOUT_TEXT = [
    "A sailor's weathered hands coiling rope on deck",
    "The sailors' caps lined up on a bench in the mess hall",
    "A sailor’s silhouette against the setting sun, the ship’s wake glowing orange",
    'A 55" television glowing in a dark living room',
    "Slow aerial over terraced rice fields at sunrise, mist pooling in the valleys",
    "A grey destroyer cutting through heavy swell, spray over the bow",
    "Close-up of an old fisherman mending a net, deep wrinkles, warm afternoon light",
    "Children running along a wet beach at low tide, their reflections in the sand",
    "A crowded night market in Hanoi, steam rising from food stalls, lanterns overhead",
    "Rain streaking down a train window, city lights blurred beyond it",
    "A lone cyclist climbing a mountain pass, switchbacks below, clouds at eye level",
    "Welders in a dry dock at dusk, sparks falling, a hull section towering behind them",
    "A hummingbird hovering at a red flower, wings a blur, shallow depth of field",
    "Two astronauts floating inside a space station module, Earth visible through the window",
    "An empty classroom in late afternoon, dust in the sunbeams, chairs stacked on desks",
    "A chef plating a dessert with tweezers, steam from a nearby pan",
    "The harbor at night, cranes lit up, a container ship easing into its berth",
    "A woman in a yellow raincoat walking her dog through autumn leaves",
    "Time-lapse of clouds rolling over a desert canyon, shadows racing across the rocks",
    "A blacksmith hammering glowing steel on an anvil, sparks flying",
    "Snow falling on a quiet village street, warm windows, a single set of footprints",
    "Aerial view of a river delta, braided channels shining in the morning sun",
    "A jazz trio playing in a smoky basement club, the double bass in the foreground",
    "A fox crossing a frozen lake at dawn, breath visible in the cold air",
    "The same patrol ship from the bow, spray rising as it meets the open sea",
    "Rock 'n' roll dancers spinning on a checkered floor, skirts flaring",
]
QUOTED_BUT_NOT_TEXT = [
    ('A fisherman shouting "Pull!" as the net comes up', ["Pull!"]),
    ('A boat named "Aurora" drifting in fog', ["Aurora"]),
]

_DANGLING = re.compile(r"\b(?:reading|reads|saying|says|with|and|of|the|a|an|titled|labelled|captioned)[.,]?$",
                       re.IGNORECASE)


def _reads_as_a_sentence(text: str) -> None:
    assert text[0].isupper(), text
    assert "  " not in text and " ," not in text and ",," not in text and ", ." not in text, text
    assert not _DANGLING.search(text), f"dangling joining word: {text!r}"
    assert not re.search(r"[\"“”«»「」『』《》„]", text), f"stray quote mark: {text!r}"


def test_corpus_size() -> None:
    assert len(WITH_TEXT) + len(WITHOUT_TEXT) + len(QUOTED_BUT_NOT_TEXT) >= 40
    assert len(WITHOUT_TEXT) >= 20


@pytest.mark.parametrize("prompt, texts, cleaned", WITH_TEXT, ids=[p[:40] for p, _, _ in WITH_TEXT])
def test_text_is_found_and_taken_out(prompt: str, texts: list[str], cleaned: str) -> None:
    findings = find_onscreen_text(prompt)
    assert findings.texts == texts
    assert findings.cleaned == cleaned
    for text in texts:
        assert text.casefold() not in findings.cleaned.casefold()
    _reads_as_a_sentence(findings.cleaned)


@pytest.mark.parametrize("prompt", WITHOUT_TEXT, ids=[p[:40] for p in WITHOUT_TEXT])
def test_prompts_without_text_are_unchanged(prompt: str) -> None:
    findings = find_onscreen_text(prompt)
    assert findings.texts == []
    assert findings.kept_quotes == []
    assert findings.cleaned == prompt


@pytest.mark.parametrize("prompt, quoted", QUOTED_BUT_NOT_TEXT)
def test_quotes_without_a_cue_stay_and_are_reported(prompt: str, quoted: list[str]) -> None:
    findings = find_onscreen_text(prompt)
    assert findings.texts == []
    assert findings.kept_quotes == quoted
    assert findings.cleaned == prompt


def test_an_unclosed_quote_is_reported() -> None:
    findings = find_onscreen_text('A banner reading "HARBOR DAYS over the quay')
    assert findings.unmatched_quote
    assert findings.texts == []
