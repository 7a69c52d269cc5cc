"""The animatic's palette: skies by time of day, grounds by setting, the light that tints them."""

from __future__ import annotations

Colour = tuple[int, int, int]
# The sky by time of day: (its top, at the horizon, the sun or moon).
SKIES: dict[str, tuple[Colour, Colour, Colour]] = {
    "dawn": ((58, 64, 120), (246, 170, 140), (255, 226, 180)),
    "day": ((60, 130, 210), (180, 215, 240), (255, 250, 220)),
    "golden": ((90, 80, 140), (250, 160, 70), (255, 200, 110)),
    "night": ((8, 12, 40), (30, 40, 90), (230, 230, 245)),
    "overcast": ((120, 126, 135), (180, 184, 190), (215, 215, 215)),
}
WINDOW_LIGHT = (255, 205, 120)  # lit windows, lamps and portholes
SPARK = (255, 230, 150)
# Ground colours by setting, lit by the time of day's light (LIGHT).
GROUNDS = {"field": (86, 124, 66), "forest": (52, 84, 50), "mountains": (96, 96, 104), "desert": (196, 164, 112),
           "snow": (226, 230, 240), "city": (72, 74, 80), "shipyard": (112, 112, 108), "interior": (92, 90, 88)}
LIGHT = {"day": (1.0, 1.0, 1.0), "dawn": (0.85, 0.72, 0.78), "golden": (0.95, 0.7, 0.52),
         "night": (0.2, 0.22, 0.34), "overcast": (0.72, 0.75, 0.78)}


def mix(a: Colour, b: Colour, share_of_b: float) -> Colour:
    red, green, blue = (int(round(x * (1 - share_of_b) + y * share_of_b)) for x, y in zip(a, b))
    return red, green, blue


def lit(colour: Colour, time_of_day: str) -> Colour:
    red, green, blue = (int(min(255, c * f)) for c, f in zip(colour, LIGHT[time_of_day]))
    return red, green, blue
