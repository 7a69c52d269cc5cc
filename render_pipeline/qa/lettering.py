"""Lettering: text the shot was not asked to show, read by RapidOCR on a few frames.

Overlays are drawn after the shots, so a generated shot should hold no text at all; a video
model still draws letter-like shapes on signs, hulls and screens. RapidOCR's ONNX build (the
`qa` extra: rapidocr-onnxruntime, Apache-2.0, its PP-OCRv4 detection and recognition models
inside the wheel) works offline on the CPU. It is imported only here, when a shot is checked.

Frames are read at frames.OCR_WIDTH at most and detected at that size (RapidOCR would otherwise
scale a frame up to 736 pixels on its short side: four times the work on a 720p frame, for
lettering too small to notice). A region counts when it reads as at least MIN_CHARACTERS letters or
digits: a lone "O" is what a ball or a porthole reads as. The score is the recogniser's
confidence in the most certain region; the box around every region over the threshold on that
frame (in the shot's pixels) and the text read are reported.

Threshold: docs/benchmarks.md ("Shot QA"), measured on synthetic clips (benchmarks/bench_qa.py).
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec

from render_pipeline.qa.findings import Box, Check, Score
from render_pipeline.qa.frames import ShotFrames

SAMPLES = 3  # frames read, spread evenly over the shot
MIN_CHARACTERS = 2
LETTERING_MAX = 0.75  # recogniser confidence (0-1)
INSTALL = 'pip install -e ".[qa]" (rapidocr-onnxruntime)'


def ocr_installed() -> bool:
    return find_spec("rapidocr_onnxruntime") is not None


@cache
def ocr_engine():
    """RapidOCR, loaded once per process: a run pays it before its first shot, a benchmark before timing."""
    from rapidocr_onnxruntime import RapidOCR

    # "min" with 32: no frame is scaled up before detection (its sides only rounded to 32).
    return RapidOCR(det_limit_side_len=32, det_limit_type="min")


def sample_indices(frame_count: int) -> list[int]:
    return sorted({min(frame_count - 1, int((index + 0.5) * frame_count / SAMPLES)) for index in range(SAMPLES)})


def _reads_as_text(text: str) -> bool:
    return sum(character.isalnum() for character in text) >= MIN_CHARACTERS


def lettering_score(frames: ShotFrames, width: int, height: int) -> Score:
    """Text on the picked frames of ``frames``; the box in the shot's pixels (``width`` x ``height``)."""
    scale_x, scale_y = frames.scale
    best = Score(Check.LETTERING, 0.0, LETTERING_MAX)
    for index, frame in sorted(frames.picked.items()):
        found, _ = ocr_engine()(frame[:, :, ::-1].copy(), use_cls=False)  # it takes BGR
        regions = [(float(confidence), text, points) for points, text, confidence in found or ()
                   if _reads_as_text(text)]
        if not regions or max(region[0] for region in regions) <= best.value:
            continue
        confidence = max(region[0] for region in regions)
        shown = [region for region in regions if region[0] > LETTERING_MAX] or [max(regions, key=lambda r: r[0])]
        xs = [x * scale_x for _, _, points in shown for x, _ in points]
        ys = [y * scale_y for _, _, points in shown for _, y in points]
        box = Box(max(0, int(min(xs))), max(0, int(min(ys))), min(width, round(max(xs))), min(height, round(max(ys))))
        best = Score(Check.LETTERING, confidence, LETTERING_MAX, frame=index, box=box,
                     text=" ".join(text for _, text, _ in shown))
        if best.flagged:
            break  # found: the frames left would only cost time
    return best
