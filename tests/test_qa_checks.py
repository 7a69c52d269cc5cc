"""Shot QA's checks on synthetic clips made with FFmpeg (tests/assets/qa_clips.py)."""

from __future__ import annotations

import numpy as np
import pytest

from render_pipeline.media.ffmpeg import probe
from render_pipeline.qa.check import check_shot
from render_pipeline.qa.findings import Check
from tests.assets.qa_clips import SEAM_WINDOWS, Scene, frames_at, make_clip

KINDS = ("clean", "lettered", "frozen", "looping", "flicker", "seam")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qa_clips")
    return {kind: make_clip(Scene(seed=7), folder / f"{kind}.mp4", kind) for kind in KINDS}


def flagged(qa) -> set[Check]:
    return {score.check for score in qa.flagged}


def test_clean_moving_scene_passes_the_motion_checks(clips):
    qa = check_shot(clips["clean"], windows=SEAM_WINDOWS, lettering=False)
    assert qa.passed and {score.check for score in qa.scores} == {Check.FROZEN, Check.LOOP, Check.FLICKER, Check.SEAM}


@pytest.mark.parametrize("kind, check", [("frozen", Check.FROZEN), ("looping", Check.LOOP),
                                         ("flicker", Check.FLICKER)])
def test_a_bad_clip_is_flagged_by_its_check_only(clips, kind, check):
    qa = check_shot(clips[kind], lettering=False)
    assert flagged(qa) == {check} and not qa.passed


def test_frozen_clip_is_flagged_from_where_it_stops(clips):
    score = next(s for s in check_shot(clips["frozen"], lettering=False).scores if s.check is Check.FROZEN)
    assert score.frame == Scene(seed=7).frames // 4  # motion stops a quarter of the way in


def test_looping_clip_reports_its_period(clips):
    score = next(s for s in check_shot(clips["looping"], lettering=False).scores if s.check is Check.LOOP)
    assert score.frame % 18 == 0  # it repeats every 0.75 s = 18 frames


def test_seam_between_windows_is_flagged_at_the_second_window(clips):
    qa = check_shot(clips["seam"], windows=SEAM_WINDOWS, lettering=False)
    assert flagged(qa) == {Check.SEAM}
    assert next(s for s in qa.scores if s.check is Check.SEAM).frame == SEAM_WINDOWS.start(1)
    # The same clip checked as one pass has no seam to look at: a jump alone is not a finding.
    assert Check.SEAM not in {s.check for s in check_shot(clips["seam"], lettering=False).scores}


@pytest.mark.needs("qa")
def test_clean_scene_has_no_lettering(clips):
    assert check_shot(clips["clean"]).passed


@pytest.mark.needs("qa")
def test_pseudo_letters_on_a_sign_are_flagged_where_they_are(clips):
    qa = check_shot(clips["lettered"])
    assert flagged(qa) == {Check.LETTERING}
    score = qa.flagged[0]
    assert score.text and score.box is not None
    # Where the letters really are: the pixels the drawn text changed on the frame it was read on.
    info = probe(clips["lettered"])
    lettered, clean = (frames_at(clips[kind], info, [score.frame], info.width, info.height)[0]
                       for kind in ("lettered", "clean"))
    ys, xs = np.nonzero(np.abs(lettered.astype(int) - clean.astype(int)).max(axis=2) > 60)
    truth = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    found = (score.box.x0, score.box.y0, score.box.x1, score.box.y1)
    limits = (info.width, info.height) * 2
    assert all(abs(a - b) <= 0.1 * limit for a, b, limit in zip(found, truth, limits)), (found, truth)
