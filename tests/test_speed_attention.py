"""FlashAttention-4: used where it can run, for the denoising only, and named where it cannot (issue 10)."""

import contextlib
import importlib
import sys
import types

import pytest

from render_pipeline.doctor import check_flash_attention
from render_pipeline.planner.gpus import CATALOGUE
from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

import torch  # noqa: E402

from render_pipeline.backends import diffusion, open_session, speed  # noqa: E402
from render_pipeline.backends.base import RenderRequest  # noqa: E402
from tests.assets.tiny_models import build_wan_ti2v_5b_folder  # noqa: E402


def test_the_reason_flash_attention_4_cannot_run_names_the_fix(monkeypatch):
    assert speed.flash_attention_4_problem(torch.device("cpu")) == "needs a CUDA GPU"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a machine without a GPU, whatever this one has
    assert speed.flash_attention_4_problem(torch.device("cuda")) == "needs a CUDA GPU"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    assert "Hopper or Blackwell" in speed.flash_attention_4_problem(torch.device("cuda"))
    assert "this one is 8.0" in speed.flash_attention_4_problem(torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    # This torch (2.13) can serve SDPA with FA4; CI does not install flash-attn-4.
    assert speed.flash_attention_4_problem(torch.device("cuda")) == f"not installed ({speed.FLASH_ATTENTION_4_FIX})"


def test_an_install_that_fails_its_first_call_is_not_used(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    monkeypatch.setattr(speed, "flash_attention_4_installed", lambda: True)

    @contextlib.contextmanager
    def broken():
        raise RuntimeError("DSL compile failed: unsupported cutlass-dsl")
        yield

    monkeypatch.setattr(speed, "flash_attention_4", broken)
    problem = speed.flash_attention_4_problem(torch.device("cuda"))
    assert problem.startswith("is installed but failed a first call (RuntimeError: DSL compile failed")


def test_doctor_suggests_it_on_hopper_only(monkeypatch):
    import render_pipeline.planner.gpus as gpus

    h200 = CATALOGUE["H200"]
    monkeypatch.setattr(gpus, "detect_gpus", lambda: [type(h200)(**{**vars(h200), "name": "NVIDIA H200"})])
    [check] = check_flash_attention()
    assert check.status == "warn" and check.fix == speed.FLASH_ATTENTION_4_FIX
    a100 = CATALOGUE["A100 80GB"]
    monkeypatch.setattr(gpus, "detect_gpus", lambda: [type(a100)(**{**vars(a100), "name": "NVIDIA A100-SXM4-80GB"})])
    assert check_flash_attention() == []


def test_the_session_denoises_inside_flash_attention_4_and_decodes_outside_it(tmp_path, monkeypatch, capfd):
    build_wan_ti2v_5b_folder(tmp_path / "models" / "Wan2.2-TI2V-5B-Diffusers")
    inside = []

    @contextlib.contextmanager
    def recording():
        inside.append(True)
        try:
            yield
        finally:
            inside.append(False)

    monkeypatch.setattr(diffusion, "flash_attention_4", recording)
    monkeypatch.setattr(diffusion, "flash_attention_4_problem", lambda device: None)
    session = open_session("wan2.2-ti2v-5b", None, tmp_path / "models")
    during = {}
    session_decode = session.decoded_chunks

    def decoded_chunks(pipeline, latents):
        during["decode"] = inside[-1]
        return session_decode(pipeline, latents)

    monkeypatch.setattr(session, "decoded_chunks", decoded_chunks)
    request = RenderRequest(shot_id="s01", prompt="a lighthouse", negative_prompt="", seed=1, width=32, height=32,
                            fps=16.0, frames=5, steps=2, quality="draft")

    def report(done, total):
        during.setdefault("steps", inside[-1])

    session.render(request, tmp_path / "s01.mp4", report)
    assert during == {"steps": True, "decode": False}
    assert (tmp_path / "s01.mp4").stat().st_size > 0
    assert "attention FlashAttention-4" in capfd.readouterr().out


def test_without_it_the_session_says_why(tmp_path, capfd):
    build_wan_ti2v_5b_folder(tmp_path / "models" / "Wan2.2-TI2V-5B-Diffusers")
    session = open_session("wan2.2-ti2v-5b", None, tmp_path / "models")
    request = RenderRequest(shot_id="s01", prompt="a lighthouse", negative_prompt="", seed=1, width=32, height=32,
                            fps=16.0, frames=5, steps=1, quality="draft")
    session.render(request, tmp_path / "s01.mp4", lambda done, total: None)
    assert not session.flash_attention_4
    assert "attention SDPA default (FlashAttention-4 needs a CUDA GPU)" in capfd.readouterr().out


def test_finding_flash_attention_4_imports_nothing(tmp_path, monkeypatch):
    """FlashAttention 2 is also called flash_attn, and importing it loads torch: the planner must not."""
    package = tmp_path / "flash_attn"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert not speed.flash_attention_4_installed()  # FlashAttention 2 alone
    (package / "cute").mkdir()
    (package / "cute" / "interface.py").write_text("")
    assert speed.flash_attention_4_installed()
    assert speed.gpu_runs_flash_attention_4("NVIDIA H100 80GB HBM3") and speed.gpu_runs_flash_attention_4("H200")
    assert not speed.gpu_runs_flash_attention_4("NVIDIA A100-SXM4-80GB")


@pytest.fixture
def fake_flash_attention_4(monkeypatch):
    """flash_attn.cute.interface as FA4 installs it, recording the options its forward is called with."""
    calls = []
    interface = types.ModuleType("flash_attn.cute.interface")
    interface._flash_attn_fwd = lambda q, k, v, **options: calls.append(options) or (q, None)
    interface._flash_attn_bwd = lambda *args, **options: None
    for name, module in (("flash_attn", types.ModuleType("flash_attn")),
                         ("flash_attn.cute", types.ModuleType("flash_attn.cute")),
                         ("flash_attn.cute.interface", interface)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "render_pipeline.backends.flash_attention_4_tiles", raising=False)
    return calls


def test_on_a_hopper_gpu_flash_attention_4_gets_the_tile_measured_fastest(fake_flash_attention_4, monkeypatch):
    """128x192 ran Wan A14B's attention 1.029x faster than FA4's own 128x128 on an H200
    (docs/benchmarks.md, sixth run); a head size without a measured tile, or Blackwell, keeps FA4's."""
    tiles = importlib.import_module("render_pipeline.backends.flash_attention_4_tiles")
    query = torch.zeros(1, 16, 2, 128)
    capability = (9, 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    tiles._flash_attn_fwd(query, query, query, softmax_scale=0.5)
    assert fake_flash_attention_4[-1] == dict(softmax_scale=0.5, tile_mn=(128, 192), mma_pv_is_rs=True,
                                              intra_wg_overlap=True)
    tiles._flash_attn_fwd(query[..., :64], query[..., :64], query[..., :64], softmax_scale=0.5)  # CogVideoX
    assert fake_flash_attention_4[-1] == dict(softmax_scale=0.5)
    capability = (10, 0)
    tiles._flash_attn_fwd(query, query, query)
    assert fake_flash_attention_4[-1] == {}


def test_the_session_serves_sdpa_from_the_tiled_module_and_restores_the_default(fake_flash_attention_4):
    from torch.nn import attention
    from torch.nn.attention import _fa4

    with speed.flash_attention_4():
        assert attention.current_flash_attention_impl() == speed.FLASH_ATTENTION_4_TILED
        assert _fa4._FA4_MODULE_PATH == "render_pipeline.backends.flash_attention_4_tiles"
    assert attention.current_flash_attention_impl() is None
