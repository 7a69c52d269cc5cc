"""`validate` with LoRAs and per-shot sampling: files that do not fit are refused at their line, fast, without torch."""

from __future__ import annotations

import subprocess
import sys

from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from render_pipeline.cli import app
from tests.conftest import EXAMPLES

BOARD = """\
version: 1
title: LoRA Test
defaults:
  backend: {backend}
  loras:
    - {{path: look.safetensors, weight: 0.5}}
shots:
  - id: a
    duration: 2
    prompt: "A harbor at dawn"
  - id: b
    duration: 2
    prompt: "A ship at sea"
    loras:
      - {{path: look.safetensors}}
      - {{path: other.safetensors, weight: 0.8, expert: {expert}}}
"""


def write_loras(width: int = 5120) -> None:
    name = "diffusion_model.blocks.0.self_attn.q"
    save_file({f"{name}.lora_down.weight": torch.zeros(4, width), f"{name}.lora_up.weight": torch.zeros(width, 4)},
              "look.safetensors")
    # A HunyuanVideo LoRA, in diffusers' naming.
    save_file({f"transformer.transformer_blocks.{i}.attn.{p}.lora_{ab}.weight": torch.zeros(4, 4)
               for i in (0, 19) for p in ("to_q", "add_q_proj") for ab in "AB"}, "other.safetensors")


def validate(write_storyboard, text: str):
    write_storyboard(text)
    return CliRunner().invoke(app, ["validate", "sb.yaml"])


def test_a_lora_for_another_model_is_refused_at_its_path(write_storyboard):
    write_loras()
    result = validate(write_storyboard, BOARD.format(backend="wan2.2-t2v-a14b", expert="both"))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "sb.yaml:16:16: shots[1].loras[1].path: other.safetensors does not fit wan2.2-t2v-a14b: 8 of its 8 tensors "
        "match no module of wan2.2-t2v-a14b's transformer, or one of another size (first: "
        "transformer.transformer_blocks.0.attn.add_q_proj.lora_A.weight); it looks like a LoRA for HunyuanVideo",
        "1 problem found; nothing was rendered.",
    ]


def test_a_default_lora_that_does_not_fit_is_reported_once(write_storyboard):
    write_loras(width=3072)
    result = validate(write_storyboard, BOARD.format(backend="wan2.2-t2v-a14b", expert="both"))
    lines = result.stderr.splitlines()
    assert lines[0].startswith("sb.yaml:6:14: defaults.loras[0].path: look.safetensors does not fit wan2.2-t2v-a14b: "
                               "2 of its 2 tensors")
    assert lines[0].endswith("it looks like a LoRA for Wan 2.2 TI2V-5B")
    assert lines[1].startswith("sb.yaml:15:16: shots[1].loras[0].path: look.safetensors does not fit")
    assert lines[-1] == "3 problems found; nothing was rendered."  # and shot b's HunyuanVideo LoRA


def test_one_expert_on_a_one_transformer_model_is_refused(write_storyboard):
    write_loras(width=3072)
    result = validate(write_storyboard, BOARD.format(backend="wan2.2-ti2v-5b", expert="high"))
    assert "sb.yaml:16:56: shots[1].loras[1].expert: expert: high picks one of Wan 2.2 A14B's two experts, but " \
           "wan2.2-ti2v-5b has one transformer; use expert: both (or leave it out)" in result.stderr.splitlines()


def test_auto_shots_are_checked_once_the_plan_has_chosen(write_storyboard):
    write_loras()
    result = validate(write_storyboard, BOARD.format(backend="auto", expert="high"))
    assert result.exit_code == 0, result.output


def test_sampling_a_model_has_no_use_for_is_a_warning(write_storyboard):
    result = validate(write_storyboard, """\
version: 1
title: Sampling
defaults: {backend: cogvideox-5b, shift: 3}
shots:
  - {id: a, duration: 2, prompt: "A harbor", guidance_2: 2}
  - {id: b, duration: 2, prompt: "A ship", backend: wan2.2-t2v-a14b, guidance: 1, guidance_2: 2}
""")
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "sb.yaml:3:42: defaults.shift: cogvideox-5b samples without a flow shift; shift is ignored (warning)",
        "sb.yaml:5:58: shots[0].guidance_2: guidance_2 is Wan 2.2 A14B's low-noise expert's; cogvideox-5b ignores it "
        "(warning)",
        "sb.yaml:6:95: shots[1].guidance_2: guidance 1 turns classifier-free guidance off for both experts; "
        "guidance_2 is ignored (warning)",
    ]


def test_the_example_with_loras_validates_without_importing_torch():
    example = EXAMPLES / "night-crossing.yaml"
    result = CliRunner().invoke(app, ["validate", str(example)])
    assert result.exit_code == 0 and result.stderr == "", result.output
    code = ("import sys; from render_pipeline.storyboard import load_storyboard; "
            f"board = load_storyboard({str(example)!r}); "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'numpy') if m in sys.modules), "
            "[len(shot.loras) for shot in board.shots], [shot.steps for shot in board.shots])")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[] [1, 3, 1] [None, 4, 12]"
