"""On-screen text extraction over a corpus of prompts written the way shot lists write them."""

from __future__ import annotations

import re

import pytest

from render_pipeline.prompts.onscreen_text import find_onscreen_text
from tests.assets.prompt_corpus import QUOTED_BUT_NOT_TEXT, WITH_TEXT, WITHOUT_TEXT

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
