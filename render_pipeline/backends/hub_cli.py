"""The download command to print: huggingface_hub's command-line tool, under the name installed here.

huggingface_hub comes with diffusers (the `diffusion` extra). Its tool is `hf` from 0.34 on, and
`huggingface-cli` before 1.0 (both names from 0.34 to 1.0); the README's own install has neither.
Torch-free: read from the package's metadata, not by importing it.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata

HUB_PACKAGE = "huggingface_hub"


@lru_cache(maxsize=1)
def hub_cli() -> str | None:
    """`hf` or `huggingface-cli`, whichever the installed huggingface_hub provides; None when it is not installed."""
    try:
        names = {point.name for point in metadata.distribution(HUB_PACKAGE).entry_points
                 if point.group == "console_scripts"}
    except metadata.PackageNotFoundError:
        return None
    return next((name for name in ("hf", "huggingface-cli") if name in names), None)


def download_command(repo: str, local_dir: object, include: str | None = None) -> str:
    """The command that downloads ``repo`` (only the files matching ``include``) into ``local_dir``."""
    cli = hub_cli()
    command = f"{cli or 'hf'} download {repo}" + (f" --include '{include}'" if include else "") + f" --local-dir {local_dir}"
    if cli is None:  # the current huggingface_hub installs `hf`
        return f"pip install -U {HUB_PACKAGE} && {command}"
    return command
