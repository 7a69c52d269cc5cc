"""The XTTS v2 worker: runs inside the XTTS environment (xtts_env.py), never in render-pipeline's own.

It imports only the standard library, numpy, torch and coqui-tts, so it runs as a plain file
with that environment's python. Started once per run, it loads the model once and then
answers JSON lines on stdin with JSON lines on stdout:

    -> {"text": "...", "language": "en", "reference": "<22.05 kHz mono 16-bit WAV>",
        "latents_key": "<the voice and the weights, hashed>", "out": "<WAV to write>"}
    <- {"ok": true, "seconds": 1.9}          or   {"error": "what went wrong"}

The first line it prints is {"ready": true, "device": "cuda" | "cpu", "rate": 24000} once the
model is loaded, or {"error": ...} when the weights do not load. Speaker latents are computed once per reference recording and kept in
``--latents`` as <latents key>.pt. ``--check`` prints the versions and exits.
"""

from __future__ import annotations

import argparse
import json
import sys
import wave
from importlib import metadata
from pathlib import Path

REFERENCE_RATE = 22_050  # the rate XTTS computes its conditioning latents at


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--latents", type=Path)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    # coqui-tts and transformers print to stdout; stdout carries the protocol only.
    protocol, sys.stdout = sys.stdout, sys.stderr
    if args.check:
        import torch

        _send(protocol, {"coqui-tts": metadata.version("coqui-tts"), "torch": torch.__version__,
                         "cuda": torch.cuda.is_available()})
        return
    try:
        model, device = _load(args.weights)
    except Exception as error:  # unreadable or mismatched weights: the parent says which folder and the fix
        _send(protocol, {"error": f"{type(error).__name__}: {error}"})
        return
    _send(protocol, {"ready": True, "device": device, "rate": model.config.audio.output_sample_rate})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            seconds = _speak(model, request, args.latents)
        except Exception as error:  # the parent turns this into a UserError naming the sentence
            _send(protocol, {"error": f"{type(error).__name__}: {error}"})
        else:
            _send(protocol, {"ok": True, "seconds": seconds})


def _send(protocol, message: dict) -> None:
    protocol.write(json.dumps(message) + "\n")
    protocol.flush()


def _load(weights: Path):
    import torch
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import Xtts

    config = XttsConfig()
    config.load_json(str(weights / "config.json"))
    model = Xtts(config)
    model.load_checkpoint(config, checkpoint_dir=str(weights), eval=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return model.to(device), device


def _latents(model, reference: Path, key: str, folder: Path):
    """(GPT conditioning latents, speaker embedding) of a recording, from ``folder`` when kept there."""
    import numpy as np
    import torch

    kept = folder / f"{key}.pt"
    if kept.is_file():
        stored = torch.load(kept, map_location="cpu", weights_only=True)
        return stored["gpt"], stored["speaker"]
    with wave.open(str(reference), "rb") as source:
        samples = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2").astype(np.float32) / 32768
    audio = torch.from_numpy(samples)[None].to(model.device)
    config = model.config
    gpt = model.get_gpt_cond_latents(audio, REFERENCE_RATE, length=config.gpt_cond_len,
                                     chunk_length=config.gpt_cond_chunk_len).cpu()
    speaker = model.get_speaker_embedding(audio, REFERENCE_RATE).cpu()
    folder.mkdir(parents=True, exist_ok=True)
    partial = kept.with_suffix(".partial")
    torch.save({"gpt": gpt, "speaker": speaker}, partial)
    partial.replace(kept)
    return gpt, speaker


def _speak(model, request: dict, latents_folder: Path) -> float:
    import numpy as np
    import torch

    gpt, speaker = _latents(model, Path(request["reference"]), request["latents_key"], latents_folder)
    torch.manual_seed(0)  # the same text and voice give the same take
    config = model.config
    settings = {key: config[key] for key in ("temperature", "length_penalty", "repetition_penalty", "top_k", "top_p")}
    samples = np.asarray(model.inference(request["text"], request["language"], gpt, speaker, **settings)["wav"])
    rate = config.audio.output_sample_rate
    pcm = (np.clip(samples, -1, 1) * 32767).round().astype("<i2")
    out = Path(request["out"])
    with wave.open(str(out), "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(rate)
        target.writeframes(pcm.tobytes())
    return samples.size / rate


if __name__ == "__main__":
    main()
