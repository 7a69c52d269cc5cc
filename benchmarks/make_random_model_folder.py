"""Write a full-size model folder with random bf16 weights, in the diffusers layout the backends load.

For measuring the real render path (`render-shot`, `render-all`, the runner's GPU groups and
torchrun) on a machine that cannot download weights: speed and memory do not depend on weight
values, and the folder goes through the same `from_pretrained` as a downloaded one. The pictures
are noise. The tokenizer is a small word-level one (the real one is a download too).

    python -m benchmarks.make_random_model_folder wan2.2-t2v-a14b /tmp/models     # about 69 GB
    python -m benchmarks.make_random_model_folder wan2.2-ti2v-5b /tmp/models      # about 22 GB
    python -m benchmarks.make_random_model_folder wan2.2-ti2v-5b /tmp/m --tiny    # CPU check, tiny sizes
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.harness import Results, out_option


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("backend", choices=["wan2.2-t2v-a14b", "wan2.2-ti2v-5b"])
    parser.add_argument("models_dir", type=Path)
    parser.add_argument("--tiny", action="store_true", help="tiny components (a CPU check of this script)")
    out_option(parser)
    args = parser.parse_args(argv)

    import torch
    from diffusers import UniPCMultistepScheduler, WanPipeline

    from benchmarks.random_models import (
        random_bf16,
        umt5_xxl_encoder,
        wan21_vae,
        wan22_vae,
        wan_a14b_expert,
        wan_ti2v_5b_transformer,
    )
    from render_pipeline.backends.weights import find_model_folder
    from tests.assets.tiny_models import build_wan_a14b_folder, build_wan_ti2v_5b_folder, tiny_tokenizer

    folder = find_model_folder(args.backend, args.models_dir)
    a14b = args.backend == "wan2.2-t2v-a14b"
    began = time.perf_counter()
    if args.tiny:
        (build_wan_a14b_folder if a14b else build_wan_ti2v_5b_folder)(folder)
    else:
        if a14b:
            parts = dict(vae=wan21_vae().eval(), transformer=random_bf16(wan_a14b_expert, "cpu").eval(),
                         transformer_2=random_bf16(wan_a14b_expert, "cpu").eval(), boundary_ratio=0.875)
        else:
            parts = dict(vae=wan22_vae().eval(), transformer=random_bf16(wan_ti2v_5b_transformer, "cpu").eval(),
                         transformer_2=None, expand_timesteps=True)
        pipeline = WanPipeline(
            tokenizer=tiny_tokenizer(max_length=512), text_encoder=random_bf16(umt5_xxl_encoder, "cpu").eval(),
            scheduler=UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0),
            **parts,
        )
        pipeline.save_pretrained(folder, max_shard_size="10GB")
        del pipeline
    seconds = time.perf_counter() - began
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    print(f"{folder}: {size / 1e9:.1f} GB written in {seconds:.0f} s (torch {torch.__version__})", flush=True)
    Results(__file__, args.out, argv, settings={"backend": args.backend, "tiny": args.tiny}).save(
        {"folder": str(folder), "bytes": size, "seconds": round(seconds, 1)})
    return folder


if __name__ == "__main__":
    main()
