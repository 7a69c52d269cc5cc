"""An optional local language model that rewrites a shot's prompt; off unless a model folder is given.

The rule-based stage stays in charge: the rewriter only sees the prompt after on-screen text
was taken out, and its answer is used only if it is non-empty and brings none of that text back
(enhance.py checks). The model is a transformers causal-LM folder on disk: nothing is downloaded,
and generation is greedy, so a rerun gives the same prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

from render_pipeline.errors import UserError

# rewrite(prompt) -> rewritten prompt
Rewriter = Callable[[str], str]

INSTRUCTION = (
    "Rewrite the shot description below as one vivid paragraph for a text-to-video model. Keep every "
    "subject, action, place and lighting detail. Do not add any written words, signs, captions or quotes."
)
MAX_NEW_TOKENS = 200


def local_rewriter(model_dir: Path) -> Rewriter:
    """Load a local transformers text-generation model folder once; return a rewrite function."""
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise UserError(f"--rewriter {model_dir}: not a transformers model folder (no config.json)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    model.eval()

    def rewrite(prompt: str) -> str:
        import torch

        request = f"{INSTRUCTION}\n\nShot: {prompt}\n\nRewritten:"
        if tokenizer.chat_template:
            # tokenize=False gives the text; transformers annotates the return of every mode together.
            request = cast(str, tokenizer.apply_chat_template([{"role": "user", "content": request}], tokenize=False,
                                                              add_generation_prompt=True))
        inputs = tokenizer(request, return_tensors="pt")
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
        # One sequence decodes to one str (a batch would give a list).
        answer = cast(str, tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))
        return " ".join(answer.strip().split("\n\n")[0].split())

    return rewrite
