"""Turn each shot's prompt into the prompt its backend sees, and its on-screen text into overlays.

For a shot with a prompt: take out the on-screen text (onscreen_text.py), then build
    prefix + prompt + camera sentence + storyboard style + suffix
from the backend's template (templates.py), and add the negative prompts together. What
happens to the text follows the shot's ``text_in_prompt``: overlay (a caption overlay for the
whole shot, unless one of the shot's own overlays already says it: case, punctuation and the
words around it aside), strip (only reported) or keep (left in the prompt, still reported).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from render_pipeline.errors import UserError
from render_pipeline.prompts.camera import describe_camera
from render_pipeline.prompts.onscreen_text import find_onscreen_text
from render_pipeline.prompts.rewriter import Rewriter
from render_pipeline.prompts.templates import load_template
from render_pipeline.prompts.tokens import count_tokens, tokenizer_folder
from render_pipeline.storyboard import Shot, Storyboard
from render_pipeline.storyboard.schema import BACKENDS, Overlay

CAPTION_STYLE = "caption"


@dataclass(frozen=True)
class ShotPrompt:
    id: str
    original: str
    enhanced: str
    negative: str
    extracted_text: list[str]  # as written in the prompt, without quote marks
    warnings: list[str]
    overlays: tuple[Overlay, ...]  # the shot's overlays plus captions added for extracted text

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "original": self.original,
            "enhanced": self.enhanced,
            "negative": self.negative,
            "extracted_text": list(self.extracted_text),
            "warnings": list(self.warnings),
        }


def enhance_storyboard(storyboard: Storyboard, backend: str | None = None, models_dir: Path | None = None,
                       rewriter: Rewriter | None = None) -> list[ShotPrompt]:
    """Prompts for every shot that has one, in storyboard order.

    backend: None uses each shot's own backend; "auto" (before planning) the generic template.
    models_dir: where to look for tokenizers (None: backends.weights.resolve_models_dir's default);
    without one, token counts are estimated.
    """
    from render_pipeline.backends.weights import resolve_models_dir

    if backend is not None and backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    models_dir = resolve_models_dir(models_dir)
    return [enhance_shot(storyboard, shot, backend or shot.backend, models_dir, rewriter)
            for shot in storyboard.shots if shot.prompt is not None]


def enhance_shot(storyboard: Storyboard, shot: Shot, backend: str, models_dir: Path,
                 rewriter: Rewriter | None = None) -> ShotPrompt:
    """The prompt for one shot and one backend (the runner calls this with the planned backend)."""
    if shot.prompt is None:
        raise ValueError(f"shot {shot.id} is footage; it has no prompt")
    template = load_template(backend)
    findings = find_onscreen_text(shot.prompt)
    texts = list(dict.fromkeys(findings.texts))
    warnings = _text_warnings(shot.text_in_prompt, texts, findings.kept_quotes, findings.unmatched_quote)

    subject = shot.prompt.strip() if shot.text_in_prompt == "keep" else findings.cleaned
    if rewriter is not None:
        subject, problem = _rewritten(subject, rewriter, texts if shot.text_in_prompt != "keep" else [])
        if problem:
            warnings.append(problem)

    enhanced = _join_sentences([template.prefix, subject, describe_camera(shot.camera, template.camera),
                                shot.style or "", template.suffix])
    negative = _join_lists([shot.negative_prompt or "", template.negative, _official_negative(backend)])
    warnings += _length_warnings(enhanced, backend, template.max_text_tokens, template.text_encoder, models_dir)
    overlays = _with_captions(shot, texts) if shot.text_in_prompt == "overlay" else shot.overlays
    return ShotPrompt(id=shot.id, original=shot.prompt, enhanced=enhanced, negative=negative,
                      extracted_text=texts, warnings=warnings, overlays=overlays)


def overlays_for_shot(storyboard: Storyboard, shot: Shot) -> tuple[Overlay, ...]:
    """The shot's own overlays, plus a whole-shot caption for each piece of text taken out of its prompt."""
    if shot.prompt is None or shot.text_in_prompt != "overlay":
        return shot.overlays
    return _with_captions(shot, list(dict.fromkeys(find_onscreen_text(shot.prompt).texts)))


def _with_captions(shot: Shot, texts: list[str]) -> tuple[Overlay, ...]:
    """The shot's overlays, plus a caption for each text that none of them already shows."""
    # Built without validation: the text is part of a prompt `validate` accepted, which may be
    # longer than an overlay written by hand may be (it is drawn smaller to fit, post/overlays_ass.py).
    added = tuple(Overlay.model_construct(text=text, style=CAPTION_STYLE, start=0.0, end=shot.duration)
                  for text in texts if not any(_contains(overlay.text, text) for overlay in shot.overlays))
    return shot.overlays + added


def _words(text: str) -> str:
    """Text as a viewer reads it: its words, case-folded, without punctuation or spacing."""
    return " ".join(re.findall(r"\w+", text.casefold()))


def _contains(shown: str, text: str) -> bool:
    """Whether ``shown`` already says ``text``: all of it, or its words in a row
    ("EASTERN SHIPYARD" in "Eastern Shipyard · Hall 3, Stand 12")."""
    words = _words(text)
    return bool(words) and f" {words} " in f" {_words(shown)} "


def _text_warnings(mode: str, texts: list[str], kept_quotes: list[str], unmatched: bool) -> list[str]:
    warnings = []
    for text in texts:
        if mode == "strip":
            warnings.append(f'on-screen text "{text}" was taken out of the prompt and is not shown '
                            f"(text_in_prompt: strip); add an overlay if it should appear")
        elif mode == "keep":
            warnings.append(f'on-screen text "{text}" stays in the prompt (text_in_prompt: keep); '
                            f"video models usually draw it as garbled letters")
    for quote in kept_quotes:
        warnings.append(f'quoted "{quote}" stays in the prompt: nothing marks it as on-screen text; '
                        f"if it should be read on screen, give the shot an overlay instead")
    if unmatched:
        warnings.append("a quote mark is never closed; text after it was not checked for on-screen text")
    return warnings


def _rewritten(subject: str, rewriter: Rewriter, texts: list[str]) -> tuple[str, str | None]:
    """The rewriter's version of the prompt, unless it is empty or brings taken-out text back."""
    answer = rewriter(subject).strip()
    if not answer:
        return subject, "the prompt rewriter returned nothing; the rule-based prompt is used"
    back = [text for text in texts if _contains(answer, text)]
    if back:
        return subject, f'the prompt rewriter put "{back[0]}" back into the prompt; the rule-based prompt is used'
    return answer, None


def _official_negative(backend: str) -> str:
    from render_pipeline.backends.specs import SPECS

    return SPECS[backend].negative_prompt if backend in SPECS else ""


def _length_warnings(enhanced: str, backend: str, limit: int | None, encoder: str | None,
                     models_dir: Path) -> list[str]:
    if limit is None:
        return []
    tokens, exact = count_tokens(enhanced, tokenizer_folder(backend, models_dir))
    if tokens <= limit:
        return []
    how = "" if exact else "about "
    return [f"the prompt is {how}{tokens} tokens but {backend}'s {encoder} text encoder reads {limit}; "
            f"the rest is cut off: shorten the prompt or the style"]


def _join_sentences(parts: list[str]) -> str:
    """Join prompt parts as sentences: each starts with a capital and ends with a full stop."""
    sentences = []
    for part in parts:
        part = " ".join(part.split()).rstrip(",;:")
        if not part:
            continue
        if part[-1] not in ".!?":
            part += "."
        sentences.append(part[0].upper() + part[1:])
    return " ".join(sentences)


def _join_lists(parts: list[str]) -> str:
    """Comma-separated negatives, each term once, in order."""
    terms: dict[str, str] = {}
    for part in parts:
        for term in part.split(","):
            term = term.strip()
            if term and term.casefold() not in terms:
                terms[term.casefold()] = term
    return ", ".join(terms.values())
