"""MusicGen through transformers (``MusicgenForConditionalGeneration``), weights from a local folder.

Put a MusicGen checkpoint (facebook/musicgen-small, -medium, -large or -stereo-*, with its
tokenizer files) in ``<models dir>/musicgen``. The models were trained on 30-second clips,
so longer cues are made window by window: each new window continues from the last
seconds of audio so far, given as the audio prompt, the way audiocraft extends a piece
(audiocraft itself pins torch 2.1 and cannot be used beside current torch).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from render_pipeline.audio.wav import resample

WEIGHTS_FOLDER = "musicgen"
WINDOW_SECONDS = 30.0
CONTEXT_SECONDS = 10.0


def musicgen_folder(models_dir: Path) -> Path | None:
    """The local MusicGen checkpoint, or None when there is none (the score is procedural then)."""
    folder = models_dir / WEIGHTS_FOLDER
    return folder if (folder / "config.json").is_file() else None


def render_musicgen(folder: Path, prompt: str, seconds: float, seed: int) -> np.ndarray:
    """``seconds`` of stereo 48 kHz music for ``prompt``, the same for the same seed."""
    import torch
    from transformers import AutoTokenizer, MusicgenForConditionalGeneration

    model = MusicgenForConditionalGeneration.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    rate = model.config.audio_encoder.sampling_rate
    frames_per_second = model.config.audio_encoder.frame_rate
    hop = round(rate / frames_per_second)
    text = tokenizer([prompt], return_tensors="pt", padding=True)
    wanted = int(round(seconds * rate))
    torch.manual_seed(seed)

    audio = np.zeros((model.config.decoder.audio_channels, 0), dtype=np.float32)
    with torch.inference_mode():
        while audio.shape[1] < wanted:
            # A whole number of codec frames of context, so the prompt's codes decode back to it exactly.
            context = audio[:, audio.shape[1] - (int(CONTEXT_SECONDS * rate) // hop) * hop:] if audio.size else audio
            new_seconds = min(WINDOW_SECONDS - context.shape[1] / rate, (wanted - audio.shape[1]) / rate)
            prompt_audio = {"input_values": torch.from_numpy(context)[None]} if context.size else {}
            # The codebooks are generated with a delay pattern that eats up to one step per codebook.
            steps = math.ceil(new_seconds * frames_per_second) + model.decoder.num_codebooks
            generated = model.generate(**text, **prompt_audio, do_sample=True, max_new_tokens=steps)
            piece = generated[0].float().numpy()[:, context.shape[1]:]
            if piece.shape[1] == 0:
                raise RuntimeError(f"MusicGen in {folder} produced no new audio; is the checkpoint complete?")
            audio = np.concatenate([audio, piece], axis=1)

    channels = [resample(channel, rate) for channel in audio[:, :wanted]]
    if len(channels) == 1:
        channels *= 2
    return np.stack(channels, axis=1)
