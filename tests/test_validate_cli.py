"""`render-pipeline validate`: the summary, --json, several files at once, and a fast start."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from render_pipeline.cli import app
from tests.conftest import EXAMPLES, MINIMAL_STORYBOARD


def test_summary_of_a_good_storyboard(minimal_storyboard):
    result = CliRunner().invoke(app, ["validate", str(minimal_storyboard)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ('sb.yaml: ok - "Test Film", 2 shots (0 footage), 0:05.00 long, 1 narrated, '
                             "1 overlays, 1 music cues, 640x360 at 24 fps\n")


def test_json_is_the_resolved_storyboard(minimal_storyboard):
    result = CliRunner().invoke(app, ["validate", "--json", str(minimal_storyboard)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["slug"] == "test-film" and data["duration"] == 5.0
    assert [shot["id"] for shot in data["shots"]] == ["010", "b"]
    assert data["shots"][1]["transition_in"] == {"type": "dissolve", "duration": 1.0}
    assert (data["shots"][1]["handle_in"], data["shots"][0]["handle_out"]) == (0.5, 0.5)
    assert data["shots"][0]["overlays"][0]["end"] == 2.5


def test_several_files_report_each_and_fail_if_any_fails(write_storyboard):
    write_storyboard(MINIMAL_STORYBOARD, name="good.yaml")
    write_storyboard(MINIMAL_STORYBOARD.replace("duration: 2", "duration: -2"), name="bad.yaml")
    result = CliRunner().invoke(app, ["validate", "good.yaml", "bad.yaml"])
    assert result.exit_code == 2
    assert result.stdout.startswith("good.yaml: ok")
    assert result.stderr.splitlines() == ["bad.yaml:15:15: shots[1].duration: must be > 0 (got -2)",
                                          "1 problem found; nothing was rendered."]


def test_warnings_go_to_stderr_and_do_not_fail(write_storyboard):
    write_storyboard(MINIMAL_STORYBOARD + "    transition: {type: fade, duration: 0.5}\n")
    result = CliRunner().invoke(app, ["validate", "sb.yaml"])
    assert result.exit_code == 0
    assert result.stderr == ("sb.yaml:17:17: shots[1].transition: the last shot's transition has no next shot; "
                             "it is ignored (warning)\n")


def test_both_examples_validate():
    result = CliRunner().invoke(app, ["validate", str(EXAMPLES / "harbor-teaser.yaml"),
                                      str(EXAMPLES / "exhibition-film.yaml")])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "7 shots (1 footage), 0:32.00 long" in result.stdout
    assert "50 shots (1 footage), 5:06.00 long" in result.stdout


def test_validating_never_imports_the_heavy_libraries():
    code = ("import sys; from render_pipeline.cli import app; from render_pipeline.storyboard import load_storyboard; "
            f"load_storyboard({str(EXAMPLES / 'harbor-teaser.yaml')!r}); "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'numpy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
