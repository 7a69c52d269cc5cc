"""The cross-field rules and defaults that turn a typed storyboard into its shots and music cues."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from render_pipeline.media.ffmpeg import MediaInfo, MediaKind
from render_pipeline.storyboard.inputs import (
    LEXICON_FILE,
    VOICE_MODEL_SUFFIX,
    VOICE_RECORDING_SUFFIXES,
    OutsideFolder,
    open_media,
    path_in_folder,
)
from render_pipeline.storyboard.overlay_styles import overlay_style_presets
from render_pipeline.storyboard.resolve_problems import dedupe, in_file_order
from render_pipeline.storyboard.resolved import Cue, LoraUse, Shot, Storyboard, frame_bounds, slugify
from render_pipeline.storyboard.schema import (
    BACKENDS,
    Camera,
    Lora,
    Overlay,
    QaPolicy,
    ShotFields,
    StoryboardDocument,
    Transition,
)
from render_pipeline.storyboard.yaml_source import LocatedDocument, Problem, StoryboardError, ValuePath

# Validation's estimate of speaking speed. Deliberately on the fast side of natural
# narration (140-160 wpm) so the estimate only rejects text that cannot possibly fit;
# the narration step measures the real length after synthesis.
ESTIMATE_WORDS_PER_MINUTE = 180.0


def default_seed(title: str, shot_id: str) -> int:
    """Stable across runs and machines: the same storyboard gives the same pictures."""
    return int.from_bytes(hashlib.sha256(f"{title}\0{shot_id}".encode()).digest()[:4], "big")


def estimated_speech_seconds(text: str) -> float:
    words = len(re.findall(r"[\w'’-]+", text))
    return words * 60.0 / ESTIMATE_WORDS_PER_MINUTE


class Resolver:
    def __init__(self, document: LocatedDocument, parsed: StoryboardDocument, path: Path,
                 overlay_styles: tuple[str, ...] | None):
        self.document = document
        self.parsed = parsed
        self.path = path
        self.base_dir = path.parent
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.overlay_styles = overlay_styles or overlay_style_presets()
        self.raw_shots: list[dict[str, Any]] = document.data["shots"]
        self.raw_defaults: dict[str, Any] = document.data.get("defaults") or {}
        self.media: dict[tuple[Path, MediaKind], MediaInfo | str] = {}  # each file opened once: its facts, or why not

    def error(self, path: ValuePath, message: str) -> None:
        self.problems.append(self.document.problem(path, message))

    def warn(self, path: ValuePath, message: str) -> None:
        self.warnings.append(self.document.problem(path, message))

    def origin(self, index: int, name: str) -> ValuePath:
        """Where a shot's effective value for ``name`` was written: the shot, else defaults."""
        if name in self.raw_shots[index]:
            return ("shots", index, name)
        if name in self.raw_defaults:
            return ("defaults", name)
        return ("shots", index)

    def run(self) -> Storyboard:
        parsed = self.parsed
        if parsed.defaults.id is not None:
            self.error(("defaults", "id"), "a default id makes no sense; give each shot its own id")
        ids = self._check_ids()
        shots = [self._shot(index, fields) for index, fields in enumerate(parsed.shots)]
        shots = self._link_transitions(shots)
        self._check_frames(shots)
        for shot in shots:
            self._check_single_pass(shot)
        self._check_continuations(shots, ids)
        music = self._music(shots, ids)
        self._check_voice_files()
        if self.problems:
            raise StoryboardError(dedupe(in_file_order(self.problems)))
        return Storyboard(
            path=self.path,
            title=parsed.title.strip(),
            slug=slugify(parsed.title),
            delivery=parsed.delivery,
            voice=parsed.voice,
            music=music,
            shots=shots,
            warnings=in_file_order(self.warnings),
        )

    def _check_ids(self) -> dict[str, int]:
        ids: dict[str, int] = {}
        for index, fields in enumerate(self.parsed.shots):
            if fields.id is None:
                self.error(("shots", index), "id is required")
            elif fields.id in ids:
                first = self.document.where(("shots", ids[fields.id], "id"))[0]
                self.error(("shots", index, "id"), f"duplicate shot id {fields.id!r} (first used on line {first})")
            else:
                ids[fields.id] = index
        return ids

    def _merged(self, fields: ShotFields) -> dict[str, Any]:
        """The shot's fields over the defaults. `camera`, `transition` and `qa` merge key by key (a shot
        saying `transition: {type: wipeleft}` keeps the default duration); every other field,
        lists included, is replaced whole."""
        defaults = self.parsed.defaults
        value = {
            name: getattr(fields, name) if name in fields.model_fields_set else getattr(defaults, name)
            for name in ShotFields.model_fields
        }
        for name in ("camera", "transition", "qa"):
            own, default = getattr(fields, name), getattr(defaults, name)
            if own is not None and default is not None:
                value[name] = default.model_copy(update={key: getattr(own, key) for key in own.model_fields_set})
        return value

    def _shot(self, index: int, fields: ShotFields) -> Shot:
        value = self._merged(fields)
        shot_id = fields.id or f"#{index + 1}"
        duration = value["duration"]
        if duration is None:
            self.error(("shots", index), "duration is required (seconds on screen, > 0)")
            duration = 1.0
        if (value["prompt"] is None) == (value["source"] is None):
            which = "neither" if value["prompt"] is None else "both"
            self.error(("shots", index), f"a shot needs exactly one of 'prompt' or 'source' (this one has {which})")
        source = self._path(value["source"], self.origin(index, "source"), media=MediaKind.VIDEO)
        image = self._path(value["image"], self.origin(index, "image"), media=MediaKind.IMAGE)
        trim = value["trim"]
        if trim is not None:
            if value["source"] is None:
                self.error(self.origin(index, "trim"), "trim applies only to a shot with 'source' footage")
            elif trim[1] <= trim[0]:
                self.error(self.origin(index, "trim"), f"trim end must be after its start (got [{trim[0]}, {trim[1]}])")
            elif abs((trim[1] - trim[0]) - duration) > 1e-3:
                self.error(self.origin(index, "trim"),
                           f"trim spans {trim[1] - trim[0]:g} s but the shot's duration is {duration:g} s; make them equal")
        if value["image"] is not None and value["source"] is not None:
            self.error(self.origin(index, "image"), "image conditioning applies only to generated shots (with 'prompt')")
        overlays = tuple(self._overlay(index, n, overlay, duration) for n, overlay in enumerate(value["overlays"] or []))
        narration = value["narration"]
        overflow = value["narration_overflow"] or "error"
        if narration and overflow == "error":
            estimate = estimated_speech_seconds(narration)
            if estimate > duration:
                self.error(self.origin(index, "narration"),
                           f"narration needs about {estimate:.1f} s at {ESTIMATE_WORDS_PER_MINUTE:g} words/min but the "
                           f"shot lasts {duration:g} s; shorten it, lengthen the shot, or set narration_overflow: allow")
        transition = value["transition"] or Transition()
        if transition.type == "cut":
            transition = Transition(type="cut", duration=0.0)
        elif transition.duration <= 0:
            self.error(self.origin(index, "transition"), f"a {transition.type} transition needs a duration > 0")
        seed = value["seed"] if value["seed"] is not None else default_seed(self.parsed.title.strip(), shot_id)
        model = self._model_of(value)
        self._check_sampling(index, value, model)
        return Shot(
            index=index, id=shot_id, scene=value["scene"], duration=float(duration), prompt=value["prompt"],
            source=source, trim=trim, camera=value["camera"] or Camera(), seed=seed, overlays=overlays,
            narration=narration.strip() if narration else None, narration_overflow=overflow,
            transition_out=transition, transition_in=Transition(), image=image,
            continue_from=value["continue_from"], backend=value["backend"] or "auto",
            quality=value["quality"] or "final", style=value["style"], negative_prompt=value["negative_prompt"],
            text_in_prompt=value["text_in_prompt"] or "overlay",
            window=value["window"] or "auto",
            loras=self._loras(index, value["loras"] or [], model),
            steps=value["steps"], guidance=value["guidance"], guidance_2=value["guidance_2"], shift=value["shift"],
            qa=value["qa"] or QaPolicy(),
        )

    def _model_of(self, value: dict[str, Any]) -> str | None:
        """The model that renders a generated shot whose backend is named; None for auto, the animatic, footage."""
        backend = value["backend"] or "auto"
        if value["source"] is not None or backend in ("auto", "animatic"):
            return None
        from render_pipeline.backends.specs import spec_for

        return spec_for(backend, value["image"] is not None or value["continue_from"] is not None).name

    def _loras(self, index: int, loras: list[Lora], model: str | None) -> tuple[LoraUse, ...]:
        """The shot's LoRAs; each must fit the shot's model where it is named (plan checks `auto` once chosen)."""
        where = self.origin(index, "loras")
        uses = []
        for number, lora in enumerate(loras):
            path = self._path(lora.path, where + (number, "path"))
            if path is None:
                continue
            uses.append(LoraUse(path=path, weight=lora.weight, expert=lora.expert))
            if model is not None:
                from render_pipeline.backends.lora_files import expert_problem, fit_problem

                for key, problem in (("path", fit_problem(path, model)), ("expert", expert_problem(lora.expert, model))):
                    if problem:
                        self._once(self.problems, where + (number, key), problem)
        return tuple(uses)

    def _check_sampling(self, index: int, value: dict[str, Any], model: str | None) -> None:
        """Sampling settings the shot's model has no use for are ignored, with a warning."""
        if model is None:
            return
        from render_pipeline.backends.specs import SPECS

        spec = SPECS[model]
        if value["guidance_2"] is not None and spec.guidance_2 is None:
            self._once(self.warnings, self.origin(index, "guidance_2"),
                       f"guidance_2 is Wan 2.2 A14B's low-noise expert's; {model} ignores it")
        elif value["guidance_2"] is not None and value["guidance"] == 1:
            self._once(self.warnings, self.origin(index, "guidance_2"),
                       "guidance 1 turns classifier-free guidance off for both experts; guidance_2 is ignored")
        if value["shift"] is not None and spec.shift is None:
            self._once(self.warnings, self.origin(index, "shift"), f"{model} samples without a flow shift; shift is ignored")

    def _once(self, found: list[Problem], path: ValuePath, message: str) -> None:
        """Record a problem once: one in `defaults` would otherwise come once per shot that inherits it."""
        problem = self.document.problem(path, message)
        if problem not in found:
            found.append(problem)

    def _overlay(self, index: int, number: int, overlay: Overlay, duration: float) -> Overlay:
        where = self.origin(index, "overlays")
        where = where + (number,) if where[-1] == "overlays" else where
        start = 0.0 if overlay.start is None else overlay.start
        end = duration if overlay.end is None else overlay.end
        if not start < end:
            self.error(where + ("end",), f"overlay must end after it starts (start {start:g}, end {end:g})")
        if end > duration + 1e-9:
            self.error(where + ("end",), f"overlay ends at {end:g} s, after the shot's {duration:g} s")
        if overlay.style not in self.overlay_styles:
            self.error(where + ("style",),
                       f"unknown overlay style {overlay.style!r} (known: {', '.join(self.overlay_styles)})")
        return overlay.model_copy(update={"start": start, "end": end})

    def _path(self, text: str | None, where: ValuePath, media: MediaKind | None = None) -> Path | None:
        """The file ``text`` names inside the storyboard's folder; with ``media``, opened as FFmpeg will
        open it when rendering. None, with the problem recorded, when it cannot be used."""
        if text is None:
            return None
        try:
            resolved = path_in_folder(self.base_dir, text)
        except OutsideFolder as outside:
            self.error(where, str(outside))
            return None
        if not resolved.is_file():
            self.error(where, f"file not found: {text!r} (looked in {self.base_dir})")
            return None
        if media is not None:
            if (resolved, media) not in self.media:
                self.media[resolved, media] = open_media(resolved, media)
            opened = self.media[resolved, media]
            if isinstance(opened, str):
                self.error(where, opened)
                return None
        return resolved

    def _check_voice_files(self) -> None:
        """The voice file and the lexicon are read from the storyboard's folder like every other input."""
        voice = self.parsed.voice.voice
        if voice is not None and voice.lower().endswith(VOICE_RECORDING_SUFFIXES):
            self._path(voice, ("voice", "voice"), media=MediaKind.AUDIO)
        elif voice is not None and voice.endswith(VOICE_MODEL_SUFFIX):
            self._path(voice, ("voice", "voice"))
            self._path(voice + ".json", ("voice", "voice"))
        lexicon = self.base_dir / LEXICON_FILE
        if lexicon.is_symlink() or lexicon.exists():
            try:
                path_in_folder(self.base_dir, LEXICON_FILE)
            except OutsideFolder:
                self.error((), f"{LEXICON_FILE} (the narration's pronunciations) leads outside the storyboard's folder "
                               "through a link; copy the lexicon into the folder")

    def _link_transitions(self, shots: list[Shot]) -> list[Shot]:
        last = shots[-1]
        if last.transition_out.type != "cut":
            if "transition" in self.raw_shots[last.index]:  # a default transition is silently meant for the other shots
                self.warn(self.origin(last.index, "transition"), "the last shot's transition has no next shot; it is ignored")
            shots[-1] = replace(last, transition_out=Transition())
        for index in range(1, len(shots)):
            shots[index] = replace(shots[index], transition_in=shots[index - 1].transition_out)
        shots = [self._footage(shot) for shot in shots]
        for shot in shots:
            transition = shot.transition_out
            if transition.duration > shot.duration:
                self.error(self.origin(shot.index, "transition"),
                           f"transition of {transition.duration:g} s is longer than the shot ({shot.duration:g} s)")
            elif shot.handle_in + shot.handle_out > shot.duration + 1e-9:
                self.error(self.origin(shot.index, "transition"),
                           f"the transitions into and out of this shot overlap: half of each ({shot.handle_in:g} s + "
                           f"{shot.handle_out:g} s) must fit in its {shot.duration:g} s")
            if shot.index + 1 < len(shots):
                following = shots[shot.index + 1]
                if transition.duration > following.duration:
                    self.error(self.origin(shot.index, "transition"),
                               f"transition of {transition.duration:g} s is longer than the next shot "
                               f"{following.id!r} ({following.duration:g} s)")
        return shots

    def _check_single_pass(self, shot: Shot) -> None:
        """`window: single` on a shot longer than its model was trained on is allowed, with a warning."""
        from render_pipeline.backends.specs import SPECS

        if shot.window != "single" or shot.source is not None:
            return
        if shot.backend == "auto":  # any model the planner may choose
            names = [name for name in BACKENDS if name in SPECS and SPECS[name].needs_gpu]
        else:
            names = [shot.backend] if SPECS[shot.backend].needs_gpu else []
        past = [name for name in names if SPECS[name].frames_for(shot.render_duration) > SPECS[name].max_frames]
        if past:
            trained = ", ".join(f"{name} {SPECS[name].max_frames / SPECS[name].native_fps:.2f} s" for name in past)
            self.warn(self.origin(shot.index, "window"),
                      f"window: single renders this {shot.render_duration:g} s shot in one pass, longer than its "
                      f"model was trained on ({trained}): expect loops, freezes or drift, and a cost that grows "
                      f"with the square of the frames; without it the shot is rendered in windows")

    def _footage(self, shot: Shot) -> Shot:
        """Give a footage shot its trim (default: the clip's start, leaving room for the incoming
        handle) and check that the clip holds the trim plus both transition handles."""
        if shot.source is None:
            return shot
        trim = shot.trim or (shot.handle_in, shot.handle_in + shot.duration)
        needed_from, needed_to = trim[0] - shot.handle_in, trim[1] + shot.handle_out
        clip_length = self._clip_length(shot.source)
        where = self.origin(shot.index, "trim" if shot.trim else "source")
        if needed_from < -1e-9:
            self.error(where, f"the incoming transition needs {shot.handle_in:g} s of footage before the trim's start "
                              f"({trim[0]:g} s); start the trim at {shot.handle_in:g} s or later")
        elif clip_length is not None and needed_to > clip_length + 1e-3:
            self.error(where, f"needs the clip up to {needed_to:g} s (trim end {trim[1]:g} s plus {shot.handle_out:g} s "
                              f"for the outgoing transition) but {shot.source.name} lasts {clip_length:g} s")
        return replace(shot, trim=trim)

    def _clip_length(self, source: Path) -> float | None:
        opened = self.media[source, MediaKind.VIDEO]  # opened when the shot's source was read
        return opened.duration if isinstance(opened, MediaInfo) else None  # a str: unusable, reported then

    def _check_frames(self, shots: list[Shot]) -> None:
        """Every shot has at least one frame of the film: a shorter one would fail to render."""
        rate = self.parsed.delivery.frame_rate
        bounds = frame_bounds([shot.duration for shot in shots], rate)
        for shot in shots:
            if bounds[shot.index + 1] == bounds[shot.index]:
                self.error(self.origin(shot.index, "duration"),
                           f"{shot.duration:g} s gets no frame of its own at {float(rate):g} fps (a frame lasts "
                           f"{1 / float(rate):.4g} s); make the shot at least one frame long")

    def _check_continuations(self, shots: list[Shot], ids: dict[str, int]) -> None:
        for shot in shots:
            target = shot.continue_from
            if target is None:
                continue
            where = self.origin(shot.index, "continue_from")
            if shot.prompt is None:
                self.error(where, "continue_from applies only to generated shots (with 'prompt')")
            elif target not in ids:
                self.error(where, f"no shot with id {target!r}")
            elif ids[target] >= shot.index:
                self.error(where, f"continue_from must name an earlier shot ({target!r} is not before {shot.id!r})")

    def _music(self, shots: list[Shot], ids: dict[str, int]) -> list[Cue]:
        cues = []
        for number, cue in enumerate(self.parsed.music):
            first = cue.from_ if cue.from_ is not None else shots[0].id
            last = cue.to if cue.to is not None else shots[-1].id
            bad = False
            for key, shot_id in (("from", first), ("to", last)):
                if shot_id not in ids:
                    self.error(("music", number, key), f"no shot with id {shot_id!r}")
                    bad = True
            if bad:
                continue
            if ids[first] > ids[last]:
                self.error(("music", number, "to"), f"cue ends at shot {last!r}, before it starts at {first!r}")
                continue
            file = self._path(cue.file, ("music", number, "file"), media=MediaKind.AUDIO)
            start = sum(s.duration for s in shots[: ids[first]])
            end = sum(s.duration for s in shots[: ids[last] + 1])
            cues.append(Cue(cue=cue.cue, prompt=cue.prompt, first_shot=first, last_shot=last, start=start, end=end,
                            volume_db=cue.volume_db, file=file))
        return cues
