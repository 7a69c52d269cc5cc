"""check_film: `render-pipeline qa STORYBOARD`, every rendered shot of a film checked again.

The shots are those the manifest records as done, checked as the runner checks them (the
windows they were rendered in, from the manifest; footage and the animatic only reported on).
Nothing is written: the scores recorded while rendering stay in the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from render_pipeline.backends.windows import Continuation, Windows
from render_pipeline.qa.findings import Check, ShotQa
from render_pipeline.storyboard import Storyboard


@dataclass(frozen=True)
class ShotCheck:
    shot_id: str
    path: Path | None  # None: not rendered yet
    qa: ShotQa | None


def check_film(storyboard: Storyboard, out_dir: Path, lettering: bool) -> list[ShotCheck]:
    """Every shot of ``storyboard`` rendered in ``out_dir``, checked; ``lettering``: the text detector is installed."""
    from render_pipeline.qa.check import check_shot
    from render_pipeline.runner.jobs import FOOTAGE, shot_path
    from render_pipeline.runner.manifest import Manifest

    manifest = Manifest.load(out_dir)
    checks = []
    for shot in storyboard.shots:
        entry = manifest.shots.get(shot.id) or {}
        path = shot_path(out_dir, shot.id)
        if entry.get("status") != "done" or not path.is_file():
            checks.append(ShotCheck(shot.id, None, None))
            continue
        backend = entry.get("backend")
        windows = (entry.get("settings") or {}).get("windows")
        report_only = ((Check.LETTERING,) if backend == FOOTAGE or shot.text_in_prompt == "keep" else ()) + (
            (Check.FROZEN,) if backend == "animatic" else ())
        qa = check_shot(path, Windows(**{**windows, "continuation": Continuation(windows["continuation"])})
                        if windows else None, lettering=lettering and backend != "animatic", report_only=report_only)
        checks.append(ShotCheck(shot.id, path, qa))
    return checks
