"""Shot QA on synthetic clips: every check's scores on clean and bad clips, the lettering detector's
false positives and misses, and what QA costs per shot on this CPU (docs/benchmarks.md, "Shot QA").

    python -m benchmarks.bench_qa --work /tmp/bench_qa --out qa.json

Clips (tests/assets/qa_clips.py) are 1280x720 at 24 fps: COUNT clean and COUNT lettered 2 s clips (seeds
1..COUNT), BAD_SEEDS seeds of each bad kind (frozen, looping, flicker, seam), and COST_SEEDS clean
and lettered 5 s clips timed one at a time (wall and CPU seconds, FFmpeg's included).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

from benchmarks.harness import Results, out_option, timed
from render_pipeline.media.ffmpeg import probe
from render_pipeline.qa.check import check_shot
from render_pipeline.qa.findings import Check
from render_pipeline.qa.lettering import ocr_engine
from tests.assets.qa_clips import SEAM_WINDOWS, Scene, frames_at, make_clip

COUNT = 40
BAD_SEEDS = 5
COST_SEEDS = 5
WIDTH, HEIGHT = 1280, 720
# The clips' own encode: a faster preset than a shot's (the picture checked is the same scene).
ENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-pix_fmt", "yuv420p"]


def timed_check(path: Path, windows=None):
    with timed() as timing:
        qa = check_shot(path, windows)
    return qa, timing.wall_s, timing.cpu_s


def values(qa) -> dict[str, float]:
    return {str(score.check): round(score.value, 4) for score in qa.scores}


def letters_box(lettered: Path, clean: Path, frame: int) -> tuple[int, int, int, int]:
    """Where the drawn letters are on ``frame``: the pixels they changed."""
    info = probe(lettered)
    a, b = (frames_at(path, info, [frame], info.width, info.height)[0].astype(int) for path in (lettered, clean))
    ys, xs = np.nonzero(np.abs(a - b).max(axis=2) > 60)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="where the clips are written")
    out_option(parser, required=True)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    ocr_engine()  # loaded once per process, as in a run: not part of a shot's cost
    report: dict = {"clips": {}}

    def clip(kind: str, seed: int, seconds: float) -> Path:
        path = args.work / f"{kind}-{seed}-{seconds:g}s.mp4"
        if not path.exists():
            make_clip(Scene(seed, WIDTH, HEIGHT, seconds), path, kind, scratch=args.work, encode=ENCODE)
        return path

    clean_scores, lettered_scores, misses, false_positives, boxes_within = [], [], [], [], 0
    for seed in range(1, COUNT + 1):
        clean = clip("clean", seed, 2)
        qa = check_shot(clean, SEAM_WINDOWS)  # a clean shot read as two windows: the seam check's clean case
        clean_scores.append(values(qa))
        if any(score.check is Check.LETTERING for score in qa.flagged):
            false_positives.append({"seed": seed, "text": qa.flagged[0].text})
        lettered = clip("lettered", seed, 2)
        qa = check_shot(lettered)
        lettered_scores.append(values(qa))
        letters = next(score for score in qa.scores if score.check is Check.LETTERING)
        if not letters.flagged:
            misses.append({"seed": seed, "value": letters.value})
            continue
        truth = letters_box(lettered, clean, letters.frame)
        found = (letters.box.x0, letters.box.y0, letters.box.x1, letters.box.y1)
        boxes_within += all(abs(a - b) <= 0.1 * limit for a, b, limit in zip(found, truth, (WIDTH, HEIGHT) * 2))
        print(f"seed {seed}: clean lettering {clean_scores[-1]['lettering']}, lettered {letters.value:.3f} "
              f"{letters.text!r}", flush=True)
    report["lettering"] = {"clean_clips": COUNT, "lettered_clips": COUNT,
                           "false_positives": len(false_positives), "false_positive_rate": len(false_positives) / COUNT,
                           "misses": len(misses), "miss_rate": len(misses) / COUNT, "boxes_within_10_percent":
                           boxes_within, "false_positive_clips": false_positives, "missed_clips": misses}
    report["clips"]["clean"] = clean_scores
    report["clips"]["lettered"] = lettered_scores
    for kind in ("frozen", "looping", "flicker", "seam"):
        report["clips"][kind] = [values(check_shot(clip(kind, seed, 2), SEAM_WINDOWS if kind == "seam" else None))
                                 for seed in range(1, BAD_SEEDS + 1)]
        print(kind, report["clips"][kind], flush=True)
    for check in Check:
        clean = [scores[check] for scores in clean_scores if check in scores]
        report.setdefault("clean_max", {})[str(check)] = max(clean) if clean else None
    cost = []
    for kind in ("clean", "lettered"):
        for seed in range(1, COST_SEEDS + 1):
            qa, wall, cpu = timed_check(clip(kind, seed, 5))
            cost.append({"kind": kind, "seed": seed, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                         "flagged": [str(score.check) for score in qa.flagged]})
            print(cost[-1], flush=True)
    report["cost_5s_720p"] = {"runs": cost, **{f"{kind}_{what}_median": statistics.median(
        run[f"{what}_s"] for run in cost if run["kind"] == kind) for kind in ("clean", "lettered") for what in ("wall", "cpu")},
        "wall_max": max(run["wall_s"] for run in cost)}
    Results(__file__, args.out, argv, settings={"size": f"{WIDTH}x{HEIGHT}", "clips_per_kind": COUNT,
                                               "bad_seeds": BAD_SEEDS, "cost_seeds": COST_SEEDS}).save(report)
    print(json.dumps({key: report[key] for key in ("lettering", "clean_max")}, indent=2))
    print(json.dumps({key: value for key, value in report["cost_5s_720p"].items() if key != "runs"}, indent=2))


if __name__ == "__main__":
    main()
