import os
import subprocess
import sys
from pathlib import Path

import pytest

from render_pipeline.backends.specs import SPECS, spec_for
from render_pipeline.backends.weights import check_model_folder, find_model_folder, require_model_folder, resolve_models_dir
from render_pipeline.errors import UserError
from render_pipeline.storyboard.schema import BACKENDS


def test_every_storyboard_backend_has_a_spec():
    assert set(BACKENDS) - {"auto"} <= SPECS.keys()


@pytest.mark.parametrize("name, seconds, frames", [
    ("wan2.2-t2v-a14b", 5.0, 81),    # 80 frames at 16 fps -> next 4n+1
    ("wan2.2-t2v-a14b", 5.0625, 81),  # exactly 81 frames
    ("wan2.2-t2v-a14b", 5.1, 85),
    ("wan2.2-ti2v-5b", 5.0, 121),
    ("cogvideox-5b", 6.0, 49),
    ("hunyuanvideo", 0.01, 1),
])
def test_frames_for_obeys_the_frame_rule_and_covers_the_duration(name, seconds, frames):
    spec = SPECS[name]
    assert spec.frames_for(seconds) == frames
    assert (frames - 1) % spec.frame_step == 0
    assert frames / spec.fps >= seconds - 1e-9


@pytest.mark.parametrize("name", sorted(set(BACKENDS) - {"auto", "animatic"}))
def test_prompt_templates_warn_at_the_length_the_text_encoder_reads(name):
    from render_pipeline.prompts.templates import load_template

    assert load_template(name).max_text_tokens == SPECS[name].text_tokens
    assert SPECS[name].settings("final")["text_tokens"] == SPECS[name].text_tokens  # in the cache key


def test_animatic_frames_use_the_delivery_fps():
    assert SPECS["animatic"].frames_for(2.5, fps=24) == 60


def test_official_wan_a14b_defaults_and_draft_settings():
    spec = SPECS["wan2.2-t2v-a14b"]
    final = spec.settings("final")
    assert (final["steps"], final["width"], final["height"], final["guidance"], final["guidance_2"]) == (40, 1280, 720, 4.0, 3.0)
    assert (spec.shift, spec.boundary_ratio, spec.fps) == (12.0, 0.875, 16.0)
    draft = spec.settings("draft")
    assert (draft["width"], draft["height"]) == (832, 480) and draft["steps"] < final["steps"]


def test_image_conditioned_shots_get_the_i2v_variant():
    assert spec_for("wan2.2-t2v-a14b", image_conditioned=True).pipeline == "WanImageToVideoPipeline"
    assert spec_for("cogvideox-5b", image_conditioned=True).repo == "THUDM/CogVideoX-5b-I2V"
    assert spec_for("wan2.2-t2v-a14b").name == "wan2.2-t2v-a14b"


def test_missing_folder_names_the_diffusers_repo_and_its_size(tmp_path):
    message = check_model_folder("wan2.2-t2v-a14b", tmp_path)
    assert "Wan-AI/Wan2.2-T2V-A14B-Diffusers" in message and "126 GB" in message
    assert str(tmp_path / "Wan2.2-T2V-A14B-Diffusers") in message
    with pytest.raises(UserError, match="hf download Wan-AI/Wan2.2-T2V-A14B-Diffusers"):
        require_model_folder("wan2.2-t2v-a14b", tmp_path)


def test_original_release_folder_is_recognised(tmp_path):
    folder = tmp_path / "Wan2.2-T2V-A14B-Diffusers"
    (folder / "high_noise_model").mkdir(parents=True)
    (folder / "Wan2.1_VAE.pth").write_bytes(b"")
    message = check_model_folder("wan2.2-t2v-a14b", tmp_path)
    # Loaded in place once complete (tests/test_backends_weights_in_place.py): what is missing is named.
    assert f"{folder / 'high_noise_model'} holds no diffusion_pytorch_model*.safetensors shards" in message
    assert "the low-noise expert: add low_noise_model/ of Wan-AI/Wan2.2-T2V-A14B" in message


def _fake_diffusers_folder(folder: Path, class_name: str, components: tuple[str, ...]) -> None:
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text('{"_class_name": "%s"}' % class_name)
    for component in components:
        (folder / component).mkdir()
        (folder / component / "config.json").write_text("{}")
        (folder / component / "model.safetensors").write_bytes(b"")


def test_wrong_pipeline_and_incomplete_download_are_reported(tmp_path):
    spec = SPECS["cogvideox-5b"]
    _fake_diffusers_folder(tmp_path / "CogVideoX-5b", "CogVideoXImageToVideoPipeline", spec.components)
    assert "needs a CogVideoXPipeline" in check_model_folder("cogvideox-5b", tmp_path)

    spec = SPECS["wan2.2-t2v-a14b"]
    _fake_diffusers_folder(tmp_path / "Wan-AI" / "Wan2.2-T2V-A14B-Diffusers", "WanPipeline",
                           tuple(c for c in spec.components if c != "transformer_2"))
    assert find_model_folder("wan2.2-t2v-a14b", tmp_path) == tmp_path / "Wan-AI" / "Wan2.2-T2V-A14B-Diffusers"
    assert "transformer_2 is missing" in check_model_folder("wan2.2-t2v-a14b", tmp_path)
    (tmp_path / "Wan-AI" / "Wan2.2-T2V-A14B-Diffusers" / "transformer_2").mkdir()
    assert "no config.json or weight files" in check_model_folder("wan2.2-t2v-a14b", tmp_path)


def test_complete_folder_is_usable(tmp_path):
    spec = SPECS["hunyuanvideo"]
    _fake_diffusers_folder(tmp_path / "HunyuanVideo", "HunyuanVideoPipeline", spec.components)
    assert check_model_folder("hunyuanvideo", tmp_path) is None
    assert check_model_folder("animatic", tmp_path) is None


def test_models_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("RENDER_PIPELINE_MODELS", raising=False)
    assert resolve_models_dir(None, tmp_path) == tmp_path / "models"
    monkeypatch.setenv("RENDER_PIPELINE_MODELS", "/srv/models")
    assert resolve_models_dir(None, tmp_path) == Path("/srv/models")
    assert resolve_models_dir(Path("/opt/m"), tmp_path) == Path("/opt/m")


def test_specs_weights_and_open_session_import_no_torch():
    code = ("import sys; import render_pipeline.backends, render_pipeline.backends.weights; "
            "assert 'torch' not in sys.modules and 'numpy' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
