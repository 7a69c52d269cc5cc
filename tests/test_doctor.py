"""`doctor` names what is missing and how to fix it, and fails only when a render would fail."""

from typer.testing import CliRunner

from render_pipeline.cli import app
from render_pipeline.doctor import check_ffmpeg, check_weights
from render_pipeline.media.ffmpeg import ffmpeg_exe


def test_a_working_machine_passes_and_lists_every_part(tmp_path, monkeypatch):
    monkeypatch.setenv("RENDER_PIPELINE_MODELS", str(tmp_path / "models"))
    result = CliRunner().invoke(app, ["doctor", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    for part in ("ffmpeg", "font", "narration", "GPU", "weights wan2.2-t2v-a14b", "disk"):
        assert f"  {part}" in result.output


def test_missing_ffmpeg_fails_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("RENDER_PIPELINE_FFMPEG", str(tmp_path / "no-such-ffmpeg"))
    ffmpeg_exe.cache_clear()
    try:
        checks = check_ffmpeg()
    finally:
        ffmpeg_exe.cache_clear()
    assert checks[0].status == "fail"
    assert "unset it" in checks[0].fix


def test_missing_weights_name_the_repository_to_download(tmp_path):
    checks = {check.name: check for check in check_weights(tmp_path, tmp_path / 'storyboards')}
    wan = checks["weights wan2.2-t2v-a14b"]
    assert wan.status == "warn"
    assert "Wan-AI/Wan2.2-T2V-A14B-Diffusers" in wan.fix and "GB" in wan.fix


def test_doctor_looks_in_one_models_folder_with_or_without_a_storyboard(tmp_path, monkeypatch):
    """The rule plan and the renders use: ./models where the command runs, not the storyboard's folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RENDER_PIPELINE_MODELS", raising=False)
    (tmp_path / "films").mkdir()
    (tmp_path / "films" / "board.yaml").write_text("version: 1\ntitle: D\nshots:\n  - {id: a, duration: 2, prompt: x}\n")
    for arguments in ([], ["films/board.yaml"]):
        result = CliRunner().invoke(app, ["doctor", *arguments, "--out", str(tmp_path / "out")])
        assert result.exit_code == 0, result.output
        assert f"models folder: {tmp_path / 'models'} (the default: ./models where the command runs" in result.output
        assert f"no model folder at {tmp_path / 'models' / 'Wan2.2-T2V-A14B-Diffusers'}" in result.output
