"""The parts each backend's weights in place are made of, and where its official release keeps them.

Torch-free, as checkpoint_search.py, which looks for them, is. Per part: the component it becomes,
the paths in the official release, which single-file names match it, and what to add when it is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from render_pipeline.backends.hub_cli import download_command
from render_pipeline.backends.specs import ModelSpec

TRANSFORMER_SUFFIXES = (".safetensors", ".gguf")  # text encoders and VAEs are not read from GGUF


@dataclass(frozen=True)
class Wanted:
    component: str
    what: str  # for messages
    official: tuple[str, ...]  # paths inside the official release folder: a file, or a folder of shards
    matches: Callable[[str], bool]  # on the file name, lower case with only letters and digits kept
    add: str  # what to do when it is missing: which file to add, or to download
    suffixes: tuple[str, ...] = (".safetensors", ".pth")  # the single-file formats read for it


def _wan_wanted(spec: ModelSpec) -> list[Wanted]:
    task = {"wan2.2-t2v-a14b": "t2v", "wan2.2-i2v-a14b": "i2v", "wan2.2-ti2v-5b": "ti2v"}[spec.name]
    repo = spec.original_repo

    def is_task(name: str) -> bool:
        return task in name and (task == "ti2v" or "ti2v" not in name) and "lora" not in name

    single = f"{task}_5B" if task == "ti2v" else f"{task}_high_noise_14B"
    if spec.experts == 2:
        transformers = [
            Wanted("transformer", "the high-noise expert", ("high_noise_model",),
                   lambda name: is_task(name) and "high" in name,
                   f"add high_noise_model/ of {repo}, or a single file such as wan2.2_{single}_fp8_scaled.safetensors "
                   f"(ComfyUI) or a GGUF quantisation of it", TRANSFORMER_SUFFIXES),
            Wanted("transformer_2", "the low-noise expert", ("low_noise_model",),
                   lambda name: is_task(name) and "low" in name,
                   f"add low_noise_model/ of {repo}, or the low-noise twin of the high-noise file", TRANSFORMER_SUFFIXES),
        ]
    else:
        transformers = [Wanted("transformer", "the transformer", (".",), lambda name: is_task(name) and "5b" in name,
                               f"add the diffusion_pytorch_model-*.safetensors shards of {repo}, or a single file "
                               f"such as wan2.2_{single}_fp16.safetensors (ComfyUI) or a GGUF quantisation",
                               TRANSFORMER_SUFFIXES)]
    vae = "2.2" if spec.name == "wan2.2-ti2v-5b" else "2.1"
    comfy_vae = "wan2.2_vae.safetensors" if vae == "2.2" else "wan_2.1_vae.safetensors"
    return transformers + [
        Wanted("text_encoder", "the UMT5-XXL text encoder", ("models_t5_umt5-xxl-enc-bf16.pth",),
               lambda name: "umt5" in name,
               f"add umt5_xxl_fp8_e4m3fn_scaled.safetensors or umt5_xxl_fp16.safetensors (ComfyUI's repackaged Wan "
               f"files), or models_t5_umt5-xxl-enc-bf16.pth from {repo}"),
        Wanted("tokenizer", "the UMT5 tokenizer", ("google/umt5-xxl",), lambda name: False,
               f"download it (a few MB; single-file text encoders come without it): "
               f"{download_command(repo, '{models_dir}', include='google/umt5-xxl/*')}"),
        Wanted("vae", f"the Wan {vae} VAE", (f"Wan{vae}_VAE.pth",),
               lambda name: f"wan{vae.replace('.', '')}vae" in name,
               f"add {comfy_vae} (ComfyUI) or Wan{vae}_VAE.pth from {repo}"),
    ]


# Tencent's release (tencent/HunyuanVideo, as its ckpts/README.md lays it out): the transformer and
# VAE under hunyuan-video-t2v-720p/, the two text encoders, with their tokenizers, in folders the
# user makes beside it (text_encoder/: LLaVA-Llama-3-8B's language model; text_encoder_2/:
# openai/clip-vit-large-patch14).
HUNYUAN_RELEASE = "hunyuan-video-t2v-720p"


def _hunyuan_wanted(spec: ModelSpec) -> list[Wanted]:
    repo = spec.original_repo
    tokenizers = (f"download them (a few MB; single-file text encoders come without them): "
                  f"hf download {spec.repo} --include 'tokenizer*/*' --local-dir {{models_dir}}")

    def is_transformer(name: str) -> bool:
        return ("hunyuanvideo" in name and not name.startswith("hunyuanvideo15")  # HunyuanVideo 1.5 is another model
                and not any(word in name for word in ("vae", "i2v", "imagetovideo", "lora")))

    return [
        Wanted("transformer", "the transformer",
               (f"{HUNYUAN_RELEASE}/transformers/mp_rank_00_model_states.pt",
                 f"{HUNYUAN_RELEASE}/transformers/mp_rank_00_model_states_fp8.pt"),
               is_transformer,
               f"add {HUNYUAN_RELEASE}/transformers/mp_rank_00_model_states.pt of {repo}, or a single file such as "
               f"hunyuan_video_t2v_720p_bf16.safetensors (ComfyUI) or a GGUF quantisation of it "
               f"(hunyuan-video-t2v-720p-Q4_K_M.gguf)", TRANSFORMER_SUFFIXES),
        Wanted("text_encoder", "the LLaVA-Llama-3 text encoder", ("text_encoder",), lambda name: "llavallama3" in name,
               "add llava_llama3_fp16.safetensors or llava_llama3_fp8_scaled.safetensors (ComfyUI's repackaged "
               f"HunyuanVideo files), or the text_encoder/ folder that {repo}'s ckpts/README.md has you make"),
        Wanted("tokenizer", "the LLaVA-Llama-3 tokenizer", ("text_encoder", "tokenizer"), lambda name: False,
               tokenizers),
        Wanted("text_encoder_2", "the CLIP ViT-L/14 text encoder", ("text_encoder_2",),
               lambda name: name.startswith("clipl"),
               "add clip_l.safetensors (ComfyUI), or openai/clip-vit-large-patch14 as text_encoder_2/ "
               f"({repo}'s ckpts/README.md)"),
        Wanted("tokenizer_2", "the CLIP tokenizer", ("text_encoder_2", "tokenizer_2"), lambda name: False, tokenizers),
        Wanted("vae", "the HunyuanVideo VAE", (f"{HUNYUAN_RELEASE}/vae/pytorch_model.pt",),
               lambda name: "hunyuanvideovae" in name,
               f"add hunyuan_video_vae_bf16.safetensors (ComfyUI) or {HUNYUAN_RELEASE}/vae/ of {repo}"),
    ]


def wanted_parts(spec: ModelSpec) -> list[Wanted]:
    if spec.family == "wan":
        return _wan_wanted(spec)
    if spec.family == "hunyuanvideo":
        return _hunyuan_wanted(spec)
    return []
