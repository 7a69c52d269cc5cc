"""Progress through every phase of render-all: narration, music, shots, conversion, assembly, each with an ETA.

The whole-run test drives the real render_all (piper or espeak-ng, the procedural score, the runner's
worker, minterpolate's sibling `repeat`, FFmpeg's -progress) on a two-shot film. Its clock is scripted:
time passes only as work is reported, each item taking its phase's estimate times a factor of
0.8-1.25, as on a machine faster at some phases and slower at others. Real times of a tiny film are
mostly start-up and load on a shared machine; the real 50-shot film's figures are in
docs/benchmarks.md ("Phases of render-all").
"""

import re

import pytest

from render_pipeline.errors import DiskFault
from render_pipeline.film import render_all
from render_pipeline.media.ffmpeg import FfmpegError, run_ffmpeg
from render_pipeline.planner.phases import Phase, PhaseEstimate
from render_pipeline.runner import RunOptions
from render_pipeline.runner.progress import PlainReporter
from render_pipeline.storyboard import load_storyboard
from tests.test_runner_faults import FAULT_WORKER

# How much slower (>1) or faster (<1) than its estimate each phase runs on the scripted machine.
FACTORS = {Phase.NARRATION: 1.2, Phase.MUSIC: 0.8, Phase.SHOTS: 1.25, Phase.CONVERSION: 0.8, Phase.ASSEMBLY: 1.1}

# Two shots "rendered" by Wan 2.2 A14B at 16 fps (the runner's fault worker draws every backend as
# an animatic), so assembly converts them to the delivery's 24 fps.
FILM = """\
version: 1
title: Progress Test
delivery: {size: 192x108, fps: 24, frame_interpolation: repeat}
defaults: {backend: wan2.2-t2v-a14b, quality: draft}
music:
  - {cue: strings, prompt: slow strings, from: s01, to: s02}
shots:
  - {id: s01, duration: 1.5, prompt: a harbor at dawn, narration: "Morning comes."}
  - {id: s02, duration: 1.5, prompt: a ship at sea, narration: "The ship leaves."}
"""


class ScriptedClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedReporter(PlainReporter):
    """Keeps its lines; the clock moves on by each item's share of its phase's estimate times FACTORS."""

    def __init__(self) -> None:
        super().__init__(clock=ScriptedClock())
        self.lines: list[str] = []
        self.encoded = 0.0

    def _line(self, text: str) -> None:
        self.lines.append(text)

    def _spend(self, phase: Phase, seconds: float) -> None:
        self.enter(phase)
        self.clock.now += seconds * FACTORS[phase]

    def item(self, phase: Phase, name: str, made: bool = True) -> None:
        if made:
            self._spend(phase, self.phases[phase].weights[name])
        super().item(phase, name, made)

    def shot_finished(self, job, seconds, error) -> None:
        self._spend(Phase.SHOTS, self.phases[Phase.SHOTS].weights[job.id])
        super().shot_finished(job, seconds, error)

    def frames(self, phase: Phase, done: int, total: int) -> None:
        share = done / total
        self._spend(phase, (share - self.encoded) * self.phases[phase].total)
        self.encoded = share
        super().frames(phase, done, total)


def eta(line: str) -> float:
    hours, minutes, seconds = map(int, re.search(r"ETA (\d+):(\d\d):(\d\d)", line).groups())
    return hours * 3600 + minutes * 60 + seconds


def test_render_all_shows_every_phase_and_its_first_eta_is_the_whole_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RENDER_PIPELINE_MODELS", raising=False)
    (tmp_path / "film.yaml").write_text(FILM)
    reporter = ScriptedReporter()
    result = render_all(load_storyboard(tmp_path / "film.yaml"), tmp_path / "out", gpus="1xH200", reporter=reporter,
                        options=RunOptions(worker_command=FAULT_WORKER))
    lines = reporter.lines
    assert result.assembly is not None and not result.failed

    first = lines[0]
    assert first.startswith("estimated: narration ") and all(f"{phase} " in first for phase in Phase)
    assert abs(eta(first) - result.seconds) <= 0.3 * result.seconds, (first, result.seconds)

    def of(pattern: str) -> list[str]:
        return [line for line in lines if re.match(pattern, line)]

    assert len(of(r"narration \[\d/2\] s0\d: spoken; ETA ")) == 2
    assert len(of(r"music \[1/1\] strings: made; ETA ")) == 1
    assert len(of(r"\[\d/2\] s0\d: done in [\d.]+ s; ETA ")) == 2
    assert len(of(r"conversion \[\d/2\] s0\d: converted; ETA ")) == 2
    encoded = of(r"assembly: \d+/72 frames encoded \(\d+%\); ETA ")
    assert encoded and encoded[-1].startswith("assembly: 72/72 frames encoded (100%); ETA 0:00:00")

    # Each phase took its estimate times its factor, and the phases add up to the run.
    assert list(result.phase_seconds) == list(Phase)
    for phase, seconds in result.phase_seconds.items():
        assert seconds == pytest.approx(reporter.phases[phase].estimate.seconds * FACTORS[phase], rel=1e-6), phase
    assert sum(result.phase_seconds.values()) == pytest.approx(result.seconds)
    # After the 25 %-slow shots, the ETA of what is left carries that: the line after the last shot says
    # the conversion and assembly still to come, at their estimates.
    after_shots = of(r"\[2/2\] s0\d: done in")[0]
    left = sum(reporter.phases[phase].estimate.seconds for phase in (Phase.CONVERSION, Phase.ASSEMBLY))
    assert eta(after_shots) == pytest.approx(left, abs=1)


def test_assemble_alone_shows_its_phases_each_with_an_eta(tmp_path, monkeypatch):
    """`assemble` starts from the estimate of narration, music and the assembly; the conversions it finds count too."""
    from typer.testing import CliRunner

    from render_pipeline.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RENDER_PIPELINE_MODELS", raising=False)
    (tmp_path / "film.yaml").write_text(FILM)
    render_all(load_storyboard(tmp_path / "film.yaml"), tmp_path / "out", gpus="1xH200", assemble=False, quiet=True,
               options=RunOptions(worker_command=FAULT_WORKER))
    result = CliRunner().invoke(app, ["assemble", "film.yaml", "--out", "out"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("estimated: narration ") and ", music " in lines[0] and ", assembly " in lines[0]
    assert [line.split(";")[0] for line in lines if re.match(r"\w+ \[\d/\d\] s?\w+: (spoken|made|converted);", line)] == [
        "narration [1/2] s01: spoken", "narration [2/2] s02: spoken", "music [1/1] strings: made",
        "conversion [1/2] s01: converted", "conversion [2/2] s02: converted"]
    # Both conversions are known before the first begins: its frames lines count it as the first of two.
    assert any(line.startswith("conversion [1/2] s01: 0/37 frames converted (0%); ETA ") for line in lines)
    encoded = [line for line in lines if re.match(r"assembly: \d+/72 frames encoded", line)]
    # The encode's first line comes before FFmpeg's first report, with the estimate still to go.
    assert encoded[0].startswith("assembly: 0/72 frames encoded (0%); ETA ") and eta(encoded[0]) >= 1
    assert encoded[-1] == "assembly: 72/72 frames encoded (100%); ETA 0:00:00"


def test_a_phase_corrects_its_estimate_by_the_speed_measured():
    clock = ScriptedClock()
    reporter = PlainReporter(quiet=True, clock=clock)
    reporter.begin({Phase.NARRATION: PhaseEstimate.of(Phase.NARRATION, [(n, 10.0) for n in "abcd"]),
                    Phase.ASSEMBLY: PhaseEstimate.of(Phase.ASSEMBLY, [("film", 100.0)])})
    assert reporter.eta_seconds() == 140
    reporter.enter(Phase.NARRATION)
    clock.now += 30
    reporter.item(Phase.NARRATION, "a")
    clock.now += 30
    reporter.item(Phase.NARRATION, "b")
    # Half done in 60 s where 20 were planned: the other half takes 60 s more; the assembly is still its estimate.
    assert reporter.eta_seconds() == pytest.approx(60 + 100)
    reporter.item(Phase.NARRATION, "c", made=False)  # found in the cache: nothing to wait for
    assert reporter.eta_seconds() == pytest.approx(30 + 100)
    clock.now += 1
    reporter.frames(Phase.ASSEMBLY, 1, 1000)  # the first frames say little: the estimate stands, nearly
    assert reporter.eta_seconds() == pytest.approx(100, rel=0.1)
    times = reporter.finish()
    assert times.phases == {Phase.NARRATION: 61, Phase.ASSEMBLY: 0} and times.seconds == 61


def test_ffmpeg_reports_its_progress_and_its_failures_as_before(tmp_path):
    seen: list[float] = []
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x64:rate=25:duration=3", "-c:v", "libx264", "-f", "mp4",
                str(tmp_path / "out.mp4")], what="a test", on_progress=seen.append)
    assert seen and seen == sorted(seen) and 2.8 <= seen[-1] <= 3.0  # the last report: a few frames before the end
    with pytest.raises(FfmpegError, match="No such file or directory"):
        run_ffmpeg(["-i", str(tmp_path / "missing.mp4"), str(tmp_path / "x.mp4")], what="a test", on_progress=seen.append)
    with pytest.raises(DiskFault, match="cannot write /dev/full: no space left on the disk"):
        run_ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x64:duration=0.2", "-f", "mp4", "/dev/full"], what="a test",
                   on_progress=seen.append)
