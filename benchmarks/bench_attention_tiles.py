"""FlashAttention-4's forward tile sizes on this GPU, at each model's real attention shape (issue 10).

FA4 picks one tile per head size and architecture, tuned on an H100 at shapes of its own. Our
attention calls are few and long (Wan 2.2 A14B at 720p: 75,600 tokens, 40 heads), so this times
each candidate tile on exactly those calls and prints it beside FA4's own choice and SDPA's
default (cuDNN on Hopper). A tile changes the order of the sums only: the error column says how
far each lands from FA4's own choice.

    python -m benchmarks.bench_attention_tiles --models wan-a14b-720p,ti2v-5b --out tiles.json

Needs a Hopper or Blackwell GPU with `pip install -e '.[flash-attention]'`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from benchmarks.harness import Results, out_option

# name: (batch, tokens attended, heads, head_dim, attention calls per forward). CogVideoX and
# HunyuanVideo attend over video and text tokens together (HunyuanVideo's 64-token prompt
# without its padding, as our sessions run it).
SHAPES = {
    "wan-a14b-720p": (1, 21 * 45 * 80, 40, 128, 40),
    "ti2v-5b": (1, 31 * 22 * 40, 24, 128, 30),
    "hunyuanvideo": (1, 33 * 34 * 60 + 64, 24, 128, 60),
    "cogvideox-5b": (2, 13 * 30 * 45 + 226, 48, 64, 42),
}
# (tile_m, tile_n, P kept in registers for the second matmul, overlap of the two matmuls);
# None is FA4's own choice. tile_m is 64 rows per consumer warpgroup (128: two, 192: three).
CANDIDATES = {
    128: [None, (128, 128, False, True), (128, 112, True, True), (128, 144, True, True), (128, 160, True, True),
          (128, 176, True, True), (128, 160, False, True), (128, 176, False, True), (128, 192, True, True),
          (128, 128, True, False), (192, 96, True, True), (192, 128, False, True)],
    64: [None, (128, 128, True, True), (128, 192, True, True), (192, 160, True, True), (192, 192, True, True),
         (192, 128, False, True)],
}


def label(tile) -> str:
    if tile is None:
        return "FA4's own tile"
    tile_m, tile_n, p_in_registers, overlap = tile
    return f"{tile_m}x{tile_n}" + ("" if p_in_registers else " P in smem") + ("" if overlap else " no overlap")


def attention_tflop(batch: int, tokens: int, heads: int, head_dim: int) -> float:
    return 4 * batch * heads * tokens * tokens * head_dim / 1e12


def time_calls(call, calls: int, repeats: int) -> float:
    """Median seconds of one call, over ``repeats`` runs of ``calls`` back-to-back calls."""
    import torch

    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(calls):
            call()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def sweep(name: str, calls: int, repeats: int) -> list[dict]:
    import torch
    import torch.nn.functional as F
    from flash_attn.cute.interface import _flash_attn_fwd

    batch, tokens, heads, head_dim, layers = SHAPES[name]
    generator = torch.Generator("cuda").manual_seed(0)
    q, k, v = (torch.randn((batch, tokens, heads, head_dim), generator=generator, device="cuda",
                           dtype=torch.bfloat16) for _ in range(3))
    tflop = attention_tflop(batch, tokens, heads, head_dim)
    rows = []

    def row(variant: str, seconds: float, out, reference, tile=None, compile_s: float | None = None) -> dict:
        err = float((out.float() - reference).norm() / reference.norm()) if reference is not None else 0.0
        result = dict(model=name, variant=variant, tile=tile, s_per_call=seconds, s_per_forward=seconds * layers,
                      tflops=tflop / seconds, rel_err_vs_fa4_default=err, compile_s=compile_s)
        print(json.dumps(result), flush=True)
        return result

    reference = None
    for tile in CANDIDATES[head_dim]:
        options = {} if tile is None else dict(tile_mn=tile[:2], mma_pv_is_rs=tile[2], intra_wg_overlap=tile[3])

        def call():
            return _flash_attn_fwd(q, k, v, **options)[0]

        try:
            start = time.perf_counter()
            out = call()
            torch.cuda.synchronize()
            compile_s = time.perf_counter() - start
            seconds = time_calls(call, calls, repeats)
        except Exception as exc:  # noqa: BLE001 - a tile the kernel cannot build is a result too
            rows.append(dict(model=name, variant=label(tile), error=f"{type(exc).__name__}: {exc}"[:300]))
            print(json.dumps(rows[-1]), flush=True)
            continue
        reference = out.float() if reference is None else reference
        rows.append(row(label(tile), seconds, out, reference, tile, compile_s))
    # SDPA's default backend takes heads before tokens.
    qt, kt, vt = (t.transpose(1, 2) for t in (q, k, v))
    out = F.scaled_dot_product_attention(qt, kt, vt)
    seconds = time_calls(lambda: F.scaled_dot_product_attention(qt, kt, vt), calls, repeats)
    rows.append(row("SDPA default", seconds, out.transpose(1, 2), reference))
    return rows


def fastest_tile(rows: list[dict]):
    """The tile of the fastest FA4 row that ran (None: FA4's own choice, or no tile ran)."""
    ran = [row for row in rows if "error" not in row and row["variant"] != "SDPA default"]
    return min(ran, key=lambda row: row["s_per_call"])["tile"] if ran else None


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="wan-a14b-720p,ti2v-5b,hunyuanvideo,cogvideox-5b")
    parser.add_argument("--calls", type=int, default=10, help="back-to-back attention calls per timing")
    parser.add_argument("--repeats", type=int, default=3)
    out_option(parser)
    args = parser.parse_args(argv)

    import torch

    from render_pipeline.backends.speed import flash_attention_4_problem

    problem = flash_attention_4_problem(torch.device("cuda"))
    if problem is not None:
        raise SystemExit(f"FlashAttention-4 {problem}")
    env = dict(gpu=torch.cuda.get_device_name(), torch=torch.__version__, cudnn=torch.backends.cudnn.version())
    print(json.dumps(env), flush=True)
    record = Results(__file__, args.out, argv, device=env["gpu"])
    rows, fastest = [], {}
    for name in args.models.split(","):
        timed = sweep(name, args.calls, args.repeats)
        rows += timed
        fastest[name] = fastest_tile(timed)
        record.save(dict(rows=rows, fastest=fastest))
    print(f"\n{'model':<16}{'tile':<26}{'s/forward':>10}{'TFLOP/s':>9}{'rel err':>10}")
    for row in rows:
        if "error" in row:
            print(f"{row['model']:<16}{row['variant']:<26}  {row['error'][:60]}")
        else:
            print(f"{row['model']:<16}{row['variant']:<26}{row['s_per_forward']:>10.3f}{row['tflops']:>9.0f}"
                  f"{row['rel_err_vs_fa4_default']:>10.1e}")
    return rows


if __name__ == "__main__":
    main()
