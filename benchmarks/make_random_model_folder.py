"""Write a full-size model folder with random bf16 weights, in the diffusers layout the backends load.

For measuring the real render path (`render-shot`, `render-all`, the runner's GPU groups and
torchrun) on a machine that cannot download weights: speed and memory do not depend on weight
values, and the folder goes through the same `from_pretrained` as a downloaded one. The pictures
are noise. The tokenizer is a small word-level one (the real one is a download too).

    python scripts/make_random_model_folder.py wan2.2-t2v-a14b /tmp/models     # about 69 GB
    python scripts/make_random_model_folder.py wan2.2-ti2v-5b /tmp/models      # about 22 GB
    python scripts/make_random_model_folder.py wan2.2-ti2v-5b /tmp/m --tiny    # CPU check, tiny sizes
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("backend", choices=["wan2.2-t2v-a14b", "wan2.2-ti2v-5b"])
    parser.add_argument("models_dir", type=Path)
    parser.add_argument("--tiny", action="store_true", help="tiny components (a CPU check of this script)")
    args = parser.parse_args(argv)

    import torch
    from bench_backends import (
        _full_ti2v_transformer,
        _full_umt5,
        _full_wan22_vae,
        _full_wan_expert,
        _full_wan_vae,
        _random_bf16,
    )
    from diffusers import UniPCMultistepScheduler, WanPipeline
    from tiny_models import build_wan_a14b_folder, build_wan_ti2v_5b_folder, tiny_tokenizer

    from render_pipeline.backends.weights import find_model_folder

    folder = find_model_folder(args.backend, args.models_dir)
    a14b = args.backend == "wan2.2-t2v-a14b"
    began = time.perf_counter()
    if args.tiny:
        (build_wan_a14b_folder if a14b else build_wan_ti2v_5b_folder)(folder)
    else:
        if a14b:
            parts = dict(vae=_full_wan_vae().eval(), transformer=_random_bf16(_full_wan_expert, "cpu").eval(),
                         transformer_2=_random_bf16(_full_wan_expert, "cpu").eval(), boundary_ratio=0.875)
        else:
            parts = dict(vae=_full_wan22_vae().eval(), transformer=_random_bf16(_full_ti2v_transformer, "cpu").eval(),
                         transformer_2=None, expand_timesteps=True)
        pipeline = WanPipeline(
            tokenizer=tiny_tokenizer(max_length=512), text_encoder=_random_bf16(_full_umt5, "cpu").eval(),
            scheduler=UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0),
            **parts,
        )
        pipeline.save_pretrained(folder, max_shard_size="10GB")
        del pipeline
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    print(f"{folder}: {size / 1e9:.1f} GB written in {time.perf_counter() - began:.0f} s "
          f"(torch {torch.__version__})", flush=True)
    return folder


if __name__ == "__main__":
    main()
