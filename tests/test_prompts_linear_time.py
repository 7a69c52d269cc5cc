"""On-screen text extraction takes time in proportion to the prompt: 8 times the text, about 8 times the time.

Each case once grew with the square (or the cube) of its length: a 40 KB prompt took 12 s and
a run of spaces 5 KB long over 20 s. Each call here is stopped after a minute, so a return of
that behaviour fails instead of hanging.
"""

from __future__ import annotations

import signal
import time
from contextlib import contextmanager

import pytest

from render_pipeline.prompts.onscreen_text import find_onscreen_text
from tests.assets.prompt_corpus import LONG_PROMPTS


@contextmanager
def at_most(seconds: int):
    def stop(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def seconds_for(text: str) -> float:
    began = time.perf_counter()
    with at_most(60):
        find_onscreen_text(text)
    return time.perf_counter() - began


@pytest.mark.parametrize("make", LONG_PROMPTS.values(), ids=LONG_PROMPTS.keys())
def test_extraction_time_grows_in_proportion_to_the_prompt(make):
    small, large = make(20_000), make(160_000)
    small_seconds = min(seconds_for(small) for _ in range(2))
    large_seconds = seconds_for(large)
    # Linear: about 8x. Quadratic would be 64x; the margin absorbs a busy machine.
    assert large_seconds < 20 * small_seconds + 0.5, (small_seconds, large_seconds)
