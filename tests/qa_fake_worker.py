"""A runner worker whose backend draws synthetic clips (tests/assets/qa_clips.py), for tests/test_qa_rerender.py.

QA_FAKE_ATTEMPTS maps a shot id to the kind of clip each of its renders draws, in order
("lettered", "frozen", ...); renders past the list are clean. QA_FAKE_DIR keeps a count of each
shot's renders and a line per render (seed, negative prompt) in renders.jsonl, and the texts
the worker was asked to encode in encoded.jsonl.
"""

import json
import os
import sys
from pathlib import Path

# Run as a script: its own folder, tests/, is the first on the path.
from assets.qa_clips import FPS, Scene, make_clip

import render_pipeline.runner.worker as worker

ATTEMPTS = json.loads(os.environ.get("QA_FAKE_ATTEMPTS", "{}"))
FOLDER = Path(os.environ["QA_FAKE_DIR"])


def append(name: str, record: dict) -> None:
    with open(FOLDER / name, "a") as file:
        file.write(json.dumps(record) + "\n")


class SyntheticSession:
    name = "synthetic"

    def encode(self, requests, text_cache=None) -> None:
        for request in requests:
            append("encoded.jsonl", {"shot": request.shot_id, "negative_prompt": request.negative_prompt})

    def render(self, request, out_path, progress) -> None:
        counter = FOLDER / f"{request.shot_id}.renders"
        done = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(done + 1))
        kinds = ATTEMPTS.get(request.shot_id, [])
        kind = kinds[done] if done < len(kinds) else "clean"
        append("renders.jsonl", {"shot": request.shot_id, "seed": request.seed, "kind": kind,
                                 "negative_prompt": request.negative_prompt})
        scene = Scene(seed=7, width=request.width, height=request.height, seconds=request.frames / FPS)
        make_clip(scene, out_path, kind, scratch=FOLDER)
        progress(request.steps, request.steps)

    def close(self) -> None:
        pass


worker.open_session = lambda backend, layout, models_dir: SyntheticSession()
sys.exit(worker.main())
