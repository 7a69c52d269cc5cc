"""What the animatic draws for a shot, read from its prompt and camera fields (torch- and numpy-free).

A small vocabulary is enough to make each preview recognisable: the time of day sets the
palette (and brings a sun, a moon or stars), the setting sets the horizon and what stands on
it (water and a quay, fields, a skyline, a hall's wall and roof trusses, a plain card), the
subject words put silhouettes in front (ships, people, cranes, vehicles, aircraft, birds),
motion words move them across, and the shot's size and angle set how big they are and where
the horizon sits. The first matching word wins in each table, so the lists go from specific
to general. The same prompt, camera and seed always give the same Scene.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

TIME_WORDS = {
    "dawn": ("dawn", "sunrise", "daybreak", "first light", "early morning"),
    "golden": ("sunset", "dusk", "golden hour", "golden light", "evening", "twilight"),
    "night": ("night", "midnight", "moonlight", "moonlit", "dark sky", "starry", "stars"),
    "overcast": ("overcast", "fog", "foggy", "mist", "misty", "rain", "rainy", "storm", "grey sky", "gray sky"),
    "day": ("day", "noon", "midday", "morning", "afternoon", "sunny"),
}
# Mood words shift the whole picture: (brightness factor, warmth shift in red/blue).
MOOD_WORDS = {
    "bright": (1.15, 0), "hopeful": (1.1, 10), "cheerful": (1.15, 10), "joyful": (1.15, 10),
    "warm": (1.0, 25), "cozy": (1.0, 20), "cold": (0.95, -25), "icy": (1.0, -30), "cool": (1.0, -15),
    "dark": (0.7, 0), "gloomy": (0.7, -10), "ominous": (0.65, -15), "tense": (0.8, -5),
    "melancholy": (0.8, -15), "sad": (0.8, -15), "mysterious": (0.75, -10), "eerie": (0.7, -20),
}
# Settings, most specific first: "dry dock" is a shipyard before "dock" is a harbour. A card
# ("a title card over slow moving water") is drawn only when no other setting is named.
SETTING_WORDS = (
    ("shipyard", ("dry dock", "drydock", "shipyard", "slipway", "construction site", "steelworks", "yard")),
    ("interior", ("hall", "workshop", "factory", "hangar", "warehouse", "room", "office", "studio", "cabin",
                  "corridor", "interior", "inside", "laboratory", "lab", "classroom", "kitchen", "control room",
                  "engine room", "bridge of", "tank", "canteen", "weld", "welds", "steel plate", "machinery",
                  "turbine", "engine", "console", "consoles", "laptop", "laptops", "tablet", "screen", "desk",
                  "gauges", "propeller")),
    ("harbor", ("harbor", "harbour", "port", "quay", "quayside", "pier", "dock", "dockside", "wharf", "marina",
                "berth", "jetty", "waterfront")),
    ("sea", ("sea", "ocean", "open water", "water", "waves", "swell", "bay", "coast", "river", "lake",
             "canal", "strait", "seas", "wake", "spray", "at anchor")),
    ("city", ("city", "street", "town", "skyline", "downtown", "avenue", "buildings", "market", "village",
              "square", "gate")),
    ("mountains", ("mountain", "mountains", "peak", "peaks", "alps", "cliff", "cliffs", "canyon", "valley",
                   "mountain pass")),
    ("forest", ("forest", "woods", "woodland", "jungle", "trees")),
    ("desert", ("desert", "dune", "dunes", "sand", "beach")),
    ("snow", ("snow", "snowy", "ice", "icy", "frozen", "arctic", "glacier")),
    ("field", ("field", "fields", "meadow", "farm", "countryside", "hill", "hills", "grass", "prairie", "park")),
)
CARD_WORDS = ("title card", "end card", "text card", "black screen", "plain background", "plain dark background",
              "plain black background", "plain white background")
# Subjects and the words naming them, with the words that stand for several of them.
SUBJECT_WORDS = (
    ("ship", ("ship", "vessel", "boat", "frigate", "destroyer", "corvette", "patrol", "tanker", "ferry", "tug",
              "tugboat", "trawler", "yacht", "submarine", "carrier", "cruiser", "freighter", "warship", "liner",
              "bow", "hull", "fleet")),
    ("person", ("person", "people", "man", "men", "woman", "women", "child", "children", "welder", "worker",
                "sailor", "engineer", "crew", "crowd", "figure", "officer", "visitor", "pilot", "captain", "diver",
                "family", "runner", "fisherman", "technician", "apprentice", "student", "cadet", "guard", "dancer",
                "team", "cyclist", "rider", "hiker", "climber", "soldier", "farmer", "chef", "artist")),
    ("crane", ("crane", "gantry")),
    ("vehicle", ("truck", "car", "bus", "train", "traffic", "van", "forklift", "tractor")),
    ("aircraft", ("plane", "aircraft", "jet", "helicopter", "airliner")),
    ("tower", ("lighthouse", "tower", "chimney")),
    ("tree", ("tree",)),
    ("bird", ("bird", "gull", "seagull", "gulls")),
)
MANY_WORDS = ("people", "men", "women", "children", "crew", "crowd", "fleet", "team", "traffic", "gulls")
NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "single": 1, "lone": 1, "two": 2, "pair": 2, "both": 2, "three": 3,
                "four": 4, "five": 5, "six": 6, "several": 3, "few": 3, "some": 3, "many": 5, "dozens": 6}
MOTION_WORDS = ("glide", "gliding", "glides", "sail", "sailing", "sails", "cruise", "cruising", "steam", "steaming",
                "pass", "passing", "passes", "past", "moving", "moves", "drift", "drifting", "slip", "slips",
                "slipping", "underway", "crossing", "crosses", "running", "runs", "walking", "walks", "driving",
                "drives", "flying", "flies", "approaching", "leaving", "departing", "arriving", "easing",
                "astern", "rolling", "traffic", "marching", "towing")
SPARK_WORDS = ("sparks", "spark", "welding", "welder", "welders", "embers", "fireworks", "molten")
# Shot size (camera.size, or words of the prompt) -> the subject's height as a share of the frame's.
SIZE_SCALES = (
    ("extreme close", 1.2), ("close-up", 0.8), ("close up", 0.8), ("closeup", 0.8), ("medium close", 0.6),
    ("medium wide", 0.32), ("medium", 0.45), ("full", 0.32), ("extreme wide", 0.12), ("establishing", 0.14),
    ("wide", 0.2),
)
# Camera angle -> where the horizon sits, as a share of the frame's height from the top. The
# prompt's own words count only for views from the air ("an overhead crane" is no angle).
ANGLE_HORIZONS = (
    ("aerial", 0.3), ("bird's eye", 0.22), ("overhead", 0.22), ("top-down", 0.22), ("drone", 0.3),
    ("high angle", 0.42), ("low angle", 0.74), ("worm", 0.8),
)
AIR_VIEWS = ("aerial", "bird's eye", "top-down", "drone shot")
DEFAULT_SCALE = 0.3
DEFAULT_HORIZON = 0.6


@dataclass(frozen=True)
class Subject:
    kind: str  # a name of SUBJECT_WORDS
    count: int


@dataclass(frozen=True)
class Scene:
    time_of_day: str  # a key of TIME_WORDS
    mood: tuple[float, int]  # (brightness factor, warmth shift) of the mood words, applied to the whole picture
    setting: str  # a name of SETTING_WORDS, "card" or "light card"
    subjects: tuple[Subject, ...]  # in the order the prompt names them: the first is the main subject
    moving: bool  # the subjects cross the frame during the shot
    sparks: bool
    horizon: float  # share of the frame's height above the horizon (the floor line indoors)
    scale: float  # the main subject's height as a share of the frame's
    seed: int


def _has(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def _first(text: str, table) -> str | None:
    return next((name for name, words in table if any(_has(text, word) for word in words)), None)


def time_and_mood(text: str) -> tuple[str, tuple[float, int]]:
    """The time of day a (lower-case) prompt names, day if none, and its mood: (brightness factor, warmth shift)."""
    time_of_day = _first(text, TIME_WORDS.items()) or "day"
    brightness, warmth = 1.0, 0
    for word, (factor, shift) in MOOD_WORDS.items():
        if _has(text, word):
            brightness *= factor
            warmth += shift
    return time_of_day, (brightness, warmth)


def _named(text: str, words: tuple[str, ...], rng: random.Random) -> tuple[int, int] | None:
    """Where the prompt first names a subject, and how many it names: a number word just before it, a plural, or one."""
    found = [match for word in words
             for match in re.finditer(rf"(?<![\w-]){re.escape(word)}(s|es)?(?![\w-])", text)]
    if not found:
        return None
    match = min(found, key=lambda m: m.start())
    before = re.findall(r"[\w-]+", text[max(0, match.start() - 30):match.start()])[-3:]
    number = next((NUMBER_WORDS[word] for word in reversed(before) if word in NUMBER_WORDS), None)
    if match.group() in MANY_WORDS and (number or 0) < 2:  # "a crowd", "the crew"
        number = rng.randint(3, 5)
    elif number is None:
        number = rng.randint(2, 3) if match.group(1) else 1
    return match.start(), min(number, 6)


def read_scene(prompt: str, camera: dict, seed: int) -> Scene:
    """The Scene for a shot's (enhanced) prompt, its camera fields and its seed."""
    text = " ".join(prompt.lower().split())
    rng = random.Random(seed)
    time_of_day, mood = time_and_mood(text)
    setting = _first(text, SETTING_WORDS)
    if setting is None and any(_has(text, word) for word in CARD_WORDS):
        setting = "light card" if re.search(r"\b(white|cream)\b", text) else "card"
    named = []  # (where the prompt first names it, Subject): the first named is the main subject
    for kind, words in SUBJECT_WORDS:
        found = _named(text, words, rng)
        if found is not None:
            named.append((found[0], Subject(kind, found[1])))
    subjects = [subject for _, subject in sorted(named, key=lambda item: item[0])]
    if setting is None and any(subject.kind == "ship" for subject in subjects):
        setting = "sea"  # a ship with nowhere named is at sea
    camera_text = " ".join(str(camera.get(field) or "") for field in ("size", "angle")).lower()
    scale = next((value for words, value in SIZE_SCALES if words in camera_text), None)
    if scale is None:
        scale = next((value for words, value in SIZE_SCALES if _has(text, words)), DEFAULT_SCALE)
    angle_text = camera_text + " " + " ".join(words for words in AIR_VIEWS if _has(text, words))
    horizon = next((value for words, value in ANGLE_HORIZONS if words in angle_text),
                   DEFAULT_HORIZON + rng.uniform(-0.05, 0.05))
    return Scene(time_of_day=time_of_day, mood=mood, setting=setting or "field",
                 subjects=tuple(subjects), moving=any(_has(text, word) for word in MOTION_WORDS),
                 sparks=any(_has(text, word) for word in SPARK_WORDS), horizon=horizon, scale=scale, seed=seed)
