"""Every layout against the one-process output: 2 CPU processes, gloo, tiny fp32 models.

pytest launches this module once under torchrun (the same launcher the runner uses), as
``-m tests.test_parallel_gloo`` from the repository's root; the ``__main__`` part runs all cases in both processes and rank 0 writes the largest difference of
each case. Not testable on CPU: ring attention (PyTorch's plain SDPA, the only CPU attention
backend with context-parallel support, returns no log-sum-exp; a test below checks the refusal).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs("diffusion")

# Each case with the work each of the two ranks did, so a layout that silently fell back to
# every rank computing everything would fail: tokens a block saw (one process: 48 for Wan, 140
# for HunyuanVideo), transformer calls in a 4-step pipeline (one process: 8 with CFG), calls
# of the (high-noise, low-noise) expert (one process: 6 and 2), batch a block saw (one
# process: 2), elements of a sharded weight (one process: 768 for Wan, 512 for UMT5).
CASES = {
    "wan ulysses2": [24, 24],
    "wan ulysses2 + fsdp": [[24, 384], [24, 384]],
    "wan pipeline cfg2 (decoded)": [[4, "decoded"], [4, "decoded"]],
    "wan pipeline cfg2 + fsdp": [[4, 384], [4, 384]],
    "wan pipeline experts2": [[6, 0], [0, 2]],
    "hunyuanvideo ulysses2 (padded prompt)": [70, 70],
    "cogvideox batched cfg2": [1, 1],
    "umt5 text encoder fsdp": [256, 256],
    "wan bf16 with diffusers' fp32 modules, fsdp": [[384, ["torch.bfloat16", "torch.float32"]]] * 2,
    # The shard each rank fused a LoRA into, and how far the output was from the base after taking it out.
    "wan ulysses2 + fsdp, LoRA fused then taken out": [[384, 0.0], [384, 0.0]],
}


@pytest.fixture(scope="module")
def differences(tmp_path_factory) -> dict:
    from render_pipeline.parallel.launch import torchrun_command

    out = tmp_path_factory.mktemp("gloo") / "differences.json"
    command = torchrun_command(2, ["-m", "tests.test_parallel_gloo", str(out)])
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return json.loads(out.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_layout_matches_one_process(differences: dict, case: str) -> None:
    assert differences[case]["ranks_agree"], case
    assert differences[case]["max_abs_diff"] < 1e-5, differences[case]
    assert differences[case]["work"] == CASES[case]


def test_ring_on_plain_sdpa_is_refused_with_the_fix() -> None:
    from render_pipeline.parallel.context import enable_context_parallel
    from render_pipeline.parallel.layout import LayoutError, ParallelLayout

    with pytest.raises(LayoutError, match="ring attention needs an attention backend.*'native'.*ulysses"):
        enable_context_parallel(tiny_wan(), ParallelLayout(world_size=2, ring=2), mesh=None)


def test_a_shot_whose_tokens_do_not_split_is_refused_before_rendering() -> None:
    from render_pipeline.parallel.apply import check_shot
    from render_pipeline.parallel.layout import LayoutError, ParallelLayout

    pipeline = tiny_wan_pipeline(1)
    check_shot(pipeline, ParallelLayout(world_size=2, ulysses=2), frames=5, height=32, width=32)
    with pytest.raises(LayoutError, match="ring 3 x ulysses 1 = 3 does not divide the 8 video tokens"):
        check_shot(pipeline, ParallelLayout(world_size=3, ring=3), frames=5, height=32, width=32)


# ---- tiny models (fixed seeds, so every process builds identical weights) ----

def tiny_wan(seed: int = 0):
    import torch
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=16, freq_dim=16, ffn_dim=32, num_layers=2, cross_attn_norm=True, rope_max_seq_len=32,
    ).eval()


def tiny_wan_pipeline(experts: int):
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True]).eval()
    return WanPipeline(
        tokenizer=None, text_encoder=None, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        transformer=tiny_wan(1), transformer_2=tiny_wan(2) if experts == 2 else None,
        boundary_ratio=0.5 if experts == 2 else None,
    )


def run_wan_pipeline(pipeline, output_type: str):
    import torch

    generator = torch.Generator().manual_seed(3)
    text = torch.randn(1, 6, 16, generator=generator)
    negative = torch.randn(1, 6, 16, generator=generator)
    return pipeline(
        prompt_embeds=text, negative_prompt_embeds=negative, height=32, width=32, num_frames=5,
        num_inference_steps=4, guidance_scale=4.0, guidance_scale_2=3.0 if pipeline.transformer_2 else None,
        generator=torch.Generator().manual_seed(4), output_type=output_type, return_dict=False,
    )[0]


def tiny_hunyuan():
    import torch
    from diffusers import HunyuanVideoTransformer3DModel

    torch.manual_seed(0)
    return HunyuanVideoTransformer3DModel(
        in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=10, num_layers=1,
        num_single_layers=1, num_refiner_layers=1, patch_size=1, patch_size_t=1, guidance_embeds=True,
        text_embed_dim=16, pooled_projection_dim=8, rope_axes_dim=(2, 4, 4),
    ).eval()


def tiny_cogvideox():
    import torch
    from diffusers import CogVideoXTransformer3DModel

    torch.manual_seed(0)
    return CogVideoXTransformer3DModel(
        num_attention_heads=4, attention_head_dim=8, in_channels=4, out_channels=4, time_embed_dim=2,
        text_embed_dim=8, num_layers=1, sample_width=8, sample_height=8, sample_frames=8, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=8,
    ).eval()


def tiny_umt5():
    import torch
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    config = UMT5Config(vocab_size=64, d_model=16, d_kv=8, d_ff=32, num_layers=2, num_heads=2)
    return UMT5EncoderModel(config).eval()


# ---- the two-process side ----

def _run_cases(out_path: str) -> None:
    import torch
    import torch.distributed as dist

    from render_pipeline.parallel.apply import apply_layout
    from render_pipeline.parallel.fsdp import shard_weights
    from render_pipeline.parallel.layout import ParallelLayout
    from render_pipeline.parallel.mesh import build_mesh

    dist.init_process_group("gloo")
    # diffusers picks the context-parallel device as rank % accelerator count, which is 0 on a
    # CPU-only machine; one CPU "device" is the truth here.
    torch.accelerator.device_count = lambda: 1
    rank = dist.get_rank()
    generator = torch.Generator().manual_seed(9)
    results = {}

    def record(case: str, reference: torch.Tensor, output: torch.Tensor, work) -> None:
        works = [None, None]
        dist.all_gather_object(works, work)
        difference = torch.tensor([(output - reference).abs().max().item()])
        mine = output.flatten()[:64].clone()
        other = mine.clone()
        dist.broadcast(other, src=0)
        agree = torch.tensor([float(torch.equal(mine, other))])
        dist.all_reduce(difference, op=dist.ReduceOp.MAX)
        dist.all_reduce(agree, op=dist.ReduceOp.MIN)
        results[case] = {"max_abs_diff": difference.item(), "ranks_agree": bool(agree.item()), "work": works}

    def layout(**degrees) -> tuple[ParallelLayout, object]:
        chosen = ParallelLayout(world_size=2, **degrees)
        return chosen, build_mesh(chosen, "cpu")

    def watch(module: torch.nn.Module, what) -> list:
        """Record ``what(inputs)`` each time ``module`` runs: the evidence of the work this rank did."""
        seen = []

        def remember(_, args, kwargs) -> None:
            inputs = args or (kwargs["hidden_states"], kwargs.get("encoder_hidden_states"))
            seen.append(what(inputs))

        module.register_forward_pre_hook(remember, with_kwargs=True)
        return seen

    def tokens(inputs) -> int:
        return inputs[0].shape[1]

    def local_size(parameter) -> int:
        return parameter.to_local().numel()

    latents = torch.randn(1, 16, 3, 8, 8, generator=generator)
    text = torch.randn(1, 6, 16, generator=generator)
    wan_inputs = dict(hidden_states=latents, timestep=torch.tensor([500]), encoder_hidden_states=text,
                      return_dict=False)
    with torch.no_grad():
        reference = tiny_wan()(**wan_inputs)[0]
        model = tiny_wan()
        apply_layout(model, *layout(ulysses=2))
        seen = watch(model.blocks[1], tokens)
        record("wan ulysses2", reference, model(**wan_inputs)[0], seen[0])

        model = tiny_wan()
        apply_layout(model, *layout(ulysses=2, fsdp=True))
        seen = watch(model.blocks[1], tokens)
        output = model(**wan_inputs)[0]
        record("wan ulysses2 + fsdp", reference, output, [seen[0], local_size(model.blocks[0].ffn.net[0].proj.weight)])

        reference = run_wan_pipeline(tiny_wan_pipeline(1), "np")
        pipeline = tiny_wan_pipeline(1)
        apply_layout(pipeline, *layout(cfg=2))
        calls = watch(pipeline.transformer.proj_out, tokens)
        # The layout leaves the VAE whole on every rank (each may encode an image); which rank decodes
        # is the session's choice (tests/test_backends_wan.py).
        video = torch.from_numpy(run_wan_pipeline(pipeline, "np"))
        record("wan pipeline cfg2 (decoded)", torch.from_numpy(reference), video, [len(calls), "decoded"])

        reference = run_wan_pipeline(tiny_wan_pipeline(1), "latent")
        pipeline = tiny_wan_pipeline(1)
        apply_layout(pipeline, *layout(cfg=2, fsdp=True))
        calls = watch(pipeline.transformer.proj_out, tokens)
        output = run_wan_pipeline(pipeline, "latent")
        shard = local_size(pipeline.transformer.blocks[0].ffn.net[0].proj.weight)
        record("wan pipeline cfg2 + fsdp", reference, output, [len(calls), shard])

        reference = run_wan_pipeline(tiny_wan_pipeline(2), "latent")
        pipeline = tiny_wan_pipeline(2)
        apply_layout(pipeline, *layout(experts=2))
        high, low = (watch(expert.proj_out, tokens) for expert in (pipeline.transformer, pipeline.transformer_2))
        output = run_wan_pipeline(pipeline, "latent")
        record("wan pipeline experts2", reference, output, [len(high), len(low)])

        mask = torch.zeros(1, 12, dtype=torch.bool)
        mask[:, :7] = True  # a prompt of 7 tokens padded to 12: the padding must stay masked
        hunyuan_inputs = dict(
            hidden_states=torch.randn(1, 4, 2, 8, 8, generator=generator), timestep=torch.tensor([500]),
            encoder_hidden_states=torch.randn(1, 12, 16, generator=generator), encoder_attention_mask=mask,
            pooled_projections=torch.randn(1, 8, generator=generator), guidance=torch.tensor([6000.0]),
            return_dict=False,
        )
        reference = tiny_hunyuan()(**hunyuan_inputs)[0]
        model = tiny_hunyuan()
        apply_layout(model, *layout(ulysses=2))
        seen = watch(model.single_transformer_blocks[0], lambda inputs: inputs[0].shape[1] + inputs[1].shape[1])
        record("hunyuanvideo ulysses2 (padded prompt)", reference, model(**hunyuan_inputs)[0], seen[0])

        cogvideox_inputs = dict(
            hidden_states=torch.randn(2, 2, 4, 8, 8, generator=generator),
            encoder_hidden_states=torch.randn(2, 8, 8, generator=generator),
            timestep=torch.tensor([500, 500]), return_dict=False,
        )
        reference = tiny_cogvideox()(**cogvideox_inputs)[0]
        model = tiny_cogvideox()
        apply_layout(model, *layout(cfg=2))
        seen = watch(model.transformer_blocks[0], lambda inputs: inputs[0].shape[0])
        record("cogvideox batched cfg2", reference, model(**cogvideox_inputs)[0], seen[0])

        from render_pipeline.backends.base import LoraFile
        from render_pipeline.backends.lora_fuse import FusedLoras
        from tests.tiny_loras import random_lora, save_wan_original

        lora = random_lora(tiny_wan(), ["blocks.0.ffn.net.0.proj", "blocks.1.attn1.to_q", "proj_out",
                                        "condition_embedder.time_proj"])
        loras = (LoraFile(save_wan_original(Path(out_path).with_name(f"look{rank}.safetensors"), lora, 2.0), "", 0.75),)
        base = tiny_wan()(**wan_inputs)[0]
        model = tiny_wan()
        FusedLoras("wan2.2-t2v-a14b", torch.device("cpu")).use(loras, {"transformer": model})
        reference = model(**wan_inputs)[0]
        model = tiny_wan()
        apply_layout(model, *layout(ulysses=2, fsdp=True))
        fused = FusedLoras("wan2.2-t2v-a14b", torch.device("cpu"))
        fused.use(loras, {"transformer": model})
        output = model(**wan_inputs)[0]
        fused.use((), {"transformer": model})
        restored = (model(**wan_inputs)[0] - base).abs().max().item()
        record("wan ulysses2 + fsdp, LoRA fused then taken out", reference, output,
               [local_size(model.blocks[0].ffn.net[0].proj.weight), restored])

        tokens_in = torch.randint(0, 64, (1, 10), generator=generator)
        reference = tiny_umt5()(input_ids=tokens_in).last_hidden_state
        encoder = tiny_umt5()
        shard_weights(encoder, layout(cfg=2)[1].everyone)
        output = encoder(input_ids=tokens_in).last_hidden_state
        shard = local_size(encoder.encoder.block[0].layer[1].DenseReluDense.wo.weight)
        record("umt5 text encoder fsdp", reference, output, shard)

        # Loaded as the sessions load it: bf16, with the modules diffusers keeps in fp32 (its modulation
        # tables and norms) beside bf16 weights in every block.
        def as_loaded():
            model = tiny_wan().to(torch.bfloat16)
            for name, module in model.named_modules():
                if any(keep in name.split(".") for keep in model._keep_in_fp32_modules):
                    module.to(torch.float32)
            for name, parameter in model.named_parameters():
                if name.split(".")[-1] in model._keep_in_fp32_modules:
                    parameter.data = parameter.data.float()
            return model

        bf16_inputs = {**wan_inputs, "hidden_states": latents.bfloat16(), "encoder_hidden_states": text.bfloat16()}
        reference = as_loaded()(**bf16_inputs)[0]
        model = as_loaded()
        dtypes = sorted({str(parameter.dtype) for parameter in model.parameters()})
        shard_weights(model, layout(cfg=2)[1].everyone)
        output = model(**bf16_inputs)[0]
        record("wan bf16 with diffusers' fp32 modules, fsdp", reference.float(), output.float(),
               [local_size(model.blocks[0].ffn.net[0].proj.weight), dtypes])

    if rank == 0:
        Path(out_path).write_text(json.dumps(results, indent=2))
    dist.destroy_process_group()


if __name__ == "__main__":
    _run_cases(sys.argv[1])
