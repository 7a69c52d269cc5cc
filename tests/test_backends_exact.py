"""The default (exact) path renders the pixels diffusers' own pipelines render, to the bit (issue 10).

On tiny models on the CPU (no compile there): a session renders a shot, and the plain diffusers
pipeline is called on the same folder with the same official settings, prompt and seed. The
8-bit frames handed to the encoder must be equal (HunyuanVideo, which attends without its text
padding, to one level). Streaming the decode into the encoder must neither change a pixel nor
wait for the whole video.
"""

from functools import partial
from pathlib import Path

import numpy as np
import pytest

from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d, WanRMS_norm  # noqa: E402

from render_pipeline.backends import diffusion, open_session  # noqa: E402
from render_pipeline.backends.base import RenderRequest  # noqa: E402
from render_pipeline.backends.specs import SPECS  # noqa: E402
from render_pipeline.backends.wan import decode_frame_by_frame  # noqa: E402
from render_pipeline.backends.wan_vae_channels_last import channels_last_decoder  # noqa: E402
from tests.assets.tiny_models import (  # noqa: E402
    build_cogvideox_folder,
    build_wan_a14b_folder,
    build_wan_ti2v_5b_folder,
    tiny_wan22_vae,
    tiny_wan_vae,
)

PROMPT = "a grey destroyer at dawn on the sea"
NEGATIVE = "blurry static"


def frames_given_to_ffmpeg(monkeypatch) -> list[np.ndarray]:
    frames: list[np.ndarray] = []

    def capture(pixels, width, height, fps, out_path, what, log_path=None):
        frames.extend(np.frombuffer(frame, dtype=np.uint8).reshape(height, width, 3) for frame in pixels)

    monkeypatch.setattr(diffusion, "write_rgb_frames", capture)
    return frames


def official(pipeline_class, folder: Path, backend: str):
    """The plain diffusers pipeline, given the settings the session renders with (backends/specs.py)."""
    spec = SPECS[backend]
    pipeline = pipeline_class.from_pretrained(folder, dtype={"default": torch.bfloat16, "vae": torch.float32})
    if spec.family == "wan":
        pipeline.scheduler = type(pipeline.scheduler).from_config(pipeline.scheduler.config, flow_shift=spec.shift)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline, spec


def picture(path: Path, width: int, height: int) -> Path:
    """An image at the shot's size (so no resize filter is involved): a red and a blue half."""
    from PIL import Image

    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 2, 0] = 220
    pixels[:, width // 2:, 2] = 180
    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.parametrize("backend, build, size, frames, with_image", [
    ("wan2.2-ti2v-5b", build_wan_ti2v_5b_folder, (32, 32), 5, False),
    ("wan2.2-ti2v-5b", build_wan_ti2v_5b_folder, (32, 32), 5, True),
    ("wan2.2-t2v-a14b", build_wan_a14b_folder, (32, 32), 9, False),
    ("wan2.2-i2v-a14b", partial(build_wan_a14b_folder, image_to_video=True), (32, 32), 9, True),
    ("cogvideox-5b", build_cogvideox_folder, (16, 16), 9, False),
    ("cogvideox-5b-i2v", partial(build_cogvideox_folder, image_to_video=True), (16, 16), 9, True),
])
def test_session_renders_the_pixels_the_diffusers_pipeline_renders(backend, build, size, frames, with_image,
                                                                   tmp_path, monkeypatch):
    import diffusers
    from PIL import Image

    folder = build(tmp_path / "models" / SPECS[backend].repo.split("/")[1])
    width, height = size
    image = picture(tmp_path / "image.png", width, height) if with_image else None
    request = RenderRequest(shot_id="s01", prompt=PROMPT, negative_prompt=NEGATIVE, seed=11, width=width,
                            height=height, fps=16.0, frames=frames, steps=3, quality="draft", image=image)
    ours = frames_given_to_ffmpeg(monkeypatch)
    open_session(backend, None, tmp_path / "models").render(request, tmp_path / "s01.mp4", lambda done, total: None)

    # TI2V-5B animates an image through diffusers' I2V pipeline, loaded from the same folder (as
    # the model card does: its from_pipe would cast every module to fp32).
    pipeline_name = SPECS[backend].pipeline
    if image is not None and pipeline_name == "WanPipeline":
        pipeline_name = "WanImageToVideoPipeline"
    pipeline, spec = official(getattr(diffusers, pipeline_name), folder, backend)
    arguments = {"guidance_scale": spec.guidance}
    if spec.guidance_2 is not None:
        arguments["guidance_scale_2"] = spec.guidance_2
    if spec.family == "cogvideox":
        arguments["use_dynamic_cfg"] = True
    if image is not None:
        arguments["image"] = Image.open(image).convert("RGB")
        if spec.family == "cogvideox":  # the I2V pipeline encodes the image in bf16 (see CogVideoXSession)
            pipeline.vae.encoder.to(torch.bfloat16)
    call = dict(prompt=PROMPT, negative_prompt=NEGATIVE, height=height, width=width, num_frames=frames,
                num_inference_steps=3, generator=torch.Generator("cpu").manual_seed(11), **arguments)
    with torch.inference_mode():
        if spec.family == "cogvideox":
            # CogVideoXPipeline hands its bf16 latents to the VAE as they are, which an fp32 VAE (the
            # session's default) refuses: its own decode_latents gets them in fp32 here.
            latents = pipeline(**call, output_type="latent").frames
            video = pipeline.video_processor.postprocess_video(pipeline.decode_latents(latents.float()))[0]
        else:
            video = pipeline(**call, output_type="np").frames[0]
    expected = (video * 255).round().astype(np.uint8)

    assert len(ours) == frames
    assert expected.std() > 0  # a real picture, not a constant
    assert np.array_equal(np.stack(ours), expected)


def test_hunyuanvideo_without_its_text_padding_renders_diffusers_pixels_to_one_level(tmp_path, monkeypatch):
    """HunyuanVideo attends without the padding (backends/hunyuanvideo.py): the same sums in another
    order, so a few pixels may round the other way, by one level of 255 at most."""
    import diffusers

    from tests.assets.tiny_models import build_hunyuanvideo_folder

    folder = build_hunyuanvideo_folder(tmp_path / "models" / "HunyuanVideo")
    request = RenderRequest(shot_id="s01", prompt=PROMPT, negative_prompt="", seed=11, width=16, height=16,
                            fps=24.0, frames=5, steps=3, quality="draft")
    ours = frames_given_to_ffmpeg(monkeypatch)
    open_session("hunyuanvideo", None, tmp_path / "models").render(request, tmp_path / "s01.mp4", lambda d, t: None)
    spec = SPECS["hunyuanvideo"]
    pipeline = diffusers.HunyuanVideoPipeline.from_pretrained(folder, dtype={"default": torch.bfloat16,
                                                                            "vae": torch.float32})
    pipeline.scheduler = type(pipeline.scheduler).from_config(pipeline.scheduler.config, shift=spec.shift)
    pipeline.set_progress_bar_config(disable=True)
    with torch.inference_mode():
        video = pipeline(prompt=PROMPT, height=16, width=16, num_frames=5, num_inference_steps=3,
                         guidance_scale=spec.guidance, generator=torch.Generator("cpu").manual_seed(11),
                         output_type="np").frames[0]
    expected = (video * 255).round().astype(np.int16)
    difference = np.abs(np.stack(ours).astype(np.int16) - expected)
    assert expected.std() > 0
    assert difference.max() <= 1 and (difference > 0).mean() < 0.05


def test_long_prompts_reach_wan_whole_up_to_512_tokens(tmp_path):
    """Words past 226 tokens (the default of diffusers' encode_prompt) still steer a Wan shot."""
    build_wan_ti2v_5b_folder(tmp_path / "models" / "Wan2.2-TI2V-5B-Diffusers")
    session = open_session("wan2.2-ti2v-5b", None, tmp_path / "models")
    opening = " ".join(["the sea"] * 150)  # 300 tokens
    session.encode([RenderRequest(shot_id=s, prompt=f"{opening} {ending}", negative_prompt=NEGATIVE, seed=1,
                                  width=32, height=32, fps=24.0, frames=5, steps=1, quality="draft")
                    for s, ending in (("a", "grey destroyer"), ("b", "sailors on deck"))])
    first, second = (session._embeddings[f"{opening} {ending}"]["prompt_embeds"]
                     for ending in ("grey destroyer", "sailors on deck"))
    assert first.shape[1] == second.shape[1] == 512
    assert not torch.equal(first, second)


@pytest.mark.parametrize("build", [tiny_wan_vae, tiny_wan22_vae])
def test_wan_frame_by_frame_decode_is_the_vae_decode_to_the_bit(build):
    torch.manual_seed(3)
    vae = build()
    latents = torch.randn(1, vae.config.z_dim, 4, 4, 4)
    with torch.inference_mode():
        whole = vae.decode(latents, return_dict=False)[0]
        runs = list(decode_frame_by_frame(vae, latents))
        again = vae.decode(latents, return_dict=False)[0]  # the caches were left clean
    assert [run.shape[2] for run in runs] == [1, 4, 4, 4]
    assert torch.equal(torch.cat(runs, dim=2), whole)
    assert torch.equal(again, whole)


@pytest.mark.parametrize("build", [tiny_wan_vae, tiny_wan22_vae])
def test_the_channels_last_decoder_decodes_the_same_video(build):
    """The GPU decode runs channels-last throughout (faster convolutions, fused row norms, no padding
    copies); that must not change the maths. On the CPU the session keeps diffusers' decode, so the
    exact tests above stay bit for bit."""
    torch.manual_seed(3)
    vae = build()
    latents = torch.randn(1, vae.config.z_dim, 4, 4, 4)
    with torch.inference_mode():
        default = vae.decode(latents, return_dict=False)[0]
        channels_last_decoder(vae)
        convolutions = [m for m in vae.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d))]
        assert all(m.weight.is_contiguous(memory_format=torch.channels_last_3d if m.weight.dim() == 5
                                          else torch.channels_last) for m in convolutions)
        runs = list(decode_frame_by_frame(vae, latents.contiguous(memory_format=torch.channels_last_3d)))
    torch.testing.assert_close(torch.cat(runs, dim=2), default, rtol=1e-5, atol=1e-5)


def test_a_norm_over_channel_rows_is_one_fused_rms_norm_and_keeps_the_layout(monkeypatch):
    """The CPU's convolutions do not keep channels-last, so the decode above rarely reaches the fused
    norm there; on a GPU every norm does. Here it is fed a channels-last input directly."""
    torch.manual_seed(0)
    norm = WanRMS_norm(32, images=False).eval()
    norm.gamma.data = torch.rand_like(norm.gamma) + 0.5
    x = torch.randn(1, 32, 3, 5, 6).contiguous(memory_format=torch.channels_last_3d)
    x[0, :, 0, 0, 0] = 0.0  # a pixel of zeros stays zeros (F.normalize's floor), not NaN
    with torch.inference_mode():
        expected, expected_contiguous = norm(x), norm(x.contiguous())
        fused = []
        monkeypatch.setattr(F, "rms_norm", lambda *a, _real=F.rms_norm, **k: fused.append(1) or _real(*a, **k))
        channels_last_decoder(torch.nn.ModuleList([norm]))
        got = norm(x)
        assert len(fused) == 1
        assert got.is_contiguous(memory_format=torch.channels_last_3d)
        torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)
        assert torch.equal(norm(x.contiguous()), expected_contiguous)  # another layout: diffusers' own forward
        assert len(fused) == 1


@pytest.mark.parametrize("with_cache", [False, True])
def test_a_causal_convolution_pads_space_inside_the_convolution(with_cache, monkeypatch):
    torch.manual_seed(0)
    conv = WanCausalConv3d(8, 4, 3, padding=1).eval()
    x = torch.randn(1, 8, 4, 6, 7).contiguous(memory_format=torch.channels_last_3d)
    cache = torch.randn(1, 8, 2, 6, 7).contiguous(memory_format=torch.channels_last_3d) if with_cache else None
    with torch.inference_mode():
        expected = conv(x, cache)
        channels_last_decoder(torch.nn.ModuleList([conv]))
        spatial_pads = []
        monkeypatch.setattr(F, "pad", lambda x, p, *a, _real=F.pad, **k: spatial_pads.append(any(p[:4])) or
                            _real(x, p, *a, **k))
        got = conv(x, cache)
    assert not any(spatial_pads)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_write_hands_each_run_to_ffmpeg_once_the_next_is_queued(monkeypatch, tmp_path):
    events = []

    def decoded():
        for index in range(3):
            events.append(f"decoded {index}")
            yield torch.zeros(1, 3, 2, 4, 4)

    def encoder(pixels, width, height, fps, out_path, what, log_path=None):
        for _ in pixels:
            events.append("encoded a frame")

    monkeypatch.setattr(diffusion, "write_rgb_frames", encoder)
    from diffusers.video_processor import VideoProcessor

    diffusion.write_video(decoded(), VideoProcessor(), 24.0, tmp_path / "s.mp4", what="writing")
    assert events == ["decoded 0", "decoded 1", "encoded a frame", "encoded a frame", "decoded 2",
                      "encoded a frame", "encoded a frame", "encoded a frame", "encoded a frame"]
