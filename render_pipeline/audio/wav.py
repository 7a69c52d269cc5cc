"""Audio as numpy arrays: read and write 16-bit WAV files, decode through FFmpeg, resample.

Samples are float32 in [-1, 1], shaped (frames,) for mono or (frames, channels).
Everything the pipeline writes is 48 kHz, the rate video editors and the final mix use.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from render_pipeline.media.ffmpeg import MediaKind, ffmpeg_output, media_input
from render_pipeline.output_folder.files import writing

SAMPLE_RATE = 48_000


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A 16-bit PCM WAV file as float32 samples and its sample rate."""
    with wave.open(str(path), "rb") as source:
        if source.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM, got {8 * source.getsampwidth()}-bit")
        channels = source.getnchannels()
        rate = source.getframerate()
        data = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
    samples = data.astype(np.float32) / 32768.0
    return (samples if channels == 1 else samples.reshape(-1, channels)), rate


def write_wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write 16-bit PCM through a temporary name, so a half-written file never looks finished (never through a link)."""
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with writing(path) as partial, wave.open(str(partial), "wb") as target:
        target.setnchannels(channels)
        target.setsampwidth(2)
        target.setframerate(rate)
        target.writeframes(pcm.tobytes())


def decode_audio(path: Path, channels: int, seconds: float | None = None, loop: bool = False) -> np.ndarray:
    """Any file FFmpeg can read, as 48 kHz float32 samples; optionally looped and cut to ``seconds``."""
    args = ["-stream_loop", "-1"] if loop else []
    args += [*media_input(path, MediaKind.AUDIO), "-map", "0:a:0", "-ac", str(channels), "-ar", str(SAMPLE_RATE)]
    if seconds is not None:
        args += ["-t", f"{seconds:.6f}"]
    raw = ffmpeg_output([*args, "-f", "f32le", "-"], what=f"decoding audio from {path.name}")  # no scratch file
    samples = np.frombuffer(raw, dtype="<f4").copy()
    return samples if channels == 1 else samples.reshape(-1, channels)


def resample(samples: np.ndarray, rate: int, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono samples at ``target_rate``, band-limited: the spectrum is cut or zero-padded, then inverted.

    Done in numpy because one FFmpeg process per narrated shot costs more than the speech does;
    the clips start and end in near-silence, so the FFT's wrap-around is inaudible.
    """
    if rate == target_rate or samples.size == 0:
        return samples.astype(np.float32)
    count = int(round(samples.size * target_rate / rate))
    spectrum = np.fft.rfft(samples.astype(np.float64))
    bins = count // 2 + 1
    resized = np.zeros(bins, dtype=complex)
    keep = min(bins, spectrum.size)
    resized[:keep] = spectrum[:keep]
    return (np.fft.irfft(resized, count) * (count / samples.size)).astype(np.float32)


def trim_silence(samples: np.ndarray, rate: int, threshold_db: float = -50.0) -> np.ndarray:
    """Cut the quiet lead-in and tail an engine leaves around speech, keeping 20 ms either side."""
    level = np.abs(samples) if samples.ndim == 1 else np.abs(samples).max(axis=1)
    loud = np.nonzero(level > 10 ** (threshold_db / 20))[0]
    if loud.size == 0:
        return samples[:0]
    margin = int(0.02 * rate)
    return samples[max(0, loud[0] - margin): loud[-1] + 1 + margin]


def rms_db(samples: np.ndarray) -> float:
    """Root-mean-square level in dBFS; -inf for silence."""
    power = float(np.mean(np.square(samples, dtype=np.float64))) if samples.size else 0.0
    return 10 * np.log10(power) if power > 0 else float("-inf")
