"""Package data: the per-backend prompt templates and the overlay style presets (YAML files).

Read through importlib.resources, so they are found in an installed wheel as in a checkout.
"""

from importlib.resources import files
from importlib.resources.abc import Traversable

PRESETS_DIR = files(__name__)


def preset_file(name: str) -> Traversable:
    """The packaged file `name` (e.g. "generic.yaml")."""
    return PRESETS_DIR / name
