"""What a check found: a score against its threshold, and where in the shot (frame, box, text)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Check(StrEnum):
    LETTERING = "lettering"
    FROZEN = "frozen"
    LOOP = "loop"
    FLICKER = "flicker"
    SEAM = "seam"


@dataclass(frozen=True)
class Box:
    """A region of a frame in the shot's own pixels."""

    x0: int
    y0: int
    x1: int
    y1: int


@dataclass(frozen=True)
class Score:
    """One check's measure (higher is worse); flagged when above ``threshold``."""

    check: Check
    value: float
    threshold: float
    frame: int | None = None  # where it is worst
    box: Box | None = None  # lettering: the region of the text read
    text: str | None = None  # lettering: what was read there

    @property
    def flagged(self) -> bool:
        return self.value > self.threshold

    def describe(self) -> str:
        where = "" if self.frame is None else (f" (repeats every {self.frame} frames)" if self.check is Check.LOOP
                                               else f" at frame {self.frame}")
        read = f" ({self.text!r})" if self.text else ""
        return f"{self.check}{read} {self.value:.3g} > {self.threshold:g}{where}"


@dataclass(frozen=True)
class ShotQa:
    """Every check's score for one rendered shot (one attempt)."""

    scores: tuple[Score, ...]
    seconds: float  # what the checks cost
    report_only: tuple[Check, ...] = field(default=())  # flagged but never failing (footage's real text)

    @property
    def flagged(self) -> tuple[Score, ...]:
        return tuple(score for score in self.scores if score.flagged)

    @property
    def failing(self) -> tuple[Score, ...]:
        return tuple(score for score in self.flagged if score.check not in self.report_only)

    @property
    def passed(self) -> bool:
        return not self.failing

    def badness(self) -> tuple[int, float]:
        """Orders attempts: fewer failing checks first, then by how far over their thresholds they are."""
        over = sum(score.value / score.threshold for score in self.failing if score.threshold > 0)
        return len(self.failing), over

    def to_json(self) -> dict:
        return {"passed": self.passed, "seconds": round(self.seconds, 3),
                "scores": [{**{name: value for name, value in asdict(score).items() if value is not None},
                            "value": round(score.value, 4), "flagged": score.flagged} for score in self.scores]}
