"""Disk and permission faults, a TMPDIR with a space, a broken FFmpeg, and what a film needs before it starts.

Each fault must give one line naming the path and the cause, leave nothing half-written, and
let the next run resume. A full disk and a size limit are both met through RLIMIT_FSIZE in a
child process (a file-size limit is what a test can set without root); a read-only folder
through chmod, or, for root (which chmod does not stop), the immutable attribute.
"""

import errno
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from render_pipeline.media.ffmpeg import count_frames, run_ffmpeg
from tests.test_runner_faults import FPS, manifest, write_storyboard

CLI = [sys.executable, "-m", "render_pipeline.cli"]


def limit_file_size(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def leftovers(out: Path) -> list[str]:
    """Anything half-written: temporary names of shots, the manifest, the audio, the film; scratch."""
    names = [str(path.relative_to(out)) for path in out.rglob("*") if ".part" in path.name]
    return names + (["tmp/"] if (out / "tmp").exists() else [])


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_a_file_size_limit_stops_the_run_with_one_line_and_the_next_run_resumes(tmp_path):
    """FFmpeg passes the limit writing the first shot (it is killed by SIGXFSZ: "exit -25"), nothing else does."""
    board, out = write_storyboard(tmp_path, shots=3, duration=10.0), tmp_path / "out"
    first = subprocess.run([*CLI, "render-all", str(board), "--out", str(out), "--no-assemble", "--quiet"],
                           capture_output=True, text=True, timeout=120, preexec_fn=limit_file_size(30000))
    assert first.returncode == 2, first.stderr
    line = one_error_line(first.stderr)
    assert f"cannot write {out.resolve()}/shots/.s01.mp4.part: the file size limit was reached (ulimit -f)" in line
    assert "run the same command again" in line
    assert leftovers(out) == [] and not list((out / "shots").glob("*.mp4"))
    assert all(entry["status"] != "done" for entry in manifest(out).values()) if (out / "manifest.json").exists() else True
    again = subprocess.run([*CLI, "render-all", str(board), "--out", str(out), "--no-assemble", "--quiet"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "3 rendered, 0 already done, 0 failed" in again.stdout, again.stderr
    assert all(count_frames(out / "shots" / f"s0{n}.mp4") == 10 * FPS for n in (1, 2, 3))


def test_a_manifest_that_cannot_be_written_leaves_the_last_one_whole_and_no_temporary_file(tmp_path):
    from render_pipeline.runner.manifest import Manifest

    Manifest.load(tmp_path).record("s01", status="done", key="k")
    before = (tmp_path / "manifest.json").read_text()
    script = ("import sys; from pathlib import Path; from render_pipeline.runner.manifest import Manifest; "
              "Manifest.load(Path(sys.argv[1])).record('s02', status='done', notes='x' * 100000)")
    child = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60,
                           preexec_fn=limit_file_size(20000))
    assert child.returncode != 0 and "the file size limit was reached" in child.stderr
    assert (tmp_path / "manifest.json").read_text() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["manifest.json", "manifest.json.lock"]


def test_a_full_disk_is_named_as_such_whoever_writes(tmp_path, monkeypatch):
    from render_pipeline.errors import DiskFault
    from render_pipeline.media.ffmpeg import run_ffmpeg
    from render_pipeline.output_folder import files

    with pytest.raises(DiskFault, match="cannot write /dev/full: no space left on the disk"):  # FFmpeg
        run_ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x64:duration=0.2", "-f", "mp4", "/dev/full"], what="a test")

    def full(descriptor, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "write", full)  # Python
    with pytest.raises(DiskFault, match=f"cannot write {tmp_path / 'review.html'}: no space left on the disk"):
        files.write_file(tmp_path / "review.html", "<html>")
    assert list(tmp_path.iterdir()) == []


def make_read_only(folder: Path) -> None:
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
        pytest.skip("running as root, which chmod does not stop, and chattr +i is not available here")


def make_writable(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o755)


def test_a_read_only_shots_folder_is_named_up_front_and_a_rerun_resumes(tmp_path):
    board, out = write_storyboard(tmp_path, shots=2), tmp_path / "out"
    (out / "shots").mkdir(parents=True)
    make_read_only(out / "shots")
    try:
        first = subprocess.run([*CLI, "render-all", str(board), "--out", str(out), "--no-assemble", "--quiet"],
                               capture_output=True, text=True, timeout=120)
    finally:
        make_writable(out / "shots")
    assert first.returncode == 2
    line = one_error_line(first.stderr)
    assert f"cannot write {out}/shots/.write-test: " in line
    assert any(cause in line for cause in ("permission denied", "not permitted"))
    assert not (out / "manifest.json").exists() and leftovers(out) == []
    again = subprocess.run([*CLI, "render-all", str(board), "--out", str(out), "--no-assemble", "--quiet"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "2 rendered" in again.stdout


def test_a_tmpdir_and_an_output_folder_with_spaces_render_the_film_and_leave_no_scratch(tmp_path):
    from tests.test_output_folder import TINY_FPS, tiny_film

    board = tiny_film(tmp_path)
    temporary, out = tmp_path / "temporary files", tmp_path / "my film"
    temporary.mkdir()
    run = subprocess.run([*CLI, "render-all", str(board), "--out", str(out), "--quiet"], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "TMPDIR": str(temporary)})
    assert run.returncode == 0, run.stderr
    assert count_frames(out / "final.mp4") == round(2.5 * TINY_FPS)
    # Scratch lived in the output folder; onnxruntime (piper's, if installed) notes a session file in TMPDIR.
    assert [path.name for path in temporary.iterdir() if path.name != ".ses"] == []
    assert not (out / "tmp").exists()


def test_a_broken_ffmpeg_binary_is_blamed_not_the_footage(tmp_path):
    footage = tmp_path / "clip.mp4"
    run_ffmpeg(["-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=192x108:rate=12:duration=2", str(footage)],
               what="making footage")
    board = tmp_path / "board.yaml"
    board.write_text("version: 1\ntitle: Footage\ndelivery: {size: 192x108, fps: 12}\n"
                     "shots:\n  - {id: s01, duration: 1, source: clip.mp4}\n")
    broken = tmp_path / "ffmpeg"
    broken.write_text("#!/bin/sh\necho 'error while loading shared libraries: libavdevice.so.59' >&2\nexit 127\n")
    broken.chmod(0o755)
    env = {**os.environ, "RENDER_PIPELINE_FFMPEG": str(broken)}
    for command in (["validate", str(board)], ["render-all", str(board), "--out", str(tmp_path / "out")]):
        result = subprocess.run([*CLI, *command], capture_output=True, text=True, timeout=60, env=env)
        assert result.returncode == 2, result.stderr
        line = one_error_line(result.stderr)
        assert f"RENDER_PIPELINE_FFMPEG={broken} does not run as FFmpeg" in line
        assert "libavdevice.so.59" in line and "clip.mp4" not in line


def test_an_8k_film_gets_a_disk_and_memory_estimate_and_a_short_disk_is_refused_before_anything_runs(
        tmp_path, monkeypatch):
    board = tmp_path / "board.yaml"
    shots = "\n".join(f"  - {{id: s{n:02d}, duration: 4, prompt: \"shot {n}\", backend: animatic}}" for n in range(40))
    board.write_text(f"version: 1\ntitle: Eight K\ndelivery: {{size: 7680x4320, fps: 24}}\nshots:\n{shots}\n")
    plan = subprocess.run([*CLI, "plan", str(board), "--gpus", "none", "--host-ram", "32GB"], capture_output=True,
                          text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
    text = " ".join(plan.stdout.split())
    # 40 animatic shots of 96 frames at 7680x4320 (0.02 bytes a pixel), the film and its intermediate (2 x 3840
    # frames at 0.04), 500 MiB for the rest; the assembly's memory from the fit in planner/delivery.py.
    assert "Disk: about 13.3 GB (2.5 GB of shots, 10.2 GB for the film and its intermediate)" in text
    assert "Assembling the 40 shot(s) takes about 38.4 GiB of host memory, more than the 32 GiB here" in text

    import shutil as shutil_module

    from render_pipeline.errors import UserError
    from render_pipeline.film import render_all
    from render_pipeline.runner import preflight
    from render_pipeline.storyboard import load_storyboard

    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda path: shutil_module._ntuple_diskusage(10**12, 0, 10**10))
    with pytest.raises(UserError, match=r"10.0 GB free, about 13.3 GB needed"):
        render_all(load_storyboard(board), tmp_path / "out")
    assert not (tmp_path / "out" / "audio").exists() and not list((tmp_path / "out" / "shots").glob("*"))
