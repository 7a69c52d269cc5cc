"""The picture as one FFmpeg filter graph: conform every shot, join with cuts and xfades, burn overlays.

Each shot arrives at the delivery fps (assemble has converted any rendered at another rate,
media/retime.py; the fps filter here only puts its timestamps on the delivery's frame grid),
is extended by repeating its last frame if it is short (an animatic or footage without
enough handle), trimmed to exactly the frames the edit uses, then scaled to fit and padded
(never stretched). Each shot is then cut into
the frames under its incoming transition, its body, and the frames under its outgoing
transition; a transition is an xfade of the two overlapping pieces, and one concat joins
bodies and transitions in order. xfade works only in formats without chroma subsampling,
so keeping it to the overlapping frames spares every other frame two format conversions.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from render_pipeline.post.edit import XFADE_NAMES, Edit, EditedShot
from render_pipeline.post.review import THUMBNAIL_WIDTH


def _conform(index: int, edited: EditedShot, edit: Edit) -> str:
    first = edited.source_start
    last = first + edited.used_frames
    width, height = edit.width, edit.height
    return (
        f"[{index}:v:0]setpts=PTS-STARTPTS,fps={edit.fps},tpad=stop_mode=clone:stop={edited.used_frames},"
        f"trim=start_frame={first}:end_frame={last},setpts=PTS-STARTPTS,"
        f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p[c{index}]"
    )


def video_graph(edit: Edit, ass_path: Path | None, fonts_dir: Path | None) -> str:
    """The filter graph over inputs 0..n-1 (the shots, in order).

    Its outputs: [video], the film; [thumbs], one frame from the middle of each shot as the film
    shows it (overlays burned in), THUMBNAIL_WIDTH wide, in shot order.
    """
    parts = []
    pieces = []  # labels of the film's pieces in order: shot bodies and transitions
    last = len(edit.shots) - 1
    for index, edited in enumerate(edit.shots):
        parts.append(_conform(index, edited, edit))
        incoming = edit.shots[index - 1].transition_out_frames if index else 0
        outgoing = edited.transition_out_frames if index < last else 0
        body_end = edited.used_frames - outgoing
        spans = [(label, start, end) for label, start, end in ((f"in{index}", 0, incoming),
                                                               (f"body{index}", incoming, body_end),
                                                               (f"out{index}", body_end, edited.used_frames))
                 if end > start]
        if len(spans) == 1:
            parts.append(f"[c{index}]null[{spans[0][0]}]")
        else:
            parts.append(f"[c{index}]split={len(spans)}" + "".join(f"[{label}_all]" for label, _, _ in spans))
            parts += [f"[{label}_all]trim=start_frame={start}:end_frame={end},setpts=PTS-STARTPTS[{label}]"
                      for label, start, end in spans]
        if incoming:
            kind = edit.shots[index - 1].shot.transition_out.type
            parts.append(f"[out{index - 1}][in{index}]xfade=transition={XFADE_NAMES.get(kind, kind)}:"
                         f"duration={edit.seconds(incoming)!r}:offset=0,format=yuv420p[x{index}]")
            pieces.append(f"x{index}")
        if body_end > incoming:
            pieces.append(f"body{index}")
    picture = _concat(pieces, "picture", parts, edit.fps)
    if ass_path is not None:
        parts.append(f"[{picture}]ass=filename={_safe(ass_path)}:fontsdir={_safe(fonts_dir)}[titled]")
        picture = "titled"
    middles = "+".join(f"eq(n,{edited.record_start + edited.frames // 2})" for edited in edit.shots)
    parts.append(f"[{picture}]split=2[video][thumb_source]")
    parts.append(f"[thumb_source]select='{middles}',scale={THUMBNAIL_WIDTH}:-2[thumbs]")
    return ";\n".join(parts)


def _concat(labels: list[str], out: str, parts: list[str], fps: Fraction) -> str:
    if len(labels) == 1:
        return labels[0]
    # concat outputs microsecond timestamps; back to the frame time base, where every frame's is exact.
    parts.append("".join(f"[{label}]" for label in labels) + f"concat=n={len(labels)}:v=1:a=0,settb={1 / fps}[{out}]")
    return out


def _safe(path: Path | None) -> str:
    # Paths in a filter graph need escaping; ours are scratch paths we name ourselves, so we
    # only check they contain nothing that would need it.
    text = str(path)
    if not text or any(not (c.isalnum() or c in "/._-") for c in text):
        raise ValueError(f"scratch path {text!r} has characters a filter graph would misread")
    return text
