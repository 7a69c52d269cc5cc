"""The output folder: no writing through planted links, one run at a time, one storyboard per default folder, shots checked by digest."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from render_pipeline.errors import UserError
from render_pipeline.film import render_all
from render_pipeline.media.ffmpeg import count_frames
from render_pipeline.runner import run_jobs
from render_pipeline.runner.manifest import Manifest
from render_pipeline.storyboard import load_storyboard
from tests.test_runner_faults import FPS, jobs_for, manifest, write_storyboard

PRECIOUS = "precious: nothing may write here\n"
TINY_FPS = 24  # a rate every timeline format takes
CLI = [sys.executable, "-m", "render_pipeline.cli"]


def tiny_film(folder: Path, title: str = "Runner Test", name: str = "board.yaml") -> Path:
    """Two 1 s animatic shots with an overlay, narration and a music cue: every writer of a run has work."""
    path = folder / name
    path.write_text(f"""version: 1
title: {title}
delivery: {{size: 192x108, fps: {TINY_FPS}}}
defaults: {{backend: animatic}}
music:
  - {{cue: bed, from: s01, to: s02}}
shots:
  - id: s01
    duration: 1.5
    prompt: "a harbor at dawn"
    narration: "Dawn."
    overlays: [{{text: "Hello", style: title, start: 0.2, end: 1.0}}]
  - {{id: s02, duration: 1, prompt: "a ship at sea"}}
""")
    return path


# Each a name the renderer writes (or writes in) on a first run or a rerun, as today's code names them.
PLANTED = ["manifest.json.lock", "manifest.json.part", "manifest.json", "logs/s01.log", "logs/animatic.worker.log",
           "logs/assemble.log", "shots/.s01.mp4.part", "shots/s01.mp4", "frames", "shots", "logs",
           "audio/narration/s01.wav.partial", "audio/music_bed.json.partial", "final.partial.mp4",
           "review.html.partial", "timeline.xml.partial", "cache", "cache/assembly.json", "stems",
           "stems/narration.wav"]


@pytest.mark.parametrize("name", PLANTED)
def test_a_link_planted_in_the_output_folder_is_refused_and_nothing_outside_is_written(tmp_path, name):
    board, out = tiny_film(tmp_path), tmp_path / "out"
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_text(PRECIOUS)
    link = out / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside if "." not in name else victim)
    with pytest.raises(UserError, match=f"{link} is a link"):
        render_all(load_storyboard(board), out)
    assert victim.read_text() == PRECIOUS and os.listdir(outside) == ["victim"]
    assert link.is_symlink()  # refused, not silently removed: the user sees what was planted


def test_a_link_planted_after_the_run_began_is_never_written_through(tmp_path):
    """Each writer guards itself, not only the check when a run takes the folder."""
    from render_pipeline.output_folder.files import append_text, create_empty, write_file, writing

    out, victim = tmp_path / "out", tmp_path / "victim"
    out.mkdir()
    victim.write_text(PRECIOUS)
    for name in ("a.json", ".a.partial.json", "b.log", ".c.mp4.part", ".d.partial.wav"):
        (out / name).symlink_to(victim)
    write_file(out / "a.json", "{}")  # the rename replaces the link; the partial's link is removed first
    assert (out / "a.json").read_text() == "{}" and not (out / "a.json").is_symlink()
    with pytest.raises(UserError, match="b.log is a link"):
        append_text(out / "b.log", "line\n")
    create_empty(out / ".c.mp4.part")
    assert (out / ".c.mp4.part").stat().st_size == 0 and not (out / ".c.mp4.part").is_symlink()
    with writing(out / "d.wav") as partial:
        partial.write_bytes(b"RIFF")
    assert (out / "d.wav").read_bytes() == b"RIFF"
    os.link(victim, out / "e.log")  # a hard link is another name of the same file
    with pytest.raises(UserError, match="e.log is a link .*hard link"):
        append_text(out / "e.log", "line\n")
    assert victim.read_text() == PRECIOUS


def test_the_manifest_lock_never_truncates_through_a_link(tmp_path):
    out, victim = tmp_path / "out", tmp_path / "victim"
    out.mkdir()
    victim.write_text(PRECIOUS)
    (out / "manifest.json.lock").symlink_to(victim)
    with pytest.raises(UserError, match="manifest.json.lock is a link"):
        Manifest.load(out).record("s01", status="done")
    assert victim.read_text() == PRECIOUS


def cli(*args: str, **options) -> subprocess.Popen:
    return subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **options)


def wait_for(test, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not test():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_second_run_on_the_same_folder_is_refused_naming_the_first(tmp_path):
    board, out = write_storyboard(tmp_path, shots=4, duration=4.0), tmp_path / "out"
    first = cli("render-all", str(board), "--out", str(out), "--no-assemble", "--quiet")
    try:
        wait_for(lambda: list((out / "shots").glob(".*.part")) if (out / "shots").is_dir() else False)
        second = subprocess.run([*CLI, "render-all", str(board), "--out", str(out), "--no-assemble", "--quiet"],
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2, second.stderr
        assert f"another run is writing to {out}: pid {first.pid} on " in second.stderr
        assert "render-all" in second.stderr and "--out" in second.stderr
        assert second.stderr.count("\n") == 1  # one line, no traceback
    finally:
        _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    shots = manifest(out)
    assert all(shots[s]["attempts"] == 1 for s in shots) and len(shots) == 4  # nobody collided on a .part file
    again = subprocess.run([*CLI, "render-all", str(board), "--out", str(out), "--no-assemble", "--quiet"],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "0 rendered, 4 already done" in again.stdout  # the lock went with the run


def test_render_shot_watch_holds_the_folder_while_it_watches(tmp_path):
    board, out = write_storyboard(tmp_path, shots=2), tmp_path / "out"
    watch = cli("render-shot", str(board), "s01", "--out", str(out), "--watch", "--quiet")
    try:
        wait_for(lambda: (out / "manifest.json").exists() and "s01" in manifest(out))
        other = subprocess.run([*CLI, "render-shot", str(board), "s02", "--out", str(out), "--quiet"],
                               capture_output=True, text=True, timeout=60)
        assert other.returncode == 2 and f"another run is writing to {out}: pid {watch.pid}" in other.stderr
    finally:
        watch.send_signal(signal.SIGINT)
        watch.communicate(timeout=60)
    assert subprocess.run([*CLI, "render-shot", str(board), "s02", "--out", str(out), "--quiet"],
                          capture_output=True, timeout=60).returncode == 0


def test_another_storyboard_whose_title_makes_the_same_folder_is_refused_unless_given_out(write_storyboard):
    first = tiny_film(Path("."), "Harbor at Dawn", "first.yaml")
    second = tiny_film(Path("."), "Harbor at dawn!", "second.yaml").resolve()
    render_all(load_storyboard(first), assemble=False)
    films = Path("outputs/harbor-at-dawn/shots")
    before = {path.name: path.stat().st_mtime_ns for path in films.glob("*.mp4")}
    with pytest.raises(UserError, match=r"holds the film of .*first\.yaml.*same folder name.*--out"):
        render_all(load_storyboard(second), assemble=False)
    assert {path.name: path.stat().st_mtime_ns for path in films.glob("*.mp4")} == before
    result = render_all(load_storyboard(second), Path("outputs/second"), assemble=False)
    assert result.rendered == ["s01", "s02"]
    assert render_all(load_storyboard(first), assemble=False).cached == ["s01", "s02"]  # its folder is still its own


def test_a_shot_corrupted_in_place_at_the_same_size_and_time_is_rendered_again(tmp_path):
    board, out = write_storyboard(tmp_path), tmp_path / "out"
    run_jobs(*jobs_and_out(board, out))
    shot = out / "shots" / "s02.mp4"
    stat = shot.stat()
    data = bytearray(shot.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)  # inside the picture: the container still parses, frames still count
    shot.write_bytes(bytes(data))
    os.utime(shot, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert shot.stat().st_size == stat.st_size and count_frames(shot) == FPS
    again = run_jobs(*jobs_and_out(board, out))
    assert again.rendered == ["s02"] and again.cached == ["s01", "s03"]
    assert "SHA-256 differs from the manifest's" in (out / "logs" / "s02.log").read_text()
    assert shot.read_bytes() != bytes(data) and count_frames(shot) == FPS


def jobs_and_out(board: Path, out: Path):
    jobs, models = jobs_for(board, out)
    return jobs, out, models
