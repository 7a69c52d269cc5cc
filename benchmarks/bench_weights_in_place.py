"""Benchmark: Wan 2.2 A14B or HunyuanVideo from quantised single files (fp8 scaled, GGUF) against bf16, in one run.

Speed and memory do not depend on weight values: the experts are full-size random bf16 weights
(benchmarks/random_models.py), written as the files a ComfyUI user has: each expert as
an fp8 scaled safetensors file (one scale per weight, as ComfyUI's *_fp8_scaled files) or as GGUF
(gguf's own quantiser: Q8_0, Q4_0; it cannot write K-quants, so a Q4_K_M figure needs a real file:
--gguf-file), beside a UMT5-XXL text encoder, the Wan 2.1 VAE and a tokenizer. Each format's shot
renders through the real session (open_session, weights found in place); bf16 renders through
the in-memory random-weight session of random_models.py (no 57 GB of files). Reported per format: the mean
step time after the first step, its ratio to bf16's in the same run, and the peak GPU memory while
denoising and over the whole shot. Files are kept in --work for the next run (the disk they need:
fp8 29 GB, Q8_0 30 GB, Q4_0 16 GB, shared 12 GB).

Writing a GGUF pair quantises 28.6 B weights in numpy (about 10 minutes): write first, then measure.

    python -m benchmarks.bench_weights_in_place --work /tmp/ip --formats fp8_scaled,Q4_0 --write-only --out w.json
    python -m benchmarks.bench_weights_in_place --work /tmp/ip --formats bf16,fp8_scaled,Q4_0 --expert-swap \
        --steps 4 --out in-place.json
    python -m benchmarks.bench_weights_in_place --tiny --work /tmp/ip --out /tmp/ip.json   # CPU dry run

--backend hunyuanvideo: the 12.8 B transformer, full-size random weights, as ComfyUI's and city96's
files name its tensors (Tencent's names): bf16 too is a file here (hunyuan_video_t2v_720p_bf16,
25.6 GB), so every format loads through the same in-place path. Shared: the LLaVA-Llama-3 text
encoder as llava_llama3_fp8_scaled (8 GB; its precision does not touch the step), clip_l, the VAE
and small stand-in tokenizers (the prompt's few tokens, not its words, matter here).
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

from benchmarks.harness import Results, out_option

A14B = "wan2.2-t2v-a14b"
HUNYUAN = "hunyuanvideo"
EXPERTS = {"transformer": "high", "transformer_2": "low"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=(A14B, HUNYUAN), default=A14B)
    parser.add_argument("--work", type=Path, required=True, help="where the single files are written (kept)")
    parser.add_argument("--write-only", action="store_true", help="write the formats' files, measure nothing")
    parser.add_argument("--formats", default="bf16,fp8_scaled,Q4_0", help="bf16 (the folder), fp8_scaled, Q8_0, Q4_0")
    parser.add_argument("--gguf-file", type=Path, help="a real GGUF (e.g. Q4_K_M); for A14B the high-noise one, its "
                                                       "low-noise twin beside it")
    parser.add_argument("--expert-swap", action="store_true", help="one expert on the GPU at a time (as on 24-48 GB)")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--steps", type=int, default=4, help="A14B: 4 steps run 3 high-noise + 1 low-noise (shift 12)")
    parser.add_argument("--tiny", action="store_true", help="a tiny model folder on the CPU (checks this script)")
    out_option(parser, required=True)
    return parser.parse_args(argv)


def write_shared(models: Path, tiny: bool) -> None:
    """The text encoder, VAE and tokenizer every format's folder shares (random weights)."""
    from safetensors.torch import save_file

    from benchmarks.random_models import random_bf16, umt5_xxl_encoder, wan21_vae
    from tests.assets.release_files import original_wan21_vae
    from tests.assets.tiny_models import small_wan21_vae, tiny_tokenizer, tiny_umt5

    for sub in ("text_encoders", "vae"):
        (models / sub).mkdir(parents=True, exist_ok=True)
    text = tiny_umt5() if tiny else random_bf16(umt5_xxl_encoder, "cpu")
    save_file({name: tensor.contiguous() for name, tensor in text.state_dict().items() if "embed_tokens" not in name},
              models / "text_encoders" / "umt5_xxl_bf16.safetensors")
    vae = small_wan21_vae() if tiny else wan21_vae()
    save_file(original_wan21_vae(vae.state_dict()), models / "vae" / "wan_2.1_vae.safetensors")
    tiny_tokenizer(max_length=512).save_pretrained(models / "google" / "umt5-xxl")


def write_experts(models: Path, kind: str, tiny: bool) -> None:
    """Both experts of random weights in ``kind`` (fp8_scaled, or a GGUF type gguf can write), ComfyUI's names."""
    import gguf
    from safetensors.torch import save_file

    from benchmarks.random_models import random_bf16, wan_a14b_expert
    from tests.assets.release_files import fp8_scaled, original_wan_transformer, write_gguf
    from tests.assets.tiny_models import tiny_wan_transformer

    (models / "diffusion_models").mkdir(parents=True, exist_ok=True)
    for expert in ("high", "low"):
        model = tiny_wan_transformer(attention_head_dim=16) if tiny else random_bf16(wan_a14b_expert, "cpu")
        state = original_wan_transformer(model.state_dict())
        if kind == "fp8_scaled":
            save_file(fp8_scaled(state), models / "diffusion_models" / f"wan2.2_t2v_{expert}_noise_14B_fp8_scaled.safetensors")
        else:
            write_gguf(state, models / "diffusion_models" / f"wan2.2_t2v_{expert}_noise_14B_{kind}.gguf",
                       gguf.GGMLQuantizationType[kind])
        del model, state
        gc.collect()


def write_hunyuan_shared(models: Path, configs: Path) -> None:
    """HunyuanVideo's text encoders, VAE and tokenizers that every format's folder shares (random weights,
    ComfyUI's names)."""
    from diffusers import AutoencoderKLHunyuanVideo
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel

    from benchmarks.random_models import random_bf16
    from tests.assets.release_files import comfyui_clip_l, comfyui_llama, fp8_scaled
    from tests.assets.tiny_models import tiny_tokenizer

    for sub in ("text_encoders", "vae"):
        (models / sub).mkdir(parents=True, exist_ok=True)
    text = models / "text_encoders"
    llama_config = LlamaConfig.from_json_file(configs / "text_encoder" / "config.json")
    llama = random_bf16(lambda: LlamaModel(llama_config), "cpu")
    save_file(comfyui_llama(fp8_scaled(llama.state_dict())), text / "llava_llama3_fp8_scaled.safetensors")
    del llama
    clip_config = CLIPTextConfig.from_json_file(configs / "text_encoder_2" / "config.json")
    clip = random_bf16(lambda: CLIPTextModel(clip_config), "cpu")
    save_file(comfyui_clip_l(clip.state_dict()), text / "clip_l.safetensors")
    vae_config = AutoencoderKLHunyuanVideo.load_config(configs / "vae")
    vae = random_bf16(lambda: AutoencoderKLHunyuanVideo.from_config(vae_config), "cpu")
    save_file(vae.state_dict(), models / "vae" / "hunyuan_video_vae_bf16.safetensors")  # Tencent's names are diffusers'
    tiny_tokenizer(max_length=512).save_pretrained(models / "tokenizer")
    tiny_tokenizer(max_length=77).save_pretrained(models / "tokenizer_2")


def write_hunyuan_transformer(models: Path, kinds: list[str], configs: Path) -> None:
    """The transformer of random weights in each of ``kinds`` (bf16, fp8_scaled, or a GGUF type gguf can write)."""
    import gguf
    from diffusers import HunyuanVideoTransformer3DModel
    from safetensors.torch import save_file

    from benchmarks.random_models import random_bf16
    from tests.assets.release_files import fp8_scaled, original_hunyuan_transformer, write_gguf

    model = random_bf16(lambda: HunyuanVideoTransformer3DModel.from_config(
        HunyuanVideoTransformer3DModel.load_config(configs / "transformer")), "cpu")
    state = {name: tensor.contiguous() for name, tensor in original_hunyuan_transformer(model.state_dict()).items()}
    del model
    for kind in kinds:
        folder = models / kind / "diffusion_models"
        folder.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        if kind == "bf16":
            save_file(state, folder / "hunyuan_video_t2v_720p_bf16.safetensors")
        elif kind == "fp8_scaled":
            save_file(fp8_scaled(state), folder / "hunyuan_video_t2v_720p_fp8_scaled.safetensors")
        else:
            write_gguf(state, folder / f"hunyuan-video-t2v-720p-{kind}.gguf", gguf.GGMLQuantizationType[kind],
                       arch="hyvid")
        print(f"{kind}: file written in {time.perf_counter() - began:.0f} s", flush=True)
        gc.collect()


def run(session, request, out: Path, cuda: bool) -> dict:
    import torch

    session.encode([request])
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times, denoise_peak = [], [0.0]

    def progress(done: int, total: int) -> None:
        if cuda:
            torch.cuda.synchronize()
            denoise_peak[0] = max(denoise_peak[0], torch.cuda.max_memory_allocated() / 2**30)
        times.append(time.perf_counter())

    began = time.perf_counter()
    session.render(request, out, progress)
    weights = session.weights
    result = {"weights": weights.summary() if hasattr(weights, "summary") else "bf16, random, in memory",
              "first_step_s": round(times[0] - began, 2),
              "step_s": round((times[-1] - times[0]) / max(len(times) - 1, 1), 3),
              "denoise_peak_gib": round(denoise_peak[0], 2),
              "shot_peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else 0.0}
    session.close()  # frees the pipeline and empties the CUDA cache before the next case loads
    return result


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    if args.backend == HUNYUAN:
        return hunyuan_main(args, argv)
    import torch

    from benchmarks.random_models import RandomWeightWanSession
    from render_pipeline.backends import checkpoint_search, open_session
    from render_pipeline.backends.base import RenderRequest
    from render_pipeline.shot_layout import MemoryStrategy, Offload, ShotLayout
    from tests.assets.tiny_models import small_wan21_vae

    cuda = torch.cuda.is_available() and not args.tiny
    if args.tiny:
        from tests.assets.tiny_models import build_wan_a14b_folder

        configs = args.work / "configs"
        if not (configs / A14B).exists():
            build_wan_a14b_folder(configs / A14B, attention_head_dim=16, vae=small_wan21_vae())
        # The tiny models' configs stand for the project's full-size ones, as in the tests.
        checkpoint_search.MODEL_CONFIGS = configs
        args.size, args.frames = "32x32", 9
    width, height = (int(v) for v in args.size.split("x"))
    request = RenderRequest(shot_id="bench", prompt="a grey destroyer at dawn, slow push in", negative_prompt="",
                            seed=1, width=width, height=height, fps=16.0, frames=args.frames, steps=args.steps,
                            quality="final")
    layout = ShotLayout(memory=MemoryStrategy(offload=Offload.INACTIVE_EXPERT if args.expert_swap else Offload.NONE,
                                              vae_tiling=True))
    shared = args.work / "shared"
    if not shared.exists():
        write_shared(shared, args.tiny)
    results = []
    for kind in args.formats.split(","):
        if kind == "bf16":
            if not args.write_only:
                device = torch.device("cuda" if cuda else "cpu")
                session = RandomWeightWanSession(layout.memory, device, tiny=args.tiny)
                results.append({"case": kind, **run(session, request, args.work / "bf16.mp4", cuda)})
            continue
        models = args.work / kind
        if not (models / "diffusion_models").exists():
            began = time.perf_counter()
            write_experts(models, kind, args.tiny)
            for sub in ("text_encoders", "vae", "google"):
                (models / sub).symlink_to((shared / sub).resolve())
            print(f"{kind}: files written in {time.perf_counter() - began:.0f} s", flush=True)
        if not args.write_only:
            results.append({"case": kind, **run(open_session(A14B, layout, models), request, models / "s.mp4", cuda)})
    if args.gguf_file is not None and not args.write_only:
        models = args.work / "real-gguf"
        if not models.exists():
            models.mkdir(parents=True)
            for sub in ("text_encoders", "vae", "google"):
                (models / sub).symlink_to((shared / sub).resolve())
        (models / "weights.yaml").write_text(f"{A14B}: {args.gguf_file.resolve()}\n")
        results.append({"case": args.gguf_file.name,
                        **run(open_session(A14B, layout, models), request, models / "s.mp4", cuda)})
    return report(args, argv, results, cuda, width, height)


def hunyuan_main(args: argparse.Namespace, argv: list[str] | None) -> list[dict]:
    """HunyuanVideo: every format, bf16 included, a transformer file beside the shared parts (module docstring)."""
    import torch

    from render_pipeline.backends import checkpoint_search, open_session
    from render_pipeline.backends.base import RenderRequest
    from render_pipeline.shot_layout import MemoryStrategy, ShotLayout

    cuda = torch.cuda.is_available() and not args.tiny
    configs = checkpoint_search.MODEL_CONFIGS / HUNYUAN
    if args.tiny:
        from tests.assets.tiny_models import build_hunyuanvideo_folder

        configs = args.work / "configs" / HUNYUAN
        if not configs.exists():
            build_hunyuanvideo_folder(configs, attention_head_dim=16, rope_axes_dim=(4, 6, 6))
        checkpoint_search.MODEL_CONFIGS = configs.parent  # the tiny configs stand for the full-size ones
        args.size, args.frames = "32x32", 5
    width, height = (int(v) for v in args.size.split("x"))
    request = RenderRequest(shot_id="bench", prompt="a grey destroyer at dawn, slow push in", negative_prompt="",
                            seed=1, width=width, height=height, fps=24.0, frames=args.frames, steps=args.steps,
                            quality="final")
    shared = args.work / "shared"
    if not shared.exists():
        write_hunyuan_shared(shared, configs)
    kinds = args.formats.split(",")
    absent = [kind for kind in kinds if not (args.work / kind / "diffusion_models").exists()]
    if absent:
        write_hunyuan_transformer(args.work, absent, configs)
    models_of = {kind: args.work / kind for kind in kinds}
    if args.gguf_file is not None:
        models_of[args.gguf_file.name] = args.work / "real-gguf"
        (args.work / "real-gguf").mkdir(exist_ok=True)
        (args.work / "real-gguf" / "weights.yaml").write_text(f"{HUNYUAN}: {args.gguf_file.resolve()}\n")
    for models in models_of.values():
        for sub in ("text_encoders", "vae", "tokenizer", "tokenizer_2"):
            if not (models / sub).exists():
                (models / sub).symlink_to((shared / sub).resolve())
    results = []
    if not args.write_only:
        for case, models in models_of.items():
            session = open_session(HUNYUAN, ShotLayout(memory=MemoryStrategy(vae_tiling=True)), models)
            results.append({"case": case, **run(session, request, models / "s.mp4", cuda)})
    return report(args, argv, results, cuda, width, height)


def report(args: argparse.Namespace, argv: list[str] | None, results: list[dict], cuda: bool, width: int,
           height: int) -> list[dict]:
    import torch

    base = next((r["step_s"] for r in results if r["case"] == "bf16"), None)
    for result in results:
        result["step_vs_bf16"] = round(result["step_s"] / base, 3) if base else None
    Results(__file__, args.out, argv, device=torch.cuda.get_device_name() if cuda else "cpu",
            settings={"backend": args.backend, "size": f"{width}x{height}x{args.frames}", "steps": args.steps,
                      "expert_swap": args.expert_swap}).save(results)
    for result in results:
        print(f"{result['case']:>12}: step {result['step_s']:.3f} s ({result['step_vs_bf16']}x bf16), "
              f"denoise peak {result['denoise_peak_gib']} GiB, shot peak {result['shot_peak_gib']} GiB")
    return results


if __name__ == "__main__":
    main()
