"""The QA stage of a run: each rendered shot is checked; a failing one, under `qa: {on_fail: rerender}`,
is rendered again with a new seed (and, for lettering, a stronger negative prompt), and the
attempt that passes, or failing that the best-scoring one, is kept.

Every attempt's scores go in the manifest under the shot's ``qa``, with each attempt's seed; the
kept attempt's seed is the shot's ``seed``. Footage and the animatic are checked and reported on,
never rendered again: footage's real text is only reported; the animatic's slate is text on
purpose (lettering is not read on it) and it holds still when the shot names no motion (frozen
is only reported). A shot whose storyboard keeps text in its prompt is not failed for text.
Attempts waiting to be compared are kept beside the shot as ``shots/.<id>.qa<n>.mp4``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from render_pipeline.backends.base import RenderRequest
from render_pipeline.backends.windows import Windows
from render_pipeline.media.ffmpeg import FfmpegError
from render_pipeline.qa.findings import Check, ShotQa
from render_pipeline.storyboard.schema import QaPolicy

# Added to the negative prompt of an attempt after one that showed lettering.
NO_LETTERING = "text, letters, words, writing, signage, numbers, logo, watermark, captions, subtitles"


@dataclass(frozen=True)
class Attempt:
    number: int  # from 1
    seed: int
    negative_prompt: str
    qa: ShotQa | None  # None: the checks could not read the file (the error is in the log)

    def to_json(self) -> dict:
        return {"attempt": self.number, "seed": self.seed, "negative_prompt": self.negative_prompt,
                **(self.qa.to_json() if self.qa is not None else {"passed": None})}


@dataclass(frozen=True)
class Verdict:
    again: RenderRequest | None  # the next attempt to render; None: the shot is settled
    kept: Attempt | None = None  # when settled: the attempt now in the shot's file
    warning: str | None = None  # what a user should hear about this shot


def qa_seed(seed: int, attempt: int) -> int:
    """Attempt 1 keeps the shot's seed; later ones derive from it (so a resumed run renders the same)."""
    if attempt == 1:
        return seed
    return int.from_bytes(hashlib.sha256(f"{seed}:qa:{attempt}".encode()).digest()[:4], "big")


def stronger_negative(negative_prompt: str) -> str:
    return negative_prompt if NO_LETTERING in negative_prompt else ", ".join(filter(None, (negative_prompt, NO_LETTERING)))


def attempt_file(partial: Path, number: int) -> Path:
    shot = partial.name.removeprefix(".").removesuffix(".mp4.part")
    return partial.with_name(f".{shot}.qa{number}.mp4")


def remove_attempt_files(partial: Path, attempts: int) -> None:
    """The attempts kept for comparison, when a run stops before the shot is settled."""
    for number in range(1, attempts + 1):
        attempt_file(partial, number).unlink(missing_ok=True)


class ShotAttempts:
    """One shot's attempts in this run."""

    def __init__(self, policy: QaPolicy, ocr_installed: bool, text_asked_for: bool = False, footage: bool = False,
                 animatic: bool = False):
        self.policy = policy
        self.lettering = ocr_installed and not animatic
        self.report_only = ((Check.LETTERING,) if footage or text_asked_for else ()) + ((Check.FROZEN,) if animatic else ())
        self.may_rerender = not (footage or animatic)
        self.attempts: list[Attempt] = []
        self.kept: Attempt | None = None  # once settled

    def judge(self, request: RenderRequest, partial: Path, windows: Windows | None, log) -> Verdict:
        """Check the attempt just rendered into ``partial``; ``log(text)`` records what happened."""
        from render_pipeline.qa.check import check_shot

        number = len(self.attempts) + 1
        try:
            qa = check_shot(partial, windows, lettering=self.lettering, report_only=self.report_only)
        except FfmpegError as error:
            log(f"QA could not read attempt {number}: {error}")
            qa = None
        attempt = Attempt(number, request.seed, request.negative_prompt, qa)
        self.attempts.append(attempt)
        if qa is not None:
            log(f"QA attempt {number} (seed {request.seed}) "
                + ("passed" if qa.passed else "failed: " + "; ".join(score.describe() for score in qa.failing))
                + f" ({qa.seconds:.2f} s)")
        if qa is None or qa.passed:
            return self._settle(attempt, partial, warning=None)
        problems = "; ".join(score.describe() for score in qa.failing)
        if not self.may_rerender or self.policy.on_fail == "warn" or number >= self.policy.max_attempts:
            kept = min(self.attempts, key=_order)
            tried = f" after {number} attempts, keeping attempt {kept.number}" if number > 1 else ""
            return self._settle(kept, partial, warning=f"failed QA{tried}: {problems}")
        os.replace(partial, attempt_file(partial, number))
        negative = request.negative_prompt
        if any(score.check is Check.LETTERING for score in qa.failing):
            negative = stronger_negative(negative)
        again = replace(request, seed=qa_seed(self.attempts[0].seed, number + 1), negative_prompt=negative)
        log(f"QA failed ({problems}): rendering attempt {number + 1} with seed {again.seed}")
        return Verdict(again=again)

    def _settle(self, kept: Attempt, partial: Path, warning: str | None) -> Verdict:
        if kept is not self.attempts[-1]:
            os.replace(attempt_file(partial, kept.number), partial)
        for attempt in self.attempts[:-1]:
            attempt_file(partial, attempt.number).unlink(missing_ok=True)
        self.kept = kept
        return Verdict(again=None, kept=kept, warning=warning)

    def to_json(self) -> dict:
        """The manifest's ``qa`` of the shot: its policy, every attempt's scores, and the attempt kept."""
        return {"on_fail": self.policy.on_fail, "max_attempts": self.policy.max_attempts,
                "lettering_checked": self.lettering, "kept": self.kept.number if self.kept else None,
                "attempts": [attempt.to_json() for attempt in self.attempts]}


def _order(attempt: Attempt) -> tuple[int, float]:
    """Best first: fewest failing checks, then least over the thresholds; an unreadable attempt last."""
    return attempt.qa.badness() if attempt.qa is not None else (len(Check) + 1, 0.0)


def requests_to_encode(request: RenderRequest, policy: QaPolicy) -> list[RenderRequest]:
    """The request, and under `rerender` the same with the stronger negative prompt: a worker encodes
    every text before it loads the denoiser, so a later attempt's negative prompt is ready."""
    if policy.on_fail != "rerender" or policy.max_attempts < 2:
        return [request]
    return [request, replace(request, negative_prompt=stronger_negative(request.negative_prompt))]
