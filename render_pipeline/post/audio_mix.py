"""The soundtrack: narration at its shots, the music bed ducked under it, two-pass loudness.

Each narration clip is first brought to a common level, so the sidechain compressor on
the music sees the same speech level whatever the voice; its threshold then sits about
12 dB below that level, which ducks the music by 11-13 dB while someone speaks.
The mix is then normalised in two loudnorm passes (measure, then apply linearly) and
resampled to 48 kHz, as loudnorm works at 192 kHz internally.

Beside the soundtrack, the mix leaves its stems: the narration (each clip levelled, at its
place) and the music bed as ducked in the mix, both whole-film long and brought by the gain
the normaliser gave the mix, so the stems played together sound as the soundtrack does
(the timelines reference them; only the limiter's touch on rare peaks is missing).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from render_pipeline.media.ffmpeg import FfmpegError, MediaKind, media_input, run_ffmpeg

NARRATION_LEVEL_DB = -20.0  # mean level each narration clip is set to before mixing
DUCK_THRESHOLD = 0.025  # -32 dBFS: 12 dB under the narration level
DUCK_RATIO = 20
# Ceiling for the normaliser: below the delivery limit of -1.5 dBTP, leaving room for the
# AAC encoder's small overshoot.
TRUE_PEAK_TARGET = -2.0
SAMPLE_RATE = 48000
SILENCE_LUFS = -70.0  # EBU R128's absolute gate: a mix measured at or below it is silence


@dataclass(frozen=True)
class PlacedNarration:
    shot_id: str
    path: Path
    start: float  # seconds into the film


def mean_volume_db(path: Path, what: str) -> float | None:
    """The mean level in dBFS, or None for silence."""
    stderr = run_ffmpeg([*media_input(path, MediaKind.AUDIO), "-af", "volumedetect", "-f", "null", "-"], what=what)
    match = re.search(r"mean_volume: (-?[\d.]+|-inf) dB", stderr)
    if not match or match[1] == "-inf" or float(match[1]) <= -90:
        return None
    return float(match[1])


@dataclass(frozen=True)
class Mix:
    soundtrack: Path  # normalised, 48 kHz, exactly the film's length
    stems: dict[str, Path]  # "narration", "music" (those the film has): each as it sounds in the soundtrack


def mix_soundtrack(narration: list[PlacedNarration], music_bed: Path | None, duration: float,
                   loudness_lufs: float, work_dir: Path) -> Mix:
    """Write the normalised 48 kHz soundtrack of exactly ``duration`` seconds and its stems."""
    mix_path = work_dir / "mix.wav"
    inputs: list[str] = []
    parts: list[str] = []
    fit = f"aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo"
    voices = []
    for clip in narration:
        level = mean_volume_db(clip.path, what=f"measuring the narration of shot {clip.shot_id}")
        if level is None:
            continue
        index = inputs.count("-i")
        inputs += media_input(clip.path, MediaKind.AUDIO)
        delay = round(clip.start * 1000)
        parts.append(f"[{index}:a]{fit},volume={NARRATION_LEVEL_DB - level:.2f}dB,adelay={delay}:all=1[n{index}]")
        voices.append(f"[n{index}]")
    length = f"apad=whole_dur={duration},atrim=0:{duration}"
    if voices:
        parts.append("".join(voices) + f"amix=inputs={len(voices)}:normalize=0:duration=longest,{length}[voice]")
    if music_bed is not None:
        index = inputs.count("-i")
        inputs += media_input(music_bed, MediaKind.AUDIO)
        parts.append(f"[{index}:a]{fit},{length}[music]")
    stems = (["narration"] if voices else []) + (["music"] if music_bed is not None else [])
    if voices and music_bed is not None:
        parts.append("[voice]asplit=3[voice_mix][voice_key][narration_stem]")
        parts.append(f"[music][voice_key]sidechaincompress=threshold={DUCK_THRESHOLD}:ratio={DUCK_RATIO}:"
                     "attack=20:release=400:knee=2,asplit=2[ducked][music_stem]")
        parts.append("[ducked][voice_mix]amix=inputs=2:normalize=0:duration=first[mix]")
    elif voices:
        parts.append("[voice]asplit=2[mix][narration_stem]")
    elif music_bed is not None:
        parts.append("[music]asplit=2[mix][music_stem]")
    else:
        inputs += ["-f", "lavfi", "-i", f"anullsrc=r={SAMPLE_RATE}:cl=stereo"]
        parts.append(f"[0:a]atrim=0:{duration}[mix]")
    stem_outputs = [argument for name in stems
                    for argument in ("-map", f"[{name}_stem]", "-c:a", "pcm_f32le", str(work_dir / f"{name}_stem.wav"))]
    run_ffmpeg([*inputs, "-filter_complex", ";".join(parts), "-map", "[mix]", "-c:a", "pcm_f32le",
                str(mix_path), *stem_outputs], what="mixing narration and music")
    soundtrack = normalise_loudness(mix_path, loudness_lufs, work_dir / "soundtrack.wav")
    gain = _gain_db(mix_path, soundtrack)
    levelled = {}
    for name in stems:
        levelled[name] = work_dir / f"{name}.wav"
        run_ffmpeg([*media_input(work_dir / f"{name}_stem.wav", MediaKind.AUDIO), "-af", f"volume={gain:.3f}dB",
                    "-c:a", "pcm_s24le", str(levelled[name])], what=f"levelling the {name} stem")
    return Mix(soundtrack, levelled)


def _gain_db(before: Path, after: Path) -> float:
    """The gain normalising gave: the integrated loudness after less before (0 for silence)."""
    level_before, _ = integrated_loudness(before)
    if level_before <= SILENCE_LUFS:
        return 0.0
    return integrated_loudness(after)[0] - level_before


def normalise_loudness(source: Path, loudness_lufs: float, target: Path) -> Path:
    """Two-pass loudnorm in linear mode, so the ducking and dynamics of the mix are kept.

    loudnorm falls back to dynamic gain riding (which would undo the ducking) when the
    peaks would pass the ceiling after the gain; so the mix is first brought to the
    target level and its few peaks limited, then measured and normalised linearly.
    """
    # The first gain needs only the integrated level, which ebur128 measures about five
    # times faster than loudnorm does.
    level, _ = integrated_loudness(source)
    if level <= SILENCE_LUFS:  # nothing to normalise
        run_ffmpeg([*media_input(source, MediaKind.AUDIO), "-af", f"aresample={SAMPLE_RATE}", "-c:a", "pcm_f32le", str(target)],
                   what="writing the silent soundtrack")
        return target
    limited = target.with_name("limited.wav")
    gain = loudness_lufs - level
    ceiling = 10 ** ((TRUE_PEAK_TARGET - 1.0) / 20)
    run_ffmpeg([*media_input(source, MediaKind.AUDIO), "-af", f"volume={gain:.2f}dB,alimiter=limit={ceiling:.4f}:level=disabled:"
                "attack=5:release=50", "-c:a", "pcm_f32le", str(limited)], what="limiting the mix's peaks")
    measured = _measure(limited, loudness_lufs, "measuring the limited mix's loudness")
    filters = (f"loudnorm={_loudnorm_targets(loudness_lufs)}:measured_I={measured['input_i']}:"
               f"measured_TP={measured['input_tp']}:measured_LRA={measured['input_lra']}:"
               f"measured_thresh={measured['input_thresh']}:offset={measured['target_offset']}:linear=true,"
               f"aresample={SAMPLE_RATE}")
    run_ffmpeg([*media_input(limited, MediaKind.AUDIO), "-af", filters, "-c:a", "pcm_f32le", "-ac", "2", str(target)],
               what="normalising the mix's loudness")
    return target


def _loudnorm_targets(loudness_lufs: float) -> str:
    # The widest loudness range loudnorm accepts: a film's range is the director's choice.
    return f"I={loudness_lufs}:TP={TRUE_PEAK_TARGET}:LRA=20"


def _measure(path: Path, loudness_lufs: float, what: str) -> dict[str, str]:
    stderr = run_ffmpeg([*media_input(path, MediaKind.AUDIO), "-af", f"loudnorm={_loudnorm_targets(loudness_lufs)}:print_format=json",
                         "-f", "null", "-"], what=what)
    measured = json.loads(stderr[stderr.rindex("{"):stderr.rindex("}") + 1])
    return measured


def integrated_loudness(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of a file's audio, as EBU R128 measures them."""
    stderr = run_ffmpeg([*media_input(path, MediaKind.AUDIO), "-map", "0:a:0", "-af", "ebur128=peak=true", "-f", "null", "-"],
                        what=f"measuring the loudness of {path.name}")
    summary = stderr[stderr.rindex("Summary:"):]
    loudness = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    if not loudness or not peak:
        raise FfmpegError(f"measuring the loudness of {path.name}", 0, summary[-400:])
    return float(loudness[1]), float(peak[1]) if peak[1] != "-inf" else float("-inf")
