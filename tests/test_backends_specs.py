import os
import subprocess
import sys
from pathlib import Path

import pytest

from render_pipeline.backends.specs import SPECS, spec_for
from render_pipeline.backends.weights import (
    check_model_folder,
    find_model_folder,
    require_model_folder,
    resolve_models_dir,
)
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
    (folder / "model_index.json").write_text(f'{{"_class_name": "{class_name}"}}')
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
    """One rule for doctor, plan and the renders: --models-dir, else $RENDER_PIPELINE_MODELS, else ./models
    where the command runs (wherever the storyboard is), each said with where it came from."""
    from render_pipeline.backends.weights import models_dir_origin

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RENDER_PIPELINE_MODELS", raising=False)
    assert resolve_models_dir(None) == tmp_path / "models"
    assert "./models" in models_dir_origin(None)
    monkeypatch.setenv("RENDER_PIPELINE_MODELS", "/srv/models")
    assert resolve_models_dir(None) == Path("/srv/models")
    assert models_dir_origin(None) == "$RENDER_PIPELINE_MODELS"
    assert resolve_models_dir(Path("/opt/m")) == Path("/opt/m")
    assert models_dir_origin(Path("/opt/m")) == "--models-dir"


def test_specs_weights_and_open_session_import_no_torch():
    code = ("import sys; import render_pipeline.backends, render_pipeline.backends.weights; "
            "assert 'torch' not in sys.modules and 'numpy' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(Path.cwd())})


@pytest.mark.needs("diffusion")
def test_the_download_command_is_the_hub_tool_installed_here(tmp_path):
    """diffusers brings huggingface_hub; its command is `hf` (`huggingface-cli` before 0.34): the one printed exists."""
    from render_pipeline.backends.hub_cli import hub_cli

    name = hub_cli()
    assert name in ("hf", "huggingface-cli")
    assert (Path(sys.executable).parent / name).is_file()  # beside this Python, where pip put the entry point
    problem = check_model_folder("wan2.2-ti2v-5b", tmp_path)
    assert (f"with: {name} download Wan-AI/Wan2.2-TI2V-5B-Diffusers --local-dir "
            f"{tmp_path / 'Wan2.2-TI2V-5B-Diffusers'}") in problem


def test_without_huggingface_hub_the_command_installs_it_first(monkeypatch):
    from importlib import metadata

    from render_pipeline.backends import hub_cli

    def absent(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(hub_cli.metadata, "distribution", absent)
    hub_cli.hub_cli.cache_clear()
    try:
        command = hub_cli.download_command("Wan-AI/Wan2.2-TI2V-5B-Diffusers", "/m/Wan2.2-TI2V-5B-Diffusers")
    finally:
        hub_cli.hub_cli.cache_clear()
    assert command == ("pip install -U huggingface_hub && hf download Wan-AI/Wan2.2-TI2V-5B-Diffusers "
                       "--local-dir /m/Wan2.2-TI2V-5B-Diffusers")
