"""What a film costs besides the GPUs: disk for its shots and film, and host memory for FFmpeg at the delivery size.

Generated shots are rendered at the model's size, but the animatic and footage are drawn at
the delivery size, and the assembly decodes every shot and encodes the film at it: at
7680x4320 a frame is 33 million pixels, and the assembly's memory grows with each shot it
opens. Figures: benchmarks/bench_outputs.py and docs/benchmarks.md ("The output folder").
"""

from __future__ import annotations

from dataclasses import dataclass

# Disk per pixel of each frame of a shot, generous: x264 at CRF 16 wrote 0.021 (a moving test
# pattern) to 0.044 (fine detail) bytes per pixel at 1280x704; the animatic's cards 0.0006-0.0072.
SHOT_BYTES_PER_PIXEL = 0.1
ANIMATIC_BYTES_PER_PIXEL = 0.02
# The film at CRF 18: fine detail wrote 0.020 bytes per pixel at 1920x1080, and 0.0087 scaled
# up from 1280x704 to 7680x4320; twice the larger.
FILM_BYTES_PER_PIXEL = 0.04
# Beside the shots and the film: the audio, the logs, the review page.
MARGIN_BYTES = 500 * 1024**2
# The assembly's peak memory: a part per pixel of the delivery frame (x264 looking ahead, the
# filter graph), a part per shot opened (each input's decoder: per pixel, and fixed) and a
# fixed part. Fitted to runs from 640x360 to 7680x4320 with 2 and 6 shots on a 2-core machine,
# which it meets within -1 % to +7 %. FFmpeg starts more threads on more cores, each holding
# frames: there it needs more.
ASSEMBLY_BYTES_PER_PIXEL = 190
ASSEMBLY_BYTES_PER_PIXEL_PER_SHOT = 26
ASSEMBLY_BYTES_PER_SHOT = 8 * 1024**2
ASSEMBLY_FIXED_BYTES = 80 * 1024**2


@dataclass(frozen=True)
class DeliveryCost:
    shot_bytes: int  # the shots to render, at their render sizes
    film_bytes: int  # final.mp4 and the assembly's intermediate picture beside it, at the delivery size
    assembly_memory_bytes: int  # peak host memory of the assembly's FFmpeg

    @property
    def disk_bytes(self) -> int:
        return self.shot_bytes + self.film_bytes + MARGIN_BYTES

    def to_json(self) -> dict:
        return {"shot_bytes": self.shot_bytes, "film_bytes": self.film_bytes, "disk_bytes": self.disk_bytes,
                "assembly_memory_bytes": self.assembly_memory_bytes}


def shot_bytes(shots: list[tuple[int, int, int, str]]) -> int:
    """Disk for shots given as (frames, width, height, backend)."""
    return int(sum(frames * width * height * (ANIMATIC_BYTES_PER_PIXEL if backend == "animatic" else SHOT_BYTES_PER_PIXEL)
                   for frames, width, height, backend in shots))


def delivery_cost(shots: list[tuple[int, int, int, str]], width: int, height: int, film_frames: int,
                  opened: int) -> DeliveryCost:
    """Rendering ``shots`` (see shot_bytes), then assembling ``opened`` shots into ``film_frames`` frames at ``width``x``height``."""
    pixels = width * height
    memory = (ASSEMBLY_FIXED_BYTES + ASSEMBLY_BYTES_PER_PIXEL * pixels
              + opened * (ASSEMBLY_BYTES_PER_PIXEL_PER_SHOT * pixels + ASSEMBLY_BYTES_PER_SHOT))
    return DeliveryCost(shot_bytes(shots), int(2 * film_frames * pixels * FILM_BYTES_PER_PIXEL), memory)
