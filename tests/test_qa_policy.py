"""The storyboard's `qa` policy: defaults merged key by key into each shot, bad values at FILE:LINE:COLUMN."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from render_pipeline.cli import app
from render_pipeline.storyboard import StoryboardError, load_storyboard
from render_pipeline.storyboard.schema import QaPolicy
from tests.conftest import MINIMAL_STORYBOARD

WITH_POLICY = MINIMAL_STORYBOARD.replace("shots:\n", "defaults:\n  qa: {on_fail: rerender}\nshots:\n", 1)


def test_policy_defaults_merge_key_by_key(write_storyboard):
    text = WITH_POLICY.replace('    prompt: "A ship at sea"', '    prompt: "A ship at sea"\n    qa: {max_attempts: 2}')
    shots = load_storyboard(write_storyboard(text)).shots
    assert [shot.qa for shot in shots] == [QaPolicy(on_fail="rerender", max_attempts=3),
                                           QaPolicy(on_fail="rerender", max_attempts=2)]


def test_no_policy_warns(minimal_storyboard):
    assert [shot.qa for shot in load_storyboard(minimal_storyboard).shots] == [QaPolicy(on_fail="warn", max_attempts=3)] * 2


BAD = {
    "unknown action": ("qa: {on_fail: redo}", "sb.yaml:7:17: defaults.qa.on_fail: 'redo' is not one of: warn, rerender"),
    "no attempt": ("qa: {on_fail: rerender, max_attempts: 0}",
                   "sb.yaml:7:41: defaults.qa.max_attempts: must be >= 1 (got 0)"),
    "too many attempts": ("qa: {max_attempts: 11}", "sb.yaml:7:22: defaults.qa.max_attempts: must be <= 10 (got 11)"),
    "attempts in words": ("qa: {max_attempts: three}",
                          "sb.yaml:7:22: defaults.qa.max_attempts: must be a whole number (got 'three')"),
    "unknown key": ("qa: {on_fial: warn}", "sb.yaml:7:8: defaults.qa.on_fial: unknown key 'on_fial'"),
}


@pytest.mark.parametrize("policy, expected", BAD.values(), ids=BAD.keys())
def test_bad_policy_is_named_at_its_place(write_storyboard, policy, expected):
    path = write_storyboard(WITH_POLICY.replace("qa: {on_fail: rerender}", policy))
    with pytest.raises(StoryboardError) as caught:
        load_storyboard(path)
    assert [str(problem) for problem in caught.value.problems] == [expected]
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and result.stderr.splitlines()[0] == expected
