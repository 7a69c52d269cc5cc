"""XTTS v2's real-time factor: seconds of computing per second of speech, through the worker render-all uses.

    python -m benchmarks.bench_xtts [--weights FOLDER | --full-size] [--sentences 6] [--out xtts.json]

Without --weights it builds the tiny random XTTS of the tests (tests/assets/tiny_xtts.py) in a
temporary folder, or with --full-size one of the release's sizes (random weights never pick the
stop code, so each sentence runs to the longest take, 605 codes: about 28 s of audio). Needs the XTTS environment ($RENDER_PIPELINE_XTTS_ENV or --env). Prints the
model's load time, the speaker latents' time and the real-time factor of the sentences spoken
after the first (whose time includes the latents).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Results, out_option
from render_pipeline.audio.tts.xtts_env import ENV_VARIABLE, WORKER
from render_pipeline.audio.wav import write_wav
from render_pipeline.media.ffmpeg import ffmpeg_output

SENTENCES = ["The harbour wakes before the sun.", "A grey ship turns slowly towards the open sea.",
             "Gulls follow it out past the breakwater.", "On the quay, the sailors' families wave.",
             "The engines settle into a steady beat.", "By noon, the coast is a thin line behind them."]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, help="an xtts_v2 folder (default: the tiny random model)")
    parser.add_argument("--env", type=Path, default=os.environ.get(ENV_VARIABLE), help="the XTTS environment")
    parser.add_argument("--full-size", action="store_true", help="random weights of the release's sizes")
    parser.add_argument("--sentences", type=int, default=len(SENTENCES))
    out_option(parser)
    args = parser.parse_args(argv)
    if args.env is None:
        sys.exit(f"name the XTTS environment: --env or ${ENV_VARIABLE}")
    python = Path(args.env) / "bin" / "python"
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        weights = args.weights
        if weights is None:
            weights = work / "xtts_v2"
            size = ["--full-size"] if args.full_size else []
            subprocess.run([str(python), str(Path(__file__).parents[1] / "tests" / "assets" / "tiny_xtts.py"), str(weights), *size],
                           check=True, capture_output=True)
        reference = work / "reference.wav"
        raw = ffmpeg_output(["-f", "lavfi", "-i", "sine=f=180:d=6", "-ar", "22050", "-f", "f32le", "-"], what="reference")
        import numpy as np

        write_wav(reference, np.frombuffer(raw, dtype="<f4"), 22_050)
        began = time.perf_counter()
        worker = subprocess.Popen([str(python), str(WORKER), "--weights", str(weights), "--latents", str(work / "latents")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ready = json.loads(worker.stdout.readline())
        load_s = time.perf_counter() - began
        timings = []
        for number, text in enumerate((SENTENCES * 4)[: args.sentences]):
            began = time.perf_counter()
            worker.stdin.write(json.dumps({"text": text, "language": "en", "reference": str(reference),
                                           "latents_key": "bench", "out": str(work / f"{number}.wav")}) + "\n")
            worker.stdin.flush()
            answer = json.loads(worker.stdout.readline())
            if "error" in answer:
                sys.exit(answer["error"])
            timings.append((time.perf_counter() - began, answer["seconds"]))
        worker.stdin.close()
        worker.wait()
    compute = sum(spent for spent, _ in timings[1:])
    speech = sum(spoken for _, spoken in timings[1:])
    figures = {"device": ready["device"], "load_s": round(load_s, 2), "first_sentence_s": round(timings[0][0], 2),
               "sentences_timed": len(timings) - 1, "speech_s": round(speech, 2), "compute_s": round(compute, 2),
               "real_time_factor": round(compute / speech, 2)}
    print(json.dumps(figures, indent=2))
    model = str(args.weights) if args.weights else "full-size random" if args.full_size else "tiny random"
    Results(__file__, args.out, argv, device=ready["device"], settings={"model": model}).save(figures)


if __name__ == "__main__":
    main()
