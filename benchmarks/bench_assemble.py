"""Time `assemble` on a many-shot 1280x720 film against the floor and against MoviePy.

The floor is one plain FFmpeg encode of the same on-screen frames (concat demuxer, same
x264 settings, same music), with no conforming, transitions, titles or loudness passes.
MoviePy does the same cut (0.5 s cross-dissolves, titles, the music) the way a user
might script it instead; install it for this only: `pip install moviepy`.

Run: python -m benchmarks.bench_assemble [--shots 50] [--seconds 5.5] [--out assemble.json]   (50 x 5.5 s = a 4.6 min film)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Results, out_option
from render_pipeline.media.ffmpeg import ffmpeg_exe
from render_pipeline.media.fonts import find_font
from render_pipeline.post import assemble
from render_pipeline.post.assemble import AUDIO_ENCODE, VIDEO_ENCODE
from render_pipeline.post.edit import make_edit
from render_pipeline.storyboard import load_storyboard

TRANSITION = 0.5
TITLE_EVERY = 5


class Audio:
    def __init__(self, music_bed: Path):
        self.narration: dict = {}
        self.music_bed = music_bed


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_inputs(folder: Path, shots: int, seconds: float) -> tuple[Path, Path]:
    lines = ["version: 1", "title: Assemble Benchmark", "delivery: {size: 1280x720, fps: 24, loudness_lufs: -16}",
             f"defaults: {{backend: animatic, transition: {{type: dissolve, duration: {TRANSITION}}}}}", "shots:"]
    for number in range(shots):
        lines += [f"  - id: s{number:02d}", f"    duration: {seconds}", f"    prompt: shot {number}"]
        if number % TITLE_EVERY == 0:
            lines.append(f"    overlays: [{{text: 'Part {number // TITLE_EVERY + 1}', style: title, start: 0.5, "
                         f"end: {seconds - 0.5}}}]")
    (folder / "storyboard.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    storyboard = load_storyboard(folder / "storyboard.yaml")
    (folder / "shots").mkdir()
    for shot in storyboard.shots:  # moving test pictures, each shot a different hue
        ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=1280x720:r=24:d={shot.render_duration}",
               "-vf", f"hue=h={shot.index * 7}", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
               str(folder / "shots" / f"{shot.id}.mp4"))
    bed = folder / "music_bed.wav"
    ffmpeg("-f", "lavfi", "-i", f"sine=f=220:r=48000:d={storyboard.duration}", str(bed))
    return folder / "storyboard.yaml", bed


def floor(folder: Path, storyboard_path: Path, bed: Path) -> float:
    storyboard = load_storyboard(storyboard_path)
    edit = make_edit(storyboard)
    entries = []
    for edited in edit.shots:
        start = edit.seconds(edited.source_start + edited.head)
        entries += [f"file '{folder / 'shots' / (edited.shot.id + '.mp4')}'", f"inpoint {start}",
                    f"outpoint {start + edit.seconds(edited.frames)}"]
    listing = folder / "concat.txt"
    listing.write_text("\n".join(entries) + "\n", encoding="utf-8")
    began = time.perf_counter()
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(bed), "-map", "0:v", "-map", "1:a",
           *VIDEO_ENCODE, *AUDIO_ENCODE, "-movflags", "+faststart", str(folder / "floor.mp4"))
    return time.perf_counter() - began


def moviepy_cut(folder: Path, storyboard_path: Path, bed: Path) -> float:
    from moviepy import AudioFileClip, CompositeVideoClip, TextClip, VideoFileClip, concatenate_videoclips, vfx

    storyboard = load_storyboard(storyboard_path)
    font = str(find_font().path)
    began = time.perf_counter()
    clips = []
    for shot in storyboard.shots:
        clip = VideoFileClip(str(folder / "shots" / f"{shot.id}.mp4")).subclipped(
            shot.handle_in - shot.transition_in.duration / 2, shot.handle_in + shot.duration + shot.handle_out)
        layers = [clip]
        for overlay in shot.overlays:
            layers.append(TextClip(font=font, text=overlay.text, font_size=61, color="white")
                          .with_start(overlay.start + shot.handle_in).with_end(overlay.end + shot.handle_in)
                          .with_position("center"))
        composed = CompositeVideoClip(layers) if len(layers) > 1 else clip
        clips.append(composed.with_effects([vfx.CrossFadeIn(TRANSITION)]) if shot.index else composed)
    film = concatenate_videoclips(clips, method="compose", padding=-TRANSITION)
    film = film.with_audio(AudioFileClip(str(bed)).subclipped(0, film.duration))
    film.write_videofile(str(folder / "moviepy.mp4"), fps=24, codec="libx264", preset="medium",
                         ffmpeg_params=["-crf", "18", "-pix_fmt", "yuv420p"], audio_codec="aac", logger=None)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.5, help="on-screen seconds per shot")
    parser.add_argument("--no-moviepy", action="store_true", help="skip MoviePy (the slowest part)")
    out_option(parser)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench_assemble_"))
    try:
        storyboard_path, bed = make_inputs(folder, args.shots, args.seconds)
        storyboard = load_storyboard(storyboard_path)
        print(f"film: {args.shots} shots x {args.seconds} s = {storyboard.duration / 60:.2f} min, 1280x720 at 24 fps, "
              f"{TRANSITION} s dissolves, a title every {TITLE_EVERY} shots")
        floor_seconds = floor(folder, storyboard_path, bed)
        print(f"floor (one plain FFmpeg encode of the same frames): {floor_seconds:.1f} s")
        result = assemble(storyboard, folder, audio=Audio(bed))
        print(f"assemble (film, captions, OTIO/FCP XML, review.html): {result.seconds_taken:.1f} s "
              f"= {result.seconds_taken / floor_seconds:.2f}x the floor; {result.loudness_lufs:.1f} LUFS")
        figures = {"film_s": storyboard.duration, "floor_s": round(floor_seconds, 1),
                   "assemble_s": round(result.seconds_taken, 1), "loudness_lufs": round(result.loudness_lufs, 1)}
        if not args.no_moviepy:
            moviepy_seconds = moviepy_cut(folder, storyboard_path, bed)
            print(f"MoviePy (same cut, titles, music): {moviepy_seconds:.1f} s "
                  f"= {moviepy_seconds / result.seconds_taken:.1f}x slower than assemble")
            figures["moviepy_s"] = round(moviepy_seconds, 1)
        Results(__file__, args.out, argv, settings={"shots": args.shots, "seconds": args.seconds, "size": "1280x720",
                                                   "fps": 24}).save(figures)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
