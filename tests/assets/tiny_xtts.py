"""A tiny, randomly initialised XTTS v2 weights folder, built from coqui-tts's own config classes.

Run with the XTTS environment's python (it imports torch and coqui-tts, which render-pipeline's
own environment does not have): ``<xtts env>/bin/python tests/assets/tiny_xtts.py FOLDER``. Writes
config.json, model.pth and vocab.json, the files of the real release, in FOLDER. With
``--full-size`` the GPT has the release's sizes instead (for benchmarks/bench_xtts.py's timings).

The GPT is one layer of width 32; the HiFi-GAN decoder and speaker encoder keep XTTS's own sizes
(coqui-tts builds them at those sizes whatever the config says). Random weights never choose the
stop token, so every sentence is spoken for exactly MAX_AUDIO_TOKENS codes (about 0.97 s).
"""

from __future__ import annotations

import string
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer
from tokenizers.models import BPE
from tokenizers.pre_tokenizers import Whitespace
from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig
from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
from TTS.tts.models.xtts import Xtts

LANGUAGES = ["en", "de"]
MAX_AUDIO_TOKENS = 24  # codes of 1024 samples at 22.05 kHz each


def write_vocab(path: Path) -> None:
    """A character-level tokenizer with the special tokens XTTS's tokenizer looks up."""
    special = ["[STOP]", "[UNK]", "[SPACE]", "[START]", *(f"[{language}]" for language in LANGUAGES)]
    characters = list(string.ascii_lowercase + string.digits + ".,!?'\"-:;()")
    tokenizer = Tokenizer(BPE({token: index for index, token in enumerate(special + characters)}, [],
                              unk_token="[UNK]"))
    tokenizer.add_special_tokens(special)
    tokenizer.pre_tokenizer = Whitespace()
    tokenizer.save(str(path))


def main(folder: Path, full_size: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_vocab(folder / "vocab.json")
    torch.manual_seed(0)
    if full_size:  # XTTS v2's released config: 30 layers of width 1024, 1026 audio codes
        args = XttsArgs(gpt_layers=30, gpt_n_model_channels=1024, gpt_n_heads=16, decoder_input_dim=1024,
                        gpt_num_audio_tokens=1026, gpt_start_audio_token=1024, gpt_stop_audio_token=1025,
                        gpt_max_audio_tokens=605, gpt_use_perceiver_resampler=True)
    else:
        args = XttsArgs(gpt_layers=1, gpt_n_model_channels=32, gpt_n_heads=2, decoder_input_dim=32,
                        gpt_max_audio_tokens=MAX_AUDIO_TOKENS, gpt_use_perceiver_resampler=True)
    config = XttsConfig(model_args=args, languages=LANGUAGES)
    model = Xtts(config)
    model.tokenizer = VoiceBpeTokenizer(vocab_file=str(folder / "vocab.json"))
    model.init_models()  # the GPT is built once the tokenizer says how many text tokens there are
    torch.save({"model": model.state_dict()}, folder / "model.pth")  # as trained: the loader sets eval
    config.save_json(str(folder / "config.json"))


if __name__ == "__main__":
    main(Path(sys.argv[1]), full_size="--full-size" in sys.argv[2:])
