"""Load a storyboard file, check every rule, and resolve defaults into one spec per shot."""

from __future__ import annotations

import copy
import difflib
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from render_pipeline.media.ffmpeg import MediaInfo, MediaKind, UnusableMedia, check_media
from render_pipeline.presets import preset_file
from render_pipeline.storyboard.schema import (
    BACKENDS,
    Camera,
    Delivery,
    Lora,
    MusicCue,
    Overlay,
    QaPolicy,
    ShotFields,
    StoryboardDocument,
    Transition,
    Voice,
)
from render_pipeline.storyboard.text import text_problem
from render_pipeline.storyboard.yaml_source import (
    LocatedDocument,
    Problem,
    StoryboardError,
    ValuePath,
    format_path,
    load_located,
)

SUPPORTED_VERSIONS = (1,)
# Validation's estimate of speaking speed. Deliberately on the fast side of natural
# narration (140-160 wpm) so the estimate only rejects text that cannot possibly fit;
# the narration step measures the real length after synthesis.
ESTIMATE_WORDS_PER_MINUTE = 180.0
# voice.voice names a file in the storyboard's folder when it ends like one: a piper voice
# model, or a recording whose voice xtts clones. Anything else is an engine's voice name.
VOICE_MODEL_SUFFIX = ".onnx"
VOICE_RECORDING_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")
# Pronunciations for narration, read from the storyboard's folder when present (audio/lexicon.py).
LEXICON_FILE = "lexicon.txt"


@dataclass(frozen=True)
class LoraUse:
    """A LoRA a shot renders with: its file (inside the storyboard's folder), strength and expert."""

    path: Path
    weight: float
    expert: str  # "both" | "high" | "low" (the Wan 2.2 A14B expert it applies to)


@dataclass(frozen=True)
class Shot:
    """One shot with every default resolved; times in seconds."""

    index: int
    id: str
    scene: int | None
    duration: float
    prompt: str | None
    source: Path | None
    trim: tuple[float, float] | None
    camera: Camera
    seed: int
    overlays: tuple[Overlay, ...]
    narration: str | None
    narration_overflow: str
    transition_out: Transition  # into the next shot; a cut on the last shot
    transition_in: Transition  # from the previous shot; a cut on the first shot
    image: Path | None
    continue_from: str | None
    backend: str
    quality: str
    style: str | None
    negative_prompt: str | None
    text_in_prompt: str
    window: str = "auto"  # "auto": windows past the model's trained clip; "single": one pass
    loras: tuple[LoraUse, ...] = ()
    steps: int | None = None  # sampling overrides; None: the backend's own for the quality
    guidance: float | None = None
    guidance_2: float | None = None
    shift: float | None = None
    qa: QaPolicy = field(default_factory=QaPolicy)  # what failing shot QA does

    @property
    def handle_in(self) -> float:
        """Extra seconds rendered before the shot's first on-screen frame (half the incoming transition)."""
        return self.transition_in.duration / 2

    @property
    def handle_out(self) -> float:
        return self.transition_out.duration / 2

    @property
    def render_duration(self) -> float:
        """Seconds of picture the shot needs, handles included."""
        return self.handle_in + self.duration + self.handle_out


@dataclass(frozen=True)
class Cue:
    """A music cue resolved to its span of shots."""

    cue: str
    prompt: str | None
    first_shot: str
    last_shot: str
    start: float  # seconds into the film
    end: float
    volume_db: float
    file: Path | None


@dataclass
class Storyboard:
    path: Path
    title: str
    slug: str
    delivery: Delivery
    voice: Voice
    music: list[Cue]
    shots: list[Shot]
    warnings: list[Problem] = field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def duration(self) -> float:
        """The film's length: transitions eat into handles, so it is the sum of the shots."""
        return sum(shot.duration for shot in self.shots)

    def shot(self, shot_id: str) -> Shot:
        for shot in self.shots:
            if shot.id == shot_id:
                return shot
        known = ", ".join(s.id for s in self.shots[:12])
        raise KeyError(f"no shot {shot_id!r} in {self.path.name} (shots: {known}{', ...' if len(self.shots) > 12 else ''})")

    def shot_start(self, shot_id: str) -> float:
        """Seconds from the start of the film to the shot's first on-screen frame."""
        start = 0.0
        for shot in self.shots:
            if shot.id == shot_id:
                return start
            start += shot.duration
        raise KeyError(shot_id)


def slugify(text: str) -> str:
    """A file-system-safe name: ASCII letters, digits and '-' only; never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower()
    return slug[:80] or "film-" + hashlib.sha256(text.encode()).hexdigest()[:8]


BUILTIN_OVERLAY_STYLES = ("title", "lower_third", "caption")
# The project's style presets (shared with post, which draws them); a storyboard may name any of them.
OVERLAY_STYLES_FILE = preset_file("overlay_styles.yaml")


@lru_cache(maxsize=1)
def _overlay_style_presets() -> tuple[str, ...]:
    try:
        presets = yaml.safe_load(OVERLAY_STYLES_FILE.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return BUILTIN_OVERLAY_STYLES  # post reports a broken presets file when it draws
    names = tuple(str(name) for name in presets) if isinstance(presets, dict) else ()
    return BUILTIN_OVERLAY_STYLES + tuple(name for name in names if name not in BUILTIN_OVERLAY_STYLES)


def frame_bounds(durations: list[float], rate: Fraction) -> list[int]:
    """The film frame each shot starts on, then the film's end. Each bound is rounded from the
    running time, so rounding never drifts and the film is round(sum of durations * rate) frames."""
    bounds, elapsed = [0], 0.0
    for duration in durations:
        elapsed += duration
        bounds.append(round(elapsed * rate))
    return bounds


def default_seed(title: str, shot_id: str) -> int:
    """Stable across runs and machines: the same storyboard gives the same pictures."""
    return int.from_bytes(hashlib.sha256(f"{title}\0{shot_id}".encode()).digest()[:4], "big")


def estimated_speech_seconds(text: str) -> float:
    words = len(re.findall(r"[\w'’-]+", text))
    return words * 60.0 / ESTIMATE_WORDS_PER_MINUTE


class OutsideFolder(ValueError):
    """A path in the storyboard that leads out of its folder."""


def path_in_folder(folder: Path, text: str) -> Path:
    """The file ``text`` (as written in the storyboard) names inside ``folder``, every link followed;
    OutsideFolder when it is absolute, climbs out with '..', or leads out through a link."""
    candidate = Path(text)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise OutsideFolder(f"paths must stay inside the storyboard's folder: no absolute paths or '..' (got {text!r})")
    resolved = (folder / candidate).resolve()
    if not resolved.is_relative_to(folder.resolve()):
        raise OutsideFolder(f"{text!r} leads outside the storyboard's folder (through a link)")
    return resolved


def load_storyboard(path: str | Path, overlay_styles: tuple[str, ...] | None = None) -> Storyboard:
    """Read and check a storyboard; raise StoryboardError listing every problem found."""
    path = Path(path)
    document = load_located(path, display_name=str(path))
    return resolve(document, path.resolve(), overlay_styles)


def resolve(document: LocatedDocument, path: Path, overlay_styles: tuple[str, ...] | None = None) -> Storyboard:
    data = document.data
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({type(data).__name__})"
        raise StoryboardError([document.problem((), f"a storyboard is a mapping of keys (version, title, shots, ...), not {kind}")])
    version = data.get("version")
    if "version" not in data:
        raise StoryboardError([document.problem((), "missing 'version' (this program reads version: 1)")])
    if version not in SUPPORTED_VERSIONS or isinstance(version, bool):
        raise StoryboardError(
            [document.problem(("version",), f"unsupported storyboard version {version!r}; this program reads version 1")]
        )
    # A section left empty (`music:` with every cue commented out) means "none".
    data = {key: value for key, value in data.items() if not (key in OPTIONAL_SECTIONS and value is None)}
    text = _text_problems(document)
    try:
        parsed = StoryboardDocument.model_validate(data)
    except ValidationError as exc:
        type_problems = _pydantic_problems(document, exc)
        more = _problems_beyond_types(document, data, exc, path, overlay_styles)
        raise StoryboardError(_dedupe(in_file_order(type_problems + more + text))) from None
    try:
        storyboard = _Resolver(document, parsed, path, overlay_styles).run()
    except StoryboardError as error:
        raise StoryboardError(_dedupe(in_file_order(error.problems + text))) from None
    if text:
        raise StoryboardError(text)
    return storyboard


def _text_problems(document: LocatedDocument) -> list[Problem]:
    """Every text value holding a character no text may hold (storyboard/text.py), wherever it is."""
    problems = []
    pending: list[tuple[ValuePath, Any]] = [((), document.data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            pending += [(path + (key,), item) for key, item in value.items()]
        elif isinstance(value, list):
            pending += [(path + (index,), item) for index, item in enumerate(value)]
        elif isinstance(value, str) and (problem := text_problem(value)) is not None:
            problems.append(document.problem(path, problem))
    return in_file_order(problems)


OPTIONAL_SECTIONS = ("delivery", "defaults", "voice", "music")


def _problems_beyond_types(document: LocatedDocument, data: dict, exc: ValidationError, path: Path,
                           overlay_styles: tuple[str, ...] | None) -> list[Problem]:
    """The cross-field problems of a file that also has type errors, so one run lists (nearly) all.

    Each badly typed value is dropped and the rest checked again. Shots with a type error are
    left out of the report (a dropped value would only cause a misleading follow-up message),
    and so is everything when a default is badly typed, since every shot depends on it.
    """
    repaired = copy.deepcopy(data)
    broken_shots = set()
    for error in exc.errors():
        location = tuple("from" if part == "from_" else part for part in error["loc"])
        if location[0] == "defaults" or not _drop_value(repaired, location):
            return []
        if location[0] == "shots" and len(location) > 1:
            broken_shots.add(format_path(location[:2]))
    try:
        parsed = StoryboardDocument.model_validate(repaired)
        _Resolver(document, parsed, path, overlay_styles).run()
    except ValidationError:
        return []
    except StoryboardError as second:
        return [problem for problem in second.problems
                if not any(problem.path == shot or problem.path.startswith((shot + ".", shot + "["))
                           for shot in broken_shots)]
    return []


def _drop_value(data: Any, location: tuple) -> bool:
    """Remove the mapping key at ``location``; False when it names no key (a whole list item, a missing key)."""
    *parents, last = location
    for part in parents:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False
    if not isinstance(data, dict) or last not in data:
        return False
    del data[last]
    return True


def _open_media(path: Path, kind: MediaKind) -> MediaInfo | str:
    """The file's MediaInfo, or why it cannot be used as ``kind``."""
    try:
        return check_media(path, kind)
    except UnusableMedia as unusable:
        return str(unusable)


def _pydantic_problems(document: LocatedDocument, exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors():
        location: ValuePath = tuple("from" if part == "from_" else part for part in error["loc"])
        kind = error["type"]
        value = error.get("input")
        if kind == "extra_forbidden":
            key = str(location[-1])
            message = f"unknown key {key!r}"
            suggestion = _closest_key(location)
            if suggestion:
                message += f" (did you mean {suggestion!r}?)"
        elif kind == "missing":
            message = "is required"
        elif kind == "value_error":
            message = str(error["ctx"]["error"])
        elif kind == "literal_error":
            message = _not_one_of(value, error["ctx"]["expected"])
        elif kind == "string_too_long":
            message = f"must be at most {error['ctx']['max_length']:,} characters (this one has {len(value):,})"
        elif kind == "tuple_type":
            message = f"must be a list of two numbers, [start, end] in seconds (got {value!r})"
        elif kind in _PLAIN_MESSAGES:
            limits = {key: int(limit) if isinstance(limit, float) and limit.is_integer() else limit
                      for key, limit in error.get("ctx", {}).items()}
            message = _PLAIN_MESSAGES[kind].format(**limits)
            if not isinstance(value, (dict, list)):
                message += f" (got {value!r})"
        else:
            message = error["msg"][0].lower() + error["msg"][1:]
            if not isinstance(value, (dict, list)):
                message += f" (got {value!r})"
        problems.append(document.problem(location, message, at_key=kind == "extra_forbidden"))
    return _dedupe(problems)


# pydantic's wording, in the terms a storyboard writer uses.
_PLAIN_MESSAGES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "float_type": "must be a number",
    "int_type": "must be a whole number",
    "string_type": "must be text (put it in quotes)",
    "list_type": "must be a list (one '- ' item per line, or [a, b])",
    "dict_type": "must be a mapping of keys",
    "model_type": "must be a mapping of keys",
    "model_attributes_type": "must be a mapping of keys",
    "string_too_short": "must not be empty",
    "too_short": "needs at least {min_length} item(s)",
    "too_long": "takes at most {max_length} items",
    "finite_number": "must be a finite number",
}


def _not_one_of(value: Any, expected: str) -> str:
    choices = [choice.strip(" '") for choice in re.split(r",| or ", expected)]
    message = f"{value!r} is not one of: {', '.join(choices)}"
    suggestion = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
    return f"{value!r} is unknown (did you mean {suggestion[0]!r}?)" if suggestion else message


def in_file_order(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda problem: (problem.line, problem.column))


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, unique = set(), []
    for problem in problems:
        key = (problem.line, problem.column, problem.path)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique


_KNOWN_KEYS: dict[tuple[str, ...], type[BaseModel]] = {
    (): StoryboardDocument,
    ("delivery",): Delivery,
    ("defaults",): ShotFields,
    ("voice",): Voice,
    ("shots",): ShotFields,
    ("music",): MusicCue,
    ("defaults", "loras"): Lora,
    ("shots", "loras"): Lora,
}


def _closest_key(location: ValuePath) -> str | None:
    parent = tuple(part for part in location[:-1] if not isinstance(part, int))
    fields: list[str] = []
    model = _KNOWN_KEYS.get(parent)
    if model is None and parent[-1:] == ("camera",):
        model = Camera
    elif model is None and parent[-1:] in (("transition",),):
        model = Transition
    elif model is None and parent[-1:] == ("overlays",):
        model = Overlay
    if model is not None:
        fields = [info.alias or name for name, info in model.model_fields.items()]
    matches = difflib.get_close_matches(str(location[-1]), fields, n=1, cutoff=0.6)
    return matches[0] if matches else None


class _Resolver:
    def __init__(self, document: LocatedDocument, parsed: StoryboardDocument, path: Path,
                 overlay_styles: tuple[str, ...] | None):
        self.document = document
        self.parsed = parsed
        self.path = path
        self.base_dir = path.parent
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.overlay_styles = overlay_styles or _overlay_style_presets()
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
            raise StoryboardError(_dedupe(in_file_order(self.problems)))
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
                self.media[resolved, media] = _open_media(resolved, media)
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
