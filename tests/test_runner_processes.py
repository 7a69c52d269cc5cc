"""Processes: workers and their FFmpeg die with a runner killed by kill -9; Ctrl-C leaves no scratch anywhere."""

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.test_output_folder import CLI, wait_for
from tests.test_runner_faults import manifest, write_storyboard


def descendants(pid: int) -> dict[int, str]:
    """The processes below ``pid`` now, each with its start time (so a reused pid is not mistaken for it)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
        starts[int(entry)] = fields[19]
    found, todo = {}, list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found[child] = starts[child]
        todo += children.get(child, [])
    return found


def running(pid: int, start: str) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[19] == start and fields[0] != "Z"


def rendering(out: Path) -> bool:
    """A worker's FFmpeg has begun writing a shot."""
    return (out / "shots").is_dir() and any(path.stat().st_size > 0 for path in (out / "shots").glob(".*.part"))


def test_kill_9_of_render_all_leaves_no_worker_or_ffmpeg_writing_and_the_folder_free(tmp_path):
    board, out = write_storyboard(tmp_path, shots=2, duration=30.0), tmp_path / "out"
    board.write_text(board.read_text().replace("192x108", "1280x720"))  # a shot takes 7 s: killed mid-shot
    runner = subprocess.Popen([*CLI, "render-all", str(board), "--out", str(out), "--no-assemble", "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: rendering(out))
    below = descendants(runner.pid)
    assert len(below) >= 2  # the worker and its FFmpeg
    runner.kill()
    runner.wait()
    wait_for(lambda: not any(running(pid, start) for pid, start in below.items()), seconds=1.5)
    partial = next((out / "shots").glob(".*.part"), None)
    if partial is not None:  # what was left stays as it was: nobody writes it any more
        size = partial.stat().st_size
        time.sleep(1)
        assert partial.stat().st_size == size
    resumed = subprocess.run([*CLI, "render-shot", str(board), "s01", "--out", str(out), "--quiet"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr  # the lock went with the killed runner
    assert manifest(out)["s01"]["status"] == "done"


def test_ctrl_c_leaves_no_scratch_folder_in_the_system_temp_folder_or_the_output_folder(tmp_path):
    board, out = write_storyboard(tmp_path, shots=2, duration=30.0), tmp_path / "out"
    board.write_text(board.read_text().replace("192x108", "640x360"))
    temporary = tmp_path / "temporary"
    temporary.mkdir()
    runner = subprocess.Popen([*CLI, "render-all", str(board), "--out", str(out), "--no-assemble", "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "TMPDIR": str(temporary)})
    wait_for(lambda: rendering(out))
    runner.send_signal(signal.SIGINT)  # what Ctrl-C sends the runner (its worker runs in a session of its own)
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 130 and "run the same command again to resume" in stderr
    assert [path.name for path in temporary.iterdir() if path.name != ".ses"] == []  # .ses: onnxruntime's, if imported
    assert not (out / "tmp").exists() and not list((out / "shots").glob(".*"))
    assert manifest(out)["s01"]["status"] == "interrupted"
